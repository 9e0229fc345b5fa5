"""Checkpoint progress read from the trace: barriers between subtasks, blocked channels, snapshots.

Layer: `sim.viz`. Pure functions over CHECKPOINTS-level trace events
(`CheckpointTriggered`, `BarrierSent`, `ChannelBlocked`/`ChannelResumed`,
`SnapshotTaken`, `AlignmentTimedOut`, `CheckpointCompleted`/`Aborted`) and the
execution graph's channel ids; no matplotlib, so they are unit-tested directly.
The space-time diagram and the timelines draw what they return.

Flink counterpart: what the web UI's checkpoint details and the task's
`CheckpointBarrierHandler` show as alignment and the synchronous snapshot part.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from sim.trace import (
    AlignmentTimedOut, BarrierSent, ChannelBlocked, ChannelResumed, CheckpointAborted, CheckpointCompleted,
    CheckpointTriggered, SnapshotTaken, TaskFailed, TaskFinished, TraceEvent,
)

PRIORITY_KIND = "UNALIGNED"
BlockedSpan = tuple[int, int, str, int]


@dataclass(frozen=True)
class Barrier:
    """One checkpoint barrier on one channel, from its producer to its consumer."""

    sent_us: int
    received_us: int
    producer: str
    consumer: str
    channel: str
    checkpoint_id: int
    kind: str

    @property
    def priority(self) -> bool:
        """True for an unaligned (priority) barrier, which overtakes the data queued before it."""
        return self.kind == PRIORITY_KIND


class SnapshotMark(NamedTuple):
    """The synchronous part of one subtask's snapshot: `[start_us, end_us]`."""

    start_us: int
    end_us: int
    task: str
    checkpoint_id: int
    unaligned: bool


def barrier_messages(trace: Iterable[TraceEvent], execution_graph) -> list[Barrier]:
    """Every `BarrierSent` of the trace as a `Barrier`, sorted by send time (stable).

    Producer and consumer are looked up in the execution graph by channel id,
    never split from it (chained vertex ids contain "->" too); a channel the
    graph does not know is skipped.
    """
    ends = {c.id: (c.producer, c.consumer) for c in execution_graph.channels}
    out = [Barrier(e.t_us, e.arrival_us, *ends[e.channel], e.channel, e.checkpoint_id, e.kind)
           for e in trace if isinstance(e, BarrierSent) and e.channel in ends]
    return sorted(out, key=lambda b: b.sent_us)


def blocked_spans(trace: Iterable[TraceEvent]) -> dict[str, list[BlockedSpan]]:
    """When each input channel was blocked for barrier alignment, per consumer subtask.

    A span runs from `ChannelBlocked` to the next `ChannelResumed` of the same
    (task, channel), or to the task's finish or failure, or to the end of the
    trace. Empty spans (the last barrier blocks and resumes at once) are dropped.

    Args:
        trace: the run's trace, CHECKPOINTS level or above.

    Returns:
        Subtask id -> spans `(start_us, end_us, channel, checkpoint_id)` sorted
        by (start, channel); only subtasks with a span, keys sorted.
    """
    events = list(trace)
    spans: dict[str, list[BlockedSpan]] = {}
    open_: dict[tuple[str, str], tuple[int, int]] = {}

    def close(task: str, channel: str, end_us: int) -> None:
        start, checkpoint_id = open_.pop((task, channel))
        if end_us > start:
            spans.setdefault(task, []).append((start, end_us, channel, checkpoint_id))

    for e in events:
        if isinstance(e, ChannelBlocked):
            open_.setdefault((e.task, e.channel), (e.t_us, e.checkpoint_id))
        elif isinstance(e, ChannelResumed) and (e.task, e.channel) in open_:
            close(e.task, e.channel, e.t_us)
        elif isinstance(e, (TaskFinished, TaskFailed)):
            for task, channel in sorted(k for k in open_ if k[0] == e.task):
                close(task, channel, e.t_us)
    end = max((e.t_us for e in events), default=0)
    for task, channel in sorted(open_):
        close(task, channel, end)
    return {task: sorted(spans[task], key=lambda s: (s[0], s[2])) for task in sorted(spans)}


