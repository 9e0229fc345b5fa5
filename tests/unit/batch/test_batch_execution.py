"""BATCH execution: sorted keyed input, one key at a time, timers at the end of each key, final-only reduce.

Key groups at max parallelism 128 (they fix the key order, `sim.runtime.batch`):
"b" 22, "c" 62, "a" 81; the ints 3 and 7 share key group 113, so their
`stable_repr` decides ("3" first).
"""

from __future__ import annotations

from sim import Simulation
from sim.api import (
    CollectionSource, Duration, KeyedProcessFunction, PacedSource, ProcessFunction, RuntimeExecutionMode,
    StreamExecutionEnvironment, Time, TumblingEventTimeWindows, ValueStateDescriptor, WatermarkStrategy,
)
from sim.api.functions import LONG_MAX, LONG_MIN
from sim.trace import KeyProcessed, LateElement, StageStarted, WatermarkAdvanced, WindowFired

EVENTS = [("a", 1, 100), ("b", 2, 150), ("a", 3, 1200), ("a", 4, 50), ("b", 5, 2300), ("c", 1, 999), ("a", 7, 10)]
"""(key, value, timestamp ms): ("a", 7, 10) and ("c", 1, 999) come later than a 200 ms bound allows."""


def _env(mode: RuntimeExecutionMode, parallelism: int = 1) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    return env.set_runtime_mode(mode)


def _bounded_out_of_orderness(ms: int) -> WatermarkStrategy:
    return WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(ms)).with_timestamp_assigner(
        lambda event, _: event[2])


def _window_sums(mode: RuntimeExecutionMode):
    env = _env(mode)
    events = env.from_source(PacedSource.every(100, EVENTS), _bounded_out_of_orderness(200), "events")
    (events.key_by(lambda e: e[0]).window(TumblingEventTimeWindows.of(Time.seconds(1)))
           .reduce(lambda x, y: (x[0], x[1] + y[1], min(x[2], y[2]))).add_sink(lambda v: None))
    return Simulation(env, seed=3).run()


def test_batch_windows_fire_per_key_at_the_end_and_nothing_is_late() -> None:
    result = _window_sums(RuntimeExecutionMode.BATCH)
    # Key order b, c, a; each key's windows in the order their end-of-window timers fire.
    assert result.values() == [("b", 2, 150), ("b", 5, 2300), ("c", 1, 999), ("a", 12, 10), ("a", 3, 1200)]
    assert not result.trace.of_type(LateElement)
    assert {e.watermark for e in result.trace.of_type(WindowFired)} == {LONG_MAX}
    # Watermark generators are ignored: the only watermark anywhere is the final one.
    assert {e.watermark for e in result.trace.of_type(WatermarkAdvanced)} == {LONG_MAX}
    assert [e.key for e in result.trace.of_type(KeyProcessed)] == ["'b'", "'c'", "'a'"]


def test_the_same_job_in_streaming_drops_what_came_too_late() -> None:
    """The contrast: STREAMING fires windows as the watermark passes and drops the two late events."""
    result = _window_sums(RuntimeExecutionMode.STREAMING)
    assert sorted(result.values()) == [("a", 3, 1200), ("a", 5, 50), ("b", 2, 150), ("b", 5, 2300)]
    assert sorted(e.record for e in result.trace.of_type(LateElement)) == ["('a', 7, 10)", "('c', 1, 999)"]


class TimersAtTheEnd(KeyedProcessFunction):
    """Reports each element and timer with the watermark it saw and the keys that have state."""

    def open(self, runtime_context):
        self.seen = runtime_context.get_state(ValueStateDescriptor("seen"))
        self.backend = runtime_context._state_provider  # to look at which keys have state

    def process_element(self, value, ctx):
        self.seen.update((self.seen.value() or 0) + 1)
        ctx.timer_service().register_event_time_timer(value[2] + 10)
        ctx.timer_service().register_processing_time_timer(5)
        yield ("element", ctx.get_current_key(), value[1], ctx.timestamp(),
               ctx.timer_service().current_watermark(), self.backend.keys())

    def on_timer(self, timestamp, ctx):
        ctx.timer_service().register_event_time_timer(timestamp + 1)  # ignored: the key is ending
        yield ("timer", ctx.get_current_key(), ctx.time_domain().name, timestamp,
               ctx.timer_service().current_watermark(), self.seen.value())


