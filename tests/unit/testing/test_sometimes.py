"""sim.testing sometimes-properties on scripted traces: they return the evidence, or nothing."""

from __future__ import annotations

from sim.testing import Situation, failure_during_checkpoint, recovery_replayed_in_flight
from sim.trace import (ChannelStateReplayed, CheckpointAborted, CheckpointCompleted, CheckpointTriggered,
                       FaultInjected, JobFailing, JobRestored, TaskFailed, TaskManagerLost, Trace, TraceLevel)


def trace(*events) -> Trace:
    return Trace(TraceLevel.RECORDS, events)


def triggered(t, cid):
    return CheckpointTriggered(t, cid, False, True, 4)


def test_a_failure_while_a_checkpoint_is_pending_is_evidence():
    run = trace(
        # checkpoint 1 completes before anything fails
        triggered(100, 1), CheckpointCompleted(150, 1, 50, 1, 1, None),
        # checkpoint 2 is in flight when the injector crashes tm-1; the JobManager notices later
        triggered(200, 2), FaultInjected(220, "crash_taskmanager", "tm-1", "at 220 us"),
        TaskManagerLost(260, "tm-1", 40),
        # the failover abandons checkpoint 2: what fails after that is not during a checkpoint
        JobFailing(260, "tm-1 lost", 0, ["map[0]", "map[1]"]),
        TaskFailed(270, "map[1]", "map", "canceled", None, ""),
    )
    observed = failure_during_checkpoint(run)
    assert observed.happened and bool(observed) and observed.situation is Situation.FAILURE_DURING_CHECKPOINT
    assert [(e.t_us, type(e.event).__name__, e.checkpoint_ids) for e in observed.evidence] == [
        (220, "FaultInjected", (2,)), (260, "TaskManagerLost", (2,))]
    assert observed.evidence[0].description == ("at t=220 us fault crash_taskmanager hit tm-1 while checkpoint 2 "
                                                "(triggered at t=200 us) was in progress")
    assert observed.explain().splitlines()[0] == ("observed 2 time(s): a failure while a checkpoint was in "
                                                  "progress")


def test_a_task_failure_names_every_pending_checkpoint():
    run = trace(triggered(100, 3), triggered(200, 4), TaskFailed(250, "map[0]", "map", "boom", "7", ""))
    (evidence,) = failure_during_checkpoint(run).evidence
    assert evidence.checkpoint_ids == (3, 4)
    assert evidence.description.startswith("at t=250 us map[0] failed in map (boom) while checkpoint 3")


def test_failures_between_checkpoints_and_harmless_faults_are_not_evidence():
    run = trace(
        triggered(100, 1), CheckpointAborted(130, 1, "expired"),
        TaskFailed(140, "map[0]", "map", "boom", None, ""),
        # a slow link during a checkpoint slows it, it fails nothing
        triggered(200, 2), FaultInjected(210, "slow_link", "tm-0<->tm-1", "10x"),
    )
    observed = failure_during_checkpoint(run)
    assert not observed and observed.evidence == ()
    assert observed.explain() == "never observed: a failure while a checkpoint was in progress"


def test_replayed_channel_state_after_a_restore_is_evidence():
    run = trace(
        # no restore yet: nothing replayed counts
        ChannelStateReplayed(50, "count[0]", "map[0]->count[0]", 1, 10),
        # attempt 1 restores unaligned checkpoint 3; one channel had nothing in flight
        JobRestored(1_000, 1, 3, "checkpoint", "chk-3"),
        ChannelStateReplayed(1_100, "count[0]", "map[1]->count[0]", 0, 0),
        ChannelStateReplayed(1_200, "count[0]", "map[0]->count[0]", 2, 300),
    )
    observed = recovery_replayed_in_flight(run)
    assert observed.situation is Situation.RECOVERY_REPLAYED_IN_FLIGHT
    (evidence,) = observed.evidence
    assert (evidence.t_us, evidence.checkpoint_ids) == (1_200, (3,))
    assert evidence.description == ("at t=1200 us count[0] replayed 300 records (2 buffers) of channel "
                                    "map[0]->count[0], after attempt 1 restored checkpoint 3 at t=1000 us")


def test_a_restore_from_nothing_replays_nothing():
    run = trace(JobRestored(1_000, 1, None, "none", None),
                ChannelStateReplayed(1_100, "count[0]", "map[0]->count[0]", 0, 0))
    assert not recovery_replayed_in_flight(run)
