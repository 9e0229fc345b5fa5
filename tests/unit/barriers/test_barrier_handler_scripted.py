"""Scripted sequences for sim.runtime.barriers: one input per step, everything checked after each.

Each step asserts the input's result, the state name, the blocked and
persisting channels, and the exact controller calls the input caused (in
order). Phase comments say what the step is about.
"""

from __future__ import annotations

import pytest

from sim.runtime.barriers import (MAX_TRACKED_CHECKPOINTS, BarrierHandler, BarrierProtocolError,
                                  BarrierResult as R)
from sim.runtime.checkpoint_events import AbortReason, BarrierKind, CheckpointBarrier, CheckpointOptions

WAITING, ALIGNING, UNALIGNED = "WaitingForFirstBarrier", "CollectingBarriers", "CollectingBarriersUnaligned"
TRACKING, FINISHED = "TrackingBarriers", "Finished"


def aligned(k: int) -> CheckpointBarrier:
    return CheckpointBarrier(k, 0, CheckpointOptions(BarrierKind.ALIGNED))


def unaligned(k: int) -> CheckpointBarrier:
    return CheckpointBarrier(k, 0, CheckpointOptions(BarrierKind.UNALIGNED))


def timeoutable(k: int, trigger_us: int = 1_000, timeout_us: int = 500) -> CheckpointBarrier:
    return CheckpointBarrier(k, trigger_us, CheckpointOptions(BarrierKind.TIMEOUTABLE_ALIGNED, timeout_us))


def at_least_once(k: int) -> CheckpointBarrier:
    return CheckpointBarrier(k, 0, CheckpointOptions(BarrierKind.AT_LEAST_ONCE))


class RecordingController:
    """A fake task: records every call as a tuple (method name, arguments...); time is set by the test."""

    def __init__(self) -> None:
        self.time_us = 0
        self.calls: list[tuple] = []
        self.triggered: list[CheckpointBarrier] = []

    def take(self) -> list[tuple]:
        calls, self.calls = self.calls, []
        return calls

    def now_us(self) -> int:
        return self.time_us

    def trigger_checkpoint(self, barrier: CheckpointBarrier, unaligned: bool) -> None:
        self.triggered.append(barrier)
        self.calls.append(("trigger_checkpoint", barrier.checkpoint_id, unaligned))

    def abort_checkpoint(self, checkpoint_id: int, reason: AbortReason) -> None:
        self.calls.append(("abort_checkpoint", checkpoint_id, reason))

    def block_channel(self, channel: int) -> None:
        self.calls.append(("block_channel", channel))

    def resume_channels(self, channels: list[int]) -> None:
        self.calls.append(("resume_channels", channels))

    def start_persisting(self, channel: int, checkpoint_id: int) -> None:
        self.calls.append(("start_persisting", channel, checkpoint_id))

    def stop_persisting(self, channel: int, checkpoint_id: int) -> None:
        self.calls.append(("stop_persisting", channel, checkpoint_id))

    def first_barrier_received(self, checkpoint_id: int) -> None:
        self.calls.append(("first_barrier_received", checkpoint_id))

    def last_barrier_received(self, checkpoint_id: int) -> None:
        self.calls.append(("last_barrier_received", checkpoint_id))

    def register_alignment_timeout(self, checkpoint_id: int, deadline_us: int) -> None:
        self.calls.append(("register_alignment_timeout", checkpoint_id, deadline_us))


class Script:
    """A handler, its recording controller, and `expect` to check one step."""

    def __init__(self, num_channels: int, mode: str = "exactly_once", **options) -> None:
        self.ctl = RecordingController()
        self.h = BarrierHandler(num_channels, self.ctl, mode, **options)

    def expect(self, result: R, expected: R, state: str, blocked=(), persisting=(), calls=()) -> None:
        assert result is expected
        assert self.h.state.name == state
        assert self.h.blocked_channels == tuple(blocked)
        assert self.h.persisting_channels == tuple(persisting)
        assert self.ctl.take() == list(calls)


def first(k):
    return ("first_barrier_received", k)


def last(k):
    return ("last_barrier_received", k)


def block(ch):
    return ("block_channel", ch)


def resume(*chs):
    return ("resume_channels", list(chs))


