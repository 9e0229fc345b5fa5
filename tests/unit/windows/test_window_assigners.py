"""Window assignment and merging (flink-facts.md §5): TimeWindow, window starts, every assigner.

Expected windows are worked out by hand from the start formula
`start = ts - r`, `r = (ts - offset) % size` in Java's `%` (plus `size` when
`r < 0`), and from the sliding rule "s = last, last - slide, ... while
s > ts - size".
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.api.windowing import (
    LONG_MAX, LONG_MIN, EventTimeSessionWindows, EventTimeTrigger, GlobalWindow, GlobalWindows, NeverTrigger,
    ProcessingTimeSessionWindows, ProcessingTimeTrigger, SlidingEventTimeWindows, SlidingProcessingTimeWindows,
    TimeWindow, TumblingEventTimeWindows, TumblingProcessingTimeWindows, get_window_start_with_offset, java_mod,
    merge_windows, milliseconds_of,
)

W = TimeWindow


class _Millis:
    """Stands in for PyFlink's Time/Duration: anything with to_milliseconds()."""

    def __init__(self, ms: int):
        self.ms = ms

    def to_milliseconds(self) -> int:
        return self.ms


# ------------------------------------------------------------------ TimeWindow


def test_time_window_bounds_and_max_timestamp():
    """Start inclusive, end exclusive; max_timestamp = end - 1 (§5 window bounds)."""
    assert W(0, 10).max_timestamp() == 9
    assert str(W(0, 10)) == "[0, 10)"


def test_touching_windows_intersect_and_cover():
    """intersects is `start <= other.end and end >= other.start`, so [0,5) and [5,9) intersect; [0,5), [6,9) do not."""
    assert W(0, 5).intersects(W(5, 9)) and W(5, 9).intersects(W(0, 5))
    assert not W(0, 5).intersects(W(6, 9))
    assert W(0, 5).cover(W(3, 9)) == W(0, 9)


def test_time_windows_order_by_start_then_end_and_hash():
    """Ordering is by (start, end); equal windows are one dict key."""
    assert sorted([W(5, 9), W(0, 10), W(0, 5)]) == [W(0, 5), W(0, 10), W(5, 9)]
    assert {W(0, 5): 1}[W(0, 5)] == 1


def test_global_window_is_a_singleton_ending_at_long_max():
    """GlobalWindow.max_timestamp() is Long.MAX_VALUE (§5: global windows are never late)."""
    assert GlobalWindow.get() is GlobalWindow() and GlobalWindow.get().max_timestamp() == LONG_MAX


# ------------------------------------------------------------------ window starts


def test_java_mod_keeps_the_sign_of_the_dividend():
    """Java: -1 % 5 == -1 and 1 % -5 == 1 (Python gives 4 and -4)."""
    assert [java_mod(-1, 5), java_mod(1, -5), java_mod(-10, 5), java_mod(7, 5)] == [-1, 1, 0, 2]


@pytest.mark.parametrize("ts, offset, size, start", [
    (0, 0, 10, 0), (9, 0, 10, 0), (10, 0, 10, 10),
    (-1, 0, 5, -5),  # the brief's example: r = -1 % 5 = -1 < 0, so start = -1 - (-1 + 5) = -5
    (-5, 0, 5, -5),  # r = 0
    (-6, 0, 5, -10),  # r = -1, start = -6 - 4 = -10 (the pre-FLINK-26334 formula gave -5, not containing -6)
    (2, 3, 10, -7), (3, 3, 10, 3), (12, 3, 10, 3), (13, 3, 10, 13),  # r = (ts - 3) % 10
    (0, -3, 10, -3), (7, -3, 10, 7),  # negative offset: r = (ts + 3) % 10
])
def test_window_start_with_offset(ts, offset, size, start):
    """Rows derived by hand from `start = ts - r` with r = (ts - offset) % size in Java (+size if r < 0)."""
    assert get_window_start_with_offset(ts, offset, size) == start
    assert start <= ts < start + size


def test_offset_must_be_smaller_than_size():
    """|offset| < size is required (§5)."""
    with pytest.raises(ValueError, match="offset 10 and size 10"):
        get_window_start_with_offset(3, 10, 10)
    with pytest.raises(ValueError, match="offset 10"):
        TumblingEventTimeWindows.of(10, 10)
    with pytest.raises(ValueError, match="offset -5"):
        SlidingEventTimeWindows.of(10, 5, -5)


