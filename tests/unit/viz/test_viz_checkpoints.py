"""Checkpoint pictures of the checkpoint scenarios: barriers, blocked channels, snapshots, statistics.

Checked for content (which arrows, strips, bars and rows are drawn, and where), not pixels.
"""

from __future__ import annotations

import pytest
from matplotlib.patches import FancyArrowPatch, Rectangle

from sim import Simulation, TraceLevel
from sim.api import StreamExecutionEnvironment
from sim.scenario.loader import load_scenario
from sim.trace import (
    AlignmentTimedOut, BarrierReceived, BarrierSent, ChannelBlocked, ChannelResumed, SnapshotTaken, TaskDeployed,
    TaskFinished,
)
from sim.viz import (
    blocked_spans, checkpoint_table, draw_checkpoint_stats, draw_checkpoint_table, draw_spacetime, draw_timelines,
    write_figures,
)
from sim.viz.barriers import checkpoint_window_us, merged_intervals, stack_slots
from sim.viz.figures import spacetime_checkpoint
from sim.viz.marks import ALIGNING_LABEL, SNAPSHOT_LABEL, TIMEOUT_LABEL

ALIGNED = "scenarios/03_aligned_checkpoints.py"
UNALIGNED = "scenarios/04_unaligned_checkpoints.py"
WAITING_TASK = "count->sink[0]"
FAST_CHANNEL = "source->pair[0]->count->sink[0]"  # local: its barrier arrives first and the channel waits
SLOW_CHANNEL = "source->pair[1]->count->sink[0]"  # over the slow tm-1 -> tm-0 link


def scenario_run(path: str, seed: int, level: TraceLevel, configure=None):
    simulation = load_scenario(path).module.build(seed)
    simulation.trace_level = level
    if configure is not None:
        configure(simulation.env.get_checkpoint_config())
    return simulation.run()


@pytest.fixture(scope="module")
def aligned():
    return scenario_run(ALIGNED, 7, TraceLevel.BUFFERS)


@pytest.fixture(scope="module")
def unaligned():
    return scenario_run(UNALIGNED, 3, TraceLevel.CHECKPOINTS)


@pytest.fixture(scope="module")
def expiring():
    """The aligned scenario with a 90 ms checkpoint timeout: the slowest checkpoints expire."""
    return scenario_run(ALIGNED, 7, TraceLevel.CHECKPOINTS,
                        lambda config: config.set_checkpoint_timeout(90).set_tolerable_checkpoint_failure_number(99))


@pytest.fixture(scope="module")
def timing_out():
    """The aligned scenario with unaligned checkpoints after a 10 ms alignment timeout."""
    return scenario_run(ALIGNED, 7, TraceLevel.CHECKPOINTS,
                        lambda config: config.enable_unaligned_checkpoints().set_aligned_checkpoint_timeout(10))


def texts(fig) -> list[str]:
    found = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize"))]
    return [t for t in found if isinstance(t, str)]


def with_gid(fig, prefix: str, kind=None) -> list:
    return [a for a in fig.findobj(kind) if (a.get_gid() or "").startswith(prefix)]


def lane(result, task: str) -> int:
    return [s.id for s in result.execution_graph.subtasks].index(task)


def received_us(result, channel: str, checkpoint_id: int) -> int:
    return next(e.t_us for e in result.trace.of_type(BarrierReceived)
                if e.channel == channel and e.checkpoint_id == checkpoint_id)


# --- pure helpers ----------------------------------------------------------------------------------


def test_blocked_spans_of_a_scripted_trace():
    trace = [
        TaskDeployed(0, "b[0]", "tm-0", 0),
        ChannelBlocked(10, "b[0]", "a[0]->b[0]", 1),
        ChannelBlocked(15, "b[0]", "a[1]->b[0]", 1),  # blocked together with a[0]'s channel
        ChannelResumed(30, "b[0]", "a[0]->b[0]"),
        ChannelResumed(30, "b[0]", "a[1]->b[0]"),
        ChannelBlocked(40, "b[0]", "a[0]->b[0]", 2),
        ChannelResumed(40, "b[0]", "a[0]->b[0]"),  # the last barrier blocks and resumes at once: dropped
        ChannelResumed(45, "b[0]", "a[1]->b[0]"),  # never blocked: ignored
        ChannelBlocked(50, "c[0]", "b[0]->c[0]", 2),
        TaskFinished(60, "c[0]"),  # closes c's span
        ChannelBlocked(70, "b[0]", "a[1]->b[0]", 3),
        TaskDeployed(90, "d[0]", "tm-0", 0),  # b's last span is still open: closed at the end of the trace
    ]
    assert blocked_spans(trace) == {
        "b[0]": [(10, 30, "a[0]->b[0]", 1), (15, 30, "a[1]->b[0]", 1), (70, 90, "a[1]->b[0]", 3)],
        "c[0]": [(50, 60, "b[0]->c[0]", 2)],
    }