def trigger(k, unaligned_=False):
    return ("trigger_checkpoint", k, unaligned_)


def abort(k, reason):
    return ("abort_checkpoint", k, reason)


def persist(ch, k):
    return ("start_persisting", ch, k)


def unpersist(ch, k):
    return ("stop_persisting", ch, k)


# ---------------------------------------------------------------- aligned


def test_aligned_one_channel_triggers_at_once():
    s = Script(1)
    # phase 1: the only channel's barrier -> alignment of zero length, triggered, channel resumed
    s.expect(s.h.barrier_received(0, aligned(1)), R.TRIGGERED, WAITING,
             calls=[first(1), block(0), last(1), trigger(1), resume(0)])
    assert s.h.pending_checkpoint_id is None and s.h.latest_checkpoint_id == 1


def test_aligned_two_channels():
    s = Script(2)
    # phase 1: first barrier on channel 0 -> aligning, channel 0 blocked
    s.expect(s.h.barrier_received(0, aligned(1)), R.ALIGNING, ALIGNING, blocked=[0],
             calls=[first(1), block(0)])
    assert s.h.pending_checkpoint_id == 1 and s.h.arrived_channels == (0,)
    # phase 2: barrier on channel 1 completes the alignment -> triggered, both resumed
    s.expect(s.h.barrier_received(1, aligned(1)), R.TRIGGERED, WAITING,
             calls=[block(1), last(1), trigger(1), resume(0, 1)])
    # phase 3: the next checkpoint aligns again from scratch
    s.expect(s.h.barrier_received(1, aligned(2)), R.ALIGNING, ALIGNING, blocked=[1],
             calls=[first(2), block(1)])


def test_aligned_three_channels_in_any_order():
    s = Script(3)
    # phase 1: channel 2 first -> aligning
    s.expect(s.h.barrier_received(2, aligned(1)), R.ALIGNING, ALIGNING, blocked=[2], calls=[first(1), block(2)])
    # phase 2: channel 0 -> still aligning, two blocked
    s.expect(s.h.barrier_received(0, aligned(1)), R.ALIGNING, ALIGNING, blocked=[0, 2], calls=[block(0)])
    # phase 3: channel 1, the last -> triggered aligned, all three resumed in one call
    s.expect(s.h.barrier_received(1, aligned(1)), R.TRIGGERED, WAITING,
             calls=[block(1), last(1), trigger(1), resume(0, 1, 2)])


# ---------------------------------------------------------------- unaligned


def test_unaligned_triggers_at_first_barrier_and_persists_the_others():
    s = Script(3)
    # phase 1: first unaligned barrier on channel 1 -> triggered at once, channels 0 and 2 persisted
    s.expect(s.h.barrier_received(1, unaligned(1)), R.TRIGGERED, UNALIGNED, persisting=[0, 2],
             calls=[first(1), trigger(1, True), persist(0, 1), persist(2, 1)])
    assert s.ctl.triggered[-1].is_priority
    # phase 2: channel 2's barrier -> it stops persisting; nothing blocks
    s.expect(s.h.barrier_received(2, unaligned(1)), R.PERSISTING, UNALIGNED, persisting=[0],
             calls=[unpersist(2, 1)])
    # phase 3: channel 0's barrier -> inputs part complete, back to waiting
    s.expect(s.h.barrier_received(0, unaligned(1)), R.INPUTS_COMPLETED, WAITING,
             calls=[unpersist(0, 1), last(1)])


def test_unaligned_one_channel_is_complete_at_once():
    s = Script(1)
    # phase 1: the only barrier triggers and completes the inputs part
    s.expect(s.h.barrier_received(0, unaligned(1)), R.TRIGGERED, WAITING,
             calls=[first(1), trigger(1, True), last(1)])


