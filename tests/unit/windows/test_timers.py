"""The timer service (flink-facts.md §6): dedup, deletion, firing condition, order, snapshots.

Expected firing lists follow §6 ("timer <= watermark", one timer per (key,
namespace, timestamp), deleting a missing timer does nothing) and the order
rule chosen in sim/runtime/timers.py: by timestamp, then by first
registration.
"""

from __future__ import annotations

import pytest

from sim.kernel import KeyGroupRange
from sim.runtime.timers import LONG_MIN, InternalTimer, InternalTimerService, TimerChange

T = InternalTimer


def _service(**kwargs) -> InternalTimerService:
    return InternalTimerService("test", **kwargs)


def test_registering_twice_fires_once():
    """§6: one timer per (key, namespace, timestamp); the second registration changes nothing."""
    timers = _service()
    assert timers.register_event_time_timer("a", None, 10) is TimerChange.REGISTERED
    assert timers.register_event_time_timer("a", None, 10) is TimerChange.ALREADY_REGISTERED
    assert timers.num_event_time_timers() == 1
    assert timers.advance_watermark(10) == [T(10, "a", None)]
    assert timers.advance_watermark(20) == []


def test_same_timestamp_other_key_or_namespace_is_another_timer():
    timers = _service()
    for key, namespace in [("a", None), ("b", None), ("a", "w1")]:
        assert timers.register_event_time_timer(key, namespace, 5) is TimerChange.REGISTERED
    assert timers.num_event_time_timers() == 3


def test_delete_and_delete_missing():
    """Deleting removes the timer; deleting a missing timer does nothing (§6)."""
    timers = _service()
    timers.register_event_time_timer("a", None, 10)
    assert timers.delete_event_time_timer("a", None, 10) is TimerChange.DELETED
    assert timers.delete_event_time_timer("a", None, 10) is TimerChange.NOT_FOUND
    assert timers.delete_processing_time_timer("a", None, 10) is TimerChange.NOT_FOUND
    assert timers.advance_watermark(100) == []


def test_firing_condition_is_timer_at_or_below_watermark():
    """§6: a timer fires when timestamp <= watermark: 9 fires at watermark 9, 10 does not."""
    timers = _service()
    timers.register_event_time_timer("a", None, 10)
    timers.register_event_time_timer("a", None, 9)
    assert timers.advance_watermark(8) == []
    assert timers.advance_watermark(9) == [T(9, "a", None)]
    assert timers.current_watermark == 9
    assert timers.advance_watermark(10) == [T(10, "a", None)]


def test_equal_timestamps_fire_in_registration_order():
    """The documented [sim] rule: (timestamp, first registration); re-registering keeps the place."""
    timers = _service()
    timers.register_event_time_timer("z", None, 7)
    timers.register_event_time_timer("a", None, 7)
    timers.register_event_time_timer("m", None, 3)
    timers.register_event_time_timer("z", None, 7)  # a duplicate: keeps its first place
    assert timers.advance_watermark(10) == [T(3, "m", None), T(7, "z", None), T(7, "a", None)]


def test_deleted_then_registered_again_counts_as_new():
    timers = _service()
    timers.register_event_time_timer("z", None, 7)
    timers.register_event_time_timer("a", None, 7)
    timers.delete_event_time_timer("z", None, 7)
    timers.register_event_time_timer("z", None, 7)
    assert timers.event_time_timers() == [T(7, "a", None), T(7, "z", None)]
    assert timers.advance_watermark(7) == [T(7, "a", None), T(7, "z", None)]


def test_timer_at_or_behind_watermark_fires_at_next_advance():
    """§6 observed: a timer registered at or behind the current watermark fires at the next advance, not at once."""
    timers = _service()
    assert timers.advance_watermark(20) == []
    timers.register_event_time_timer("a", None, 20)  # at the watermark
    timers.register_event_time_timer("a", None, 5)  # behind it
    assert timers.num_event_time_timers() == 2  # registering fired nothing
    assert timers.advance_watermark(21) == [T(5, "a", None), T(20, "a", None)]


