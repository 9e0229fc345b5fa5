"""Restart backoff: whether a failed job may restart, and after how long.

Layer: `sim.cluster` (pure logic: times are handed in, jitter comes from a
named random stream). The job master calls `failure(now_us)` once per
failure, then asks `can_restart()` and `backoff_us()`.

Defaults (flink-facts §10): with nothing configured (`fall_back_restart`), a
job restarts with exponential delay when checkpointing is on, and not at all
when it is off.

Flink counterpart: `RestartBackoffTimeStrategy` and its implementations
(`NoRestartBackoffTimeStrategy`, `FixedDelayRestartBackoffTimeStrategy`,
`FailureRateRestartBackoffTimeStrategy`,
`ExponentialDelayRestartBackoffTimeStrategy`).
Simplified: failures that happen while a restart is already pending are
not merged into one (the job master ignores them: the failed attempt is
being replaced anyway).
"""

from __future__ import annotations

import random
from collections import deque

from sim.api.restart_strategy import (
    ExponentialDelayRestartStrategyConfiguration, FailureRateRestartStrategyConfiguration,
    FallbackRestartStrategyConfiguration, FixedDelayRestartStrategyConfiguration, NoRestartStrategyConfiguration,
    RestartStrategyConfiguration,
)
from sim.kernel.clock import ms_to_us


class RestartBackoff:
    """Base: counts failures; subclasses decide."""

    def __init__(self, config: RestartStrategyConfiguration):
        self.config = config
        self.failures = 0

    @property
    def name(self) -> str:
        return self.config.describe()

    def failure(self, now_us: int) -> None:
        """A failure happened at `now_us`."""
        self.failures += 1

    def can_restart(self) -> bool:
        raise NotImplementedError

    def refusal(self) -> str:
        """Why `can_restart()` is False, in words."""
        return "restarts are exhausted"

    def backoff_us(self) -> int:
        raise NotImplementedError


class NoRestart(RestartBackoff):
    def can_restart(self) -> bool:
        return False

    def refusal(self) -> str:
        return "the restart strategy is none (no checkpointing and no strategy configured, or no_restart())"

    def backoff_us(self) -> int:
        return 0


class FixedDelay(RestartBackoff):
    config: FixedDelayRestartStrategyConfiguration

    def can_restart(self) -> bool:
        return self.failures <= self.config.restart_attempts

    def refusal(self) -> str:
        return f"all {self.config.restart_attempts} restart attempts are used"

    def backoff_us(self) -> int:
        return ms_to_us(self.config.delay_between_attempts_ms)


class FailureRate(RestartBackoff):
    """Refuses once more than `max_failure_rate` failures fall within one failure interval."""

    config: FailureRateRestartStrategyConfiguration

    def __init__(self, config: FailureRateRestartStrategyConfiguration):
        super().__init__(config)
        self.times: deque[int] = deque()
        self.now_us = 0

    def failure(self, now_us: int) -> None:
        super().failure(now_us)
        self.now_us = now_us
        self.times.append(now_us)
        window = ms_to_us(self.config.failure_interval_ms)
        while self.times and self.times[0] <= now_us - window:
            self.times.popleft()

    def can_restart(self) -> bool:
        return len(self.times) <= self.config.max_failure_rate

    def refusal(self) -> str:
        return (f"{len(self.times)} failures within {self.config.failure_interval_ms} ms exceed the rate of "
                f"{self.config.max_failure_rate}")

    def backoff_us(self) -> int:
        return ms_to_us(self.config.delay_between_attempts_ms)


class ExponentialDelay(RestartBackoff):
    """The delay grows by the multiplier per failure, is capped, resets after a quiet threshold, and jitters."""

    config: ExponentialDelayRestartStrategyConfiguration

    def __init__(self, config: ExponentialDelayRestartStrategyConfiguration, rng: random.Random):
        super().__init__(config)
        self.rng = rng
        self.current_ms = 0.0
        self.last_failure_us: int | None = None

    def failure(self, now_us: int) -> None:
        super().failure(now_us)
        c = self.config
        quiet = self.last_failure_us is None or now_us - self.last_failure_us >= ms_to_us(c.reset_backoff_threshold_ms)
        if quiet:
            self.current_ms = float(c.initial_backoff_ms)
        else:
            self.current_ms = min(self.current_ms * c.backoff_multiplier, float(c.max_backoff_ms))
        self.last_failure_us = now_us

    def can_restart(self) -> bool:
        return True

    def backoff_us(self) -> int:
        jitter_ms = self.current_ms * self.config.jitter_factor
        delay_ms = self.current_ms + (self.rng.uniform(-jitter_ms, jitter_ms) if jitter_ms else 0.0)
        return max(0, int(round(delay_ms * 1000)))


DEFAULT_WITH_CHECKPOINTING = ExponentialDelayRestartStrategyConfiguration()
"""What a job with checkpointing and no configured strategy uses (Flink 1.19 and later)."""


def effective_strategy(config: RestartStrategyConfiguration, checkpointing: bool) -> RestartStrategyConfiguration:
    """The strategy in force: the configured one, or Flink's default for `fall_back_restart`."""
    if isinstance(config, FallbackRestartStrategyConfiguration):
        return DEFAULT_WITH_CHECKPOINTING if checkpointing else NoRestartStrategyConfiguration()
    return config


def create_backoff(config: RestartStrategyConfiguration, checkpointing: bool, rng: random.Random) -> RestartBackoff:
    """The backoff logic for a job's restart strategy configuration."""
    config = effective_strategy(config, checkpointing)
    if isinstance(config, FixedDelayRestartStrategyConfiguration):
        return FixedDelay(config)
    if isinstance(config, FailureRateRestartStrategyConfiguration):
        return FailureRate(config)
    if isinstance(config, ExponentialDelayRestartStrategyConfiguration):
        return ExponentialDelay(config, rng)
    return NoRestart(config)
