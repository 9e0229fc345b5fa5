"""TwoInputStreamTask: a task whose chain starts with a two-input operator, and the factory that picks a task class.

Layer: `sim.runtime` (no SimPy). The task still has one input gate holding
every input channel (so barrier alignment spans both inputs unchanged); what
differs is routing. Each channel belongs to input 1 or input 2, by the
`type_number` of the edge it carries: a buffer's records go to the head's
`process_element1` or `process_element2`, and its watermarks and statuses
to that input's valve inside a `TwoInputWatermarks`, whose combined output
(the minimum over both inputs) drives the chain's event time.

One-input tasks stay `StreamTask`s: nothing here costs them anything.

Flink counterpart: `TwoInputStreamTask`, `StreamTwoInputProcessor`
(`StreamTaskNetworkInput` per input), `TwoInputStreamOperator`.
Simplified: the order in which the two inputs are read is the gate's order
of ready channels, with no preference between inputs (Flink's
`InputSelection` is ALL by default too).
"""

from __future__ import annotations

from typing import Any

from sim.api.eventtime import Watermark
from sim.graph.execution_graph import ExecutionGraph, Subtask
from sim.graph.stream_graph import StreamNode
from sim.runtime import operators as ops
from sim.runtime.broadcast_operators import BroadcastProcessOperator, KeyedBroadcastProcessOperator
from sim.runtime.elements import Buffer
from sim.runtime.interval_join import IntervalJoinOperator
from sim.runtime.task import StreamTask
from sim.runtime.two_input_operators import (
    CoFlatMapOperator, CoMapOperator, CoProcessOperator, KeyedCoProcessOperator, TwoInputOperator,
)
from sim.runtime.watermarks import TwoInputWatermarks, ValveOutput, WatermarkStatus

_NON_KEYED = {"co_map": CoMapOperator, "co_flat_map": CoFlatMapOperator, "co_process": CoProcessOperator,
              "broadcast_process": BroadcastProcessOperator}
_KEYED = {"co_map": CoMapOperator, "co_flat_map": CoFlatMapOperator, "keyed_co_process": KeyedCoProcessOperator,
          "broadcast_process": KeyedBroadcastProcessOperator, "interval_join": IntervalJoinOperator}


def create_stream_task(subtask: Subtask, eg: ExecutionGraph, *args: Any, **kwargs: Any) -> StreamTask:
    """The runtime task of `subtask`: a `TwoInputStreamTask` if its chain's head has two inputs."""
    cls = TwoInputStreamTask if subtask.vertex.head.is_two_input else StreamTask
    return cls(subtask, eg, *args, **kwargs)


class TwoInputStreamTask(StreamTask):
    """A StreamTask whose head is a two-input operator: records and watermarks routed by input side.

    `sides[channel]` is `(input number, index among that input's channels)`
    for every input channel, in gate order.
    """

    def __init__(self, subtask: Subtask, eg: ExecutionGraph, *args: Any, **kwargs: Any):
        super().__init__(subtask, eg, *args, **kwargs)
        edges = eg.job_graph.edges
        counts = {1: 0, 2: 0}
        self.sides: list[tuple[int, int]] = []
        for channel in subtask.inputs:
            number = edges[channel.edge_index].stream_edge.type_number
            self.sides.append((number, counts[number]))
            counts[number] += 1
        if self.event_time:
            self.valve = TwoInputWatermarks(counts[1], counts[2], owner=self.id)

    def _make_operator(self, node: StreamNode) -> ops.StreamOperator:
        if not node.is_two_input:
            return super()._make_operator(node)
        backend = self._keyed_backend(node) if node.keyed is not None else None
        kinds = _NON_KEYED if backend is None else _KEYED
        kind = node.operator.kind
        if kind not in kinds:
            raise ValueError(f"{node.id}[{self.subtask.index}]: a two-input {kind} operator needs "
                             f"{'keyed' if backend is None else 'non-keyed'} inputs")
        return kinds[kind](node, self.subtask.index, self._context(node, backend), self.clock, backend)

    def open(self) -> None:
        super().open()
        head: TwoInputOperator = self.head  # type: ignore[assignment]
        self._processes = (None, head.process_element1, head.process_element2)

    def process_buffer(self, buffer: Buffer, channel: int = 0) -> int:
        """Run the records of `buffer` through the head's method for the channel's input; returns CPU ns."""
        return self._consume(buffer, channel, self._processes[self.sides[channel][0]])

    def _valve_output(self, channel: int, mark: Any) -> ValveOutput:
        number, index = self.sides[channel]
        if type(mark) is Watermark:
            return self.valve.input_watermark(number, index, mark.timestamp)
        return self.valve.input_status(number, index, mark is WatermarkStatus.IDLE)
