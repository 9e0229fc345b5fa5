"""Step through a run: each subtask's state and each channel's queues at a chosen virtual time.

Layer: `sim.viz`. `RunIndex.at(t_us)` is pure: it reads the trace once (task
lifecycle, steps and backpressure through `sim.viz.timeline`, blocked channels
and snapshots through `sim.viz.barriers`, buffers through `sim.viz.occupancy`)
and answers "what was going on at t" by bisection, with no browser and no
matplotlib. `moment_html` renders one moment as two small tables, and
`step_through` puts them under an ipywidgets slider over virtual time, for
Jupyter. Never reads a live task or channel.

A subtask's state at t is the first that holds of: not deployed, failed,
canceled, finished (from its lifecycle events), snapshotting (inside a
snapshot's synchronous part), backpressured, busy (inside a step), idle.
Whether it is aligning (some input channel blocked for a barrier) is told
beside it, since a subtask aligns while it is busy with its other channels.
Intervals are half-open: a step stamped at t ended at t, so at t it is over.

Flink counterpart: what the web UI shows of a running job at one moment
(task status, backpressure, checkpoint alignment, buffer pool usage), here for
any moment of a finished run.
"""

from __future__ import annotations

import html
from bisect import bisect_right
from typing import TYPE_CHECKING, NamedTuple

from sim.trace import TaskCanceled, TaskDeployed, TaskFailed, TaskFinished
from sim.viz.barriers import blocked_spans, snapshot_marks
from sim.viz.occupancy import RECEIVER_COLOR, SENDER_COLOR, channel_ends, channel_occupancy
from sim.viz.style import ALIGNING_COLOR, BACKPRESSURED_COLOR, BUSY_COLOR, FAILED_COLOR, ms
from sim.viz.timeline import BACKPRESSURED, BUSY, task_spans, trace_end_us

if TYPE_CHECKING:
    from sim.scenario.result import RunResult

NOT_DEPLOYED, RUNNING, FAILED, CANCELED, FINISHED = "not deployed", "running", "failed", "canceled", "finished"
SNAPSHOTTING, IDLE = "snapshotting", "idle"
STATE_COLORS = {BUSY: BUSY_COLOR, BACKPRESSURED: BACKPRESSURED_COLOR, SNAPSHOTTING: "#000000", IDLE: "#B0B0B0",
                FAILED: FAILED_COLOR, CANCELED: "#7F7F7F", FINISHED: "#2CA02C", NOT_DEPLOYED: "#DDDDDD"}
_LIFECYCLE = {TaskDeployed: RUNNING, TaskFailed: FAILED, TaskCanceled: CANCELED, TaskFinished: FINISHED}
_BAR_PX = 9


class SubtaskView(NamedTuple):
    """One subtask at one moment: its state, and the input channels it holds blocked while aligning."""

    task: str
    state: str
    blocked_inputs: tuple[str, ...]

    @property
    def aligning(self) -> bool:
        return bool(self.blocked_inputs)


class ChannelView(NamedTuple):
    """One channel at one moment: buffers at the sender, on the wire, at the receiver; blocked for alignment."""

    channel: str
    producer: str
    consumer: str
    queued: int
    in_flight: int
    received: int
    blocked: bool


class Moment(NamedTuple):
    """Everything `RunIndex.at` tells of one virtual time, subtasks and channels in execution-graph order."""

    t_us: int
    subtasks: tuple[SubtaskView, ...]
    channels: tuple[ChannelView, ...]

    def subtask(self, task: str) -> SubtaskView:
        return next(s for s in self.subtasks if s.task == task)

    def channel(self, channel: str) -> ChannelView:
        return next(c for c in self.channels if c.channel == channel)


class _Intervals:
    """Half-open intervals `[start, end)`, each with a label; which labels hold at a time.

    The intervals of one label never overlap (steps of one state are merged,
    one channel blocks once at a time), so the last one to start decides.
    """

    def __init__(self, intervals: list[tuple[int, int, str]]):
        by_label: dict[str, list[tuple[int, int]]] = {}
        for start, end, label in sorted(intervals):
            by_label.setdefault(label, []).append((start, end))
        self.by_label = {label: ([s for s, _ in spans], [e for _, e in spans]) for label, spans in by_label.items()}

    def at(self, t_us: int) -> list[str]:
        out = []
        for label, (starts, ends) in self.by_label.items():
            i = bisect_right(starts, t_us)
            if i and ends[i - 1] > t_us:
                out.append(label)
        return out