def test_poll_sees_a_timer_registered_while_firing():
    """Draining one at a time: a due timer registered during firing fires in the same advance (as Flink's loop)."""
    timers = _service()
    timers.register_event_time_timer("a", None, 5)
    fired = []
    while (timer := timers.poll_event_time_timer(10)) is not None:
        fired.append(timer)
        if timer.timestamp == 5:
            timers.register_event_time_timer("b", None, 8)
    assert fired == [T(5, "a", None), T(8, "b", None)]


def test_processing_time_timers_due_and_next():
    """Processing-time timers are due when timestamp <= now; next_processing_time is the earliest."""
    timers = _service()
    assert timers.next_processing_time() is None
    for ts in (30, 10, 20):
        timers.register_processing_time_timer("k", None, ts)
    assert timers.next_processing_time() == 10
    assert timers.due_processing_timers(19) == [T(10, "k", None)]
    assert timers.next_processing_time() == 20
    timers.delete_processing_time_timer("k", None, 20)
    assert timers.next_processing_time() == 30
    assert timers.due_processing_timers(100) == [T(30, "k", None)]
    assert timers.current_watermark == LONG_MIN  # processing time never moves the watermark


def test_event_and_processing_domains_are_separate():
    timers = _service()
    timers.register_event_time_timer("k", None, 5)
    timers.register_processing_time_timer("k", None, 5)
    assert timers.due_processing_timers(5) == [T(5, "k", None)]
    assert timers.advance_watermark(5) == [T(5, "k", None)]


def test_snapshot_restore_round_trip():
    """Timers are keyed state: a snapshot restored into a new service fires the same timers in the same order."""
    key_group = {"a": 1, "b": 2}.__getitem__
    timers = _service(key_group_of=key_group)
    timers.register_event_time_timer("b", "w", 7)
    timers.register_event_time_timer("a", "w", 7)
    timers.register_event_time_timer("a", None, 3)
    timers.register_processing_time_timer("b", None, 100)
    snapshot = timers.snapshot()
    assert snapshot == {"event_time": [(1, 3, "a", None), (2, 7, "b", "w"), (1, 7, "a", "w")],
                        "processing_time": [(2, 100, "b", None)]}
    restored = _service(key_group_of=key_group)
    assert restored.restore(snapshot) == 4
    assert restored.snapshot() == snapshot
    assert restored.advance_watermark(10) == timers.advance_watermark(10)


def test_restore_keeps_only_the_given_key_groups():
    """After rescaling a subtask restores only the timers of its key groups (§11)."""
    timers = _service(key_group_of={"a": 1, "b": 2}.__getitem__)
    timers.register_event_time_timer("a", None, 1)
    timers.register_event_time_timer("b", None, 2)
    part = _service()
    assert part.restore(timers.snapshot(), KeyGroupRange(2, 5)) == 1
    assert part.event_time_timers() == [T(2, "b", None)]


def test_restored_due_processing_timers_fire_at_once():
    """§6: restored processing-time timers that are already due fire immediately (at the first ask)."""
    timers = _service(key_group_of=lambda key: 0)
    timers.register_processing_time_timer("a", None, 50)
    restored = _service()
    restored.restore(timers.snapshot())
    assert restored.next_processing_time() == 50
    assert restored.due_processing_timers(80) == [T(50, "a", None)]


def test_snapshot_needs_key_groups_and_restore_checks_shape():
    with pytest.raises(ValueError, match="needs key_group_of"):
        _service().snapshot()
    with pytest.raises(ValueError, match="got \\['timers'\\]"):
        _service().restore({"timers": []})


def test_timestamps_must_be_ints():
    with pytest.raises(TypeError, match="got 1.5"):
        _service().register_event_time_timer("a", None, 1.5)


def test_many_deletions_keep_the_order():
    """Lazy deletion with compaction: after deleting most timers the rest still fire in order."""
    timers = _service()
    for ts in range(200):
        timers.register_event_time_timer("k", None, ts)
    for ts in range(0, 200, 3):
        timers.delete_event_time_timer("k", None, ts)
    for ts in range(1, 200, 3):
        timers.delete_event_time_timer("k", None, ts)
    expected = [T(ts, "k", None) for ts in range(2, 200, 3)]
    assert timers.event_time_timers() == expected
    assert timers.advance_watermark(1000) == expected
