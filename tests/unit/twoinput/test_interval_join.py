"""The interval join, checked against results derived by hand from Flink's rules (IntervalJoinOperator).

The rules: a left record at t joins the right records of its key at t' with
t + lower <= t' <= t + upper (an exclusive bound moves inwards by 1 ms); the
pair's timestamp is max(t, t'). A record below the watermark (t < watermark)
is late and joins nothing. A left record is cleaned up when the watermark
reaches t + upper (t if upper <= 0), a right one when it reaches t - lower
(t' if lower >= 0).
"""

from __future__ import annotations

import pytest

from sim.api import (
    EmbeddedRocksDBStateBackend, OutputTag, ProcessFunction, ProcessJoinFunction, StreamExecutionEnvironment,
)
from sim.api.functions import LONG_MIN
from sim.trace import LateElement

from tests.unit.twoinput.jobs import environment, paced, run


class Pair(ProcessJoinFunction):
    def process_element(self, left, right, ctx):
        yield left, right, ctx.get_left_timestamp(), ctx.get_right_timestamp(), ctx.get_timestamp()


class RecordTimestamp(ProcessFunction):
    def process_element(self, value, ctx):
        yield value, ctx.timestamp()


LEFT = [("k", 10, "L1"), ("k", 20, "L2"), ("j", 30, "L3")]
RIGHT = [("k", 8, "R1"), ("k", 13, "R2"), ("k", 14, "R3"), ("k", 19, "R4"), ("j", 31, "R5"), ("k", 30, "R6")]


def _join(lower=-2, upper=3, exclusive=(False, False), parallelism=2, rocksdb=False):
    env = environment(parallelism)
    if rocksdb:
        env.set_state_backend(EmbeddedRocksDBStateBackend())
    # Every record enters within the first 100 ms, before any watermark: nothing is late or cleaned up yet.
    left = paced(env, "left", LEFT, [5, 30, 60])
    right = paced(env, "right", RIGHT, [10, 20, 25, 40, 50, 70])
    joined = left.key_by(lambda r: r[0]).interval_join(right.key_by(lambda r: r[0])).between(lower, upper)
    if exclusive[0]:
        joined = joined.lower_bound_exclusive()
    if exclusive[1]:
        joined = joined.upper_bound_exclusive()
    joined.process(Pair()).name("join").process(RecordTimestamp()).add_sink(lambda v: None).name("out")
    result = run(env)
    assert result.status == "FINISHED", result.failure
    return sorted((v[0][2], v[1][2], *v[2:], ts) for v, ts in result.values("out"))


@pytest.mark.parametrize("rocksdb", [False, True], ids=["hashmap", "rocksdb"])
def test_inclusive_bounds_join_exactly_the_pairs_in_range(rocksdb):
    """between(-2, 3): a left record at t takes right records of its key in [t - 2, t + 3].

    L1 (k, 10): [8, 13] holds R1 (8, the lower edge) and R2 (13, the upper
    edge); R3 (14) is just out. L2 (k, 20): [18, 23] holds R4 (19). L3 (j, 30):
    [28, 33] holds R5 (j, 31); R6 (30) is in range but has key k.
    Each pair's timestamp, seen downstream too, is the larger of the two.
    """
    assert _join(rocksdb=rocksdb) == [
        ("L1", "R1", 10, 8, 10, 10),
        ("L1", "R2", 10, 13, 13, 13),
        ("L2", "R4", 20, 19, 20, 20),
        ("L3", "R5", 30, 31, 31, 31),
    ]


def test_exclusive_bounds_drop_the_edges():
    """Both bounds exclusive: (t - 2, t + 3) = [t - 1, t + 2]. L1 loses R1 (8) and R2 (13); L2 keeps R4, L3 R5."""
    assert _join(exclusive=(True, True)) == [("L2", "R4", 20, 19, 20, 20), ("L3", "R5", 30, 31, 31, 31)]


def test_one_exclusive_bound():
    """Only the upper bound exclusive: [t - 2, t + 2]. L1 keeps R1 (8) and loses R2 (13)."""
    assert [p[:2] for p in _join(exclusive=(False, True))] == [("L1", "R1"), ("L2", "R4"), ("L3", "R5")]


