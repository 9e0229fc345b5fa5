"""Tests for sim.runtime.partitioners: every Flink partitioner's channel sequence.

Each partitioner is checked twice: directly through `make_selector` with a
seeded `random.Random`, and end to end through the `RecordSent` events (or
the sink subtask of each output record) of a simulated run.
"""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from sim import Simulation, TraceLevel
from sim.api import Partitioner, StreamExecutionEnvironment, Types
from sim.api.transformations import PartitionerKind, PartitionerSpec
from sim.runtime.partitioners import KeySelectionError, make_selector
from sim.trace import RecordSent, TaskFailed

# Key -> key group at max parallelism 128 (flink-facts.md §1, checked on a JVM).
KEY_GROUPS_128 = {0: 94, 1: 86, 42: 29, "a": 81, "hello": 35, "user-1": 121}


def _selector(kind: PartitionerKind, n: int, seed: int = 0, max_parallelism: int = 128, **spec):
    return make_selector(PartitionerSpec(kind, **spec), n, max_parallelism, random.Random(seed))


def _run(env: StreamExecutionEnvironment, seed: int = 1, level: TraceLevel = TraceLevel.RECORDS):
    return Simulation(env, seed=seed, trace_level=level).run()


def _sent_by_task(result, task_prefix: str) -> dict[str, list[tuple[str, str]]]:
    """(channel, value) of every RecordSent, per sending subtask whose id starts with `task_prefix`."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for e in result.trace.of_type(RecordSent):
        if e.task.startswith(task_prefix):
            out[e.task].append((e.channel, e.value))
    return dict(out)


def _consumer_index(channel: str) -> int:
    """`producer[i]->consumer[j]` -> j."""
    return int(channel.rsplit("[", 1)[1].rstrip("]").split("#")[0])


# --- rebalance ----------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 4, 7])
@pytest.mark.parametrize("seed", [0, 1, 5, 42])
def test_rebalance_starts_after_a_random_start_then_round_robin(n: int, seed: int) -> None:
    """The first record goes to (start + 1) % n with start = rng.randrange(n), drawn once; then round robin."""
    start = random.Random(seed).randrange(n)
    select = _selector(PartitionerKind.REBALANCE, n, seed)
    got = [select(f"r{i}") for i in range(3 * n + 1)]
    assert got == [(start + 1 + i) % n for i in range(3 * n + 1)]


def test_rebalance_sequence_for_a_known_seed() -> None:
    """Seed 3, four channels: randrange(4) is 1, so the channels are 2, 3, 0, 1, 2, 3, 0, 1."""
    assert random.Random(3).randrange(4) == 1
    select = _selector(PartitionerKind.REBALANCE, 4, seed=3)
    assert [select(None) for _ in range(8)] == [2, 3, 0, 1, 2, 3, 0, 1]


def test_rebalance_draws_only_once() -> None:
    """The selector takes exactly one draw from its stream, at setup; records draw nothing."""
    rng = random.Random(9)
    select = make_selector(PartitionerSpec(PartitionerKind.REBALANCE), 5, 128, rng)
    state_after_setup = rng.getstate()
    for _ in range(20):
        select(None)
    assert rng.getstate() == state_after_setup
    reference = random.Random(9)
    reference.randrange(5)
    assert reference.getstate() == state_after_setup


def test_rebalance_end_to_end_is_round_robin_per_producer() -> None:
    """Each producer subtask's records visit the consumers in strict round robin (from some start)."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.from_sequence(1, 20).rebalance().map(lambda x: x).set_parallelism(3).add_sink(lambda v: None)
    result = _run(env)
    sent = _sent_by_task(result, "source")
    assert sorted(sent) == ["source[0]", "source[1]"]
    for task, records in sent.items():
        channels = [_consumer_index(ch) for ch, _ in records]
        assert len(channels) == 10
        assert channels == [(channels[0] + i) % 3 for i in range(10)], task


