"""The operators that run user functions, one record at a time, by plain calls.

Layer: `sim.runtime` (no SimPy, no clock reads: time comes from the task's
clock object, set by the simulated world). Records go through a chain depth
first, as in Flink: each operator calls its user function and hands results
to `self.output` (the next chained operator, a record writer, or several) and
to side outputs by tag. A user function that raises is wrapped in
`UserFunctionError`, naming `operator[subtask]` and the record.

For speed, `open()` builds each operator's per-record path as a closure
(`process_element`) whose hot names are bound as default arguments (fast
locals; callers never pass them). The cost model charges per record entering
each operator, and the counts are derived rather than counted: a one-to-one
operator (map, reduce, sink) emits exactly what it took in, so only operators
that emit any number of records per input (filter, flat_map, process) count
what they emit, and the task derives every operator's input from its
parent's output (`emitted`). Outputs must be wired
before `open()`, so a chain is opened from its tail to its head.

Flink counterpart: `StreamMap`, `StreamFlatMap`, `StreamFilter`,
`ProcessOperator`, `KeyedProcessOperator`, `StreamGroupedReduceOperator`,
`StreamSink`.
Timestamps and watermarks (jobs that use event time): the record being
processed has its timestamp in `clock.timestamp`, which every operator's
output keeps unless the operator sets another (windows, timers, the
timestamp assigner). Watermarks and statuses travel the chain through
`process_mark`, depth first like records: an operator finishes everything a
watermark causes (timers, windows) before it forwards the watermark.

Simplified: aggregations support tuples, lists, dicts and plain numbers.
"""

from __future__ import annotations

import copy
import sys
import types
from typing import Any, Callable

from sim.api.eventtime import Watermark
from sim.api.state import ValueStateDescriptor
from sim.api.functions import (
    LONG_MIN, FilterFunction, FlatMapFunction, Function, MapFunction, OutputTag, ProcessFunction,
    ReduceFunction, RuntimeContext, SinkFunction, TimerService,
)
from sim.graph.stream_graph import StreamNode
from sim.kernel.stable import stable_repr
from sim.state.heap import HeapKeyedStateBackend
from sim.trace import RecordWritten, Trace

_MISSING = object()


class UserFunctionError(Exception):
    """A user function raised; `operator` is `map[2]`, `record` the input (if there was one)."""

    def __init__(self, operator: str, record: Any, cause: BaseException, has_record: bool = True):
        self.operator = operator
        self.record = record
        self.has_record = has_record
        self.cause = cause
        where = f" on record {record!r}" if has_record else ""
        super().__init__(f"{operator} failed{where}: {type(cause).__name__}: {cause}")


END_OF_INPUT = (1 << 63) - 1
"""The checkpoint id under which operators keep what they commit once the whole job has finished.

Above any real checkpoint id (Flink's `Long.MAX_VALUE`). Flink takes a final
checkpoint after the input ends and commits on its completion; here the job
master calls `notify_checkpoint_complete(END_OF_INPUT)` on every operator once
every task has finished, so a transactional sink commits what it pre-committed
when its input ended.
"""


class InjectedFault(RuntimeError):
    """What a user function raises when a fault plan says so (a crash at the Nth record)."""


def _discard(value: Any) -> None:
    pass


