"""The operators that run user functions, one record at a time, by plain calls.

Layer: `sim.runtime` (no SimPy, no clock reads: time comes from the task's
clock object, set by the simulated world). Each operator calls its user
function and passes results to `self.output` (the next chained operator, a
record writer, or several) and to side outputs by tag. A user function that
raises is wrapped in `UserFunctionError` naming `operator[subtask]` and the record.

Flink counterpart: `StreamMap`, `StreamFlatMap`, `StreamFilter`,
`ProcessOperator`, `KeyedProcessOperator`, `StreamGroupedReduceOperator`,
`StreamSink`, `SourceOperator`.
Simplified: no timestamps on records yet; aggregations support tuples, lists,
dicts and plain numbers.
"""

from __future__ import annotations

import sys
import types
from typing import Any, Callable

from sim.api.functions import (
    FilterFunction, FlatMapFunction, KeyedProcessFunction, MapFunction, OutputTag, ProcessFunction,
    ReduceFunction, RuntimeContext, SinkFunction, TimerService,
)
from sim.graph.stream_graph import StreamNode
from sim.state.heap import HeapKeyedStateBackend

_MISSING = object()


class UserFunctionError(Exception):
    """A user function raised; `operator` is `map[2]`, `record` the input (or None)."""

    def __init__(self, operator: str, record: Any, cause: BaseException, has_record: bool = True):
        self.operator = operator
        self.record = record
        self.has_record = has_record
        self.cause = cause
        where = f" on record {record!r}" if has_record else ""
        super().__init__(f"{operator} failed{where}: {type(cause).__name__}: {cause}")


def _discard(value: Any) -> None:
    pass


class StreamOperator:
    """Base: counts records in, owns the runtime context, fails with its label."""

    def __init__(self, node: StreamNode, subtask: int, ctx: RuntimeContext, clock: Any):
        self.node = node
        self.label = f"{node.id}[{subtask}]"
        self.subtask = subtask
        self.runtime_context = ctx
        self.clock = clock
        self.records_in = 0
        self.output: Callable[[Any], None] = _discard
        self.side_outputs: dict[str, Callable[[Any], None]] = {}
        self.function = node.operator.function

    def open(self) -> None:
        """Call the user function's `open(runtime_context)`, if it has one."""
        opener = getattr(self.function, "open", None)
        if opener is not None and not isinstance(self.function, types.FunctionType):
            self._call(lambda: opener(self.runtime_context), None, has_record=False)

    def close(self) -> None:
        closer = getattr(self.function, "close", None)
        if closer is not None and not isinstance(self.function, types.FunctionType):
            self._call(closer, None, has_record=False)

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
        """Send every result of a yielding function on; `(OutputTag, v)` goes to the side output."""
        if results is None:
            return
        if not isinstance(results, (types.GeneratorType, list)):
            results = (results,)
        try:
            for out in results:
                if type(out) is tuple and len(out) == 2 and isinstance(out[0], OutputTag):
                    self.side_outputs.get(out[0].tag_id, _discard)(out[1])
                else:
                    self.output(out)
        except UserFunctionError:
            raise
        except Exception as exc:
            raise UserFunctionError(self.label, record, exc) from exc

    def process_element(self, value: Any) -> None:
        raise NotImplementedError


class MapOperator(StreamOperator):
    def open(self) -> None:
        super().open()
        self.fn = self.function.map if isinstance(self.function, MapFunction) else self.function

    def process_element(self, value: Any) -> None:
        self.records_in += 1
        try:
            result = self.fn(value)
        except Exception as exc:
            raise UserFunctionError(self.label, value, exc) from exc
        self.output(result)


class FlatMapOperator(StreamOperator):
    def open(self) -> None:
        super().open()
        self.fn = self.function.flat_map if isinstance(self.function, FlatMapFunction) else self.function

    def process_element(self, value: Any) -> None:
        self.records_in += 1
        try:
            results = self.fn(value)
            if results is None:
                return
            output = self.output
            for out in results:
                output(out)
        except UserFunctionError:
            raise
        except Exception as exc:
            raise UserFunctionError(self.label, value, exc) from exc


class FilterOperator(StreamOperator):
    def open(self) -> None:
        super().open()
        self.fn = self.function.filter if isinstance(self.function, FilterFunction) else self.function

    def process_element(self, value: Any) -> None:
        self.records_in += 1
        try:
            keep = self.fn(value)
        except Exception as exc:
            raise UserFunctionError(self.label, value, exc) from exc
        if keep:
            self.output(value)


