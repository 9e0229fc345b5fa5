"""A savepoint at parallelism 2, restored at 3 and at 1: every key's count continues exactly.

Teaching point: a savepoint is a snapshot the user owns, taken with aligned
barriers and kept until the user deletes it. `stop_with_savepoint` takes one and
stops the job. A new run of the same job may start from it with another
parallelism: state is matched to operators by `uid()`, the keyed state of
`count` is cut into key groups and each new subtask takes the groups of its
range (`kg * p / maxP`), and the Kafka source's offsets are handed to whichever
reader owns each partition under the new parallelism. Nothing is read twice and
nothing is lost: every user's final count equals the clicks the topic holds for
that user, whether the job continued with 3 subtasks or with 1.

Flink concepts: savepoints, stop-with-savepoint, operator uids, rescaling by
key groups, Kafka split reassignment, restoring with another parallelism.

Seeds: 5 (the run at parallelism 2, and its restores at 3 and 1).
"""

import tempfile
from collections import Counter
from pathlib import Path

from sim import ClusterSpec, Simulation
from sim.api import KafkaSource, StreamExecutionEnvironment, Topic

SEEDS = (5,)
USERS = [f"user-{i}" for i in range(12)]
CLICKS = 3_000
INTERVAL_MS = 1
STOP_AT_MS = 1_200
"""Stop-with-savepoint here, while the topic is still being written (its last click is at 3 s)."""


def clicks_topic() -> Topic:
    """The input: one click every millisecond, keyed by user, over 4 partitions."""
    topic = Topic("clicks", 4)
    topic.produce_every(INTERVAL_MS, [(USERS[(i * 7) % len(USERS)], i) for i in range(CLICKS)])
    return topic


def expected_counts() -> dict[str, int]:
    """Every user's clicks in the topic: what each final count must be."""
    return dict(Counter(USERS[(i * 7) % len(USERS)] for i in range(CLICKS)))


def job(topic: Topic, parallelism: int, count_uid: str = "count") -> StreamExecutionEnvironment:
    """The job at `parallelism`; `count_uid` is the counting operator's uid (another one no longer matches
    the savepoint's state)."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    source = KafkaSource.builder().set_topics(topic).set_bounded().set_deserializer(lambda r: r.key).build()
    (env.from_source(source, source_name="clicks").uid("clicks")
        .map(lambda user: (user, 1)).name("pair").uid("pair")
        .key_by(lambda pair: pair[0])
        .sum(1).name("count").uid(count_uid)
        .add_sink(lambda pair: None).name("sink").uid("sink"))
    return env


def build(seed: int, savepoint_dir: str | Path | None = None, topic: Topic | None = None) -> Simulation:
    """The first run, at parallelism 2: stop with a savepoint at `STOP_AT_MS` (into a new folder by default)."""
    directory = savepoint_dir or tempfile.mkdtemp(prefix="sim-savepoints-")
    simulation = Simulation(job(topic or clicks_topic(), 2), cluster=ClusterSpec(task_managers=2,
                            slots_per_task_manager=2), seed=seed, savepoint_dir=directory,
                            job_name="clicks per user, parallelism 2")
    return simulation.stop_with_savepoint(STOP_AT_MS, name="before-rescale")


def restore(seed: int, savepoint: str | Path, topic: Topic, parallelism: int) -> Simulation:
    """The same job, from the savepoint, at another parallelism (reading the same topic on), on one TaskManager
    with a slot per subtask (at least 3)."""
    return Simulation(job(topic, parallelism),
                      cluster=ClusterSpec(task_managers=1, slots_per_task_manager=max(3, parallelism)),
                      seed=seed, restore_from=savepoint, job_name=f"clicks per user, parallelism {parallelism}")


def final_counts(result) -> dict[str, int]:
    """The last count the job emitted for each user."""
    return {user: count for _, _, (user, count) in result.outputs["sink"]}


def report(result) -> str:
    counts = final_counts(result)
    return "\n".join([
        f"stopped with savepoint(s): {', '.join(result.savepoints)}",
        f"users counted before the stop: {len(counts)}; clicks counted: {sum(counts.values())} of {CLICKS}",
        "restore with scenarios/12_savepoint_rescale.restore(seed, savepoint, topic, 3) to continue at p=3",
    ])