class RunIndex:
    """A run's trace read once, for "what was going on at t" questions.

    Args:
        result: the run (only its trace, execution graph and end time are read).
    """

    def __init__(self, result: RunResult):
        trace = list(result.trace)
        self.end_us = max(result.end_time_us, trace_end_us(trace))
        self.subtasks = [s.id for s in result.execution_graph.subtasks]
        self.occupancy = channel_occupancy(trace, channel_ends(result))
        self._lifecycle: dict[str, tuple[list[int], list[str]]] = {task: ([], []) for task in self.subtasks}
        for e in trace:
            status = _LIFECYCLE.get(type(e))
            if status is not None and e.task in self._lifecycle:
                times, states = self._lifecycle[e.task]
                times.append(e.t_us)
                states.append(status)
        spans = task_spans(trace)
        snapshots: dict[str, list[tuple[int, int, str]]] = {}
        for mark in snapshot_marks(trace):
            snapshots.setdefault(mark.task, []).append((mark.start_us, mark.end_us, SNAPSHOTTING))
        self._steps = {task: _Intervals(spans.get(task, []) + snapshots.get(task, [])) for task in self.subtasks}
        blocked = blocked_spans(trace)
        self._blocked = {task: _Intervals([(s[0], s[1], s[2]) for s in blocked.get(task, [])])
                         for task in self.subtasks}

    def _status(self, task: str, t_us: int) -> str:
        times, states = self._lifecycle[task]
        i = bisect_right(times, t_us)
        return states[i - 1] if i else NOT_DEPLOYED

    def subtask_at(self, task: str, t_us: int) -> SubtaskView:
        """One subtask's state at `t_us` (see the module docstring for the order of states)."""
        status = self._status(task, t_us)
        if status != RUNNING:
            return SubtaskView(task, status, ())
        doing = set(self._steps[task].at(t_us))
        state = next((s for s in (SNAPSHOTTING, BACKPRESSURED, BUSY) if s in doing), IDLE)
        return SubtaskView(task, state, tuple(sorted(self._blocked[task].at(t_us))))

    def at(self, t_us: int) -> Moment:
        """Every subtask and channel at `t_us` (after every event stamped `t_us`)."""
        subtasks = tuple(self.subtask_at(task, t_us) for task in self.subtasks)
        blocked = {channel for s in subtasks for channel in s.blocked_inputs}
        channels = tuple(ChannelView(name, s.producer, s.consumer, *s.at(t_us), name in blocked)
                         for name, s in self.occupancy.items())
        return Moment(t_us, subtasks, channels)


def state_at(result: RunResult, t_us: int) -> Moment:
    """What every subtask and channel of `result` was doing at virtual time `t_us` (reads the whole trace)."""
    return RunIndex(result).at(t_us)


def _bar(count: int, color: str) -> str:
    width = min(count, 40) * _BAR_PX
    return (f'<span style="display:inline-block;width:{width}px;height:9px;background:{color}"></span> '
            f"{count}") if count else "0"


def moment_html(moment: Moment) -> str:
    """The moment as HTML: a row per subtask (coloured state, aligning) and per channel (queues, blocked)."""
    cell = 'style="padding:1px 8px;text-align:left"'
    rows = []
    for s in moment.subtasks:
        color = STATE_COLORS.get(s.state, "#FFFFFF")
        aligning = (f'<span style="color:{ALIGNING_COLOR}">aligning: {len(s.blocked_inputs)} input(s) blocked</span>'
                    if s.aligning else "")
        rows.append(f'<tr><td {cell}>{html.escape(s.task)}</td><td {cell}><span style="display:inline-block;'
                    f'width:10px;height:10px;background:{color}"></span> {html.escape(s.state)}</td>'
                    f"<td {cell}>{aligning}</td></tr>")
    subtasks = (f"<table><tr><th {cell}>subtask</th><th {cell}>state</th><th {cell}>alignment</th></tr>"
                + "".join(rows) + "</table>")
    rows = []
    for c in moment.channels:
        blocked = f'<b style="color:{ALIGNING_COLOR}">blocked (aligning)</b>' if c.blocked else ""
        rows.append(f"<tr><td {cell}>{html.escape(c.producer)} \u2192 {html.escape(c.consumer)}</td>"
                    f"<td {cell}>{_bar(c.queued, SENDER_COLOR)}</td><td {cell}>{c.in_flight}</td>"
                    f"<td {cell}>{_bar(c.received, RECEIVER_COLOR)}</td><td {cell}>{blocked}</td></tr>")
    channels = (f"<table><tr><th {cell}>channel</th><th {cell}>queued at sender</th><th {cell}>on the wire</th>"
                f"<th {cell}>queued at receiver</th><th {cell}></th></tr>" + "".join(rows) + "</table>")
    return (f'<div class="sim-step"><p><b>at {ms(moment.t_us):.3f} ms of virtual time</b></p>'
            f"{subtasks}<p></p>{channels}</div>")


class StepThrough:
    """A slider over virtual time above the moment it selects; displays itself in Jupyter.

    Attributes:
        index: the run, read once.
        slider: the ipywidgets `FloatSlider` (ms of virtual time).
        view: the ipywidgets `HTML` showing `moment_html` of the slider's time.
        widget: the whole, an ipywidgets `VBox` (buttons step back and forth by one slider step).
    """

    def __init__(self, result: RunResult, step_ms: float | None = None):
        import ipywidgets as widgets  # a notebook's dependency: not needed to draw figures

        self.index = RunIndex(result)
        end_ms = ms(self.index.end_us)
        step = step_ms if step_ms is not None else max(end_ms / 200, 0.001)
        self.slider = widgets.FloatSlider(value=0.0, min=0.0, max=end_ms, step=step, description="time (ms)",
                                          readout_format=".3f", continuous_update=True,
                                          layout=widgets.Layout(width="95%"))
        back, forward = widgets.Button(description="\u25c0 step"), widgets.Button(description="step \u25b6")
        back.on_click(lambda _: self._move(-1))
        forward.on_click(lambda _: self._move(+1))
        self.view = widgets.HTML(value=moment_html(self.index.at(0)))
        self.slider.observe(self._show, names="value")
        self.widget = widgets.VBox([widgets.HBox([back, forward]), self.slider, self.view])

    def _move(self, steps: int) -> None:
        self.slider.value = min(max(self.slider.value + steps * self.slider.step, 0.0), self.slider.max)

    def _show(self, change) -> None:
        self.view.value = moment_html(self.index.at(round(change["new"] * 1000)))

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def step_through(result: RunResult, step_ms: float | None = None) -> StepThrough:
    """A widget to step through `result` in Jupyter: a time slider, and every subtask's state and channel's queues.

    Args:
        result: the run (BUFFERS level shows steps and queues; below it, only lifecycle and alignment).
        step_ms: the slider's step (default: the run's length / 200).
    """
    return StepThrough(result, step_ms)
