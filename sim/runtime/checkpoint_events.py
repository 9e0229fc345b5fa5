"""The in-band checkpoint events: barriers, cancel markers, and why a checkpoint is aborted.

Layer: `sim.runtime` (plain data; no SimPy, no clock). Sources inject a
`CheckpointBarrier` when the JobManager triggers a checkpoint; every task
forwards it once its input side has handled it (`sim.runtime.barriers`). A
task that gives a checkpoint up forwards a `CancelCheckpointMarker` instead.
Both travel in the channel FIFO like `EndOfPartition`, except that an
unaligned barrier is a priority event that overtakes queued data.

Flink counterpart: `CheckpointBarrier`, `CheckpointOptions` (with its
`AlignmentType`), `CancelCheckpointMarker`, `CheckpointFailureReason`.
Simplified: no checkpoint storage location in the options, and savepoint
formats are not modelled; a savepoint is only a flag.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

from sim.runtime.elements import ChannelEvent


class BarrierKind(Enum):
    """How a barrier is aligned at the receiving task (Flink's `AlignmentType`)."""

    ALIGNED = "aligned"
    """Blocks its channel at the sender once sent, until the receiver resumes it after alignment."""

    UNALIGNED = "unaligned"
    """A priority event: overtakes queued data, blocks nothing; overtaken data becomes channel state."""

    TIMEOUTABLE_ALIGNED = "timeoutable_aligned"
    """Starts aligned; turns unaligned once `alignment_timeout_us` after the trigger time has passed."""

    AT_LEAST_ONCE = "at_least_once"
    """Blocks nothing; the receiver only counts barriers per checkpoint."""


@dataclass(frozen=True)
class CheckpointOptions:
    """How one checkpoint's barriers behave.

    Attributes:
        kind: the alignment kind of the barrier carrying these options.
        alignment_timeout_us: for `TIMEOUTABLE_ALIGNED`, how long after the
            trigger time (not after the first barrier at a task) alignment may
            last before the checkpoint turns unaligned.
        is_savepoint: savepoints are always aligned (or at-least-once).
    """

    kind: BarrierKind
    alignment_timeout_us: int = 0
    is_savepoint: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.kind, BarrierKind):
            raise TypeError(f"checkpoint options need a BarrierKind, got {self.kind!r}")
        if type(self.alignment_timeout_us) is not int or self.alignment_timeout_us < 0:
            raise ValueError(f"alignment_timeout_us must be a non-negative int, got {self.alignment_timeout_us!r}")
        if self.is_savepoint and self.kind in (BarrierKind.UNALIGNED, BarrierKind.TIMEOUTABLE_ALIGNED):
            raise ValueError(f"a savepoint is always aligned, got kind {self.kind.name}")

    @property
    def is_unaligned(self) -> bool:
        """True for a priority barrier of an unaligned checkpoint."""
        return self.kind is BarrierKind.UNALIGNED


@dataclass(frozen=True, repr=False)
class CheckpointBarrier(ChannelEvent):
    """Checkpoint `checkpoint_id`, triggered at `timestamp_us` (JobManager time).

    Immutable and hashable; one object may be broadcast to every channel.

    Flink counterpart: `CheckpointBarrier` (id, timestamp, options).
    Simplified: the priority flag is derived from the kind, not a separate
    property of the event in the buffer.
    """

    checkpoint_id: int
    timestamp_us: int
    options: CheckpointOptions

    def __post_init__(self) -> None:
        if type(self.checkpoint_id) is not int or self.checkpoint_id < 1:
            raise ValueError(f"checkpoint ids start at 1, got {self.checkpoint_id!r}")

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"Barrier({self.checkpoint_id})"

    @property
    def kind(self) -> BarrierKind:
        return self.options.kind

    @property
    def is_priority(self) -> bool:
        """An unaligned barrier overtakes the data queued before it."""
        return self.options.kind is BarrierKind.UNALIGNED

    @property
    def blocks_upstream(self) -> bool:
        """Whether the sending subpartition blocks itself after sending this barrier."""
        return self.options.kind in (BarrierKind.ALIGNED, BarrierKind.TIMEOUTABLE_ALIGNED)

    @property
    def alignment_deadline_us(self) -> int | None:
        """When a timeoutable barrier's alignment times out (trigger time + timeout); else None."""
        if self.options.kind is not BarrierKind.TIMEOUTABLE_ALIGNED:
            return None
        return self.timestamp_us + self.options.alignment_timeout_us

    def as_unaligned(self) -> CheckpointBarrier:
        """This barrier promoted to a priority (unaligned) barrier of the same checkpoint."""
        if self.is_priority:
            return self
        return dataclasses.replace(self, options=dataclasses.replace(self.options, kind=BarrierKind.UNALIGNED))


@dataclass(frozen=True, repr=False)
class CancelCheckpointMarker(ChannelEvent):
    """An upstream task gave checkpoint `checkpoint_id` up; it replaces that barrier in the stream.

    Flink counterpart: `CancelCheckpointMarker`.
    Simplified: nothing left out.
    """

    checkpoint_id: int

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"Cancel({self.checkpoint_id})"


class AbortReason(Enum):
    """Why a checkpoint was aborted (declined by a task, or failed at the JobManager)."""

    SUBSUMED = "subsumed"
    """A newer checkpoint overtook it: a newer barrier at a task (CHECKPOINT_DECLINED_SUBSUMED) or a
    newer completed checkpoint at the JobManager (CHECKPOINT_SUBSUMED). Never counts as a failure."""

    CANCELLED_BY_MARKER = "cancelled_by_marker"
    """A `CancelCheckpointMarker` arrived from upstream (CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER)."""

    END_OF_PARTITION = "end_of_partition"
    """An input ended during alignment while checkpoints after finished tasks are off
    (CHECKPOINT_DECLINED_INPUT_END_OF_STREAM)."""

    EXPIRED = "expired"
    """Still pending at the checkpoint timeout (CHECKPOINT_EXPIRED)."""

    TASK_FAILED = "task_failed"
    """A participating task failed, or the job failed over (TASK_FAILURE)."""

    ASYNC_PHASE_FAILED = "async_phase_failed"
    """The asynchronous part of a task's snapshot failed (CHECKPOINT_ASYNC_EXCEPTION)."""

    STORAGE_FAILED = "storage_failed"
    """The JobManager could not write the checkpoint metadata (an I/O error)."""

    JOB_FINISHED = "job_finished"
    """The job ended (finished, failed or was stopped) while the checkpoint was still pending."""