def snapshot_marks(trace: Iterable[TraceEvent]) -> list[SnapshotMark]:
    """The synchronous part of every snapshot (`SnapshotTaken` is stamped at its end), in trace order."""
    return [SnapshotMark(e.t_us - e.sync_us, e.t_us, e.task, e.checkpoint_id, e.unaligned)
            for e in trace if isinstance(e, SnapshotTaken)]


def alignment_timeouts(trace: Iterable[TraceEvent]) -> list[tuple[int, str, int]]:
    """`(t_us, task, checkpoint_id)` of every `AlignmentTimedOut`, in trace order."""
    return [(e.t_us, e.task, e.checkpoint_id) for e in trace if isinstance(e, AlignmentTimedOut)]


class Outcome(NamedTuple):
    """How one checkpoint went: `end_us` is its completion or abort time (None while in progress)."""

    trigger_us: int
    end_us: int | None
    status: str
    reason: str | None = None


def checkpoint_outcomes(trace: Iterable[TraceEvent]) -> dict[int, Outcome]:
    """Checkpoint id -> `Outcome`, ids sorted.

    The status is "COMPLETED", "FAILED" (`CheckpointAborted`, with its reason)
    or "IN_PROGRESS"; the end time is one `CheckpointStats` does not keep.
    """
    out: dict[int, Outcome] = {}
    for e in trace:
        if isinstance(e, CheckpointTriggered):
            out[e.checkpoint_id] = Outcome(e.t_us, None, "IN_PROGRESS")
        elif isinstance(e, CheckpointCompleted) and e.checkpoint_id in out:
            out[e.checkpoint_id] = Outcome(out[e.checkpoint_id].trigger_us, e.t_us, "COMPLETED")
        elif isinstance(e, CheckpointAborted) and e.checkpoint_id in out:
            out[e.checkpoint_id] = Outcome(out[e.checkpoint_id].trigger_us, e.t_us, "FAILED", e.reason)
    return {cid: out[cid] for cid in sorted(out)}


def checkpoint_window_us(trace: Iterable[TraceEvent], checkpoint_id: int) -> tuple[int, int]:
    """From the trigger of `checkpoint_id` to the last thing it did (end, barrier arrival, snapshot, resume).

    A checkpoint still in progress when the trace ends runs to the end of the trace.

    Raises:
        ValueError: the checkpoint was never triggered; names the ones that were.
    """
    events = list(trace)
    outcomes = checkpoint_outcomes(events)
    if checkpoint_id not in outcomes:
        raise ValueError(f"no checkpoint {checkpoint_id} in this trace; triggered: {sorted(outcomes)}")
    start_us, end_us = outcomes[checkpoint_id][:2]
    if end_us is None:
        end_us = max(e.t_us for e in events)
    marks = [e.arrival_us for e in events if isinstance(e, BarrierSent) and e.checkpoint_id == checkpoint_id]
    marks += [s[1] for spans in blocked_spans(events).values() for s in spans if s[3] == checkpoint_id]
    return start_us, max([end_us, *marks])


def stack_slots(spans: list[tuple[int, int]]) -> list[int]:
    """A row (0, 1, ...) per span so that overlapping spans never share one; lowest free row first.

    Spans are taken in the order given (callers pass them sorted by start).
    """
    slot_ends: list[int] = []
    out = []
    for start, end in spans:
        free = next((i for i, busy_until in enumerate(slot_ends) if busy_until <= start), len(slot_ends))
        if free == len(slot_ends):
            slot_ends.append(end)
        else:
            slot_ends[free] = end
        out.append(free)
    return out


def merged_intervals(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted intervals with overlapping or touching ones joined (the union)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
