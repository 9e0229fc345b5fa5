"""Event time as the user declares it: durations, watermarks, timestamp assigners and watermark strategies.

Layer: `sim.api` (no SimPy, no clock, nothing from the layers above). Names
follow PyFlink's `pyflink.common` (`Duration`, `Time`, `Watermark`,
`WatermarkStrategy`, `TimestampAssigner`). This module only describes what the
user asked for and holds the generators' arithmetic; combining splits and
channels, idleness timing and watermark alignment are applied by
`sim.runtime.watermarks`, which passes processing time in.

All times are integer milliseconds with Java `long` range, so every value
here equals what Flink computes (Python ints never wrap, and the formulas
below never leave the range for in-range inputs).
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Protocol

from sim.api.functions import LONG_MAX, LONG_MIN


_MS_PER = {"millis": 1, "seconds": 1_000, "minutes": 60_000, "hours": 3_600_000, "days": 86_400_000}


DEFAULT_AUTO_WATERMARK_INTERVAL_MS = 200
"""`pipeline.auto-watermark-interval`: how often periodic generators may emit, in ms of processing time."""


def check_timestamp_ms(value: Any, what: str) -> int:
    """Return `value` if it is an int in Java long range, else raise naming `what`.

    Raises:
        TypeError: `value` is not an int (bools are refused too).
        ValueError: `value` is outside [Long.MIN_VALUE, Long.MAX_VALUE].
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int of milliseconds, found {type(value).__name__} {value!r}")
    if not LONG_MIN <= value <= LONG_MAX:
        raise ValueError(f"{what} must fit in a Java long, found {value}")
    return value


def _scaled_ms(amount: Any, unit: str, method: str) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"{method} expects an int, found {type(amount).__name__} {amount!r}")
    return check_timestamp_ms(amount * _MS_PER[unit], f"{method}({amount}) in milliseconds")


@functools.total_ordering
class Duration:
    """A span of time in whole milliseconds (PyFlink's `Duration`, Java's `java.time.Duration`).

    Negative durations exist, as in Java; the places that need a positive one
    (idleness, out-of-orderness) check it themselves.
    """

    __slots__ = ("_ms",)

    def __init__(self, millis: int):
        self._ms = check_timestamp_ms(millis, "Duration")

    @staticmethod
    def of_millis(millis: int) -> Duration:
        return Duration(_scaled_ms(millis, "millis", "Duration.of_millis"))

    @staticmethod
    def of_seconds(seconds: int) -> Duration:
        return Duration(_scaled_ms(seconds, "seconds", "Duration.of_seconds"))

    @staticmethod
    def of_minutes(minutes: int) -> Duration:
        return Duration(_scaled_ms(minutes, "minutes", "Duration.of_minutes"))

    @staticmethod
    def of_hours(hours: int) -> Duration:
        return Duration(_scaled_ms(hours, "hours", "Duration.of_hours"))

    @staticmethod
    def of_days(days: int) -> Duration:
        return Duration(_scaled_ms(days, "days", "Duration.of_days"))

    @staticmethod
    def zero() -> Duration:
        return Duration(0)

    def to_milliseconds(self) -> int:
        return self._ms

    def is_negative(self) -> bool:
        return self._ms < 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and other._ms == self._ms

    def __lt__(self, other: Duration) -> bool:
        if not isinstance(other, Duration):
            return NotImplemented
        return self._ms < other._ms

    def __hash__(self) -> int:
        return hash(("Duration", self._ms))

    def __repr__(self) -> str:
        return f"Duration.of_millis({self._ms})"


