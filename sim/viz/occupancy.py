"""Buffer occupancy per channel over virtual time, with the backpressure of each producing subtask.

Layer: `sim.viz`. Reads only BUFFERS-level trace events and the channel ids:
`BufferFlushed` (a finished buffer joins the producer's subpartition queue),
`BufferSent` (it leaves, holding one credit), `BufferReceived` (it arrives in the
consumer's input channel), `BufferConsumed` (the consumer processed it), and
`BackpressureStarted`/`Ended` through `sim.viz.timeline.task_spans`. A channel's
two ends come from the execution graph, or, for a saved trace, from the
subtasks it deployed. Never reads a live channel.

A buffer is counted by its sequence number in one of three places: queued at
the sender, in flight on the wire, or queued at the receiver. When either end
of a channel is deployed, fails or is canceled, the channel starts empty again
(Flink drops in-flight data on failover); when a TaskManager crashes, the
queues on it are gone (the sender's, or the receiver's, or both). Later
events about the dropped buffers are ignored.

Flink counterpart: the task metrics `outPoolUsage`/`inPoolUsage` and the
subpartition and input-channel queue lengths behind them, with the web UI's
backpressure status, drawn over time.
Simplified: counts buffers, not bytes or pool segments; exclusive and floating
buffers are not told apart.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.trace import (
    BufferConsumed, BufferFlushed, BufferReceived, BufferSent, FaultInjected, TaskCanceled, TaskDeployed, TaskFailed,
    TraceEvent,
)
from sim.viz.style import BACKPRESSURED_COLOR, lane_label, ms, new_figure, save_png
from sim.viz.timeline import BACKPRESSURED, task_spans, trace_end_us

if TYPE_CHECKING:
    from sim.scenario.result import RunResult

SENDER_COLOR = "#F28E2B"
RECEIVER_COLOR = "#4C72B0"
IN_FLIGHT_COLOR = "#555555"
SENDER_LABEL = "queued at the sender (subpartition), up"
RECEIVER_LABEL = "queued at the receiver (input channel), down"
BACKPRESSURED_LABEL = "producer backpressured (no free output buffer)"


class ChannelEnds(NamedTuple):
    """A channel's producer and consumer subtask ids."""

    producer: str
    consumer: str


class Occupancy(NamedTuple):
    """Buffers of one channel at one moment: at the sender, on the wire, at the receiver."""

    queued: int
    in_flight: int
    received: int


@dataclass(frozen=True)
class ChannelSeries:
    """One channel's occupancy as a step function: `points[i]` holds from `times_us[i]` until the next time."""

    channel: str
    producer: str
    consumer: str
    times_us: tuple[int, ...]
    points: tuple[Occupancy, ...]

    def at(self, t_us: int) -> Occupancy:
        """The occupancy at `t_us` (after every event stamped `t_us`); empty before the first event."""
        i = bisect_right(self.times_us, t_us) - 1
        return self.points[i] if i >= 0 else Occupancy(0, 0, 0)

    def peak(self) -> int:
        """The most buffers ever queued at either end."""
        return max((max(p.queued, p.received) for p in self.points), default=0)


def split_channel_id(channel: str, subtasks: Iterable[str]) -> ChannelEnds | None:
    """The two ends of `channel` (`producer->consumer`, maybe `#edge`), resolved against known subtask ids.

    Vertex ids of chains contain "->" too, so the id is split only where both
    halves are subtasks that exist; None when no split (or more than one) fits.
    """
    known = set(subtasks)
    name = channel.split("#", 1)[0]
    parts = name.split("->")
    fits = [ChannelEnds("->".join(parts[:i]), "->".join(parts[i:])) for i in range(1, len(parts))]
    fits = [f for f in fits if f.producer in known and f.consumer in known]
    return fits[0] if len(fits) == 1 else None


def channel_ends(result) -> dict[str, ChannelEnds]:
    """Channel id -> its ends, in execution-graph order; for a saved trace, from its deployed subtasks.

    `result` is a `RunResult`, or anything with a `trace` and `subtasks` (a
    `sim.viz.saved.TraceRun`); channels of such a trace are those its
    buffers name, in order of first appearance.
    """
    graph = getattr(result, "execution_graph", None)
    if graph is not None:
        return {c.id: ChannelEnds(c.producer, c.consumer) for c in graph.channels}
    out: dict[str, ChannelEnds] = {}
    for e in result.trace:
        if isinstance(e, BufferFlushed) and e.channel not in out:
            ends = split_channel_id(e.channel, result.subtasks)
            if ends is not None:
                out[e.channel] = ends
    return out


