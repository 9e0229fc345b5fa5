"""The watermark picture of real event-time runs: a line per traced subtask, late crosses, a stall that shows."""

from __future__ import annotations

import pytest

from sim.api import StreamExecutionEnvironment
from sim.api.functions import LONG_MAX
from sim.scenario.loader import load_scenario
from sim import Simulation
from sim.viz import draw_watermarks, watermark_series, write_figures
from tests.conftest import SCENARIOS


@pytest.fixture(scope="module")
def clicks():
    return load_scenario(str(SCENARIOS / "06_out_of_order_windows.py")).build(1).run()


def test_one_step_line_per_traced_subtask_and_a_cross_per_late_element(clicks, tmp_path):
    fig = draw_watermarks(clicks, tmp_path / "w.png")
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert set(lines) == set(watermark_series(clicks))
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x" and line.get_label().startswith("_")]
    assert len(crosses) == len(clicks.values("late")) > 0
    # Each cross sits at the element's timestamp, below the watermark line of its subtask at that time.
    assert all(c.get_ydata()[0] < max(wm for _, wm in watermark_series(clicks)[next(iter(lines))]
                                      if wm < LONG_MAX) for c in crosses)
    assert (tmp_path / "w.png").stat().st_size > 10_000
    assert [t.get_text() for t in ax.get_legend().get_texts()][-3:] == [
        "late element (at its timestamp)", "Long.MAX_VALUE (end of input)", "window fired"]


def test_a_stalled_watermark_is_a_flat_line():
    stalled = load_scenario(str(SCENARIOS / "08_idle_partition.py")).module.build(1, idleness_ms=None).run()
    fig = draw_watermarks(stalled)
    window_line = next(line for line in fig.axes[0].get_lines() if line.get_label().startswith("per_second"))
    assert set(window_line.get_ydata()) == {-1}


def test_write_figures_adds_the_watermark_picture_only_for_event_time(clicks, tmp_path):
    assert "watermarks.png" in [p.name for p in write_figures(clicks, tmp_path)]
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([1, 2]).add_sink(lambda v: None)
    plain = Simulation(env, seed=0).run()
    assert "watermarks.png" not in [p.name for p in write_figures(plain, tmp_path / "plain")]
    with pytest.raises(ValueError, match="no watermarks"):
        draw_watermarks(plain)
