"""Restart strategies: Flink's names and defaults, failure by failure (flink-facts §10)."""

import random

import pytest

from sim.api import RestartStrategies
from sim.api.restart_strategy import ExponentialDelayRestartStrategyConfiguration
from sim.cluster.restart import ExponentialDelay, FailureRate, FixedDelay, NoRestart, create_backoff

S = 1_000_000


def test_the_default_is_none_without_checkpointing_and_exponential_delay_with_it():
    assert isinstance(create_backoff(RestartStrategies.fall_back_restart(), False, random.Random(0)), NoRestart)
    backoff = create_backoff(RestartStrategies.fall_back_restart(), True, random.Random(0))
    assert isinstance(backoff, ExponentialDelay)
    c = backoff.config
    assert (c.initial_backoff_ms, c.max_backoff_ms, c.backoff_multiplier, c.reset_backoff_threshold_ms,
            c.jitter_factor) == (1_000, 60_000, 1.5, 3_600_000, 0.1)


def test_fixed_delay_allows_its_attempts_then_refuses():
    backoff = create_backoff(RestartStrategies.fixed_delay_restart(2, 500), True, random.Random(0))
    decisions = []
    for t in range(3):
        backoff.failure(t * S)
        decisions.append((backoff.can_restart(), backoff.backoff_us()))
    assert decisions == [(True, 500_000), (True, 500_000), (False, 500_000)]
    assert "2 restart attempts" in backoff.refusal()
    assert isinstance(backoff, FixedDelay)


def test_failure_rate_counts_failures_within_the_interval():
    backoff = create_backoff(RestartStrategies.failure_rate_restart(2, 10_000, 100), True, random.Random(0))
    assert isinstance(backoff, FailureRate)
    outcomes = []
    for t_s in (0, 4, 11, 12):  # failures at 0 s, 4 s, 11 s, 12 s: the last one is the third within 10 s
        backoff.failure(t_s * S)
        outcomes.append(backoff.can_restart())
    assert outcomes == [True, True, True, False]
    assert backoff.backoff_us() == 100_000


def test_exponential_delay_grows_caps_resets_and_jitters_within_its_factor():
    config = ExponentialDelayRestartStrategyConfiguration(1_000, 5_000, 2.0, 60_000, 0.0)
    backoff = ExponentialDelay(config, random.Random(0))
    delays = []
    for t_s in (0, 1, 2, 3, 4, 100):  # the last failure comes after a quiet minute: back to 1 s
        backoff.failure(t_s * S)
        delays.append(backoff.backoff_us() // 1000)
    assert delays == [1_000, 2_000, 4_000, 5_000, 5_000, 1_000]
    jittery = ExponentialDelay(ExponentialDelayRestartStrategyConfiguration(), random.Random(3))
    jittery.failure(0)
    assert all(900_000 <= jittery.backoff_us() <= 1_100_000 for _ in range(50))


def test_bad_configurations_are_refused_naming_the_strategy():
    with pytest.raises(ValueError, match="fixed-delay restart: restart_attempts"):
        RestartStrategies.fixed_delay_restart(-1, 10)
    with pytest.raises(ValueError, match="exponential-delay restart: max_backoff"):
        RestartStrategies.exponential_delay_restart(5_000, 1_000)
    with pytest.raises(ValueError, match="failure-rate restart: failure_rate"):
        RestartStrategies.failure_rate_restart(0, 1, 1)
