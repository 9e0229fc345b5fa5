"""The barrier animation of scenario 03 (aligned) and 04 (unaligned): frames, barrier positions, files.

Checked for content: which barrier discs are visible in a frame and where along their channel's arrow.
"""

from __future__ import annotations

import pytest

from sim.scenario.loader import load_scenario
from sim.trace import BarrierReceived
from sim.viz.animation import BarrierAnimation, animate_barriers, barriers_in_flight, frame_times_us
from sim.viz.barriers import Barrier
from tests.conftest import SCENARIOS

SLOW = "source->pair[1]->count->sink[0]"  # over the slow tm-1 -> tm-0 link


@pytest.fixture(scope="module")
def aligned():
    return load_scenario(str(SCENARIOS / "03_aligned_checkpoints.py")).build(7).run()


@pytest.fixture(scope="module")
def animation(aligned) -> BarrierAnimation:
    return animate_barriers(aligned, checkpoint_id=2)


def disc(animation: BarrierAnimation, channel: str):
    found = [line for line in animation.ax.lines if line.get_gid() == f"barrier:2:{channel}"]
    assert len(found) == 1
    return found[0]


def frame_at(animation: BarrierAnimation, t_us: int) -> int:
    return min(range(len(animation.times_us)), key=lambda i: abs(animation.times_us[i] - t_us))


# --- pure ------------------------------------------------------------------------------------------------


def test_a_barrier_is_on_the_wire_from_its_send_until_its_arrival():
    b = Barrier(100, 300, "a[0]", "b[0]", "a[0]->b[0]", 1, "CHECKPOINT")
    assert barriers_in_flight([b], 99) == []
    assert barriers_in_flight([b], 100) == [(b, 0.0)]
    assert barriers_in_flight([b], 250) == [(b, 0.75)]
    assert barriers_in_flight([b], 300) == []


def test_frames_are_evenly_spaced_and_no_barrier_trip_falls_between_two():
    times = frame_times_us(0, 1_000, 5, [(100, 140), (500, 600), (600, 600)])
    assert times == [0, 120, 250, 500, 750, 1_000]  # 120: the middle of the short trip; empty spans add none
    with pytest.raises(ValueError, match="at least 2 frames, got 1"):
        frame_times_us(0, 1_000, 1, [])


# --- scenario 03 -----------------------------------------------------------------------------------------


def test_the_animation_has_frames_over_the_checkpoint(aligned, animation):
    assert animation.checkpoint_id == 2 and len(animation.times_us) >= 60
    assert animation.times_us == sorted(set(animation.times_us))
    assert {b.channel for b in animation.barriers} == {c.id for c in aligned.execution_graph.channels}
    assert all(animation.times_us[0] <= b.sent_us <= animation.times_us[-1] for b in animation.barriers)


def test_between_send_and_arrival_the_barrier_is_on_its_edge(animation):
    """In every frame whose time falls in a barrier's trip, its disc is visible on the line between the
    producer's and the consumer's box, as far along as the time says."""
    checked = 0
    for barrier in animation.barriers:
        a, b = animation.boxes[barrier.producer], animation.boxes[barrier.consumer]
        for i, t in enumerate(animation.times_us):
            if not barrier.sent_us <= t < barrier.received_us:
                continue
            animation.draw_frame(i)
            line = disc(animation, barrier.channel)
            (x,), (y,) = line.get_data()
            assert line.get_visible()
            assert a.get_x() + a.get_width() <= x <= b.get_x()  # between the two columns of boxes
            progress = (t - barrier.sent_us) / (barrier.received_us - barrier.sent_us)
            left, right = a.get_x() + a.get_width(), b.get_x()
            assert (x - left) / (right - left) == pytest.approx(progress, abs=0.02)
            checked += 1
    assert checked >= 10  # the slow link's barrier is seen along its 20 ms trip


def test_the_slow_barrier_waits_at_its_sender_while_the_fast_channel_is_blocked(animation):
    slow = next(b for b in animation.barriers if b.channel == SLOW)
    waiting = frame_at(animation, slow.sent_us - 10_000)
    animation.draw_frame(waiting)
    state = animation.state_at(animation.times_us[waiting])
    assert slow in state.queued and "source->pair[0]->count->sink[0]" in state.blocked
    (x,), _ = disc(animation, SLOW).get_data()
    producer = animation.boxes[slow.producer]
    assert x < producer.get_x() + producer.get_width() + 0.3  # at the arrow's tail
    arrow = next(p for p in animation.ax.patches if p.get_gid() == "channel:source->pair[0]->count->sink[0]")
    assert arrow.get_linewidth() == 3.5
    assert "1 channel blocked" in animation.title.get_text()


def test_a_barrier_waits_at_the_receiver_until_taken(aligned, animation):
    slow = next(b for b in animation.barriers if b.channel == SLOW)
    taken = next(e.t_us for e in aligned.trace.of_type(BarrierReceived) if e.channel == SLOW and e.checkpoint_id == 2)
    if taken > slow.received_us:
        assert slow in animation.state_at((slow.received_us + taken) // 2).waiting
    assert slow not in animation.state_at(taken).waiting
    animation.draw_frame(len(animation.times_us) - 1)  # the checkpoint is over: every barrier was taken
    assert not [line for line in animation.ax.lines
                if (line.get_gid() or "").startswith("barrier") and line.get_visible()]


def test_the_animation_plays_inline_and_saves_as_gif_and_html(aligned, tmp_path):
    short = animate_barriers(aligned, checkpoint_id=2, frames=4)
    html = short._repr_html_()
    assert "<script" in html and html.count("data:image/png;base64") >= len(short.times_us)
    gif = short.save(tmp_path / "barriers.gif")
    assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a") and gif.stat().st_size > 5_000
    page = short.save(tmp_path / "barriers.html")
    assert page.stat().st_size > 5_000 and "<script" in page.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match=r"cannot save an animation as 'barriers.mp4'; expected a \.gif or \.html"):
        short.save(tmp_path / "barriers.mp4")


# --- scenario 04 -----------------------------------------------------------------------------------------


def test_unaligned_barriers_are_hollow_and_block_nothing():
    unaligned = load_scenario(str(SCENARIOS / "04_unaligned_checkpoints.py")).build(3).run()
    animation = animate_barriers(unaligned, frames=10)
    assert animation.barriers and all(b.priority for b in animation.barriers)
    assert all(not animation.state_at(t).blocked for t in animation.times_us)
    remote = next(b for b in animation.barriers if b.received_us > b.sent_us)
    animation.draw_frame(frame_at(animation, (remote.sent_us + remote.received_us) // 2))
    assert disc(animation, remote.channel).get_markerfacecolor() == "white"


def test_a_run_without_checkpoints_has_nothing_to_animate():
    word_count = load_scenario(str(SCENARIOS / "01_word_count.py")).build(7)
    with pytest.raises(ValueError, match="triggered no checkpoint: there are no barriers to animate"):
        animate_barriers(word_count.run())
