"""Triggers (flink-facts.md §5): EventTimeTrigger, ProcessingTimeTrigger, CountTrigger, PurgingTrigger, merging.

Each expected firing is derived in the test's docstring from the trigger
rules in §5: EventTimeTrigger fires when the watermark reaches end - 1, or at
once if it already has; CountTrigger fires (without purging) every n
elements; PurgingTrigger turns FIRE into FIRE_AND_PURGE.
"""

from __future__ import annotations

import pytest

from sim.api.windowing import (
    LONG_MIN, CountTrigger, EventTimeSessionWindows, EventTimeTrigger, GlobalWindows, ProcessWindowFunction,
    PurgingTrigger, TimeWindow, Trigger, TriggerResult, TumblingEventTimeWindows, TumblingProcessingTimeWindows,
)
from sim.runtime.timers import InternalTimer
from sim.runtime.window_operator import EmissionKind, WindowOperatorLogic

W = TimeWindow


class Collect(ProcessWindowFunction):
    """Emits (window, elements, watermark) once per firing."""

    def process(self, key, context, elements):
        yield context.window(), list(elements), context.current_watermark()


def results(emissions) -> list:
    return [e.value for e in emissions if e.kind is EmissionKind.RESULT]


def kinds(emissions) -> list:
    return [e.kind for e in emissions]


class FakeContext(Trigger.TriggerContext):
    """Records what a trigger asks for."""

    def __init__(self, watermark: int = LONG_MIN, processing_time: int = 0):
        self.watermark, self.processing_time = watermark, processing_time
        self.calls: list = []

    def get_current_watermark(self):
        return self.watermark

    def get_current_processing_time(self):
        return self.processing_time

    def register_event_time_timer(self, time):
        self.calls.append(("register_event", time))

    def delete_event_time_timer(self, time):
        self.calls.append(("delete_event", time))


# ------------------------------------------------------------------ EventTimeTrigger, directly


def test_event_time_trigger_registers_at_max_timestamp_when_ahead():
    """Watermark 5 < max_timestamp 9: register a timer at 9 and CONTINUE."""
    ctx = FakeContext(watermark=5)
    assert EventTimeTrigger.create().on_element("x", 3, W(0, 10), ctx) is TriggerResult.CONTINUE
    assert ctx.calls == [("register_event", 9)]


def test_event_time_trigger_fires_at_once_when_watermark_passed():
    """max_timestamp 9 <= watermark 9: FIRE now (a late firing), no timer."""
    ctx = FakeContext(watermark=9)
    assert EventTimeTrigger.create().on_element("x", 3, W(0, 10), ctx) is TriggerResult.FIRE
    assert ctx.calls == []


def test_event_time_trigger_fires_only_for_its_own_timer():
    """on_event_time FIREs for time == max_timestamp (not FIRE_AND_PURGE), CONTINUEs for e.g. a cleanup timer."""
    trigger, ctx = EventTimeTrigger.create(), FakeContext()
    assert trigger.on_event_time(9, W(0, 10), ctx) is TriggerResult.FIRE
    assert trigger.on_event_time(14, W(0, 10), ctx) is TriggerResult.CONTINUE
    trigger.clear(W(0, 10), ctx)
    assert ctx.calls == [("delete_event", 9)]


def test_trigger_result_flags():
    assert [(r.is_fire(), r.is_purge()) for r in TriggerResult] == [
        (False, False), (True, False), (False, True), (True, True)]


# ------------------------------------------------------------------ EventTimeTrigger in the operator


def test_window_fires_at_watermark_end_minus_one_not_before():
    """[0,10) has max_timestamp 9: watermark 8 fires nothing, watermark 9 fires (§5, §6 `timer <= watermark`)."""
    logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), window_function=Collect())
    logic.process_element("k", "a", 3, LONG_MIN, 0)
    assert logic.advance_watermark(8, 0) == []
    assert results(logic.advance_watermark(9, 0)) == [(W(0, 10), ["a"], 9)]


def test_late_firing_is_immediate_with_full_contents():
    """Lateness 5: after the firing at watermark 9, element ts 4 fires [0,10) at once with every element.

    §6 observed: "each late element fires its window again at once (same watermark), with the full
    window contents"; EventTimeTrigger returns FIRE because max_timestamp 9 <= watermark 9.
    """
    logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), window_function=Collect(), allowed_lateness=5)
    logic.process_element("k", "a", 3, LONG_MIN, 0)
    assert results(logic.advance_watermark(9, 0)) == [(W(0, 10), ["a"], 9)]
    assert results(logic.process_element("k", "b", 4, 9, 0)) == [(W(0, 10), ["a", "b"], 9)]


def test_processing_time_window_fires_and_clears_at_end_minus_one():
    """§5: processing-time windows fire via processing-time timers at end-1 and are cleared at max_timestamp."""
    logic = WindowOperatorLogic(TumblingProcessingTimeWindows.of(10), window_function=Collect())
    logic.process_element("k", "a", None, LONG_MIN, 3)
    assert logic.timers.next_processing_time() == 9
    assert logic.advance_processing_time(8, LONG_MIN) == []
    out = logic.advance_processing_time(9, LONG_MIN)
    assert results(out) == [(W(0, 10), ["a"], LONG_MIN)]
    assert kinds(out)[-1] is EmissionKind.WINDOW_CLEARED and logic.windows("k") == []