def test_mixed_unaligned_first_then_an_aligned_edge_blocks_until_the_end():
    s = Script(3)
    # phase 1: unaligned barrier on channel 0 -> triggered, 1 and 2 persisted
    s.expect(s.h.barrier_received(0, unaligned(1)), R.TRIGGERED, UNALIGNED, persisting=[1, 2],
             calls=[first(1), trigger(1, True), persist(1, 1), persist(2, 1)])
    # phase 2: channel 1 is a forward edge: its ALIGNED barrier blocks it
    s.expect(s.h.barrier_received(1, aligned(1)), R.PERSISTING, UNALIGNED, blocked=[1], persisting=[2],
             calls=[unpersist(1, 1), block(1)])
    # phase 3: the last barrier -> inputs complete, channel 1 resumed
    s.expect(s.h.barrier_received(2, unaligned(1)), R.INPUTS_COMPLETED, WAITING,
             calls=[unpersist(2, 1), last(1), resume(1)])


def test_mixed_aligned_first_then_an_unaligned_barrier_switches():
    s = Script(3)
    # phase 1: a forward edge's ALIGNED barrier first -> aligning, channel 0 blocked
    s.expect(s.h.barrier_received(0, aligned(1)), R.ALIGNING, ALIGNING, blocked=[0], calls=[first(1), block(0)])
    # phase 2: an UNALIGNED barrier of the same checkpoint -> triggered unaligned; channel 0 keeps aligning
    s.expect(s.h.barrier_received(1, unaligned(1)), R.TRIGGERED, UNALIGNED, blocked=[0], persisting=[2],
             calls=[trigger(1, True), persist(2, 1)])
    # phase 3: the last barrier -> inputs complete, channel 0 resumed
    s.expect(s.h.barrier_received(2, unaligned(1)), R.INPUTS_COMPLETED, WAITING,
             calls=[unpersist(2, 1), last(1), resume(0)])


# ---------------------------------------------------------------- aligned-checkpoint timeout


def test_timeoutable_completes_before_the_timeout_and_the_late_timer_is_ignored():
    s = Script(2)
    s.ctl.time_us = 1_100
    # phase 1: first timeoutable barrier -> aligning, timer at trigger time + timeout (not now + timeout)
    s.expect(s.h.barrier_received(0, timeoutable(1)), R.ALIGNING, ALIGNING, blocked=[0],
             calls=[first(1), block(0), ("register_alignment_timeout", 1, 1_500)])
    # phase 2: second barrier before the deadline -> aligned checkpoint, no second timer
    s.ctl.time_us = 1_200
    s.expect(s.h.barrier_received(1, timeoutable(1)), R.TRIGGERED, WAITING,
             calls=[block(1), last(1), trigger(1), resume(0, 1)])
    # phase 3: the timer fires after completion -> ignored
    s.ctl.time_us = 1_500
    s.expect(s.h.alignment_timed_out(1), R.IGNORED, WAITING)


def test_timeout_fires_and_switches_to_unaligned():
    s = Script(3)
    # phase 1: timeoutable barrier on channel 0 -> aligning with a timer
    s.expect(s.h.barrier_received(0, timeoutable(1)), R.ALIGNING, ALIGNING, blocked=[0],
             calls=[first(1), block(0), ("register_alignment_timeout", 1, 1_500)])
    # phase 2: the timer fires -> triggered unaligned, channel 0 resumed, 1 and 2 persisted
    s.ctl.time_us = 1_500
    s.expect(s.h.alignment_timed_out(1), R.TRIGGERED, UNALIGNED, persisting=[1, 2],
             calls=[trigger(1, True), resume(0), persist(1, 1), persist(2, 1)])
    assert s.ctl.triggered[-1].kind is BarrierKind.UNALIGNED
    # phase 3: a timeoutable barrier still in flight -> its sender is resumed at once
    s.expect(s.h.barrier_received(1, timeoutable(1)), R.PERSISTING, UNALIGNED, persisting=[2],
             calls=[unpersist(1, 1), resume(1)])
    # phase 4: a promoted (priority) barrier -> inputs complete
    s.expect(s.h.barrier_received(2, timeoutable(1).as_unaligned()), R.INPUTS_COMPLETED, WAITING,
             calls=[unpersist(2, 1), last(1)])
    # phase 5: a second firing of the same timer -> ignored
    s.expect(s.h.alignment_timed_out(1), R.IGNORED, WAITING)


