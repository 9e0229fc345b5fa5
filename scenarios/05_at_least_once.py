"""At-least-once checkpoints: no blocking, so records after a barrier sneak into the snapshot.

Teaching point: in AT_LEAST_ONCE mode a subtask only counts barriers; it never
blocks a channel. While it waits for the barrier on the slow channel, it keeps
processing records that arrived *after* the barrier on the fast channel, and
their effect is in the snapshot it takes at the last barrier. The snapshot is
no longer a consistent cut: after a restore, the sources rewind to their
recorded positions and those records are processed again, so they count twice.
This run measures, for every checkpoint, how many records the snapshot holds
beyond the cut the sources recorded (zero in EXACTLY_ONCE mode).

Flink concepts: checkpointing modes, at-least-once barrier tracking, consistent
cuts, duplicates after recovery.

Seeds: 7.
"""

from collections import Counter

from sim import ClusterSpec, CostModel, LinkSpec, Simulation
from sim.api import CheckpointingMode, NumberSequenceSource, StreamExecutionEnvironment
from sim.scenario.inspect import keyed_state, source_positions

SEEDS = (7,)
KEYS = 64
PER_SOURCE = 200_000


def build(seed: int, mode: CheckpointingMode = CheckpointingMode.AT_LEAST_ONCE) -> Simulation:
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
    return Simulation(env, cluster=cluster, seed=seed, job_name=f"{mode.value.lower()} checkpoints")


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


def report(result) -> str:
    extra = beyond_the_cut(result)
    polluted = {cid: n for cid, n in extra.items() if n}
    return "\n".join([
        f"completed checkpoints: {len(extra)}; holding records beyond the sources' cut: {len(polluted)}",
        "records beyond the cut per checkpoint: " + ", ".join(f"{cid}: {n}" for cid, n in extra.items()),
        "each of those would be counted twice after a restore from that checkpoint",
    ])
