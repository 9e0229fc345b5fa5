"""User function classes with PyFlink's names, and the contexts the runtime hands them.

Layer: `sim.api` (no SimPy, no clock). Every function may also be a plain
callable where PyFlink accepts one. Functions that can emit several values
(`flat_map`, `process_element`) either `yield` them or return an iterable;
`yield tag, value` with an `OutputTag` emits to a side output, as in PyFlink.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Iterable

from sim.api.typeinfo import TypeInformation

if TYPE_CHECKING:
    from sim.api.state import StateDescriptor

LONG_MIN = -(1 << 63)
LONG_MAX = (1 << 63) - 1


class OutputTag:
    """Names a side output: `OutputTag("late", Types.STRING())`."""

    def __init__(self, tag_id: str, type_info: TypeInformation | None = None):
        if not isinstance(tag_id, str) or not tag_id:
            raise ValueError(f"an OutputTag needs a non-empty string id, got {tag_id!r}")
        self.tag_id = tag_id
        self.type_info = type_info

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OutputTag) and other.tag_id == self.tag_id

    def __hash__(self) -> int:
        return hash(("OutputTag", self.tag_id))

    def __repr__(self) -> str:
        return f"OutputTag({self.tag_id!r})"


class RuntimeContext:
    """What a function learns about the subtask it runs in (PyFlink's RuntimeContext).

    The runtime builds one per operator instance; `get_state` delegates to the
    subtask's keyed state backend.
    """

    def __init__(self, task_name: str, index: int, parallelism: int, max_parallelism: int,
                 attempt: int = 0, state_provider: Any = None):
        self._task_name = task_name
        self._index = index
        self._parallelism = parallelism
        self._max_parallelism = max_parallelism
        self._attempt = attempt
        self._state_provider = state_provider

    def get_task_name(self) -> str:
        return self._task_name

    def get_number_of_parallel_subtasks(self) -> int:
        return self._parallelism

    def get_max_number_of_parallel_subtasks(self) -> int:
        return self._max_parallelism

    def get_index_of_this_subtask(self) -> int:
        return self._index

    def get_attempt_number(self) -> int:
        return self._attempt

    def get_task_name_with_subtasks(self) -> str:
        return f"{self._task_name} ({self._index + 1}/{self._parallelism})"

    def _provider(self) -> Any:
        if self._state_provider is None:
            raise RuntimeError(
                f"{self._task_name}[{self._index}] is not keyed: keyed state needs key_by() before this operator"
            )
        return self._state_provider

    def get_state(self, state_descriptor: StateDescriptor) -> Any:
        """The keyed `ValueState` for this descriptor, scoped to the current key."""
        return self._provider().get_state(state_descriptor)

    def get_list_state(self, state_descriptor: StateDescriptor) -> Any:
        """The keyed `ListState` for this descriptor."""
        return self._provider().get_list_state(state_descriptor)

    def get_map_state(self, state_descriptor: StateDescriptor) -> Any:
        """The keyed `MapState` for this descriptor."""
        return self._provider().get_map_state(state_descriptor)

    def get_reducing_state(self, state_descriptor: StateDescriptor) -> Any:
        """The keyed `ReducingState` for this descriptor."""
        return self._provider().get_reducing_state(state_descriptor)

    def get_aggregating_state(self, state_descriptor: StateDescriptor) -> Any:
        """The keyed `AggregatingState` for this descriptor."""
        return self._provider().get_aggregating_state(state_descriptor)


class Function:
    """Base of all user functions: optional `open(runtime_context)` and `close()`."""

    def open(self, runtime_context: RuntimeContext) -> None:
        pass

    def close(self) -> None:
        pass


class MapFunction(Function):
    def map(self, value: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement map(value)")


class FlatMapFunction(Function):
    def flat_map(self, value: Any) -> Iterable[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement flat_map(value)")


class FilterFunction(Function):
    def filter(self, value: Any) -> bool:
        raise NotImplementedError(f"{type(self).__name__} must implement filter(value)")


class ReduceFunction(Function):
    def reduce(self, value1: Any, value2: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement reduce(value1, value2)")


class KeySelector(Function):
    def get_key(self, value: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement get_key(value)")


class Partitioner(Function):
    def partition(self, key: Any, num_partitions: int) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement partition(key, num_partitions)")


class SinkFunction(Function):
    """A sink written in Python: `invoke(value, context)` once per record."""

    class Context:
        """What `invoke` may ask (Flink's `SinkFunction.Context`): the time, the watermark, the record's timestamp.

        `clock` is the task's clock (virtual `now_us` and the current
        record's `timestamp`); `watermark` returns the sink's current watermark.
        """

        def __init__(self, clock: Any, watermark: Callable[[], int]):
            self._clock = clock
            self._watermark = watermark

        def current_processing_time(self) -> int:
            """Virtual processing time in ms."""
            return self._clock.now_us // 1000

        def current_watermark(self) -> int:
            return self._watermark()

        def timestamp(self) -> int | None:
            """The record's event timestamp (None if it has none)."""
            return self._clock.timestamp

    def invoke(self, value: Any, context: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement invoke(value, context)")


class TimeDomain(Enum):
    """Which clock a timer belongs to (PyFlink's `TimeDomain`)."""

    EVENT_TIME = 0
    PROCESSING_TIME = 1


class TimerService:
    """Time as a function sees it, in integer milliseconds, and its timers.

    Processing time is the virtual clock; the watermark is Long.MIN_VALUE until
    event time reaches the operator. Timers exist only on keyed streams: one
    per key and timestamp, however often it is registered.
    """

    def current_processing_time(self) -> int:
        raise NotImplementedError

    def current_watermark(self) -> int:
        raise NotImplementedError

    def register_processing_time_timer(self, timestamp: int) -> None:
        raise NotImplementedError

    def register_event_time_timer(self, timestamp: int) -> None:
        raise NotImplementedError

    def delete_processing_time_timer(self, timestamp: int) -> None:
        raise NotImplementedError

    def delete_event_time_timer(self, timestamp: int) -> None:
        raise NotImplementedError


class ProcessFunction(Function):
    """`process_element(value, ctx)` yields outputs; `yield tag, value` for side outputs."""

    class Context:
        """What `process_element` may ask: the record's timestamp (None if it has none) and the time."""

        def __init__(self, timer_service: TimerService, clock: Any = None):
            self._timer_service = timer_service
            self._clock = clock

        def timestamp(self) -> int | None:
            return None if self._clock is None else self._clock.timestamp

        def timer_service(self) -> TimerService:
            return self._timer_service

    def process_element(self, value: Any, ctx: ProcessFunction.Context) -> Iterable[Any] | None:
        raise NotImplementedError(f"{type(self).__name__} must implement process_element(value, ctx)")


class KeyedProcessFunction(Function):
    """A process function on a keyed stream; the context knows the current key, and timers call `on_timer`."""

    class Context(ProcessFunction.Context):
        def __init__(self, timer_service: TimerService, clock: Any = None):
            super().__init__(timer_service, clock)
            self._key: Any = None

        def get_current_key(self) -> Any:
            return self._key

    class OnTimerContext(Context):
        """The context of `on_timer`: also which clock fired (`time_domain()`); `timestamp()` is the timer's."""

        def __init__(self, timer_service: TimerService, clock: Any = None):
            super().__init__(timer_service, clock)
            self._time_domain = TimeDomain.EVENT_TIME
            self._timer_timestamp: int | None = None

        def time_domain(self) -> TimeDomain:
            return self._time_domain

        def timestamp(self) -> int | None:
            return self._timer_timestamp

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterable[Any] | None:
        raise NotImplementedError(f"{type(self).__name__} must implement process_element(value, ctx)")

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterable[Any] | None:
        """A timer of the current key fired; yield outputs as in `process_element`."""
        return None
