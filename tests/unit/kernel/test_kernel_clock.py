"""Tests for sim.kernel.clock: virtual time units and validation."""

from __future__ import annotations

import pytest

from sim.kernel import (
    US_PER_MS,
    US_PER_S,
    ms_to_us,
    ns_to_us_carry,
    require_time_us,
    us_to_ms,
)


def test_constants_and_conversions() -> None:
    assert US_PER_MS == 1000
    assert US_PER_S == 1_000_000
    assert ms_to_us(5) == 5000
    assert us_to_ms(5999) == 5
    assert us_to_ms(-1) == -1  # floor division


def test_ns_to_us_carry_single() -> None:
    assert ns_to_us_carry(2500, 0) == (2, 500)
    assert ns_to_us_carry(600, 500) == (1, 100)
    assert ns_to_us_carry(0, 0) == (0, 0)


def test_ns_to_us_carry_accumulates_without_drift() -> None:
    costs = [137, 250, 999, 1, 3333, 42] * 1000 + [7] * 12345
    charged_us, carry = 0, 0
    for cost in costs:
        whole, carry = ns_to_us_carry(cost, carry)
        charged_us += whole
        assert 0 <= carry < 1000
    assert charged_us * 1000 + carry == sum(costs)
    assert charged_us == sum(costs) // 1000


def test_require_time_us_accepts_non_negative_int() -> None:
    assert require_time_us(0, "x") == 0
    assert require_time_us(1500, "x") == 1500


@pytest.mark.parametrize("bad", [1.5, "3", None, True])
def test_require_time_us_rejects_non_int(bad: object) -> None:
    with pytest.raises(TypeError) as info:
        require_time_us(bad, "latency_us of link tm-0->tm-1")
    message = str(info.value)
    assert message.startswith(
        "latency_us of link tm-0->tm-1 must be a non-negative int of microseconds"
    )
    assert repr(bad) in message


def test_require_time_us_rejects_negative() -> None:
    with pytest.raises(ValueError, match="timeout_us .* got -1"):
        require_time_us(-1, "timeout_us")
