"""sim.testing trace checkers on scripted traces: checkpoint ids across restarts, blocked channels.

Each trace is a scripted sequence of events with phase comments; the checker
reads only the events, so every situation can be written down directly.
"""

from __future__ import annotations

from sim.testing import Check, Verdict, ViolationKind as K, check_checkpoint_ids_monotonic
from sim.testing import check_no_record_on_blocked_channel
from sim.trace import (BufferConsumed, ChannelBlocked, ChannelResumed, CheckpointAborted, CheckpointCompleted,
                       CheckpointTriggered, JobFailing, JobRestored, TaskCanceled, TaskDeployed, Trace, TraceLevel)

A, B = "src[0]->count[0]", "src[1]->count[0]"
COUNT = "count[0]"


def trace(*events, level=TraceLevel.RECORDS) -> Trace:
    return Trace(level, events)


def triggered(t, cid, savepoint=False):
    return CheckpointTriggered(t, cid, savepoint, False, 2)


def completed(t, cid):
    return CheckpointCompleted(t, cid, 10, 100, 100, None)


def consumed(t, channel, seq, task=COUNT):
    return BufferConsumed(t, task, channel, seq, 512, 100)


# --- checkpoint ids -------------------------------------------------------------


def test_ids_keep_increasing_across_a_restore():
    run = trace(
        # attempt 0: checkpoint 1 completes, 2 is in progress when a task fails
        triggered(100, 1), completed(150, 1), triggered(200, 2),
        JobFailing(230, "count[0] failed", 0, [COUNT]), CheckpointAborted(230, 2, "job_failover"),
        # attempt 1 restores 1; the counter goes on from 3, not from 2
        JobRestored(1_300, 1, 1, "checkpoint", None), triggered(1_400, 3), completed(1_450, 3),
    )
    result = check_checkpoint_ids_monotonic(run)
    assert result.ok and result.check is Check.CHECKPOINT_IDS_MONOTONIC
    assert result.summary == "3 checkpoints triggered, 2 completed"


def test_an_id_triggered_again_after_a_restore_is_a_violation():
    run = trace(
        triggered(100, 1), completed(150, 1), triggered(200, 2),
        JobFailing(230, "count[0] failed", 0, [COUNT]),
        # attempt 1 restarts the counter after the restored checkpoint: 2 again
        JobRestored(1_300, 1, 1, "checkpoint", None), triggered(1_400, 2), completed(1_450, 2),
    )
    result = check_checkpoint_ids_monotonic(run)
    assert [v.kind for v in result.violations] == [K.TRIGGERED_ID_NOT_INCREASING]
    (violation,) = result.violations
    assert violation.message == ("checkpoint 2 triggered at t=1400 us after checkpoint 2 (triggered at t=200 us): "
                                 "expected an id above 2, found 2")
    assert violation.times_us == (200, 1_400)
    assert violation.entities == ("checkpoint 2", "checkpoint 2")


def test_completions_out_of_order_are_a_violation_but_a_late_savepoint_is_not():
    run = trace(
        # two checkpoints in flight; 3 completes first
        triggered(100, 2), triggered(200, 3), completed(250, 3),
        # a savepoint (exempt from subsumption) may complete after a later checkpoint
        triggered(300, 4, savepoint=True), triggered(400, 5), completed(450, 5), completed(500, 4),
        # checkpoint 2 should have been subsumed by 3, not completed
        completed(600, 2),
    )
    result = check_checkpoint_ids_monotonic(run)
    assert [v.kind for v in result.violations] == [K.COMPLETED_ID_NOT_INCREASING]
    assert result.violations[0].message == ("checkpoint 2 completed at t=600 us after checkpoint 5 (completed at "
                                            "t=450 us): expected an id above 5, found 2")


def test_a_completion_never_triggered_is_a_violation():
    result = check_checkpoint_ids_monotonic(trace(triggered(100, 1), completed(150, 1), completed(300, 7)))
    assert [v.kind for v in result.violations] == [K.COMPLETED_NOT_TRIGGERED]
    assert result.violations[0].message == ("checkpoint 7 completed at t=300 us: expected a CheckpointTriggered "
                                            "for it before, found none")


def test_checkpoint_ids_are_unchecked_in_a_job_level_trace():
    result = check_checkpoint_ids_monotonic(trace(level=TraceLevel.JOB))
    assert result.verdict is Verdict.UNCHECKED and not result
    assert result.explain() == ("checkpoint ids increase: unchecked (the trace was recorded at JOB; this check "
                                "needs CHECKPOINTS or above)")


# --- blocked channels -----------------------------------------------------------


def test_buffers_before_the_block_and_after_the_resume_are_fine():
    run = trace(
        consumed(10, A, 0), consumed(20, B, 0),
        # barrier 1 on A: A blocks; B still delivers until its barrier comes
        ChannelBlocked(30, COUNT, A, 1), consumed(40, B, 1), ChannelBlocked(50, COUNT, B, 1),
        # aligned: both resume, and A's held-back data flows again
        ChannelResumed(50, COUNT, A), ChannelResumed(50, COUNT, B), consumed(60, A, 1),
        # another task's channel of the same name is another channel
        ChannelBlocked(70, "count[1]", A, 2), consumed(80, A, 2),
    )
    result = check_no_record_on_blocked_channel(run)
    assert result.ok and result.check is Check.NO_RECORD_ON_BLOCKED_CHANNEL
    assert result.summary == "3 blocked spans, 5 buffers consumed"


def test_a_buffer_consumed_inside_a_blocked_span_is_a_violation():
    run = trace(
        ChannelBlocked(30, COUNT, A, 4),
        # A delivers a buffer behind its barrier before alignment ended
        consumed(45, A, 7), ChannelResumed(50, COUNT, A), consumed(60, A, 8),
    )
    result = check_no_record_on_blocked_channel(run)
    assert [v.kind for v in result.violations] == [K.RECORD_ON_BLOCKED_CHANNEL]
    (violation,) = result.violations
    assert violation.message == (f"count[0] consumed buffer 7 (512 records) of channel {A} at t=45 us while the "
                                 f"channel was blocked for checkpoint 4 (since t=30 us): expected nothing from it "
                                 f"until it was resumed, found a buffer")
    assert violation.times_us == (30, 45)
    assert violation.entities == (COUNT, A, "checkpoint 4")


def test_a_canceled_or_redeployed_task_starts_with_open_channels():
    run = trace(
        # attempt 0 blocks both channels, then the job fails over before alignment ends
        ChannelBlocked(30, COUNT, A, 1), ChannelBlocked(31, "count[1]", A, 1),
        TaskCanceled(40, COUNT, 0), TaskCanceled(40, "count[1]", 0),
        # attempt 1 of count[0] reads A at once; count[1] is deployed again first
        consumed(900, A, 0), TaskDeployed(950, "count[1]", "tm-0", 1), consumed(990, A, 0, task="count[1]"),
    )
    assert check_no_record_on_blocked_channel(run).ok
    still_blocked = trace(ChannelBlocked(30, COUNT, A, 1), TaskCanceled(40, "count[1]", 0), consumed(900, A, 0))
    assert not check_no_record_on_blocked_channel(still_blocked)


def test_blocked_channels_are_unchecked_without_buffer_events():
    result = check_no_record_on_blocked_channel(trace(level=TraceLevel.CHECKPOINTS))
    assert result.verdict is Verdict.UNCHECKED
    assert "needs BUFFERS" in result.summary