class Time:
    """A window size or gap (PyFlink's `Time`): `Time.seconds(5)`, in whole milliseconds."""

    __slots__ = ("_ms",)

    def __init__(self, millis: int):
        self._ms = check_timestamp_ms(millis, "Time")

    @staticmethod
    def milliseconds(millis: int) -> Time:
        return Time(_scaled_ms(millis, "millis", "Time.milliseconds"))

    @staticmethod
    def seconds(seconds: int) -> Time:
        return Time(_scaled_ms(seconds, "seconds", "Time.seconds"))

    @staticmethod
    def minutes(minutes: int) -> Time:
        return Time(_scaled_ms(minutes, "minutes", "Time.minutes"))

    @staticmethod
    def hours(hours: int) -> Time:
        return Time(_scaled_ms(hours, "hours", "Time.hours"))

    @staticmethod
    def days(days: int) -> Time:
        return Time(_scaled_ms(days, "days", "Time.days"))

    def to_milliseconds(self) -> int:
        return self._ms

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Time) and other._ms == self._ms

    def __hash__(self) -> int:
        return hash(("Time", self._ms))

    def __repr__(self) -> str:
        return f"Time.milliseconds({self._ms})"


@dataclass(frozen=True, order=True)
class Watermark:
    """A promise that no more records with timestamp <= `timestamp` should arrive (ms, Java long).

    `Watermark.MAX_WATERMARK` (Long.MAX_VALUE) marks the end of event time;
    `Watermark.UNINITIALIZED` (Long.MIN_VALUE) is where every operator starts.
    """

    timestamp: int
    MAX_WATERMARK: ClassVar[Watermark]
    UNINITIALIZED: ClassVar[Watermark]

    def __post_init__(self) -> None:
        check_timestamp_ms(self.timestamp, "a watermark timestamp")

    def get_timestamp(self) -> int:
        return self.timestamp

    def __repr__(self) -> str:
        return f"Watermark({self.timestamp})"


Watermark.MAX_WATERMARK = Watermark(LONG_MAX)
Watermark.UNINITIALIZED = Watermark(LONG_MIN)


class TimestampAssigner:
    """Gives each record its event timestamp: `extract_timestamp(value, record_timestamp) -> int` (ms).

    `record_timestamp` is the timestamp the record already carries (from the
    source, or from an earlier assigner), or `NO_TIMESTAMP` (Long.MIN_VALUE)
    when it has none.
    """

    NO_TIMESTAMP = LONG_MIN

    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement extract_timestamp(value, record_timestamp)")


class RecordTimestampAssigner(TimestampAssigner):
    """The default: keep the timestamp the record already has (Flink's `RecordTimestampAssigner`)."""

    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        return record_timestamp

    def __repr__(self) -> str:
        return "RecordTimestampAssigner()"


class _CallableTimestampAssigner(TimestampAssigner):
    """Wraps `fn(value, record_timestamp)` or `fn(value)`; the arity is decided once, when wrapped."""

    def __init__(self, fn: Callable[..., int], takes_record_timestamp: bool):
        self._fn = fn
        self._takes_record_timestamp = takes_record_timestamp

    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        if self._takes_record_timestamp:
            return self._fn(value, record_timestamp)
        return self._fn(value)

    def __repr__(self) -> str:
        return f"TimestampAssigner({getattr(self._fn, '__qualname__', self._fn)!r})"


def _as_timestamp_assigner(assigner: Any) -> TimestampAssigner:
    """Accept a TimestampAssigner (or anything with `extract_timestamp`), or a one- or two-argument callable."""
    if callable(getattr(assigner, "extract_timestamp", None)):
        return assigner
    if not callable(assigner):
        raise TypeError("with_timestamp_assigner expects a TimestampAssigner or a callable "
                        f"(value, record_timestamp) -> int, found {type(assigner).__name__}")
    try:
        signature = inspect.signature(assigner)
    except (TypeError, ValueError):  # some builtins have no signature: assume Flink's two arguments
        return _CallableTimestampAssigner(assigner, True)
    for arity in (2, 1):
        try:
            signature.bind(*([None] * arity))
        except TypeError:
            continue
        return _CallableTimestampAssigner(assigner, arity == 2)
    raise TypeError("a timestamp assigner callable must take (value, record_timestamp) or (value), "
                    f"found signature {signature}")


class WatermarkOutput(Protocol):
    """Where a generator sends its results; the runtime supplies it."""

    def emit_watermark(self, watermark: Watermark) -> None: ...

    def mark_idle(self) -> None: ...

    def mark_active(self) -> None: ...


