"""Reader positions on restore: Kafka offsets follow the split-owner rule; other sources rescale or refuse to.

Flink's `KafkaSourceEnumerator.getSplitOwner`: a partition belongs to reader
`(start + partition) % readers` with `start = ((topic.hashCode() * 31) &
0x7FFFFFFF) % readers`. Restored at another parallelism, the old readers'
offsets are united and each new reader takes those of the partitions it owns.
"""

from __future__ import annotations

import pytest

from sim.api import (
    KafkaSource, NumberSequenceSource, ReaderPoll, Source, SourceReader, StreamExecutionEnvironment, Topic,
)
from sim.api.kafka import kafka_split_owner
from sim.runtime.restore import RestoreError, plan_restore
from sim.state.storage import LoadedCheckpoint

from tests.unit.restore.harness import TaskHarness
from tests.unit.restore.jobs import operator_metadata

PARTITIONS, PER_PARTITION = 6, 20


def _topic() -> Topic:
    topic = Topic("orders", PARTITIONS)
    for offset in range(PER_PARTITION):
        for partition in range(PARTITIONS):
            topic.append(None, f"{partition}/{offset}", partition=partition)
    return topic


def _job(source: Source, parallelism: int) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    env.from_source(source).uid("source").map(lambda v: v).add_sink(lambda v: None).name("sink")
    return env


def _snapshot(source: Source, batch: int) -> LoadedCheckpoint:
    harness = TaskHarness(_job(source, 2), source_batch_records=batch)
    harness.open()
    harness.read(steps=1)
    payloads = harness.snapshot(1)
    harness.dispose()
    return LoadedCheckpoint.from_payloads(1, "checkpoint", operator_metadata(harness.eg), payloads)


def _restored(source: Source, checkpoint: LoadedCheckpoint, parallelism: int) -> TaskHarness:
    harness = TaskHarness(_job(source, parallelism))
    harness.restore(plan_restore(checkpoint, harness.eg))
    harness.open()
    return harness


@pytest.fixture(scope="module")
def kafka():
    topic = _topic()
    source = KafkaSource(topic, bounded=True, deserializer=lambda r: (r.partition, r.offset))
    checkpoint = _snapshot(source, batch=7)
    offsets = {}
    for state in checkpoint.operator_states("source"):
        offsets.update(state["reader"]["offsets"])
    assert sorted(offsets) == list(range(PARTITIONS)) and 0 < sum(offsets.values()) < PARTITIONS * PER_PARTITION
    return source, checkpoint, offsets


@pytest.mark.parametrize("parallelism", [3, 1, 2])
def test_each_new_reader_resumes_the_partitions_it_owns_at_their_restored_offsets(kafka, parallelism):
    source, checkpoint, offsets = kafka
    harness = _restored(source, checkpoint, parallelism)
    for task in harness.of("source"):
        i = task.subtask.index
        assert task.head.reader.offsets() == {
            p: o for p, o in offsets.items() if kafka_split_owner("orders", p, parallelism) == i}
    harness.dispose()


@pytest.mark.parametrize("parallelism", [3, 1, 2])
def test_the_rescaled_readers_read_every_record_not_read_before_exactly_once(kafka, parallelism):
    source, checkpoint, offsets = kafka
    harness = _restored(source, checkpoint, parallelism)
    harness.finish()
    read = sorted(value for _, value in harness.written())
    assert read == sorted((p, o) for p in range(PARTITIONS) for o in range(offsets[p], PER_PARTITION))
    harness.dispose()


def test_a_number_sequence_hands_the_unread_part_of_each_old_range_to_new_readers_round_robin():
    source = NumberSequenceSource(0, 99)
    # Old reader 0 read 0..9 of 0..49 and reader 1 read 50..79 of 50..99.
    states = [{"position": 10}, {"position": 80}]
    assert source.redistribute_reader_states(states, 3) == [
        {"ranges": [[10, 49]]}, {"ranges": [[80, 99]]}, {"ranges": []}]
    assert source.redistribute_reader_states(states, 1) == [{"ranges": [[10, 49], [80, 99]]}]
    assert source.redistribute_reader_states(states, 2) == states
    # Rescaled twice: ranges handed over before are split again; a finished reader (None) has nothing left.
    again = source.redistribute_reader_states([{"ranges": [[12, 49], [80, 99]]}, {"ranges": []}, None], 2)
    assert again == [{"ranges": [[12, 49]]}, {"ranges": [[80, 99]]}]


class _Counter(SourceReader):
    def __init__(self):
        self.position = 0

    def poll(self, max_records, now_us):
        self.position += 1
        return ReaderPoll([self.position], self.position >= 50)

    def snapshot_state(self):
        return {"position": self.position}

    def restore_state(self, state):
        self.position = state["position"]


class Counting(Source):
    """A parallel source whose reader state says nothing of what the reader reads: it cannot be rescaled."""

    name = "counting"
    bounded = True

    def create_reader(self, index, parallelism):
        return _Counter()


def test_a_source_whose_readers_know_no_splits_restores_only_at_the_same_parallelism():
    checkpoint = _snapshot(Counting(), batch=1)
    harness = _restored(Counting(), checkpoint, 2)
    assert [t.head.reader.position for t in harness.of("source")] == [1, 1]
    harness.dispose()
    with pytest.raises(RestoreError, match=r"cannot restore source source from checkpoint 1 \(kept in memory\): "
                                           r"source 'counting' \(Counting\) cannot be rescaled from 2 to 3 readers"):
        plan_restore(checkpoint, TaskHarness(_job(Counting(), 3)).eg)
