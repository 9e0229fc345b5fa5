"""The buffer timeout: when partly filled output buffers become visible downstream.

Flink's default `execution.buffer-timeout` is 100 ms: a periodic flusher
finishes partly filled buffers. 0 flushes after every record; -1 flushes only
full buffers, and pending data then leaves with the end-of-partition event
(flink-facts.md §3). In the simulator a flush that falls inside a task's step
takes effect when the step ends (records of a step are published together).
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from sim import ClusterSpec, CostModel, Simulation, TraceLevel
from sim.api import ReaderPoll, Source, SourceReader, StreamExecutionEnvironment
from sim.trace import BufferFlushed, RecordSent

MAP_NS = 10_000_000  # 10 ms per record: ten records per 100 ms flush
STEP_US = MAP_NS // 1000 + 5  # one step's CPU, with a little overhead


def _trickle(records: int, timeout_ms: int | None, level: TraceLevel = TraceLevel.BUFFERS):
    """source -> map (10 ms/record, one record per source step) -rebalance-> sink, all p=1."""
    env = StreamExecutionEnvironment.get_execution_environment()
    if timeout_ms is not None:
        env.set_buffer_timeout(timeout_ms)
    env.from_collection(list(range(records))).map(lambda v: v).rebalance().add_sink(lambda v: None)
    costs = CostModel(source_batch_records=1, operator_cpu_ns={"map": MAP_NS})
    result = Simulation(env, cluster=ClusterSpec(costs=costs), seed=1, trace_level=level).run()
    assert result.status == "FINISHED"
    assert result.values("sink") == list(range(records))
    return result


def _flushes(result) -> list[BufferFlushed]:
    return result.trace.of_type(BufferFlushed)


def test_default_timeout_is_100_ms() -> None:
    """A new environment has Flink's default buffer timeout."""
    assert StreamExecutionEnvironment.get_execution_environment().get_buffer_timeout() == 100


def test_trickle_is_flushed_by_timeout_every_100_ms() -> None:
    """Default timeout: about ten records per buffer, flushed at k*100 ms (or when the running step ends)."""
    result = _trickle(55, None)
    flushes = _flushes(result)
    timeouts = [f for f in flushes if f.reason == "timeout"]
    assert [f.records for f in timeouts] == [10, 10, 10, 10, 10]
    for k, f in enumerate(timeouts, start=1):
        assert k * 100_000 <= f.t_us < k * 100_000 + STEP_US, (k, f)
    gaps = [b.t_us - a.t_us for a, b in zip(timeouts, timeouts[1:])]
    assert all(100_000 - STEP_US < g < 100_000 + STEP_US for g in gaps), gaps
    # the rest leaves with end of input
    assert [(f.reason, f.records) for f in flushes[len(timeouts):]] == [("event", 5)]
    assert not any(f.reason == "full" for f in flushes)


@pytest.mark.parametrize("timeout_ms", [50, 200])
def test_trickle_follows_a_configured_timeout(timeout_ms: int) -> None:
    """set_buffer_timeout(ms): flushes come every `ms`, with about ms/10 records each."""
    result = _trickle(40, timeout_ms)
    timeouts = [f for f in _flushes(result) if f.reason == "timeout"]
    assert timeouts
    per_buffer = timeout_ms // 10
    assert all(f.records == per_buffer for f in timeouts)
    for k, f in enumerate(timeouts, start=1):
        assert k * timeout_ms * 1000 <= f.t_us < k * timeout_ms * 1000 + STEP_US


def test_no_record_waits_longer_than_the_timeout() -> None:
    """Every record is flushed within one timeout (plus the step running at the tick) of being written."""
    result = _trickle(35, None, level=TraceLevel.RECORDS)
    sent = defaultdict(list)
    for e in result.trace.of_type(RecordSent):
        sent[e.channel].append(e.t_us)
    for channel, times in sent.items():
        position = 0
        for f in [f for f in _flushes(result) if f.channel == channel]:
            written = times[position:position + f.records]
            position += f.records
            assert f.t_us - min(written) <= 100_000 + STEP_US
        assert position == len(times)


def test_timeout_zero_sends_one_record_per_buffer() -> None:
    """set_buffer_timeout(0): every buffer holds exactly one record."""
    result = _trickle(12, 0)
    flushes = _flushes(result)
    assert len(flushes) == 12
    assert {f.records for f in flushes} == {1}
    assert {f.size_bytes for f in flushes} == {CostModel().record_size_bytes}
    # each one goes out as soon as its step ends, not on a timer
    assert [f.t_us for f in flushes] == sorted(f.t_us for f in flushes)
    assert all(f.t_us < (i + 1) * (STEP_US + 5) for i, f in enumerate(flushes))


