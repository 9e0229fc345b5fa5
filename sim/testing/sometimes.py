"""Sometimes-properties: did a run exercise an interesting situation, and where in its trace?

Layer: `sim.testing`, beside its `checkers`. Pure functions of a `Trace`; each
returns an `Observation` holding the `Evidence` (the event, its time, the
checkpoints involved). A property test asserts them so that its green runs are
known to have covered the situation: `assert failure_during_checkpoint(trace)`.
They judge nothing: a run that never fails mid-checkpoint is not wrong.
"""

from __future__ import annotations

from sim.testing.results import Evidence, Observation, Situation
from sim.trace.events import (ChannelStateReplayed, CheckpointAborted, CheckpointCompleted, CheckpointTriggered,
                              FaultInjected, JobFailing, JobRestored, TaskFailed, TaskManagerLost, TraceEvent)
from sim.trace.recorder import Trace

FAILURE_FAULTS = frozenset({"crash_taskmanager", "fail_task", "raise_at_record"})
"""`FaultInjected.fault` kinds that make tasks fail (the others slow, partition or drop messages)."""


def _failure(event: TraceEvent) -> str | None:
    """What failed, in words, if `event` is a failure; else None."""
    if isinstance(event, TaskFailed):
        return f"{event.task} failed in {event.operator} ({event.error})"
    if isinstance(event, FaultInjected) and event.fault in FAILURE_FAULTS:
        return f"fault {event.fault} hit {event.target}"
    if isinstance(event, TaskManagerLost):
        return f"{event.taskmanager} was declared lost"
    return None


def failure_during_checkpoint(trace: Trace) -> Observation:
    """Every failure that happened while some checkpoint was triggered and not yet completed or aborted.

    A failure is a `TaskFailed`, a `FaultInjected` of a kind in
    `FAILURE_FAULTS`, or a `TaskManagerLost`. A checkpoint is in progress from
    its `CheckpointTriggered` to its `CheckpointCompleted` or
    `CheckpointAborted`, or until the job fails over (`JobFailing`), which
    abandons every pending checkpoint in Flink.

    Args:
        trace: the run's trace, recorded at `TraceLevel.CHECKPOINTS` or above.

    Returns:
        An `Observation` of `Situation.FAILURE_DURING_CHECKPOINT`: one piece of
        evidence per failure, naming the checkpoints in progress.
    """
    pending: dict[int, CheckpointTriggered] = {}
    evidence = []
    for event in trace:
        if isinstance(event, CheckpointTriggered):
            pending[event.checkpoint_id] = event
        elif isinstance(event, (CheckpointCompleted, CheckpointAborted)):
            pending.pop(event.checkpoint_id, None)
        elif isinstance(event, JobFailing):
            pending.clear()
        elif pending and (what := _failure(event)) is not None:
            ids = tuple(sorted(pending))
            since = ", ".join(f"checkpoint {c} (triggered at t={pending[c].t_us} us)" for c in ids)
            evidence.append(Evidence(event.t_us, event, ids, f"at t={event.t_us} us {what} while {since} "
                                                             f"was in progress"))
    return Observation(Situation.FAILURE_DURING_CHECKPOINT, tuple(evidence))


def recovery_replayed_in_flight(trace: Trace) -> Observation:
    """Every replay of unaligned channel state holding records, after a restore.

    Evidence is a `ChannelStateReplayed` with `records > 0` that follows a
    `JobRestored`; it names the checkpoint the latest restore started from.

    Args:
        trace: the run's trace, recorded at `TraceLevel.CHECKPOINTS` or above.

    Returns:
        An `Observation` of `Situation.RECOVERY_REPLAYED_IN_FLIGHT`, one piece of evidence per replay.
    """
    restored: JobRestored | None = None
    evidence = []
    for event in trace.of_type(JobRestored, ChannelStateReplayed):
        if isinstance(event, JobRestored):
            restored = event
        elif restored is not None and event.records > 0:
            ids = () if restored.checkpoint_id is None else (restored.checkpoint_id,)
            evidence.append(Evidence(event.t_us, event, ids, (
                f"at t={event.t_us} us {event.task} replayed {event.records} records ({event.buffers} buffers) "
                f"of channel {event.channel}, after attempt {restored.attempt} restored "
                f"{restored.kind} {restored.checkpoint_id} at t={restored.t_us} us")))
    return Observation(Situation.RECOVERY_REPLAYED_IN_FLIGHT, tuple(evidence))
