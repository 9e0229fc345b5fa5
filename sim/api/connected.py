"""Two-input streams: `ConnectedStreams`, the broadcast state pattern, and the interval join.

Layer: `sim.api` (no SimPy). `DataStream.connect(other)` returns
`ConnectedStreams`; `DataStream.broadcast(descriptor, ...)` returns a
`BroadcastStream`, and connecting one gives a `BroadcastConnectedStream`;
`KeyedStream.interval_join(other)` returns an `IntervalJoin`. Each ends in
one two-input transformation (kind "two_input") whose inputs are, in order,
input 1 and input 2: the stream `connect` was called on (the left side of a
join) is input 1.

Flink counterpart: `ConnectedStreams`, `BroadcastStream`,
`BroadcastConnectedStream` (pyflink.datastream.data_stream) and
`KeyedStream.IntervalJoin` / `IntervalJoined` (Java; PyFlink has no interval
join, so the names follow Java's, Pythonised).
Simplified: `output_type` arguments are accepted and ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.api.functions import (
    BroadcastProcessFunction, CoFlatMapFunction, CoMapFunction, CoProcessFunction, KeyedBroadcastProcessFunction,
    KeyedCoProcessFunction, KeySelector, OutputTag, ProcessJoinFunction,
)
from sim.api.state import MapStateDescriptor
from sim.api.transformations import OperatorSpec, PartitionerSpec, Transformation
from sim.api.typeinfo import TypeInformation
from sim.api.windowing import milliseconds_of

if TYPE_CHECKING:
    from sim.api.datastream import DataStream, KeyedStream


def _key_spec(stream: DataStream) -> PartitionerSpec | None:
    return getattr(stream, "_key_spec", None)


def two_input(first: DataStream, second: DataStream, kind: str, name: str, function: Any,
              keyed: tuple[PartitionerSpec | None, PartitionerSpec | None] = (None, None),
              **options: Any) -> DataStream:
    """Append one two-input operator reading `first` (input 1) and `second` (input 2)."""
    from sim.api.datastream import DataStream

    if first._env is not second._env:
        raise ValueError(f"{name}: both inputs must come from the same StreamExecutionEnvironment")
    t = Transformation(kind="two_input", name=name, inputs=[first._t, second._t],
                       operator=OperatorSpec(kind, function, options), keyed=keyed[0], keyed2=keyed[1])
    first._env.transformations.append(t)
    return DataStream(first._env, t)


def _require(func: Any, base: type, method: str) -> None:
    if not isinstance(func, base):
        raise TypeError(f"{method} on connected streams needs a {base.__name__}, got {type(func).__name__}")


class ConnectedStreams:
    """Two streams, possibly of different types, processed by one operator that sees both.

    The function has one method per input (`map1`/`map2`, ...), and one
    instance serves both, so the two inputs can share state. When both
    streams are keyed (`key_by(key_selector1, key_selector2)`), each record
    sets the key from its own side's selector, and keyed state and timers are
    shared by key across both inputs.
    """

    def __init__(self, stream1: DataStream, stream2: DataStream):
        self.stream1 = stream1
        self.stream2 = stream2

    def _keys(self) -> tuple[PartitionerSpec | None, PartitionerSpec | None]:
        first, second = _key_spec(self.stream1), _key_spec(self.stream2)
        return (first, second) if first is not None and second is not None else (None, None)

    @property
    def is_keyed(self) -> bool:
        """Whether both inputs are keyed (only then does the operator have keyed state)."""
        return self._keys()[0] is not None

    def key_by(self, key_selector1: KeySelector | Any, key_selector2: KeySelector | Any,
               key_type: TypeInformation | None = None) -> ConnectedStreams:
        """Key both inputs (records with equal keys meet in one subtask); `key_type` is the shared key type."""
        return ConnectedStreams(self.stream1.key_by(key_selector1, key_type),
                                self.stream2.key_by(key_selector2, key_type))

    def map(self, func: CoMapFunction, output_type: TypeInformation | None = None) -> DataStream:
        """One output per input record: `map1` for input 1, `map2` for input 2."""
        _require(func, CoMapFunction, "map")
        return two_input(self.stream1, self.stream2, "co_map", "Co-Map", func, self._keys())

    def flat_map(self, func: CoFlatMapFunction, output_type: TypeInformation | None = None) -> DataStream:
        """Any number of outputs per input record: `flat_map1` / `flat_map2` yield them."""
        _require(func, CoFlatMapFunction, "flat_map")
        return two_input(self.stream1, self.stream2, "co_flat_map", "Co-Flat Map", func, self._keys())

    def process(self, func: CoProcessFunction | KeyedCoProcessFunction,
                output_type: TypeInformation | None = None) -> DataStream:
        """`process_element1` / `process_element2` with a context; keyed streams also get timers (`on_timer`).

        Raises:
            TypeError: `func` is neither function, or a KeyedCoProcessFunction
                on inputs that are not both keyed.
        """
        if isinstance(func, KeyedCoProcessFunction):
            if not self.is_keyed:
                raise TypeError("a KeyedCoProcessFunction needs both connected streams keyed: "
                                "use connect(...).key_by(key_selector1, key_selector2) or connect two KeyedStreams")
            return two_input(self.stream1, self.stream2, "keyed_co_process", "Co-Keyed-Process", func, self._keys())
        _require(func, CoProcessFunction, "process")
        if self.is_keyed:
            return two_input(self.stream1, self.stream2, "keyed_co_process", "Co-Keyed-Process", func, self._keys())
        return two_input(self.stream1, self.stream2, "co_process", "Co-Process", func)


class BroadcastStream:
    """A stream sent to every subtask of the operator it is connected to, with the broadcast states it fills.

    Made by `DataStream.broadcast(descriptor, ...)`; connect a (keyed) stream
    to it and `process` with a (Keyed)BroadcastProcessFunction.
    """

    def __init__(self, stream: DataStream, descriptors: list[MapStateDescriptor]):
        for descriptor in descriptors:
            if not isinstance(descriptor, MapStateDescriptor):
                raise TypeError(f"broadcast() needs MapStateDescriptors, got {type(descriptor).__name__}")
        names = [d.name for d in descriptors]
        if len(set(names)) != len(names):
            raise ValueError(f"broadcast() got two state descriptors with one name: {names}")
        self.stream = stream
        self.descriptors = list(descriptors)

    def get_broadcast_state_descriptors(self) -> list[MapStateDescriptor]:
        return list(self.descriptors)


class BroadcastConnectedStream:
    """A (keyed or non-keyed) stream connected with a broadcast stream; finish it with `process`.

    Input 1 is the non-broadcast stream, input 2 the broadcast stream.
    """

    def __init__(self, stream: DataStream, broadcast_stream: BroadcastStream):
        self.non_broadcast_stream = stream
        self.broadcast_stream = broadcast_stream

    def process(self, func: BroadcastProcessFunction | KeyedBroadcastProcessFunction,
                output_type: TypeInformation | None = None) -> DataStream:
        """`process_element` per record of input 1, `process_broadcast_element` per broadcast record.

        Raises:
            TypeError: A KeyedBroadcastProcessFunction on a non-keyed stream, a
                BroadcastProcessFunction on a keyed one, or another function.
        """
        keyed = _key_spec(self.non_broadcast_stream)
        if isinstance(func, KeyedBroadcastProcessFunction):
            if keyed is None:
                raise TypeError("a KeyedBroadcastProcessFunction needs a keyed stream: "
                                "key_by(...) before connect(broadcast_stream)")
            name = "Co-Process-Broadcast-Keyed"
        elif isinstance(func, BroadcastProcessFunction):
            if keyed is not None:
                raise TypeError("a BroadcastProcessFunction needs a non-keyed stream; "
                                "on a KeyedStream use a KeyedBroadcastProcessFunction")
            name = "Co-Process-Broadcast"
        else:
            raise TypeError(f"process on a broadcast connected stream needs a BroadcastProcessFunction or a "
                            f"KeyedBroadcastProcessFunction, got {type(func).__name__}")
        return two_input(self.non_broadcast_stream, self.broadcast_stream.stream, "broadcast_process", name, func,
                         (keyed, None), descriptors=self.broadcast_stream.descriptors)


class IntervalJoin:
    """`left.interval_join(right)`: pair records of two keyed streams whose timestamps lie close together."""

    def __init__(self, left: KeyedStream, right: KeyedStream):
        self._left = left
        self._right = right
        self._event_time = True

    def in_event_time(self) -> IntervalJoin:
        self._event_time = True
        return self

    def in_processing_time(self) -> IntervalJoin:
        """Accepted for the API's sake; `between` then refuses, as Flink does."""
        self._event_time = False
        return self

    def between(self, lower_bound: Any, upper_bound: Any) -> IntervalJoined:
        """Join a left record at t with right records in [t + lower_bound, t + upper_bound] (ms or Duration).

        Raises:
            ValueError: Processing time was chosen, or lower_bound > upper_bound.
        """
        if not self._event_time:
            raise ValueError("interval join: time-bounded stream joins are only supported in event time")
        lower = milliseconds_of(lower_bound, "interval join lower bound")
        upper = milliseconds_of(upper_bound, "interval join upper bound")
        if lower > upper:
            raise ValueError(f"interval join between(lower, upper) needs lower <= upper, got {lower} > {upper}")
        return IntervalJoined(self._left, self._right, lower, upper)