class WatermarkGenerator:
    """Turns event timestamps into watermarks (Flink's `WatermarkGenerator`).

    `on_event` sees every record with its assigned timestamp and may emit at
    once (punctuated); `on_periodic_emit` runs every auto-watermark interval of
    processing time (periodic). Both default to doing nothing, so a subclass
    overrides the one it needs.
    """

    def on_event(self, event: Any, event_timestamp: int, output: WatermarkOutput) -> None:
        pass

    def on_periodic_emit(self, output: WatermarkOutput) -> None:
        pass


class BoundedOutOfOrdernessWatermarks(WatermarkGenerator):
    """Periodic watermarks trailing the largest timestamp seen by `bound_ms` (plus one).

    The emitted watermark is `max_timestamp - bound_ms - 1`: a record exactly
    `bound_ms` behind the maximum is still on time. The maximum starts at
    `Long.MIN_VALUE + bound_ms + 1`, so before any record the watermark is
    exactly Long.MIN_VALUE. Monotonous timestamps are the case `bound_ms == 0`.
    Every periodic call emits, even an unchanged value; dropping non-increasing
    watermarks is the output's job.
    """

    def __init__(self, bound_ms: int):
        check_timestamp_ms(bound_ms, "the out-of-orderness bound")
        if bound_ms < 0:
            raise ValueError(f"the out-of-orderness bound must be >= 0 ms, found {bound_ms}")
        self.bound_ms = bound_ms
        self.max_timestamp = LONG_MIN + bound_ms + 1

    def on_event(self, event: Any, event_timestamp: int, output: WatermarkOutput) -> None:
        self.max_timestamp = max(self.max_timestamp, event_timestamp)

    def on_periodic_emit(self, output: WatermarkOutput) -> None:
        output.emit_watermark(Watermark(self.max_timestamp - self.bound_ms - 1))


class NoWatermarksGenerator(WatermarkGenerator):
    """Emits nothing: event time never advances (until a finished source's Long.MAX_VALUE)."""


@dataclass(frozen=True)
class WatermarkAlignment:
    """What `with_watermark_alignment` asked for; the runtime pauses sources that run ahead."""

    watermark_group: str
    max_allowed_watermark_drift_ms: int
    update_interval_ms: int


