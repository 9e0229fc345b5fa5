"""Stepping through a run: the state of every subtask and channel at a time, and the widget around it.

The pure part is checked against a scripted trace and against scenario 03 at the moment its slow
barrier waits behind data; the widget is built without a browser and its slider moved.
"""

from __future__ import annotations

import dataclasses

import pytest

from sim.scenario.loader import load_scenario
from sim.trace import (
    BackpressureEnded, BackpressureStarted, BarrierSent, BufferConsumed, BufferFlushed, BufferReceived, BufferSent,
    ChannelBlocked, ChannelResumed, SnapshotTaken, TaskCanceled, TaskDeployed, TaskFailed, Trace,
)
from sim.viz import step_through
from sim.viz.stepper import RunIndex, moment_html, state_at
from tests.conftest import SCENARIOS

FAST = "source->pair[0]->count->sink[0]"
SLOW = "source->pair[1]->count->sink[0]"


@pytest.fixture(scope="module")
def aligned():
    return load_scenario(str(SCENARIOS / "03_aligned_checkpoints.py")).build(7).run()


def scripted(result):
    """Scenario 03's graph with a short scripted trace: one buffer, a barrier, backpressure, a failure."""
    events = [
        *(TaskDeployed(0, s.id, "tm-0", 0) for s in result.execution_graph.subtasks),
        BufferFlushed(10, FAST, 0, 100, 8192, "full"),
        BackpressureStarted(12, "source->pair[0]"),
        BufferSent(15, FAST, 0, 0, 20),
        BackpressureEnded(16, "source->pair[0]"),
        BufferReceived(20, FAST, 0),
        BufferConsumed(30, "count->sink[0]", FAST, 0, 100, 5),  # busy [25, 30)
        ChannelBlocked(40, "count->sink[0]", FAST, 1),
        SnapshotTaken(50, "count->sink[0]", 1, 4, 100, False),  # snapshotting [46, 50)
        ChannelResumed(50, "count->sink[0]", FAST),
        TaskFailed(60, "source->pair[1]", "pair[1]", "ValueError: no", None, ""),
        TaskCanceled(61, "count->sink[1]", 1),
    ]
    return dataclasses.replace(result, trace=Trace(events=events), end_time_us=70)


@pytest.mark.parametrize("t_us, task, state, aligning", [
    (0, "count->sink[0]", "idle", False),
    (12, "source->pair[0]", "backpressured", False),
    (16, "source->pair[0]", "idle", False),
    (25, "count->sink[0]", "busy", False),
    (30, "count->sink[0]", "idle", False),  # a step stamped at 30 is over at 30
    (42, "count->sink[0]", "idle", True),
    (47, "count->sink[0]", "snapshotting", True),
    (50, "count->sink[0]", "idle", False),
    (60, "source->pair[1]", "failed", False),
    (65, "count->sink[1]", "canceled", False),
])
def test_the_state_of_a_subtask_at_a_time(aligned, t_us, task, state, aligning):
    view = state_at(scripted(aligned), t_us).subtask(task)
    assert (view.state, view.aligning) == (state, aligning)


def test_a_channel_at_a_time(aligned):
    index = RunIndex(scripted(aligned))
    assert index.at(9).channel(FAST)[3:] == (0, 0, 0, False)
    assert index.at(10).channel(FAST)[3:] == (1, 0, 0, False)
    assert index.at(15).channel(FAST)[3:] == (0, 1, 0, False)
    assert index.at(20).channel(FAST)[3:] == (0, 0, 1, False)
    assert index.at(45).channel(FAST)[3:] == (0, 0, 0, True)
    assert state_at(scripted(aligned), -1).subtask("source->pair[0]").state == "not deployed"


def test_while_the_slow_barrier_waits_the_fast_channel_is_blocked(aligned):
    """Scenario 03, checkpoint 2: the fast channel delivered its barrier and is blocked while the slow
    link's barrier is still on its way; the buffers before it are queued or on the wire."""
    slow = next(e for e in aligned.trace.of_type(BarrierSent) if e.channel == SLOW and e.checkpoint_id == 2)
    moment = RunIndex(aligned).at(slow.t_us + 1)
    consumer = moment.subtask("count->sink[0]")
    assert consumer.aligning and consumer.blocked_inputs == (FAST,)
    assert moment.channel(FAST).blocked and not moment.channel(SLOW).blocked
    assert moment.channel(SLOW).in_flight > 0
    assert [c.channel for c in moment.channels] == [c.id for c in aligned.execution_graph.channels]
    page = moment_html(moment)
    assert "blocked (aligning)" in page and "aligning: 1 input(s) blocked" in page


def test_the_widget_shows_the_moment_its_slider_chooses(aligned):
    widget = step_through(aligned)
    assert widget.slider.max == aligned.end_time_us / 1000
    first = widget.view.value
    assert "at 0.000 ms" in first
    slow = next(e for e in aligned.trace.of_type(BarrierSent) if e.channel == SLOW and e.checkpoint_id == 2)
    widget.slider.value = (slow.t_us + 1) / 1000
    assert widget.view.value != first
    assert f"at {(slow.t_us + 1) / 1000:.3f} ms" in widget.view.value and "blocked (aligning)" in widget.view.value
    widget._move(+1)
    assert widget.slider.value == pytest.approx((slow.t_us + 1) / 1000 + widget.slider.step)
    bundle = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
