"""The window operator's functions, evictors, snapshots, and an end-to-end event-time table.

Expected values come from flink-facts.md §4 (bounded out-of-orderness
watermark = max_ts - bound - 1), §5 (windows, lateness) and §6 (timers);
each docstring shows the derivation.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.api.functions import OutputTag, ReduceFunction
from sim.api.state import AggregateFunction
from sim.api.windowing import (
    LONG_MAX, LONG_MIN, AllWindowFunction, CountEvictor, EventTimeSessionWindows, ProcessAllWindowFunction,
    ProcessWindowFunction, TimeEvictor, TimeWindow, TumblingEventTimeWindows, WindowFunction,
)
from sim.runtime.window_operator import EmissionKind, WindowMergeError, WindowOperatorLogic

W = TimeWindow
LATE = OutputTag("late")


class Collect(ProcessWindowFunction):
    """Emits (window, elements) once per firing."""

    def process(self, key, context, elements):
        yield context.window(), list(elements)


class Average(AggregateFunction):
    """Accumulator (sum, count); merges by adding."""

    def create_accumulator(self):
        return (0, 0)

    def add(self, value, accumulator):
        return accumulator[0] + value, accumulator[1] + 1

    def get_result(self, accumulator):
        return accumulator[0] / accumulator[1]

    def merge(self, acc_a, acc_b):
        return acc_a[0] + acc_b[0], acc_a[1] + acc_b[1]


class Sum(ReduceFunction):
    def reduce(self, value1, value2):
        return value1 + value2


def results(emissions) -> list:
    return [(e.value, e.timestamp) for e in emissions if e.kind is EmissionKind.RESULT]


def _feed(logic: WindowOperatorLogic, rows, key="k") -> list:
    """Every element at watermark MIN, then end of input (watermark Long.MAX_VALUE)."""
    out = [e for value, ts in rows for e in logic.process_element(key, value, ts, LONG_MIN, 0)]
    return out + logic.advance_watermark(LONG_MAX, 0)


ROWS = [(1, 1), (2, 2), (4, 12)]  # (value, ts): [0,10) gets 1, 2; [10,20) gets 4


# ------------------------------------------------------------------ function shapes


def test_reduce_alone_emits_the_reduced_value_at_max_timestamp():
    """reduce(sum): [0,10) -> 1 + 2 = 3 at 9; [10,20) -> 4 at 19."""
    logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), reduce_function=Sum())
    assert results(_feed(logic, ROWS)) == [(3, 9), (4, 19)]


def test_reduce_accepts_a_plain_callable_and_keeps_one_value():
    logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), reduce_function=lambda a, b: a * 10 + b)
    logic.process_element("k", 1, 1, LONG_MIN, 0)
    logic.process_element("k", 2, 2, LONG_MIN, 0)
    assert logic.window_contents("k", W(0, 10)) == 12  # reduce(old, new) = 1 * 10 + 2


def test_reduce_with_process_window_function_sees_one_value():
    """Flink's reduce(f, window_function): the function gets the single reduced value."""
    logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), reduce_function=Sum(), window_function=Collect())
    assert results(_feed(logic, ROWS)) == [((W(0, 10), [3]), 9), ((W(10, 20), [4]), 19)]


def test_aggregate_emits_get_result():
    """aggregate(average): [0,10) -> (1 + 2) / 2 = 1.5; [10,20) -> 4.0."""
    logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), aggregate_function=Average())
    assert results(_feed(logic, ROWS)) == [(1.5, 9), (4.0, 19)]


def test_apply_window_function():
    class Apply(WindowFunction):
        def apply(self, key, window, inputs):
            return [f"{key}{window}={sum(inputs)}"]

    logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), window_function=Apply())
    assert results(_feed(logic, ROWS)) == [("k[0, 10)=3", 9), ("k[10, 20)=4", 19)]


def test_all_window_functions_do_not_get_a_key():
    """window_all: the runtime passes any constant key; the functions never see it."""
    class ApplyAll(AllWindowFunction):
        def apply(self, window, inputs):
            yield window.start, sorted(inputs)

    class ProcessAll(ProcessAllWindowFunction):
        def process(self, context, elements):
            yield context.window().start, sorted(elements)

    for function in (ApplyAll(), ProcessAll()):
        logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), window_function=function)
        assert results(_feed(logic, ROWS, key=None)) == [((0, [1, 2]), 9), ((10, [4]), 19)]


