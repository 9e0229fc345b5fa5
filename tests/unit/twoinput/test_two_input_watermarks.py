"""A two-input task's event time is the minimum of its two inputs' watermarks (idle inputs left out).

Timing used below: each source emits its watermark every 200 ms of virtual
time (the default auto-watermark interval), monotonous timestamps make the
watermark `max timestamp - 1`, and the 100 ms buffer timeout delivers a
watermark to the two-input task at the next flush, i.e. 100 ms later. A
finished source sends Long.MAX_VALUE with its end of partition at once.
"""

from __future__ import annotations

from sim.api import CoMapFunction
from sim.api.functions import LONG_MAX
from sim.trace import WatermarkAdvanced, WatermarkStatusChanged

from tests.unit.twoinput.jobs import environment, paced, run


class Tag(CoMapFunction):
    def map1(self, value):
        return "one", value

    def map2(self, value):
        return "two", value


def _watermarks(result, task):
    return [(e.t_us // 1000, e.watermark) for e in result.trace.of_type(WatermarkAdvanced) if e.task == task]


def test_the_slower_input_holds_the_watermark_back_and_the_lead_changes_sides():
    """Hand-derived: which input is behind changes twice, and the task always follows the one behind.

    Source watermarks (emitted at ms -> value): one: 200 -> 99, 400 -> 149,
    600 -> 699, 650 -> MAX (finished); two: 200 -> 9, 400 -> 399, 600 -> 499,
    950 -> MAX. The task sees each 100 ms later (the finished source's MAX at
    once), and emits min(one, two) whenever it rises:
    300: min(99, 9) = 9; 500: min(149, 399) = 149; 650: min(MAX, 399) = 399;
    700: min(MAX, 499) = 499; 950: MAX.
    """
    env = environment()
    one = paced(env, "one", [("a", 100), ("a", 150), ("a", 700), ("a", 800)], [50, 250, 450, 650])
    two = paced(env, "two", [("b", 10), ("b", 400), ("b", 500), ("b", 900)], [50, 250, 450, 950])
    one.connect(two).map(Tag()).add_sink(lambda v: None).name("out")
    result = run(env)

    assert result.status == "FINISHED"
    assert _watermarks(result, "source[0]") == [(200, 99), (400, 149), (600, 699), (650, LONG_MAX)]
    assert _watermarks(result, "source_2[0]") == [(200, 9), (400, 399), (600, 499), (950, LONG_MAX)]
    assert _watermarks(result, "co_map->out[0]") == [(300, 9), (500, 149), (650, 399), (700, 499), (950, LONG_MAX)]


def test_the_task_never_runs_ahead_of_either_input():
    """At every instant the task's watermark is at most each source's latest watermark."""
    env = environment(2)
    one = paced(env, "one", [("a", t) for t in range(0, 3000, 70)], list(range(0, 1500, 35)))
    two = paced(env, "two", [("b", t) for t in range(0, 3000, 110)], list(range(0, 1500, 55)))
    one.connect(two).map(Tag()).add_sink(lambda v: None).name("out")
    result = run(env)

    latest = {"source[0]": None, "source_2[0]": None}
    checked = 0
    for event in result.trace.of_type(WatermarkAdvanced):
        if event.task in latest:
            latest[event.task] = event.watermark
        else:
            assert event.watermark <= min(w for w in latest.values() if w is not None)
            checked += 1
    assert checked >= 10


def test_an_idle_input_leaves_the_minimum():
    """Input two goes idle (300 ms without records): the task then follows input one alone.

    Two's only early record (ts 10) gives watermark 9 at 200 ms; its idleness
    timer starts at the 400 ms check and fires at the 800 ms one. Until then
    the task stays at 9; from the flush at 900 ms it follows one: 699, 899, MAX.
    """
    env = environment()
    one = paced(env, "one", [("a", t) for t in (100, 300, 500, 700, 900, 1100)], [50, 250, 450, 650, 850, 1050])
    two = paced(env, "two", [("b", 10), ("b", 1500)], [50, 1450], idle_ms=300)
    one.connect(two).map(Tag()).add_sink(lambda v: None).name("out")
    result = run(env)

    idle = [(e.t_us // 1000, e.status) for e in result.trace.of_type(WatermarkStatusChanged) if e.task == "source_2[0]"]
    assert idle[0] == (800, "IDLE")
    assert _watermarks(result, "co_map->out[0]") == [(300, 9), (900, 699), (1050, 899), (1050, LONG_MAX)]
