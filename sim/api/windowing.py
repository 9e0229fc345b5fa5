"""Windows, window assigners, triggers, evictors and window functions, with PyFlink's names.

Layer: `sim.api` (the counterpart of `pyflink.datastream.window`). Everything
here is plain data or a pure decision: an assigner maps a timestamp to
windows, a trigger answers a `TriggerResult` and asks its context for timers
and state, an evictor removes elements from a list it is handed. Nothing here
stores window contents, owns timers, reads a clock or imports SimPy: time is
always passed in, and `sim.runtime.window_operator` acts on the answers.

Durations (sizes, slides, offsets, gaps, lateness) are integer milliseconds or
any object with `to_milliseconds()` (PyFlink's `Time` and `Duration`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable

from sim.api.functions import LONG_MAX, LONG_MIN, Function



def milliseconds_of(value: Any, what: str) -> int:
    """Returns a duration in integer milliseconds.

    Args:
        value: An int of milliseconds, or an object with `to_milliseconds()`.
        what: What the value is, for the error message (e.g. "window size").

    Raises:
        TypeError: The value is neither.
    """
    if hasattr(value, "to_milliseconds"):
        value = value.to_milliseconds()
    if type(value) is not int:
        raise TypeError(f"{what} must be an int of milliseconds or have to_milliseconds(), got {value!r}")
    return value


def java_mod(dividend: int, divisor: int) -> int:
    """Java's `%`: the remainder takes the sign of the dividend (Python's takes the divisor's)."""
    remainder = abs(dividend) % abs(divisor)
    return -remainder if dividend < 0 else remainder


def get_window_start_with_offset(timestamp: int, offset: int, window_size: int) -> int:
    """The start of the aligned window of `window_size` holding `timestamp`, shifted by `offset`.

    With `r = (timestamp - offset) % window_size` in Java's `%`, the start is
    `timestamp - r`, or `timestamp - (r + window_size)` when `r < 0`; so
    `timestamp=-1, offset=0, size=5` gives -5 and `timestamp=-6` gives -10.
    This is the form Flink uses since FLINK-26334 (1.14.5 / 1.15). It equals
    the older `timestamp - (timestamp - offset + size) % size` whenever
    `timestamp - offset + size >= 0`; below that, the older form returned a
    window that did not contain the timestamp.

    Raises:
        ValueError: `window_size <= 0` or `|offset| >= window_size`.
    """
    if window_size <= 0 or abs(offset) >= window_size:
        raise ValueError(f"a window start needs size > 0 and |offset| < size, got offset {offset} and size {window_size}")
    remainder = java_mod(timestamp - offset, window_size)
    return timestamp - (remainder + window_size if remainder < 0 else remainder)


@dataclass(frozen=True, order=True, slots=True)
class TimeWindow:
    """The half-open interval `[start, end)` of milliseconds; ordered by (start, end)."""

    start: int
    end: int

    def max_timestamp(self) -> int:
        """The last timestamp inside the window, `end - 1`; results carry it."""
        return self.end - 1

    def intersects(self, other: TimeWindow) -> bool:
        """True if the windows overlap or merely touch (`[0, 5)` and `[5, 9)` intersect)."""
        return self.start <= other.end and self.end >= other.start

    def cover(self, other: TimeWindow) -> TimeWindow:
        """The smallest window containing both."""
        return TimeWindow(min(self.start, other.start), max(self.end, other.end))

    def __str__(self) -> str:
        return f"[{self.start}, {self.end})"

    get_window_start_with_offset = staticmethod(get_window_start_with_offset)


class GlobalWindow:
    """The one window of `GlobalWindows`: it ends at Long.MAX_VALUE, so it is never late."""

    _instance: GlobalWindow | None = None

    def __new__(cls) -> GlobalWindow:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    @staticmethod
    def get() -> GlobalWindow:
        """The singleton (PyFlink's accessor)."""
        return GlobalWindow()

    def max_timestamp(self) -> int:
        return LONG_MAX

    def __repr__(self) -> str:
        return "GlobalWindow"

    def __reduce__(self) -> tuple:
        return (GlobalWindow, ())