def test_process_window_function_side_outputs_and_clear():
    """`yield tag, value` is a side output carrying the window's max timestamp; clear() runs at cleanup."""
    tag = OutputTag("sizes")
    cleared = []

    class WithSide(ProcessWindowFunction):
        def process(self, key, context, elements):
            yield tag, len(list(elements))
            yield "main"

        def clear(self, context):
            cleared.append(context.window())

    out = _feed(WindowOperatorLogic(TumblingEventTimeWindows.of(10), window_function=WithSide()), ROWS)
    side = [(e.tag, e.value, e.timestamp) for e in out if e.kind is EmissionKind.SIDE_OUTPUT]
    assert side == [(tag, 2, 9), (tag, 1, 19)]
    assert results(out) == [("main", 9), ("main", 19)]
    assert cleared == [W(0, 10), W(10, 20)]


def test_session_aggregate_merges_accumulators():
    """Gap 10: ts 0, 20 are two sessions; ts 10 bridges them -> one session [0,30), average of 1, 3, 2 = 2.0."""
    logic = WindowOperatorLogic(EventTimeSessionWindows.with_gap(10), aggregate_function=Average())
    assert results(_feed(logic, [(1, 0), (3, 20), (2, 10)])) == [(2.0, 29)]


def test_session_reduce_merges_with_reduce():
    logic = WindowOperatorLogic(EventTimeSessionWindows.with_gap(10), reduce_function=lambda a, b: f"{a}+{b}")
    assert results(_feed(logic, [("a", 0), ("c", 20), ("b", 10)])) == [("a+c+b", 29)]


# ------------------------------------------------------------------ evictors


def test_count_evictor_before_keeps_the_last_n_for_the_function():
    """CountEvictor.of(2): of [1, 2, 3] the function sees [2, 3], and the window keeps [2, 3]."""
    logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), window_function=Collect(),
                                evictor=CountEvictor.of(2), allowed_lateness=100)
    out = _feed(logic, [(1, 1), (2, 2), (3, 3)])
    assert results(out) == [((W(0, 10), [2, 3]), 9)]


def test_count_evictor_after_trims_once_the_function_ran():
    """do_evict_after: the function sees all three; afterwards only [2, 3] stay (a late firing shows it)."""
    logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), window_function=Collect(),
                                evictor=CountEvictor.of(2, do_evict_after=True), allowed_lateness=100)
    for value in (1, 2, 3):
        logic.process_element("k", value, value, LONG_MIN, 0)
    assert results(logic.advance_watermark(9, 0)) == [((W(0, 10), [1, 2, 3]), 9)]
    assert results(logic.process_element("k", 4, 4, 9, 0)) == [((W(0, 10), [2, 3, 4]), 9)]


def test_time_evictor_keeps_elements_within_size_of_the_newest():
    """TimeEvictor.of(5): newest ts 8, cutoff 8 - 5 = 3, keep ts > 3 -> values at ts 4 and 8."""
    logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), window_function=Collect(), evictor=TimeEvictor.of(5))
    assert results(_feed(logic, [("a", 1), ("b", 4), ("c", 8), ("d", 3)])) == [((W(0, 10), ["b", "c"]), 9)]


def test_evictor_with_reduce_folds_what_is_left():
    """With an evictor every element is kept; reduce runs at firing over the kept ones: 2 + 3 = 5."""
    logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), reduce_function=Sum(), evictor=CountEvictor.of(2))
    assert results(_feed(logic, [(1, 1), (2, 2), (3, 3)])) == [(5, 9)]


def test_evictor_with_aggregate_folds_what_is_left():
    logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), aggregate_function=Average(),
                                evictor=CountEvictor.of(2))
    assert results(_feed(logic, [(1, 1), (2, 2), (3, 3)])) == [(2.5, 9)]


# ------------------------------------------------------------------ configuration errors


