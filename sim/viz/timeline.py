"""Per-subtask timelines: when each subtask was busy, backpressured, idle, aligning or snapshotting, from the trace.

Layer: `sim.viz`. Reads only trace events (`BufferConsumed`,
`SourceRecordsEmitted`, the BATCH steps `InputSorted` and `KeyProcessed`,
`BackpressureStarted`/`Ended`, task lifecycle, and the
checkpoint events `ChannelBlocked`/`Resumed`, `SnapshotTaken`,
`AlignmentTimedOut`) and the execution graph's subtask order; never a live
task or thread. The span
functions are pure and import no matplotlib state, so they are unit-tested
directly; `draw_timelines` turns them into a figure.

What the trace cannot show: CPU charged outside a traced step (the end-of-input
step) and time spent waiting for a free core both appear as idle.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.trace import (
    BackpressureEnded, BackpressureStarted, BufferConsumed, FaultInjected, InputEnded, InputSorted, KeyProcessed,
    SourceRecordsEmitted, TaskCanceled, TaskDeployed, TaskFailed, TaskFinished, TimersRan, TraceEvent,
)
from sim.viz.barriers import BlockedSpan, alignment_timeouts, blocked_spans, merged_intervals, snapshot_marks
from sim.viz.marks import draw_aligning_bands, draw_snapshots, draw_timeouts, mark_handles
from sim.viz.style import (
    ALIVE_COLOR, BACKPRESSURED_COLOR, BUSY_COLOR, FAILED_COLOR, lane_label, lane_order, lanes_height_in, ms,
    new_figure, save_png,
)

if TYPE_CHECKING:
    from sim.scenario.result import RunResult

Span = tuple[int, int, str]
BUSY = "busy"
BACKPRESSURED = "backpressured"


def trace_end_us(trace: Iterable[TraceEvent]) -> int:
    """The last virtual time the trace speaks of (steps are stamped at their end)."""
    return max((e.t_us for e in trace), default=0)


def ended_tasks(e: TraceEvent, deployed: dict[str, str]) -> list[str]:
    """The subtasks whose deployment ends at event `e`: it finished, failed or was canceled, or its
    TaskManager crashed (`deployed`: subtask -> its TaskManager now)."""
    if isinstance(e, (TaskFinished, TaskFailed, TaskCanceled)):
        return [e.task]
    if isinstance(e, FaultInjected) and e.fault == "crash_taskmanager":
        return [task for task, tm in deployed.items() if tm == e.target]
    return []


def _merged(spans: list[Span]) -> list[Span]:
    """Sorted spans with touching or overlapping spans of the same state joined."""
    out: list[Span] = []
    for start, end, state in sorted(spans):
        if out and out[-1][2] == state and start <= out[-1][1]:
            last = out[-1]
            out[-1] = (last[0], max(last[1], end), state)
        else:
            out.append((start, end, state))
    return out


def task_spans(trace: Iterable[TraceEvent]) -> dict[str, list[Span]]:
    """Busy and backpressured spans per subtask, from a BUFFERS-level trace.

    A busy span is `[t_us - busy_us, t_us)` of a `BufferConsumed`,
    `SourceRecordsEmitted`, `InputEnded`, `TimersRan`, `InputSorted` or
    `KeyProcessed` (stamped when the step ended); a backpressured span runs from `BackpressureStarted`
    to the matching `BackpressureEnded`, or to the end of the task's deployment
    (`ended_tasks`, or its next deployment after a failover), or to the end of
    the trace if none came. Idle is the gap between spans.
    Empty spans are dropped; touching spans of one state are merged.

    Args:
        trace: the run's trace (any iterable of events in trace order).

    Returns:
        Subtask id -> spans `(start_us, end_us, state)` sorted by start, with
        state "busy" or "backpressured"; every deployed subtask has an entry,
        and the keys are sorted.
    """
    events = list(trace)
    spans: dict[str, list[Span]] = {}
    waiting: dict[str, int] = {}
    deployed: dict[str, str] = {}

    def close(task: str, end_us: int) -> None:
        start = waiting.pop(task, None)
        if start is not None and end_us > start:
            spans.setdefault(task, []).append((start, end_us, BACKPRESSURED))

    for e in events:
        if isinstance(e, (BufferConsumed, SourceRecordsEmitted, InputEnded, TimersRan, InputSorted, KeyProcessed)):
            if e.busy_us > 0:
                spans.setdefault(e.task, []).append((e.t_us - e.busy_us, e.t_us, BUSY))
        elif isinstance(e, BackpressureStarted):
            waiting.setdefault(e.task, e.t_us)
        elif isinstance(e, BackpressureEnded):
            close(e.task, e.t_us)
        elif isinstance(e, TaskDeployed):
            close(e.task, e.t_us)
            deployed[e.task] = e.taskmanager
            spans.setdefault(e.task, [])
        for task in ended_tasks(e, deployed):
            close(task, e.t_us)
    end = trace_end_us(events)
    for task in sorted(waiting):
        close(task, end)
    return {task: _merged(spans[task]) for task in sorted(spans)}


def task_lifetimes(trace: Iterable[TraceEvent]) -> dict[str, list[tuple[int, int]]]:
    """When each subtask was deployed until it finished, failed, was canceled or lost its TaskManager
    (or was deployed again, or the trace ended).

    A subtask deployed again (after a restart) gets one interval per deployment.
    """
    events = list(trace)
    lives: dict[str, list[tuple[int, int]]] = {}
    started: dict[str, int] = {}
    deployed: dict[str, str] = {}

    def end(task: str, t_us: int) -> None:
        if task in started:
            lives.setdefault(task, []).append((started.pop(task), t_us))

    for e in events:
        if isinstance(e, TaskDeployed):
            end(e.task, e.t_us)
            started[e.task] = e.t_us
            deployed[e.task] = e.taskmanager
        for task in ended_tasks(e, deployed):
            end(task, e.t_us)
    last = trace_end_us(events)
    for task in sorted(started):
        lives.setdefault(task, []).append((started[task], last))
    return {task: sorted(lives[task]) for task in sorted(lives)}


def task_failures(trace: Iterable[TraceEvent]) -> list[tuple[int, str, str]]:
    """`(t_us, subtask, operator)` of every `TaskFailed`, in trace order."""
    return [(e.t_us, e.task, e.operator) for e in trace if isinstance(e, TaskFailed)]


def state_shares(spans: list[Span], lifetimes: list[tuple[int, int]]) -> dict[str, float]:
    """Fractions of a subtask's lifetime spent busy and backpressured (idle is the rest)."""
    life = sum(end - start for start, end in lifetimes)
    shares = {BUSY: 0.0, BACKPRESSURED: 0.0}
    for start, end, state in spans:
        shares[state] += end - start
    return {state: (total / life if life else 0.0) for state, total in shares.items()}