def test_durations_accept_ints_and_to_milliseconds():
    """Sizes are ints of ms or anything with to_milliseconds() (PyFlink's Time)."""
    assert milliseconds_of(_Millis(1500), "size") == 1500
    assert TumblingEventTimeWindows.of(_Millis(10)).size == 10
    with pytest.raises(TypeError, match="window size must be an int"):
        TumblingEventTimeWindows.of(1.5)


# ------------------------------------------------------------------ tumbling


@pytest.mark.parametrize("ts, window", [(0, W(0, 10)), (9, W(0, 10)), (10, W(10, 20)), (-1, W(-10, 0))])
def test_tumbling_event_time(ts, window):
    """One window [start, start+size), start from the formula with offset 0."""
    assert TumblingEventTimeWindows.of(10).assign_windows("x", ts, 999) == [window]


def test_tumbling_with_offset():
    """size 10, offset 3: windows are [3, 13), [13, 23), ...; ts 2 falls into [-7, 3)."""
    assigner = TumblingEventTimeWindows.of(10, 3)
    assert [assigner.assign_windows("x", ts, 0) for ts in (2, 3, 12, 13)] == [
        [W(-7, 3)], [W(3, 13)], [W(3, 13)], [W(13, 23)]]


def test_tumbling_negative_timestamp_size_5():
    """ts = -1, size 5 -> [-5, 0) (Java %: r = -1, start = -1 - (-1 + 5))."""
    assert TumblingEventTimeWindows.of(5).assign_windows("x", -1, 0) == [W(-5, 0)]


def test_event_time_assigner_refuses_a_missing_timestamp():
    """Flink throws on Long.MIN_VALUE (the no-timestamp marker) in event-time assigners."""
    with pytest.raises(ValueError, match="needs an element timestamp"):
        TumblingEventTimeWindows.of(10).assign_windows("x", LONG_MIN, 0)
    with pytest.raises(ValueError, match="needs an element timestamp"):
        EventTimeSessionWindows.with_gap(10).assign_windows("x", None, 0)


# ------------------------------------------------------------------ sliding


def test_sliding_size_10_slide_5_gives_two_windows_descending():
    """ts 12: last = 10; s = 10, 5 (0 is not > 12 - 10 = 2) -> [10, 20), [5, 15)."""
    assert SlidingEventTimeWindows.of(10, 5).assign_windows("x", 12, 0) == [W(10, 20), W(5, 15)]


def test_sliding_size_10_slide_3_gives_ceil_10_over_3_windows():
    """ts 9: last = 9 - 9 % 3 = 9; s = 9, 6, 3, 0 (all > 9 - 10 = -1) -> 4 = ceil(10/3) windows.

    ts 10: last = 9; s = 9, 6, 3 (0 is not > 0) -> 3 windows: a timestamp lies in
    ceil(size/slide) or floor(size/slide) windows when slide does not divide size.
    """
    assigner = SlidingEventTimeWindows.of(10, 3)
    assert assigner.assign_windows("x", 9, 0) == [W(9, 19), W(6, 16), W(3, 13), W(0, 10)]
    assert assigner.assign_windows("x", 10, 0) == [W(9, 19), W(6, 16), W(3, 13)]
    for ts in range(-20, 40):
        windows = assigner.assign_windows("x", ts, 0)
        assert len(windows) in (3, 4) and all(w.start <= ts < w.end for w in windows)
        assert windows == sorted(windows, reverse=True)


def test_sliding_with_offset_and_negative_timestamp():
    """size 10, slide 5, offset 2, ts -4: r = (-4 - 2) % 5 = -1 (Java) < 0, so last = -4 - (-1 + 5) = -8.

    s = -8, then -13 (> -4 - 10 = -14), then -18 (not) -> [-8, 2), [-13, -3).
    """
    assert SlidingEventTimeWindows.of(10, 5, 2).assign_windows("x", -4, 0) == [W(-8, 2), W(-13, -3)]


# ------------------------------------------------------------------ sessions


def test_session_assigns_ts_to_ts_plus_gap():
    """Each element gets [ts, ts+gap) (§5 session windows)."""
    assert EventTimeSessionWindows.with_gap(10).assign_windows("x", 7, 0) == [W(7, 17)]
    assert EventTimeSessionWindows.with_gap(10).is_merging()


