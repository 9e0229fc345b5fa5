"""Restart strategies: how often and after how long a failed job is restarted (PyFlink's names).

Layer: `sim.api` (plain configuration; no clock, no randomness). The job
master in `sim.cluster.restart` turns a configuration into the backoff logic
that decides, failure by failure, whether and when to restart.

`env.set_restart_strategy(RestartStrategies.fixed_delay_restart(3, 10_000))`;
with nothing configured a job restarts as Flink's does (flink-facts §10): not
at all without checkpointing, with exponential delay when checkpointing is on.

Flink counterpart: `RestartStrategies` and its configurations
(`pyflink.common.restart_strategy`), `RestartStrategyOptions`.
Simplified: delays are whole milliseconds (an int, or a `timedelta` /
`Duration` with `to_milliseconds()`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sim.api.checkpointing import duration_ms


class RestartStrategyConfiguration:
    """Base of every restart strategy configuration; `describe()` is what the trace shows."""

    name = "restart strategy"

    def describe(self) -> str:
        return self.name


@dataclass(frozen=True)
class NoRestartStrategyConfiguration(RestartStrategyConfiguration):
    """Never restart: the first failure fails the job."""

    name = "none"


@dataclass(frozen=True)
class FixedDelayRestartStrategyConfiguration(RestartStrategyConfiguration):
    """Restart up to `restart_attempts` times, waiting `delay_between_attempts_ms` before each."""

    restart_attempts: int = 1
    delay_between_attempts_ms: int = 1_000
    name = "fixed-delay"

    def get_restart_attempts(self) -> int:
        return self.restart_attempts

    def get_delay_between_attempts_interval(self) -> timedelta:
        return timedelta(milliseconds=self.delay_between_attempts_ms)

    def describe(self) -> str:
        return f"fixed-delay ({self.restart_attempts} attempts, {self.delay_between_attempts_ms} ms)"


@dataclass(frozen=True)
class FailureRateRestartStrategyConfiguration(RestartStrategyConfiguration):
    """Restart while at most `max_failure_rate` failures fall in any `failure_interval_ms`; wait `delay_ms`."""

    max_failure_rate: int = 1
    failure_interval_ms: int = 60_000
    delay_between_attempts_ms: int = 1_000
    name = "failure-rate"

    def get_max_failure_rate(self) -> int:
        return self.max_failure_rate

    def get_failure_interval(self) -> timedelta:
        return timedelta(milliseconds=self.failure_interval_ms)

    def get_delay_between_attempts_interval(self) -> timedelta:
        return timedelta(milliseconds=self.delay_between_attempts_ms)

    def describe(self) -> str:
        return (f"failure-rate ({self.max_failure_rate} per {self.failure_interval_ms} ms, "
                f"{self.delay_between_attempts_ms} ms)")


@dataclass(frozen=True)
class ExponentialDelayRestartStrategyConfiguration(RestartStrategyConfiguration):
    """Restart without limit, the delay growing by `backoff_multiplier` up to `max_backoff_ms`, with jitter.

    After `reset_backoff_threshold_ms` without a failure the delay starts again
    from `initial_backoff_ms`. Each delay is moved by up to `jitter_factor` of
    itself, drawn from the run's seed.
    """

    initial_backoff_ms: int = 1_000
    max_backoff_ms: int = 60_000
    backoff_multiplier: float = 1.5
    reset_backoff_threshold_ms: int = 3_600_000
    jitter_factor: float = 0.1
    name = "exponential-delay"

    def describe(self) -> str:
        return (f"exponential-delay ({self.initial_backoff_ms} ms x{self.backoff_multiplier} up to "
                f"{self.max_backoff_ms} ms, jitter {self.jitter_factor})")


@dataclass(frozen=True)
class FallbackRestartStrategyConfiguration(RestartStrategyConfiguration):
    """Use the cluster's default: exponential delay with checkpointing, none without (flink-facts §10)."""

    name = "fallback"


class RestartStrategies:
    """Factory of restart strategy configurations, as in PyFlink."""

    RestartStrategyConfiguration = RestartStrategyConfiguration

    @staticmethod
    def no_restart() -> NoRestartStrategyConfiguration:
        return NoRestartStrategyConfiguration()

    @staticmethod
    def fall_back_restart() -> FallbackRestartStrategyConfiguration:
        return FallbackRestartStrategyConfiguration()

    @staticmethod
    def fixed_delay_restart(restart_attempts: int, delay_between_attempts: Any) -> FixedDelayRestartStrategyConfiguration:
        if type(restart_attempts) is not int or restart_attempts < 0:
            raise ValueError(f"fixed-delay restart: restart_attempts must be a non-negative int, "
                             f"got {restart_attempts!r}")
        return FixedDelayRestartStrategyConfiguration(
            restart_attempts, duration_ms(delay_between_attempts, "fixed-delay restart: delay_between_attempts"))

    @staticmethod
    def failure_rate_restart(failure_rate: int, failure_interval: Any,
                             delay_interval: Any) -> FailureRateRestartStrategyConfiguration:
        if type(failure_rate) is not int or failure_rate < 1:
            raise ValueError(f"failure-rate restart: failure_rate must be a positive int, got {failure_rate!r}")
        return FailureRateRestartStrategyConfiguration(
            failure_rate, duration_ms(failure_interval, "failure-rate restart: failure_interval"),
            duration_ms(delay_interval, "failure-rate restart: delay_interval"))

    @staticmethod
    def exponential_delay_restart(initial_backoff: Any = 1_000, max_backoff: Any = 60_000,
                                  backoff_multiplier: float = 1.5, reset_backoff_threshold: Any = 3_600_000,
                                  jitter_factor: float = 0.1) -> ExponentialDelayRestartStrategyConfiguration:
        initial = duration_ms(initial_backoff, "exponential-delay restart: initial_backoff")
        maximum = duration_ms(max_backoff, "exponential-delay restart: max_backoff")
        if maximum < initial:
            raise ValueError(f"exponential-delay restart: max_backoff ({maximum} ms) must be at least "
                             f"initial_backoff ({initial} ms)")
        if not backoff_multiplier >= 1:
            raise ValueError(f"exponential-delay restart: backoff_multiplier must be at least 1, "
                             f"got {backoff_multiplier!r}")
        if not 0 <= jitter_factor <= 1:
            raise ValueError(f"exponential-delay restart: jitter_factor must be in [0, 1], got {jitter_factor!r}")
        return ExponentialDelayRestartStrategyConfiguration(
            initial, maximum, float(backoff_multiplier),
            duration_ms(reset_backoff_threshold, "exponential-delay restart: reset_backoff_threshold"), float(jitter_factor))