def test_timeout_keeps_aligned_edges_blocked_and_releases_timeoutable_ones():
    s = Script(3)
    # phase 1: a pointwise edge (ALIGNED) and a timeoutable edge block
    s.expect(s.h.barrier_received(0, aligned(1)), R.ALIGNING, ALIGNING, blocked=[0], calls=[first(1), block(0)])
    s.expect(s.h.barrier_received(1, timeoutable(1)), R.ALIGNING, ALIGNING, blocked=[0, 1],
             calls=[block(1), ("register_alignment_timeout", 1, 1_500)])
    # phase 2: timeout -> only the timeoutable channel is released; channel 2 persisted
    s.ctl.time_us = 1_600
    s.expect(s.h.alignment_timed_out(1), R.TRIGGERED, UNALIGNED, blocked=[0], persisting=[2],
             calls=[trigger(1, True), resume(1), persist(2, 1)])
    # phase 3: last barrier -> the pointwise edge is resumed at the end
    s.expect(s.h.barrier_received(2, unaligned(1)), R.INPUTS_COMPLETED, WAITING,
             calls=[unpersist(2, 1), last(1), resume(0)])


def test_aligned_trigger_forwards_the_least_aligned_barrier_seen():
    s = Script(2)
    # phase 1: a pointwise edge's ALIGNED barrier, then a timeoutable one -> the timer is registered
    s.expect(s.h.barrier_received(0, aligned(1)), R.ALIGNING, ALIGNING, blocked=[0], calls=[first(1), block(0)])
    s.expect(s.h.barrier_received(1, timeoutable(1)), R.TRIGGERED, WAITING,
             calls=[block(1), last(1), trigger(1), resume(0, 1)])
    # phase 2: the barrier forwarded downstream keeps the timeoutable kind (downstream may still switch)
    assert s.ctl.triggered[-1] == timeoutable(1)


def test_deadline_already_passed_at_the_first_barrier():
    s = Script(2)
    s.ctl.time_us = 1_500  # trigger time 1_000 + timeout 500: the deadline is now
    # phase 1: first barrier past its deadline -> unaligned at once, no block, no timer; its sender resumed
    s.expect(s.h.barrier_received(1, timeoutable(1)), R.TRIGGERED, UNALIGNED, persisting=[0],
             calls=[first(1), trigger(1, True), resume(1), persist(0, 1)])
    # phase 2: the other barrier, promoted upstream -> complete
    s.expect(s.h.barrier_received(0, timeoutable(1).as_unaligned()), R.INPUTS_COMPLETED, WAITING,
             calls=[unpersist(0, 1), last(1)])


def test_timeout_without_a_registered_timer_is_illegal():
    s = Script(2)
    s.expect(s.h.barrier_received(0, aligned(1)), R.ALIGNING, ALIGNING, blocked=[0], calls=[first(1), block(0)])
    with pytest.raises(BarrierProtocolError, match="checkpoint 1, which registered none"):
        s.h.alignment_timed_out(1)
    # phase: a stale timer for another checkpoint is ignored
    s.expect(s.h.alignment_timed_out(7), R.IGNORED, ALIGNING, blocked=[0])


# ---------------------------------------------------------------- newer and older barriers


def test_newer_barrier_subsumes_the_pending_aligned_checkpoint():
    s = Script(3)
    # phase 1: barrier 1 on channel 0 -> aligning
    s.expect(s.h.barrier_received(0, aligned(1)), R.ALIGNING, ALIGNING, blocked=[0], calls=[first(1), block(0)])
    # phase 2: barrier 2 on channel 1 -> 1 aborted SUBSUMED, channel 0 resumed, alignment restarts for 2
    s.expect(s.h.barrier_received(1, aligned(2)), R.ALIGNING, ALIGNING, blocked=[1],
             calls=[abort(1, AbortReason.SUBSUMED), resume(0), first(2), block(1)])
    assert s.h.pending_checkpoint_id == 2
    # phase 3: a late barrier 1 on channel 2 -> ignored, and its sender resumed
    s.expect(s.h.barrier_received(2, aligned(1)), R.IGNORED, ALIGNING, blocked=[1], calls=[resume(2)])


