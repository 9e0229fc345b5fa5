"""Failures, failover, restarts, restores and watermarks read from the trace, and drawn on subtask lanes.

Layer: `sim.viz`. `lifecycle_marks` is pure: it reads `TaskFailed`,
`FaultInjected`, `TaskManagerLost`, `TaskCanceled`, `JobFailing`,
`RestartScheduled`, `JobRestored`, `StateRestored`, `ChannelStateReplayed` and
`WatermarkAdvanced`, with `TaskDeployed` to know which subtasks ran on which
TaskManager at a time. `draw_lifecycle` puts them on an axes whose lanes sit at
y = 0, 1, ... (first lane at the top), as the space-time diagram lays them out.

Marks on a lane (one subtask): a black X where it failed, a lightning bolt
where a fault hit it (or its TaskManager, or a link of its TaskManager), a dark
red square where its TaskManager was declared lost, a grey x where it was
canceled for failover, a green disc where it took its state from a snapshot,
a green triangle where it replayed a channel's in-flight data, and a small
teal caret where its event time (watermark) advanced. Marks across every lane
(the whole job): a dashed dark red line where the job started failing over, a
shaded band for the restart delay, and a green line where the next attempt
was restored. Every artist has a gid (`failures`, `faults`, `taskmanagers-lost`,
`canceled`, `state-restored`, `channel-state-replayed`, `watermarks`,
`job-failing:<attempt>`, `restart:<attempt>`, `restored:<attempt>`) so tests
can check content, not pixels.

Flink counterpart: the web UI's exception history and job status timeline
(FAILING, RESTARTING, RUNNING), and the per-subtask watermark.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.trace import (
    ChannelStateReplayed, FaultInjected, JobFailing, JobRestored, RestartScheduled, StateRestored, TaskCanceled,
    TaskDeployed, TaskFailed, TaskManagerLost, TraceEvent, WatermarkAdvanced,
)
from sim.viz.style import FAILED_COLOR, ms

FAULT_COLOR = "#FF6F00"
LOST_COLOR = "#8B0000"
CANCELED_COLOR = "#7F7F7F"
RESTORED_COLOR = "#2CA02C"
RESTART_COLOR = "#9467BD"
WATERMARK_COLOR = "#0E8C8C"
_BOLT = "$\u26A1$"
_SUBTASK = re.compile(r"^(?P<vertex>.*)\[(?P<index>\d+)\]$")

LanePoint = tuple[int, str, str]
"""`(t_us, subtask, note)`: one mark on one lane; the note says what happened (a fault's kind, ...)."""


@dataclass
class LifecycleMarks:
    """Everything of a run's failures and recovery, and its watermarks, placed on subtasks or on the whole job."""

    failed: list[LanePoint] = field(default_factory=list)
    faults: list[LanePoint] = field(default_factory=list)
    lost: list[LanePoint] = field(default_factory=list)
    canceled: list[LanePoint] = field(default_factory=list)
    state_restored: list[LanePoint] = field(default_factory=list)
    replayed: list[LanePoint] = field(default_factory=list)
    watermarks: list[LanePoint] = field(default_factory=list)
    failing: list[tuple[int, int, str]] = field(default_factory=list)
    """`(t_us, attempt, cause)` of every `JobFailing`."""
    restarts: list[tuple[int, int, int]] = field(default_factory=list)
    """`(t_us, attempt, delay_us)` of every `RestartScheduled`."""
    restored: list[tuple[int, int, str]] = field(default_factory=list)
    """`(t_us, attempt, what)`: "checkpoint 3", "savepoint 2" or "nothing"."""

    def inside(self, start_us: int, end_us: int, lanes: Iterable[str]) -> LifecycleMarks:
        """Only the marks inside `[start_us, end_us]` and on `lanes` (job-wide marks need only the time)."""
        shown = set(lanes)

        def keep(points: list[LanePoint]) -> list[LanePoint]:
            return [p for p in points if start_us <= p[0] <= end_us and p[1] in shown]

        def keep_job(points: list) -> list:
            return [p for p in points if start_us <= p[0] <= end_us]

        return LifecycleMarks(keep(self.failed), keep(self.faults), keep(self.lost), keep(self.canceled),
                              keep(self.state_restored), keep(self.replayed), keep(self.watermarks),
                              keep_job(self.failing), keep_job(self.restarts), keep_job(self.restored))


def fault_lanes(target: str, lanes: Iterable[str], deployed: dict[str, str]) -> list[str]:
    """The subtasks a fault's `target` names: a subtask, an operator's subtask inside a chain, a TaskManager,
    or a link (`tm-0<->tm-1`: the subtasks of both ends).

    Args:
        target: `FaultInjected.target`.
        lanes: every subtask id.
        deployed: subtask id -> its TaskManager now.
    """
    lanes = list(lanes)
    if target in lanes:
        return [target]
    match = _SUBTASK.match(target)
    if match:
        operator, index = match["vertex"], match["index"]
        return [lane for lane in lanes
                if lane.endswith(f"[{index}]") and operator in lane.rsplit("[", 1)[0].split("->")]
    ends = target.split("<->")
    return [task for task, tm in deployed.items() if tm in ends]


def _restored_what(e: JobRestored) -> str:
    return "nothing" if e.checkpoint_id is None else f"{e.kind} {e.checkpoint_id}"


def lifecycle_marks(trace: Iterable[TraceEvent], lanes: Iterable[str]) -> LifecycleMarks:
    """Every failure, failover, restart and restore of the trace, and each subtask's watermark advances.

    Lane marks name the subtask they belong to; a fault on a TaskManager (or
    a link) and a lost TaskManager are marked on every subtask deployed there
    at that time. Watermarks of the operators of one chain at one time are
    one mark.

    Args:
        trace: the run's trace (JOB level for failures, CHECKPOINTS for restores and watermarks).
        lanes: every subtask id (to resolve a fault's target).
    """
    lanes = list(lanes)
    marks, deployed = LifecycleMarks(), {}
    lane_events = {TaskFailed: marks.failed, TaskCanceled: marks.canceled, StateRestored: marks.state_restored,
                   ChannelStateReplayed: marks.replayed}
    for e in trace:
        kind = type(e)
        if kind is TaskDeployed:
            deployed[e.task] = e.taskmanager
        elif kind in lane_events:
            note = getattr(e, "operator", None) or getattr(e, "channel", None) or ""
            lane_events[kind].append((e.t_us, e.task, note))
        elif kind is WatermarkAdvanced:
            if not marks.watermarks or marks.watermarks[-1][:2] != (e.t_us, e.task):
                marks.watermarks.append((e.t_us, e.task, str(e.watermark)))
        elif kind is FaultInjected:
            marks.faults += [(e.t_us, task, e.fault) for task in fault_lanes(e.target, lanes, deployed)]
        elif kind is TaskManagerLost:
            marks.lost += [(e.t_us, task, tm) for task, tm in deployed.items() if tm == e.taskmanager]
        elif kind is JobFailing:
            marks.failing.append((e.t_us, e.attempt, e.cause))
        elif kind is RestartScheduled:
            marks.restarts.append((e.t_us, e.attempt, e.delay_us))
        elif kind is JobRestored:
            marks.restored.append((e.t_us, e.attempt, _restored_what(e)))
    return marks


# --- drawing ----------------------------------------------------------------------------------------------

# name -> (legend label, marker, size, face colour, edge colour, lift above the lane line)
_LANE_STYLES = {
    "failed": ("task failed", "X", 90, FAILED_COLOR, "white", 0.0),
    "faults": ("fault injected", _BOLT, 150, FAULT_COLOR, FAULT_COLOR, 0.28),
    "lost": ("TaskManager lost (no heartbeat)", "s", 55, LOST_COLOR, "white", 0.0),
    "canceled": ("task canceled (failover)", "x", 60, CANCELED_COLOR, CANCELED_COLOR, 0.0),
    "state_restored": ("state restored from a snapshot", "o", 55, RESTORED_COLOR, "black", 0.0),
    "replayed": ("in-flight data replayed", ">", 50, RESTORED_COLOR, "white", -0.22),
    "watermarks": ("watermark advanced", "^", 16, WATERMARK_COLOR, WATERMARK_COLOR, 0.2),
}
_GIDS = {"failed": "failures", "faults": "faults", "lost": "taskmanagers-lost", "canceled": "canceled",
         "state_restored": "state-restored", "replayed": "channel-state-replayed", "watermarks": "watermarks"}


def _lane_points(ax, name: str, points: list[LanePoint], rows: dict[str, int]) -> bool:
    shown = [(t, task) for t, task, _ in points if task in rows]
    if not shown:
        return False
    _, marker, size, face, edge, lift = _LANE_STYLES[name]
    style = {"linewidths": 2.0} if marker == "x" else {"edgecolors": edge, "linewidths": 0.8}
    points = ax.scatter([ms(t) for t, _ in shown], [rows[task] - lift for _, task in shown], marker=marker, s=size,
                        color=face, zorder=6.5, clip_on=False, **style)
    points.set_gid(_GIDS[name])
    return True


def _job_line(ax, t_us: int, gid: str, color: str, style: str, note: tuple[str, str], label_y: float) -> None:
    """A line across every lane, named at `label_y` (a free strip under the lanes) on the side `note[1]`."""
    line = ax.axvline(ms(t_us), color=color, linestyle=style, linewidth=1.6, zorder=6)
    line.set_gid(gid)
    text, side = note
    padded = f"{text} " if side == "right" else f" {text}"
    ax.text(ms(t_us), label_y, padded, ha=side, va="center", fontsize=8, color=color, zorder=8)


def _draw_job_marks(ax, marks: LifecycleMarks, label_y: float) -> set[str]:
    """The failover lines, restart delays and restore lines; returns the kinds drawn."""
    for t_us, attempt, _ in marks.failing:
        _job_line(ax, t_us, f"job-failing:{attempt}", LOST_COLOR, "--", (f"attempt {attempt} failing", "right"),
                  label_y)
    for t_us, attempt, delay_us in marks.restarts:
        band = ax.axvspan(ms(t_us), ms(t_us + delay_us), color=RESTART_COLOR, alpha=0.12, linewidth=0, zorder=0.5)
        band.set_gid(f"restart:{attempt}")
    for t_us, attempt, what in marks.restored:
        _job_line(ax, t_us, f"restored:{attempt}", RESTORED_COLOR, "-", (f"attempt {attempt} from {what}", "left"),
                  label_y)
    return {name for name in ("failing", "restarts", "restored") if getattr(marks, name)}


def draw_lifecycle(ax, rows: dict[str, int], marks: LifecycleMarks, label_y: float) -> list:
    """Draw `marks` on the lanes of `rows` (subtask -> y) and across the job; returns their legend entries.

    Job-wide lines are named at `label_y`, which the caller keeps free (see `needs_label_strip`).
    """
    drawn = [name for name in _LANE_STYLES if _lane_points(ax, name, getattr(marks, name), rows)]
    job = _draw_job_marks(ax, marks, label_y)
    return lifecycle_handles(drawn, job)


def needs_label_strip(marks: LifecycleMarks) -> bool:
    """Whether `draw_lifecycle` names job-wide lines (so the picture needs a free strip for them)."""
    return bool(marks.failing or marks.restored)


def lifecycle_handles(lane_kinds: Iterable[str], job_kinds: Iterable[str]) -> list:
    """Legend entries for the lane marks and job-wide marks that were drawn, in a fixed order."""
    handles = []
    for name in lane_kinds:
        label, marker, size, face, edge, _ = _LANE_STYLES[name]
        handles.append(Line2D([], [], marker=marker, linestyle="", markersize=max(size, 30) ** 0.5 + 1,
                              markerfacecolor=face, markeredgecolor=edge, color=face, label=label))
    job_kinds = set(job_kinds)
    if "failing" in job_kinds:
        handles.append(Line2D([], [], color=LOST_COLOR, linestyle="--", linewidth=1.6, label="job failing over"))
    if "restarts" in job_kinds:
        handles.append(Patch(color=RESTART_COLOR, alpha=0.25, label="restart delay"))
    if "restored" in job_kinds:
        handles.append(Line2D([], [], color=RESTORED_COLOR, linewidth=1.6, label="job restored (next attempt)"))
    return handles
