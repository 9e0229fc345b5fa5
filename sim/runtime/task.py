"""StreamTask: one subtask's operator chain, driven one buffer or source batch at a time.

Layer: `sim.runtime` (no SimPy). The simulated world's task thread calls
`process_buffer`, `source_step` and `end_input`; each runs records through the
chain by plain calls and returns the CPU it cost (ns), priced by the cost
model from what the operators counted. Time is handed in through `clock`.
Output leaves through `on_output(edge_index, channel_index, item)`.

Lifecycle: created -> optionally `restore(task_restore)` (state from a
checkpoint or savepoint, see `sim.runtime.restore`) -> `open()` (operators
opened tail first) -> steps ->
`end_input()` (operators told head first, writers flushed, end of partition
broadcast) -> finished. Any step may raise `UserFunctionError`.

BATCH mode (`sim.runtime.batch`): nothing runs on processing time (the
time service is quiesced from the start), sources and assigners emit only
the final watermark, keyed state lives in a per-key batch backend whatever
the job configured, and a keyed chain collects its input (`sorting`), then
runs it after the input ended: `sort_input()`, then `process_next_key()`
per key.

Flink counterpart: `StreamTask`, `OperatorChain`, `SourceOperatorStreamTask`,
`OneInputStreamTask` (`TwoInputStreamTask` is in `sim.runtime.two_input_task`).
Simplified: one input gate per task (all input edges merged); a two-input
task tells its inputs apart by channel.
"""

from __future__ import annotations

from typing import Any, Callable

from sim.api.eventtime import Watermark
from sim.api.functions import RuntimeContext
from sim.runtime.costs import CostModel
from sim.graph.execution_graph import ExecutionGraph, Subtask
from sim.graph.stream_graph import StreamNode
from sim.kernel.rng import RngStreams
from sim.runtime import operators as ops
from sim.runtime.batch import BatchGroupedReduceOperator, SortingInput
from sim.runtime.elements import END_OF_PARTITION, MARK, Buffer
from sim.runtime.time_service import ProcessingTimeService
from sim.runtime.source_operator import SourceOperator
from sim.runtime.timed_operators import KeyedProcessOperator, TimestampsOperator, WindowOperator
from sim.runtime.transactional_sink import sink_operator_class
from sim.runtime.watermarks import StatusWatermarkValve, ValveOutput, WatermarkStatus
from sim.runtime.partitioners import make_selector
from sim.runtime.record_writer import RecordWriter
from sim.runtime.restore import RestoreError, TaskRestore, recovered_buffers
from sim.kernel.hashing import key_group_range_for_operator
from sim.state import serde
from sim.state.backend import KeyedStateBackend, create_keyed_backend
from sim.state.batch import BatchKeyedStateBackend
from sim.trace import Trace, WatermarkAdvanced


class TaskClock:
    """Virtual time as the runtime sees it; only the simulated world sets `now_us`.

    `timestamp` is the event timestamp of the record being processed (None
    if it has none), read by the operators and record writers of a job that
    uses event time.
    """

    __slots__ = ("now_us", "timestamp")

    def __init__(self) -> None:
        self.now_us = 0
        self.timestamp: int | None = None

    def now_ms(self) -> int:
        return self.now_us // 1000


_PLAIN = {"map": ops.MapOperator, "flat_map": ops.FlatMapOperator, "filter": ops.FilterOperator,
          "process": ops.ProcessOperator}
_AGGREGATIONS = ("sum", "min", "max", "min_by", "max_by")


