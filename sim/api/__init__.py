"""The user-facing DataStream API, with PyFlink's names: change `pyflink.datastream` imports to `sim.api`.

Layer: above `sim.kernel` and `sim.trace`; never imports SimPy or the layers
above it. Importing it also loads `sim`, which registers the runner behind
`env.execute()`.
"""

from sim.api.connectors import (
    CollectionSource, NumberSequenceSource, PacedSource, ReaderPoll, Source, SourceReader,
)
from sim.api.connected import (
    BroadcastConnectedStream, BroadcastStream, ConnectedStreams, IntervalJoin, IntervalJoined,
)
from sim.api.datastream import CloseableIterator, DataStream, DataStreamSink, KeyedStream
from sim.api.environment import ExecutionConfig, StreamExecutionEnvironment
from sim.api.execution_mode import RuntimeExecutionMode
from sim.api.eventtime import (
    Duration, Time, TimestampAssigner, Watermark, WatermarkGenerator, WatermarkOutput, WatermarkStrategy,
)
from sim.api.functions import (
    BaseBroadcastProcessFunction, BroadcastProcessFunction, CoFlatMapFunction, CoMapFunction, CoProcessFunction,
    FilterFunction, FlatMapFunction, Function, KeyedBroadcastProcessFunction, KeyedCoProcessFunction,
    KeyedProcessFunction, KeySelector, MapFunction, OutputTag, Partitioner, ProcessFunction, ProcessJoinFunction,
    ReduceFunction, RuntimeContext, SinkFunction, TimeDomain, TimerService,
)
from sim.api.kafka import KafkaOffsetsInitializer, KafkaSource, KafkaSourceBuilder
from sim.api.kafka_sink import DeliveryGuarantee, KafkaSink, KafkaSinkBuilder, TopicSink, TransactionalTopicSink
from sim.api.log import Producer, Record, Topic
from sim.api.topic_transactions import TransactionError, TransactionResult, TransactionState
from sim.api.transactional import TwoPhaseCommitSinkFunction
from sim.api.windowed import AllWindowedStream, WindowedStream
from sim.api.windowing import (
    AllWindowFunction, CountEvictor, CountTrigger, EventTimeSessionWindows, EventTimeTrigger, Evictor,
    GlobalWindow, GlobalWindows, ProcessAllWindowFunction, ProcessingTimeSessionWindows, ProcessingTimeTrigger,
    ProcessWindowFunction, PurgingTrigger, SlidingEventTimeWindows, SlidingProcessingTimeWindows, TimeEvictor,
    TimestampedValue, TimeWindow, Trigger, TriggerResult, TumblingEventTimeWindows, TumblingProcessingTimeWindows,
    WindowAssigner, WindowFunction,
)
from sim.api.checkpointing import (
    CheckpointConfig, CheckpointingMode, EmbeddedRocksDBStateBackend, HashMapStateBackend, StateBackend,
)
from sim.api.restart_strategy import RestartStrategies, RestartStrategyConfiguration
from sim.api.state import (
    AggregateFunction, AggregatingState, AggregatingStateDescriptor, BroadcastState, ListState, ListStateDescriptor,
    MapState, MapStateDescriptor, ReadOnlyBroadcastState, ReducingState, ReducingStateDescriptor, StateDescriptor,
    ValueState, ValueStateDescriptor,
)
from sim.api.transformations import ChainingStrategy, PartitionerKind
from sim.api.typeinfo import TypeInformation, Types

__all__ = [
    "RestartStrategies", "RestartStrategyConfiguration",
    "BaseBroadcastProcessFunction", "BroadcastConnectedStream", "BroadcastProcessFunction", "BroadcastState",
    "BroadcastStream", "CoFlatMapFunction", "CoMapFunction", "CoProcessFunction", "ConnectedStreams", "IntervalJoin",
    "IntervalJoined", "KeyedBroadcastProcessFunction", "KeyedCoProcessFunction", "ProcessJoinFunction",
    "ReadOnlyBroadcastState",
    "AllWindowFunction", "AllWindowedStream", "CountEvictor", "CountTrigger", "Duration", "EventTimeSessionWindows",
    "EventTimeTrigger", "Evictor", "ExecutionConfig", "GlobalWindow", "GlobalWindows", "PacedSource",
    "ProcessAllWindowFunction", "ProcessWindowFunction", "ProcessingTimeSessionWindows", "ProcessingTimeTrigger",
    "PurgingTrigger", "SlidingEventTimeWindows", "SlidingProcessingTimeWindows", "Time", "TimeDomain", "TimeEvictor",
    "TimeWindow", "TimestampAssigner", "TimestampedValue", "Trigger", "TriggerResult", "TumblingEventTimeWindows",
    "TumblingProcessingTimeWindows", "Watermark", "WatermarkGenerator", "WatermarkOutput", "WatermarkStrategy",
    "WindowAssigner", "WindowFunction", "WindowedStream",
    "AggregateFunction", "AggregatingState", "AggregatingStateDescriptor", "CheckpointConfig", "CheckpointingMode",
    "EmbeddedRocksDBStateBackend", "HashMapStateBackend", "ListState", "ListStateDescriptor", "MapState",
    "MapStateDescriptor", "ReducingState", "ReducingStateDescriptor", "StateBackend",
    "KafkaOffsetsInitializer", "KafkaSource", "KafkaSourceBuilder", "Producer", "Record", "Topic", "TopicSink",
    "DeliveryGuarantee", "KafkaSink", "KafkaSinkBuilder", "TransactionError", "TransactionResult", "TransactionState",
    "TransactionalTopicSink", "TwoPhaseCommitSinkFunction",
    "ChainingStrategy", "CloseableIterator", "CollectionSource", "DataStream", "DataStreamSink", "FilterFunction",
    "FlatMapFunction", "Function", "KeySelector", "KeyedProcessFunction", "KeyedStream", "MapFunction",
    "NumberSequenceSource", "OutputTag", "PartitionerKind", "Partitioner", "ProcessFunction", "ReaderPoll",
    "ReduceFunction", "RuntimeContext", "RuntimeExecutionMode", "SinkFunction", "Source", "SourceReader",
    "StateDescriptor",
    "StreamExecutionEnvironment", "TimerService", "TypeInformation", "Types", "ValueState", "ValueStateDescriptor",
]
