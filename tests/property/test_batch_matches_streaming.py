"""BATCH and STREAMING agree on final results whenever STREAMING loses nothing.

Property: for a random bounded input whose timestamps are never further out
of order than the watermark strategy's bound (so STREAMING never sees a late
element), the same job gives
- the same multiset of (key, window start, sum) from a keyed tumbling
  event-time window with allowed lateness 0, and
- for a rolling sum, the last sum STREAMING emitted for each key equals
  the one sum BATCH emits for it,
whatever the keyed parallelism, pacing and watermark interval. (Only the
summed field is compared: `sum` keeps the other fields of a key's first
record, and BATCH sorts a key's records by timestamp, so "first" differs.)
"""

from __future__ import annotations

from collections import Counter

from hypothesis import event, given, settings
from hypothesis import strategies as st

from sim import Simulation, TraceLevel
from sim.api import (
    Duration, PacedSource, ProcessWindowFunction, RuntimeExecutionMode, StreamExecutionEnvironment, Time,
    TumblingEventTimeWindows, WatermarkStrategy,
)
from sim.api.functions import LONG_MAX, LONG_MIN
from sim.trace import LateElement, WatermarkAdvanced

KEYS = st.one_of(st.sampled_from(["a", "b", "c", "word"]), st.integers(-3, 12))


@st.composite
def bounded_inputs(draw) -> tuple[int, list[tuple[object, int, int]]]:
    """(bound ms, events): each event's timestamp is at least the running maximum minus the bound."""
    bound = draw(st.integers(0, 40))
    events, high = [], draw(st.integers(0, 200))
    for _ in range(draw(st.integers(1, 40))):
        timestamp = max(0, high + draw(st.integers(-bound, 60)))
        high = max(high, timestamp)
        events.append((draw(KEYS), draw(st.integers(1, 9)), timestamp))
    return bound, events


class WindowSum(ProcessWindowFunction):
    def process(self, key, context, elements):
        yield key, context.window().start, sum(e[1] for e in elements)


def _run(mode: RuntimeExecutionMode, bound: int, events: list, parallelism: int, pace_ms: int,
         watermark_ms: int):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism).set_runtime_mode(mode)
    env.get_config().set_auto_watermark_interval(watermark_ms)
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(bound)) \
        .with_timestamp_assigner(lambda event, _: event[2])
    source = env.from_source(PacedSource.every(pace_ms, events), strategy, "events")
    keyed = source.key_by(lambda event: event[0])
    keyed.window(TumblingEventTimeWindows.of(Time.milliseconds(50))).process(WindowSum()).name("windows") \
        .add_sink(lambda v: None).name("window_sink")
    keyed.sum(1).name("rolling").add_sink(lambda v: None).name("sum_sink")
    result = Simulation(env, seed=1, trace_level=TraceLevel.CHECKPOINTS).run()
    assert result.status == "FINISHED", result.failure
    return result


def _last_sum_per_key(values: list) -> dict:
    return {value[0]: value[1] for value in values}  # later values of a key overwrite earlier ones


@settings(max_examples=50, deadline=None)
@given(bounded_inputs(), st.integers(1, 3), st.integers(1, 15), st.sampled_from([5, 20, 200]))
def test_batch_and_streaming_agree_when_nothing_is_late(inputs, parallelism, pace_ms, watermark_ms) -> None:
    bound, events = inputs
    streaming = _run(RuntimeExecutionMode.STREAMING, bound, events, parallelism, pace_ms, watermark_ms)
    batch = _run(RuntimeExecutionMode.BATCH, bound, events, parallelism, pace_ms, watermark_ms)
    assert not streaming.trace.of_type(LateElement)
    progressed = any(LONG_MIN < e.watermark < LONG_MAX and e.operator.startswith("windows")
                     for e in streaming.trace.of_type(WatermarkAdvanced))
    event(f"STREAMING windows saw a watermark before the end: {progressed}")
    assert Counter(batch.values("window_sink")) == Counter(streaming.values("window_sink"))
    final = batch.values("sum_sink")
    assert len(final) == len({e[0] for e in events})  # BATCH: exactly one value per key
    assert _last_sum_per_key(final) == _last_sum_per_key(streaming.values("sum_sink"))
