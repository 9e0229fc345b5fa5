"""Lateness decisions of the window operator (flink-facts.md §5 "Lateness", "Subtle points" 11).

The rules, with L the allowed lateness and wm the current watermark:
cleanup_time = max_timestamp + L (Long.MAX_VALUE on overflow; max_timestamp
for processing time); a window is late iff cleanup_time <= wm and is then
skipped; an element is late iff ts + L <= wm; it goes to the side output only
if every window skipped it and it is late. Each docstring applies them.
"""

from __future__ import annotations

import pytest

from sim.api.functions import OutputTag
from sim.api.windowing import (
    LONG_MAX, LONG_MIN, CountTrigger, EventTimeSessionWindows, GlobalWindow, GlobalWindows, ProcessWindowFunction,
    SlidingEventTimeWindows, TimeWindow, TumblingEventTimeWindows, TumblingProcessingTimeWindows,
)
from sim.runtime.timers import InternalTimer
from sim.runtime.window_operator import Emission, EmissionKind, WindowOperatorLogic

W = TimeWindow
LATE = OutputTag("late")


class Collect(ProcessWindowFunction):
    """Emits (window, elements) once per firing."""

    def process(self, key, context, elements):
        yield context.window(), list(elements)


def results(emissions) -> list:
    return [e.value for e in emissions if e.kind is EmissionKind.RESULT]


def _logic(assigner=None, **kwargs) -> WindowOperatorLogic:
    return WindowOperatorLogic(assigner or TumblingEventTimeWindows.of(10), window_function=Collect(), **kwargs)


def test_on_time_element_waits_for_the_watermark():
    """ts 3 at wm MIN: [0,10) cleanup 9 > MIN, element not late; it fires at wm 9 with timestamp 9."""
    logic = _logic()
    assert logic.process_element("k", "a", 3, LONG_MIN, 0) == []
    out = logic.advance_watermark(9, 0)
    assert [(e.kind, e.value, e.timestamp) for e in out if e.kind is EmissionKind.RESULT] == [
        (EmissionKind.RESULT, (W(0, 10), ["a"]), 9)]


def test_late_within_allowed_lateness_refires_then_cleanup_clears():
    """L = 5. Fire at wm 9 with [a]. ts 1 at wm 9: cleanup 14 > 9 -> accepted, re-fires [a, b] at once.

    At wm 14 the cleanup timer (9 + 5) fires: EventTimeTrigger says CONTINUE
    (14 != 9) and the state is cleared. ts 2 at wm 14: cleanup 14 <= 14, the
    window is late, and 2 + 5 <= 14, the element is late -> side output.
    """
    logic = _logic(allowed_lateness=5, late_data_tag=LATE)
    logic.process_element("k", "a", 3, LONG_MIN, 0)
    assert results(logic.advance_watermark(9, 0)) == [(W(0, 10), ["a"])]
    assert results(logic.process_element("k", "b", 1, 9, 0)) == [(W(0, 10), ["a", "b"])]
    assert [v.value for v in logic.window_contents("k", W(0, 10))] == ["a", "b"]
    assert logic.advance_watermark(13, 0) == []
    assert [e.kind for e in logic.advance_watermark(14, 0)] == [EmissionKind.WINDOW_CLEARED]
    assert logic.window_contents("k", W(0, 10)) is None and logic.timers.num_event_time_timers() == 0
    assert logic.process_element("k", "c", 2, 14, 0) == [Emission(EmissionKind.LATE_ELEMENT, "k", None, "c", 2, LATE)]


def test_late_beyond_lateness_goes_to_side_output_or_is_counted():
    """L = 0, wm 9: [0,10) cleanup 9 <= 9 is late, ts 3 <= 9 is late -> side output; without a tag, dropped."""
    with_tag = _logic(late_data_tag=LATE)
    assert with_tag.process_element("k", "a", 3, 9, 0) == [Emission(EmissionKind.LATE_ELEMENT, "k", None, "a", 3, LATE)]
    assert with_tag.num_late_records_dropped == 0
    dropped = _logic()
    assert [e.kind for e in dropped.process_element("k", "a", 3, 9, 0)] == [EmissionKind.LATE_DROPPED]
    assert dropped.num_late_records_dropped == 1
    assert dropped.windows("k") == [] and dropped.timers.num_event_time_timers() == 0


@pytest.mark.parametrize("ts, watermark, accepted", [
    (9, 8, True),  # cleanup 9 > 8
    (9, 9, False),  # cleanup 9 <= 9: the window's last ms at the watermark is already late
    (10, 9, True),  # [10, 20)
    (0, 9, False),
])
def test_lateness_boundaries_with_zero_lateness(ts, watermark, accepted):
    """Window late iff max_timestamp + 0 <= wm; element late iff ts <= wm (both `<=`)."""
    out = _logic(late_data_tag=LATE).process_element("k", "x", ts, watermark, 0)
    assert (out == []) is accepted


