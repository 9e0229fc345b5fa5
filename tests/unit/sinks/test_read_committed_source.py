"""A KafkaSource with `isolation.level` read_committed, polled by hand: it reads committed records in offset
order, skips aborted ones, waits at an open transaction, and read_uncommitted stays the default."""

import pytest

from sim.api import KafkaSource, Topic


def _topic_with_transactions():
    """Partition 0: plain "a", committed txn "b", aborted txn "c", plain "d", then "e" in a still open txn, "f"."""
    topic = Topic("t", 1)
    producer = topic.producer()
    committed, aborted, still_open = (topic.begin_transaction(f"p-{i}") for i in range(3))
    topic.append(None, "a")
    producer.send(0, None, "b", transaction=committed)
    producer.send(0, None, "c", transaction=aborted)
    topic.append(None, "d")
    producer.send(0, None, "e", transaction=still_open)
    topic.append(None, "f")
    topic.commit_transaction(committed)
    topic.abort_transaction(aborted)
    return topic, still_open


def test_read_committed_skips_aborted_records_and_stops_at_an_open_transaction():
    topic, still_open = _topic_with_transactions()
    reader = KafkaSource(topic, isolation_level="read_committed").create_reader(0, 1)
    poll = reader.poll(100, 0)
    assert poll.records == ["a", "b", "d"]
    assert reader.offsets() == {0: 4}  # at the open transaction's first record, the last stable offset
    # Nobody knows when the open transaction will be decided: poll again soon, not at a time.
    assert reader.poll(100, 1_000).wait_until_us is None
    topic.commit_transaction(still_open, 2)
    assert reader.poll(100, 2_000).records == ["e", "f"]


def test_read_uncommitted_is_the_default_and_reads_everything_appended():
    topic, _ = _topic_with_transactions()
    assert KafkaSource(topic).create_reader(0, 1).poll(100, 0).records == ["a", "b", "c", "d", "e", "f"]


def test_a_bounded_read_committed_reader_finishes_once_its_partitions_are_decided_and_read():
    topic, still_open = _topic_with_transactions()
    reader = KafkaSource(topic, bounded=True, isolation_level="read_committed").create_reader(0, 1)
    assert not reader.poll(100, 0).finished
    topic.abort_transaction(still_open, 5)
    poll = reader.poll(100, 5_000)
    assert (poll.records, poll.finished) == (["f"], True)


def test_latest_starts_at_the_last_stable_offset():
    topic, still_open = _topic_with_transactions()
    reader = KafkaSource(topic, starting_offsets="latest", isolation_level="read_committed").create_reader(0, 1)
    assert reader.poll(100, 0).records == []
    topic.commit_transaction(still_open, 1)
    assert reader.poll(100, 1_000).records == ["e", "f"]


def test_the_builder_sets_the_isolation_level_as_a_kafka_property():
    topic = Topic("t", 1)
    source = KafkaSource.builder().set_topics(topic).set_property("isolation.level", "read_committed").build()
    assert source.isolation_level == "read_committed"
    assert KafkaSource.builder().set_topics(topic).build().isolation_level == "read_uncommitted"
    with pytest.raises(ValueError, match=r"KafkaSource of topic 't': isolation.level must be one of "
                                         r"read_uncommitted, read_committed, got 'read_comitted'"):
        KafkaSource.builder().set_topics(topic).set_property("isolation.level", "read_comitted").build()
    with pytest.raises(ValueError, match=r"property 'group.id' is not modelled by sim"):
        KafkaSource.builder().set_property("group.id", "g")
