"""Space-time (Lamport) diagrams: buffers, channel events and checkpoint barriers as arrows between subtask lanes.

Layer: `sim.viz`. Reads only trace events (`BufferSent`, `ChannelEventSent`,
`BarrierSent` and the other checkpoint events, busy and backpressure spans,
failures) and the execution and job graphs (lane order, a channel's two ends
and its partitioner); never a live task or channel.

A buffer is an arrow from its producer's lane at the time it left to its
consumer's lane at the time it arrived (`BufferSent.arrival_us`). A channel
event (end of partition) is a dashed arrow drawn the same way
(`ChannelEventSent.arrival_us`), and so is a checkpoint barrier
(`BarrierSent.arrival_us`), bold in its checkpoint's colour. Blocked channels,
snapshots and alignment timeouts are marked on the lanes (`sim.viz.marks`);
failures, faults, cancellations, restarts, restores and watermark advances
too (`sim.viz.lifecycle`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch

from sim.trace import BufferSent, ChannelEventSent, TraceEvent
from sim.viz.barriers import (
    Barrier, BlockedSpan, SnapshotMark, alignment_timeouts, barrier_messages, blocked_spans, checkpoint_outcomes,
    checkpoint_window_us, snapshot_marks,
)
from sim.viz.lifecycle import LifecycleMarks, draw_lifecycle, lifecycle_marks, needs_label_strip
from sim.viz.marks import (
    barrier_handles, draw_barriers, draw_blocked_spans, draw_checkpoint_bounds, draw_snapshots, draw_timeouts,
    mark_handles,
)
from sim.viz.style import EVENT_COLOR, lane_order, lanes_height_in, ms, new_figure, partitioner_color, save_png
from sim.viz.timeline import draw_state_bars, lane_legend_handles, setup_lanes, task_spans, trace_end_us

if TYPE_CHECKING:
    from sim.scenario.result import RunResult

_BAR_ALPHA = 0.22


@dataclass(frozen=True)
class Message:
    """One arrow: a buffer (`event` is None) or a channel event, between two subtasks."""

    sent_us: int
    received_us: int
    producer: str
    consumer: str
    channel: str
    partitioner: str
    event: str | None = None


def _channel_ends(execution_graph) -> dict[str, tuple[str, str, str]]:
    """Channel id -> (producer, consumer, partitioner kind value)."""
    edges = execution_graph.job_graph.edges
    return {c.id: (c.producer, c.consumer, edges[c.edge_index].stream_edge.partitioner.kind.value)
            for c in execution_graph.channels}


def channel_messages(trace: Iterable[TraceEvent], execution_graph) -> list[Message]:
    """Every buffer and channel event of the trace as a `Message`, sorted by send time.

    Channel ids are looked up in the execution graph, never split: chained
    vertex ids contain "->" too. Buffers and events both carry their arrival time.

    Args:
        trace: the run's trace.
        execution_graph: the graph the run executed.

    Returns:
        Messages ordered by (sent_us, trace order).
    """
    ends = _channel_ends(execution_graph)
    out: list[Message] = []
    for e in trace:
        if isinstance(e, BufferSent) and e.channel in ends:
            producer, consumer, kind = ends[e.channel]
            out.append(Message(e.t_us, e.arrival_us, producer, consumer, e.channel, kind))
        elif isinstance(e, ChannelEventSent) and e.channel in ends:
            producer, consumer, kind = ends[e.channel]
            out.append(Message(e.t_us, e.arrival_us, producer, consumer, e.channel, kind, e.event))
    return sorted(out, key=lambda m: m.sent_us)


def sample_buffers(messages: list[Message], max_arrows: int) -> tuple[list[Message], int]:
    """Keep every k-th buffer so at most `max_arrows` remain; events are always kept.

    Returns:
        The kept messages (in their order) and k (1 when nothing was dropped).
    """
    buffers = [m for m in messages if m.event is None]
    step = max(1, math.ceil(len(buffers) / max_arrows))
    index, out = 0, []
    for m in messages:
        if m.event is not None:
            out.append(m)
            continue
        if index % step == 0:
            out.append(m)
        index += 1
    return out, step


def _window_us(start_ms: float | None, end_ms: float | None, last_us: int, first_us: int = 0) -> tuple[int, int]:
    """The window in µs; an open start is `first_us`, an open end `last_us`."""
    start_us = first_us if start_ms is None else round(start_ms * 1000)
    end_us = last_us if end_ms is None else round(end_ms * 1000)
    if end_us < start_us:
        raise ValueError(f"the time window ends ({ms(end_us)} ms) before it starts ({ms(start_us)} ms)")
    return start_us, end_us


def _arrow(message: Message, rows: dict[str, int]) -> FancyArrowPatch:
    start = (ms(message.sent_us), rows[message.producer])
    end = (ms(message.received_us), rows[message.consumer])
    if message.event is None:
        return FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=7, linewidth=0.7, alpha=0.55,
                               color=partitioner_color(message.partitioner), shrinkA=0, shrinkB=0, zorder=3)
    return FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, linewidth=1.0, linestyle="--",
                           color=EVENT_COLOR, alpha=0.75, shrinkA=0, shrinkB=0, zorder=4)


def _legend_handles(shown: list[Message], marks: _Marks, lifecycle: list, steps: bool) -> list:
    handles = lane_legend_handles(False, alive=False, alpha=_BAR_ALPHA) if steps else []
    for kind in sorted({m.partitioner for m in shown if m.event is None}):
        handles.append(Line2D([], [], color=partitioner_color(kind), linewidth=1.5, label=f"buffer ({kind.upper()})"))
    for name in sorted({m.event for m in shown if m.event is not None}):
        handles.append(Line2D([], [], color=EVENT_COLOR, linewidth=1.0, linestyle="--", marker=">",
                              markersize=5, label=name))
    handles += barrier_handles(marks.barriers)
    return handles + mark_handles(bool(marks.blocked), bool(marks.snapshots), bool(marks.timeouts)) + lifecycle


def _title(result: RunResult, window: tuple[int, int], total: int, step: int, marks: _Marks) -> str:
    focus = "" if marks.checkpoint_id is None else f"checkpoint {marks.checkpoint_id}, "
    title = (f"Space-time diagram: {result.job_name} (seed {result.seed}), {focus}"
             f"{ms(window[0]):.2f}-{ms(window[1]):.2f} ms, {total} buffers")
    if step > 1:
        title += f" (showing 1 in {step})"
    if marks.barriers:
        title += f", {len(marks.barriers)} barriers"
    if not getattr(result.trace, "buffers", True):
        title += "\n(trace level below BUFFERS: no buffers or steps recorded)"
    return title


def _in_window(messages: list[Message], rows: dict[str, int], start_us: int, end_us: int) -> list[Message]:
    return [m for m in messages
            if start_us <= m.sent_us <= end_us and m.producer in rows and m.consumer in rows]


@dataclass
class _Marks:
    """The checkpoint marks inside the window (all of them, or one checkpoint's)."""

    checkpoint_id: int | None
    barriers: list[Barrier]
    blocked: dict[str, list[BlockedSpan]]
    snapshots: list[SnapshotMark]
    timeouts: list[tuple[int, str, int]]


def _marks(result: RunResult, rows: dict[str, int], window: tuple[int, int], checkpoint_id: int | None) -> _Marks:
    """Barriers sent, blocked spans overlapping, snapshots and timeouts inside the window, on shown lanes."""
    trace, (start_us, end_us) = result.trace, window

    def shown(cid: int, *tasks: str) -> bool:
        return checkpoint_id in (None, cid) and all(task in rows for task in tasks)

    barriers = [b for b in barrier_messages(trace, result.execution_graph)
                if shown(b.checkpoint_id, b.producer, b.consumer) and start_us <= b.sent_us <= end_us]
    blocked: dict[str, list[BlockedSpan]] = {}
    for task, spans in blocked_spans(trace).items():
        kept = [s for s in spans if shown(s[3], task) and s[1] >= start_us and s[0] <= end_us]
        if kept:
            blocked[task] = kept
    snapshots = [m for m in snapshot_marks(trace)
                 if shown(m.checkpoint_id, m.task) and m.end_us >= start_us and m.start_us <= end_us]
    timeouts = [t for t in alignment_timeouts(trace) if shown(t[2], t[1]) and start_us <= t[0] <= end_us]
    return _Marks(checkpoint_id, barriers, blocked, snapshots, timeouts)


def _default_window(result: RunResult, start_ms: float | None, end_ms: float | None,
                    checkpoint_id: int | None) -> tuple[int, int]:
    """The window asked for; its open ends are the run's ends, or the checkpoint's widened by a margin."""
    last_us = max(result.end_time_us, trace_end_us(result.trace))
    if checkpoint_id is None:
        return _window_us(start_ms, end_ms, last_us)
    first, last = checkpoint_window_us(result.trace, checkpoint_id)
    margin = max((last - first) // 12, 200)
    return _window_us(start_ms, end_ms, min(last + margin, last_us), max(first - margin, 0))


def draw_spacetime(result: RunResult, path: str | os.PathLike | None = None, start_ms: float | None = None,
                   end_ms: float | None = None, subtasks: Iterable[str] | None = None,
                   max_arrows: int = 400, checkpoint_id: int | None = None) -> Figure:
    """Draw a space-time diagram: subtask lanes over virtual time, an arrow per buffer, event and barrier.

    Lanes follow the execution graph from top to bottom and carry light bars
    for busy and backpressured steps. Buffer arrows are coloured by the
    partitioner of their edge; channel events (e.g. EndOfPartition) are dashed
    black arrows. A message is shown if it was sent inside the window and both
    of its subtasks are shown. Checkpoint barriers are bold arrows in their
    checkpoint's colour (dotted when unaligned, i.e. priority), never sampled
    away; a blocked input channel is a hatched strip under its consumer's lane;
    a snapshot's synchronous part is a black bar ending in a diamond; an
    alignment timeout is a gold star. Failures, injected faults, lost
    TaskManagers, cancellations, restores, replayed channel state and watermark
    advances are marked on their lanes, and failover, the restart delay and the
    restore of the next attempt across all lanes (`sim.viz.lifecycle`).

    Args:
        result: the run; only its trace and graphs are read.
        path: where to save the PNG, if given.
        start_ms: start of the time window (default: 0, or the checkpoint's trigger minus a margin).
        end_ms: end of the time window (default: the end of the trace, or the checkpoint's end plus a margin).
        subtasks: subtask ids to show (default: all).
        max_arrows: at most this many buffer arrows; above it every k-th buffer
            is drawn and the title says so.
        checkpoint_id: draw only this checkpoint's barriers, blocked channels
            and snapshots, and by default only its time.

    Returns:
        The figure (not registered with pyplot).

    Raises:
        ValueError: an unknown subtask or checkpoint, a window that ends before
            it starts, or `max_arrows` below 1.
    """
    if max_arrows < 1:
        raise ValueError(f"max_arrows must be at least 1, got {max_arrows}")
    lanes = lane_order(result.execution_graph, subtasks)
    rows = {task: y for y, task in enumerate(lanes)}
    window = _default_window(result, start_ms, end_ms, checkpoint_id)
    messages = _in_window(channel_messages(result.trace, result.execution_graph), rows, *window)
    shown, step = sample_buffers(messages, max_arrows)
    marks = _marks(result, rows, window, checkpoint_id)
    fig = new_figure(12.0, lanes_height_in(len(lanes)) + 0.3)
    ax = fig.add_subplot()
    steps = _draw_lanes(ax, lanes, task_spans(result.trace), *window)
    recovery = lifecycle_marks(result.trace, lane_order(result.execution_graph)).inside(*window, lanes)
    lifecycle = _draw_content(ax, lanes, shown, marks, recovery)
    total = sum(1 for m in messages if m.event is None)
    _finish(ax, lanes, window, _legend_handles(shown, marks, lifecycle, steps))
    # Free strips: under the last lane for job-wide lines' names, above the first for the checkpoint's.
    ax.set_ylim(len(lanes) - (0.0 if needs_label_strip(recovery) else 0.5), -0.5 if checkpoint_id is None else -0.95)
    if checkpoint_id is not None:
        draw_checkpoint_bounds(ax, checkpoint_id, checkpoint_outcomes(result.trace)[checkpoint_id], -0.72)
    fig.suptitle(_title(result, window, total, step, marks), fontsize=11)
    save_png(fig, path)
    return fig


def _draw_content(ax, lanes: list[str], shown: list[Message], marks: _Marks, lifecycle: LifecycleMarks) -> list:
    """Arrows, checkpoint marks, failures, recovery and watermarks; returns the legend entries of the last."""
    rows = {task: y for y, task in enumerate(lanes)}
    for message in shown:
        ax.add_patch(_arrow(message, rows))
    draw_blocked_spans(ax, rows, marks.blocked)
    draw_barriers(ax, marks.barriers, rows)
    draw_snapshots(ax, rows, marks.snapshots)
    draw_timeouts(ax, rows, marks.timeouts)
    return draw_lifecycle(ax, rows, lifecycle, len(lanes) - 0.25)


def _finish(ax, lanes: list[str], window: tuple[int, int], handles: list) -> None:
    """Lane ticks, the time limits (1% padding) and the legend above the axes."""
    setup_lanes(ax, lanes)
    start_us, end_us = window
    pad = max(end_us - start_us, 10) * 0.01
    ax.set_xlim(ms(start_us - pad), ms(end_us + pad))
    ncols = len(handles) if len(handles) <= 5 else -(-len(handles) // 2) if len(handles) <= 8 else 4
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.01), ncols=ncols, frameon=False,
              fontsize=9, borderaxespad=0)


def _draw_lanes(ax, lanes: list[str], spans: dict, start_us: int, end_us: int) -> bool:
    """Lane lines and light state bars; returns whether any bar was drawn."""
    drawn = False
    for y, task in enumerate(lanes):
        ax.axhline(y, color="#CFCFCF", linewidth=0.8, zorder=1)
        inside = [s for s in spans.get(task, []) if s[1] >= start_us and s[0] <= end_us]
        draw_state_bars(ax, y, inside, alpha=_BAR_ALPHA, height=0.5)
        drawn = drawn or bool(inside)
    return drawn