class WatermarkStrategy:
    """How a source or `assign_timestamps_and_watermarks` stamps records and makes watermarks.

    Immutable: each `with_*` returns a new strategy and leaves this one as it
    was, so one base strategy can be shared. `create_generator()` makes a fresh
    generator each call (one per split, or one per operator instance).

    Timestamp assigners: PyFlink accepts only `TimestampAssigner` objects; here
    a plain callable `(value, record_timestamp) -> int` or `(value) -> int`
    works as well.
    """

    __slots__ = ("_factory", "_assigner", "_idle_timeout_ms", "_alignment", "_description")

    def __init__(self, generator_factory: Callable[[], WatermarkGenerator], description: str,
                 assigner: TimestampAssigner | None = None, idle_timeout_ms: int | None = None,
                 alignment: WatermarkAlignment | None = None):
        self._factory = generator_factory
        self._description = description
        self._assigner = assigner
        self._idle_timeout_ms = idle_timeout_ms
        self._alignment = alignment

    @staticmethod
    def for_bounded_out_of_orderness(max_out_of_orderness: Duration) -> WatermarkStrategy:
        bound_ms = _require_duration(max_out_of_orderness, "for_bounded_out_of_orderness").to_milliseconds()
        if bound_ms < 0:
            raise ValueError(f"max_out_of_orderness must not be negative, found {max_out_of_orderness!r}")
        return WatermarkStrategy(lambda: BoundedOutOfOrdernessWatermarks(bound_ms),
                                 f"for_bounded_out_of_orderness({max_out_of_orderness!r})")

    @staticmethod
    def for_monotonous_timestamps() -> WatermarkStrategy:
        return WatermarkStrategy(lambda: BoundedOutOfOrdernessWatermarks(0), "for_monotonous_timestamps()")

    @staticmethod
    def no_watermarks() -> WatermarkStrategy:
        return WatermarkStrategy(NoWatermarksGenerator, "no_watermarks()")

    @staticmethod
    def for_generator(factory: Callable[[], WatermarkGenerator]) -> WatermarkStrategy:
        """A strategy from a zero-argument factory (a generator class works), called once per generator."""
        if not callable(factory):
            raise TypeError(f"for_generator expects a zero-argument factory, found {type(factory).__name__}")
        name = getattr(factory, "__qualname__", repr(factory))
        return WatermarkStrategy(factory, f"for_generator({name})")

    def with_timestamp_assigner(self, timestamp_assigner: Any) -> WatermarkStrategy:
        assigner = _as_timestamp_assigner(timestamp_assigner)
        return self._copy(assigner=assigner, description=f"{self._description}.with_timestamp_assigner(...)")

    def with_idleness(self, idle_timeout: Duration) -> WatermarkStrategy:
        timeout_ms = _require_duration(idle_timeout, "with_idleness").to_milliseconds()
        if timeout_ms <= 0:
            raise ValueError(f"the idle timeout must be greater than zero, found {idle_timeout!r}")
        return self._copy(idle_timeout_ms=timeout_ms,
                          description=f"{self._description}.with_idleness({idle_timeout!r})")

    def with_watermark_alignment(self, watermark_group: str, max_allowed_watermark_drift: Duration,
                                 update_interval: Duration | None = None) -> WatermarkStrategy:
        """Record an alignment group; `update_interval` defaults to 1 s. Pausing is the runtime's job."""
        if not isinstance(watermark_group, str) or not watermark_group:
            raise ValueError(f"the watermark group must be a non-empty string, found {watermark_group!r}")
        drift_ms = _require_duration(max_allowed_watermark_drift, "with_watermark_alignment").to_milliseconds()
        interval = Duration.of_seconds(1) if update_interval is None else update_interval
        interval_ms = _require_duration(interval, "with_watermark_alignment").to_milliseconds()
        if drift_ms < 0:
            raise ValueError(f"the max allowed watermark drift must not be negative, found {drift_ms} ms")
        if interval_ms <= 0:
            raise ValueError(f"the alignment update interval must be greater than zero, found {interval_ms} ms")
        alignment = WatermarkAlignment(watermark_group, drift_ms, interval_ms)
        return self._copy(alignment=alignment, description=(
            f"{self._description}.with_watermark_alignment({watermark_group!r}, {max_allowed_watermark_drift!r}, "
            f"{interval!r})"))

    def create_generator(self) -> WatermarkGenerator:
        """A fresh generator; raises TypeError if a `for_generator` factory returned something else."""
        generator = self._factory()
        for method in ("on_event", "on_periodic_emit"):
            if not callable(getattr(generator, method, None)):
                raise TypeError(f"the watermark generator factory of {self!r} must return an object with "
                                f"{method}(), found {type(generator).__name__}")
        return generator

    @property
    def timestamp_assigner(self) -> TimestampAssigner:
        """The assigner set with `with_timestamp_assigner`, else one that keeps the record's timestamp."""
        return self._assigner if self._assigner is not None else RecordTimestampAssigner()

    @property
    def idle_timeout_ms(self) -> int | None:
        return self._idle_timeout_ms

    @property
    def alignment(self) -> WatermarkAlignment | None:
        return self._alignment

    def _copy(self, description: str, **changes: Any) -> WatermarkStrategy:
        fields = {"assigner": self._assigner, "idle_timeout_ms": self._idle_timeout_ms,
                  "alignment": self._alignment}
        fields.update(changes)
        return WatermarkStrategy(self._factory, description, **fields)

    def __repr__(self) -> str:
        return f"WatermarkStrategy.{self._description}"


def _require_duration(value: Any, method: str) -> Duration:
    if not isinstance(value, Duration):
        raise TypeError(f"{method} expects a Duration (e.g. Duration.of_seconds(5)), found {type(value).__name__}")
    return value