def test_merge_windows_merges_overlapping_and_touching():
    """[0,10) and [10,20) touch (elements exactly gap apart) and merge; [25,35) stays alone and is left out."""
    assert merge_windows([W(10, 20), W(25, 35), W(0, 10)]) == [(W(0, 20), [W(0, 10), W(10, 20)])]


def test_merge_windows_leaves_separate_windows_out():
    """Windows 1 ms apart do not intersect: no merge results at all."""
    assert merge_windows([W(0, 10), W(11, 21)]) == []


def test_a_bridging_window_merges_two_sessions():
    """Sessions [0,10) and [15,25); a late element at 8 gives [8,18), which touches both -> [0, 25)."""
    assert merge_windows([W(0, 10), W(15, 25), W(8, 18)]) == [(W(0, 25), [W(0, 10), W(8, 18), W(15, 25)])]


def test_merge_windows_counts_equal_windows_once():
    """Flink keeps each group's windows in a set: two equal windows are not a merge."""
    assert merge_windows([W(0, 10), W(0, 10)]) == []


# ------------------------------------------------------------------ processing time and global


def test_processing_time_assigners_use_processing_time_not_timestamp():
    """§5: processing-time windows assign from the current processing time at arrival."""
    assert TumblingProcessingTimeWindows.of(10).assign_windows("x", 3, 47) == [W(40, 50)]
    assert SlidingProcessingTimeWindows.of(10, 5).assign_windows("x", 3, 47) == [W(45, 55), W(40, 50)]
    assert ProcessingTimeSessionWindows.with_gap(10).assign_windows("x", 3, 47) == [W(47, 57)]
    assert TumblingProcessingTimeWindows.of(10).assign_windows("x", None, 5) == [W(0, 10)]
    with pytest.raises(ValueError, match="processing time"):
        TumblingProcessingTimeWindows.of(10).assign_windows("x", 3, None)


def test_assigner_kinds_and_default_triggers():
    """Event-time assigners default to EventTimeTrigger, processing-time ones to ProcessingTimeTrigger."""
    cases = [
        (TumblingEventTimeWindows.of(10), True, EventTimeTrigger, False),
        (SlidingEventTimeWindows.of(10, 5), True, EventTimeTrigger, False),
        (EventTimeSessionWindows.with_gap(10), True, EventTimeTrigger, True),
        (TumblingProcessingTimeWindows.of(10), False, ProcessingTimeTrigger, False),
        (SlidingProcessingTimeWindows.of(10, 5), False, ProcessingTimeTrigger, False),
        (ProcessingTimeSessionWindows.with_gap(10), False, ProcessingTimeTrigger, True),
        (GlobalWindows.create(), False, NeverTrigger, False),
    ]
    for assigner, event_time, trigger_type, merging in cases:
        assert (assigner.is_event_time(), type(assigner.get_default_trigger()), assigner.is_merging()) == (
            event_time, trigger_type, merging), assigner


def test_global_windows_assign_the_global_window():
    assert GlobalWindows.create().assign_windows("x", None, None) == [GlobalWindow.get()]


def test_assigner_reprs_name_their_parameters():
    assert repr(TumblingEventTimeWindows.of(10, 3)) == "TumblingEventTimeWindows(size=10, offset=3)"
    assert repr(SlidingEventTimeWindows.of(10, 5)) == "SlidingEventTimeWindows(size=10, slide=5, offset=0)"
    assert repr(EventTimeSessionWindows.with_gap(7)) == "EventTimeSessionWindows(gap=7)"


@given(size=st.integers(1, 50), data=st.data(), ts=st.integers(-1_000, 1_000))
def test_sliding_windows_are_exactly_those_containing_the_timestamp(size, data, ts):
    """Property: the assigned windows are every aligned window [s, s+size), s = offset mod slide, holding ts."""
    slide = data.draw(st.integers(1, size))
    offset = data.draw(st.integers(-slide + 1, slide - 1))
    windows = SlidingEventTimeWindows.of(size, slide, offset).assign_windows("x", ts, 0)
    expected = [W(s, s + size) for s in range(ts + slide, ts - size - slide, -1)
                if (s - offset) % slide == 0 and s <= ts < s + size]
    assert windows == expected