def test_rebalance_start_depends_on_the_seed() -> None:
    """Across seeds, the first record of a producer reaches every consumer: the start is seeded, not fixed."""
    firsts = set()
    for seed in range(12):
        env = StreamExecutionEnvironment.get_execution_environment()
        env.from_collection(list(range(4))).rebalance().map(lambda x: x).set_parallelism(3).add_sink(lambda v: None)
        result = _run(env, seed=seed)
        firsts.add(_sent_by_task(result, "source")["source[0]"][0][0])
    assert firsts == {"source[0]->map[0]", "source[0]->map[1]", "source[0]->map[2]"}


# --- rescale ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_rescale_cycles_its_group_from_local_channel_zero(n: int) -> None:
    """Rescale starts at local channel 0 and cycles 0..n-1, whatever the rng."""
    for seed in (0, 1, 2):
        select = _selector(PartitionerKind.RESCALE, n, seed)
        assert [select(None) for _ in range(2 * n + 1)] == [i % n for i in range(2 * n + 1)]


def test_rescale_end_to_end_feeds_only_the_pointwise_group() -> None:
    """Upstream p=2, downstream p=4: producer 0 alternates consumers 0,1 (from 0); producer 1 consumers 2,3."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.from_sequence(1, 8).rescale().map(lambda x: x).set_parallelism(4).add_sink(lambda v: None)
    result = _run(env)
    sent = _sent_by_task(result, "source")
    assert sent["source[0]"] == [("source[0]->map[0]", "1"), ("source[0]->map[1]", "2"),
                                 ("source[0]->map[0]", "3"), ("source[0]->map[1]", "4")]
    assert sent["source[1]"] == [("source[1]->map[2]", "5"), ("source[1]->map[3]", "6"),
                                 ("source[1]->map[2]", "7"), ("source[1]->map[3]", "8")]


def test_rescale_end_to_end_many_to_few() -> None:
    """Upstream p=4, downstream p=2: each producer has one channel; producers 0,1 feed consumer 0, 2,3 consumer 1."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(4)
    env.from_sequence(1, 8).rescale().map(lambda x: x).set_parallelism(2).add_sink(lambda v: None)
    result = _run(env)
    sent = _sent_by_task(result, "source")
    consumers = {task: {_consumer_index(ch) for ch, _ in recs} for task, recs in sent.items()}
    assert consumers == {"source[0]": {0}, "source[1]": {0}, "source[2]": {1}, "source[3]": {1}}


# --- forward, global, broadcast, shuffle -------------------------------------------


@pytest.mark.parametrize("kind", [PartitionerKind.FORWARD, PartitionerKind.GLOBAL])
@pytest.mark.parametrize("n", [1, 3])
def test_forward_and_global_always_pick_channel_zero(kind: PartitionerKind, n: int) -> None:
    """Forward and global return channel 0 for every record."""
    select = _selector(kind, n)
    assert {select(v) for v in range(50)} == {0}


def test_forward_end_to_end_is_one_to_one() -> None:
    """An unchained forward edge connects subtask i to subtask i only."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(3)
    env.from_sequence(1, 9).forward().map(lambda x: x).disable_chaining().add_sink(lambda v: None)
    result = _run(env)
    sent = _sent_by_task(result, "source")
    assert {task: {ch for ch, _ in recs} for task, recs in sent.items()} == {
        f"source[{i}]": {f"source[{i}]->map[{i}]"} for i in range(3)}


def test_global_end_to_end_sends_everything_to_subtask_zero() -> None:
    """global_(): every record of every producer reaches downstream subtask 0."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(3)
    env.from_sequence(1, 12).global_().add_sink(lambda v: None)
    result = _run(env)
    records = result.outputs["sink"]
    assert sorted(r.value for r in records) == list(range(1, 13))
    assert {r.subtask for r in records} == {0}


def test_broadcast_has_no_selector() -> None:
    """make_selector returns None for broadcast: the writer puts every record on every channel."""
    assert _selector(PartitionerKind.BROADCAST, 4) is None


