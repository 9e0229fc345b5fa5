"""Buffer occupancy per channel: a scripted trace, the flagship word count and the unaligned-checkpoint scenario.

Checked for content (which rows, areas and bands are drawn, and what the series hold), not pixels.
"""

from __future__ import annotations

import pytest

from sim.scenario.loader import load_scenario
from sim.trace import (
    BufferConsumed, BufferFlushed, BufferReceived, BufferSent, FaultInjected, TaskCanceled, TaskDeployed, Trace,
)
from sim.viz.occupancy import (
    ChannelEnds, Occupancy, backpressured_spans, channel_ends, channel_occupancy, draw_occupancy, split_channel_id,
)
from sim.viz.saved import draw_from_trace
from tests.conftest import SCENARIOS


@pytest.fixture(scope="module")
def word_count():
    return load_scenario(str(SCENARIOS / "01_word_count.py")).build(7).run()


@pytest.fixture(scope="module")
def unaligned():
    return load_scenario(str(SCENARIOS / "04_unaligned_checkpoints.py")).build(3).run()


def with_gid(fig, prefix: str) -> list:
    return [a for a in fig.findobj() if (a.get_gid() or "").startswith(prefix)]


# --- pure --------------------------------------------------------------------------------------------------


def test_a_buffer_moves_from_sender_to_wire_to_receiver_and_a_cancel_empties_the_channel():
    ends = {"a[0]->b[0]": ChannelEnds("a[0]", "b[0]")}
    trace = [
        TaskDeployed(0, "a[0]", "tm-0", 0), TaskDeployed(0, "b[0]", "tm-1", 0),
        BufferFlushed(1, "a[0]->b[0]", 0, 10, 100, "full"),
        BufferFlushed(2, "a[0]->b[0]", 1, 10, 100, "full"),
        BufferSent(3, "a[0]->b[0]", 0, 1, 5),
        BufferReceived(5, "a[0]->b[0]", 0),
        BufferSent(6, "a[0]->b[0]", 1, 0, 9),
        BufferConsumed(7, "b[0]", "a[0]->b[0]", 0, 10, 2),
        TaskCanceled(8, "b[0]", 1),  # buffer 1 is on the wire: it is lost with the consumer
        BufferReceived(9, "a[0]->b[0]", 1),  # ...so its arrival is ignored
    ]
    series = channel_occupancy(trace, ends)["a[0]->b[0]"]
    assert list(zip(series.times_us, series.points)) == [
        (0, Occupancy(0, 0, 0)), (1, Occupancy(1, 0, 0)), (2, Occupancy(2, 0, 0)), (3, Occupancy(1, 1, 0)),
        (5, Occupancy(1, 0, 1)), (6, Occupancy(0, 1, 1)), (7, Occupancy(0, 1, 0)), (8, Occupancy(0, 0, 0)),
    ]
    assert series.at(4) == Occupancy(1, 1, 0) and series.at(100) == Occupancy(0, 0, 0)
    assert series.peak() == 2


def test_a_crashed_taskmanager_loses_the_queues_on_it_and_only_those():
    """The receiver's queue of a channel into the crashed TaskManager is gone; its sender's queue stays until the
    producer is canceled. A channel out of it loses its sender's queue; what already arrived is still consumed."""
    ends = {"a[0]->b[0]": ChannelEnds("a[0]", "b[0]"), "b[0]->c[0]": ChannelEnds("b[0]", "c[0]")}
    trace = [
        TaskDeployed(0, "a[0]", "tm-0", 0), TaskDeployed(0, "b[0]", "tm-1", 0), TaskDeployed(0, "c[0]", "tm-0", 1),
        BufferFlushed(1, "a[0]->b[0]", 0, 10, 100, "full"),
        BufferFlushed(1, "a[0]->b[0]", 1, 10, 100, "full"),
        BufferSent(2, "a[0]->b[0]", 0, 1, 3),
        BufferReceived(3, "a[0]->b[0]", 0),
        BufferFlushed(3, "b[0]->c[0]", 0, 10, 100, "full"),
        BufferFlushed(3, "b[0]->c[0]", 1, 10, 100, "full"),
        BufferSent(4, "b[0]->c[0]", 0, 1, 5),
        BufferReceived(5, "b[0]->c[0]", 0),
        FaultInjected(6, "crash_taskmanager", "tm-1", "crash tm-1"),
        BufferConsumed(7, "c[0]", "b[0]->c[0]", 0, 10, 1),
        TaskCanceled(9, "a[0]", 0),
    ]
    series = channel_occupancy(trace, ends)
    into, out_of = series["a[0]->b[0]"], series["b[0]->c[0]"]
    assert into.at(6) == Occupancy(1, 0, 0) and into.at(9) == Occupancy(0, 0, 0)
    assert out_of.at(6) == Occupancy(0, 0, 1) and out_of.at(7) == Occupancy(0, 0, 0)


