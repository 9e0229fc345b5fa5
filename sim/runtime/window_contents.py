"""What a window keeps between firings: its elements, a running reduce, or an accumulator.

Layer: `sim.runtime` (no SimPy, no clock). Pure value handling for the window
operator: adding an element, merging the contents of session windows, and
turning stored contents into the inputs of a window function (running the
evictor around it). It does not know keys, windows' lifecycles or timers.
"""

from __future__ import annotations

import functools
from enum import Enum
from typing import Any, Callable

from sim.api.functions import ReduceFunction
from sim.api.windowing import Evictor, TimestampedValue

_AGGREGATE_METHODS = ("create_accumulator", "add", "get_result", "merge")


class ContentsKind(Enum):
    """How a window's contents are stored."""

    ELEMENTS = "elements"  # every element with its timestamp: a process/apply function, or any evictor
    REDUCED = "reduced"  # one value, reduced as elements arrive
    ACCUMULATED = "accumulated"  # one accumulator of an AggregateFunction


def _reducer(reduce_function: Any) -> Callable[[Any, Any], Any] | None:
    if reduce_function is None:
        return None
    if isinstance(reduce_function, ReduceFunction):
        return reduce_function.reduce
    if callable(reduce_function):
        return reduce_function
    raise TypeError(f"a window reduce needs a ReduceFunction or a callable, got {type(reduce_function).__name__}")


def _check_aggregate(aggregate_function: Any) -> Any:
    if aggregate_function is None:
        return None
    missing = [m for m in _AGGREGATE_METHODS if not callable(getattr(aggregate_function, m, None))]
    if missing:
        raise TypeError(f"a window aggregate needs {', '.join(_AGGREGATE_METHODS)}; "
                        f"{type(aggregate_function).__name__} lacks {', '.join(missing)}")
    return aggregate_function


class WindowContents:
    """Adds, merges and reads the contents of one window; the contents themselves are passed in and out.

    Stored contents are None (empty), a list of `TimestampedValue` (ELEMENTS),
    the reduced value (REDUCED) or the accumulator (ACCUMULATED). With an
    evictor every element is kept, and the reduce or aggregate runs over what
    the evictor leaves, at firing time.

    Flink counterpart: the window state of `WindowOperator` (`ListState`,
    `ReducingState`, `AggregatingState` in the window namespace) and
    `EvictingWindowOperator.emitWindowContents`.
    Simplified: reduce over an evictor that left nothing emits nothing (Flink
    would pass a null).
    """

    def __init__(self, reduce_function: Any = None, aggregate_function: Any = None, evictor: Evictor | None = None):
        if reduce_function is not None and aggregate_function is not None:
            raise ValueError("a window takes a reduce function or an aggregate function, got both")
        self._reduce = _reducer(reduce_function)
        self._aggregate = _check_aggregate(aggregate_function)
        self.evictor = evictor
        if evictor is not None or (self._reduce is None and self._aggregate is None):
            self.kind = ContentsKind.ELEMENTS
        else:
            self.kind = ContentsKind.REDUCED if self._reduce is not None else ContentsKind.ACCUMULATED

    def add(self, stored: Any, value: Any, timestamp: int | None) -> Any:
        """Returns the contents with `value` added (lists are extended in place)."""
        if self.kind is ContentsKind.ELEMENTS:
            stored = [] if stored is None else stored
            stored.append(TimestampedValue(value, timestamp))
            return stored
        if self.kind is ContentsKind.REDUCED:
            return value if stored is None else self._reduce(stored, value)
        accumulator = self._aggregate.create_accumulator() if stored is None else stored
        return self._aggregate.add(value, accumulator)

    def merge(self, target: Any, sources: list[Any]) -> Any:
        """Combines the sources with each other, then into the target: `combine(target, combine(s1, s2, ...))`."""
        sources = [s for s in sources if s is not None]
        if not sources:
            return target
        merged = functools.reduce(self._combine, sources)
        return merged if target is None else self._combine(target, merged)

    def _combine(self, a: Any, b: Any) -> Any:
        if self.kind is ContentsKind.ELEMENTS:
            return a + b
        if self.kind is ContentsKind.REDUCED:
            return self._reduce(a, b)
        return self._aggregate.merge(a, b)

    def fire(self, stored: Any, window: Any, context: Any, function: Callable[[list], list]) -> tuple[list, Any]:
        """Runs `function` on the window's inputs, with the evictor before and after it.

        Args:
            stored: The window's contents (not None).
            window: The firing window, for the evictor.
            context: The evictor context.
            function: Maps the window function's inputs to its outputs.

        Returns:
            The outputs and the contents to store afterwards (None if the evictor emptied it).
        """
        if self.evictor is None:
            return function(self._inputs(stored)), stored
        records = list(stored)
        self.evictor.evict_before(records, len(records), window, context)
        outputs = function(self._fold([r.value for r in records]))
        self.evictor.evict_after(records, len(records), window, context)
        return outputs, (records or None)

    def _inputs(self, stored: Any) -> list:
        if self.kind is ContentsKind.ELEMENTS:
            return [record.value for record in stored]
        if self.kind is ContentsKind.REDUCED:
            return [stored]
        return [self._aggregate.get_result(stored)]

    def _fold(self, values: list) -> list:
        """The function's inputs from the elements an evictor kept."""
        if self._reduce is not None:
            return [functools.reduce(self._reduce, values)] if values else []
        if self._aggregate is not None:
            accumulator = self._aggregate.create_accumulator()
            for value in values:
                accumulator = self._aggregate.add(value, accumulator)
            return [self._aggregate.get_result(accumulator)]
        return values
