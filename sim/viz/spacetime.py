"""Space-time (Lamport) diagrams: buffers and channel events as arrows between subtask lanes.

Layer: `sim.viz`. Reads only trace events (`BufferSent`, `ChannelEventSent`,
busy and backpressure spans, failures) and the
execution and job graphs (lane order, a channel's two ends and its
partitioner); never a live task or channel.

A buffer is an arrow from its producer's lane at the time it left to its
consumer's lane at the time it arrived (`BufferSent.arrival_us`). A channel
event (end of partition, later barriers) is a dashed arrow drawn the same way
(`ChannelEventSent.arrival_us`).
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
from sim.viz.style import EVENT_COLOR, lane_order, lanes_height_in, ms, new_figure, partitioner_color, save_png
from sim.viz.timeline import (
    draw_failures, draw_state_bars, lane_legend_handles, setup_lanes, task_failures, task_spans, trace_end_us,
)

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


def _window_us(start_ms: float | None, end_ms: float | None, last_us: int) -> tuple[int, int]:
    start_us = 0 if start_ms is None else round(start_ms * 1000)
    end_us = last_us if end_ms is None else round(end_ms * 1000)
    if end_us < start_us:
        raise ValueError(f"the time window ends ({end_ms} ms) before it starts ({start_ms} ms)")
    return start_us, end_us


def _arrow(message: Message, rows: dict[str, int]) -> FancyArrowPatch:
    start = (ms(message.sent_us), rows[message.producer])
    end = (ms(message.received_us), rows[message.consumer])
    if message.event is None:
        return FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=7, linewidth=0.7, alpha=0.55,
                               color=partitioner_color(message.partitioner), shrinkA=0, shrinkB=0, zorder=3)
    return FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, linewidth=1.0, linestyle="--",
                           color=EVENT_COLOR, alpha=0.75, shrinkA=0, shrinkB=0, zorder=4)


def _legend_handles(shown: list[Message], failed: bool) -> list:
    handles = lane_legend_handles(failed, alive=False, alpha=_BAR_ALPHA)
    for kind in sorted({m.partitioner for m in shown if m.event is None}):
        handles.append(Line2D([], [], color=partitioner_color(kind), linewidth=1.5, label=f"buffer ({kind.upper()})"))
    for name in sorted({m.event for m in shown if m.event is not None}):
        handles.append(Line2D([], [], color=EVENT_COLOR, linewidth=1.0, linestyle="--", marker=">",
                              markersize=5, label=name))
    return handles


def _title(result: RunResult, start_us: int, end_us: int, total: int, step: int) -> str:
    title = (f"Space-time diagram: {result.job_name} (seed {result.seed}), "
             f"{ms(start_us):.2f}-{ms(end_us):.2f} ms, {total} buffers")
    if step > 1:
        title += f" (showing 1 in {step})"
    return title


def _in_window(messages: list[Message], rows: dict[str, int], start_us: int, end_us: int) -> list[Message]:
    return [m for m in messages
            if start_us <= m.sent_us <= end_us and m.producer in rows and m.consumer in rows]


def draw_spacetime(result: RunResult, path: str | os.PathLike | None = None, start_ms: float | None = None,
                   end_ms: float | None = None, subtasks: Iterable[str] | None = None,
                   max_arrows: int = 400) -> Figure:
    """Draw a space-time diagram: subtask lanes over virtual time, an arrow per buffer and channel event.

    Lanes follow the execution graph from top to bottom and carry light bars
    for busy and backpressured steps. Buffer arrows are coloured by the
    partitioner of their edge; channel events (e.g. EndOfPartition) are dashed
    black arrows. A message is shown if it was sent inside the window and both
    of its subtasks are shown.

    Args:
        result: the run; only its trace and graphs are read.
        path: where to save the PNG, if given.
        start_ms: start of the time window (default: 0).
        end_ms: end of the time window (default: the end of the trace).
        subtasks: subtask ids to show (default: all).
        max_arrows: at most this many buffer arrows; above it every k-th buffer
            is drawn and the title says so.

    Returns:
        The figure (not registered with pyplot).

    Raises:
        ValueError: an unknown subtask, a window that ends before it starts, or
            `max_arrows` below 1.
    """
    if max_arrows < 1:
        raise ValueError(f"max_arrows must be at least 1, got {max_arrows}")
    trace = result.trace
    lanes = lane_order(result.execution_graph, subtasks)
    rows = {task: y for y, task in enumerate(lanes)}
    start_us, end_us = _window_us(start_ms, end_ms, max(result.end_time_us, trace_end_us(trace)))
    window = _in_window(channel_messages(trace, result.execution_graph), rows, start_us, end_us)
    shown, step = sample_buffers(window, max_arrows)
    fig = new_figure(12.0, lanes_height_in(len(lanes)))
    ax = fig.add_subplot()
    _draw_lanes(ax, lanes, task_spans(trace), start_us, end_us)
    for message in shown:
        ax.add_patch(_arrow(message, rows))
    failed = draw_failures(ax, lanes, [f for f in task_failures(trace) if start_us <= f[0] <= end_us])
    setup_lanes(ax, lanes)
    pad = max(end_us - start_us, 10) * 0.01
    ax.set_xlim(ms(start_us - pad), ms(end_us + pad))
    handles = _legend_handles(shown, failed)
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.01), ncols=len(handles) if len(handles) <= 6 else -(-len(handles) // 2),
              frameon=False, fontsize=9, borderaxespad=0)
    total = sum(1 for m in window if m.event is None)
    fig.suptitle(_title(result, start_us, end_us, total, step), fontsize=11)
    save_png(fig, path)
    return fig


def _draw_lanes(ax, lanes: list[str], spans: dict, start_us: int, end_us: int) -> None:
    for y, task in enumerate(lanes):
        ax.axhline(y, color="#CFCFCF", linewidth=0.8, zorder=1)
        inside = [s for s in spans.get(task, []) if s[1] >= start_us and s[0] <= end_us]
        draw_state_bars(ax, y, inside, alpha=_BAR_ALPHA, height=0.5)
