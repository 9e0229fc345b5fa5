"""Pictures drawn from a saved trace alone, without the run or its job graph.

Layer: `sim.viz`; called by `python -m sim draw`. A trace file holds every event
but not the job's graphs, so only the pictures that need no more than the trace
can be drawn from it:

- `timeline`: lanes in deployment order (`TaskDeployed`), which is the
  execution graph's order, so the picture is the one `run` draws;
- `checkpoints` and `checkpoint_table`: the trace's checkpoint statistics;
- `occupancy`: buffers per channel, each channel's two ends resolved against
  the deployed subtasks (`sim.viz.occupancy.split_channel_id`).

The job graph, the execution graph and the space-time diagram need the graphs
(an operator's chain, a channel's two ends and its partitioner), which a trace
does not record: `DRAWN_BY_RUN` names them, and asking for one says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from sim.trace import BufferFlushed, CheckpointTriggered, JobFinished, JobStarted, TaskDeployed, Trace
from sim.viz.checkpoints import draw_checkpoint_stats, draw_checkpoint_table
from sim.viz.occupancy import draw_occupancy
from sim.viz.timeline import draw_timelines, trace_end_us

DRAWN_BY_RUN = ("job_graph", "execution_graph", "spacetime")


class FigureError(ValueError):
    """A figure cannot be drawn from this trace; the message says what is missing."""


@dataclass(frozen=True)
class TraceRun:
    """A run known only from its trace: what the trace-only pictures read of a `RunResult`.

    Attributes:
        trace: the events.
        job_name: from `JobStarted`.
        seed: from `JobStarted`.
        status: from `JobFinished`, or "RUNNING" when the run stopped first (as `RunResult`).
        end_time_us: the last event's time (the run ends with `JobFinished` or `RunStopped`).
        subtasks: every deployed subtask, in order of first deployment.
    """

    trace: Trace
    job_name: str
    seed: int
    status: str
    end_time_us: int
    subtasks: tuple[str, ...]

    @classmethod
    def from_trace(cls, trace: Trace) -> TraceRun:
        """Read the run's identity from its events.

        Raises:
            FigureError: the trace has no `JobStarted` event.
        """
        started = next((e for e in trace if isinstance(e, JobStarted)), None)
        if started is None:
            raise FigureError(f"the trace has no JobStarted event among its {len(trace)} events; expected the "
                              "trace of a whole run, as `python -m sim run` writes it")
        finished = [e.status for e in trace if isinstance(e, JobFinished)]
        deployed = dict.fromkeys(e.task for e in trace if isinstance(e, TaskDeployed))
        return cls(trace, started.job_name, started.seed, finished[-1] if finished else "RUNNING",
                   trace_end_us(trace), tuple(deployed))


TRACE_FIGURES: dict[str, Callable[[TraceRun, Path], Figure]] = {
    "timeline": lambda run, path: draw_timelines(run, path, lanes=run.subtasks),
    "checkpoints": draw_checkpoint_stats,
    "checkpoint_table": draw_checkpoint_table,
    "occupancy": draw_occupancy,
}
NEEDS_CHECKPOINTS = ("checkpoints", "checkpoint_table")


def _check_drawable(run: TraceRun, figure: str) -> None:
    """Raise `FigureError` unless `figure` can be drawn from `run`'s trace."""
    if figure in DRAWN_BY_RUN:
        raise FigureError(f"figure {figure!r} needs the job's graphs, which a trace does not hold; draw it with "
                          f"`python -m sim run`, or choose one of {', '.join(TRACE_FIGURES)}")
    if figure not in TRACE_FIGURES:
        raise FigureError(f"unknown figure {figure!r}; expected one of {', '.join(TRACE_FIGURES)}")
    if figure in NEEDS_CHECKPOINTS and not run.trace.of_type(CheckpointTriggered):
        raise FigureError(f"the trace of {run.job_name!r} has no checkpoints (the job does not checkpoint, or the "
                          f"trace level is below checkpoints); figure {figure!r} needs a CheckpointTriggered event")
    if figure == "occupancy" and not run.trace.of_type(BufferFlushed):
        raise FigureError(f"the trace of {run.job_name!r} holds no buffers (its level is below buffers, or no "
                          f"channel carried data); figure 'occupancy' needs BufferFlushed events")


def draw_from_trace(trace: Trace, figure: str, path: str | os.PathLike) -> Path:
    """Draw one of `TRACE_FIGURES` from `trace` and save it as PNG at `path` (its folder is created).

    Raises:
        FigureError: the trace is not a whole run's, or `figure` is unknown,
            needs the job's graphs, or needs checkpoints the trace lacks.
    """
    run = TraceRun.from_trace(trace)
    _check_drawable(run, figure)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    TRACE_FIGURES[figure](run, path).clear()
    return path