def test_cleanup_and_lateness_at_the_watermark():
    """between(0, 5): cleanup and lateness meet at the watermark, exactly as in Flink.

    Left: L (k, 10) at 50 ms, then X (x, 100) keeps the left watermark ahead
    (99 from 200 ms). Right: R0 (k, 16) at 50 ms (outside L's [10, 15]), so the
    right watermark is 15 from 200 ms. At 300 ms the task's watermark becomes
    min(99, 15) = 15, which reaches L's cleanup timer (10 + 5 = 15): L leaves
    the buffer. Then at 350 ms R15 (k, 15) arrives: not late (15 is not below
    15), but L is gone, so it joins nothing, though 15 lies in L's range.
    At 360 ms R12 (k, 12) arrives: below the watermark, so it is late and
    goes to the right side's late-data output. No pair is ever emitted.
    """
    env = environment()
    late = OutputTag("late right")
    left = paced(env, "left", [("k", 10, "L"), ("x", 100, "X")], [50, 60])
    right = paced(env, "right", [("k", 16, "R0"), ("k", 15, "R15"), ("k", 12, "R12")], [50, 350, 360])
    joined = left.key_by(lambda r: r[0]).interval_join(right.key_by(lambda r: r[0])).between(0, 5) \
        .side_output_right_late_data(late).process(Pair()).name("join")
    joined.add_sink(lambda v: None).name("pairs")
    joined.get_side_output(late).add_sink(lambda v: None).name("late")
    result = run(env)

    assert result.status == "FINISHED", result.failure
    assert result.values("pairs") == []
    assert result.values("late") == [("k", 12, "R12")]
    assert [(e.record, e.timestamp, e.watermark, e.outcome) for e in result.trace.of_type(LateElement)] == [
        ("('k', 12, 'R12')", 12, 15, "side output late right")]


def test_late_records_without_a_side_output_are_dropped():
    env = environment()
    left = paced(env, "left", [("k", 50, "L"), ("k", 10, "L-late")], [50, 350])
    right = paced(env, "right", [("k", 50, "R")], [50])
    left.key_by(lambda r: r[0]).interval_join(right.key_by(lambda r: r[0])).between(-100, 100) \
        .process(Pair()).add_sink(lambda v: None).name("out")
    result = run(env)
    assert [v[:2] for v in result.values("out")] == [(("k", 50, "L"), ("k", 50, "R"))]
    assert [e.outcome for e in result.trace.of_type(LateElement)] == ["dropped"]


def test_records_without_timestamps_fail_the_job_naming_the_operator():
    env = environment()
    left, right = env.from_collection([("k", 1)]), env.from_collection([("k", 2)])
    left.key_by(lambda r: r[0]).interval_join(right.key_by(lambda r: r[0])).between(0, 1) \
        .process(Pair()).add_sink(lambda v: None)
    result = run(env)
    assert result.status == "FAILED"
    assert result.failure.operator == "interval_join[0]"
    assert "needs event-time timestamps" in result.failure.error
    assert "WatermarkStrategy" in result.failure.error


def test_the_context_starts_at_long_min():
    ctx = ProcessJoinFunction.Context()
    assert (ctx.get_left_timestamp(), ctx.get_right_timestamp(), ctx.get_timestamp()) == (LONG_MIN,) * 3


def test_bounds_and_time_are_checked_when_the_join_is_built():
    env = StreamExecutionEnvironment.get_execution_environment()
    left, right = env.from_collection([1]).key_by(lambda v: v), env.from_collection([2]).key_by(lambda v: v)
    with pytest.raises(ValueError, match="needs lower <= upper, got 3 > 1"):
        left.interval_join(right).between(3, 1)
    with pytest.raises(ValueError, match="only supported in event time"):
        left.interval_join(right).in_processing_time().between(0, 1)
    with pytest.raises(TypeError, match="interval_join needs a KeyedStream"):
        left.interval_join(env.from_collection([3]))
    with pytest.raises(TypeError, match="needs a ProcessJoinFunction"):
        left.interval_join(right).between(0, 1).process(lambda a, b, c: None)
