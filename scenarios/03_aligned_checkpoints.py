"""Aligned checkpoints: a slow channel makes every subtask behind it wait for its barrier.

Teaching point: a checkpoint barrier flows with the data. A subtask with several
input channels takes its snapshot only when the barrier has arrived on every
channel. Meanwhile each channel that already delivered its barrier is blocked
(its sender holds back the data behind the barrier), so the snapshot reflects
exactly the records before the barrier on every channel. When one link is slow,
its barriers come late, and the time between the first and the last barrier
(the alignment duration) grows with the skew. Change `SLOW_LINK_LATENCY_US`
and watch alignment follow it.

Flink concepts: checkpoint barriers, aligned exactly-once checkpoints, barrier
alignment, blocked channels, checkpoint statistics (alignment duration,
end-to-end duration), keyed state in key groups.

Seeds: 7 (the seed only picks the rebalance start; the skew is what matters).
"""

from sim import ClusterSpec, CostModel, LinkSpec, Simulation
from sim.api import NumberSequenceSource, StreamExecutionEnvironment

SEEDS = (7,)
SLOW_LINK_LATENCY_US = 20_000
KEYS = 64


def build(seed: int, slow_link_latency_us: int = SLOW_LINK_LATENCY_US) -> Simulation:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.enable_checkpointing(100)
    numbers = env.from_source(NumberSequenceSource(0, 399_999), source_name="events")
    (numbers.map(lambda i: (i % KEYS, 1)).name("pair")
            .key_by(lambda pair: pair[0])
            .sum(1).name("count")
            .add_sink(lambda pair: None).name("sink"))
    cluster = ClusterSpec(
        task_managers=2, slots_per_task_manager=1, cores_per_task_manager=2,
        link=LinkSpec(latency_us=500),
        links={("tm-1", "tm-0"): LinkSpec(latency_us=slow_link_latency_us)},
        costs=CostModel(record_cpu_ns=1_500),
    )
    return Simulation(env, cluster=cluster, seed=seed, job_name="aligned checkpoints")


def completed(result):
    return [c for c in result.checkpoints if c.status == "COMPLETED"]


def alignment_us(result, task: str) -> list[int]:
    """Alignment duration of `task` in every completed checkpoint."""
    return [s.alignment_us for c in completed(result) for s in c.subtasks if s.task == task]


def report(result) -> str:
    done = completed(result)
    behind_slow = alignment_us(result, "count->sink[0]")
    other = alignment_us(result, "count->sink[1]")
    mean = lambda xs: sum(xs) / len(xs) / 1000 if xs else 0.0  # noqa: E731
    return "\n".join([
        f"completed checkpoints: {len(done)}",
        f"mean alignment at count->sink[0] (behind the slow tm-1 -> tm-0 link): {mean(behind_slow):.1f} ms",
        f"mean alignment at count->sink[1] (both inputs fast): {mean(other):.1f} ms",
        f"mean end-to-end duration: {mean([c.end_to_end_us for c in done]):.1f} ms",
    ])
