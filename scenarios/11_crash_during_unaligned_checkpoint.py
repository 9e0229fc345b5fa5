"""A TaskManager crashes in the middle of an unaligned checkpoint, under backpressure; the job still counts exactly once.

Teaching point: recovery rolls the whole job back to the last *completed*
checkpoint. The checkpoint in progress when tm-1 dies is aborted; after the
heartbeat timeout the JobManager declares tm-1 lost, cancels every task, waits
the restart delay, and redeploys on the TaskManagers it has. Each task takes its
share of the last completed checkpoint: the counts (keyed state), the source's
position, the sink's pending transactions (committed again, idempotently) and,
because the checkpoint was unaligned, the in-flight buffers it persisted. Those
are replayed into the counting tasks *before* any new input. Records processed
after that checkpoint are processed again, but the sink's transactions for them
were never committed: a read-committed consumer of the output topic sees every
count exactly once, in order per key, equal to the run without the crash.
Run `build(seed, guarantee=DeliveryGuarantee.AT_LEAST_ONCE)` for a sink that
appends as it goes: the same crash leaves the replayed counts in the topic twice.

Flink concepts: failure detection by heartbeats, restart strategies, full
failover, restore of keyed state, source positions and channel state, the
two-phase-commit sink, read-committed consumers, exactly-once end to end,
delivery guarantees (exactly-once vs at-least-once sinks).

Seeds: 3 (the crash falls while checkpoint 4 is pending; both runs are checked).
"""

from sim import ClusterSpec, CostModel, FaultPlan, LinkSpec, NetworkConfig, Simulation
from sim.api import (
    DeliveryGuarantee, KafkaSink, NumberSequenceSource, RestartStrategies, StreamExecutionEnvironment, Topic,
)
from sim.testing import check_exactly_once, failure_during_checkpoint, recovery_replayed_in_flight
from sim.trace import ChannelStateReplayed, JobRestored, TransactionCommitted

SEEDS = (3,)
KEYS = 50
RECORDS = 30_000
CRASH_AT_MS = 212
"""While checkpoint 4 is in progress (triggered at 200 ms, its async part waits for the last barriers)."""


def build(seed: int, crash: bool = True, topic: Topic | None = None,
          guarantee: DeliveryGuarantee = DeliveryGuarantee.EXACTLY_ONCE) -> Simulation:
    """The counting job; `crash=False` is the same run without the fault (the reference); `guarantee` is the
    sink's (AT_LEAST_ONCE: it appends every count at once, with no transaction)."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.enable_checkpointing(50)
    env.get_checkpoint_config().enable_unaligned_checkpoints()
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(3, 200))
    output = topic if topic is not None else Topic("counts", 2)
    sink = (KafkaSink.builder().set_topic(output).set_key(lambda pair: str(pair[0]))
            .set_delivery_guarantee(guarantee).set_transactional_id_prefix("counts").build())
    numbers = env.from_source(NumberSequenceSource(0, RECORDS - 1), source_name="events")
    (numbers.map(lambda i: (i % KEYS, 1)).name("pair")
            .key_by(lambda pair: pair[0])
            .sum(1).name("count").uid("count")
            .sink_to(sink).name("sink"))
    cluster = ClusterSpec(
        task_managers=2, slots_per_task_manager=1, cores_per_task_manager=2,
        link=LinkSpec(latency_us=1_000), network=NetworkConfig(segment_size_bytes=8 * 1024),
        costs=CostModel(operator_cpu_ns={"count": 15_000}),
        heartbeat_interval_ms=50, heartbeat_timeout_ms=200,
    )
    faults = FaultPlan().crash_taskmanager("tm-1", at_ms=CRASH_AT_MS, back_after_ms=400) if crash else FaultPlan()
    return Simulation(env, cluster=cluster, seed=seed, faults=faults,
                      job_name="crash mid-checkpoint" if crash else "the same job, no crash")


def reference_counts(seed: int) -> list:
    """What a read-committed consumer sees after the run without the crash."""
    topic = Topic("counts", 2)
    build(seed, crash=False, topic=topic).run()
    return topic.committed_values()


def output_topic(result) -> Topic:
    """The topic this run's sink wrote to, found through the job graph."""
    sink = next(n for n in result.stream_graph.nodes if n.kind == "sink")
    return sink.operator.function.topic


def observations(result) -> dict[str, object]:
    """The observations this scenario asserts, by name (each a check result or a sometimes-observation)."""
    return {
        "exactly once": check_exactly_once(output_topic(result).committed_values(), reference_counts(result.seed),
                                           key=lambda pair: pair[0]),
        "failure during a checkpoint": failure_during_checkpoint(result.trace),
        "in-flight data replayed": recovery_replayed_in_flight(result.trace),
    }


def check(result) -> list:
    """The properties `python -m sim run` and `explore` check: every observation above holds."""
    return [(name, bool(outcome), outcome.explain()) for name, outcome in observations(result).items()]


def report(result) -> str:
    lines = [f"execution attempts: {result.attempts}"]
    for e in result.trace.of_type(JobRestored):
        lines.append(f"attempt {e.attempt} started from {e.kind} {e.checkpoint_id}")
    replayed = result.trace.of_type(ChannelStateReplayed)
    lines.append(f"in-flight records replayed before new input: {sum(e.records for e in replayed)} "
                 f"on {len(replayed)} channel(s)")
    commits = result.trace.of_type(TransactionCommitted)
    committed = sum(e.records for e in commits if not e.recovered)
    again = sum(e.records for e in commits if e.recovered)
    lines.append(f"counts committed to the output topic: {committed} (one per input record: {RECORDS}); "
                 f"committed again after the restore, idempotently: {again}")
    return "\n".join(lines)
