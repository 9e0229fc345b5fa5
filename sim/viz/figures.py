"""Every standard picture of a run, written as PNG files into one folder.

Layer: `sim.viz`; called by `sim.cli` after a run. Reads only the run's trace,
graphs and placements, through the drawing functions of this package. A run
that triggered checkpoints also gets its checkpoint statistics and history. Must not
change the run or depend on a display.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sim.trace import BufferFlushed, BufferSent, WatermarkAdvanced
from sim.viz.barriers import checkpoint_outcomes
from sim.viz.checkpoints import draw_checkpoint_stats, draw_checkpoint_table
from sim.viz.graphs import draw_execution_graph, draw_job_graph
from sim.viz.occupancy import draw_occupancy
from sim.viz.spacetime import draw_spacetime
from sim.viz.style import ms
from sim.viz.timeline import draw_timelines
from sim.viz.watermarks import draw_watermarks

if TYPE_CHECKING:
    from sim.scenario.result import RunResult

SPACETIME_BUFFERS = 300

FIGURE_CAPTIONS = {
    "job_graph.png": "Job graph: the operator chains and the edges between them, with their partitioners",
    "execution_graph.png": "Execution graph: every subtask on its TaskManager, and the channels between them",
    "timeline.png": "Subtask timelines: busy, backpressured, idle and aligning time of each subtask",
    "spacetime.png": "Space-time diagram: buffers, channel events and barriers between subtasks",
    "occupancy.png": "Buffers per channel: queued at the sender and at the receiver, and backpressured producers",
    "checkpoints.png": "Checkpoint statistics: durations and sizes of each checkpoint",
    "checkpoint_table.png": "Checkpoint history, with the fields of Flink's web UI",
}


def spacetime_window_ms(result: RunResult, buffers: int = SPACETIME_BUFFERS) -> tuple[float, float] | None:
    """The time range (ms) of the first `buffers` buffers sent, or None for the whole run.

    The window runs from the first send to the latest arrival among them, so a
    long run still gets a readable space-time diagram of its beginning. A run
    that sent no more than `buffers` buffers is shown whole.
    """
    sent = sorted((e for e in result.trace if isinstance(e, BufferSent)), key=lambda e: e.t_us)
    if len(sent) <= buffers:
        return None
    sent = sent[:buffers]
    return ms(sent[0].t_us), ms(max(e.arrival_us for e in sent))


def spacetime_checkpoint(result: RunResult) -> int | None:
    """The checkpoint the standard space-time diagram shows, or None when the run triggered none.

    The second completed checkpoint (the first one often overlaps start-up),
    else the first completed, else the first triggered.
    """
    outcomes = checkpoint_outcomes(result.trace)
    completed = [cid for cid, outcome in outcomes.items() if outcome.status == "COMPLETED"]
    if completed:
        return completed[min(1, len(completed) - 1)]
    return next(iter(outcomes), None)


def write_figures(result: RunResult, out_dir: str | os.PathLike) -> list[Path]:
    """Write job_graph.png, execution_graph.png, timeline.png and spacetime.png into `out_dir`,
    occupancy.png when the trace holds buffers (BUFFERS level, channels between subtasks),
    checkpoints.png and checkpoint_table.png when the run triggered checkpoints, and
    watermarks.png when it traced watermarks (a job that uses event time).

    The space-time diagram covers one checkpoint (`spacetime_checkpoint`), from
    its trigger to its end, widened a little, with all its barriers; without
    checkpoints it covers the first `SPACETIME_BUFFERS` buffers (the whole run
    if fewer were sent). Each figure is cleared after saving; figures are
    never registered with pyplot, so nothing is kept alive.

    Args:
        result: the run.
        out_dir: the folder (created if missing).

    Returns:
        The paths written, in the order above.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = spacetime_checkpoint(result)
    window = (None, None) if checkpoint is not None else spacetime_window_ms(result) or (None, None)
    jobs = [
        ("job_graph.png", lambda p: draw_job_graph(result.job_graph, p)),
        ("execution_graph.png", lambda p: draw_execution_graph(result.execution_graph, result.placements, p)),
        ("timeline.png", lambda p: draw_timelines(result, p)),
        ("spacetime.png", lambda p: draw_spacetime(result, p, start_ms=window[0], end_ms=window[1],
                                                   checkpoint_id=checkpoint)),
    ]
    if result.execution_graph.channels and any(isinstance(e, BufferFlushed) for e in result.trace):
        jobs.append(("occupancy.png", lambda p: draw_occupancy(result, p)))
    if checkpoint is not None:
        jobs += [("checkpoints.png", lambda p: draw_checkpoint_stats(result, p)),
                 ("checkpoint_table.png", lambda p: draw_checkpoint_table(result, p))]
    if any(isinstance(e, WatermarkAdvanced) for e in result.trace):
        jobs.append(("watermarks.png", lambda p: draw_watermarks(result, p)))
    written = []
    for name, draw in jobs:
        path = out / name
        draw(path).clear()
        written.append(path)
    return written