def test_overlapping_spans_get_their_own_rows_and_merge_into_one_band():
    spans = [(10, 30), (15, 30), (30, 40), (35, 50)]
    assert stack_slots(spans) == [0, 1, 0, 1]
    assert merged_intervals(spans) == [(10, 50)]


def test_the_fast_channel_waits_for_the_slow_one(aligned):
    spans = blocked_spans(aligned.trace)[WAITING_TASK]
    waiting = [s for s in spans if s[2] == FAST_CHANNEL and s[3] == 2]
    assert len(waiting) == 1
    start, end, _, _ = waiting[0]
    assert start < end
    assert (start, end) == (received_us(aligned, FAST_CHANNEL, 2), received_us(aligned, SLOW_CHANNEL, 2))


# --- space-time diagram ----------------------------------------------------------------------------


def test_spacetime_of_a_checkpoint_draws_all_its_barriers_and_the_blocked_channel(aligned):
    fig = draw_spacetime(aligned, checkpoint_id=2)
    sent = [e for e in aligned.trace.of_type(BarrierSent) if e.checkpoint_id == 2]
    arrows = with_gid(fig, "barrier:", FancyArrowPatch)
    assert sorted(a.get_gid() for a in arrows) == sorted(f"barrier:2:{e.channel}" for e in sent)
    assert {e.channel for e in sent} == {c.id for c in aligned.execution_graph.channels}
    assert all(a.get_linestyle() == "-" for a in arrows)
    slow = next(e for e in sent if e.channel == SLOW_CHANNEL)
    arrow = next(a for a in arrows if a.get_gid() == f"barrier:2:{SLOW_CHANNEL}")
    assert arrow._posA_posB == [(slow.t_us / 1000, lane(aligned, "source->pair[1]")),
                                (slow.arrival_us / 1000, lane(aligned, WAITING_TASK))]

    strip, = with_gid(fig, f"blocked:{WAITING_TASK}:{FAST_CHANNEL}", Rectangle)
    row = lane(aligned, WAITING_TASK)
    assert row < strip.get_y() < strip.get_y() + strip.get_height() < row + 0.5
    assert strip.get_x() == pytest.approx(received_us(aligned, FAST_CHANNEL, 2) / 1000)
    assert strip.get_x() + strip.get_width() == pytest.approx(received_us(aligned, SLOW_CHANNEL, 2) / 1000)

    start_us, end_us = checkpoint_window_us(aligned.trace, 2)
    low, high = fig.axes[0].get_xlim()
    assert low < start_us / 1000 and end_us / 1000 < high < end_us / 1000 + 0.3 * (end_us - start_us) / 1000
    assert "checkpoint 2" in fig.get_suptitle()
    assert {"barrier 2", ALIGNING_LABEL, SNAPSHOT_LABEL, " checkpoint 2 triggered", "checkpoint 2 completed "} \
        <= set(texts(fig))


def test_spacetime_never_samples_barriers_away(aligned):
    fig = draw_spacetime(aligned, max_arrows=1)
    assert len(with_gid(fig, "barrier:", FancyArrowPatch)) == len(aligned.trace.of_type(BarrierSent))
    assert "colours repeat" in " ".join(texts(fig))


def test_unaligned_barriers_are_dotted_and_block_nothing(unaligned):
    fig = draw_spacetime(unaligned, checkpoint_id=2)
    arrows = with_gid(fig, "barrier:2:", FancyArrowPatch)
    assert len(arrows) == len(unaligned.execution_graph.channels)
    assert all(a.get_linestyle() == ":" for a in arrows)
    assert blocked_spans(unaligned.trace) == {}
    assert not with_gid(fig, "blocked:")
    assert "priority barrier (unaligned)" in texts(fig)
    assert "no buffers or steps recorded" in fig.get_suptitle()


