"""What each TraceLevel records in a run, and that record-level events account for every record."""

from __future__ import annotations

import pytest

from sim import Simulation, TraceLevel
from sim.api import StreamExecutionEnvironment
from sim.trace import (
    BufferFlushed, BufferSent, JobFinished, JobStarted, RecordSent, RecordWritten, TaskDeployed, TaskFinished,
)


def _job():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.from_collection(["a", "b", "c", "d", "e"]).map(str.upper).key_by(lambda s: s).add_sink(lambda v: None)
    return env


def test_job_level_has_only_lifecycle_events() -> None:
    """TraceLevel.JOB: job and task lifecycle, no buffers or records."""
    result = Simulation(_job(), trace_level=TraceLevel.JOB).run()
    kinds = {type(e) for e in result.trace}
    assert kinds == {JobStarted, TaskDeployed, TaskFinished, JobFinished}


def test_buffers_level_has_no_record_events() -> None:
    """TraceLevel.BUFFERS (the default) records buffers but no per-record events."""
    result = Simulation(_job()).run()
    assert result.trace.of_type(BufferFlushed) and result.trace.of_type(BufferSent)
    assert not result.trace.of_type(RecordSent)


def test_records_level_sends_every_record_on_every_exchange() -> None:
    """TraceLevel.RECORDS: one RecordSent per record per network exchange, with the value's stable repr."""
    result = Simulation(_job(), trace_level=TraceLevel.RECORDS, seed=4).run()
    sent = result.trace.of_type(RecordSent)
    from_source = sorted(e.value for e in sent if e.task == "source[0]")
    from_map = sorted(e.value for e in sent if e.task.startswith("map"))
    assert from_source == ["'a'", "'b'", "'c'", "'d'", "'e'"]
    assert from_map == ["'A'", "'B'", "'C'", "'D'", "'E'"]
    flushed = sum(e.records for e in result.trace.of_type(BufferFlushed))
    assert flushed == len(sent)


def test_records_level_writes_every_sink_record() -> None:
    """TraceLevel.RECORDS: one RecordWritten per record a sink wrote."""
    result = Simulation(_job(), trace_level=TraceLevel.RECORDS, seed=4).run()
    written = result.trace.of_type(RecordWritten)
    assert sorted(e.value for e in written) == ["'A'", "'B'", "'C'", "'D'", "'E'"]
    assert {e.sink for e in written} == {"sink"}