def test_configuration_errors_name_the_operator():
    assigner = TumblingEventTimeWindows.of(10)
    with pytest.raises(ValueError, match="window needs a window function"):
        WindowOperatorLogic(assigner)
    with pytest.raises(ValueError, match="got both"):
        WindowOperatorLogic(assigner, reduce_function=Sum(), aggregate_function=Average())
    with pytest.raises(TypeError, match="got int"):
        WindowOperatorLogic(assigner, window_function=5)

    class HalfAggregate:
        def create_accumulator(self):
            return 0

        def add(self, value, accumulator):
            return accumulator + value

    with pytest.raises(TypeError, match="HalfAggregate lacks get_result, merge"):
        WindowOperatorLogic(assigner, aggregate_function=HalfAggregate())


def test_merging_into_a_late_window_raises():
    """Flink refuses a merge whose result is already late; it cannot arise from assignments, so force one."""
    logic = WindowOperatorLogic(EventTimeSessionWindows.with_gap(10), window_function=Collect())
    with pytest.raises(WindowMergeError, match="merging made window \\[0, 15\\) for key 'k' late"):
        logic._merge("k", 20, 0, W(0, 15), [W(0, 10)], W(0, 10), [])


# ------------------------------------------------------------------ snapshots


def _session_logic() -> WindowOperatorLogic:
    return WindowOperatorLogic(EventTimeSessionWindows.with_gap(10), window_function=Collect(),
                               key_group_of={"a": 1, "b": 2}.__getitem__, allowed_lateness=5)


def test_snapshot_restore_continues_identically():
    """A restored copy, fed the same rest of the stream, emits exactly what the original emits."""
    original = _session_logic()
    for key, value, ts in [("a", 1, 0), ("b", 2, 3), ("a", 3, 5)]:
        original.process_element(key, value, ts, LONG_MIN, 0)
    original.advance_watermark(14, 0)  # fires a's [0,15); b's [3,13) fired at 12 too
    snapshot = original.snapshot()
    restored = _session_logic()
    restored.restore(snapshot)
    assert restored.snapshot() == snapshot

    def rest(logic):
        return logic.process_element("a", 4, 16, 14, 0) + logic.advance_watermark(LONG_MAX, 0)

    assert rest(restored) == rest(original)


def test_restore_keeps_only_the_given_key_groups():
    original = _session_logic()
    original.process_element("a", 1, 0, LONG_MIN, 0)
    original.process_element("b", 2, 0, LONG_MIN, 0)
    part = _session_logic()
    part.restore(original.snapshot(), key_groups={2})
    assert part.windows("a") == [] and part.windows("b") == [W(0, 10)]
    assert results(part.advance_watermark(LONG_MAX, 0)) == [(((W(0, 10)), [2]), 9)]


def test_snapshot_is_a_copy():
    logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), window_function=Collect(), key_group_of=lambda k: 0)
    logic.process_element("k", 1, 1, LONG_MIN, 0)
    snapshot = logic.snapshot()
    logic.process_element("k", 2, 2, LONG_MIN, 0)
    assert [v.value for v in snapshot["contents"][0][3]] == [1]


# ------------------------------------------------------------------ end to end


BOUND = 3
# (value, ts, watermark after the element). Watermark = max ts so far - 3 - 1 (§4 bounded out-of-orderness).
TABLE = [
    ("a", 1, -3), ("b", 7, 3), ("c", 4, 3), ("d", 12, 8), ("e", 9, 8),
    ("f", 14, 10), ("g", 8, 10), ("h", 11, 10), ("i", 25, 21), ("j", 19, 21),
]


def _run_table(allowed_lateness: int) -> tuple[list, list]:
    """Feeds TABLE to a tumbling 10 ms window; a watermark is applied only if it rises (§4 valve)."""
    logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), window_function=Collect(),
                                allowed_lateness=allowed_lateness, late_data_tag=LATE)
    watermark, out = LONG_MIN, []
    for value, ts, watermark_after in TABLE:
        out += logic.process_element("k", value, ts, watermark, 0)
        if watermark_after > watermark:
            watermark = watermark_after
            out += logic.advance_watermark(watermark, 0)
    out += logic.advance_watermark(LONG_MAX, 0)  # end of input
    fired = [(window, elements, e.timestamp) for e in out if e.kind is EmissionKind.RESULT
             for window, elements in [e.value]]
    late = [(e.value, e.timestamp) for e in out if e.kind is EmissionKind.LATE_ELEMENT]
    return fired, late


