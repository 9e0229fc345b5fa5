"""Watermark strategies, generators, per-split combination and mid-pipeline assigners.

Expected values come from the facts sheet §4: bounded out-of-orderness emits
`max - bound - 1` with its maximum starting at `Long.MIN_VALUE + bound + 1`;
outputs forward only strictly higher watermarks (starting from Long.MIN_VALUE);
a FLIP-27 source combines its splits by minimum, leaving idle splits out; a
later `assign_timestamps_and_watermarks` forwards only Long.MAX_VALUE from
upstream. Each test's docstring says which rule gives its numbers.
"""

from __future__ import annotations

import pytest

from sim.api.eventtime import (
    LONG_MAX, BoundedOutOfOrdernessWatermarks, Duration, NoWatermarksGenerator, Time, TimestampAssigner,
    Watermark, WatermarkAlignment, WatermarkGenerator, WatermarkStrategy,
)
from sim.runtime.watermarks import (
    LONG_MIN, IdlenessTimer, SplitWatermarks, StampedRecord, TimestampsAndWatermarks, WatermarkStatus,
)

ACTIVE, IDLE = WatermarkStatus.ACTIVE, WatermarkStatus.IDLE


class RecordingOutput:
    """A WatermarkOutput that records every call as (method, argument)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def emit_watermark(self, watermark: Watermark) -> None:
        self.calls.append(("emit_watermark", watermark.timestamp))

    def mark_idle(self) -> None:
        self.calls.append(("mark_idle",))

    def mark_active(self) -> None:
        self.calls.append(("mark_active",))

    def take(self) -> list[tuple]:
        calls, self.calls = self.calls, []
        return calls


def bounded(ms: int) -> WatermarkStrategy:
    """Bounded out-of-orderness whose records are their own timestamps."""
    return WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(ms)).with_timestamp_assigner(
        lambda value, record_ts: value)


# --- value types -------------------------------------------------------------------------------------------


def test_duration_and_time_are_integer_milliseconds():
    """PyFlink's factories scale to milliseconds; equal spans compare and hash equal."""
    assert Duration.of_millis(500).to_milliseconds() == 500
    assert Duration.of_seconds(2).to_milliseconds() == 2_000
    assert Duration.of_minutes(3).to_milliseconds() == 180_000
    assert Duration.of_hours(1).to_milliseconds() == 3_600_000
    assert Duration.of_days(1).to_milliseconds() == 86_400_000
    assert Duration.zero().to_milliseconds() == 0
    assert Duration.of_seconds(1) == Duration.of_millis(1_000)
    assert hash(Duration.of_seconds(1)) == hash(Duration.of_millis(1_000))
    assert Duration.of_millis(999) < Duration.of_seconds(1) <= Duration.of_millis(1_000)
    assert sorted([Duration.of_minutes(1), Duration.zero()]) == [Duration.zero(), Duration.of_minutes(1)]
    assert repr(Duration.of_millis(500)) == "Duration.of_millis(500)"
    assert Time.seconds(5).to_milliseconds() == 5_000
    assert Time.milliseconds(7) == Time.milliseconds(7)
    assert [Time.minutes(1), Time.hours(1), Time.days(1)] == [
        Time.milliseconds(60_000), Time.milliseconds(3_600_000), Time.milliseconds(86_400_000)]
    assert repr(Time.seconds(5)) == "Time.milliseconds(5000)"


def test_duration_refuses_non_integers_and_long_overflow():
    """Times are whole milliseconds in Java long range; anything else is a user error naming the call."""
    with pytest.raises(TypeError, match=r"Duration.of_seconds expects an int, found float 1.5"):
        Duration.of_seconds(1.5)
    with pytest.raises(TypeError, match="Time.seconds expects an int"):
        Time.seconds(True)
    with pytest.raises(ValueError, match="must fit in a Java long"):
        Duration.of_days(LONG_MAX)


