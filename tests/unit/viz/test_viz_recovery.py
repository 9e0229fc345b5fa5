"""Failures, failover, restarts, restores and watermarks on the space-time diagram.

The recovery events are written here as event objects around a real run's trace (the runtime does not
emit them all yet); a failing map function gives a real `TaskFailed`. Checked for content: which marks,
on which lanes, at which times, and their legend entries.
"""

from __future__ import annotations

import dataclasses

import pytest

from sim import ClusterSpec, Simulation
from sim.api import StreamExecutionEnvironment
from sim.trace import (
    ChannelStateReplayed, FaultInjected, JobFailing, JobRestored, RestartScheduled, StateRestored, TaskCanceled,
    TaskDeployed, TaskFailed, TaskManagerLost, Trace, WatermarkAdvanced,
)
from sim.viz import draw_spacetime
from sim.viz.lifecycle import fault_lanes, lifecycle_marks

LINES = [f"the quick brown fox {i % 17} jumps over the lazy dog {i % 5}" for i in range(300)]
TASKS = ["source[0]", "flat_map->map[0]", "flat_map->map[1]", "sum->sink[0]", "sum->sink[1]"]


def word_count(lines) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    (env.from_collection(lines).flat_map(lambda s: s.split())
        .map(lambda w: (w, 1) if w != "boom" else 1 // 0)
        .key_by(lambda t: t[0]).sum(1).add_sink(lambda v: None))
    return env


@pytest.fixture(scope="module")
def run():
    return Simulation(word_count(LINES), cluster=ClusterSpec(task_managers=2, slots_per_task_manager=1), seed=7).run()


@pytest.fixture(scope="module")
def failed():
    """A map function that raises on 'boom': a real TaskFailed."""
    return Simulation(word_count(LINES[:50] + ["boom goes the map"] + LINES[50:]), seed=7).run()


T = 2_000  # µs: the failure story below starts here, while the run's buffers still flow


def recovery_events() -> list:
    """tm-1 crashes, the job fails over, waits 400 µs, and attempt 2 starts from checkpoint 1."""
    events = [FaultInjected(T, "crash_taskmanager", "tm-1", "tm-1 stops"),
              TaskManagerLost(T + 300, "tm-1", 300),
              TaskFailed(T + 310, "flat_map->map[0]", "map[0]", "ConnectionError: tm-1 lost", None, ""),
              JobFailing(T + 320, "tm-1 lost", 1, TASKS)]
    events += [TaskCanceled(T + 340, task, 1) for task in TASKS if task != "flat_map->map[0]"]
    events += [RestartScheduled(T + 360, "fixed-delay", 2, 400)]
    events += [TaskDeployed(T + 760, task, "tm-0", 0) for task in TASKS]
    events += [JobRestored(T + 770, 2, 1, "checkpoint", "chk-1")]
    events += [StateRestored(T + 780, task, 1, 1, 128, 1_000) for task in TASKS]
    events += [ChannelStateReplayed(T + 800, "sum->sink[0]", "flat_map->map[1]->sum->sink[0]", 2, 30)]
    events += [WatermarkAdvanced(t, "source[0]", "source", t // 10) for t in (500, 1_500, 2_500)]
    events += [WatermarkAdvanced(1_500, "source[0]", "map", 150)]  # the same task at the same time: one mark
    return events


@pytest.fixture(scope="module")
def recovered(run):
    events = sorted([*run.trace, *recovery_events()], key=lambda e: e.t_us)
    return dataclasses.replace(run, trace=Trace(events=events))


def offsets(fig, gid: str) -> list[tuple[float, float]]:
    found = [a for a in fig.findobj() if a.get_gid() == gid]
    assert len(found) == 1, gid
    return [tuple(p) for p in found[0].get_offsets().tolist()]


def legend_labels(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_the_run_places_its_subtasks_as_the_story_assumes(run):
    assert [s.id for s in run.execution_graph.subtasks] == TASKS
    assert {e.task: e.taskmanager for e in run.trace.of_type(TaskDeployed)}["flat_map->map[1]"] == "tm-1"
    assert run.end_time_us > T + 1_000


def test_marks_are_read_per_lane_and_for_the_whole_job(recovered):
    marks = lifecycle_marks(recovered.trace, TASKS)
    on_tm1 = ["flat_map->map[1]", "sum->sink[1]"]
    assert [(t, task) for t, task, _ in marks.faults] == [(T, task) for task in on_tm1]
    assert [(t, task) for t, task, _ in marks.lost] == [(T + 300, task) for task in on_tm1]
    assert marks.failed == [(T + 310, "flat_map->map[0]", "map[0]")]
    assert len(marks.canceled) == 4 and len(marks.state_restored) == 5
    assert marks.replayed == [(T + 800, "sum->sink[0]", "flat_map->map[1]->sum->sink[0]")]
    assert [t for t, _, _ in marks.watermarks] == [500, 1_500, 2_500]
    assert marks.failing == [(T + 320, 1, "tm-1 lost")]
    assert marks.restarts == [(T + 360, 2, 400)]
    assert marks.restored == [(T + 770, 2, "checkpoint 1")]


def test_a_fault_names_a_subtask_an_operator_in_a_chain_a_taskmanager_or_a_link():
    where = {"source[0]": "tm-0", "flat_map->map[0]": "tm-0", "flat_map->map[1]": "tm-1"}
    assert fault_lanes("flat_map->map[1]", TASKS, where) == ["flat_map->map[1]"]
    assert fault_lanes("map[0]", TASKS, where) == ["flat_map->map[0]"]
    assert fault_lanes("tm-1", TASKS, where) == ["flat_map->map[1]"]
    assert fault_lanes("tm-0<->jobmanager", TASKS, where) == ["source[0]", "flat_map->map[0]"]


def test_spacetime_draws_every_recovery_mark_on_its_lane_with_a_legend(recovered):
    fig = draw_spacetime(recovered)
    row = {task: y for y, task in enumerate(TASKS)}
    assert [y for _, y in offsets(fig, "failures")] == [row["flat_map->map[0]"]]
    assert [x for x, _ in offsets(fig, "faults")] == [T / 1000] * 2
    assert [y for _, y in offsets(fig, "taskmanagers-lost")] == [row["flat_map->map[1]"], row["sum->sink[1]"]]
    assert len(offsets(fig, "canceled")) == 4
    assert sorted(y for _, y in offsets(fig, "state-restored")) == list(range(5))
    assert offsets(fig, "channel-state-replayed")[0][0] == (T + 800) / 1000
    assert len(offsets(fig, "watermarks")) == 3
    ax = fig.axes[0]
    assert [line.get_xdata()[0] for line in ax.lines if line.get_gid() == "job-failing:1"] == [(T + 320) / 1000]
    assert [line.get_xdata()[0] for line in ax.lines if line.get_gid() == "restored:2"] == [(T + 770) / 1000]
    assert [p for p in ax.patches if p.get_gid() == "restart:2"]
    texts = [t.get_text().strip() for t in ax.texts]
    assert "attempt 1 failing" in texts and "attempt 2 from checkpoint 1" in texts
    assert {"task failed", "fault injected", "TaskManager lost (no heartbeat)", "task canceled (failover)",
            "state restored from a snapshot", "in-flight data replayed", "watermark advanced", "job failing over",
            "restart delay", "job restored (next attempt)"} <= set(legend_labels(fig))


def test_the_window_and_the_subtasks_filter_the_recovery_marks(recovered):
    before = draw_spacetime(recovered, end_ms=(T - 1) / 1000)
    assert not [a for a in before.findobj() if a.get_gid() in ("faults", "failures", "job-failing:1")]
    assert len(offsets(before, "watermarks")) == 2
    sinks = draw_spacetime(recovered, subtasks=["sum->sink[0]", "sum->sink[1]"], start_ms=T / 1000)
    assert [y for _, y in offsets(sinks, "taskmanagers-lost")] == [1]
    assert len(offsets(sinks, "state-restored")) == 2
    assert not [a for a in sinks.findobj() if a.get_gid() in ("failures", "watermarks")]


def test_a_real_failure_is_an_x_on_the_failing_subtask(failed):
    failure = failed.trace.of_type(TaskFailed)[0]
    fig = draw_spacetime(failed)
    lanes = [s.id for s in failed.execution_graph.subtasks]
    assert offsets(fig, "failures") == [(failure.t_us / 1000, lanes.index(failure.task))]
    assert "task failed" in legend_labels(fig)
    # No restart strategy: the job fails, and every other task still running is canceled.
    canceled = [lanes.index(e.task) for e in failed.trace.of_type(TaskCanceled)]
    assert canceled and lanes.index(failure.task) not in canceled
    assert sorted(y for _, y in offsets(fig, "canceled")) == sorted(canceled)