class StreamOperator:
    """Base: the runtime context, the user function's lifecycle, the record count, watermark forwarding."""

    progressive_watermarks = True
    """Whether a watermark generator here may emit as it goes (False in BATCH mode: only the final one)."""

    def __init__(self, node: StreamNode, subtask: int, ctx: RuntimeContext, clock: Any):
        self.node = node
        self.label = f"{node.id}[{subtask}]"
        self.subtask = subtask
        self.runtime_context = ctx
        self.clock = clock
        self.output: Callable[[Any], None] = _discard
        self.side_outputs: dict[str, Callable[[Any], None]] = {}
        self.mark_output: Callable[[Any], None] = _discard
        self.on_watermark_advanced: Callable[[StreamOperator, int], None] | None = None
        self.current_watermark = LONG_MIN
        self.function = node.operator.function
        self.records_in = 0

    # --- event time ---------------------------------------------------------------

    def process_mark(self, mark: Any) -> None:
        """A watermark or a watermark status reached this operator."""
        if type(mark) is Watermark:
            self.process_watermark(mark.timestamp)
        else:
            self.process_status(mark)

    def process_watermark(self, timestamp: int) -> None:
        """Advance this operator's event time, do what it causes, then forward the watermark."""
        self.current_watermark = timestamp
        if self.on_watermark_advanced is not None:
            self.on_watermark_advanced(self, timestamp)
        self.on_watermark(timestamp)
        self.mark_output(Watermark(timestamp))

    def on_watermark(self, timestamp: int) -> None:
        """What a new watermark causes here before it is forwarded (timers, windows): nothing by default."""

    def process_status(self, status: Any) -> None:
        """IDLE / ACTIVE: forwarded unchanged."""
        self.mark_output(status)

    def snapshot_operator_state(self, checkpoint_id: int) -> dict | None:
        """Non-keyed state to put in checkpoint `checkpoint_id` (None: this operator has none)."""
        return None

    def restore_operator_state(self, states: list[dict | None], subtask: int, parallelism: int) -> None:
        """Take this operator's share of restored non-keyed state, before `open()`.

        `states` holds, per old subtask in old subtask order, what
        `snapshot_operator_state` returned there (None where it returned
        None); `subtask` and `parallelism` are the new ones, so an operator
        can split or union its state when the job was rescaled. An operator
        that keeps no operator state has nothing to restore.
        """

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Checkpoint `checkpoint_id` completed on the JobManager (Flink's `CheckpointListener`): nothing by default."""

    def fast_state_accesses(self) -> int:
        """Keyed-state accesses made without the backend's state objects (for the cost model)."""
        return 0

    def emitted(self, records_in: int) -> tuple[int, dict[str, int]]:
        """Records emitted so far on the main output and per side-output tag, given the input count.

        One record in, one record out, unless an operator says otherwise.
        """
        return records_in, {}

    def open(self) -> None:
        """Give this subtask its own copy of the user's function object, open it, build the per-record path.

        Flink deserialises a separate instance of a function for every subtask, so
        what `open()` stores on `self` (state handles, the subtask index) belongs
        to that subtask alone. Plain callables (functions, lambdas) are shared.
        """
        if isinstance(self.function, Function):
            self.function = self._call(lambda: copy.deepcopy(self.function), None, has_record=False)
            self._call(lambda: self.function.open(self.runtime_context), None, has_record=False)
        self._build_paths()

    def _build_paths(self) -> None:
        """Build the per-record path(s) once the outputs are wired: `process_element` for one input."""
        self.process_element = self._make_process()

    def close(self) -> None:
        if isinstance(self.function, Function):
            self._call(self.function.close, None, has_record=False)

    def end_input(self) -> None:
        """All input has been processed (bounded input)."""

    def _call(self, thunk: Callable[[], Any], record: Any, has_record: bool = True) -> Any:
        try:
            return thunk()
        except UserFunctionError:
            raise
        except Exception as exc:
            raise UserFunctionError(self.label, record, exc, has_record) from exc

    def _emit_all(self, results: Any, record: Any) -> None:
        """Send on every result of a yielding function; `(OutputTag, v)` goes to that side output."""
        if results is None:
            return
        if not isinstance(results, (types.GeneratorType, list)):
            results = (results,)
        try:
            for out in results:
                if type(out) is tuple and len(out) == 2 and isinstance(out[0], OutputTag):
                    tag = out[0].tag_id
                    self._side_out[tag] = self._side_out.get(tag, 0) + 1
                    self.side_outputs.get(tag, _discard)(out[1])
                else:
                    self._main_out += 1
                    self.output(out)
        except UserFunctionError:
            raise
        except Exception as exc:
            raise UserFunctionError(self.label, record, exc) from exc

    def _make_process(self) -> Callable[[Any], None]:
        raise NotImplementedError

    def _count_emitted(self) -> None:
        """For operators that emit any number of records per input: count them as they go."""
        self._main_out = 0
        self._side_out: dict[str, int] = {}
        self.emitted = lambda records_in: (self._main_out, dict(self._side_out))

    def process_element(self, value: Any) -> None:
        raise RuntimeError(f"{self.label} was not opened")


class MapOperator(StreamOperator):
    def _make_process(self) -> Callable[[Any], None]:
        fn = self.function.map if isinstance(self.function, MapFunction) else self.function
        out, label = self.output, self.label

        def process_element(value: Any, fn: Callable = fn, out: Callable = out) -> None:
            try:
                result = fn(value)
            except Exception as exc:
                raise UserFunctionError(label, value, exc) from exc
            out(result)

        return process_element


class FlatMapOperator(StreamOperator):
    def _make_process(self) -> Callable[[Any], None]:
        fn = self.function.flat_map if isinstance(self.function, FlatMapFunction) else self.function
        out, label, m = self.output, self.label, 0

        def process_element(value: Any, fn: Callable = fn, out: Callable = out) -> None:
            nonlocal m
            try:
                results = fn(value)
                if results is not None:
                    for result in results:
                        m += 1
                        out(result)
            except UserFunctionError:
                raise
            except Exception as exc:
                raise UserFunctionError(label, value, exc) from exc

        self.emitted = lambda records_in: (m, {})
        return process_element


class FilterOperator(StreamOperator):
    def _make_process(self) -> Callable[[Any], None]:
        fn = self.function.filter if isinstance(self.function, FilterFunction) else self.function
        out, label, m = self.output, self.label, 0

        def process_element(value: Any, fn: Callable = fn, out: Callable = out) -> None:
            nonlocal m
            try:
                keep = fn(value)
            except Exception as exc:
                raise UserFunctionError(label, value, exc) from exc
            if keep:
                m += 1
                out(value)

        self.emitted = lambda records_in: (m, {})
        return process_element


class OperatorTimerService(TimerService):
    """The timer service of an operator on a non-keyed stream: time, but no timers (as in Flink)."""

    def __init__(self, op: StreamOperator):
        self._op = op

    def current_processing_time(self) -> int:
        return self._op.clock.now_ms()

    def current_watermark(self) -> int:
        return self._op.current_watermark

    def _no_timers(self, *args: Any) -> None:
        raise RuntimeError(f"{self._op.label}: setting timers is only supported on a keyed stream; "
                           f"call key_by() before process()")

    register_processing_time_timer = register_event_time_timer = _no_timers
    delete_processing_time_timer = delete_event_time_timer = _no_timers


class ProcessOperator(StreamOperator):
    """Runs a ProcessFunction; its context gives the record's timestamp and the time (no timers)."""

    def _make_process(self) -> Callable[[Any], None]:
        ctx = ProcessFunction.Context(OperatorTimerService(self), self.clock)
        fn, emit_all, label = self.function.process_element, self._emit_all, self.label
        self._count_emitted()

        def process_element(value: Any) -> None:
            try:
                results = fn(value, ctx)
            except Exception as exc:
                raise UserFunctionError(label, value, exc) from exc
            emit_all(results, value)

        return process_element


class _KeyedOperator(StreamOperator):
    """An operator after key_by: sets the backend's current key before each record."""

    def __init__(self, node: StreamNode, subtask: int, ctx: RuntimeContext, clock: Any,
                 backend: HeapKeyedStateBackend):
        super().__init__(node, subtask, ctx, clock)
        self.backend = backend
        self.key_of = node.keyed.key_selector

    def end_key(self) -> None:
        """BATCH: the current key's input ended; its state goes (only one key's state exists at a time)."""
        self.backend.key_finished()


class _StateTable:
    """The `dict` calls ReduceOperator makes (`get`, item assignment), served by a ValueState.

    For backends without raw tables (RocksDB): every access sets the key and
    goes through serialisation, as it would in Flink.
    """

    def __init__(self, backend: HeapKeyedStateBackend):
        self._backend = backend
        self._state = backend.get_state(ValueStateDescriptor("_reduce"))

    def get(self, key: Any, default: Any = None) -> Any:
        self._backend.current_key = key
        value = self._state.value()
        return default if value is None else value

    def __setitem__(self, key: Any, value: Any) -> None:
        self._backend.current_key = key
        self._state.update(value)


class KeyedWrapperOperator(_KeyedOperator):
    """map / flat_map / filter on a KeyedStream: the plain operator, with the key set first."""

    def __init__(self, inner: StreamOperator, *args: Any):
        super().__init__(*args)
        self.inner = inner

    def open(self) -> None:
        self.inner.output, self.inner.side_outputs = self.output, self.side_outputs
        self.inner.open()
        self.process_element = self._make_process()

    def close(self) -> None:
        self.inner.close()

    def emitted(self, records_in: int) -> tuple[int, dict[str, int]]:
        return self.inner.emitted(records_in)

    def _make_process(self) -> Callable[[Any], None]:
        inner, key_of, backend, label = self.inner.process_element, self.key_of, self.backend, self.label

        def process_element(value: Any) -> None:
            try:
                backend.current_key = key_of(value)
            except Exception as exc:
                raise UserFunctionError(label, value, exc) from exc
            inner(value)

        return process_element


class ReduceOperator(_KeyedOperator):
    """Rolling reduce per key: emits the new accumulated value after every record."""

    def _make_process(self) -> Callable[[Any], None]:
        fn = self.function.reduce if isinstance(self.function, ReduceFunction) else self.function
        key_of, backend = self.key_of, self.backend
        values = backend.table("_reduce", "value") if backend.supports_tables else _StateTable(backend)
        self._table_fast_path = backend.supports_tables
        out, label = self.output, self.label
        if isinstance(self.function, Function):
            # A function object may read keyed state through its runtime context: keep the key current.
            key_of = lambda value, _key_of=key_of: _set_key(backend, _key_of(value))  # noqa: E731

        def process_element(value: Any, key_of: Callable = key_of, values: dict = values, fn: Callable = fn,
                            out: Callable = out, missing: object = _MISSING) -> None:
            try:
                key = key_of(value)
                current = values.get(key, missing)
                new = value if current is missing else fn(current, value)
            except Exception as exc:
                raise UserFunctionError(label, value, exc) from exc
            values[key] = new
            out(new)

        return process_element

    def fast_state_accesses(self) -> int:
        """A read and a write per record on the heap backend's raw table."""
        return 2 * self.records_in if getattr(self, "_table_fast_path", False) else 0


def _set_key(backend: HeapKeyedStateBackend, key: Any) -> Any:
    backend.current_key = key
    return key


def _field(value: Any, position: int | str) -> Any:
    if isinstance(value, (tuple, list, dict)):
        return value[position]
    return value


def _with_field(value: Any, position: int | str, field: Any) -> Any:
    if isinstance(value, tuple):
        return value[:position] + (field,) + value[position + 1:]
    if isinstance(value, list):
        return value[:position] + [field] + value[position + 1:]
    if isinstance(value, dict):
        return {**value, position: field}
    return field


def aggregation(kind: str, position: int | str) -> Callable[[Any, Any], Any]:
    """Flink's built-in aggregations as a reduce over (accumulated, new).

    sum/min/max keep the first record's other fields and update one field;
    min_by/max_by keep the whole record holding the extreme (the first on ties).
    """
    if kind == "sum":
        return lambda acc, v: _with_field(acc, position, _field(acc, position) + _field(v, position))
    if kind == "min":
        return lambda acc, v: _with_field(acc, position, min(_field(acc, position), _field(v, position)))
    if kind == "max":
        return lambda acc, v: _with_field(acc, position, max(_field(acc, position), _field(v, position)))
    if kind == "min_by":
        return lambda acc, v: v if _field(v, position) < _field(acc, position) else acc
    return lambda acc, v: v if _field(v, position) > _field(acc, position) else acc


class SinkLog:
    """Everything one sink wrote, all subtasks together, in the order it was written.

    Values are kept plainly; `blocks` marks where each task step began, as
    (first index, virtual time, subtask). A step is atomic, so a block holds
    the values one subtask wrote in one step; they share its time. This costs
    one list append per record instead of a tuple per record.
    """

    __slots__ = ("values", "blocks")

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.blocks: list[tuple[int, int, int]] = []

    def mark(self, t_us: int, subtask: int) -> None:
        """A step of `subtask` starts at `t_us`: what it writes next belongs to it."""
        start = len(self.values)
        if self.blocks and self.blocks[-1][0] == start:
            self.blocks[-1] = (start, t_us, subtask)
        else:
            self.blocks.append((start, t_us, subtask))

    def records(self) -> list[tuple[int, int, Any]]:
        """Every value as (t_us, subtask, value), in the order written."""
        out = []
        ends = [b[0] for b in self.blocks[1:]] + [len(self.values)]
        for (start, t_us, subtask), end in zip(self.blocks, ends):
            out += [(t_us, subtask, v) for v in self.values[start:end]]
        return out


class SinkOperator(StreamOperator):
    """Hands each record to the user's sink (or stdout), then records it in the run's outputs.

    A record the user's sink raised on is not recorded as written.
    """

    def __init__(self, node: StreamNode, subtask: int, ctx: RuntimeContext, clock: Any,
                 log: SinkLog, trace: Trace, task: str, stdout: Any = None):
        super().__init__(node, subtask, ctx, clock)
        self.log = log
        self._trace = trace
        self._task = task
        self._stdout = stdout

    def _writer(self) -> Callable[[Any], None] | None:
        kind, fn = self.node.operator.kind, self.function
        if kind == "print":
            ident = self.node.operator.options.get("identifier")
            prefix = f"{ident}:" if ident else ""
            if self.runtime_context.get_number_of_parallel_subtasks() > 1:
                prefix += f"{self.subtask + 1}> "
            elif ident:
                prefix = f"{ident}> "  # Flink's PrintSinkOutputWriter: "id> value" at parallelism 1
            out = self._stdout or sys.stdout
            return lambda value: print(f"{prefix}{value}", file=out)
        if isinstance(fn, SinkFunction):
            context = SinkFunction.Context(self.clock, lambda: self.current_watermark)
            return lambda value: fn.invoke(value, context)
        return fn

    def _make_process(self) -> Callable[[Any], None]:
        fn, append, label = self._writer() or _discard, self.log.values.append, self.label
        if self._trace.records:
            fn = self._traced(fn)

        def process_element(value: Any, append: Callable = append, fn: Callable = fn) -> None:
            try:
                fn(value)
            except Exception as exc:
                raise UserFunctionError(label, value, exc) from exc
            append(value)

        return process_element

    def _traced(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """`fn`, then a `RecordWritten` event (records-level traces only)."""
        trace, clock, sink, task = self._trace, self.clock, self.node.id, self._task

        def write(value: Any) -> None:
            fn(value)
            trace.emit(RecordWritten(clock.now_us, sink, task, stable_repr(value)))

        return write