def test_watermark_constants_are_java_long_bounds():
    """MAX_WATERMARK is Long.MAX_VALUE (end of event time); UNINITIALIZED is Long.MIN_VALUE."""
    assert Watermark.MAX_WATERMARK == Watermark(9223372036854775807)
    assert Watermark.UNINITIALIZED == Watermark(-9223372036854775808)
    assert Watermark(1) < Watermark(2) and Watermark(3).get_timestamp() == 3
    assert len({Watermark(5), Watermark(5)}) == 1
    with pytest.raises(ValueError, match="must fit in a Java long"):
        Watermark(LONG_MAX + 1)
    with pytest.raises(TypeError, match="found str"):
        Watermark("5")


# --- generators --------------------------------------------------------------------------------------------


def test_bounded_first_watermark_is_long_min_without_events():
    """The maximum starts at MIN + bound + 1, so the first `max - bound - 1` is exactly Long.MIN_VALUE."""
    for bound in (0, 500, 10_000):
        out = RecordingOutput()
        BoundedOutOfOrdernessWatermarks(bound).on_periodic_emit(out)
        assert out.take() == [("emit_watermark", LONG_MIN)]


def test_bounded_emits_max_minus_bound_minus_one():
    """Events 1000, 3000, 2000 with bound 500: 1000-500-1 = 499, then 3000-500-1 = 2499, and 2000 is
    below the maximum, so the generator repeats 2499 (it emits every period; filtering is the output's job)."""
    generator, out = BoundedOutOfOrdernessWatermarks(500), RecordingOutput()
    emitted = []
    for ts in (1000, 3000, 2000):
        generator.on_event(ts, ts, out)
        assert out.take() == []          # periodic generator: nothing on events
        generator.on_periodic_emit(out)
        emitted += out.take()
    assert emitted == [("emit_watermark", 499), ("emit_watermark", 2499), ("emit_watermark", 2499)]


def test_monotonous_is_bound_zero():
    """Monotonous timestamps behave as bound 0: the watermark is max - 1."""
    generator, out = WatermarkStrategy.for_monotonous_timestamps().create_generator(), RecordingOutput()
    generator.on_periodic_emit(out)
    generator.on_event("x", 7_000, out)
    generator.on_periodic_emit(out)
    assert out.take() == [("emit_watermark", LONG_MIN), ("emit_watermark", 6_999)]


def test_no_watermarks_emits_nothing():
    """`no_watermarks()` never emits; a source using it stays at Long.MIN_VALUE."""
    generator, out = WatermarkStrategy.no_watermarks().create_generator(), RecordingOutput()
    assert isinstance(generator, NoWatermarksGenerator)
    generator.on_event("x", 5, out)
    generator.on_periodic_emit(out)
    assert out.take() == []
    source = SplitWatermarks(WatermarkStrategy.no_watermarks(), ["s0"])
    source.on_record("s0", "x", 1_000)
    assert [source.on_periodic_emit(t) for t in (200, 400, 600)] == [None, None, None]
    assert source.current_watermark == LONG_MIN


# --- strategy builder --------------------------------------------------------------------------------------


def test_with_methods_return_new_strategies():
    """Immutable builder: the base strategy is unchanged, so it can be shared between sources."""
    base = WatermarkStrategy.for_monotonous_timestamps()
    idle = base.with_idleness(Duration.of_seconds(5))
    aligned = idle.with_watermark_alignment("g", Duration.of_seconds(10))
    assert base.idle_timeout_ms is None and base.alignment is None
    assert idle.idle_timeout_ms == 5_000 and idle.alignment is None
    assert aligned.idle_timeout_ms == 5_000
    assert aligned.alignment == WatermarkAlignment("g", 10_000, 1_000)   # update interval defaults to 1 s
    custom = base.with_watermark_alignment("g", Duration.of_millis(5), Duration.of_millis(250))
    assert custom.alignment.update_interval_ms == 250
    assert repr(idle) == ("WatermarkStrategy.for_monotonous_timestamps()"
                          ".with_idleness(Duration.of_millis(5000))")
    assert base.create_generator() is not base.create_generator()