class ProcessOperator(StreamOperator):
    """Runs a ProcessFunction; its context gives the timer service."""

    def open(self) -> None:
        super().open()
        self.ctx = ProcessFunction.Context(TimerService(self.clock))

    def process_element(self, value: Any) -> None:
        self.records_in += 1
        results = self._call(lambda: self.function.process_element(value, self.ctx), value)
        self._emit_all(results, value)


class _KeyedOperator(StreamOperator):
    """An operator after key_by: sets the current key before each record."""

    def __init__(self, node: StreamNode, subtask: int, ctx: RuntimeContext, clock: Any,
                 backend: HeapKeyedStateBackend):
        super().__init__(node, subtask, ctx, clock)
        self.backend = backend
        self.key_of = node.keyed.key_selector

    def _key(self, value: Any) -> Any:
        try:
            key = self.key_of(value)
        except Exception as exc:
            raise UserFunctionError(self.label, value, exc) from exc
        self.backend.current_key = key
        return key


class KeyedProcessOperator(_KeyedOperator):
    def open(self) -> None:
        super().open()
        self.ctx = KeyedProcessFunction.Context(TimerService(self.clock))

    def process_element(self, value: Any) -> None:
        self.records_in += 1
        self.ctx._key = self._key(value)
        results = self._call(lambda: self.function.process_element(value, self.ctx), value)
        self._emit_all(results, value)


class KeyedWrapperOperator(_KeyedOperator):
    """map / flat_map / filter on a KeyedStream: the plain operator, with the key set first."""

    def __init__(self, inner: StreamOperator, *args: Any):
        super().__init__(*args)
        self.inner = inner

    def open(self) -> None:
        self.inner.output, self.inner.side_outputs = self.output, self.side_outputs
        self.inner.open()

    def close(self) -> None:
        self.inner.close()

    def process_element(self, value: Any) -> None:
        self.records_in += 1
        self._key(value)
        self.inner.process_element(value)


class ReduceOperator(_KeyedOperator):
    """Rolling reduce per key: emits the new accumulated value after every record."""

    def open(self) -> None:
        super().open()
        fn = self.function
        self.fn = fn.reduce if isinstance(fn, ReduceFunction) else fn
        self.values = self.backend.table("_reduce", "value")

    def process_element(self, value: Any) -> None:
        self.records_in += 1
        key = self._key(value)
        current = self.values.get(key, _MISSING)
        if current is _MISSING:
            new = value
        else:
            try:
                new = self.fn(current, value)
            except Exception as exc:
                raise UserFunctionError(self.label, value, exc) from exc
        self.values[key] = new
        self.output(new)


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
    """Flink's built-in aggregations as a reduce function over (accumulated, new)."""
    if kind == "sum":
        return lambda acc, v: _with_field(acc, position, _field(acc, position) + _field(v, position))
    if kind == "min":
        return lambda acc, v: _with_field(acc, position, min(_field(acc, position), _field(v, position)))
    if kind == "max":
        return lambda acc, v: _with_field(acc, position, max(_field(acc, position), _field(v, position)))
    if kind == "min_by":
        return lambda acc, v: v if _field(v, position) < _field(acc, position) else acc
    return lambda acc, v: v if _field(v, position) > _field(acc, position) else acc


class SinkOperator(StreamOperator):
    """Writes each record to the run's outputs (and to the user's sink or stdout)."""

    def __init__(self, node: StreamNode, subtask: int, ctx: RuntimeContext, clock: Any,
                 collect: Callable[[int, int, Any], None], stdout: Any = None):
        super().__init__(node, subtask, ctx, clock)
        self._collect = collect
        kind = node.operator.kind
        fn = self.function
        if kind == "print":
            ident = node.operator.options.get("identifier")
            prefix = f"{ident}:" if ident else ""
            if ctx.get_number_of_parallel_subtasks() > 1:
                prefix += f"{subtask + 1}> "
            elif ident:
                prefix += " "
            out = stdout or sys.stdout
            self.fn = lambda value: print(f"{prefix}{value}", file=out)
        elif isinstance(fn, SinkFunction):
            self.fn = lambda value: fn.invoke(value, None)
        else:
            self.fn = fn

    def process_element(self, value: Any) -> None:
        self.records_in += 1
        self._collect(self.clock.now_us, self.subtask, value)
        if self.fn is not None:
            try:
                self.fn(value)
            except Exception as exc:
                raise UserFunctionError(self.label, value, exc) from exc