class IntervalJoined:
    """An interval join with its bounds; `process(ProcessJoinFunction)` ends it.

    Both bounds are inclusive unless made exclusive. Records behind the
    watermark are dropped, or sent to a side output if one is set.
    """

    def __init__(self, left: KeyedStream, right: KeyedStream, lower_ms: int, upper_ms: int):
        self._left = left
        self._right = right
        self._options: dict[str, Any] = {"lower_ms": lower_ms, "upper_ms": upper_ms, "lower_inclusive": True,
                                         "upper_inclusive": True, "left_late_tag": None, "right_late_tag": None}

    def lower_bound_exclusive(self) -> IntervalJoined:
        self._options["lower_inclusive"] = False
        return self

    def upper_bound_exclusive(self) -> IntervalJoined:
        self._options["upper_inclusive"] = False
        return self

    def _late(self, option: str, output_tag: OutputTag) -> IntervalJoined:
        if not isinstance(output_tag, OutputTag):
            raise TypeError(f"the late data side output needs an OutputTag, got {type(output_tag).__name__}")
        self._options[option] = output_tag
        return self

    def side_output_left_late_data(self, output_tag: OutputTag) -> IntervalJoined:
        """Send left records behind the watermark to this side output instead of dropping them."""
        return self._late("left_late_tag", output_tag)

    def side_output_right_late_data(self, output_tag: OutputTag) -> IntervalJoined:
        """Send right records behind the watermark to this side output instead of dropping them."""
        return self._late("right_late_tag", output_tag)

    def process(self, func: ProcessJoinFunction, output_type: TypeInformation | None = None) -> DataStream:
        """Call `func.process_element(left, right, ctx)` once per joined pair."""
        if not isinstance(func, ProcessJoinFunction):
            raise TypeError(f"process on an interval join needs a ProcessJoinFunction, got {type(func).__name__}")
        keys = (_key_spec(self._left), _key_spec(self._right))
        return two_input(self._left, self._right, "interval_join", "Interval Join", func, keys, **self._options)