def test_newer_barrier_subsumes_the_pending_unaligned_checkpoint():
    s = Script(2)
    s.expect(s.h.barrier_received(0, unaligned(1)), R.TRIGGERED, UNALIGNED, persisting=[1],
             calls=[first(1), trigger(1, True), persist(1, 1)])
    # phase 2: barrier 2 on channel 0 -> 1 aborted, persisting stopped, 2 triggered
    s.expect(s.h.barrier_received(0, unaligned(2)), R.TRIGGERED, UNALIGNED, persisting=[1],
             calls=[abort(1, AbortReason.SUBSUMED), unpersist(1, 1), first(2), trigger(2, True), persist(1, 2)])


def test_old_barrier_when_idle_is_ignored_and_its_channel_resumed():
    s = Script(2)
    s.h.barrier_received(0, aligned(1))
    s.h.barrier_received(1, aligned(1))
    s.ctl.take()
    # phase 1: a duplicate-id aligned barrier after completion -> ignored, sender resumed
    s.expect(s.h.barrier_received(0, aligned(1)), R.IGNORED, WAITING, calls=[resume(0)])
    # phase 2: an old unaligned barrier blocked nothing -> ignored silently
    s.expect(s.h.barrier_received(1, unaligned(1)), R.IGNORED, WAITING)


def test_duplicate_barrier_on_one_channel_is_illegal():
    s = Script(2)
    s.expect(s.h.barrier_received(0, aligned(3)), R.ALIGNING, ALIGNING, blocked=[0], calls=[first(3), block(0)])
    with pytest.raises(BarrierProtocolError, match="channel 0 delivered barrier 3 twice"):
        s.h.barrier_received(0, aligned(3))


# ---------------------------------------------------------------- cancel markers


def test_cancel_marker_before_alignment_aborts_and_later_barriers_are_ignored():
    s = Script(2)
    # phase 1: cancel 1 before any barrier -> aborted, remembered as the latest id
    s.expect(s.h.cancel_marker_received(0, 1), R.ABORTED, WAITING,
             calls=[abort(1, AbortReason.CANCELLED_BY_MARKER)])
    assert s.h.latest_checkpoint_id == 1
    # phase 2: barrier 1 on the other channel -> ignored, its sender resumed
    s.expect(s.h.barrier_received(1, aligned(1)), R.IGNORED, WAITING, calls=[resume(1)])
    # phase 3: the same cancel again -> ignored
    s.expect(s.h.cancel_marker_received(1, 1), R.IGNORED, WAITING)


def test_cancel_marker_during_alignment_aborts_and_releases():
    s = Script(3)
    s.expect(s.h.barrier_received(0, aligned(1)), R.ALIGNING, ALIGNING, blocked=[0], calls=[first(1), block(0)])
    s.expect(s.h.barrier_received(1, aligned(1)), R.ALIGNING, ALIGNING, blocked=[0, 1], calls=[block(1)])
    # phase 2: cancel 1 on channel 2 -> aborted, both blocked channels resumed
    s.expect(s.h.cancel_marker_received(2, 1), R.ABORTED, WAITING,
             calls=[abort(1, AbortReason.CANCELLED_BY_MARKER), resume(0, 1)])


def test_newer_cancel_marker_during_unaligned_subsumes_and_cancels():
    s = Script(2)
    s.expect(s.h.barrier_received(0, unaligned(1)), R.TRIGGERED, UNALIGNED, persisting=[1],
             calls=[first(1), trigger(1, True), persist(1, 1)])
    # phase 2: cancel 2 -> 1 aborted SUBSUMED (persisting stopped), 2 aborted CANCELLED_BY_MARKER
    s.expect(s.h.cancel_marker_received(1, 2), R.ABORTED, WAITING,
             calls=[abort(1, AbortReason.SUBSUMED), unpersist(1, 1), abort(2, AbortReason.CANCELLED_BY_MARKER)])
    assert s.h.latest_checkpoint_id == 2


def test_cancel_marker_after_completion_or_older_than_pending_is_ignored():
    s = Script(2)
    s.h.barrier_received(0, aligned(1))
    s.h.barrier_received(1, aligned(1))
    s.h.barrier_received(0, aligned(2))
    s.ctl.take()
    # phase 1: cancel 1 (completed) while 2 aligns -> ignored, 2 still aligning
    s.expect(s.h.cancel_marker_received(1, 1), R.IGNORED, ALIGNING, blocked=[0])


# ---------------------------------------------------------------- end of partition