class _Channel:
    """The buffers (by sequence number) in each place of one channel, while the trace is read."""

    def __init__(self) -> None:
        self.places: tuple[set[int], set[int], set[int]] = (set(), set(), set())
        self.times: list[int] = []
        self.points: list[Occupancy] = []

    def move(self, seq: int, source: int | None, target: int | None) -> bool:
        """Move `seq` from place `source` (None: new) to `target` (None: gone); False if it was dropped."""
        if source is not None:
            if seq not in self.places[source]:
                return False
            self.places[source].discard(seq)
        if target is not None:
            self.places[target].add(seq)
        return True

    def record(self, t_us: int) -> None:
        point = Occupancy(*(len(p) for p in self.places))
        if self.times and self.times[-1] == t_us:
            self.points[-1] = point
        elif not self.points or self.points[-1] != point:
            self.times.append(t_us)
            self.points.append(point)

    def clear(self, t_us: int, places: tuple[int, ...] = (0, 1, 2)) -> None:
        for place in places:
            self.places[place].clear()
        self.record(t_us)


_MOVES = {BufferFlushed: (None, 0), BufferSent: (0, 1), BufferReceived: (1, 2), BufferConsumed: (2, None)}


def channel_occupancy(trace: Iterable[TraceEvent], ends: dict[str, ChannelEnds]) -> dict[str, ChannelSeries]:
    """Each channel's buffers at the sender, on the wire and at the receiver over time.

    Args:
        trace: the run's trace, BUFFERS level (below it, every channel stays empty).
        ends: channel id -> its ends (`channel_ends`); other channels are skipped.

    Returns:
        Channel id -> `ChannelSeries`, in the order of `ends`; every channel
        starts at time 0 with nothing queued.
    """
    state = {channel: _Channel() for channel in ends}
    touching: dict[str, list[str]] = {}
    for channel, (producer, consumer) in ends.items():
        state[channel].record(0)
        touching.setdefault(producer, []).append(channel)
        touching.setdefault(consumer, []).append(channel)
    deployed: dict[str, str] = {}
    for e in trace:
        move = _MOVES.get(type(e))
        if move is not None:
            channel = state.get(e.channel)
            if channel is not None and channel.move(e.seq, *move):
                channel.record(e.t_us)
        elif isinstance(e, (TaskDeployed, TaskFailed, TaskCanceled)):
            if isinstance(e, TaskDeployed):
                deployed[e.task] = e.taskmanager
            for name in touching.get(e.task, ()):
                state[name].clear(e.t_us)
        elif isinstance(e, FaultInjected) and e.fault == "crash_taskmanager":
            for name, (producer, consumer) in ends.items():
                places = (0,) * (deployed.get(producer) == e.target) + (2,) * (deployed.get(consumer) == e.target)
                if places:
                    state[name].clear(e.t_us, places)
    return {name: ChannelSeries(name, *ends[name], tuple(s.times), tuple(s.points)) for name, s in state.items()}


def backpressured_spans(trace: Iterable[TraceEvent]) -> dict[str, list[tuple[int, int]]]:
    """Subtask id -> `(start_us, end_us)` of every span it was backpressured (only subtasks that were)."""
    out = {}
    for task, spans in task_spans(trace).items():
        kept = [(start, end) for start, end, state in spans if state == BACKPRESSURED]
        if kept:
            out[task] = kept
    return out


def _ordered(series: dict[str, ChannelSeries], subtasks: Sequence[str]) -> list[ChannelSeries]:
    """Channels grouped by producer in subtask order, then by consumer in subtask order."""
    rank = {task: i for i, task in enumerate(subtasks)}
    return sorted(series.values(), key=lambda s: (rank.get(s.producer, len(rank)), rank.get(s.consumer, len(rank))))


def _subtask_order(result) -> list[str]:
    graph = getattr(result, "execution_graph", None)
    return [s.id for s in graph.subtasks] if graph is not None else list(result.subtasks)


def _step_xy(series: ChannelSeries, end_us: int, field: int, sign: int) -> tuple[list[float], list[float]]:
    xs = [ms(t) for t in series.times_us] + [ms(end_us)]
    ys = [sign * p[field] for p in series.points]
    return xs, ys + ys[-1:]