class StreamTask:
    """The runtime half of a subtask: operators, record writers, costs."""

    def __init__(self, subtask: Subtask, eg: ExecutionGraph, costs: CostModel, trace: Trace, rng: RngStreams,
                 clock: TaskClock, on_output: Callable[[int, int, Any], None],
                 sink_log: Callable[[str], ops.SinkLog], buffer_size_bytes: int, buffer_timeout_ms: int,
                 stdout: Any = None, state_backend: str = "hashmap", incremental: bool = False,
                 state_dir: str | None = None):
        self.subtask = subtask
        self.id = subtask.id
        self.clock = clock
        self.costs = costs
        self._eg = eg
        self._trace = trace
        self._rng = rng
        self._on_output = on_output
        self._sink_log = sink_log
        self._sinks: list[ops.SinkOperator] = []
        self._stdout = stdout
        self._buffer_size = buffer_size_bytes
        self._buffer_timeout_ms = buffer_timeout_ms
        sg = eg.job_graph.stream_graph
        self.batch = sg.batch
        self.state_backend = "hashmap" if self.batch else state_backend
        self._incremental = incremental
        self._state_dir = state_dir
        self._backends: dict[str, KeyedStateBackend] = {}
        self._accesses_seen = 0
        self.operators: dict[str, ops.StreamOperator] = {}
        self.writers: list[RecordWriter] = []
        self._weighted_ns = 0
        self._bytes_out = 0
        self.bytes_in = 0
        self.buffers_in = 0
        self.records_processed = 0
        self.event_time = sg.event_time
        self.time = ProcessingTimeService(clock)
        if self.batch:
            self.time.quiesce()
        self.time_fired = 0
        self.failures_armed: dict[str, int] = {}
        """Operator id -> the record (counted from 1) at which a fault plan makes it raise."""
        self._build()
        self.head = self.operators[subtask.vertex.head.id]
        self.valve = None
        if self.event_time and subtask.inputs:
            self.valve = StatusWatermarkValve(len(subtask.inputs), owner=self.id)
        for op in self.operators.values():
            self._give_time(op, 0 if self.batch else sg.auto_watermark_interval_ms)
        self.sorting = None
        if self.batch and subtask.inputs and isinstance(self.head, ops._KeyedOperator):
            self.sorting = SortingInput(self.head, clock)
        self.recovered_inputs: list[tuple[int, Buffer]] = []
        """After `restore`: in-flight input of an unaligned checkpoint, `(input channel, buffer)`, to replay first."""

    # --- building the chain ----------------------------------------------------

    def _build(self) -> None:
        """Create the operators and decide where each one's outputs go (wired at open)."""
        vertex = self.subtask.vertex
        for node in vertex.operators:
            self.operators[node.id] = self._make_operator(node)
        chained = {(e.source, e.target, e.index) for e in vertex.chained_edges}
        sg = self._eg.job_graph.stream_graph
        edge_index = {je.stream_edge.index: i for i, je in enumerate(self._eg.job_graph.edges)}
        self._targets: dict[str, list[tuple[str | None, Any]]] = {}
        for node in vertex.operators:
            targets = []
            for e in sg.out_edges(node.id):
                tag = e.side_output.tag_id if e.side_output else None
                if (e.source, e.target, e.index) in chained:
                    targets.append((tag, self.operators[e.target]))
                else:
                    targets.append((tag, self._make_writer(edge_index[e.index], node)))
            self._targets[node.id] = targets

    def _wire(self, op: ops.StreamOperator) -> None:
        """Point `op`'s outputs at its (already opened) chained operators and its record writers."""
        main: list[Callable[[Any], None]] = []
        side: dict[str, list[Callable[[Any], None]]] = {}
        for tag, target in self._targets[op.node.id]:
            fn = target.emit if isinstance(target, RecordWriter) else target.process_element
            (main if tag is None else side.setdefault(tag, [])).append(fn)
        op.output = _fan_out(main)
        op.side_outputs = {tag: _fan_out(fns) for tag, fns in side.items()}
        if self.event_time:
            op.mark_output = _fan_out([target.emit_mark if isinstance(target, RecordWriter) else target.process_mark
                                       for _, target in self._targets[op.node.id]])

    def _give_time(self, op: ops.StreamOperator, interval_ms: int) -> None:
        """Hand an operator what it needs for event and processing time (jobs that use event time)."""
        op.time, op.interval_ms, op.trace, op.task_id = self.time, interval_ms, self._trace, self.id
        op.timestamped = self.event_time
        op.progressive_watermarks = not self.batch
        # Traced where event time can change: the chain's head (its input, or a source) and assigners.
        if self.event_time and self._trace.checkpoints and (op is self.head or isinstance(op, TimestampsOperator)):
            trace, clock, task = self._trace, self.clock, self.id
            op.on_watermark_advanced = lambda o, wm: trace.emit(WatermarkAdvanced(clock.now_us, task, o.label, wm))

    def _context(self, node: StreamNode, backend: KeyedStateBackend | None) -> RuntimeContext:
        return RuntimeContext(node.name, self.subtask.index, node.parallelism, node.max_parallelism,
                              state_provider=backend)

    def _make_operator(self, node: StreamNode) -> ops.StreamOperator:
        kind = node.operator.kind
        i, clock = self.subtask.index, self.clock
        if kind == "source":
            return SourceOperator(node, i, self._context(node, None), clock)
        if kind in ("print", "sink", "collect"):
            sink = sink_operator_class(node.operator.function)(node, i, self._context(node, None), clock,
                                                               self._sink_log(node.id), self._trace, self.id,
                                                               self._stdout)
            self._sinks.append(sink)
            return sink
        if kind == "timestamps":
            return TimestampsOperator(node, i, self._context(node, None), clock)
        if node.keyed is None:
            return _PLAIN[kind](node, i, self._context(node, None), clock)
        backend = self._keyed_backend(node)
        args = (node, i, self._context(node, backend), clock, backend)
        if kind == "keyed_process":
            return KeyedProcessOperator(*args)
        if kind == "window":
            return WindowOperator(*args)
        if kind == "reduce" or kind in _AGGREGATIONS:
            op = BatchGroupedReduceOperator(*args) if self.batch else ops.ReduceOperator(*args)
            if kind != "reduce":
                op.function = ops.aggregation(kind, node.operator.options.get("position", 0))
            return op
        inner = _PLAIN[kind](node, i, self._context(node, backend), clock)
        return ops.KeyedWrapperOperator(inner, *args)

    def _keyed_backend(self, node: StreamNode) -> KeyedStateBackend:
        """The keyed state of `node` in this subtask: exactly the key groups this subtask owns."""
        i = self.subtask.index
        key_groups = key_group_range_for_operator(node.max_parallelism, node.parallelism, i)
        key_type = node.keyed.key_type
        hash_code = key_type.java_hash if key_type is not None else None
        if self.batch:
            backend: KeyedStateBackend = BatchKeyedStateBackend(f"{node.id}[{i}]", node.max_parallelism, key_groups,
                                                                hash_code=hash_code)
            backend.subtask = i
        else:
            backend = create_keyed_backend(self.state_backend, f"{node.id}[{i}]", i, node.max_parallelism,
                                           key_groups, workdir=self._state_dir, incremental=self._incremental,
                                           hash_code=hash_code)
        self._backends[node.id] = backend
        return backend

    def keyed_backends(self) -> list[KeyedStateBackend]:
        return list(self._backends.values())

    def partitioner_kind(self, edge_index: int) -> Any:
        return self._eg.job_graph.edges[edge_index].stream_edge.partitioner.kind

    def broadcast_event(self, event: Any, edge_index: int | None = None) -> None:
        """Flush pending data and send `event` on every channel of one edge (or of every edge)."""
        for writer in self.writers:
            if edge_index is None or writer.edge_index == edge_index:
                writer.broadcast_event(event)

    def snapshot_state(self, checkpoint_id: int) -> tuple[dict, int, int]:
        """The synchronous snapshot of every operator's state: (payload, full bytes, checkpointed bytes).

        `operators` is keyed by each operator's state id (its uid if set), so a
        savepoint matches state to operators by uid, as Flink does.
        """
        operators: dict[str, dict] = {}
        full = checkpointed = 0
        for op_id, op in self.operators.items():
            keyed = None
            backend = self._backends.get(op_id)
            if backend is not None:
                # A failure here (e.g. state that cannot be serialised) fails the task, as a
                # synchronous snapshot failure does in Flink.
                snap = op._call(lambda: backend.snapshot(checkpoint_id), None, has_record=False)
                keyed = snap.to_json()
                full += snap.full_size_bytes
                checkpointed += snap.checkpointed_size_bytes
            operator = op.snapshot_operator_state(checkpoint_id)
            if operator is not None:
                size = len(serde.dumps(operator))
                full += size
                checkpointed += size
            if keyed is not None or operator is not None:
                operators[op.node.state_id] = {"keyed": keyed, "operator": operator}
        payload = {"task": self.id, "subtask": self.subtask.index, "operators": operators}
        return payload, full, checkpointed

    def restore(self, task_restore: TaskRestore) -> None:
        """Take this subtask's share of a snapshot (`sim.runtime.restore.plan_restore`); call before `open()`.

        Keyed backends are restored first (each keeps its own key groups),
        then each operator takes its share of the operator state; the
        recovered channel input is kept in `recovered_inputs` for the world
        to replay before new input. Timers come back with their operators:
        processing-time timers already due fire at the first `fire_timers`,
        event-time timers wait for the watermark, which starts again at
        Long.MIN_VALUE.

        Raises:
            RestoreError: An operator's state cannot be restored here (names the operator).
        """
        for op in self.operators.values():
            entry = task_restore.operators.get(op.node.state_id)
            if entry is None:
                continue
            backend = self._backends.get(op.node.id)
            try:
                if backend is not None and entry.keyed:
                    backend.restore(entry.keyed)
                if any(state is not None for state in entry.operator_states):
                    op.restore_operator_state(list(entry.operator_states), self.subtask.index, op.node.parallelism)
            except ValueError as exc:
                raise RestoreError(f"{op.label} could not take its share of checkpoint "
                                   f"{task_restore.checkpoint_id}: {exc}") from exc
        self.recovered_inputs = recovered_buffers(task_restore, self.subtask, self._eg, self.costs.record_size,
                                                  self.event_time)

    def snapshot_sync_ns(self, state_bytes: int) -> int:
        return self.costs.snapshot_sync_ns(self.state_backend, state_bytes)

    def snapshot_async_ns(self, size_bytes: int) -> int:
        return size_bytes * self.costs.snapshot_async_ns_per_byte[self.state_backend]

    def dispose(self) -> None:
        """Release the state backends (RocksDB closes its files)."""
        for backend in self._backends.values():
            backend.dispose()

    def _make_writer(self, edge_index: int, node: StreamNode) -> RecordWriter:
        je = self._eg.job_graph.edges[edge_index]
        channels = self.subtask.outputs[edge_index]
        target = self._eg.job_graph.vertex(je.target)
        rng = self._rng.stream(f"partitioner.{je.stream_edge.partitioner.kind.value}.{self.id}.{edge_index}")
        selector = make_selector(je.stream_edge.partitioner, len(channels), target.head.max_parallelism, rng)
        size = self.costs.record_size(node.id)
        per_buffer = 1 if self._buffer_timeout_ms == 0 else max(1, self._buffer_size // size)
        writer = RecordWriter(
            channels, selector, per_buffer, size,
            on_buffer=lambda ch, buf, _e=edge_index: self._on_output(_e, ch, buf),
            on_event=lambda ch, ev, _e=edge_index: self._on_output(_e, ch, ev),
            trace=self._trace, clock=self.clock, task=self.id,
            operator=f"{node.id}[{self.subtask.index}]", target=target.head.id,
            timestamped=self._eg.job_graph.stream_graph.event_time,
        )
        writer.edge_index = edge_index
        writer.blocking = je.blocking
        self.writers.append(writer)
        return writer

    # --- running ------------------------------------------------------------------

    def begin_step(self, now_us: int) -> None:
        """The world starts a step at `now_us`: set the clock and stamp the sinks' logs."""
        self.clock.now_us = now_us
        for sink in self._sinks:
            sink.log.mark(now_us, sink.subtask)

    def open(self) -> None:
        """Open operators from the tail of the chain to the head, as Flink does.

        Each operator's outputs are wired just before it opens, so its
        per-record path can call the opened downstream operators directly.
        """
        for op in reversed(list(self.operators.values())):
            self._wire(op)
            op.open()
            if op.node.id in self.failures_armed:
                op.process_element = _failing_at(op, self.failures_armed[op.node.id])
        self._head_process = self.head.process_element

    @property
    def is_source(self) -> bool:
        return isinstance(self.head, SourceOperator)

    def process_buffer(self, buffer: Buffer, channel: int = 0) -> int:
        """Run every record of `buffer` (from input channel `channel`) through the chain; returns CPU cost in ns.

        A BATCH keyed chain only collects the records here, to sort them once its input has ended.
        """
        return self._consume(buffer, channel, self._head_process if self.sorting is None else self.sorting.add)

    def _consume(self, buffer: Buffer, channel: int, process: Callable[[Any], None]) -> int:
        """Hand each record of `buffer` to `process` and each watermark or status to the valve; returns CPU ns."""
        if buffer.timestamps is None:
            for value in buffer.values:
                process(value)
        else:
            clock = self.clock
            for value, timestamp in zip(buffer.values, buffer.timestamps):
                if timestamp is MARK:
                    self._input_mark(channel, value)
                else:
                    clock.timestamp = timestamp
                    process(value)
        if self.sorting is None:
            self.records_processed += buffer.records
        self.buffers_in += 1
        self.bytes_in += buffer.size_bytes
        return self._step_cost(buffer.size_bytes)

    def _input_mark(self, channel: int, mark: Any) -> None:
        """A watermark or status from one input channel: through the valve, then into the chain (or the sorter)."""
        into = self.head.process_mark if self.sorting is None else self.sorting.mark
        for element in self._valve_output(channel, mark).elements():
            into(element)

    def sort_input(self) -> tuple[int, int, int]:
        """BATCH, keyed chain, input ended: sort what was collected; returns (records, keys, CPU ns)."""
        keys = self.sorting.sort()
        records = self.sorting.records
        return records, keys, self._step_cost(0) + records * self.costs.sort_ns_per_record

    def has_next_key(self) -> bool:
        return self.sorting is not None and self.sorting.has_next_key()

    def process_next_key(self) -> tuple[Any, int, int]:
        """BATCH: run the next key's records, then its timers; returns (key, records, CPU ns)."""
        key, records = self.sorting.next_key()
        self.records_processed += records
        return key, records, self._step_cost(0)

    def _valve_output(self, channel: int, mark: Any) -> ValveOutput:
        """What the valve makes of a watermark or status from input channel `channel`."""
        if type(mark) is Watermark:
            return self.valve.input_watermark(channel, mark.timestamp)
        return self.valve.input_status(channel, mark is WatermarkStatus.IDLE)

    def next_wakeup_us(self) -> int | None:
        """When a processing-time timer or periodic watermark is next due (None: nothing planned)."""
        return self.time.next_due_us()

    def fire_timers(self) -> int:
        """Run what processing time has made due; returns the CPU cost in ns."""
        self.time_fired += self.time.fire_due(self.clock.now_us)
        return self._step_cost(0)

    def source_step(self) -> tuple[int, bool, int | None, int]:
        """Read one batch from the source; returns (records, finished, wait_until_us, CPU ns)."""
        poll = self.head.emit_batch(self.costs.source_batch_records)
        return len(poll.records), poll.finished, poll.wait_until_us, self._step_cost(0)

    def flush(self, reason: str) -> None:
        """Finish every partly filled output buffer (the buffer timeout); a blocking exchange is not flushed."""
        for writer in self.writers:
            if not writer.blocking:
                writer.flush_all(reason)

    def end_input(self) -> int:
        """All input consumed: finish operators head first, close them, send end of partition.

        A source first emits its final watermark; pending processing-time
        timers are dropped, as a finishing Flink task quiesces its timer service.
        """
        if self.is_source:
            self.head.finish_event_time()
        if self.sorting is not None:
            self.sorting.finish()
        self.time.quiesce()
        for op in self.operators.values():
            op.end_input()
        for op in self.operators.values():
            op.close()
        for writer in self.writers:
            writer.broadcast_event(END_OF_PARTITION)
        return self._step_cost(0)

    def end_as_finished(self) -> None:
        """Restored after it had finished (Flink's finished-on-restore): end every output, run nothing."""
        for writer in self.writers:
            writer.broadcast_event(END_OF_PARTITION)

    def _step_cost(self, bytes_in: int) -> int:
        self.count_inputs()
        weighted = sum(op.records_in * self.costs.cpu_ns(op.node.id) for op in self.operators.values())
        bytes_out = sum(w.bytes_out for w in self.writers)
        accesses = sum(b.accesses for b in self._backends.values()) + sum(
            op.fast_state_accesses() for op in self.operators.values())
        state_ns = (accesses - self._accesses_seen) * self.costs.state_access_ns[self.state_backend]
        self._accesses_seen = accesses
        cost = (weighted - self._weighted_ns + self.costs.step_overhead_ns + state_ns
                + bytes_in * self.costs.deserialize_ns_per_byte
                + (bytes_out - self._bytes_out) * self.costs.serialize_ns_per_byte)
        self._weighted_ns, self._bytes_out = weighted, bytes_out
        return cost

    # --- metrics ------------------------------------------------------------------

    def count_inputs(self) -> None:
        """Set every operator's `records_in` from the head's input and each parent's `emitted` counts.

        Operators are in chain order (a parent before its children), and a
        chained operator has exactly one parent.
        """
        head_in = self.head.read if self.is_source else self.records_processed
        counts = {self.head.node.id: head_in}
        for op in self.operators.values():
            op.records_in = counts[op.node.id]
            main, side = op.emitted(op.records_in)
            for tag, target in self._targets[op.node.id]:
                if isinstance(target, ops.StreamOperator):
                    counts[target.node.id] = main if tag is None else side.get(tag, 0)

    @property
    def records_in(self) -> int:
        """Records the chain's head took in (read, for a source)."""
        self.count_inputs()
        return self.head.records_in

    @property
    def records_out(self) -> int:
        return sum(w.records_out for w in self.writers)

    @property
    def buffers_out(self) -> int:
        return sum(w.buffers_out for w in self.writers)


def _fan_out(targets: list[Callable[[Any], None]]) -> Callable[[Any], None]:
    if not targets:
        return ops._discard
    if len(targets) == 1:
        return targets[0]

    def emit(value: Any) -> None:
        for target in targets:
            target(value)

    return emit


def _failing_at(op: ops.StreamOperator, record: int) -> Callable[[Any], None]:
    """`op`'s per-record path, raising `InjectedFault` at its `record`-th record (a fault plan's crash)."""
    inner, seen = op.process_element, 0

    def process_element(value: Any) -> None:
        nonlocal seen
        seen += 1
        if seen == record:
            raise ops.UserFunctionError(op.label, value, ops.InjectedFault(
                f"injected fault: {op.label} raises at its record {record}"))
        inner(value)

    return process_element
