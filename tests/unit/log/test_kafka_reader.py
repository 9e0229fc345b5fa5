"""KafkaSource readers polled by hand: split owners, round robin, waiting, ends, starting offsets, snapshots."""

import pytest

from sim.api import KafkaOffsetsInitializer, KafkaSource, Topic
from sim.api.kafka import kafka_split_owner
from sim.state import serde


# Flink's rule: start = ((topic.hashCode() * 31) & 0x7FFFFFFF) % readers, owner = (start + partition) % readers.
# "a": hashCode 97, 97 * 31 = 3007; 3007 % 2 = 1, % 3 = 1, % 4 = 3, % 5 = 2.
# "orders": hashCode = sum(c * 31^k) = 3286196965, as a Java int -1008770331; times 31, the low 31 bits are
# 940374459; % 2 = 1, % 3 = 0 (digit sum 45), % 4 = 3 (ends in 59), % 5 = 4.
@pytest.mark.parametrize("name, readers, owners", [
    ("a", 1, [0, 0, 0, 0, 0, 0]),
    ("a", 2, [1, 0, 1, 0, 1, 0]),
    ("a", 3, [1, 2, 0, 1, 2, 0]),
    ("a", 4, [3, 0, 1, 2, 3, 0]),
    ("a", 5, [2, 3, 4, 0, 1, 2]),
    ("orders", 2, [1, 0, 1, 0, 1, 0]),
    ("orders", 3, [0, 1, 2, 0, 1, 2]),
    ("orders", 4, [3, 0, 1, 2, 3, 0]),
    ("orders", 5, [4, 0, 1, 2, 3, 4]),
])
def test_split_owner_follows_flinks_rule(name, readers, owners):
    assert [kafka_split_owner(name, p, readers) for p in range(6)] == owners
    source = KafkaSource(Topic(name, 6))
    for index in range(readers):
        reader = source.create_reader(index, readers)
        assert reader.split_ids() == [p for p in range(6) if owners[p] == index]


def _prefilled(partitions=2, per_partition=3):
    topic = Topic("t", partitions)
    for i in range(per_partition):
        for p in range(partitions):
            topic.append(None, f"p{p}-{i}", timestamp=10 * i + p, partition=p)
    return topic


def test_a_reader_takes_its_partitions_in_turn_with_record_timestamps_and_splits():
    reader = KafkaSource(_prefilled(), bounded=True).create_reader(0, 1)
    poll = reader.poll(4, 0)
    assert poll.records == ["p0-0", "p1-0", "p0-1", "p1-1"]
    assert poll.timestamps == [0, 1, 10, 11]
    assert poll.splits == [0, 1, 0, 1]
    assert not poll.finished
    poll = reader.poll(100, 0)
    assert poll.records == ["p0-2", "p1-2"]
    assert poll.finished and poll.finished_splits == [0, 1]
    assert reader.offsets() == {0: 3, 1: 3}


def test_the_turn_carries_over_between_polls():
    reader = KafkaSource(_prefilled()).create_reader(0, 1)
    assert reader.poll(1, 0).records == ["p0-0"]
    assert reader.poll(1, 0).records == ["p1-0"]
    assert reader.poll(3, 0).records == ["p0-1", "p1-1", "p0-2"]


def test_with_nothing_visible_the_reader_asks_to_be_polled_at_the_next_append():
    topic = Topic("t", 2)
    topic.produce_at(250, None, "x", partition=1)
    topic.produce_at(400, None, "y", partition=0)
    reader = KafkaSource(topic, bounded=True).create_reader(0, 1)
    poll = reader.poll(10, 0)
    assert (poll.records, poll.finished, poll.wait_until_us) == ([], False, 250_000)
    assert reader.poll(10, 249_999).records == []
    poll = reader.poll(10, 250_000)
    assert (poll.records, poll.timestamps, poll.finished_splits) == (["x"], [250], [1])
    assert reader.poll(10, 260_000).wait_until_us == 400_000
    poll = reader.poll(10, 400_000)
    assert (poll.records, poll.finished, poll.finished_splits) == (["y"], True, [0])


def test_an_unbounded_reader_never_finishes_and_knows_no_wake_up_without_a_schedule():
    reader = KafkaSource(_prefilled(1, 1)).create_reader(0, 1)
    assert reader.poll(10, 0).records == ["p0-0"]
    poll = reader.poll(10, 5_000)
    assert (poll.records, poll.finished, poll.wait_until_us, poll.finished_splits) == ([], False, None, None)


def test_a_bounded_reader_releases_an_empty_partition_at_once():
    topic = Topic("t", 2)
    topic.produce_at(100, None, "x", partition=0)
    poll = KafkaSource(topic, bounded=True).create_reader(0, 1).poll(10, 0)
    assert (poll.finished_splits, poll.finished, poll.wait_until_us) == ([1], False, 100_000)


def test_a_reader_without_partitions_emits_nothing_and_has_no_splits():
    source = KafkaSource(Topic("a", 1), bounded=False)
    reader = source.create_reader(0, 2)  # "a": partition 0 belongs to reader 1 of 2
    assert reader.split_ids() == []
    poll = reader.poll(10, 0)
    assert (poll.records, poll.finished) == ([], False)
    assert KafkaSource(Topic("a", 1), bounded=True).create_reader(0, 2).poll(10, 0).finished