def test_an_alignment_timeout_is_starred_and_its_barrier_promoted(timing_out):
    timeouts = timing_out.trace.of_type(AlignmentTimedOut)
    assert timeouts
    cid = timeouts[0].checkpoint_id
    fig = draw_spacetime(timing_out, checkpoint_id=cid)
    stars, = with_gid(fig, "alignment-timeouts")
    assert len(stars.get_offsets()) == sum(t.checkpoint_id == cid for t in timeouts)
    styles = {a.get_gid(): a.get_linestyle() for a in with_gid(fig, "barrier:", FancyArrowPatch)}
    assert ":" in styles.values() and "-" in styles.values()
    assert TIMEOUT_LABEL in texts(fig)


def test_spacetime_rejects_an_unknown_checkpoint(aligned):
    with pytest.raises(ValueError, match="no checkpoint 99"):
        draw_spacetime(aligned, checkpoint_id=99)


# --- timelines -------------------------------------------------------------------------------------


def test_timelines_show_aligning_and_snapshots(aligned):
    fig = draw_timelines(aligned)
    assert with_gid(fig, f"blocked:{WAITING_TASK}:", Rectangle)
    snapshots, = with_gid(fig, "snapshots")
    assert len(snapshots.get_offsets()) == len(aligned.trace.of_type(SnapshotTaken))
    assert {ALIGNING_LABEL, SNAPSHOT_LABEL} <= set(texts(fig))
    assert any("align" in t and t.startswith("busy") for t in texts(fig))


# --- statistics --------------------------------------------------------------------------------------


def test_stats_chart_has_one_bar_group_per_checkpoint(expiring):
    stats = expiring.checkpoints
    failed = [s for s in stats if s.status == "FAILED"]
    assert failed and len(failed) < len(stats)
    fig = draw_checkpoint_stats(expiring)
    groups = {int(a.get_gid().split(":")[1]) for a in with_gid(fig, "end to end:", Rectangle)}
    assert groups == set(range(len(stats)))
    assert texts(fig).count("FAILED\nEXPIRED") == len(failed)
    assert f"triggered {len(stats)}, completed {len(stats) - len(failed)}, failed {len(failed)}" \
        in fig.get_suptitle()


def test_table_rows_follow_the_web_ui(expiring, unaligned):
    rows = checkpoint_table(expiring)
    assert [r[:2] for r in rows] == [[str(s.checkpoint_id), s.status] for s in expiring.checkpoints]
    assert {r[1] for r in rows} == {"COMPLETED", "FAILED"}
    assert rows[1][2] == "4/4" and rows[1][3] == "200.0 ms" and rows[1][8] == "no"
    unaligned_rows = checkpoint_table(unaligned)
    assert len(unaligned_rows) == len(unaligned.checkpoints)
    assert all(r[1] == "COMPLETED" and r[8] == "yes" and r[7] != "0 B" for r in unaligned_rows)
    fig = draw_checkpoint_table(expiring)
    cells = fig.axes[0].tables[0].get_celld()
    assert max(row for row, _ in cells) == len(rows)
    assert "failed: 1, 3" in " ".join(texts(fig))


# --- files -------------------------------------------------------------------------------------------


def test_write_figures_adds_the_checkpoint_pictures(aligned, tmp_path):
    assert spacetime_checkpoint(aligned) == 2
    first = write_figures(aligned, tmp_path / "a")
    assert [p.name for p in first][-2:] == ["checkpoints.png", "checkpoint_table.png"]
    second = write_figures(aligned, tmp_path / "b")
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_write_figures_without_checkpoints_or_channels_writes_four(tmp_path):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection(["a b", "b c"]).flat_map(lambda s: s.split()).add_sink(lambda v: None)
    result = Simulation(env, seed=1).run()
    names = [p.name for p in write_figures(result, tmp_path)]
    assert names == ["job_graph.png", "execution_graph.png", "timeline.png", "spacetime.png"]