def test_table_watermarks_are_bounded_out_of_orderness():
    """The hand-written watermarks are max_ts - 3 - 1 after each element."""
    highest = LONG_MIN
    for _, ts, watermark_after in TABLE:
        highest = max(highest, ts)
        assert watermark_after == highest - BOUND - 1


def test_end_to_end_tumbling_with_bounded_out_of_orderness():
    """Size 10, bound 3, L = 0. Derivation, row by row:

    a@1, b@7, c@4 go to [0,10) (wm -3, 3, 3 < 9). d@12 -> [10,20), wm 8.
    e@9 at wm 8: [0,10) cleanup 9 > 8, taken. f@14 -> [10,20), wm 10 >= 9:
    [0,10) fires [a, b, c, e] at timestamp 9 and is cleared. g@8 at wm 10:
    cleanup 9 <= 10 and 8 <= 10 -> late. h@11 -> [10,20). i@25 -> [20,30),
    wm 21 >= 19: [10,20) fires [d, f, h] at 19. j@19 at wm 21: late. End of
    input (wm Long.MAX_VALUE) fires [20,30) with [i] at 29.
    """
    fired, late = _run_table(allowed_lateness=0)
    assert fired == [(W(0, 10), ["a", "b", "c", "e"], 9), (W(10, 20), ["d", "f", "h"], 19), (W(20, 30), ["i"], 29)]
    assert late == [("g", 8), ("j", 19)]


def test_end_to_end_with_allowed_lateness_two():
    """As above with L = 2: g@8 at wm 10 finds [0,10) alive (cleanup 11 > 10), so [0,10) re-fires at once
    with [a, b, c, e, g]; wm 21 reaches cleanup 11 and clears it. j@19 at wm 21: [10,20) cleanup 21 <= 21
    and 19 + 2 <= 21 -> late.
    """
    fired, late = _run_table(allowed_lateness=2)
    assert fired == [(W(0, 10), ["a", "b", "c", "e"], 9), (W(0, 10), ["a", "b", "c", "e", "g"], 9),
                     (W(10, 20), ["d", "f", "h"], 19), (W(20, 30), ["i"], 29)]
    assert late == [("j", 19)]


@given(timestamps=st.lists(st.integers(0, 60), min_size=1, max_size=40), bound=st.integers(0, 10),
       lateness=st.integers(0, 10))
def test_every_element_is_fired_or_reported_late(timestamps, bound, lateness):
    """Property (tumbling, one key): each element reaches a firing of its window or the late side output.

    With a bounded-out-of-orderness watermark and end of input, no element is
    lost silently. An element goes to the side output exactly when its one
    window is late: end - 1 + lateness <= the watermark in force when it
    arrives (ts + lateness <= watermark alone is not enough: ts 30 at
    watermark 30 still enters [30, 40)).
    """
    logic = WindowOperatorLogic(TumblingEventTimeWindows.of(10), window_function=Collect(),
                                allowed_lateness=lateness, late_data_tag=LATE)
    watermark, highest, out, expected_late = LONG_MIN, LONG_MIN, [], []
    for index, ts in enumerate(timestamps):
        if (ts // 10) * 10 + 9 + lateness <= watermark:
            expected_late.append(index)
        out += logic.process_element("k", index, ts, watermark, 0)
        highest = max(highest, ts)
        if highest - bound - 1 > watermark:
            watermark = highest - bound - 1
            out += logic.advance_watermark(watermark, 0)
    out += logic.advance_watermark(LONG_MAX, 0)
    fired = {i for e in out if e.kind is EmissionKind.RESULT for i in e.value[1]}
    late = [e.value for e in out if e.kind is EmissionKind.LATE_ELEMENT]
    assert late == expected_late
    assert fired | set(late) == set(range(len(timestamps))) and not fired & set(late)