def test_sliding_window_takes_a_late_element_partially():
    """Size 10, slide 5, L = 0. ts 12 at wm 14: windows [10,20) (cleanup 19 > 14) and [5,15) (14 <= 14, late).

    The element lands in [10,20) only; although ts 12 <= 14 makes it late, not
    every window refused it, so nothing goes to the side output.
    """
    logic = _logic(SlidingEventTimeWindows.of(10, 5), late_data_tag=LATE)
    assert logic.process_element("k", "a", 12, 14, 0) == []
    assert logic.windows("k") == [W(10, 20)]
    assert results(logic.advance_watermark(LONG_MAX, 0)) == [(W(10, 20), ["a"])]


def test_sliding_element_refused_by_every_window_goes_to_side_output():
    """ts 12 at wm 19: [10,20) cleanup 19 <= 19 and [5,15) 14 <= 19, both late, and 12 <= 19 -> side output."""
    logic = _logic(SlidingEventTimeWindows.of(10, 5), late_data_tag=LATE)
    assert [e.kind for e in logic.process_element("k", "a", 12, 19, 0)] == [EmissionKind.LATE_ELEMENT]


def test_cleanup_timer_clears_state_and_shares_the_trigger_timer():
    """L = 0: the cleanup time 9 equals the trigger's timer 9, so there is one timer; it fires, then clears."""
    logic = _logic()
    logic.process_element("k", "a", 3, LONG_MIN, 0)
    assert logic.timers.event_time_timers() == [InternalTimer(9, "k", W(0, 10))]
    out = logic.advance_watermark(9, 0)
    assert [e.kind for e in out] == [EmissionKind.WINDOW_FIRED, EmissionKind.RESULT, EmissionKind.WINDOW_CLEARED]
    assert logic.windows("k") == [] and logic.window_contents("k", W(0, 10)) is None


def test_lateness_overflow_means_no_cleanup_timer():
    """L = Long.MAX_VALUE: 9 + L overflows, so cleanup is Long.MAX_VALUE and no cleanup timer is registered."""
    logic = _logic(allowed_lateness=LONG_MAX)
    logic.process_element("k", "a", 3, LONG_MIN, 0)
    assert logic.cleanup_time(W(0, 10)) == LONG_MAX
    assert logic.timers.event_time_timers() == [InternalTimer(9, "k", W(0, 10))]  # only the trigger's


def test_global_windows_are_never_late():
    """GlobalWindow ends at Long.MAX_VALUE and GlobalWindows is not event time: nothing is late, nothing cleaned."""
    logic = WindowOperatorLogic(GlobalWindows.create(), window_function=Collect(), trigger=CountTrigger.of(2),
                                late_data_tag=LATE)
    assert logic.process_element("k", "a", 0, LONG_MAX - 1, 0) == []
    assert results(logic.process_element("k", "b", -100, LONG_MAX - 1, 0)) == [(GlobalWindow.get(), ["a", "b"])]
    assert logic.timers.num_event_time_timers() == 0
    assert logic.advance_watermark(LONG_MAX, 0) == []
    assert logic.windows("k") == [GlobalWindow.get()]


def test_processing_time_windows_ignore_the_watermark():
    """Processing-time windows are never late: a high watermark does not refuse the element."""
    logic = _logic(TumblingProcessingTimeWindows.of(10), late_data_tag=LATE)
    assert logic.process_element("k", "a", 0, 1000, 5) == []
    assert logic.windows("k") == [W(0, 10)]


def test_session_lateness_checks_the_merged_window():
    """Gap 10, L = 0. ts 0 -> [0,10), ts 15 -> [15,25); watermark 8.

    ts 5 at wm 8 is a late element (5 <= 8) and its own window [5,15) is not
    late (14 > 8), but what counts is the merged window: [5,15) touches both
    sessions, so they merge into [0,25) (cleanup 24 > 8) and the element is
    taken. ts -20 at wm 8 gives [-20,-10), alone and late (-11 <= 8) -> side output.
    """
    logic = _logic(EventTimeSessionWindows.with_gap(10), late_data_tag=LATE)
    logic.process_element("k", "a", 0, LONG_MIN, 0)
    logic.process_element("k", "c", 15, LONG_MIN, 0)
    assert logic.advance_watermark(8, 0) == []
    assert logic.process_element("k", "b", 5, 8, 0) == []
    assert logic.windows("k") == [W(0, 25)]
    assert [e.kind for e in logic.process_element("k", "z", -20, 8, 0)] == [EmissionKind.LATE_ELEMENT]
    assert logic.windows("k") == [W(0, 25)]
    assert results(logic.advance_watermark(24, 0)) == [(W(0, 25), ["a", "c", "b"])]


def test_late_session_element_alone_is_refused():
    """Gap 10, wm 30: ts 12 -> [12,22), cleanup 21 <= 30 and nothing to merge with -> late, side output."""
    logic = _logic(EventTimeSessionWindows.with_gap(10), late_data_tag=LATE)
    assert [e.kind for e in logic.process_element("k", "a", 12, 30, 0)] == [EmissionKind.LATE_ELEMENT]
    assert logic.windows("k") == []


def test_negative_allowed_lateness_is_refused():
    with pytest.raises(ValueError, match="got -1"):
        _logic(allowed_lateness=-1)
