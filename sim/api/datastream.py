"""`DataStream`, `KeyedStream` and `DataStreamSink` with PyFlink's method names.

Layer: `sim.api` (no SimPy). Each method appends a `Transformation` to the
environment and returns a new stream; nothing runs until `execute()`.

Flink counterpart: `DataStream`, `SingleOutputStreamOperator`, `KeyedStream`,
`DataStreamSink` (pyflink.datastream.data_stream).
Simplified: `output_type` arguments are accepted and only used for key hashing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator

from sim.api.connected import BroadcastConnectedStream, BroadcastStream, ConnectedStreams, IntervalJoin
from sim.api.functions import (
    FilterFunction, FlatMapFunction, KeyedProcessFunction, KeySelector, MapFunction, OutputTag,
    Partitioner, ProcessFunction, ReduceFunction, SinkFunction,
)
from sim.api.transformations import (
    ChainingStrategy, OperatorSpec, PartitionerKind, PartitionerSpec, Transformation,
)
from sim.api.eventtime import WatermarkStrategy
from sim.api.state import MapStateDescriptor
from sim.api.typeinfo import TypeInformation
from sim.api.windowed import AllWindowedStream, WindowedStream, count_window
from sim.api.windowing import WindowAssigner
from sim.kernel.hashing import UPPER_BOUND_MAX_PARALLELISM

if TYPE_CHECKING:
    from sim.api.environment import StreamExecutionEnvironment


def _resolve(func: Any, base: type, method: str, what: str) -> Any:
    """A function object of class `base`, or a plain callable, checked up front."""
    if isinstance(func, base) or callable(func):
        return func
    raise TypeError(f"{what} needs a {base.__name__} or a callable, got {type(func).__name__}")


class _Configurable:
    """Naming, uid, parallelism and chaining controls shared by streams and sinks."""

    def __init__(self, env: StreamExecutionEnvironment, transformation: Transformation):
        self._env = env
        self._t = transformation

    def _physical(self, what: str) -> Transformation:
        if self._t.is_virtual:
            raise ValueError(f"{what}() applies to an operator, not to a {self._t.kind} of {self._t.inputs[0].name!r}")
        return self._t

    def name(self, name: str):
        """Name the operator; its readable id (`name[2]` in traces) is derived from it."""
        t = self._physical("name")
        t.name = name
        t.operator.options["named"] = True
        return self

    def get_name(self) -> str:
        return self._t.name

    def uid(self, uid: str):
        self._physical("uid").uid = uid
        return self

    def set_parallelism(self, parallelism: int):
        t = self._physical("set_parallelism")
        if not isinstance(parallelism, int) or parallelism < 1:
            raise ValueError(f"parallelism of {t.name!r} must be a positive int, got {parallelism!r}")
        if t.parallelism_fixed and parallelism != 1:
            raise ValueError(f"{t.name!r} is a non-parallel operator: its parallelism must be 1, got {parallelism}")
        t.parallelism = parallelism
        return self

    def set_max_parallelism(self, max_parallelism: int):
        t = self._physical("set_max_parallelism")
        if type(max_parallelism) is not int or not 1 <= max_parallelism <= UPPER_BOUND_MAX_PARALLELISM:
            raise ValueError(f"max parallelism of {t.name!r} must be an int in 1..{UPPER_BOUND_MAX_PARALLELISM}, "
                             f"got {max_parallelism!r}")
        t.max_parallelism = max_parallelism
        return self

    def disable_chaining(self):
        self._physical("disable_chaining").chaining = ChainingStrategy.NEVER
        return self

    def start_new_chain(self):
        self._physical("start_new_chain").chaining = ChainingStrategy.HEAD
        return self

    def slot_sharing_group(self, slot_sharing_group: Any):
        name = slot_sharing_group if isinstance(slot_sharing_group, str) else slot_sharing_group.get_name()
        self._physical("slot_sharing_group").slot_sharing_group = name
        return self


class DataStream(_Configurable):
    """A stream of elements; transform it to build the job."""

    # --- one-input operators --------------------------------------------------

    def _one_input(self, kind: str, name: str, function: Any, keyed: PartitionerSpec | None = None,
                   **options: Any) -> DataStream:
        t = Transformation(kind="operator", name=name, inputs=[self._t], operator=OperatorSpec(kind, function, options),
                           keyed=keyed)
        self._env.transformations.append(t)
        return DataStream(self._env, t)

    def map(self, func: MapFunction | Callable[[Any], Any], output_type: TypeInformation | None = None) -> DataStream:
        return self._one_input("map", "Map", _resolve(func, MapFunction, "map", "map"))

    def flat_map(self, func: FlatMapFunction | Callable, output_type: TypeInformation | None = None) -> DataStream:
        return self._one_input("flat_map", "Flat Map", _resolve(func, FlatMapFunction, "flat_map", "flat_map"))

    def filter(self, func: FilterFunction | Callable[[Any], bool]) -> DataStream:
        return self._one_input("filter", "Filter", _resolve(func, FilterFunction, "filter", "filter"))

    def process(self, func: ProcessFunction, output_type: TypeInformation | None = None) -> DataStream:
        if not isinstance(func, ProcessFunction):
            raise TypeError(f"process on a DataStream needs a ProcessFunction, got {type(func).__name__}")
        return self._one_input("process", "Process", func)

    def assign_timestamps_and_watermarks(self, watermark_strategy: WatermarkStrategy) -> DataStream:
        """Stamp each record with the strategy's timestamp and generate watermarks from here on.

        Watermarks from upstream are dropped (only the final Long.MAX_VALUE
        passes); the generator may emit every `auto-watermark-interval`.
        """
        if not isinstance(watermark_strategy, WatermarkStrategy):
            raise TypeError(f"assign_timestamps_and_watermarks needs a WatermarkStrategy, "
                            f"got {type(watermark_strategy).__name__}")
        return self._one_input("timestamps", "Timestamps/Watermarks", watermark_strategy)

    def window_all(self, window_assigner: WindowAssigner) -> AllWindowedStream:
        """Windows over the whole stream, computed in one subtask."""
        return AllWindowedStream(self, window_assigner)

    def count_window_all(self, size: int, slide: int = 0) -> AllWindowedStream:
        """Windows of `size` elements over the whole stream (sliding every `slide` if given)."""
        return count_window(self, size, slide, all_windows=True)

    def get_side_output(self, output_tag: OutputTag) -> DataStream:
        """The records this operator emitted with `yield output_tag, value`."""
        if not isinstance(output_tag, OutputTag):
            raise TypeError(f"get_side_output needs an OutputTag, got {type(output_tag).__name__}")
        t = Transformation(kind="side_output", name=f"SideOutput({output_tag.tag_id})", inputs=[self._t],
                           side_output=output_tag)
        return DataStream(self._env, t)

    # --- partitioning -----------------------------------------------------------

    def _partition(self, spec: PartitionerSpec, name: str) -> Transformation:
        return Transformation(kind="partition", name=name, inputs=[self._t], partitioner=spec)

    def _repartition(self, kind: PartitionerKind) -> DataStream:
        return DataStream(self._env, self._partition(PartitionerSpec(kind), kind.value))

    def key_by(self, key_selector: KeySelector | Callable[[Any], Any],
               key_type: TypeInformation | None = None) -> KeyedStream:
        """Partition by key: `murmur(hashCode(key)) % maxParallelism` picks the key group."""
        selector = key_selector.get_key if isinstance(key_selector, KeySelector) else key_selector
        if not callable(selector):
            raise TypeError(f"key_by needs a KeySelector or a callable, got {type(key_selector).__name__}")
        spec = PartitionerSpec(PartitionerKind.HASH, key_selector=selector, key_type=key_type)
        return KeyedStream(self._env, self._partition(spec, "hash"), spec)

    def forward(self) -> DataStream:
        return self._repartition(PartitionerKind.FORWARD)

    def rebalance(self) -> DataStream:
        return self._repartition(PartitionerKind.REBALANCE)

    def rescale(self) -> DataStream:
        return self._repartition(PartitionerKind.RESCALE)

    def shuffle(self) -> DataStream:
        return self._repartition(PartitionerKind.SHUFFLE)

    def broadcast(self, broadcast_state_descriptor: MapStateDescriptor | None = None,
                  *other_broadcast_state_descriptors: MapStateDescriptor) -> DataStream | BroadcastStream:
        """Every record to every downstream subtask.

        With state descriptors, a `BroadcastStream` to `connect` to: its
        records fill those broadcast states in every subtask.
        """
        stream = self._repartition(PartitionerKind.BROADCAST)
        if broadcast_state_descriptor is None:
            return stream
        return BroadcastStream(stream, [broadcast_state_descriptor, *other_broadcast_state_descriptors])

    def global_(self) -> DataStream:
        return self._repartition(PartitionerKind.GLOBAL)

    def partition_custom(self, partitioner: Partitioner | Callable[[Any, int], int],
                         key_selector: KeySelector | Callable[[Any], Any]) -> DataStream:
        """Route by `partitioner.partition(key, num_partitions)`."""
        part = partitioner.partition if isinstance(partitioner, Partitioner) else partitioner
        selector = key_selector.get_key if isinstance(key_selector, KeySelector) else key_selector
        spec = PartitionerSpec(PartitionerKind.CUSTOM, key_selector=selector, partitioner=part)
        return DataStream(self._env, self._partition(spec, "custom"))

    def union(self, *streams: DataStream) -> DataStream:
        """All elements of this stream and the others, as one stream."""
        if not streams:
            raise ValueError("union needs at least one other stream")
        t = Transformation(kind="union", name="Union", inputs=[self._t] + [s._t for s in streams])
        return DataStream(self._env, t)

    # --- two inputs -----------------------------------------------------------------

    def connect(self, ds: DataStream | BroadcastStream) -> ConnectedStreams | BroadcastConnectedStream:
        """This stream as input 1 and `ds` as input 2 of one operator (a broadcast stream: the broadcast pattern)."""
        if isinstance(ds, BroadcastStream):
            return BroadcastConnectedStream(self, ds)
        if not isinstance(ds, DataStream):
            raise TypeError(f"connect needs a DataStream or a BroadcastStream, got {type(ds).__name__}")
        return ConnectedStreams(self, ds)

    # --- sinks --------------------------------------------------------------------

    def _sink(self, kind: str, name: str, function: Any, **options: Any) -> DataStreamSink:
        t = Transformation(kind="sink", name=name, inputs=[self._t], operator=OperatorSpec(kind, function, options))
        self._env.transformations.append(t)
        return DataStreamSink(self._env, t)

    def print(self, sink_identifier: str | None = None) -> DataStreamSink:
        """Print each record to stdout, prefixed `subtask+1> ` when parallel (as Flink)."""
        return self._sink("print", "Print to Std. Out", None, identifier=sink_identifier)

    def add_sink(self, sink_func: SinkFunction | Callable[[Any], None]) -> DataStreamSink:
        return self._sink("sink", "Unnamed", _resolve(sink_func, SinkFunction, "invoke", "add_sink"))

    def sink_to(self, sink: Any) -> DataStreamSink:
        """A sink object with `invoke(value, context)` or a callable."""
        return self._sink("sink", getattr(sink, "name", None) or type(sink).__name__,
                          _resolve(sink, SinkFunction, "invoke", "sink_to"))

    def execute_and_collect(self, job_execution_name: str | None = None, limit: int | None = None):
        """Run the job and return this stream's records (a closeable iterator, or a list with `limit`)."""
        from sim.api.environment import DEFAULT_JOB_NAME, _require_runner

        sink = self._sink("collect", "Data stream collect sink", None)
        try:
            result = _require_runner().execute(self._env, job_execution_name or DEFAULT_JOB_NAME)
        finally:
            self._env.transformations.remove(sink._t)
        values = result.result.values(sink._t)
        if limit is not None:
            return values[:limit]
        return CloseableIterator(values)