def test_broadcast_end_to_end_every_subtask_gets_every_record() -> None:
    """broadcast(): each of the 3 downstream subtasks receives all 5 records, in the producer's order."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(3)
    env.from_collection([10, 20, 30, 40, 50]).broadcast().map(lambda x: x + 1).add_sink(lambda v: None)
    result = _run(env)
    per_subtask = defaultdict(list)
    for r in result.outputs["sink"]:
        per_subtask[r.subtask].append(r.value)
    assert dict(per_subtask) == {i: [11, 21, 31, 41, 51] for i in range(3)}
    sent = _sent_by_task(result, "source")["source[0]"]
    assert len(sent) == 15


@pytest.mark.parametrize("n", [2, 5])
def test_shuffle_draws_one_rng_value_per_record(n: int) -> None:
    """Shuffle picks rng.randrange(n) per record: in range, the seed's sequence exactly, and seed dependent."""
    select = _selector(PartitionerKind.SHUFFLE, n, seed=11)
    reference = random.Random(11)
    got = [select(None) for _ in range(200)]
    assert got == [reference.randrange(n) for _ in range(200)]
    assert set(got) == set(range(n))
    other = _selector(PartitionerKind.SHUFFLE, n, seed=12)
    assert [other(None) for _ in range(200)] != got


def test_shuffle_end_to_end_is_deterministic_for_a_seed() -> None:
    """The same seed gives the same shuffle routing; channels stay within the downstream subtasks."""

    def routing(seed: int) -> list[tuple[str, str]]:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.from_collection(list(range(40))).shuffle().map(lambda x: x).set_parallelism(4).add_sink(lambda v: None)
        return _sent_by_task(_run(env, seed=seed), "source")["source[0]"]

    first = routing(5)
    assert first == routing(5)
    assert {_consumer_index(ch) for ch, _ in first} == {0, 1, 2, 3}
    assert [ch for ch, _ in routing(6)] != [ch for ch, _ in first]


# --- key groups ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_hash_selector_uses_the_key_group_formula(n: int) -> None:
    """channel = keyGroup * n // maxParallelism with Flink's key groups (fact-sheet vectors)."""
    select = _selector(PartitionerKind.HASH, n, key_selector=lambda v: v)
    for key, key_group in KEY_GROUPS_128.items():
        assert select(key) == key_group * n // 128, key


def test_hash_selector_honours_a_small_max_parallelism() -> None:
    """With maxP=4 the key group is murmur % 4; channel = kg * n // 4 (int 0: 593689054 % 4 = 2)."""
    select = _selector(PartitionerKind.HASH, 2, max_parallelism=4, key_selector=lambda v: v)
    assert select(0) == (593689054 % 4) * 2 // 4


def test_hash_selector_rejects_none_keys() -> None:
    """A key selector returning None raises KeySelectionError saying keys must not be None."""
    select = _selector(PartitionerKind.HASH, 2, key_selector=lambda v: None)
    with pytest.raises(KeySelectionError, match="must not be None"):
        select("x")