def merge_windows(windows: Iterable[TimeWindow]) -> list[tuple[TimeWindow, list[TimeWindow]]]:
    """Groups intersecting (or touching) windows: Flink's `TimeWindow.mergeWindows`.

    Windows are sorted by (start, end) and swept once; a window joins the
    current group if it intersects the group's cover. Equal windows count once.

    Returns:
        `(merged, originals)` for every group of two or more distinct windows,
        in start order, originals sorted; windows that merge with nothing are
        left out, as Flink calls its merge callback only for real merges.
    """
    groups: list[tuple[TimeWindow, list[TimeWindow]]] = []
    for window in sorted(set(windows)):
        if groups and groups[-1][0].intersects(window):
            cover, members = groups[-1]
            groups[-1] = (cover.cover(window), members + [window])
        else:
            groups.append((window, [window]))
    return [(cover, members) for cover, members in groups if len(members) > 1]


@dataclass(frozen=True, slots=True)
class TimestampedValue:
    """An element with its event timestamp, as evictors see it."""

    value: Any
    timestamp: int | None

    def get_value(self) -> Any:
        return self.value

    def get_timestamp(self) -> int | None:
        return self.timestamp

    def has_timestamp(self) -> bool:
        return self.timestamp is not None


# --------------------------------------------------------------------------- triggers


class TriggerResult(Enum):
    """What a trigger decides: fire the window function, purge the contents, both, or neither."""

    CONTINUE = "continue"
    FIRE = "fire"
    PURGE = "purge"
    FIRE_AND_PURGE = "fire and purge"

    def is_fire(self) -> bool:
        return self is TriggerResult.FIRE or self is TriggerResult.FIRE_AND_PURGE

    def is_purge(self) -> bool:
        return self is TriggerResult.PURGE or self is TriggerResult.FIRE_AND_PURGE


