"""A topic's log: offsets in append order, the producer schedule, visibility by virtual time."""

import copy

import pytest

from sim.api import Topic


def test_prefilled_records_are_visible_from_time_zero():
    topic = Topic("t", 1)
    first = topic.append("a", 1)
    topic.append("a", 2, timestamp=500)
    assert (first.offset, first.timestamp, first.append_ms) == (0, 0, 0)
    assert topic.visible_end(0, 0) == 2
    assert [r.timestamp for r in topic.records()] == [0, 500]


def test_scheduled_records_are_appended_when_time_reaches_them_and_get_offsets_then():
    topic = Topic("t", 1)
    topic.append(None, "pre")
    topic.produce_at(300, None, "b", timestamp=7)
    topic.produce_at(100, None, "a")
    assert topic.scheduled_count() == 2
    topic.advance_to(99)
    assert [r.value for r in topic.records()] == ["pre"]
    assert topic.next_append_ms(0, 99) == 100
    topic.advance_to(300)
    assert [(r.offset, r.value, r.timestamp, r.append_ms) for r in topic.records()] == [
        (0, "pre", 0, 0), (1, "a", 100, 100), (2, "b", 7, 300)]
    assert topic.scheduled_count() == 0 and topic.is_scheduled_out(0)
    assert topic.next_append_ms(0, 300) is None


def test_a_reader_behind_the_topics_time_sees_only_what_was_appended_by_then():
    topic = Topic("t", 1)
    topic.produce_every(100, [(None, i) for i in range(5)])
    topic.advance_to(1_000)
    assert [topic.visible_end(0, now) for now in (0, 99, 100, 250, 400)] == [1, 1, 2, 3, 5]
    assert topic.next_append_ms(0, 250) == 300


def test_records_scheduled_for_one_instant_keep_their_scheduling_order():
    topic = Topic("t", 1)
    for i in range(4):
        topic.produce_at(50, None, i)
    topic.advance_to(50)
    assert [r.value for r in topic.records()] == [0, 1, 2, 3]


def test_a_producer_appends_after_what_the_schedule_made_due_at_the_same_instant():
    topic = Topic("t", 1)
    topic.produce_at(100, None, "scheduled")
    topic.producer().send(100, None, "sent")
    assert [(r.value, r.offset) for r in topic.records()] == [("scheduled", 0), ("sent", 1)]


def test_produce_every_spaces_pairs_and_can_fix_the_partition():
    topic = Topic("t", 3)
    topic.produce_every(20, [("k", "x"), (None, "y")], start_ms=10, partition=2)
    topic.advance_to(100)
    assert [(r.partition, r.append_ms, r.key, r.value) for r in topic.records()] == [(2, 10, "k", "x"),
                                                                                     (2, 30, None, "y")]


def test_records_lists_partition_by_partition_in_offset_order():
    topic = Topic("t", 2)
    for i in range(4):
        topic.append(None, i)
    assert [(r.partition, r.offset, r.value) for r in topic.records()] == [(0, 0, 0), (0, 1, 2), (1, 0, 1),
                                                                           (1, 1, 3)]
    assert [r.value for r in topic.records(1)] == [1, 3]
    assert topic.end_offset(1) == 2


def test_time_never_goes_back():
    topic = Topic("events", 1)
    topic.advance_to(3_000)
    with pytest.raises(ValueError, match=r"topic 'events': cannot schedule a record at 100 ms, .* already 3000 ms"):
        topic.produce_at(100, None, "x")
    with pytest.raises(ValueError, match=r"topic 'events' partition 0: cannot append at 100 ms"):
        topic.producer().send(100, None, "x")
    assert topic.append(None, "now").append_ms == 3_000


def test_copying_a_function_that_holds_a_topic_keeps_the_same_topic():
    topic = Topic("t", 1)
    holder = {"topic": topic}
    assert copy.deepcopy(holder)["topic"] is topic
    assert copy.copy(topic) is topic


@pytest.mark.parametrize("call, message", [
    (lambda: Topic("", 1), "non-empty string name"),
    (lambda: Topic("t", 0), "at least one partition"),
    (lambda: Topic("t").produce_at(-1, None, "x"), "at_ms must be a non-negative int of ms, got -1"),
    (lambda: Topic("t").append(None, "x", timestamp=1.5), "timestamp of a record must be a non-negative int"),
    (lambda: Topic("t").produce_every(10, ["x"]), r"needs \(key, value\) pairs, got 'x' at index 0"),
])
def test_bad_arguments_say_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_log_record_survives_the_checkpoint_encoding():
    """Whole records may sit in keyed or channel state, so they encode without pickle and come back equal."""
    import sim.runtime.source_operator  # noqa: F401  (registers the record type, as every job does)
    from sim.api.log import Record
    from sim.state import serde

    record = Record(2, 17, "k", {"amount": 3}, 1_000, 1_000)
    assert serde.loads(serde.dumps(record)) == record
