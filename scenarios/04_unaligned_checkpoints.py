"""Unaligned checkpoints under backpressure: barriers overtake the queued data, which is saved instead.

Teaching point: under backpressure every queue between the tasks is full, and an
aligned barrier must wait behind all of it: checkpoints take as long as draining
the queues. An unaligned checkpoint lets the barrier jump ahead of the buffered
data, at the sender and at the receiver. The subtask snapshots at the first
barrier and writes the overtaken buffers into the checkpoint as channel state.
End-to-end duration drops; the price is persisted in-flight data. Run with
`UNALIGNED = False` to see the aligned version of the same job.

Flink concepts: backpressure, unaligned checkpoints, priority events, input and
output channel state, persisted vs processed in-flight data, checkpoint
statistics.

Seeds: 3 (both variants are checked at it).
"""

from sim import ClusterSpec, CostModel, LinkSpec, NetworkConfig, Simulation
from sim.api import NumberSequenceSource, StreamExecutionEnvironment

SEEDS = (3,)
UNALIGNED = True
KEYS = 1_000


def build(seed: int, unaligned: bool = UNALIGNED) -> Simulation:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.enable_checkpointing(50)
    if unaligned:
        env.get_checkpoint_config().enable_unaligned_checkpoints()
    numbers = env.from_source(NumberSequenceSource(0, 119_999), source_name="events")
    (numbers.map(lambda i: (i % KEYS, 1)).name("pair")
            .key_by(lambda pair: pair[0])
            .sum(1).name("count")
            .add_sink(lambda pair: None).name("sink"))
    cluster = ClusterSpec(
        task_managers=2, slots_per_task_manager=1, cores_per_task_manager=2,
        link=LinkSpec(latency_us=1_000),
        network=NetworkConfig(segment_size_bytes=8 * 1024),
        costs=CostModel(operator_cpu_ns={"count": 15_000}),
    )
    name = "unaligned checkpoints" if unaligned else "aligned checkpoints under backpressure"
    return Simulation(env, cluster=cluster, seed=seed, job_name=name)


def completed(result):
    return [c for c in result.checkpoints if c.status == "COMPLETED"]


def mean_end_to_end_ms(result) -> float:
    done = completed(result)
    return sum(c.end_to_end_us for c in done) / len(done) / 1000 if done else 0.0


def persisted_bytes(result) -> int:
    return sum(c.persisted_in_flight_bytes for c in completed(result))


def report(result) -> str:
    done = completed(result)
    return "\n".join([
        f"completed checkpoints: {len(done)}, unaligned: {sum(c.unaligned for c in done)}",
        f"mean end-to-end duration: {mean_end_to_end_ms(result):.1f} ms",
        f"persisted in-flight data: {persisted_bytes(result)} bytes in total",
        f"backpressured time of the sources: "
        f"{sum(m.backpressured_us for t, m in result.metrics.items() if t.startswith('source')) / 1000:.0f} ms",
    ])