def test_timeout_zero_with_a_fast_source_still_one_record_per_buffer() -> None:
    """Timeout 0 holds even when a batch of 512 records is produced in one step."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_buffer_timeout(0)
    env.from_collection(list(range(30))).rebalance().add_sink(lambda v: None)
    result = Simulation(env, seed=1).run()
    assert [f.records for f in _flushes(result)] == [1] * 30


def test_timeout_minus_one_flushes_only_full_buffers_and_at_end_of_input() -> None:
    """-1: no timeout flushes at all; the trickle leaves in one buffer with the end-of-partition event."""
    result = _trickle(25, -1)
    flushes = _flushes(result)
    assert [(f.reason, f.records) for f in flushes] == [("event", 25)]
    assert flushes[0].t_us >= 25 * MAP_NS // 1000


def test_timeout_minus_one_with_full_buffers() -> None:
    """-1 with more than a buffer's worth: full buffers of 512 records (32 KiB / 64 B), then the rest at the end."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_buffer_timeout(-1)
    env.from_collection(list(range(1200))).rebalance().add_sink(lambda v: None)
    result = Simulation(env, seed=1).run()
    assert [(f.reason, f.records) for f in _flushes(result)] == [("full", 512), ("full", 512), ("event", 176)]


@pytest.mark.parametrize("bad", [-2, 1.5, "100"])
def test_invalid_buffer_timeout_is_rejected(bad) -> None:
    """Only ints >= -1 are timeouts."""
    with pytest.raises(ValueError, match="buffer timeout must be an int >= -1"):
        StreamExecutionEnvironment.get_execution_environment().set_buffer_timeout(bad)


class _OneAtATimeReader(SourceReader):
    def __init__(self, count: int):
        self.next = 0
        self.count = count

    def poll(self, max_records: int, now_us: int) -> ReaderPoll:
        value, self.next = self.next, self.next + 1
        return ReaderPoll([value], self.next >= self.count)


class _TrickleSource(Source):
    """A non-parallel source whose reader returns one record per poll, whatever the batch size."""

    name = "Trickle"
    parallel = False

    def __init__(self, count: int):
        self.count = count

    def create_reader(self, index: int, parallelism: int) -> SourceReader:
        return _OneAtATimeReader(self.count)


def test_custom_one_record_source_is_flushed_by_timeout() -> None:
    """A user Source yielding one record per poll, behind a slow map, is flushed by the 100 ms timer."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_source(_TrickleSource(33)).map(lambda v: v * 2).rebalance().add_sink(lambda v: None)
    result = Simulation(env, cluster=ClusterSpec(costs=CostModel(operator_cpu_ns={"map": MAP_NS})), seed=1).run()
    assert result.status == "FINISHED"
    assert result.values("sink") == [2 * v for v in range(33)]
    assert [(f.reason, f.records) for f in _flushes(result)] == [("timeout", 10)] * 3 + [("event", 3)]


class _WaitingReader(SourceReader):
    """Reads nothing until `ready_us` of virtual time, then one record; refuses to spin without time passing."""

    def __init__(self, ready_us: int):
        self.ready_us = ready_us
        self.polls_at = (-1, 0)

    def poll(self, max_records: int, now_us: int) -> ReaderPoll:
        last, count = self.polls_at
        self.polls_at = (now_us, count + 1 if now_us == last else 1)
        if self.polls_at[1] > 1_000:
            raise RuntimeError(f"polled 1000 times at {now_us} us: virtual time does not advance")
        if now_us < self.ready_us:
            return ReaderPoll([], False)
        return ReaderPoll(["ready"], True)


class _WaitingSource(Source):
    name = "Waiting"
    parallel = False

    def create_reader(self, index: int, parallelism: int) -> SourceReader:
        return _WaitingReader(1_000)


def _waiting_job(costs: CostModel):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_source(_WaitingSource()).add_sink(lambda v: None)
    return Simulation(env, cluster=ClusterSpec(costs=costs), seed=1).run(until_ms=10)


def test_source_polling_empty_advances_time_by_the_step_cost() -> None:
    """A reader that returns nothing until 1 ms is polled every step (2 us overhead) until it has data."""
    result = _waiting_job(CostModel())
    assert result.status == "FINISHED"
    assert result.values("sink") == ["ready"]
    assert 1_000 <= result.outputs["sink"][0].t_us < 1_010


def test_source_polling_empty_with_zero_costs_does_not_spin() -> None:
    """Zero CPU prices are allowed; an empty poll must still let virtual time move on."""
    result = _waiting_job(CostModel(record_cpu_ns=0, step_overhead_ns=0, serialize_ns_per_byte=0,
                                    deserialize_ns_per_byte=0))
    assert result.status == "FINISHED"
    assert result.values("sink") == ["ready"]
