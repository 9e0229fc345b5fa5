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
from sim.api.state import StateDescriptor, ValueState, ValueStateDescriptor
from sim.api.transformations import ChainingStrategy, PartitionerKind
from sim.api.typeinfo import TypeInformation, Types

__all__ = [
    "ChainingStrategy", "CloseableIterator", "CollectionSource", "DataStream", "DataStreamSink", "FilterFunction",
    "FlatMapFunction", "Function", "KeySelector", "KeyedProcessFunction", "KeyedStream", "MapFunction",
    "NumberSequenceSource", "OutputTag", "PartitionerKind", "Partitioner", "ProcessFunction", "ReaderPoll",
    "ReduceFunction", "RuntimeContext", "SinkFunction", "Source", "SourceReader", "StateDescriptor",
    "StreamExecutionEnvironment", "TimerService", "TypeInformation", "Types", "ValueState", "ValueStateDescriptor",
]