def test_keyed_process_runs_one_key_at_a_time_then_fires_its_timers() -> None:
    env = _env(RuntimeExecutionMode.BATCH)
    data = [("b", 1, 30), ("a", 1, 20), ("a", 2, 5), ("b", 2, 10), ("a", 3, 20)]
    source = env.from_source(CollectionSource(data), _bounded_out_of_orderness(0), "data")
    source.key_by(lambda e: e[0]).process(TimersAtTheEnd()).add_sink(lambda v: None)
    result = Simulation(env, seed=1).run()
    assert result.status == "FINISHED", result.failure
    assert result.values() == [
        # key b (key group 22): its records by timestamp, only its own state, watermark at MIN ...
        ("element", "b", 2, 10, LONG_MIN, ["b"]),
        ("element", "b", 1, 30, LONG_MIN, ["b"]),
        # ... then every event-time timer in timestamp order, then the processing-time one, at MAX.
        ("timer", "b", "EVENT_TIME", 20, LONG_MAX, 2),
        ("timer", "b", "EVENT_TIME", 40, LONG_MAX, 2),
        ("timer", "b", "PROCESSING_TIME", 5, LONG_MAX, 2),
        # key a (key group 81): equal timestamps keep their arrival order; the state of b is gone.
        ("element", "a", 2, 5, LONG_MIN, ["a"]),
        ("element", "a", 1, 20, LONG_MIN, ["a"]),
        ("element", "a", 3, 20, LONG_MIN, ["a"]),
        ("timer", "a", "EVENT_TIME", 15, LONG_MAX, 3),
        ("timer", "a", "EVENT_TIME", 30, LONG_MAX, 3),
        ("timer", "a", "PROCESSING_TIME", 5, LONG_MAX, 3),
    ]


def _rolling(mode: RuntimeExecutionMode, build) -> list:
    env = _env(mode)
    build(env.from_collection([("a", 1), ("b", 2), ("a", 3), ("b", 4), ("a", 5)]).key_by(lambda t: t[0])) \
        .add_sink(lambda v: None)
    return Simulation(env, seed=0).run().values()


def test_rolling_aggregations_emit_only_the_final_value_per_key() -> None:
    def total(keyed):
        return keyed.sum(1)

    def product(keyed):
        return keyed.reduce(lambda x, y: (x[0], x[1] * y[1]))

    def largest(keyed):
        return keyed.max_by(1)

    assert _rolling(RuntimeExecutionMode.STREAMING, total) == [("a", 1), ("b", 2), ("a", 4), ("b", 6), ("a", 9)]
    assert _rolling(RuntimeExecutionMode.BATCH, total) == [("b", 6), ("a", 9)]
    assert _rolling(RuntimeExecutionMode.BATCH, product) == [("b", 8), ("a", 15)]
    assert _rolling(RuntimeExecutionMode.BATCH, largest) == [("b", 4), ("a", 5)]


class Stamp(ProcessFunction):
    def process_element(self, value, ctx):
        yield value, ctx.timestamp()


def test_the_final_reduced_value_carries_the_max_timestamp() -> None:
    env = _env(RuntimeExecutionMode.BATCH)
    env.from_collection([(7, 1), (3, 2), (7, 3)]).key_by(lambda t: t[0]).sum(1).process(Stamp()) \
        .add_sink(lambda v: None)
    # 3 and 7 share key group 113: "3" < "7" decides.
    assert Simulation(env).run().values() == [((3, 2), LONG_MAX), ((7, 4), LONG_MAX)]


def test_a_failing_key_fails_the_job_and_later_stages_never_start() -> None:
    """The reduce fails on key "a" (processed last); the error names the operator and the record."""
    def fail_on_a(x, y):
        if x[0] == "a":
            raise ValueError("no a")
        return x[0], x[1] + y[1]

    env = _env(RuntimeExecutionMode.BATCH)
    (env.from_collection([("a", 1), ("b", 2), ("a", 3)]).key_by(lambda t: t[0]).reduce(fail_on_a)
        .rebalance().map(lambda t: t).add_sink(lambda v: None))
    result = Simulation(env).run()
    assert result.status == "FAILED"
    assert (result.failure.operator, result.failure.record) == ("reduce[0]", "('a', 3)")
    assert "ValueError: no a" in result.failure.error
    assert [e.stage for e in result.trace.of_type(StageStarted)] == [0, 1]
    assert result.metrics["map->sink[0]"].lifetime_us == 0  # never deployed
