"""Building blocks for the two-input tests: event-time sources with exact timing, and a run helper."""

from __future__ import annotations

from typing import Any, Sequence

from sim import Simulation, TraceLevel
from sim.api import DataStream, Duration, PacedSource, StreamExecutionEnvironment, TimestampAssigner, WatermarkStrategy
from sim.scenario.result import RunResult


class SecondField(TimestampAssigner):
    """Elements are `(key, timestamp_ms, ...)`: the event timestamp is the second field."""

    def extract_timestamp(self, value: Any, record_timestamp: int | None) -> int:
        return value[1]


def environment(parallelism: int = 1) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    return env


def paced(env: StreamExecutionEnvironment, name: str, elements: Sequence[Any], at_ms: Sequence[int],
          idle_ms: int | None = None) -> DataStream:
    """Elements entering at the given virtual instants, stamped by their second field, monotonous watermarks."""
    strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(SecondField())
    if idle_ms is not None:
        strategy = strategy.with_idleness(Duration.of_millis(idle_ms))
    return env.from_source(PacedSource(list(elements), at_ms=list(at_ms)), strategy, name)


def run(env: StreamExecutionEnvironment, seed: int = 1, trace_level: TraceLevel = TraceLevel.CHECKPOINTS,
        **kwargs: Any) -> RunResult:
    """Run at the checkpoints trace level by default (watermarks, late elements, checkpoints are traced)."""
    return Simulation(env, seed=seed, trace_level=trace_level, **kwargs).run()