def test_strategy_arguments_are_checked():
    """Flink refuses a negative out-of-orderness and a non-positive idle timeout."""
    with pytest.raises(ValueError, match="must not be negative"):
        WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(-1))
    with pytest.raises(ValueError, match="greater than zero, found Duration.of_millis\\(0\\)"):
        WatermarkStrategy.no_watermarks().with_idleness(Duration.zero())
    with pytest.raises(TypeError, match="expects a Duration"):
        WatermarkStrategy.for_bounded_out_of_orderness(500)
    with pytest.raises(ValueError, match="watermark group"):
        WatermarkStrategy.no_watermarks().with_watermark_alignment("", Duration.of_seconds(1))


class FieldAssigner(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):
        return value["ts"]


@pytest.mark.parametrize("assigner", [
    FieldAssigner(),
    lambda value, record_timestamp: value["ts"],
    lambda value: value["ts"],
], ids=["object", "two-argument callable", "one-argument callable"])
def test_timestamp_assigner_forms_agree(assigner):
    """A TimestampAssigner, `(value, record_ts)` and `(value)` callables all stamp the same timestamp."""
    strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(assigner)
    assert strategy.timestamp_assigner.extract_timestamp({"ts": 42}, LONG_MIN) == 42
    op = TimestampsAndWatermarks(strategy)
    assert op.on_record({"ts": 42}, record_timestamp=7) == StampedRecord(42, None)


def test_default_assigner_keeps_record_timestamp():
    """Without an assigner the record keeps its timestamp; a record without one gets Long.MIN_VALUE."""
    seen = []
    strategy = WatermarkStrategy.for_monotonous_timestamps()
    assert TimestampsAndWatermarks(strategy).on_record("a", 1_234).timestamp == 1_234
    spy = strategy.with_timestamp_assigner(lambda v, ts: seen.append(ts) or 5)
    assert TimestampsAndWatermarks(spy).on_record("a", None).timestamp == 5
    assert seen == [LONG_MIN]


def test_bad_assigners_are_refused():
    """Errors name the thing and what was expected."""
    with pytest.raises(TypeError, match="expects a TimestampAssigner or a callable"):
        WatermarkStrategy.no_watermarks().with_timestamp_assigner(5)
    with pytest.raises(TypeError, match=r"must take \(value, record_timestamp\) or \(value\)"):
        WatermarkStrategy.no_watermarks().with_timestamp_assigner(lambda a, b, c: 0)
    op = TimestampsAndWatermarks(WatermarkStrategy.no_watermarks().with_timestamp_assigner(lambda v: "late"))
    with pytest.raises(TypeError, match="the timestamp assigned to 'x' must be an int of milliseconds, found str"):
        op.on_record("x")


# --- per-split combination (FLIP-27 source) ----------------------------------------------------------------


def test_source_forwards_only_strictly_increasing_watermarks():
    """Events 1000, 3000, 2000 with bound 500 on one split: 499, then 2499, then nothing (2499 again is
    not higher). The generator's first Long.MIN_VALUE is not forwarded either: the output starts there."""
    source = SplitWatermarks(bounded(500), ["s0"])
    assert source.on_periodic_emit(0) is None                   # MIN is not above MIN
    emitted = []
    for now, ts in ((200, 1000), (400, 3000), (600, 2000)):
        assert source.on_record("s0", ts).timestamp == ts
        emitted.append(source.on_periodic_emit(now))
    assert emitted == [Watermark(499), Watermark(2499), None]
    assert source.current_watermark == 2499


