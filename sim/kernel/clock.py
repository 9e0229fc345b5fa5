"""Virtual time: integer microseconds and the unit conversions around them.

Part of ``sim.kernel``, the lowest layer of the simulator. It imports nothing
from the rest of ``sim`` and must never read the wall clock: every time value
here is virtual, expressed as a non-negative ``int`` number of microseconds.
"""

from __future__ import annotations

SimTime = int
"""Virtual time (or a duration) in integer microseconds."""

US_PER_MS = 1000
US_PER_S = 1_000_000
_NS_PER_US = 1000


def ms_to_us(ms: int) -> int:
    """Converts milliseconds to microseconds.

    Args:
        ms: A number of milliseconds.

    Returns:
        The same duration in microseconds.
    """
    return ms * US_PER_MS


def us_to_ms(us: int) -> int:
    """Converts microseconds to whole milliseconds, rounding down (floor).

    Args:
        us: A number of microseconds.

    Returns:
        ``us // 1000``.
    """
    return us // US_PER_MS


def ns_to_us_carry(total_ns: int, carry_ns: int) -> tuple[int, int]:
    """Splits a nanosecond cost into whole microseconds plus a carried rest.

    Charging many sub-microsecond CPU costs one by one would drift if each
    were rounded; instead the caller keeps the remainder and passes it back
    in with the next cost, so the sum of charged microseconds never falls
    more than one microsecond behind the exact total.

    Args:
        total_ns: The new cost in nanoseconds.
        carry_ns: The remainder returned by the previous call (0 at first).

    Returns:
        ``(whole_us, new_carry_ns)`` with ``0 <= new_carry_ns < 1000`` for
        non-negative inputs.
    """
    whole_us, rest_ns = divmod(total_ns + carry_ns, _NS_PER_US)
    return whole_us, rest_ns


def require_time_us(value: object, what: str) -> int:
    """Validates that ``value`` is a non-negative int of microseconds.

    Args:
        value: The value to check.
        what: A description of the value for the error message, such as
            ``"latency_us of link tm-0->tm-1"``.

    Returns:
        ``value`` unchanged.

    Raises:
        TypeError: If ``value`` is not an ``int`` (``bool`` is rejected).
        ValueError: If ``value`` is negative.
    """
    if type(value) is bool or not isinstance(value, int):
        raise TypeError(
            f"{what} must be a non-negative int of microseconds, "
            f"got {value!r} ({type(value).__name__})"
        )
    if value < 0:
        raise ValueError(
            f"{what} must be a non-negative int of microseconds, got {value!r}"
        )
    return value
