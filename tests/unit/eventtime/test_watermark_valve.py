"""StatusWatermarkValve and TwoInputWatermarks: scripted sequences, then a property against a small model.

Rules (facts sheet §4, StatusWatermarkValve.java): every channel starts at
Long.MIN_VALUE, active and aligned; a watermark not above its channel's last
is ignored; the output is the minimum over aligned active channels, emitted
only when it exceeds the last output; an idle channel leaves the minimum and
rejoins once its watermark is >= the last output; all channels idle -> IDLE
(after flushing the maximum if the last channel was holding the minimum),
and ACTIVE when one returns. Two-input operators take min(input1, input2).
"""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from sim.api.eventtime import Watermark
from sim.runtime.watermarks import (
    LONG_MAX, LONG_MIN, ChannelState, StatusWatermarkValve, TwoInputWatermarks, ValveOutput, WatermarkStatus,
)

ACTIVE, IDLE = WatermarkStatus.ACTIVE, WatermarkStatus.IDLE
NONE = ValveOutput()


def wm(ts: int) -> ValveOutput:
    return ValveOutput(watermark=Watermark(ts))


# --- scripted sequences ------------------------------------------------------------------------------------


def test_output_is_minimum_over_channels():
    """The output is the min over channels, so it moves only when the slowest channel moves."""
    valve = StatusWatermarkValve(3)
    # Phase 1: two of three channels report; channel 2 is still at MIN.
    assert valve.input_watermark(0, 10) == NONE
    assert valve.input_watermark(1, 20) == NONE
    # Phase 2: the last channel reports -> min(10, 20, 15).
    assert valve.input_watermark(2, 15) == wm(10)
    # Phase 3: the slowest channel advances -> the next minimum is 15.
    assert valve.input_watermark(0, 30) == wm(15)
    assert valve.last_emitted == 15


def test_non_increasing_channel_watermarks_are_ignored():
    """A watermark not above its own channel's last one changes nothing (not even the channel's value)."""
    valve = StatusWatermarkValve(2)
    valve.input_watermark(0, 50)
    assert valve.input_watermark(1, 40) == wm(40)
    # Phase: channel 1 repeats and regresses; both ignored, its stored value stays 40.
    assert valve.input_watermark(1, 40) == NONE
    assert valve.input_watermark(1, 5) == NONE
    assert valve.channel_states()[1] == ChannelState(40, ACTIVE, True)


def test_output_is_strictly_increasing():
    """A new minimum equal to the last output is not emitted again."""
    valve = StatusWatermarkValve(2)
    assert [valve.input_watermark(c, t) for c, t in ((0, 10), (1, 10), (1, 12), (0, 11), (0, 12))] == [
        NONE, wm(10), NONE, wm(11), wm(12)]


def test_idle_channel_leaves_minimum():
    """Channel 1 lags at 5; when it goes idle the minimum is channel 0 alone, so the output jumps to 100.
    Its later watermarks are ignored while it is idle."""
    valve = StatusWatermarkValve(2)
    valve.input_watermark(0, 100)
    assert valve.input_watermark(1, 5) == wm(5)
    assert valve.input_status(1, idle=True) == wm(100)
    assert valve.input_watermark(1, 50) == NONE          # idle channel: ignored
    assert valve.channel_states()[1] == ChannelState(5, IDLE, False)
    assert valve.input_watermark(0, 120) == wm(120)
    assert valve.status is ACTIVE                         # one channel is still active


def test_reactivated_channel_rejoins_only_after_catching_up():
    """Channel 1 returns with 5 < last output 120: it is active but not aligned, so channel 0 alone still
    drives the output. It rejoins when its watermark reaches 120 (>= last output), and then holds the
    minimum."""
    valve = StatusWatermarkValve(2)
    # Phase 1: channel 1 at 5 goes idle; channel 0 drives the output to 120.
    valve.input_watermark(0, 100)
    valve.input_watermark(1, 5)
    valve.input_status(1, idle=True)
    assert valve.input_watermark(0, 120) == wm(120)
    # Phase 2: channel 1 is active again but behind: not aligned, output keeps following channel 0.
    assert valve.input_status(1, idle=False) == NONE
    assert valve.channel_states()[1] == ChannelState(5, ACTIVE, False)
    assert valve.input_watermark(1, 60) == NONE            # recorded, still behind
    assert valve.input_watermark(0, 130) == wm(130)
    # Phase 3: output moves to 140; channel 1 reaching 140 (>= last output) rejoins without a new output.
    assert valve.input_watermark(0, 140) == wm(140)
    assert valve.input_watermark(1, 140) == NONE          # 140 >= 140: aligned, min(140, 140) = 140
    assert valve.channel_states()[1] == ChannelState(140, ACTIVE, True)
    # Phase 4: now channel 1 holds the minimum back.
    assert valve.input_watermark(0, 200) == NONE
    assert valve.input_watermark(1, 150) == wm(150)


