"""Event time as a picture: each subtask's watermark over virtual time, with late elements and firings.

Layer: `sim.viz`. Reads only the trace: `WatermarkAdvanced` (one step line per
subtask, drawn until the next change; Long.MAX_VALUE at end of input is shown
as a triangle at the top rather than a jump of 292 million years),
`LateElement` (a cross at the element's timestamp, at the time it was refused,
on its subtask's colour) and `WindowFired` (a tick on the time axis). A line
that stays flat while time passes is a stalled watermark.

Flink counterpart: the web UI's "Watermarks" tab (current input watermark
per subtask), drawn over time.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.api.functions import LONG_MAX, LONG_MIN
from sim.trace import LateElement, WatermarkAdvanced, WindowFired
from sim.viz.style import lane_label, new_figure, save_png

if TYPE_CHECKING:
    from sim.scenario.result import RunResult

MIN_SPAN_MS = 1000
"""The event-time axis spans at least this much, so a flat (stalled) watermark reads as flat."""
_PALETTE = ["#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2", "#7F7F7F"]


def watermark_series(result: RunResult) -> dict[str, list[tuple[int, int]]]:
    """Per traced operator (`window[1]`), its watermarks as (t_us, watermark ms), in time order."""
    series: dict[str, list[tuple[int, int]]] = {}
    for e in result.trace:
        if isinstance(e, WatermarkAdvanced):
            series.setdefault(e.operator, []).append((e.t_us, e.watermark))
    return series


def draw_watermarks(result: RunResult, path: str | os.PathLike | None = None) -> Figure:
    """One step line per subtask: virtual processing time (ms) across, event time (ms) up.

    Raises:
        ValueError: The run has no watermarks (it does not use event time, or
            was traced below the checkpoints level).
    """
    series = watermark_series(result)
    if not series:
        raise ValueError(f"run {result.job_name!r} has no watermarks to draw: it does not use event time, "
                         f"or its trace level is below 'checkpoints'")
    end_ms = result.end_time_us / 1000
    fig = new_figure(10, 5)
    ax = fig.add_subplot()
    finite = [wm for points in series.values() for _, wm in points if LONG_MIN < wm < LONG_MAX]
    late = [e for e in result.trace if isinstance(e, LateElement)]
    values = finite + [e.timestamp for e in late] or [0]
    floor, top = min(values), max(max(values), min(values) + MIN_SPAN_MS)
    colors, ended = {}, False
    for i, (operator, points) in enumerate(series.items()):
        color = colors[operator] = _PALETTE[i % len(_PALETTE)]
        xs, ys = [], []
        for t_us, wm in points:
            if wm == LONG_MAX:  # end of input: a triangle at the top instead of a jump off the scale
                ax.plot(t_us / 1000, top, "^", color=color, ms=8)
                ended = True
                break
            xs.append(t_us / 1000)
            ys.append(max(wm, floor))
        if xs:
            xs.append(end_ms if points[-1][1] != LONG_MAX else points[-1][0] / 1000)
            ys.append(ys[-1])
            ax.step(xs, ys, where="post", color=color, lw=1.6, label=lane_label(operator))
    ax.set_ylim(floor - 0.05 * (top - floor), top + 0.08 * (top - floor))
    for e in late:
        ax.plot(e.t_us / 1000, e.timestamp, "x", color=colors.get(e.operator, "#000000"), ms=8, mew=2)
    fired = sorted({e.t_us for e in result.trace if isinstance(e, WindowFired)})
    for t_us in fired:
        ax.axvline(t_us / 1000, ymin=0, ymax=0.03, color="#444444", lw=1)
    ax.set_xlabel("virtual processing time (ms)")
    ax.set_ylabel("event time (ms)")
    ax.set_title(f"{result.job_name}: watermark per subtask")
    handles, labels = ax.get_legend_handles_labels()
    if late:
        handles.append(Line2D([], [], marker="x", ls="", color="#000000", mew=2))
        labels.append("late element (at its timestamp)")
    if ended:
        handles.append(Line2D([], [], marker="^", ls="", color="#000000"))
        labels.append("Long.MAX_VALUE (end of input)")
    if fired:
        handles.append(Line2D([], [], marker="|", ls="", color="#444444", ms=10))
        labels.append("window fired")
    ax.legend(handles, labels, loc="upper left", fontsize=8, frameon=True)
    ax.grid(alpha=0.3)
    save_png(fig, path)
    return fig
