"""Tumbling, sliding and session windows run as whole jobs: results and late elements exactly as Flink's.

How the expected values are derived (flink-facts §4-5), the same for every test here:

* One key-by'd job at parallelism 1: source -> (hash) -> window -> sink.
* `PacedSource.every(150, ...)` emits element i at 150*i ms; the watermark
  interval is 10 ms. So the watermark generated after element i is
  `W_i = max(ts[0..i]) - bound - 1` (BoundedOutOfOrderness), emitted at
  150*i + 10 ms; the 100 ms buffer timeout carries it to the window before
  element i+1 arrives at 150*(i+1) ms. Element i+1 therefore meets the window
  operator at watermark W_i (element 0 at Long.MIN_VALUE). Flink shows the
  same interleaving for a source emitting every 150 ms with a 10 ms interval.
* At each watermark every window with `max_timestamp <= W` fires (FIRE, contents
  kept) and every window with `cleanup = max_timestamp + lateness <= W` is
  dropped. An element whose window is not yet cleaned up but already fired
  re-fires that window at once, with its full contents (late firing). An
  element refused by every window it belongs to, and with `ts + lateness <= W`,
  goes to the late side output. End of input is Long.MAX_VALUE: all remaining
  windows fire, in timer order.

Each result is `(key, window start, window end, element count, sum of timestamps)`,
and its record timestamp must be `end - 1`.
"""

from __future__ import annotations

from sim import Simulation
from sim.api import (
    Duration, EventTimeSessionWindows, OutputTag, PacedSource, ProcessFunction, ProcessWindowFunction,
    SlidingEventTimeWindows, StreamExecutionEnvironment, Time, TumblingEventTimeWindows, WatermarkStrategy,
)


class Describe(ProcessWindowFunction):
    def process(self, key, context, elements):
        timestamps = [ts for _, ts in elements]
        yield key, context.window().start, context.window().end, len(timestamps), sum(timestamps)


class WithTimestamp(ProcessFunction):
    def process_element(self, value, ctx):
        yield value, ctx.timestamp()


def run_windowed(elements, assigner, bound_ms, lateness_ms):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.get_config().set_auto_watermark_interval(10)
    late = OutputTag("late")
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(bound_ms))
                .with_timestamp_assigner(lambda e, _: e[1]))
    windows = (env.from_source(PacedSource.every(150, elements), strategy, "events")
               .key_by(lambda e: e[0])
               .window(assigner)
               .allowed_lateness(lateness_ms)
               .side_output_late_data(late)
               .process(Describe()))
    results, late_elements = [], []
    windows.process(WithTimestamp()).add_sink(results.append)
    windows.get_side_output(late).add_sink(late_elements.append)
    run = Simulation(env, seed=3).run()
    assert run.status == "FINISHED", run.failure
    return results, late_elements, run


def test_tumbling_with_lateness_refires_then_drops():
    # size 10 s, bound 2 s (W = max - 2001), lateness 3 s (cleanup of [0,10000) at 12999).
    elements = [("a", 1000), ("a", 9000), ("a", 12000), ("a", 5000), ("a", 14000), ("a", 2000),
                ("a", 16000), ("a", 3000), ("a", 19999), ("b", 8000)]
    # i  ts     W seen  what happens
    # 0  1000   MIN     [0,10000) gets it;           W0 = -1001
    # 1  9000   -1001   [0,10000);                   W1 = 6999
    # 2  12000  6999    [10000,20000);               W2 = 9999 -> fires [0,10000) {1000,9000}
    # 3  5000   9999    [0,10000) not cleaned (12999 > 9999): added, late firing {+5000}
    # 4  14000  9999    [10000,20000);               W4 = 11999
    # 5  2000   11999   12999 > 11999: added, late firing {+2000}
    # 6  16000  11999   W6 = 13999 -> [0,10000) cleaned up (12999 <= 13999)
    # 7  3000   13999   window gone, 3000 + 3000 <= 13999: late side output
    # 8  19999  13999   [10000,20000)
    # 9  b 8000 17998   b's [0,10000) cleanup 12999 <= 17998: late side output
    # end: MAX fires [10000,20000) {12000,14000,16000,19999}
    results, late, _ = run_windowed(elements, TumblingEventTimeWindows.of(Time.seconds(10)), 2000, 3000)
    assert results == [
        (("a", 0, 10000, 2, 10000), 9999),
        (("a", 0, 10000, 3, 15000), 9999),
        (("a", 0, 10000, 4, 17000), 9999),
        (("a", 10000, 20000, 4, 61999), 19999),
    ]
    assert late == [("a", 3000), ("b", 8000)]