def test_source_takes_minimum_over_splits():
    """Splits combine by minimum: monotonous splits at 5000 and 2000 give 1999; a split with no records
    yet holds the source at Long.MIN_VALUE."""
    source = SplitWatermarks(bounded(0), ["a", "b"])
    # Phase 1: only a has data; b (registered, silent) holds the minimum at MIN.
    source.on_record("a", 5_000)
    assert source.on_periodic_emit(200) is None
    # Phase 2: b reads 2000 -> min(4999, 1999).
    source.on_record("b", 2_000)
    assert source.on_periodic_emit(400) == Watermark(1_999)
    # Phase 3: b overtakes a -> a's 4999 is now the minimum.
    source.on_record("b", 7_000)
    assert source.on_periodic_emit(600) == Watermark(4_999)
    assert (source.split_watermark("a"), source.split_watermark("b")) == (4_999, 6_999)
    # Phase 4: a finishes; only b counts.
    source.remove_split("a")
    assert source.on_periodic_emit(800) == Watermark(6_999)


def test_punctuated_generator_emits_on_record():
    """A generator that emits in `on_event` updates the combined watermark at once (immediate output)."""

    class EveryTenth(WatermarkGenerator):
        def on_event(self, event, event_timestamp, output):
            if event_timestamp % 10 == 0:
                output.emit_watermark(Watermark(event_timestamp))

    source = SplitWatermarks(WatermarkStrategy.for_generator(EveryTenth).with_timestamp_assigner(lambda v: v),
                             ["s0"])
    assert [source.on_record("s0", ts).watermark for ts in (3, 10, 15, 20)] == [
        None, Watermark(10), None, Watermark(20)]


def test_idle_split_leaves_minimum_and_record_reactivates_it():
    """Idleness with timeout 1000 ms, emissions every 200 ms. Flink's timer starts counting at the first
    emission that saw no record since the previous one (400 for split b) and declares idle once strictly
    more than the timeout has passed (1600 - 400 = 1200 > 1000; 1400 - 400 = 1000 is not). Idle b then
    leaves the minimum, so a's watermark goes through. A record on b clears idleness, and b rejoins when
    its generator next emits, holding the minimum (no regression) until it catches up."""
    strategy = bounded(0).with_idleness(Duration.of_seconds(1))
    source = SplitWatermarks(strategy, ["a", "b"])
    # Phase 1: both read; b goes silent after 100 ms.
    source.on_record("a", 1_000)
    source.on_record("b", 900)
    assert source.on_periodic_emit(200) == Watermark(899)
    # Phase 2: a keeps reading; b holds the source at 899 until it is idle at 1600.
    trail = {}
    for now in range(400, 1_800, 200):
        source.on_record("a", 1_000 + now)
        trail[now] = (source.on_periodic_emit(now), source.split_status("b"))
    assert trail[1_400] == (None, ACTIVE)
    assert trail[1_600] == (Watermark(2_599), IDLE)        # b left: min is a alone (2600 - 1)
    assert source.status is ACTIVE                         # a is still active
    # Phase 3: b reads 1500 (behind): it rejoins at the next emission but cannot pull the output back.
    source.on_record("a", 2_800)
    source.on_record("b", 1_500)
    assert source.split_status("b") is IDLE                # until its generator emits
    assert source.on_periodic_emit(1_800) is None          # min(2799, 1499) is below 2599
    assert source.split_status("b") is ACTIVE
    # Phase 4: b catches up past a; the minimum is a again.
    source.on_record("b", 5_000)
    assert source.on_periodic_emit(2_000) == Watermark(2_799)