@pytest.mark.parametrize("p", [2, 3, 4])
def test_key_by_end_to_end_routes_keys_to_flinks_subtask(p: int) -> None:
    """Each key of the fact sheet reaches downstream subtask keyGroup * p // 128 (default maxP 128)."""
    keys = list(KEY_GROUPS_128)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(p)
    env.from_collection([(k, 1) for k in keys]).key_by(lambda t: t[0]).sum(1).add_sink(lambda v: None)
    result = _run(env, level=TraceLevel.BUFFERS)
    assert result.status == "FINISHED"
    got = {r.value[0]: r.subtask for r in result.outputs["sink"]}
    assert got == {k: KEY_GROUPS_128[k] * p // 128 for k in keys}


def test_key_type_long_hashes_a_negative_key_as_java_long() -> None:
    """key_type=Types.LONG(): Long.hashCode(-43) = 42 (kg 29, subtask 0 of 4), unlike Integer -43's routing."""
    select_long = _selector(PartitionerKind.HASH, 4, key_selector=lambda v: v, key_type=Types.LONG())
    select_int = _selector(PartitionerKind.HASH, 4, key_selector=lambda v: v)
    assert select_long(-43) == select_long(42) == 29 * 4 // 128 == 0
    assert select_long(-1) == select_int(0)  # Long.hashCode(-1) == 0
    assert select_int(-43) != select_long(-43)

    def subtask_of(key_type) -> int:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(4)
        env.from_collection([(-43, 5)]).key_by(lambda t: t[0], key_type=key_type).sum(1).add_sink(lambda v: None)
        (record,) = _run(env, level=TraceLevel.BUFFERS).outputs["sink"]
        return record.subtask

    assert subtask_of(Types.LONG()) == 0
    assert subtask_of(None) == select_int(-43)


# --- custom ------------------------------------------------------------------------------


class _ModPartitioner(Partitioner):
    def partition(self, key, num_partitions: int) -> int:
        return key % num_partitions


def test_custom_selector_returns_the_users_choice() -> None:
    """partition(key(value), n) decides the channel; the key selector is applied first."""
    select = _selector(PartitionerKind.CUSTOM, 3, key_selector=lambda v: v * 2,
                       partitioner=lambda key, n: (key + 1) % n)
    assert [select(v) for v in range(6)] == [(2 * v + 1) % 3 for v in range(6)]


def test_custom_partitioner_end_to_end() -> None:
    """partition_custom with a Partitioner class: key k goes to subtask k % 3."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(3)
    env.from_collection(list(range(9))).partition_custom(_ModPartitioner(), lambda v: v) \
        .map(lambda v: v).add_sink(lambda v: None)
    result = _run(env, level=TraceLevel.BUFFERS)
    assert {r.value: r.subtask for r in result.outputs["sink"]} == {v: v % 3 for v in range(9)}


@pytest.mark.parametrize("bad", [3, -1, "1", 1.0, True])
def test_custom_selector_rejects_out_of_range_channels(bad) -> None:
    """A partitioner result that is not an int in 0..n-1 raises KeySelectionError naming the value and range."""
    select = _selector(PartitionerKind.CUSTOM, 3, key_selector=lambda v: v, partitioner=lambda key, n: bad)
    with pytest.raises(KeySelectionError, match=r"expected an int in 0\.\.2"):
        select(0)


def test_custom_partitioner_out_of_range_fails_the_job_naming_the_operator() -> None:
    """An out-of-range partition fails the producing operator's subtask, not the job builder."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.from_collection([1, 2, 3]).map(lambda v: v).set_parallelism(1) \
        .partition_custom(lambda key, n: 7 if key == 2 else 0, lambda v: v).add_sink(lambda v: None)
    result = _run(env, level=TraceLevel.BUFFERS)
    assert result.status == "FAILED"
    assert result.failure.operator == "map[0]"
    assert result.failure.record == "2"
    assert "custom partitioner returned 7" in result.failure.error
    assert "expected an int in 0..1" in result.failure.error
    assert str(result.failure).startswith("map[0] failed on record 2")
    (failed,) = result.trace.of_type(TaskFailed)
    assert failed.task == "source->map[0]" and failed.operator == "map[0]"


def test_key_of_the_wrong_declared_type_fails_the_producer() -> None:
    """key_type=Types.INT() with a string key: the routing subtask fails with the type error, naming itself."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.from_collection([("a", 1)]).key_by(lambda t: t[0], key_type=Types.INT()).sum(1).add_sink(lambda v: None)
    result = _run(env, level=TraceLevel.BUFFERS)
    assert result.status == "FAILED"
    assert result.failure.operator == "source[0]"
    assert result.failure.error == "TypeError: a key of type INT must be an int in 32-bit range, got 'a'"


def test_key_by_uses_the_downstream_operators_max_parallelism() -> None:
    """With sum(...).set_max_parallelism(4) at p=4 the key group is the subtask: murmur % 4.

    Murmur values from the fact sheet: 0 -> 593689054 (% 4 = 2), 1 -> 68075478 (2), 42 -> 1134849565 (1);
    at the default 128, key 42 (kg 29) would go to subtask 0 instead.
    """
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(4)
    env.from_collection([(0, 1), (1, 1), (42, 1)]).key_by(lambda t: t[0]).sum(1).set_max_parallelism(4) \
        .add_sink(lambda v: None)
    result = _run(env, level=TraceLevel.BUFFERS)
    assert {r.value[0]: r.subtask for r in result.outputs["sink"]} == {0: 2, 1: 2, 42: 1}