def test_sliding_takes_a_late_element_partially():
    # size 10 s, slide 5 s, bound 1 s (W = max - 1001), lateness 2 s; windows listed newest start first.
    elements = [("a", 4000), ("a", 7000), ("a", 3000), ("a", 12000), ("a", 1000), ("a", 6000),
                ("a", 15000), ("a", 2000), ("a", 9000)]
    # i  ts     W seen  what happens
    # 0  4000   MIN     [0,10000) [-5000,5000);                     W0 = 2999
    # 1  7000   2999    [5000,15000) [0,10000);  W1 = 5999 -> fires [-5000,5000) {4000}
    # 2  3000   5999    [0,10000) added; [-5000,5000) cleanup 6999 > 5999: added + late firing {4000,3000}
    # 3  12000  5999    W3 = 10999 -> [-5000,5000) cleaned (6999), fires [0,10000) {4000,7000,3000}
    # 4  1000   10999   [0,10000) (cleanup 11999) added + late firing; [-5000,5000) gone: skipped silently
    # 5  6000   10999   [5000,15000) added; [0,10000) added + late firing (5 elements)
    # 6  15000  10999   W6 = 13999 -> [0,10000) cleaned (11999)
    # 7  2000   13999   both windows gone, 2000 + 2000 <= 13999: late side output
    # 8  9000   13999   [5000,15000) added (14999 > 13999, no firing); [0,10000) gone: skipped silently
    # end: MAX fires [5000,15000) {7000,12000,6000,9000}, [10000,20000) {12000,15000}, [15000,25000) {15000}
    assigner = SlidingEventTimeWindows.of(Time.seconds(10), Time.seconds(5))
    results, late, _ = run_windowed(elements, assigner, 1000, 2000)
    assert [r for r, _ in results] == [
        ("a", -5000, 5000, 1, 4000),
        ("a", -5000, 5000, 2, 7000),
        ("a", 0, 10000, 3, 14000),
        ("a", 0, 10000, 4, 15000),
        ("a", 0, 10000, 5, 21000),
        ("a", 5000, 15000, 4, 34000),
        ("a", 10000, 20000, 2, 27000),
        ("a", 15000, 25000, 1, 15000),
    ]
    assert all(ts == end - 1 for (_, _, end, _, _), ts in results)
    assert late == [("a", 2000)]


def test_session_bridged_by_late_elements():
    # gap 3 s, bound 1 s (W = max - 1001), lateness 1 s.
    elements = [("a", 1000), ("a", 5000), ("a", 2500), ("a", 9500), ("a", 8200), ("a", 6000),
                ("a", 20000), ("a", 3000)]
    # i  ts     W seen  what happens
    # 0  1000   MIN     [1000,4000);                                   W0 = -1
    # 1  5000   -1      [5000,8000) (does not touch 4000);  W1 = 3999 -> fires [1000,4000) {1000}
    # 2  2500   3999    [2500,5500) bridges both sessions -> [1000,8000) (cleanup 8999, not late)
    # 3  9500   3999    [9500,12500);                        W3 = 8499 -> fires [1000,8000) (3 elements)
    # 4  8200   8499    [8200,11200) merges with [9500,12500) -> [8200,12500)
    # 5  6000   8499    [6000,9000) touches [1000,8000) (not yet cleaned: 8999 > 8499) and
    #                   [8200,12500) -> one session [1000,12500) with 6 elements
    # 6  20000  8499    [20000,23000);                       W6 = 18999 -> fires [1000,12500), then cleans it
    # 7  3000   18999   [3000,6000) alone, cleanup 6999 <= 18999, 3000 + 1000 <= 18999: late side output
    # end: MAX fires [20000,23000)
    results, late, _ = run_windowed(elements, EventTimeSessionWindows.with_gap(Time.seconds(3)), 1000, 1000)
    assert results == [
        (("a", 1000, 4000, 1, 1000), 3999),
        (("a", 1000, 8000, 3, 8500), 7999),
        (("a", 1000, 12500, 6, 32200), 12499),
        (("a", 20000, 23000, 1, 20000), 22999),
    ]
    assert late == [("a", 3000)]


def test_late_elements_are_traced_with_the_watermark_that_refused_them():
    elements = [("a", 1000), ("a", 30000), ("a", 2000)]
    _, late, run = run_windowed(elements, TumblingEventTimeWindows.of(Time.seconds(10)), 0, 0)
    assert late == [("a", 2000)]
    events = [e for e in run.trace.events if type(e).__name__ == "LateElement"]
    assert [(e.record, e.timestamp, e.watermark, e.outcome) for e in events] == [
        ("('a', 2000)", 2000, 29999, "side output late")]
