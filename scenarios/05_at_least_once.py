"""At-least-once checkpoints: no blocking, so records after a barrier sneak into the snapshot.

Teaching point: in AT_LEAST_ONCE mode a subtask only counts barriers; it never
blocks a channel. While it waits for the barrier on the slow channel, it keeps
processing records that arrived *after* the barrier on the fast channel, and
their effect is in the snapshot it takes at the last barrier. The snapshot is
no longer a consistent cut: after a restore, the sources rewind to their
recorded positions and those records are processed again, so they count twice.
This run measures, for every checkpoint, how many records the snapshot holds
beyond the cut the sources recorded (zero in EXACTLY_ONCE mode). Run
`build(seed, fail_at_ms=450)` to see the duplicates: a counting task fails,
the job restarts from checkpoint 3, and the final counts exceed the input by
exactly the records checkpoint 3 held beyond its cut.

Flink concepts: checkpointing modes, at-least-once barrier tracking, consistent
cuts, restoring from a checkpoint, duplicates after recovery.

Seeds: 7.
"""

from collections import Counter

from sim import ClusterSpec, CostModel, FaultPlan, LinkSpec, Simulation
from sim.api import CheckpointingMode, NumberSequenceSource, StreamExecutionEnvironment
from sim.scenario.inspect import keyed_state, source_positions
from sim.trace import JobRestored

SEEDS = (7,)
KEYS = 64
PER_SOURCE = 200_000


def build(seed: int, mode: CheckpointingMode = CheckpointingMode.AT_LEAST_ONCE,
          fail_at_ms: int | None = None) -> Simulation:
    """The counting job in checkpointing `mode`; with `fail_at_ms`, `count->sink[0]` fails then (restarting
    with the default strategy: exponential delay from 1 s)."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.enable_checkpointing(100, mode)
    numbers = env.from_source(NumberSequenceSource(0, 2 * PER_SOURCE - 1), source_name="events")
    (numbers.map(lambda i: (i % KEYS, 1)).name("pair")
            .key_by(lambda pair: pair[0])
            .sum(1).name("count")
            .add_sink(lambda pair: None).name("sink"))
    cluster = ClusterSpec(
        task_managers=2, slots_per_task_manager=1, cores_per_task_manager=2,
        link=LinkSpec(latency_us=500), links={("tm-1", "tm-0"): LinkSpec(latency_us=20_000)},
        costs=CostModel(record_cpu_ns=1_500),
    )
    faults = FaultPlan() if fail_at_ms is None else FaultPlan().fail_task("count->sink[0]", at_ms=fail_at_ms)
    return Simulation(env, cluster=cluster, seed=seed, faults=faults, job_name=f"{mode.value.lower()} checkpoints")


def beyond_the_cut(result) -> dict[int, int]:
    """Checkpoint id -> records counted in its snapshot that come after the sources' recorded positions."""
    out = {}
    for checkpoint in result.completed_checkpoints:
        if any(task.startswith("count") for task in checkpoint.finished_tasks):
            continue  # a finished counter holds no state to compare
        positions = source_positions(checkpoint)
        cut = Counter()
        for subtask in (0, 1):  # a source that had finished holds no position: all of its records are in
            reader = positions.get(subtask)
            cut[subtask] = PER_SOURCE if reader is None else reader["position"] - subtask * PER_SOURCE
        counted = sum(v["_reduce"][1] for v in keyed_state(result.completed_checkpoints,
                                                           checkpoint.checkpoint_id, "count").values())
        out[checkpoint.checkpoint_id] = counted - sum(cut.values())
    return out


def overcount(result) -> int:
    """How many records the final counts hold beyond the input (0 when each was counted once)."""
    finals = {key: count for _, _, (key, count) in result.outputs["sink"]}
    return sum(finals.values()) - 2 * PER_SOURCE


def report(result) -> str:
    extra = beyond_the_cut(result)
    polluted = {cid: n for cid, n in extra.items() if n}
    lines = [
        f"completed checkpoints: {len(extra)}; holding records beyond the sources' cut: {len(polluted)}",
        "records beyond the cut per checkpoint: " + ", ".join(f"{cid}: {n}" for cid, n in extra.items()),
        "each of those would be counted twice after a restore from that checkpoint",
    ]
    for e in result.trace.of_type(JobRestored):
        lines.append(f"attempt {e.attempt} restored from {e.kind} {e.checkpoint_id}: "
                     f"records counted twice in the final counts: {overcount(result)}")
    return "\n".join(lines)
