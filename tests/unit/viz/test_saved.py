"""Pictures from a saved trace alone: the same bytes as the run's own, and clear refusals."""

from __future__ import annotations

import pytest

from sim import Simulation
from sim.api import StreamExecutionEnvironment
from sim.scenario.loader import load_scenario
from sim.trace import Trace, TraceLevel
from sim.viz import draw_checkpoint_stats, draw_timelines
from sim.viz.saved import DRAWN_BY_RUN, TRACE_FIGURES, FigureError, TraceRun, draw_from_trace
from tests.conftest import SCENARIOS


@pytest.fixture(scope="module")
def aligned():
    return load_scenario(str(SCENARIOS / "03_aligned_checkpoints.py")).build(7).run()


@pytest.fixture(scope="module")
def saved(aligned, tmp_path_factory):
    """The run's trace, written and read back as `python -m sim draw` reads it."""
    return Trace.read_jsonl(aligned.trace.write_jsonl(tmp_path_factory.mktemp("trace") / "trace.jsonl"))


def test_the_trace_knows_what_the_pictures_read_of_the_run(aligned, saved):
    run = TraceRun.from_trace(saved)
    assert (run.job_name, run.seed, run.status, run.end_time_us) == \
        (aligned.job_name, aligned.seed, aligned.status, aligned.end_time_us)
    assert list(run.subtasks) == [s.id for s in aligned.execution_graph.subtasks]


def test_a_stopped_run_is_still_running():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection(list(range(50_000))).map(lambda x: x).add_sink(lambda v: None)
    result = Simulation(env).run(until_ms=1)
    assert result.status == "RUNNING"
    assert TraceRun.from_trace(result.trace).status == "RUNNING"


@pytest.mark.parametrize("figure, draw", [("timeline", draw_timelines), ("checkpoints", draw_checkpoint_stats)])
def test_drawn_from_the_trace_equals_drawn_from_the_run(aligned, saved, tmp_path, figure, draw):
    """The trace holds all a trace figure needs: its PNG is byte for byte the run's."""
    path = draw_from_trace(saved, figure, tmp_path / "from_trace.png")
    draw(aligned, tmp_path / "from_run.png")
    assert path.read_bytes() == (tmp_path / "from_run.png").read_bytes()


def test_checkpoint_table_from_the_trace(saved, tmp_path):
    path = draw_from_trace(saved, "checkpoint_table", tmp_path / "table.png")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_figures_that_need_the_graphs_are_refused_by_name(saved, tmp_path):
    for figure in DRAWN_BY_RUN:
        with pytest.raises(FigureError, match=f"figure '{figure}' needs the job's graphs"):
            draw_from_trace(saved, figure, tmp_path / "x.png")
    with pytest.raises(FigureError, match="unknown figure 'gantt'; expected one of timeline, checkpoints"):
        draw_from_trace(saved, "gantt", tmp_path / "x.png")
    assert not list(tmp_path.iterdir())
    assert set(TRACE_FIGURES).isdisjoint(DRAWN_BY_RUN)


def test_checkpoint_figures_need_checkpoints_and_every_figure_needs_a_job(tmp_path):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([1, 2, 3]).map(lambda x: x).add_sink(lambda v: None)
    trace = Simulation(env, job_name="plain", trace_level=TraceLevel.JOB).run().trace
    with pytest.raises(FigureError, match="the trace of 'plain' has no checkpoints.*figure 'checkpoints' needs"):
        draw_from_trace(trace, "checkpoints", tmp_path / "x.png")
    with pytest.raises(FigureError, match="the trace has no JobStarted event among its 0 events"):
        draw_from_trace(Trace(), "timeline", tmp_path / "x.png")