def test_all_splits_idle_makes_source_idle_until_a_higher_watermark():
    """When every split is idle the combined status is idle and the source announces IDLE. It announces
    ACTIVE again only together with its next higher watermark (WatermarkToDataOutput)."""
    source = SplitWatermarks(bounded(0).with_idleness(Duration.of_millis(100)), ["a", "b"])
    source.on_record("a", 1_000)
    source.on_record("b", 1_000)
    assert source.on_periodic_emit(200) == Watermark(999)
    # Phase 1: silence. Countdown starts at 400; 600 - 400 = 200 > 100 -> both idle at 600.
    assert [source.on_periodic_emit(t) for t in (400, 600)] == [None, None]
    assert source.is_idle and source.status is IDLE
    # Phase 2: a reads a timestamp behind the output: active split, but nothing higher -> still IDLE.
    source.on_record("a", 500)
    assert source.on_periodic_emit(800) is None
    assert source.split_status("a") is ACTIVE and source.is_idle
    # Phase 3: a moves past 999: higher watermark, so ACTIVE again.
    source.on_record("a", 2_000)
    assert source.on_periodic_emit(1_000) == Watermark(1_999)
    assert not source.is_idle


def test_idleness_timer_counts_from_first_quiet_check():
    """The countdown starts at the first check without activity; idle only when strictly past the timeout."""
    timer = IdlenessTimer(1_000)
    assert [timer.check(t) for t in (0, 500, 1_000, 1_001)] == [ACTIVE, ACTIVE, ACTIVE, IDLE]
    timer.activity()
    assert [timer.check(t) for t in (1_200, 1_300, 2_300, 2_301)] == [ACTIVE, ACTIVE, ACTIVE, IDLE]
    with pytest.raises(ValueError, match="went back in time: now_ms 5 < previous 2301"):
        timer.check(5)


def test_source_without_splits_and_unknown_splits():
    """No splits: nothing to combine, so no watermark and no IDLE. An unknown split is a named error."""
    source = SplitWatermarks(bounded(0), owner="kafka[0]")
    assert source.on_periodic_emit(200) is None and source.status is ACTIVE
    source.add_split("p-0")
    with pytest.raises(ValueError, match=r"kafka\[0\] has no split 'p-3'; registered splits: \['p-0'\]"):
        source.on_record("p-3", 1)
    with pytest.raises(ValueError, match=r"kafka\[0\] already has split 'p-0'"):
        source.add_split("p-0")


# --- assign_timestamps_and_watermarks in mid-pipeline ------------------------------------------------------


def test_later_assigner_discards_upstream_watermarks_and_forwards_only_max():
    """TimestampsAndWatermarksOperator ignores upstream watermarks and idleness; only Long.MAX_VALUE
    (end of input) passes, and only once. Its own generator decides event time: 2000 with bound 500 -> 1499."""
    op = TimestampsAndWatermarks(bounded(500))
    # Phase 1: upstream event time is dropped, whatever its value.
    assert op.upstream_watermark(Watermark(10_000)) is None
    assert op.upstream_status(IDLE) is None and op.status is ACTIVE
    # Phase 2: its own generator drives the output.
    assert op.on_record(2_000, record_timestamp=99_999) == StampedRecord(2_000, None)
    assert op.on_periodic_emit(200) == Watermark(1_499)
    assert op.on_periodic_emit(400) is None                 # unchanged -> not forwarded
    # Phase 3: end of input upstream -> MAX once; the final emission adds nothing above MAX.
    assert op.upstream_watermark(Watermark.MAX_WATERMARK) == Watermark.MAX_WATERMARK
    assert op.upstream_watermark(Watermark.MAX_WATERMARK) is None
    assert op.on_finish(600) is None
    assert op.current_watermark == LONG_MAX


def test_later_assigner_announces_its_own_idleness():
    """With idleness the operator marks itself IDLE (100 ms timeout: quiet from 400, idle at 600) and is
    ACTIVE again with its next higher watermark."""
    op = TimestampsAndWatermarks(bounded(0).with_idleness(Duration.of_millis(100)))
    op.on_record(1_000)
    assert op.on_periodic_emit(200) == Watermark(999)
    assert [op.on_periodic_emit(t) for t in (400, 600)] == [None, None]
    assert op.is_idle
    op.on_record(3_000)
    assert op.on_periodic_emit(800) == Watermark(2_999)
    assert op.status is ACTIVE