def test_end_of_partition_during_alignment_completes_it():
    s = Script(3)
    s.expect(s.h.barrier_received(0, aligned(1)), R.ALIGNING, ALIGNING, blocked=[0], calls=[first(1), block(0)])
    # phase 2: channel 1 ends -> counts as aligned; channel 2 still missing
    s.expect(s.h.end_of_partition_received(1), R.CHANNEL_ENDED, ALIGNING, blocked=[0])
    # phase 3: channel 2 ends -> the alignment is complete -> triggered
    s.expect(s.h.end_of_partition_received(2), R.TRIGGERED, WAITING,
             calls=[last(1), trigger(1), resume(0)])
    # phase 4: the next checkpoint needs only channel 0
    s.expect(s.h.barrier_received(0, aligned(2)), R.TRIGGERED, WAITING,
             calls=[first(2), block(0), last(2), trigger(2), resume(0)])


def test_end_of_partition_during_unaligned_stops_persisting_and_completes():
    s = Script(2)
    s.expect(s.h.barrier_received(0, unaligned(1)), R.TRIGGERED, UNALIGNED, persisting=[1],
             calls=[first(1), trigger(1, True), persist(1, 1)])
    s.expect(s.h.end_of_partition_received(1), R.INPUTS_COMPLETED, WAITING, calls=[unpersist(1, 1), last(1)])


def test_end_of_partition_aborts_when_checkpoints_after_finished_tasks_are_off():
    s = Script(3, end_of_partition_aborts=True)
    s.expect(s.h.barrier_received(0, aligned(1)), R.ALIGNING, ALIGNING, blocked=[0], calls=[first(1), block(0)])
    # phase 2: channel 2 ends during alignment -> 1 aborted END_OF_PARTITION, channel 0 resumed
    s.expect(s.h.end_of_partition_received(2), R.ABORTED, WAITING,
             calls=[abort(1, AbortReason.END_OF_PARTITION), resume(0)])
    # phase 3: barrier 1 on channel 1 is now old -> ignored and resumed
    s.expect(s.h.barrier_received(1, aligned(1)), R.IGNORED, WAITING, calls=[resume(1)])


def test_all_channels_ended_finishes_the_handler():
    s = Script(2)
    s.expect(s.h.end_of_partition_received(0), R.CHANNEL_ENDED, WAITING)
    with pytest.raises(BarrierProtocolError, match="channel 0, which already ended"):
        s.h.barrier_received(0, aligned(1))
    # phase 2: the last channel ends -> finished
    s.expect(s.h.end_of_partition_received(1), R.FINISHED, FINISHED)
    assert s.h.is_finished
    # phase 3: every channel input is illegal; a stale timer is ignored
    with pytest.raises(BarrierProtocolError, match="after every input channel ended"):
        s.h.barrier_received(1, aligned(1))
    with pytest.raises(BarrierProtocolError, match="after every input channel ended"):
        s.h.cancel_marker_received(0, 1)
    with pytest.raises(BarrierProtocolError, match="after every input channel ended"):
        s.h.end_of_partition_received(0)
    s.expect(s.h.alignment_timed_out(1), R.IGNORED, FINISHED)


def test_last_channel_ending_during_alignment_triggers_then_finishes():
    s = Script(2)
    s.expect(s.h.barrier_received(0, unaligned(1)), R.TRIGGERED, UNALIGNED, persisting=[1],
             calls=[first(1), trigger(1, True), persist(1, 1)])
    s.expect(s.h.end_of_partition_received(0), R.CHANNEL_ENDED, UNALIGNED, persisting=[1])
    s.expect(s.h.end_of_partition_received(1), R.INPUTS_COMPLETED, FINISHED, calls=[unpersist(1, 1), last(1)])


# ---------------------------------------------------------------- checks on every input


def test_inputs_are_checked():
    s = Script(2)
    with pytest.raises(BarrierProtocolError, match="channel 2; expected a channel in 0..1"):
        s.h.barrier_received(2, aligned(1))
    with pytest.raises(BarrierProtocolError, match="AT_LEAST_ONCE; a EXACTLY_ONCE handler"):
        s.h.barrier_received(0, at_least_once(1))
    with pytest.raises(ValueError, match="mode must be"):
        BarrierHandler(2, RecordingController(), "sometimes")
    with pytest.raises(ValueError, match="at least one input channel"):
        BarrierHandler(0, RecordingController())