def draw_state_bars(ax, y: float, spans: list[Span], alpha: float = 1.0, height: float = 0.7) -> None:
    """Draw one lane's busy and backpressured spans as bars centred on `y` (x in ms)."""
    for state, color in ((BUSY, BUSY_COLOR), (BACKPRESSURED, BACKPRESSURED_COLOR)):
        bars = [(ms(start), ms(end - start)) for start, end, s in spans if s == state]
        if bars:
            # A thin edge of the same colour keeps microsecond steps visible on a long axis.
            ax.broken_barh(bars, (y - height / 2, height), facecolors=color, edgecolors=color,
                           linewidth=0.4, alpha=alpha, zorder=2)


def draw_failures(ax, lanes: list[str], failures: list[tuple[int, str, str]]) -> bool:
    """Mark each failure with an X on its lane; returns whether any was drawn."""
    rows = {task: y for y, task in enumerate(lanes)}
    points = [(ms(t), rows[task]) for t, task, _ in failures if task in rows]
    if points:
        ax.scatter([x for x, _ in points], [y for _, y in points], marker="X", s=90, color=FAILED_COLOR,
                   edgecolors="white", linewidths=0.8, zorder=6, clip_on=False)
    return bool(points)


def lane_legend_handles(failed: bool, alive: bool = True, alpha: float = 1.0) -> list:
    """Legend entries for lane states (and failures, when there were any)."""
    handles = [Patch(facecolor=BUSY_COLOR, alpha=alpha, label="busy"),
               Patch(facecolor=BACKPRESSURED_COLOR, alpha=alpha, label="backpressured")]
    if alive:
        handles.append(Line2D([], [], color=ALIVE_COLOR, linewidth=1.5, label="idle (deployed, no step)"))
    if failed:
        handles.append(Line2D([], [], color=FAILED_COLOR, marker="X", linestyle="", markersize=9,
                              markeredgecolor="white", label="task failed"))
    return handles