def test_reactivated_channel_already_ahead_is_aligned_at_once():
    """A channel whose stored watermark is >= the last output is aligned as soon as it is active again."""
    valve = StatusWatermarkValve(2)
    valve.input_watermark(0, 10)
    valve.input_watermark(1, 50)                        # output 10
    valve.input_status(1, idle=True)                    # min is channel 0 alone: still 10
    assert valve.input_status(1, idle=False) == NONE
    assert valve.channel_states()[1] == ChannelState(50, ACTIVE, True)
    assert valve.input_watermark(0, 70) == wm(50)       # channel 1 holds the minimum again


def test_all_channels_idle_emits_idle_then_active():
    """The last active channel going idle turns the valve IDLE; as it held the minimum (30), the valve
    first flushes the max over all channels (80). The first channel back makes it ACTIVE."""
    valve = StatusWatermarkValve(2)
    valve.input_watermark(0, 80)
    assert valve.input_watermark(1, 30) == wm(30)
    # Phase 1: channel 0 (at 80, above the output) goes idle: min is channel 1's 30, unchanged.
    assert valve.input_status(0, idle=True) == NONE
    # Phase 2: channel 1 (at the output) goes idle last: flush to 80, then IDLE.
    out = valve.input_status(1, idle=True)
    assert out == ValveOutput(Watermark(80), IDLE)
    assert out.elements() == [Watermark(80), IDLE]
    assert valve.status is IDLE
    # Phase 3: repeated IDLE changes nothing; channel 0 returns -> ACTIVE (status only).
    assert valve.input_status(1, idle=True) == NONE
    out = valve.input_status(0, idle=False)
    assert out == ValveOutput(None, ACTIVE) and out.elements() == [ACTIVE]
    assert valve.status is ACTIVE


def test_no_flush_when_last_idle_channel_was_behind():
    """The flush happens only if the channel going idle last was at the output; a lagging one was not."""
    valve = StatusWatermarkValve(2)
    valve.input_watermark(0, 10)
    valve.input_watermark(1, 5)                         # output 5
    valve.input_status(1, idle=True)                    # -> 10
    valve.input_status(1, idle=False)                   # back at 5 < 10: unaligned
    valve.input_status(0, idle=True)                    # channel 1 unaligned: no aligned min
    assert valve.input_status(1, idle=True) == ValveOutput(None, IDLE)
    assert valve.last_emitted == 10


def test_max_watermark_on_all_channels_gives_max():
    """End of input: every channel sends Long.MAX_VALUE, so the minimum (and output) is Long.MAX_VALUE."""
    valve = StatusWatermarkValve(3)
    outputs = [valve.input_watermark(c, LONG_MAX) for c in range(3)]
    assert outputs == [NONE, NONE, ValveOutput(Watermark.MAX_WATERMARK)]


def test_valve_errors_name_the_owner_and_range():
    valve = StatusWatermarkValve(3, owner="window[1]")
    with pytest.raises(ValueError, match=r"window\[1\] has channels 0..2, found channel 3"):
        valve.input_watermark(3, 0)
    with pytest.raises(TypeError, match=r"window\[1\] channel 0 status must be a bool"):
        valve.input_status(0, "IDLE")
    with pytest.raises(ValueError, match="at least one input channel, found 0"):
        StatusWatermarkValve(0)