@pytest.mark.parametrize("starting, expected", [
    ("earliest", ["p0-0", "p0-1", "p0-2", "late"]),
    (KafkaOffsetsInitializer.earliest(), ["p0-0", "p0-1", "p0-2", "late"]),
    ("latest", ["late"]),
    (KafkaOffsetsInitializer.latest(), ["late"]),
    ({0: 2}, ["p0-2", "late"]),
    (KafkaOffsetsInitializer.offsets({0: 3}), ["late"]),
    ({0: 5}, []),
])
def test_starting_offsets(starting, expected):
    topic = _prefilled(1, 3)
    topic.produce_at(100, None, "late")
    reader = KafkaSource(topic, starting_offsets=starting, bounded=True).create_reader(0, 1)
    read = reader.poll(10, 0).records + reader.poll(10, 100_000).records
    assert read == expected


def test_latest_is_the_visible_end_at_the_first_poll():
    topic = _prefilled(1, 2)
    topic.produce_at(100, None, "seen at the first poll")
    topic.produce_at(200, None, "after")
    reader = KafkaSource(topic, starting_offsets="latest").create_reader(0, 1)
    assert reader.snapshot_state() == {"offsets": {}}  # not resolved before the first poll
    assert reader.poll(10, 150_000).records == []
    assert reader.offsets() == {0: 3}
    assert reader.poll(10, 200_000).records == ["after"]


def test_a_partition_left_out_of_specific_offsets_starts_at_the_earliest():
    reader = KafkaSource(_prefilled(2, 2), starting_offsets={1: 1}).create_reader(0, 1)
    assert reader.offsets() == {0: 0, 1: 1}


def test_snapshot_and_restore_round_trip_to_the_same_records():
    """A reader restored from a snapshot (through the checkpoint encoding) reads exactly what the original read next."""
    topic = _prefilled(3, 4)
    topic.produce_every(50, [(None, f"s{i}") for i in range(6)], start_ms=100)
    source = KafkaSource(topic, bounded=True, deserializer=lambda r: (r.partition, r.offset))
    times_us = (0, 100_000, 200_000, 400_000)
    reader = source.create_reader(0, 1)
    reader.poll(5, 0)
    state = reader.snapshot_state()
    assert state == {"offsets": {0: 2, 1: 2, 2: 1}}
    rest = [r for now in times_us for r in reader.poll(100, now).records]

    restored = source.create_reader(0, 1)
    restored.restore_state(serde.loads(serde.dumps(state)))
    replay = [r for now in times_us for r in restored.poll(100, now).records]
    for p in range(3):
        assert [r for r in replay if r[0] == p] == [r for r in rest if r[0] == p]
    assert len(replay) == len(rest) == 4 * 3 + 6 - 5
    assert restored.snapshot_state() == reader.snapshot_state() == {"offsets": {0: 6, 1: 6, 2: 6}}


def test_restored_offsets_take_precedence_over_the_configured_start():
    topic = _prefilled(1, 3)
    reader = KafkaSource(topic, starting_offsets="latest").create_reader(0, 1)
    reader.restore_state({"offsets": {0: 1}})
    assert reader.poll(10, 0).records == ["p0-1", "p0-2"]


def test_restore_names_what_is_wrong():
    reader = KafkaSource(Topic("orders", 4)).create_reader(0, 2)  # reads partitions 1 and 3
    with pytest.raises(ValueError, match=r"reader 0 of topic 'orders' reads partitions \[1, 3\], cannot restore "
                                         r"partition 0"):
        reader.restore_state({"offsets": {0: 4}})
    with pytest.raises(ValueError, match=r"topic 'orders' partition 1: a restored offset must be a non-negative"):
        reader.restore_state({"offsets": {1: -2}})
    with pytest.raises(ValueError, match=r"a state must be \{'offsets'"):
        reader.restore_state({"position": 3})


def test_the_builder_makes_the_same_source():
    topic = _prefilled(2, 2)
    built = (KafkaSource.builder().set_topics(topic).set_starting_offsets(KafkaOffsetsInitializer.offsets({1: 1}))
             .set_bounded().set_deserializer(lambda r: (r.partition, r.offset)).build())
    assert (built.topic, built.bounded) == (topic, True)
    assert built.create_reader(0, 1).poll(10, 0).records == [(0, 0), (1, 1), (0, 1)]
    assert not KafkaSource.builder().set_topics(topic).set_bounded().set_unbounded().build().bounded


@pytest.mark.parametrize("make, error, message", [
    (lambda t: KafkaSource(t, starting_offsets="newest"), ValueError, "must be 'earliest', 'latest'"),
    (lambda t: KafkaSource(t, starting_offsets=3), TypeError, "got int"),
    (lambda t: KafkaSource(t, starting_offsets={9: 0}), ValueError, r"topic 'clicks' has partitions 0..1"),
    (lambda t: KafkaSource(t, starting_offsets={0: -1}), ValueError, "partition 0: a starting offset"),
    (lambda t: KafkaSource("clicks"), TypeError, "reads a sim.api Topic"),
    (lambda t: KafkaSource.builder().set_topics(t, t), ValueError, "exactly one Topic, got 2"),
    (lambda t: KafkaSource.builder().build(), ValueError, r"needs set_topics\(topic\)"),
])
def test_bad_sources_are_named(make, error, message):
    with pytest.raises(error, match=message):
        make(Topic("clicks", 2))