def test_channel_ids_split_only_where_both_ends_are_subtasks():
    subtasks = ["source->pair[0]", "count->sink[0]", "a[0]", "b[0]"]
    assert split_channel_id("source->pair[0]->count->sink[0]", subtasks) == ("source->pair[0]", "count->sink[0]")
    assert split_channel_id("a[0]->b[0]#2", subtasks) == ("a[0]", "b[0]")
    assert split_channel_id("x[0]->b[0]", subtasks) is None


# --- the flagship ------------------------------------------------------------------------------------------


def test_every_buffer_of_the_word_count_is_counted_and_every_queue_drains(word_count):
    series = channel_occupancy(word_count.trace, channel_ends(word_count))
    assert len(series) == len(word_count.execution_graph.channels) == 16
    flushed = {}
    for e in word_count.trace.of_type(BufferFlushed):
        flushed[e.channel] = flushed.get(e.channel, 0) + 1
    for name, s in series.items():
        assert 0 < max(sum(p) for p in s.points) <= flushed[name], name
        assert s.points[-1] == Occupancy(0, 0, 0), name
    # The busiest counter owns the most frequent words: its input channels queue the most at their senders.
    hot = max(series.values(), key=lambda s: s.peak())
    assert hot.consumer == "count->sink[2]"


def test_a_backpressured_tokenizer_has_buffers_queued_at_its_senders(word_count):
    """No free output buffer means the buffers wait in the tokenizer's subpartitions (or on the wire)."""
    series = channel_occupancy(word_count.trace, channel_ends(word_count)).values()
    spans = backpressured_spans(word_count.trace)
    assert spans and all(task.startswith("source->tokenize->pair") for task in spans)
    for task, task_spans in spans.items():
        for start, end in task_spans:
            middle = (start + end) // 2
            assert sum(s.at(middle).queued + s.at(middle).in_flight for s in series if s.producer == task) > 0


def test_occupancy_of_the_word_count_has_a_row_per_channel_grouped_by_producer(word_count, tmp_path):
    fig = draw_occupancy(word_count, tmp_path / "occupancy.png")
    assert len(fig.axes) == 16
    assert len(with_gid(fig, "sender:")) == len(with_gid(fig, "receiver:")) == 16
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert titles == [f"from source->tokenize->pair[{i}]" for i in range(4)]
    labels = [ax.get_ylabel() for ax in fig.axes[:4]]
    assert labels == [f"\u2192 count->sink[{i}]" for i in range(4)]
    bands = sum(len(spans) for spans in backpressured_spans(word_count.trace).values())
    assert sum(len(ax.patches) for ax in fig.axes) == 4 * bands  # each producer's bands behind its 4 channels
    assert (tmp_path / "occupancy.png").read_bytes().startswith(b"\x89PNG")


def test_occupancy_of_the_unaligned_scenario_shows_both_queues(unaligned):
    fig = draw_occupancy(unaligned)
    assert len(fig.axes) == 4
    series = channel_occupancy(unaligned.trace, channel_ends(unaligned))
    assert all(max(p.queued for p in s.points) > 0 and max(p.received for p in s.points) > 0
               for s in series.values())
    only = "source->pair[0]->count->sink[1]"
    assert len(draw_occupancy(unaligned, channels=[only]).axes) == 1
    with pytest.raises(ValueError, match=r"no channels \['nope'\] in this job"):
        draw_occupancy(unaligned, channels=["nope"])


def test_occupancy_drawn_from_the_saved_trace_equals_the_runs(word_count, tmp_path):
    saved = Trace.read_jsonl(word_count.trace.write_jsonl(tmp_path / "trace.jsonl"))
    path = draw_from_trace(saved, "occupancy", tmp_path / "from_trace.png")
    draw_occupancy(word_count, tmp_path / "from_run.png")
    assert path.read_bytes() == (tmp_path / "from_run.png").read_bytes()
