"""Two-input operators: one user function with a per-record path for each input.

Layer: `sim.runtime` (no SimPy, no clock reads). The task of a two-input
operator (`TwoInputStreamTask`) calls `process_element1` for records of
input 1 and `process_element2` for records of input 2; both paths are
closures built at `open()`, like a one-input operator's `process_element`.
Watermarks reach the operator already combined (the minimum of both
inputs) through `process_mark`, so timers, `current_watermark()` and the
forwarded watermark follow the slower input. On keyed inputs each path
first sets the state backend's current key with its own input's key
selector, so both inputs share keyed state and timers by key.

Lifecycle: as `StreamOperator`: created -> outputs wired -> `open()`
(copies and opens the function, builds both paths) -> records, marks and
timers -> `end_input()` -> `close()`.

Flink counterpart: `TwoInputStreamOperator`, `CoStreamMap`, `CoStreamFlatMap`,
`CoProcessOperator`, `KeyedCoProcessOperator` (and `LegacyKeyedCoProcessOperator`
for a CoProcessFunction on keyed inputs).
Simplified: no `endInput(1)` / `endInput(2)` per input; the operator learns
only that all input has ended.
"""

from __future__ import annotations

from typing import Any, Callable

from sim.api.functions import KeyedProcessFunction, ProcessFunction
from sim.graph.stream_graph import StreamNode
from sim.runtime.operators import OperatorTimerService, StreamOperator, UserFunctionError
from sim.runtime.timed_operators import KeyedProcessOperator, KeyedTimerService


class TwoInputOperator(StreamOperator):
    """Base: `open()` builds `process_element1` and `process_element2`; `backend` is set on keyed inputs.

    `key_selector(n)` is input n's key selector (None when that input sets no key).
    """

    def __init__(self, node: StreamNode, subtask: int, ctx: Any, clock: Any, backend: Any = None):
        # Not super().__init__: keyed subclasses also derive from the one-input keyed operators,
        # whose constructor takes the one-input key selector; a two-input operator has one per input.
        StreamOperator.__init__(self, node, subtask, ctx, clock)
        self.backend = backend

    def key_selector(self, input_number: int) -> Callable[[Any], Any] | None:
        spec = self.node.keyed if input_number == 1 else self.node.keyed2
        return None if spec is None or self.backend is None else spec.key_selector

    def _build_paths(self) -> None:
        self._prepare()
        self.process_element1 = self._make_process_for(1)
        self.process_element2 = self._make_process_for(2)

    def _prepare(self) -> None:
        """What both paths share (contexts, emission counters), made once before they are built."""

    def _make_process_for(self, input_number: int) -> Callable[[Any], None]:
        raise NotImplementedError

    def process_element(self, value: Any) -> None:
        raise RuntimeError(f"{self.label} has two inputs: records go to process_element1 or process_element2")

    def _path(self, call: Callable[[Any], Any], input_number: int, emit: Callable[[Any, Any], None],
              ctx: Any = None) -> Callable[[Any], None]:
        """One input's per-record path: set the key (keyed inputs, also on `ctx`), `call(value)`, `emit` the result.

        An exception from `call` fails this operator on `value`, unless it is
        already a `UserFunctionError` (raised downstream of an emission in `call`).
        """
        key_of, backend, label = self.key_selector(input_number), self.backend, self.label

        def process_element(value: Any) -> None:
            try:
                if key_of is not None:
                    key = backend.current_key = key_of(value)
                    if ctx is not None:
                        ctx._key = key
                result = call(value)
            except UserFunctionError:
                raise
            except Exception as exc:
                raise UserFunctionError(label, value, exc) from exc
            emit(result, value)

        return process_element

    def _emit_each(self, results: Any, record: Any) -> None:
        """Send on every result of a flat map (no side outputs), counting them."""
        if results is None:
            return
        try:
            for result in results:
                self._main_out += 1
                self.output(result)
        except UserFunctionError:
            raise
        except Exception as exc:
            raise UserFunctionError(self.label, record, exc) from exc


class CoMapOperator(TwoInputOperator):
    """`map1` / `map2`: one output per input record."""

    def _make_process_for(self, input_number: int) -> Callable[[Any], None]:
        fn = self.function.map1 if input_number == 1 else self.function.map2
        out = self.output
        return self._path(fn, input_number, lambda result, value: out(result))


class CoFlatMapOperator(TwoInputOperator):
    """`flat_map1` / `flat_map2`: any number of outputs per input record."""

    _prepare = StreamOperator._count_emitted

    def _make_process_for(self, input_number: int) -> Callable[[Any], None]:
        fn = self.function.flat_map1 if input_number == 1 else self.function.flat_map2
        return self._path(fn, input_number, self._emit_each)


class CoProcessOperator(TwoInputOperator):
    """`process_element1/2(value, ctx)` on non-keyed inputs: the record's timestamp and the time; no timers."""

    def _prepare(self) -> None:
        self._count_emitted()
        self._ctx = ProcessFunction.Context(OperatorTimerService(self), self.clock)

    def _make_process_for(self, input_number: int) -> Callable[[Any], None]:
        fn, ctx = getattr(self.function, f"process_element{input_number}"), self._ctx
        return self._path(lambda value: fn(value, ctx), input_number, self._emit_all)


class KeyedCoProcessOperator(TwoInputOperator, KeyedProcessOperator):
    """`process_element1/2(value, ctx)` on keyed inputs, with the current key, keyed state and timers (`on_timer`)."""

    def _prepare(self) -> None:
        self._count_emitted()
        service = KeyedTimerService(self)
        self._ctx = KeyedProcessFunction.Context(service, self.clock)
        self._timer_ctx = KeyedProcessFunction.OnTimerContext(service, self.clock)

    def _make_process_for(self, input_number: int) -> Callable[[Any], None]:
        fn, ctx = getattr(self.function, f"process_element{input_number}"), self._ctx
        return self._path(lambda value: fn(value, ctx), input_number, self._emit_all, ctx)
