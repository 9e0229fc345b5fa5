"""The user-facing DataStream API, with PyFlink's names: change `pyflink.datastream` imports to `sim.api`.

Layer: above `sim.kernel` and `sim.trace`; never imports SimPy or the layers
above it. Importing it also loads `sim`, which registers the runner behind
`env.execute()`.
"""

from sim.api.connectors import CollectionSource, NumberSequenceSource, ReaderPoll, Source, SourceReader
from sim.api.datastream import CloseableIterator, DataStream, DataStreamSink, KeyedStream
from sim.api.environment import StreamExecutionEnvironment
from sim.api.functions import (
    FilterFunction, FlatMapFunction, Function, KeyedProcessFunction, KeySelector, MapFunction, OutputTag,
    Partitioner, ProcessFunction, ReduceFunction, RuntimeContext, SinkFunction, TimerService,
)
from sim.api.checkpointing import (
    CheckpointConfig, CheckpointingMode, EmbeddedRocksDBStateBackend, HashMapStateBackend, StateBackend,
)
from sim.api.state import (
    AggregateFunction, AggregatingState, AggregatingStateDescriptor, ListState, ListStateDescriptor, MapState,
    MapStateDescriptor, ReducingState, ReducingStateDescriptor, StateDescriptor, ValueState, ValueStateDescriptor,
)
from sim.api.transformations import ChainingStrategy, PartitionerKind
from sim.api.typeinfo import TypeInformation, Types

__all__ = [
    "AggregateFunction", "AggregatingState", "AggregatingStateDescriptor", "CheckpointConfig", "CheckpointingMode",
    "EmbeddedRocksDBStateBackend", "HashMapStateBackend", "ListState", "ListStateDescriptor", "MapState",
    "MapStateDescriptor", "ReducingState", "ReducingStateDescriptor", "StateBackend",
    "ChainingStrategy", "CloseableIterator", "CollectionSource", "DataStream", "DataStreamSink", "FilterFunction",
    "FlatMapFunction", "Function", "KeySelector", "KeyedProcessFunction", "KeyedStream", "MapFunction",
    "NumberSequenceSource", "OutputTag", "PartitionerKind", "Partitioner", "ProcessFunction", "ReaderPoll",
    "ReduceFunction", "RuntimeContext", "SinkFunction", "Source", "SourceReader", "StateDescriptor",
    "StreamExecutionEnvironment", "TimerService", "TypeInformation", "Types", "ValueState", "ValueStateDescriptor",
]