def _draw_row(ax, series: ChannelSeries, spans: list[tuple[int, int]], end_us: int, peak: int) -> None:
    """One channel: backpressure behind, sender queue up, receiver queue down, one tick label each way."""
    for start, end in spans:
        ax.axvspan(ms(start), ms(end), color=BACKPRESSURED_COLOR, alpha=0.16, linewidth=0, zorder=0)
    for field, sign, color, gid in ((0, 1, SENDER_COLOR, "sender"), (2, -1, RECEIVER_COLOR, "receiver")):
        xs, ys = _step_xy(series, end_us, field, sign)
        area = ax.fill_between(xs, ys, step="post", color=color, alpha=0.75, linewidth=0, zorder=2)
        area.set_gid(f"{gid}:{series.channel}")
    ax.axhline(0, color="#999999", linewidth=0.5, zorder=1)
    ax.set_ylim(-peak * 1.1, peak * 1.1)
    ax.set_yticks([-peak, 0, peak], labels=[str(peak), "", str(peak)], fontsize=6.5, color="#666666")
    ax.tick_params(axis="y", length=2, pad=1)
    ax.set_ylabel(f"\u2192 {lane_label(series.consumer, 24)}", rotation=0, ha="right", va="center", fontsize=8.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color="#E5E5E5", linewidth=0.6)
    ax.set_axisbelow(True)


def _producer_headers(fig, axes, rows: list[ChannelSeries]) -> None:
    """Name each producer once, above its first channel, and separate the groups with a line."""
    for i, (ax, series) in enumerate(zip(axes, rows)):
        if i == 0 or rows[i - 1].producer != series.producer:
            ax.set_title(f"from {lane_label(series.producer, 40)}", loc="left", fontsize=9, pad=2,
                         fontweight="bold", color="#333333")
            if i > 0:
                ax.spines["top"].set_visible(True)
                ax.spines["top"].set_color("#888888")


def draw_occupancy(result: RunResult, path: str | os.PathLike | None = None,
                   channels: Iterable[str] | None = None) -> Figure:
    """One row per channel: buffers queued at its sender (up) and its receiver (down) over virtual time.

    Rows are grouped by producing subtask (named above its first row) in
    execution-graph order; a light red band behind a row is a span in which
    that channel's producer was backpressured. Every row shares one scale (the
    largest queue of any channel shown), so full queues read as full.

    Args:
        result: the run (or a `sim.viz.saved.TraceRun`); its trace, channel
            ends, name, seed and end time are read.
        path: where to save the PNG, if given.
        channels: the channel ids to draw (default: all).

    Returns:
        The figure (not registered with pyplot).

    Raises:
        ValueError: the run has no channels, or `channels` names one it does not have.
    """
    ends = channel_ends(result)
    if channels is not None:
        wanted = list(channels)
        unknown = [c for c in wanted if c not in ends]
        if unknown:
            raise ValueError(f"no channels {unknown} in this job; expected some of {list(ends)}")
        ends = {c: ends[c] for c in ends if c in set(wanted)}
    if not ends:
        raise ValueError(f"run {result.job_name!r} has no channels between subtasks: nothing queues")
    rows = _ordered(channel_occupancy(result.trace, ends), _subtask_order(result))
    spans = backpressured_spans(result.trace)
    end_us = max(result.end_time_us, trace_end_us(result.trace), 1)
    peak = max(max(s.peak() for s in rows), 1)
    groups = len({s.producer for s in rows})
    fig = new_figure(12.0, 1.9 + 0.5 * len(rows) + 0.22 * groups)
    axes = fig.subplots(len(rows), 1, sharex=True, squeeze=False)[:, 0]
    for ax, series in zip(axes, rows):
        _draw_row(ax, series, spans.get(series.producer, []), end_us, peak)
    _producer_headers(fig, axes, rows)
    axes[-1].set_xlim(0, ms(end_us))
    axes[-1].set_xlabel("virtual time (ms)")
    handles = [Patch(color=SENDER_COLOR, alpha=0.75, label=SENDER_LABEL),
               Patch(color=RECEIVER_COLOR, alpha=0.75, label=RECEIVER_LABEL),
               Patch(color=BACKPRESSURED_COLOR, alpha=0.16, label=BACKPRESSURED_LABEL)]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False, fontsize=9)
    note = "" if getattr(result.trace, "buffers", True) else " (trace level below BUFFERS: no buffers recorded)"
    fig.suptitle(f"Buffers per channel: {result.job_name} (seed {result.seed}), peak {peak} queued{note}",
                 fontsize=11)
    save_png(fig, path)
    return fig