# ------------------------------------------------------------------ count and purging


def test_count_trigger_on_global_windows_fires_every_n_without_purging():
    """CountTrigger.of(3): fires after elements 3 and 6; FIRE keeps the contents, so the second firing sees 6."""
    logic = WindowOperatorLogic(GlobalWindows.create(), window_function=Collect(), trigger=CountTrigger.of(3))
    fired = [results(logic.process_element("k", n, None, LONG_MIN, 0)) for n in range(1, 8)]
    window = GlobalWindows.create().assign_windows(None, None, None)[0]
    assert fired == [[], [], [(window, [1, 2, 3], LONG_MIN)], [], [], [(window, [1, 2, 3, 4, 5, 6], LONG_MIN)], []]


def test_purging_trigger_purges_after_each_firing():
    """PurgingTrigger.of(CountTrigger.of(3)) is Flink's count window: [1,2,3] then [4,5,6]; 7 waits."""
    logic = WindowOperatorLogic(GlobalWindows.create(), window_function=Collect(),
                                trigger=PurgingTrigger.of(CountTrigger.of(3)))
    out = [e for n in range(1, 8) for e in logic.process_element("k", n, None, LONG_MIN, 0)]
    assert [r[1] for r in results(out)] == [[1, 2, 3], [4, 5, 6]]
    assert kinds(out).count(EmissionKind.WINDOW_PURGED) == 2
    assert [v.value for v in logic.window_contents("k", results(out)[0][0])] == [7]


def test_count_trigger_rejects_non_positive_counts():
    with pytest.raises(ValueError, match="got 0"):
        CountTrigger.of(0)


# ------------------------------------------------------------------ merging


def test_session_merge_moves_the_event_time_timer():
    """Gap 10: ts 0 -> [0,10) (timer 9); ts 5 -> [5,15) merges into [0,15).

    The merge clears [0,10)'s trigger timer at 9 and on_merge registers 14
    (ahead of the watermark); the cleanup timer is the same (lateness 0).
    """
    logic = WindowOperatorLogic(EventTimeSessionWindows.with_gap(10), window_function=Collect())
    logic.process_element("k", "a", 0, LONG_MIN, 0)
    assert logic.timers.event_time_timers() == [InternalTimer(9, "k", W(0, 10))]
    logic.process_element("k", "b", 5, LONG_MIN, 0)
    assert logic.timers.event_time_timers() == [InternalTimer(14, "k", W(0, 15))]
    assert logic.advance_watermark(9, 0) == []
    assert results(logic.advance_watermark(14, 0)) == [(W(0, 15), ["a", "b"], 14)]


def test_merged_window_behind_the_watermark_gets_no_timer_and_fires_at_once():
    """Lateness 10, gap 10: [0,10) fired at watermark 9, kept until 19. At watermark 12, ts 2 gives [2,12).

    Merged [0,12) has max_timestamp 11 <= 12: on_merge registers no trigger
    timer, on_element fires at once (late firing). Cleanup timers: [0,10)'s
    at 19 is deleted, [0,12)'s at 11 + 10 = 21 is registered.
    """
    logic = WindowOperatorLogic(EventTimeSessionWindows.with_gap(10), window_function=Collect(), allowed_lateness=10)
    logic.process_element("k", "a", 0, LONG_MIN, 0)
    assert results(logic.advance_watermark(12, 0)) == [(W(0, 10), ["a"], 12)]
    assert results(logic.process_element("k", "b", 2, 12, 0)) == [(W(0, 12), ["a", "b"], 12)]
    assert logic.timers.event_time_timers() == [InternalTimer(21, "k", W(0, 12))]


def test_count_trigger_merges_counts_of_merged_sessions():
    """CountTrigger.of(3), gap 10: ts 0 and ts 20 are two sessions with count 1 each.

    ts 10 gives [10,20), touching both: merged [0,30) counts 1 + 1, plus the
    new element = 3 -> FIRE. Contents: the earliest session's state first
    ([0,10): a), then the other (c), then the new element (b).
    """
    logic = WindowOperatorLogic(EventTimeSessionWindows.with_gap(10), window_function=Collect(),
                                trigger=CountTrigger.of(3))
    logic.process_element("k", "a", 0, LONG_MIN, 0)
    logic.process_element("k", "c", 20, LONG_MIN, 0)
    assert results(logic.process_element("k", "b", 10, LONG_MIN, 0)) == [(W(0, 30), ["a", "c", "b"], LONG_MIN)]


def test_merging_assigner_needs_a_merging_trigger():
    """§5: merging needs a merging trigger; the base Trigger cannot merge."""

    class NoMerge(Trigger):
        pass

    with pytest.raises(ValueError, match="trigger must merge"):
        WindowOperatorLogic(EventTimeSessionWindows.with_gap(10), window_function=Collect(), trigger=NoMerge())