class Trigger:
    """Decides when a window fires; may keep per-window state and timers through its context."""

    class TriggerContext:
        """What a trigger may do; the runtime's window operator implements it per (key, window)."""

        def get_current_processing_time(self) -> int:
            raise NotImplementedError

        def get_current_watermark(self) -> int:
            raise NotImplementedError

        def register_processing_time_timer(self, time: int) -> None:
            raise NotImplementedError

        def register_event_time_timer(self, time: int) -> None:
            raise NotImplementedError

        def delete_processing_time_timer(self, time: int) -> None:
            raise NotImplementedError

        def delete_event_time_timer(self, time: int) -> None:
            raise NotImplementedError

        def get_partitioned_state(self) -> dict:
            """A plain dict private to this trigger's (key, window); dropped when the window is cleared."""
            raise NotImplementedError

    class OnMergeContext(TriggerContext):
        """The context of `on_merge`: it can fold the merged windows' state into the new window's."""

        def merge_partitioned_state(self, name: str, combine: Any) -> None:
            """Folds entry `name` of every merged window's state into this window's with `combine(a, b)`."""
            raise NotImplementedError

        def get_merged_windows(self) -> list:
            raise NotImplementedError

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        raise NotImplementedError(f"{type(self).__name__} must implement on_element(element, timestamp, window, ctx)")

    def on_processing_time(self, time: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        raise NotImplementedError(f"{type(self).__name__} must implement on_processing_time(time, window, ctx)")

    def on_event_time(self, time: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        raise NotImplementedError(f"{type(self).__name__} must implement on_event_time(time, window, ctx)")

    def can_merge(self) -> bool:
        return False

    def on_merge(self, window: Any, ctx: Trigger.OnMergeContext) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not support merging windows")

    def clear(self, window: Any, ctx: Trigger.TriggerContext) -> None:
        """Removes the timers and state this trigger keeps for `window`."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class EventTimeTrigger(Trigger):
    """Fires once the watermark reaches `window.max_timestamp()`; fires at once for a late window.

    Returns FIRE, never FIRE_AND_PURGE: contents stay until the cleanup timer.
    """

    @staticmethod
    def create() -> EventTimeTrigger:
        return EventTimeTrigger()

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        if window.max_timestamp() <= ctx.get_current_watermark():
            return TriggerResult.FIRE  # the watermark already passed the window: a late firing
        ctx.register_event_time_timer(window.max_timestamp())
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        # Other timers of the window (its cleanup timer) also come here.
        return TriggerResult.FIRE if time == window.max_timestamp() else TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        return True

    def on_merge(self, window: Any, ctx: Trigger.OnMergeContext) -> None:
        # A merged window whose end the watermark already passed fires with the next element.
        if window.max_timestamp() > ctx.get_current_watermark():
            ctx.register_event_time_timer(window.max_timestamp())

    def clear(self, window: Any, ctx: Trigger.TriggerContext) -> None:
        ctx.delete_event_time_timer(window.max_timestamp())


class ProcessingTimeTrigger(Trigger):
    """Fires when processing time reaches `window.max_timestamp()`."""

    @staticmethod
    def create() -> ProcessingTimeTrigger:
        return ProcessingTimeTrigger()

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        ctx.register_processing_time_timer(window.max_timestamp())
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        return TriggerResult.FIRE

    def can_merge(self) -> bool:
        return True

    def on_merge(self, window: Any, ctx: Trigger.OnMergeContext) -> None:
        if window.max_timestamp() > ctx.get_current_processing_time():
            ctx.register_processing_time_timer(window.max_timestamp())

    def clear(self, window: Any, ctx: Trigger.TriggerContext) -> None:
        ctx.delete_processing_time_timer(window.max_timestamp())


class CountTrigger(Trigger):
    """Fires (without purging) each time `count` elements arrived in the window since the last firing."""

    _STATE = "count"

    def __init__(self, count: int):
        if type(count) is not int or count <= 0:
            raise ValueError(f"a count trigger needs a positive int count, got {count!r}")
        self.count = count

    @staticmethod
    def of(count: int) -> CountTrigger:
        return CountTrigger(count)

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        state = ctx.get_partitioned_state()
        state[self._STATE] = state.get(self._STATE, 0) + 1
        if state[self._STATE] >= self.count:
            del state[self._STATE]
            return TriggerResult.FIRE
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        return True

    def on_merge(self, window: Any, ctx: Trigger.OnMergeContext) -> None:
        ctx.merge_partitioned_state(self._STATE, lambda a, b: a + b)

    def clear(self, window: Any, ctx: Trigger.TriggerContext) -> None:
        ctx.get_partitioned_state().pop(self._STATE, None)

    def __repr__(self) -> str:
        return f"CountTrigger({self.count})"


class PurgingTrigger(Trigger):
    """Wraps a trigger and turns each of its FIRE answers into FIRE_AND_PURGE."""

    def __init__(self, nested_trigger: Trigger):
        if not isinstance(nested_trigger, Trigger):
            raise TypeError(f"a purging trigger wraps a Trigger, got {type(nested_trigger).__name__}")
        self.nested_trigger = nested_trigger

    @staticmethod
    def of(nested_trigger: Trigger) -> PurgingTrigger:
        return PurgingTrigger(nested_trigger)

    @staticmethod
    def _purging(result: TriggerResult) -> TriggerResult:
        return TriggerResult.FIRE_AND_PURGE if result.is_fire() else result

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        return self._purging(self.nested_trigger.on_element(element, timestamp, window, ctx))

    def on_event_time(self, time: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        return self._purging(self.nested_trigger.on_event_time(time, window, ctx))

    def on_processing_time(self, time: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        return self._purging(self.nested_trigger.on_processing_time(time, window, ctx))

    def can_merge(self) -> bool:
        return self.nested_trigger.can_merge()

    def on_merge(self, window: Any, ctx: Trigger.OnMergeContext) -> None:
        self.nested_trigger.on_merge(window, ctx)

    def clear(self, window: Any, ctx: Trigger.TriggerContext) -> None:
        self.nested_trigger.clear(window, ctx)

    def __repr__(self) -> str:
        return f"PurgingTrigger({self.nested_trigger!r})"


class NeverTrigger(Trigger):
    """The default trigger of `GlobalWindows`: it never fires."""

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: Trigger.TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        return True

    def on_merge(self, window: Any, ctx: Trigger.OnMergeContext) -> None:
        pass


# --------------------------------------------------------------------------- assigners


class WindowAssigner:
    """Maps an element to the windows it belongs to."""

    def assign_windows(self, element: Any, timestamp: int | None, current_processing_time_ms: int | None) -> list:
        raise NotImplementedError(f"{type(self).__name__} must implement assign_windows")

    def get_default_trigger(self) -> Trigger:
        raise NotImplementedError(f"{type(self).__name__} must implement get_default_trigger")

    def is_event_time(self) -> bool:
        raise NotImplementedError(f"{type(self).__name__} must implement is_event_time")

    def is_merging(self) -> bool:
        return False


class MergingWindowAssigner(WindowAssigner):
    """An assigner whose windows can merge (sessions)."""

    def is_merging(self) -> bool:
        return True

    def merge_windows(self, windows: Iterable[TimeWindow]) -> list[tuple[TimeWindow, list[TimeWindow]]]:
        return merge_windows(windows)


def _event_timestamp(assigner: WindowAssigner, timestamp: int | None) -> int:
    if type(timestamp) is not int or timestamp == LONG_MIN:
        raise ValueError(f"{assigner!r} needs an element timestamp, got {timestamp!r}: "
                         "did you forget assign_timestamps_and_watermarks()?")
    return timestamp


def _processing_time(assigner: WindowAssigner, now_ms: int | None) -> int:
    if type(now_ms) is not int:
        raise ValueError(f"{assigner!r} needs the current processing time in ms, got {now_ms!r}")
    return now_ms


class _EventTime:
    """The event-time half of an assigner: windows from the element's timestamp, fired by the watermark."""

    def _time_of(self, timestamp: int | None, current_processing_time_ms: int | None) -> int:
        return _event_timestamp(self, timestamp)

    def get_default_trigger(self) -> Trigger:
        return EventTimeTrigger()

    def is_event_time(self) -> bool:
        return True


class _ProcessingTime:
    """The processing-time half of an assigner: windows from the time at arrival; timestamps are ignored."""

    def _time_of(self, timestamp: int | None, current_processing_time_ms: int | None) -> int:
        return _processing_time(self, current_processing_time_ms)

    def get_default_trigger(self) -> Trigger:
        return ProcessingTimeTrigger()

    def is_event_time(self) -> bool:
        return False


class _AlignedWindows(WindowAssigner):
    """Aligned windows of `size`, one starting every `slide` (tumbling: slide == size).

    The time they are aligned on comes from the time-domain half (`_EventTime`
    or `_ProcessingTime`) each concrete assigner is built with.
    """

    def __init__(self, size: Any, slide: Any, offset: Any = 0):
        self.size = milliseconds_of(size, "window size")
        self.slide = milliseconds_of(slide, "window slide")
        self.offset = milliseconds_of(offset, "window offset")
        if self.size <= 0 or self.slide <= 0 or abs(self.offset) >= self.slide:
            raise ValueError(f"{type(self).__name__} needs size > 0, slide > 0 and |offset| < slide, "
                             f"got size {self.size}, slide {self.slide}, offset {self.offset}")

    def assign_windows(self, element: Any, timestamp: int | None, current_processing_time_ms: int | None) -> list:
        return self._windows_at(self._time_of(timestamp, current_processing_time_ms))

    def _windows_at(self, timestamp: int) -> list[TimeWindow]:
        """Windows `[s, s+size)` for s = last start, last - slide, ... while `s > timestamp - size`."""
        last = get_window_start_with_offset(timestamp, self.offset, self.slide)
        return [TimeWindow(s, s + self.size) for s in range(last, timestamp - self.size, -self.slide)]

    def __repr__(self) -> str:
        slide = "" if self.slide == self.size else f", slide={self.slide}"
        return f"{type(self).__name__}(size={self.size}{slide}, offset={self.offset})"


class TumblingEventTimeWindows(_EventTime, _AlignedWindows):
    """Back-to-back event-time windows `[start, start+size)`."""

    @staticmethod
    def of(size: Any, offset: Any = 0) -> TumblingEventTimeWindows:
        return TumblingEventTimeWindows(size, size, offset)


class SlidingEventTimeWindows(_EventTime, _AlignedWindows):
    """Overlapping event-time windows of `size`, one starting every `slide`; descending start order."""

    @staticmethod
    def of(size: Any, slide: Any, offset: Any = 0) -> SlidingEventTimeWindows:
        return SlidingEventTimeWindows(size, slide, offset)


class TumblingProcessingTimeWindows(_ProcessingTime, _AlignedWindows):
    """Back-to-back windows over the processing time at arrival."""

    @staticmethod
    def of(size: Any, offset: Any = 0) -> TumblingProcessingTimeWindows:
        return TumblingProcessingTimeWindows(size, size, offset)


class SlidingProcessingTimeWindows(_ProcessingTime, _AlignedWindows):
    """Overlapping windows over the processing time at arrival; descending start order."""

    @staticmethod
    def of(size: Any, slide: Any, offset: Any = 0) -> SlidingProcessingTimeWindows:
        return SlidingProcessingTimeWindows(size, slide, offset)


class _SessionWindows(MergingWindowAssigner):
    """Each element opens `[t, t+gap)` at its time; windows that overlap or touch merge into one session."""

    def __init__(self, gap: Any):
        self.gap = milliseconds_of(gap, "session gap")
        if self.gap <= 0:
            raise ValueError(f"{type(self).__name__} needs a gap > 0 ms, got {self.gap}")

    def assign_windows(self, element: Any, timestamp: int | None, current_processing_time_ms: int | None) -> list:
        start = self._time_of(timestamp, current_processing_time_ms)
        return [TimeWindow(start, start + self.gap)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(gap={self.gap})"


class EventTimeSessionWindows(_EventTime, _SessionWindows):
    """Sessions over event time: each element opens `[ts, ts+gap)`."""

    @staticmethod
    def with_gap(gap: Any) -> EventTimeSessionWindows:
        return EventTimeSessionWindows(gap)


class ProcessingTimeSessionWindows(_ProcessingTime, _SessionWindows):
    """Sessions over the processing time at arrival: each element opens `[now, now+gap)`."""

    @staticmethod
    def with_gap(gap: Any) -> ProcessingTimeSessionWindows:
        return ProcessingTimeSessionWindows(gap)


class GlobalWindows(WindowAssigner):
    """Every element goes to the one `GlobalWindow`; the default trigger never fires."""

    @staticmethod
    def create() -> GlobalWindows:
        return GlobalWindows()

    def assign_windows(self, element: Any, timestamp: int | None, current_processing_time_ms: int | None) -> list:
        return [GlobalWindow.get()]

    def get_default_trigger(self) -> Trigger:
        return NeverTrigger()

    def is_event_time(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "GlobalWindows()"


# --------------------------------------------------------------------------- evictors


class Evictor:
    """Removes elements from a window's contents before and/or after the window function runs.

    `elements` is a list of `TimestampedValue` that the evictor edits in place.
    """

    class EvictorContext:
        def get_current_processing_time(self) -> int:
            raise NotImplementedError

        def get_current_watermark(self) -> int:
            raise NotImplementedError

    def evict_before(self, elements: list[TimestampedValue], size: int, window: Any, evictor_context: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement evict_before")

    def evict_after(self, elements: list[TimestampedValue], size: int, window: Any, evictor_context: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement evict_after")


class _BeforeOrAfterEvictor(Evictor):
    """Evicts in exactly one of the two phases, chosen by `do_evict_after`."""

    def __init__(self, do_evict_after: bool):
        self.do_evict_after = do_evict_after

    def evict_before(self, elements: list[TimestampedValue], size: int, window: Any, evictor_context: Any) -> None:
        if not self.do_evict_after:
            self._evict(elements, size)

    def evict_after(self, elements: list[TimestampedValue], size: int, window: Any, evictor_context: Any) -> None:
        if self.do_evict_after:
            self._evict(elements, size)

    def _evict(self, elements: list[TimestampedValue], size: int) -> None:
        raise NotImplementedError


class CountEvictor(_BeforeOrAfterEvictor):
    """Keeps only the last `max_count` elements (in arrival order)."""

    def __init__(self, max_count: int, do_evict_after: bool = False):
        if type(max_count) is not int or max_count < 0:
            raise ValueError(f"a count evictor needs an int max_count >= 0, got {max_count!r}")
        super().__init__(do_evict_after)
        self.max_count = max_count

    @staticmethod
    def of(max_count: int, do_evict_after: bool = False) -> CountEvictor:
        return CountEvictor(max_count, do_evict_after)

    def _evict(self, elements: list[TimestampedValue], size: int) -> None:
        if size > self.max_count:
            del elements[:size - self.max_count]


class TimeEvictor(_BeforeOrAfterEvictor):
    """Keeps elements newer than `window_size` before the newest element's timestamp."""

    def __init__(self, window_size: Any, do_evict_after: bool = False):
        super().__init__(do_evict_after)
        self.window_size = milliseconds_of(window_size, "evictor window size")

    @staticmethod
    def of(window_size: Any, do_evict_after: bool = False) -> TimeEvictor:
        return TimeEvictor(window_size, do_evict_after)

    def _evict(self, elements: list[TimestampedValue], size: int) -> None:
        if not elements or not elements[0].has_timestamp():
            return
        cutoff = max(e.timestamp for e in elements) - self.window_size
        elements[:] = [e for e in elements if e.timestamp > cutoff]


# --------------------------------------------------------------------------- window functions


class ProcessWindowFunction(Function):
    """`process(key, context, elements)` yields results for one window of one key."""

    class Context:
        """What a window function learns about the firing: its window and the two clocks."""

        def window(self) -> Any:
            raise NotImplementedError

        def current_processing_time(self) -> int:
            raise NotImplementedError

        def current_watermark(self) -> int:
            raise NotImplementedError

    def process(self, key: Any, context: ProcessWindowFunction.Context, elements: Iterable[Any]) -> Iterable[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement process(key, context, elements)")

    def clear(self, context: ProcessWindowFunction.Context) -> None:
        """Called when the window's state is cleared."""


class ProcessAllWindowFunction(Function):
    """`process(context, elements)` for a non-keyed (`window_all`) window."""

    Context = ProcessWindowFunction.Context

    def process(self, context: ProcessWindowFunction.Context, elements: Iterable[Any]) -> Iterable[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement process(context, elements)")

    def clear(self, context: ProcessWindowFunction.Context) -> None:
        """Called when the window's state is cleared."""


class WindowFunction(Function):
    """The older shape: `apply(key, window, inputs)` yields results."""

    def apply(self, key: Any, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement apply(key, window, inputs)")


class AllWindowFunction(Function):
    """`apply(window, inputs)` for a non-keyed (`window_all`) window."""

    def apply(self, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement apply(window, inputs)")