def setup_lanes(ax, lanes: list[str]) -> None:
    """One y tick per lane, labelled, first lane at the top, light grid on time."""
    ax.set_yticks(range(len(lanes)), labels=[lane_label(task) for task in lanes], fontsize=9)
    ax.set_ylim(len(lanes) - 0.5, -0.5)
    ax.set_xlabel("virtual time (ms)")
    ax.grid(axis="x", color="#E5E5E5", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _draw_shares(ax, lanes: list[str], spans: dict[str, list[Span]],
                 lifetimes: dict[str, list[tuple[int, int]]], blocked: dict[str, list[BlockedSpan]]) -> None:
    for y, task in enumerate(lanes):
        shares = state_shares(spans.get(task, []), lifetimes.get(task, []))
        text = f"busy {shares[BUSY]:.0%}  bp {shares[BACKPRESSURED]:.0%}"
        if blocked:
            life = sum(end - start for start, end in lifetimes.get(task, []))
            aligning = sum(end - start for start, end in merged_intervals((s[0], s[1]) for s in blocked.get(task, [])))
            text += f"  align {aligning / life if life else 0.0:.0%}"
        ax.text(1.01, y, text, fontsize=8, color="#444444", va="center", ha="left", transform=ax.get_yaxis_transform())


def _draw_checkpoint_marks(ax, lanes: list[str], trace, blocked: dict[str, list[BlockedSpan]]) -> list:
    """Aligning bands under the bars, snapshot and timeout marks on them; returns their legend entries."""
    rows = {task: y for y, task in enumerate(lanes)}
    aligning = draw_aligning_bands(ax, rows, blocked, band=(0.36, 0.52))
    snapshots = draw_snapshots(ax, rows, snapshot_marks(trace), height=0.7, size=30)
    timeouts = draw_timeouts(ax, rows, alignment_timeouts(trace))
    return mark_handles(aligning, snapshots, timeouts)


def draw_timelines(result: RunResult, path: str | os.PathLike | None = None,
                   lanes: Sequence[str] | None = None) -> Figure:
    """Draw one lane per subtask showing busy, backpressured, idle, aligning and snapshotting time.

    Lanes follow the execution graph (vertex, then index) from top to bottom.
    A grey line marks when the subtask was deployed; bars show busy (blue) and
    backpressured (red) steps; the gaps on the line are idle. Failures are an X.
    With checkpoints, a hatched band under a lane shows when the subtask was
    aligning (some input channel blocked), a black bar and a diamond each
    snapshot's synchronous part, and a gold star an alignment timeout.

    Args:
        result: the run; only its trace, its execution graph (unless `lanes` is
            given), name, seed, status and end time are read.
        path: where to save the PNG, if given.
        lanes: the subtasks to draw, top to bottom (default: the execution graph's order).

    Returns:
        The figure (not registered with pyplot).
    """
    trace = result.trace
    lanes = lane_order(result.execution_graph) if lanes is None else list(lanes)
    spans, lifetimes = task_spans(trace), task_lifetimes(trace)
    end_us = max(result.end_time_us, trace_end_us(trace), 1)
    fig = new_figure(11.0, lanes_height_in(len(lanes)))
    ax = fig.add_subplot()
    for y, task in enumerate(lanes):
        for start, end in lifetimes.get(task, []):
            ax.hlines(y, ms(start), ms(end), color=ALIVE_COLOR, linewidth=1.5, zorder=1)
        draw_state_bars(ax, y, spans.get(task, []))
    blocked = blocked_spans(trace)
    marks = _draw_checkpoint_marks(ax, lanes, trace, blocked)
    failed = draw_failures(ax, lanes, task_failures(trace))
    setup_lanes(ax, lanes)
    ax.set_xlim(0, ms(end_us) * 1.01)
    _draw_shares(ax, lanes, spans, lifetimes, blocked)
    handles = lane_legend_handles(failed) + marks
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.01), ncols=min(len(handles), 4),
              frameon=False, fontsize=9, borderaxespad=0)
    note = "" if getattr(trace, "buffers", True) else " (trace level below BUFFERS: no steps recorded)"
    fig.suptitle(f"Subtask timelines: {result.job_name} (seed {result.seed}), {result.status} at "
                 f"{ms(result.end_time_us):.1f} ms{note}", fontsize=11)
    save_png(fig, path)
    return fig
