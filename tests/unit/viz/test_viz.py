"""Pictures of real word-count runs: checked for content (lanes, arrows, labels), not pixels."""

from __future__ import annotations

import subprocess
import sys

import pytest
from matplotlib.collections import PathCollection
from matplotlib.patches import FancyArrowPatch

from sim import ClusterSpec, CostModel, NetworkConfig, Simulation
from sim.api import StreamExecutionEnvironment
from sim.trace import (
    BackpressureEnded, BackpressureStarted, BufferConsumed, BufferSent, ChannelEventSent, FaultInjected,
    SourceRecordsEmitted, TaskCanceled, TaskDeployed, TaskFailed, TaskFinished,
)
from sim.viz import (
    channel_messages, draw_execution_graph, draw_job_graph, draw_spacetime, draw_timelines, task_spans,
    write_figures,
)
from sim.viz.style import lane_label
from sim.viz.timeline import task_lifetimes

SENTENCES = [f"the quick brown fox {i % 17} jumps over the lazy dog {i % 5}" for i in range(300)]


def word_count(sentences=SENTENCES) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    (env.from_collection(sentences)
        .flat_map(lambda s: s.split())
        .map(lambda w: (w, 1) if w != "boom" else 1 // 0)
        .key_by(lambda t: t[0])
        .sum(1)
        .add_sink(lambda v: None))
    return env


@pytest.fixture(scope="module")
def run():
    """Two TaskManagers of one slot each, so some channels are remote."""
    return Simulation(word_count(), cluster=ClusterSpec(task_managers=2, slots_per_task_manager=1), seed=7).run()


@pytest.fixture(scope="module")
def slow_run():
    """A slow sink and small buffers: the flat_map->map tasks run out of credit and are backpressured."""
    cluster = ClusterSpec(task_managers=2, slots_per_task_manager=2,
                          network=NetworkConfig(segment_size_bytes=4096),
                          costs=CostModel(operator_cpu_ns={"sink": 300_000}))
    return Simulation(word_count(), cluster=cluster, seed=7).run()


@pytest.fixture(scope="module")
def failed_run():
    sentences = SENTENCES[:50] + ["boom goes the map"] + SENTENCES[50:100]
    return Simulation(word_count(sentences), seed=7).run()


def subtask_ids(result) -> list[str]:
    return [s.id for s in result.execution_graph.subtasks]


def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize"))]


def arrows(fig) -> list[FancyArrowPatch]:
    return [p for p in fig.axes[0].patches if isinstance(p, FancyArrowPatch)]


# --- task_spans: pure ----------------------------------------------------------------------


def test_task_spans_of_a_scripted_trace():
    trace = [
        TaskDeployed(0, "a[0]", "tm-0", 0),
        TaskDeployed(0, "b[0]", "tm-0", 0),
        SourceRecordsEmitted(5, "a[0]", 10, 5),  # steps are stamped when they end: [0, 5)
        SourceRecordsEmitted(10, "a[0]", 10, 5),  # touches the previous step: merged
        BackpressureStarted(10, "a[0]"),
        BackpressureEnded(30, "a[0]"),
        BufferConsumed(40, "b[0]", "a[0]->b[0]", 0, 10, 0),  # no CPU: no span
        BufferConsumed(50, "b[0]", "a[0]->b[0]", 1, 10, 9),
        BackpressureStarted(50, "a[0]"),
        BackpressureStarted(55, "b[0]"),
        TaskFinished(60, "b[0]"),  # closes b's backpressure
        TaskFinished(80, "x[0]"),  # a's backpressure never ends: closed at the end of the trace
    ]
    assert task_spans(trace) == {
        "a[0]": [(0, 10, "busy"), (10, 30, "backpressured"), (50, 80, "backpressured")],
        "b[0]": [(41, 50, "busy"), (55, 60, "backpressured")],
    }


def test_a_failover_ends_each_deployment_where_its_task_stopped():
    """A canceled task, and every task of a crashed TaskManager, stop living (and being backpressured) there;
    the next attempt's deployment is a new lifetime, so the shares are of the time the task was deployed."""
    trace = [
        TaskDeployed(0, "a[0]", "tm-0", 0),
        TaskDeployed(0, "b[0]", "tm-1", 0),
        BackpressureStarted(10, "a[0]"),
        FaultInjected(20, "crash_taskmanager", "tm-1", "crash tm-1 at 0.02 ms"),
        TaskCanceled(40, "a[0]", 0),  # a's backpressure ends here, not at its next deployment
        TaskDeployed(60, "a[0]", "tm-0", 0),
        TaskDeployed(60, "b[0]", "tm-1", 0),
        TaskFinished(90, "a[0]"),
        TaskFinished(100, "b[0]"),
    ]
    assert task_lifetimes(trace) == {"a[0]": [(0, 40), (60, 90)], "b[0]": [(0, 20), (60, 100)]}
    assert task_spans(trace)["a[0]"] == [(10, 40, "backpressured")]


def test_every_subtask_has_sorted_busy_spans(run):
    spans = task_spans(run.trace)
    assert sorted(spans) == sorted(subtask_ids(run))
    for task, task_spans_ in spans.items():
        assert any(state == "busy" for _, _, state in task_spans_), task
        assert task_spans_ == sorted(task_spans_)
        for (s1, e1, _), (s2, _, _) in zip(task_spans_, task_spans_[1:]):
            assert s1 < e1 <= s2, task


def test_backpressure_shows_upstream_of_the_slow_sink(slow_run):
    assert slow_run.trace.of_type(BackpressureStarted), "the slow sink run must backpressure"
    spans = task_spans(slow_run.trace)
    for task in ("flat_map->map[0]", "flat_map->map[1]"):
        assert any(state == "backpressured" for _, _, state in spans[task]), task
    for task in ("sum->sink[0]", "sum->sink[1]"):
        assert all(state == "busy" for _, _, state in spans[task]), task


# --- timelines ---------------------------------------------------------------------------------


def test_timeline_has_one_lane_per_subtask_in_graph_order(slow_run, tmp_path):
    fig = draw_timelines(slow_run, tmp_path / "t.png")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == [lane_label(s) for s in subtask_ids(slow_run)]
    assert (tmp_path / "t.png").stat().st_size > 5_000
    assert "backpressured" in texts(fig)


def test_timeline_marks_the_failure_with_an_x(failed_run):
    assert failed_run.status == "FAILED"
    failure = failed_run.trace.of_type(TaskFailed)[0]
    fig = draw_timelines(failed_run)
    marks = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    assert len(marks) == 1
    (x, y), = marks[0].get_offsets().tolist()
    assert (x, y) == (failure.t_us / 1000, subtask_ids(failed_run).index(failure.task))
    assert "task failed" in texts(fig)


# --- space-time diagram ---------------------------------------------------------------------------


def test_spacetime_draws_every_buffer_and_event(run):
    fig = draw_spacetime(run)
    buffers, events = run.trace.of_type(BufferSent), run.trace.of_type(ChannelEventSent)
    assert buffers and events
    drawn = arrows(fig)
    assert len(drawn) == len(buffers) + len(events)
    assert sum(a.get_linestyle() == "--" for a in drawn) == len(events)
    assert "EndOfPartition" in texts(fig)


def test_spacetime_respects_the_time_window(slow_run):
    messages = channel_messages(slow_run.trace, slow_run.execution_graph)
    start_ms, end_ms = 20.0, 60.0
    inside = [m for m in messages if 20_000 <= m.sent_us <= 60_000]
    assert 0 < len(inside) < len(messages)
    fig = draw_spacetime(slow_run, start_ms=start_ms, end_ms=end_ms, max_arrows=10_000)
    assert len(arrows(fig)) == len(inside)
    low, high = fig.axes[0].get_xlim()
    assert low <= start_ms and end_ms <= high and high - low < 1.1 * (end_ms - start_ms)


def test_spacetime_samples_every_kth_buffer(slow_run):
    buffers = len(slow_run.trace.of_type(BufferSent))
    events = len(slow_run.trace.of_type(ChannelEventSent))
    fig = draw_spacetime(slow_run, max_arrows=10)
    step = -(-buffers // 10)
    assert len(arrows(fig)) == -(-buffers // step) + events
    assert f"showing 1 in {step}" in fig.get_suptitle()


def test_spacetime_shows_only_the_chosen_subtasks(run):
    chosen = ["sum->sink[1]", "flat_map->map[0]"]
    fig = draw_spacetime(run, subtasks=chosen)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["flat_map->map[0]", "sum->sink[1]"]
    expected = [m for m in channel_messages(run.trace, run.execution_graph)
                if m.producer == "flat_map->map[0]" and m.consumer == "sum->sink[1]"]
    assert len(arrows(fig)) == len(expected) > 0


def test_spacetime_rejects_unknown_subtasks_and_bad_windows(run):
    with pytest.raises(ValueError, match=r"no subtasks \['map\[9\]'\]"):
        draw_spacetime(run, subtasks=["map[9]"])
    with pytest.raises(ValueError, match="ends"):
        draw_spacetime(run, start_ms=5, end_ms=1)
    with pytest.raises(ValueError, match="max_arrows"):
        draw_spacetime(run, max_arrows=0)


# --- graphs ----------------------------------------------------------------------------------------


def test_job_graph_boxes_name_the_operators_and_edges_the_partitioners(run):
    fig = draw_job_graph(run.job_graph)
    found = texts(fig)
    for vertex in run.job_graph.vertices:
        names = [op.name for op in vertex.operators] + [f"p={vertex.parallelism}"]
        assert any(all(name in text for name in names) for text in found), vertex.id
    assert {"REBALANCE", "HASH"} <= set(found)
    assert len(arrows(fig)) == len(run.job_graph.edges)


def test_execution_graph_dashes_remote_channels(run):
    fig = draw_execution_graph(run.execution_graph, run.placements)
    found = texts(fig)
    for sid in subtask_ids(run):
        placement = run.placements[sid]
        assert f"{lane_label(sid)}\n{placement.taskmanager} / slot {placement.slot}" in found
    remote = [c for c in run.execution_graph.channels
              if run.placements[c.producer].taskmanager != run.placements[c.consumer].taskmanager]
    drawn = arrows(fig)
    assert len(drawn) == len(run.execution_graph.channels)
    assert sum(a.get_linestyle() == "--" for a in drawn) == len(remote) > 0
    assert {"tm-0", "tm-1"} <= set(found)


# --- files -----------------------------------------------------------------------------------------


def test_write_figures_writes_five_pngs(slow_run, tmp_path):
    paths = write_figures(slow_run, tmp_path / "figs")
    assert [p.name for p in paths] == ["job_graph.png", "execution_graph.png", "timeline.png", "spacetime.png",
                                       "occupancy.png"]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5_000, path.name


def test_same_run_gives_the_same_png_bytes(run, tmp_path):
    draw_spacetime(run, tmp_path / "a.png")
    draw_spacetime(run, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_drawing_never_loads_pyplot(tmp_path):
    """In a fresh interpreter, drawing and saving every figure leaves pyplot unimported."""
    code = (
        "import sys\n"
        "from sim import Simulation\n"
        "from sim.api import StreamExecutionEnvironment\n"
        "from sim.viz import write_figures\n"
        "env = StreamExecutionEnvironment.get_execution_environment()\n"
        "env.from_collection(['a b', 'b c']).flat_map(lambda s: s.split()).add_sink(lambda v: None)\n"
        "write_figures(Simulation(env, seed=1).run(), sys.argv[1])\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.glob("*.png"))) == 4


# --- labels ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("subtask", "label"), [
    ("sum->sink[1]", "sum->sink[1]"),
    ("source->flat_map->filter->map->sink[3]", "source->\u2026->sink[3]"),
    ("tokenize_sentences_into_words->map->filter[0]", "tokenize_senten\u2026->\u2026->filter[0]"),
    ("a_very_long_single_operator_name_here[3]", "a_very_long_single_operato\u2026[3]"),
])
def test_lane_labels_keep_the_ends_of_long_chains(subtask, label):
    assert lane_label(subtask) == label
    assert len(lane_label(subtask)) <= 30
