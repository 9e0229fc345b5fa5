"""Checkpoint statistics with the fields of Flink's web UI, computed from the trace alone.

Layer: `sim.trace` (reads events, imports nothing above). One `CheckpointStats`
per triggered checkpoint, with one `SubtaskCheckpointStats` per acknowledging
subtask; `records()` flattens them into rows (a list of dicts, ready for
`pandas.DataFrame(rows)`).

Flink counterpart: the checkpoint statistics of the web UI and REST API
(`CheckpointStatsTracker`, `AbstractCheckpointStats`, `SubtaskStateStats`).
Simplified: no history limit; sizes are this simulator's serialised bytes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable

from sim.trace.events import (
    CheckpointAborted, CheckpointCompleted, CheckpointTriggered, SubtaskAcknowledged, TraceEvent,
)


@dataclass
class SubtaskCheckpointStats:
    """One subtask's part of one checkpoint (times in µs, sizes in bytes)."""

    checkpoint_id: int
    task: str
    ack_us: int
    sync_us: int
    async_us: int
    alignment_us: int
    start_delay_us: int
    checkpointed_bytes: int
    full_bytes: int
    processed_in_flight_bytes: int
    persisted_in_flight_bytes: int
    unaligned: bool


@dataclass
class CheckpointStats:
    """One checkpoint: status, timing and sizes summed over its subtasks.

    `end_to_end_us` is the latest acknowledgement minus the trigger time, so the
    slowest subtask decides it. `unaligned` is true when any subtask persisted
    its part unaligned (also when an aligned checkpoint timed out into unaligned).
    """

    checkpoint_id: int
    status: str
    savepoint: bool
    trigger_us: int
    total_subtasks: int
    latest_ack_us: int | None = None
    failure_reason: str | None = None
    subtasks: list[SubtaskCheckpointStats] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        return len(self.subtasks)

    @property
    def end_to_end_us(self) -> int | None:
        return None if self.latest_ack_us is None else self.latest_ack_us - self.trigger_us

    def _sum(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.subtasks)

    def _max(self, name: str) -> int:
        return max((getattr(s, name) for s in self.subtasks), default=0)

    @property
    def checkpointed_bytes(self) -> int:
        return self._sum("checkpointed_bytes")

    @property
    def full_bytes(self) -> int:
        return self._sum("full_bytes")

    @property
    def processed_in_flight_bytes(self) -> int:
        return self._sum("processed_in_flight_bytes")

    @property
    def persisted_in_flight_bytes(self) -> int:
        return self._sum("persisted_in_flight_bytes")

    @property
    def max_alignment_us(self) -> int:
        return self._max("alignment_us")

    @property
    def max_start_delay_us(self) -> int:
        return self._max("start_delay_us")

    @property
    def max_sync_us(self) -> int:
        return self._max("sync_us")

    @property
    def max_async_us(self) -> int:
        return self._max("async_us")

    @property
    def unaligned(self) -> bool:
        return any(s.unaligned for s in self.subtasks)

    def row(self) -> dict:
        """The checkpoint as one flat dict (the web UI's checkpoint history row)."""
        return {
            "checkpoint_id": self.checkpoint_id, "status": self.status, "savepoint": self.savepoint,
            "trigger_us": self.trigger_us, "latest_ack_us": self.latest_ack_us,
            "end_to_end_us": self.end_to_end_us, "acknowledged": self.acknowledged,
            "total_subtasks": self.total_subtasks, "checkpointed_bytes": self.checkpointed_bytes,
            "full_bytes": self.full_bytes, "processed_in_flight_bytes": self.processed_in_flight_bytes,
            "persisted_in_flight_bytes": self.persisted_in_flight_bytes, "unaligned": self.unaligned,
            "max_alignment_us": self.max_alignment_us, "max_start_delay_us": self.max_start_delay_us,
            "max_sync_us": self.max_sync_us, "max_async_us": self.max_async_us,
            "failure_reason": self.failure_reason,
        }


def checkpoint_stats(trace: Iterable[TraceEvent]) -> list[CheckpointStats]:
    """Every triggered checkpoint, in id order, from a trace of level CHECKPOINTS or above."""
    stats: dict[int, CheckpointStats] = {}
    for e in trace:
        if isinstance(e, CheckpointTriggered):
            stats[e.checkpoint_id] = CheckpointStats(e.checkpoint_id, "IN_PROGRESS", e.savepoint, e.t_us, e.tasks)
        elif isinstance(e, SubtaskAcknowledged) and e.checkpoint_id in stats:
            entry = stats[e.checkpoint_id]
            fields = {k: v for k, v in asdict(e).items() if k != "t_us"}
            entry.subtasks.append(SubtaskCheckpointStats(ack_us=e.t_us, **fields))
            entry.latest_ack_us = e.t_us
        elif isinstance(e, CheckpointCompleted) and e.checkpoint_id in stats:
            stats[e.checkpoint_id].status = "COMPLETED"
        elif isinstance(e, CheckpointAborted) and e.checkpoint_id in stats:
            stats[e.checkpoint_id].status = "FAILED"
            stats[e.checkpoint_id].failure_reason = e.reason
    return [stats[k] for k in sorted(stats)]


def checkpoint_counts(stats: list[CheckpointStats]) -> dict[str, int]:
    """The web UI's counters: triggered, in progress, completed, failed."""
    return {
        "triggered": len(stats),
        "in_progress": sum(s.status == "IN_PROGRESS" for s in stats),
        "completed": sum(s.status == "COMPLETED" for s in stats),
        "failed": sum(s.status == "FAILED" for s in stats),
    }


def subtask_records(stats: list[CheckpointStats]) -> list[dict]:
    """One flat dict per (checkpoint, subtask): the web UI's subtask table, DataFrame-ready."""
    return [asdict(s) for c in stats for s in c.subtasks]
