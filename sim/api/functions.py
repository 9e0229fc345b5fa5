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


class _FiredTimer:
    """What the context of `on_timer` adds: which clock fired (`time_domain()`); `timestamp()` is the timer's.

    The runtime sets `_time_domain` and `_timer_timestamp` before each call.
    """

    _time_domain = TimeDomain.EVENT_TIME
    _timer_timestamp: int | None = None

    def time_domain(self) -> TimeDomain:
        return self._time_domain

    def timestamp(self) -> int | None:
        return self._timer_timestamp


class KeyedProcessFunction(Function):
    """A process function on a keyed stream; the context knows the current key, and timers call `on_timer`."""

    class Context(ProcessFunction.Context):
        def __init__(self, timer_service: TimerService, clock: Any = None):
            super().__init__(timer_service, clock)
            self._key: Any = None

        def get_current_key(self) -> Any:
            return self._key

    class OnTimerContext(_FiredTimer, Context):
        """The context of `on_timer`: also which clock fired (`time_domain()`); `timestamp()` is the timer's."""

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterable[Any] | None:
        raise NotImplementedError(f"{type(self).__name__} must implement process_element(value, ctx)")

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterable[Any] | None:
        """A timer of the current key fired; yield outputs as in `process_element`."""
        return None


# --- two inputs ---------------------------------------------------------------------------------


class CoMapFunction(Function):
    """A map over two connected streams: `map1` for the first, `map2` for the second; one instance shares state."""

    def map1(self, value: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement map1(value)")

    def map2(self, value: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement map2(value)")


class CoFlatMapFunction(Function):
    """A flat map over two connected streams: `flat_map1` / `flat_map2` yield any number of outputs."""

    def flat_map1(self, value: Any) -> Iterable[Any] | None:
        raise NotImplementedError(f"{type(self).__name__} must implement flat_map1(value)")

    def flat_map2(self, value: Any) -> Iterable[Any] | None:
        raise NotImplementedError(f"{type(self).__name__} must implement flat_map2(value)")


class _CoProcess(Function):
    """What both co-process functions declare: one method per input, and `on_timer`."""

    def process_element1(self, value: Any, ctx: Any) -> Iterable[Any] | None:
        """A record of input 1; yield outputs (`yield tag, value` for a side output)."""
        raise NotImplementedError(f"{type(self).__name__} must implement process_element1(value, ctx)")

    def process_element2(self, value: Any, ctx: Any) -> Iterable[Any] | None:
        """A record of input 2; yield outputs as in `process_element1`."""
        raise NotImplementedError(f"{type(self).__name__} must implement process_element2(value, ctx)")

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterable[Any] | None:
        """A timer of the current key fired; yield outputs as in `process_element1`."""
        return None


class CoProcessFunction(_CoProcess):
    """`process_element1/2(value, ctx)` on two connected streams; the context gives time.

    Timers and keyed state need keys: on connected keyed streams this function
    runs like a `KeyedCoProcessFunction` (Flink's legacy keyed co-process),
    and only there can `on_timer` be called.
    """

    Context = ProcessFunction.Context


class KeyedCoProcessFunction(_CoProcess):
    """`process_element1/2(value, ctx)` on two keyed streams sharing keyed state and timers; timers call `on_timer`."""

    Context = KeyedProcessFunction.Context
    OnTimerContext = KeyedProcessFunction.OnTimerContext


class BaseBroadcastProcessFunction(Function):
    """What both broadcast process functions share: the two methods and the contexts of the two sides.

    `process_broadcast_element` gets a `Context` whose broadcast state can be
    changed; `process_element` gets a `ReadOnlyContext` whose broadcast state
    can only be read, so that every subtask keeps the same broadcast state.
    """

    def process_element(self, value: Any, ctx: Any) -> Iterable[Any] | None:
        """A record of the non-broadcast input (read-only broadcast state); yield outputs."""
        raise NotImplementedError(f"{type(self).__name__} must implement process_element(value, ctx)")

    def process_broadcast_element(self, value: Any, ctx: Any) -> Iterable[Any] | None:
        """A record of the broadcast input (read-write broadcast state); yield outputs."""
        raise NotImplementedError(f"{type(self).__name__} must implement process_broadcast_element(value, ctx)")

    class BaseContext:
        """The record's timestamp (None if it has none), processing time and watermark.

        The runtime builds it around its operator, which has `clock`,
        `current_watermark` and `broadcast_state(descriptor, writable)`.
        """

        def __init__(self, op: Any):
            self._op = op

        def timestamp(self) -> int | None:
            return self._op.clock.timestamp

        def current_processing_time(self) -> int:
            return self._op.clock.now_ms()

        def current_watermark(self) -> int:
            return self._op.current_watermark

    class Context(BaseContext):
        """The broadcast side's context: `get_broadcast_state(descriptor)` may be changed."""

        def get_broadcast_state(self, state_descriptor: StateDescriptor) -> Any:
            return self._op.broadcast_state(state_descriptor, writable=True)

    class ReadOnlyContext(BaseContext):
        """The other side's context: `get_broadcast_state(descriptor)` is a read-only view."""

        def get_broadcast_state(self, state_descriptor: StateDescriptor) -> Any:
            return self._op.broadcast_state(state_descriptor, writable=False)


class BroadcastProcessFunction(BaseBroadcastProcessFunction):
    """Connects a non-keyed stream with a broadcast stream: `process_element` and `process_broadcast_element`."""


class KeyedBroadcastProcessFunction(BaseBroadcastProcessFunction):
    """Connects a keyed stream with a broadcast stream; the keyed side has keyed state and timers (`on_timer`)."""

    class ReadOnlyContext(BaseBroadcastProcessFunction.ReadOnlyContext):
        """The keyed side's context: read-only broadcast state, the current key and timers."""

        def __init__(self, op: Any, timer_service: TimerService):
            super().__init__(op)
            self._timer_service = timer_service
            self._key: Any = None

        def timer_service(self) -> TimerService:
            return self._timer_service

        def get_current_key(self) -> Any:
            return self._key

    class OnTimerContext(_FiredTimer, ReadOnlyContext):
        """The context of `on_timer`: also which clock fired (`time_domain()`); `timestamp()` is the timer's."""

    def on_timer(self, timestamp: int, ctx: KeyedBroadcastProcessFunction.OnTimerContext) -> Iterable[Any] | None:
        """A timer of the current key fired; yield outputs as in `process_element`."""
        return None


class ProcessJoinFunction(Function):
    """Called once per joined pair of an interval join: `process_element(left, right, ctx)` yields outputs."""

    class Context:
        """The timestamps of the pair: the left's, the right's, and the result's (the larger one)."""

        def __init__(self) -> None:
            self._left = self._right = self._result = LONG_MIN

        def get_left_timestamp(self) -> int:
            return self._left

        def get_right_timestamp(self) -> int:
            return self._right

        def get_timestamp(self) -> int:
            return self._result

    def process_element(self, left: Any, right: Any, ctx: ProcessJoinFunction.Context) -> Iterable[Any] | None:
        raise NotImplementedError(f"{type(self).__name__} must implement process_element(left, right, ctx)")