class KeyedStream(DataStream):
    """A stream partitioned by key; its operators have keyed state."""

    def __init__(self, env: StreamExecutionEnvironment, transformation: Transformation, key_spec: PartitionerSpec):
        super().__init__(env, transformation)
        self._key_spec = key_spec

    def _keyed(self, kind: str, name: str, function: Any, **options: Any) -> DataStream:
        return self._one_input(kind, name, function, keyed=self._key_spec, **options)

    def map(self, func, output_type=None) -> DataStream:
        return self._keyed("map", "Map", _resolve(func, MapFunction, "map", "map"))

    def flat_map(self, func, output_type=None) -> DataStream:
        return self._keyed("flat_map", "Flat Map", _resolve(func, FlatMapFunction, "flat_map", "flat_map"))

    def filter(self, func) -> DataStream:
        return self._keyed("filter", "Filter", _resolve(func, FilterFunction, "filter", "filter"))

    def process(self, func: KeyedProcessFunction, output_type: TypeInformation | None = None) -> DataStream:
        if not isinstance(func, KeyedProcessFunction):
            raise TypeError(f"process on a KeyedStream needs a KeyedProcessFunction, got {type(func).__name__}")
        return self._keyed("keyed_process", "KeyedProcess", func)

    def interval_join(self, other_stream: KeyedStream) -> IntervalJoin:
        """Join with another keyed stream on equal keys and close timestamps: `.between(lower, upper).process(f)`."""
        if not isinstance(other_stream, KeyedStream):
            raise TypeError(f"interval_join needs a KeyedStream, got {type(other_stream).__name__}")
        return IntervalJoin(self, other_stream)

    def window(self, window_assigner: WindowAssigner) -> WindowedStream:
        """Cut each key's elements into windows (tumbling, sliding, session, global)."""
        return WindowedStream(self, window_assigner)

    def count_window(self, size: int, slide: int = 0) -> WindowedStream:
        """Windows of `size` elements per key (sliding every `slide` elements if given)."""
        return count_window(self, size, slide)

    def reduce(self, func: ReduceFunction | Callable[[Any, Any], Any]) -> DataStream:
        """A rolling reduce: emits the new accumulated value for the key after every record."""
        return self._keyed("reduce", "Keyed Reduce", _resolve(func, ReduceFunction, "reduce", "reduce"))

    def sum(self, position_to_sum: int | str = 0) -> DataStream:
        return self._keyed("sum", "Keyed Aggregation", None, position=position_to_sum)

    def min(self, position_to_min: int | str = 0) -> DataStream:
        return self._keyed("min", "Keyed Aggregation", None, position=position_to_min)

    def max(self, position_to_max: int | str = 0) -> DataStream:
        return self._keyed("max", "Keyed Aggregation", None, position=position_to_max)

    def min_by(self, position_to_min_by: int | str = 0) -> DataStream:
        return self._keyed("min_by", "Keyed Aggregation", None, position=position_to_min_by)

    def max_by(self, position_to_max_by: int | str = 0) -> DataStream:
        return self._keyed("max_by", "Keyed Aggregation", None, position=position_to_max_by)


class DataStreamSink(_Configurable):
    """The end of a stream: name it, give it a uid, set its parallelism."""


class CloseableIterator:
    """The records of `execute_and_collect()`: iterate, or use as a context manager."""

    def __init__(self, values: list[Any]):
        self._it: Iterator[Any] = iter(values)

    def __iter__(self) -> CloseableIterator:
        return self

    def __next__(self) -> Any:
        return next(self._it)

    def close(self) -> None:
        self._it = iter(())

    def __enter__(self) -> CloseableIterator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
