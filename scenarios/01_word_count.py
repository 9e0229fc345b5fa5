"""Word count on two TaskManagers: a streaming dataflow, its chains, and a keyed exchange.

Teaching point: a job is a dataflow of operators from a source to a sink. Flink
chains operators joined by forward edges into one task (flat_map -> map run in
one thread, passing records by plain calls), and splits the job at a
redistributing exchange: `key_by(word)` sends every word to the one subtask that
owns its key group, over local channels inside a TaskManager and remote ones
across. Counting is the slowest stage: its input channels run out of credit,
the tokenizers' output queues fill, and they spend most of their time
backpressured. Words are not spread evenly, so one counting subtask (the
owner of the most frequent words' key groups) works hardest of all.

Flink concepts: dataflow, parallelism and subtasks, operator chaining, keyBy
(key groups), rolling aggregation, credit-based flow control.

Seeds: 7 (any seed works; it picks the text).
"""

import random

from sim import ClusterSpec, CostModel, LinkSpec, Simulation
from sim.api import FlatMapFunction, NumberSequenceSource, StreamExecutionEnvironment

SEEDS = (7,)

VOCABULARY = ("stream", "state", "barrier", "checkpoint", "watermark", "window", "key", "operator",
              "task", "slot", "buffer", "credit", "flink", "event", "time", "sink", "source", "job")


class Sentences(FlatMapFunction):
    """Turns a line number into the words of a seeded, reproducible sentence."""

    def __init__(self, seed: int):
        self.seed = seed

    def flat_map(self, line_number):
        rng = random.Random(self.seed * 1_000_003 + line_number)
        for _ in range(rng.randint(4, 12)):
            yield rng.choice(VOCABULARY)


def build(seed: int) -> Simulation:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(4)
    lines = env.from_source(NumberSequenceSource(1, 12_000), source_name="lines")
    (lines.flat_map(Sentences(seed)).name("tokenize")
          .map(lambda word: (word, 1)).name("pair")
          .key_by(lambda pair: pair[0])
          .sum(1).name("count")
          .add_sink(lambda pair: None).name("sink"))
    cluster = ClusterSpec(
        task_managers=2, slots_per_task_manager=2, cores_per_task_manager=2,
        link=LinkSpec(latency_us=500, bandwidth_bytes_per_s=125_000_000),
        costs=CostModel(operator_cpu_ns={"count": 12_000}, record_size_bytes=256),
    )
    return Simulation(env, cluster=cluster, seed=seed, job_name="word count")


def final_counts(result) -> dict[str, int]:
    """The last count each word reached (the sink sees a running count per word)."""
    counts: dict[str, int] = {}
    for record in result.outputs["sink"]:
        word, count = record.value
        counts[word] = max(counts.get(word, 0), count)
    return counts


def report(result) -> str:
    counts = final_counts(result)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    owners = {}
    for record in result.outputs["sink"]:
        owners.setdefault(record.value[0], set()).add(record.subtask)
    one_owner = all(len(s) == 1 for s in owners.values())
    remote = sum(1 for ch in result.execution_graph.channels
                 if result.placements[ch.producer].taskmanager != result.placements[ch.consumer].taskmanager)
    backpressured = sum(m.backpressured_us for m in result.metrics.values())
    return "\n".join([
        f"words counted: {sum(counts.values())} ({len(counts)} distinct); top: "
        + ", ".join(f"{w}={c}" for w, c in top),
        f"every word counted by exactly one subtask (its key group's owner): {one_owner}",
        f"channels: {len(result.execution_graph.channels)} ({remote} remote, crossing TaskManagers)",
        f"time tasks spent backpressured: {backpressured / 1000:.1f} ms in total",
    ])