# ---------------------------------------------------------------- at-least-once


def test_at_least_once_counts_and_never_blocks():
    s = Script(3, "at_least_once")
    # phase 1: barrier 1 on channel 0 -> counted, nothing blocked
    s.expect(s.h.barrier_received(0, at_least_once(1)), R.COUNTED, TRACKING, calls=[first(1)])
    # phase 2: barrier 2 overtakes on channel 1 -> both ids pending
    s.expect(s.h.barrier_received(1, at_least_once(2)), R.COUNTED, TRACKING, calls=[first(2)])
    s.expect(s.h.barrier_received(0, at_least_once(2)), R.COUNTED, TRACKING)
    assert s.h.pending_checkpoint_ids == (1, 2)
    # phase 3: barrier 2 from every channel -> triggered; pending 1 dropped without an abort
    s.expect(s.h.barrier_received(2, at_least_once(2)), R.TRIGGERED, TRACKING, calls=[last(2), trigger(2)])
    assert s.h.pending_checkpoint_ids == ()
    # phase 4: a late barrier 1 -> ignored
    s.expect(s.h.barrier_received(1, at_least_once(1)), R.IGNORED, TRACKING)
    with pytest.raises(BarrierProtocolError, match="ALIGNED; a AT_LEAST_ONCE handler"):
        s.h.barrier_received(0, aligned(3))


def test_at_least_once_tracks_at_most_50_checkpoints():
    s = Script(2, "at_least_once")
    for k in range(1, MAX_TRACKED_CHECKPOINTS + 2):
        s.expect(s.h.barrier_received(0, at_least_once(k)), R.COUNTED, TRACKING, calls=[first(k)])
    # phase 2: the 51st id dropped the oldest (1)
    assert s.h.pending_checkpoint_ids == tuple(range(2, MAX_TRACKED_CHECKPOINTS + 2))
    # phase 3: barrier 1 on channel 1 is no longer tracked -> ignored
    s.expect(s.h.barrier_received(1, at_least_once(1)), R.IGNORED, TRACKING)
    s.expect(s.h.barrier_received(1, at_least_once(2)), R.TRIGGERED, TRACKING, calls=[last(2), trigger(2)])


def test_at_least_once_cancel_and_end_of_partition():
    s = Script(3, "at_least_once")
    s.h.barrier_received(0, at_least_once(1))
    s.h.barrier_received(0, at_least_once(2))
    s.h.barrier_received(1, at_least_once(2))
    s.ctl.take()
    # phase 1: cancel 1 -> aborted; 2 still counted
    s.expect(s.h.cancel_marker_received(1, 1), R.ABORTED, TRACKING,
             calls=[abort(1, AbortReason.CANCELLED_BY_MARKER)])
    assert s.h.pending_checkpoint_ids == (2,)
    # phase 2: channel 2 ends -> 2 now has every open channel -> triggered
    s.expect(s.h.end_of_partition_received(2), R.TRIGGERED, TRACKING, calls=[last(2), trigger(2)])
    # phase 3: cancel 5 (new) -> aborted, later barrier 5 ignored
    s.expect(s.h.cancel_marker_received(0, 5), R.ABORTED, TRACKING,
             calls=[abort(5, AbortReason.CANCELLED_BY_MARKER)])
    s.expect(s.h.barrier_received(1, at_least_once(5)), R.IGNORED, TRACKING)
    s.expect(s.h.end_of_partition_received(0), R.CHANNEL_ENDED, TRACKING)
    s.expect(s.h.end_of_partition_received(1), R.FINISHED, FINISHED)


def test_at_least_once_end_of_partition_aborts_every_count_when_configured():
    s = Script(2, "at_least_once", end_of_partition_aborts=True)
    s.h.barrier_received(0, at_least_once(1))
    s.h.barrier_received(0, at_least_once(2))
    s.ctl.take()
    s.expect(s.h.end_of_partition_received(1), R.ABORTED, TRACKING,
             calls=[abort(1, AbortReason.END_OF_PARTITION), abort(2, AbortReason.END_OF_PARTITION)])
    assert s.h.pending_checkpoint_ids == ()