def test_two_inputs_take_the_minimum():
    """A two-input operator emits min(input1, input2), each input first merged by its own valve."""
    op = TwoInputWatermarks(2, 1)
    # Phase 1: input 1 needs both channels; input 2 is still at MIN.
    assert op.input_watermark(1, 0, 100) == NONE
    assert op.input_watermark(1, 1, 200) == NONE
    # Phase 2: input 2 reports 150 -> min(100, 150).
    assert op.input_watermark(2, 0, 150) == wm(100)
    # Phase 3: input 1's slow channel moves -> input 1 at 200, min is input 2's 150.
    assert op.input_watermark(1, 0, 300) == wm(150)
    assert op.valve(1).last_emitted == 200 and op.last_emitted == 150
    with pytest.raises(ValueError, match="has inputs 1 and 2, found input 0"):
        op.valve(0)


def test_two_inputs_idle_input_leaves_minimum():
    """An idle input leaves the minimum; both idle -> IDLE; one back -> ACTIVE (before its watermark)."""
    op = TwoInputWatermarks(1, 1)
    op.input_watermark(1, 0, 500)
    assert op.input_watermark(2, 0, 100) == wm(100)
    # Phase 1: input 2 idle -> input 1 alone: 500.
    assert op.input_status(2, 0, idle=True) == wm(500)
    # Phase 2: input 1 idle too -> IDLE.
    assert op.input_status(1, 0, idle=True) == ValveOutput(None, IDLE)
    assert op.status is IDLE
    # Phase 3: input 2 returns (its valve says ACTIVE); its 100 is below 500, so only the status.
    assert op.input_status(2, 0, idle=False) == ValveOutput(None, ACTIVE)
    assert op.input_watermark(2, 0, 600) == wm(600)


# --- property: the valve against a small model -------------------------------------------------------------


class ValveModel:
    """The facts-sheet rules over sets: `idle` and `joined` (aligned) channel sets, and the last output."""

    def __init__(self, n: int):
        self.n = n
        self.marks = {c: LONG_MIN for c in range(n)}
        self.idle: set[int] = set()
        self.joined = set(range(n))
        self.last = LONG_MIN

    def expected_min(self) -> int | None:
        return min((self.marks[c] for c in self.joined), default=None)

    def watermark(self, c: int, ts: int) -> int | None:
        if c in self.idle or ts <= self.marks[c]:
            return None
        self.marks[c] = ts
        if ts >= self.last:
            self.joined.add(c)
        return self._emit(self.expected_min())

    def status(self, c: int, idle: bool) -> int | None:
        if idle and c not in self.idle:
            holding = self.marks[c] == self.last
            self.idle.add(c)
            self.joined.discard(c)
            if len(self.idle) == self.n:
                return self._emit(max(self.marks.values())) if holding else None
            return self._emit(self.expected_min())
        if not idle and c in self.idle:
            self.idle.discard(c)
            if self.marks[c] >= self.last:
                self.joined.add(c)
        return None

    def _emit(self, candidate: int | None) -> int | None:
        if candidate is None or candidate <= self.last:
            return None
        self.last = candidate
        return candidate


channel_inputs = st.integers(0, 3).flatmap(lambda n_minus_1: st.tuples(
    st.just(n_minus_1 + 1),
    st.lists(st.one_of(
        st.tuples(st.just("wm"), st.integers(0, n_minus_1),
                  st.one_of(st.integers(-3, 40), st.sampled_from([LONG_MIN, LONG_MAX]))),
        st.tuples(st.just("status"), st.integers(0, n_minus_1), st.booleans()),
    ), max_size=60)))


@given(channel_inputs)
def test_valve_matches_model_and_is_strictly_increasing(case):
    """Property: for any per-channel sequence of watermarks and idle/active changes, the valve's emitted
    watermarks are strictly increasing, each equals the model's minimum over active aligned channels at
    that moment (or the flush maximum when the last active channel goes idle), and the valve is IDLE
    exactly when every channel is."""
    n, inputs = case
    valve, model = StatusWatermarkValve(n), ValveModel(n)
    emitted = []
    for kind, channel, arg in inputs:
        if kind == "wm":
            out, expected = valve.input_watermark(channel, arg), model.watermark(channel, arg)
        else:
            out, expected = valve.input_status(channel, arg), model.status(channel, arg)
        got = None if out.watermark is None else out.watermark.timestamp
        assert got == expected, (kind, channel, arg)
        if got is not None:
            emitted.append(got)
        assert (valve.status is IDLE) == (len(model.idle) == n)
        assert valve.last_emitted == model.last
    assert emitted == sorted(set(emitted))
