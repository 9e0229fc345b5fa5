"""Timers and windows restored by key group, at the old parallelism and rescaled; due processing-time timers fire.

Each job reads numbers n (event time n ms) keyed by `n % KEYS`. The tasks
read one source step each, then snapshot (no watermark has passed yet, so
every timer and window is still pending), and the snapshot is restored into
the job at parallelism 3, 1 and 2.
"""

from __future__ import annotations

from collections import Counter

import pytest

from sim.api import (
    KeyedProcessFunction, NumberSequenceSource, StreamExecutionEnvironment, Time, TumblingEventTimeWindows,
    WatermarkStrategy,
)
from sim.kernel.hashing import assign_key_to_parallel_operator
from sim.runtime.restore import plan_restore
from sim.state.serde import decode
from sim.state.storage import LoadedCheckpoint

from tests.unit.restore.harness import TaskHarness
from tests.unit.restore.jobs import operator_metadata

RECORDS, KEYS, BATCH = 600, 7, 100


class Remember(KeyedProcessFunction):
    """Per record an event-time timer 1 s after it, and one processing-time timer per key at 5 s."""

    def process_element(self, value, ctx):
        ctx.timer_service().register_event_time_timer(ctx.timestamp() + 1000)
        ctx.timer_service().register_processing_time_timer(5000)

    def on_timer(self, timestamp, ctx):
        yield ctx.get_current_key(), timestamp, ctx.time_domain().name


def _numbers(parallelism: int) -> tuple[StreamExecutionEnvironment, object]:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda n, ts: n)
    return env, env.from_source(NumberSequenceSource(0, RECORDS - 1), strategy).uid("numbers")


def timers_job(parallelism: int) -> StreamExecutionEnvironment:
    env, numbers = _numbers(parallelism)
    numbers.map(lambda n: (n % KEYS, n)).key_by(lambda t: t[0]).process(Remember()).uid("remember") \
        .add_sink(lambda v: None).name("sink")
    return env


def windows_job(parallelism: int) -> StreamExecutionEnvironment:
    """Per key and 100 ms window: (key, smallest n, count)."""
    env, numbers = _numbers(parallelism)
    numbers.map(lambda n: (n % KEYS, n, 1)).key_by(lambda t: t[0]) \
        .window(TumblingEventTimeWindows.of(Time.milliseconds(100))) \
        .reduce(lambda a, b: (a[0], min(a[1], b[1]), a[2] + b[2])).uid("windows").add_sink(lambda v: None).name("sink")
    return env


def _snapshot(job) -> LoadedCheckpoint:
    """The job at parallelism 2 after one source step each, as a checkpoint kept in memory."""
    harness = TaskHarness(job(2), source_batch_records=BATCH)
    harness.open()
    harness.read(steps=1)
    payloads = harness.snapshot(1)
    harness.dispose()
    return LoadedCheckpoint.from_payloads(1, "checkpoint", operator_metadata(harness.eg), payloads)


def _restored(job, checkpoint: LoadedCheckpoint, parallelism: int, now_ms: int = 0) -> TaskHarness:
    harness = TaskHarness(job(parallelism), source_batch_records=BATCH)
    harness.restore(plan_restore(checkpoint, harness.eg))
    harness.open(now_ms)
    return harness


def _read_before() -> list[int]:
    """What the two old readers read in their first step."""
    return list(range(0, BATCH)) + list(range(RECORDS // 2, RECORDS // 2 + BATCH))


def _owned(written, parallelism):
    """Every output's key was emitted by the subtask owning its key group."""
    return all(assign_key_to_parallel_operator(out[0], 128, parallelism) == subtask for subtask, out in written)


@pytest.mark.parametrize("parallelism", [3, 1, 2])
def test_due_processing_time_timers_fire_at_once_in_the_subtask_owning_the_key(parallelism):
    harness = _restored(timers_job, _snapshot(timers_job), parallelism, now_ms=6000)
    assert harness.written() == []
    harness.fire_timers(6000)
    written = harness.written()
    assert _owned(written, parallelism)
    assert sorted(out for _, out in written) == [(k, 5000, "PROCESSING_TIME") for k in range(KEYS)]
    harness.dispose()


@pytest.mark.parametrize("parallelism", [3, 1, 2])
def test_event_time_timers_wait_for_the_watermark_then_each_fires_once_in_its_owner(parallelism):
    """Restored and new event-time timers fire only at the final watermark: one per record, by the key's owner."""
    harness = _restored(timers_job, _snapshot(timers_job), parallelism)
    harness.fire_timers(0)
    assert harness.written() == []  # the watermark starts again at Long.MIN_VALUE
    harness.finish()
    fired = [(subtask, out) for subtask, out in harness.written() if out[2] == "EVENT_TIME"]
    assert _owned(fired, parallelism)
    assert Counter(out[:2] for _, out in fired) == Counter((n % KEYS, n + 1000) for n in range(RECORDS))
    harness.dispose()


@pytest.mark.parametrize("parallelism", [3, 1, 2])
def test_open_windows_come_back_by_key_group_and_fire_complete(parallelism):
    """Windows half filled before the snapshot fire after the restore with every element counted once."""
    checkpoint = _snapshot(windows_job)
    restored = [row for s in checkpoint.operator_states("windows") if s for row in s["windows"]["contents"]]
    assert {row[1] for row in restored} == set(range(KEYS))
    harness = _restored(windows_job, checkpoint, parallelism)
    harness.finish()
    written = harness.written()
    assert _owned(written, parallelism)
    expected = Counter((n % KEYS, n // 100) for n in range(RECORDS))
    assert {(key, first // 100): count for _, (key, first, count) in written} == dict(expected)
    assert len(written) == len(expected)
    harness.dispose()


@pytest.mark.parametrize("job, state_id", [(timers_job, "remember"), (windows_job, "windows")])
def test_restoring_at_the_same_parallelism_puts_every_state_back_exactly(job, state_id):
    """A snapshot of the restored tasks, before any input, holds what the restored snapshot held."""
    checkpoint = _snapshot(job)
    assert all(checkpoint.operator_states(state_id))  # both subtasks hold pending timers or windows
    harness = _restored(job, checkpoint, 2)
    again = LoadedCheckpoint.from_payloads(2, "checkpoint", {}, harness.snapshot(2))
    assert again.operator_ids() == checkpoint.operator_ids()
    for sid in checkpoint.operator_ids():
        assert again.operator_states(sid) == checkpoint.operator_states(sid)
        assert [(s.operator, _rows(s)) for s in again.keyed_snapshots(sid)] == \
            [(s.operator, _rows(s)) for s in checkpoint.keyed_snapshots(sid)]
    harness.dispose()


def _rows(snapshot):
    return {g: (decode(d.rows), d.deleted) for g, d in snapshot.key_groups.items()}
