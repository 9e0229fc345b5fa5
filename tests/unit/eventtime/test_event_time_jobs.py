"""Event time in whole jobs: pacing, periodic watermarks, timers, idleness, assigners, window_all."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from sim import Simulation
from sim.api import (
    Duration, GlobalWindows, CountTrigger, KeyedProcessFunction, OutputTag, PacedSource, ProcessAllWindowFunction,
    ProcessFunction, ReaderPoll, Source, SourceReader, StreamExecutionEnvironment, Time, TimeDomain,
    TumblingEventTimeWindows, TumblingProcessingTimeWindows, WatermarkStrategy,
)
from sim.api.functions import LONG_MIN
from sim.trace import TraceLevel


class SeenWatermark(ProcessFunction):
    def process_element(self, value, ctx):
        yield value, ctx.timestamp(), ctx.timer_service().current_watermark()


def bounded(bound_ms, field=1):
    return (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(bound_ms))
            .with_timestamp_assigner(lambda e, _: e[field]))


def env_with_interval(interval_ms):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.get_config().set_auto_watermark_interval(interval_ms)
    return env


def run(env, level=TraceLevel.BUFFERS):
    result = Simulation(env, seed=5, trace_level=level).run()
    assert result.status == "FINISHED", result.failure
    return result


def events(result, name):
    return [e for e in result.trace.events if type(e).__name__ == name]


@given(st.lists(st.integers(0, 100_000), min_size=1, max_size=12), st.integers(0, 5_000))
def test_paced_elements_see_exactly_the_watermark_of_the_elements_before(timestamps, bound):
    """Elements 150 ms apart, a 10 ms interval: element i+1 sees max(ts[0..i]) - bound - 1 (flink-facts §4)."""
    env = env_with_interval(10)
    seen = []
    (env.from_source(PacedSource.every(150, [("k", t) for t in timestamps]), bounded(bound), "events")
     .process(SeenWatermark()).add_sink(seen.append))
    run(env, TraceLevel.JOB)
    assert [ts for _, ts, _ in seen] == timestamps
    assert seen[0][2] == LONG_MIN
    for i in range(1, len(timestamps)):
        assert seen[i][2] == max(timestamps[:i]) - bound - 1


def test_periodic_emission_follows_the_configured_interval():
    env = env_with_interval(50)
    out = []
    env.from_source(PacedSource([("k", 1000), ("k", 2000), ("k", 3000)], at_ms=[0, 400, 800]), bounded(0), "events") \
        .process(SeenWatermark()).add_sink(out.append)
    result = run(env, TraceLevel.CHECKPOINTS)
    advanced = [(e.t_us, e.watermark) for e in events(result, "WatermarkAdvanced")]
    # Emissions at 50, 100, ... ms: 999 at 50 ms; the second element is read at 400 ms, after that
    # instant's emission (due callbacks run before the source reads), so 1999 comes at 450 ms; the
    # last element ends the input at 800 ms, and the source sends Long.MAX_VALUE at once.
    assert advanced == [(50_000, 999), (450_000, 1999), (advanced[-1][0], 2**63 - 1)]


def test_zero_interval_disables_periodic_watermarks_but_end_of_input_still_sends_max():
    env = env_with_interval(0)
    out = []
    env.from_source(PacedSource.every(100, [("k", 1), ("k", 2)]), bounded(0), "events") \
        .process(SeenWatermark()).add_sink(out.append)
    result = run(env, TraceLevel.CHECKPOINTS)
    assert [v[2] for v in out] == [LONG_MIN, LONG_MIN]
    assert [e.watermark for e in events(result, "WatermarkAdvanced")] == [2**63 - 1]


def test_a_job_without_event_time_carries_no_timestamps_and_no_watermarks():
    env = StreamExecutionEnvironment.get_execution_environment()
    out = []
    env.from_collection([1, 2, 3]).map(lambda x: x * 2).add_sink(out.append)
    result = run(env, TraceLevel.RECORDS)
    assert out == [2, 4, 6]
    assert not result.stream_graph.event_time
    assert not events(result, "WatermarkAdvanced")


class Timeout(KeyedProcessFunction):
    """Emits ("timeout", key, when) if a key sees nothing for 1 s of event time; one timer per key."""

    def process_element(self, value, ctx):
        ctx.timer_service().register_event_time_timer(ctx.timestamp() + 1000)
        ctx.timer_service().register_event_time_timer(ctx.timestamp() + 1000)  # deduplicated
        yield "seen", value[0], ctx.timestamp()

    def on_timer(self, timestamp, ctx):
        yield "timer", ctx.get_current_key(), timestamp, ctx.time_domain(), ctx.timestamp()


def test_event_time_timers_fire_once_per_key_and_timestamp_in_order():
    env = env_with_interval(10)
    out = []
    data = [("a", 0), ("b", 100), ("a", 500), ("c", 3000)]
    (env.from_source(PacedSource.every(150, data), bounded(0), "events")
     .key_by(lambda e: e[0]).process(Timeout()).add_sink(out.append))
    run(env)
    timers = [o for o in out if o[0] == "timer"]
    # W reaches 2999 with c@3000: timers a@1000, b@1100, a@1500 fire; c@4000 fires at the end (MAX).
    assert timers == [("timer", "a", 1000, TimeDomain.EVENT_TIME, 1000), ("timer", "b", 1100, TimeDomain.EVENT_TIME, 1100),
                      ("timer", "a", 1500, TimeDomain.EVENT_TIME, 1500), ("timer", "c", 4000, TimeDomain.EVENT_TIME, 4000)]
    assert out.index(("timer", "a", 1000, TimeDomain.EVENT_TIME, 1000)) > out.index(("seen", "c", 3000))


class ProcessingTimeout(KeyedProcessFunction):
    def process_element(self, value, ctx):
        now = ctx.timer_service().current_processing_time()
        ctx.timer_service().register_processing_time_timer(now + 200)
        if value[1] == "cancel":
            ctx.timer_service().delete_processing_time_timer(now + 200)
        return None

    def on_timer(self, timestamp, ctx):
        yield ctx.get_current_key(), timestamp, ctx.time_domain(), ctx.timer_service().current_processing_time()


def test_processing_time_timers_fire_at_their_virtual_millisecond_and_can_be_deleted():
    env = env_with_interval(10)
    env.set_buffer_timeout(0)  # each record leaves at once, so it reaches the timer at its own instant
    out = []
    data = [("a", "x"), ("b", "cancel"), ("c", "x")]
    (env.from_source(PacedSource([*data, ("end", "x")], at_ms=[0, 100, 300, 2000]), bounded(0, field=0)
                     .with_timestamp_assigner(lambda e, _: 0), "events")
     .key_by(lambda e: e[0]).process(ProcessingTimeout()).add_sink(out.append))
    result = run(env)
    assert out[:2] == [("a", 200, TimeDomain.PROCESSING_TIME, 200), ("c", 500, TimeDomain.PROCESSING_TIME, 500)]
    # The last element's timer (2200 ms) is pending when input ends: dropped, as in Flink.
    assert len(out) == 2
    assert events(result, "TimersRan")


def test_timers_on_a_non_keyed_stream_fail_with_a_clear_error():
    class Bad(ProcessFunction):
        def process_element(self, value, ctx):
            ctx.timer_service().register_event_time_timer(10)

    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([1]).process(Bad()).add_sink(lambda v: None)
    result = Simulation(env, seed=1).run()
    assert result.status == "FAILED"
    assert "process[0]" in str(result.failure) and "keyed stream" in str(result.failure)


def test_a_later_assigner_discards_upstream_watermarks():
    env = env_with_interval(10)
    out = []
    (env.from_source(PacedSource.every(150, [("k", 5000, 1), ("k", 9000, 2)]), bounded(0), "events")
     .assign_timestamps_and_watermarks(bounded(0, field=2))
     .process(SeenWatermark()).add_sink(out.append))
    run(env)
    # The second element sees the assigner's own watermark (1 - 0 - 1 = 0), not the source's 4999.
    assert out == [(("k", 5000, 1), 1, LONG_MIN), (("k", 9000, 2), 2, 0)]


class TwoSplits(Source):
    """Reader 0 reads split "busy" (an element every 100 ms) and split "quiet" (one element, then nothing)."""

    name = "two splits"
    parallel = False

    def create_reader(self, index, parallelism):
        return _TwoSplitReader()


class _TwoSplitReader(SourceReader):
    def __init__(self):
        self.next_us = 0
        self.n = 0

    def split_ids(self):
        return ["busy", "quiet"]

    def poll(self, max_records, now_us):
        if self.n >= 20:
            return ReaderPoll([], True)
        if now_us < self.next_us:
            return ReaderPoll([], False, self.next_us)
        self.n += 1
        self.next_us += 100_000
        ts = self.n * 1000
        if self.n == 1:
            return ReaderPoll([("q", 0), ("b", ts)], False, timestamps=[0, ts], splits=["quiet", "busy"])
        return ReaderPoll([("b", ts)], False, timestamps=[ts], splits=["busy"])


@pytest.mark.parametrize("idleness", [None, 300])
def test_a_quiet_split_holds_the_watermark_until_idleness_releases_it(idleness):
    env = env_with_interval(10)
    strategy = WatermarkStrategy.for_monotonous_timestamps()
    if idleness is not None:
        strategy = strategy.with_idleness(Duration.of_millis(idleness))
    out = []
    env.from_source(TwoSplits(), strategy, "events").process(SeenWatermark()).add_sink(out.append)
    run(env, TraceLevel.CHECKPOINTS)
    seen = [wm for _, _, wm in out]
    if idleness is None:
        assert max(seen) == -1  # min over splits: the quiet split stays at its only element's 0 - 1
    else:
        # out[0] is the quiet element, out[n] the busy one with ts n*1000, read at (n-1)*100 ms. The
        # quiet split holds the minimum at -1 until it has been silent 300 ms; then it leaves the
        # minimum, and from 400 ms each busy element sees the one before it: (n-1)*1000 - 1.
        assert seen[:5] == [LONG_MIN, LONG_MIN, -1, -1, -1]
        assert seen[5:] == [(n - 1) * 1000 - 1 for n in range(5, 21)]


class CountAll(ProcessAllWindowFunction):
    def process(self, context, elements):
        yield context.window().start, len(list(elements))


def test_window_all_runs_in_one_subtask_over_every_key():
    env = env_with_interval(10)
    env.set_parallelism(3)
    out = []
    data = [(k, t) for t, k in zip(range(0, 6000, 500), "abcabcabcabc")]
    (env.from_source(PacedSource.every(20, data), bounded(0), "events")
     .window_all(TumblingEventTimeWindows.of(Time.seconds(2))).process(CountAll()).add_sink(out.append))
    result = run(env)
    assert out == [(0, 4), (2000, 4), (4000, 4)]
    assert [n.parallelism for n in result.stream_graph.nodes if n.operator.kind == "window"] == [1]


def test_count_window_fires_every_n_elements_per_key():
    env = StreamExecutionEnvironment.get_execution_environment()
    out = []
    env.from_collection([("a", 1), ("b", 1), ("a", 2), ("a", 3), ("b", 2)]).key_by(lambda e: e[0]) \
        .count_window(2).reduce(lambda x, y: (x[0], x[1] + y[1])).add_sink(out.append)
    run(env)
    assert out == [("a", 3), ("b", 3)]


def test_global_windows_with_a_count_trigger():
    env = StreamExecutionEnvironment.get_execution_environment()
    out = []
    env.from_collection(list(range(7))).key_by(lambda v: v % 2).window(GlobalWindows.create()) \
        .trigger(CountTrigger.of(2)).reduce(lambda a, b: a + b).add_sink(out.append)
    run(env)
    # CountTrigger fires without purging: even keys 0+2=2, then 0+2+4+6=12; odd keys 1+3=4.
    assert out == [2, 4, 12]


def test_processing_time_windows_fire_on_virtual_time_and_ignore_event_time():
    env = env_with_interval(10)
    out = []
    data = [("k", 999_999)] * 3 + [("k", 0)] * 2
    (env.from_source(PacedSource(data, at_ms=[10, 20, 30, 1200, 1300]), bounded(0), "events")
     .key_by(lambda e: e[0]).window(TumblingProcessingTimeWindows.of(Time.seconds(1)))
     .reduce(lambda a, b: (a[0], a[1] + b[1])).add_sink(out.append))
    run(env)
    # [0, 1000) ms of processing time fires at 999 ms; [1000, 2000) never: input ends at 1300 ms.
    assert out == [("k", 2_999_997)]


def test_a_checkpointed_window_job_snapshots_its_windows_and_timers():
    env = env_with_interval(10)
    env.enable_checkpointing(100)
    late = OutputTag("late")
    out = []
    data = [("k", t) for t in range(0, 30_000, 1000)]
    (env.from_source(PacedSource.every(50, data), bounded(0), "events").key_by(lambda e: e[0])
     .window(TumblingEventTimeWindows.of(Time.seconds(10))).side_output_late_data(late)
     .reduce(lambda a, b: (a[0], a[1] + b[1])).add_sink(out.append))
    result = run(env, TraceLevel.CHECKPOINTS)
    assert out == [("k", 45_000), ("k", 145_000), ("k", 245_000)]
    assert result.completed_checkpoints
    windows = [payload["operators"]["window"]["operator"]["windows"]
               for cp in result.completed_checkpoints for payload in cp.payloads.values()
               if "window" in payload.get("operators", {})]
    assert windows, "no checkpoint held window state"
    assert any(w["contents"] and w["timers"]["event_time"] for w in windows)


def test_same_seed_same_trace_for_an_event_time_job():
    def digest():
        env = env_with_interval(10)
        out = []
        (env.from_source(PacedSource.every(30, [("k", t * 7 % 5000) for t in range(40)]), bounded(500), "e")
         .key_by(lambda e: e[0]).window(TumblingEventTimeWindows.of(Time.seconds(1)))
         .reduce(lambda a, b: (a[0], a[1] + b[1])).add_sink(out.append))
        return run(env).digest

    assert digest() == digest()
