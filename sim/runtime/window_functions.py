"""Calls the user's window function, whatever its shape, with the context of one firing.

Layer: `sim.runtime` (no SimPy, no clock: the firing's watermark and
processing time are set on the context by the window operator). It does not
decide when to fire or what the inputs are.
"""

from __future__ import annotations

from typing import Any

from sim.api.windowing import (
    AllWindowFunction, Evictor, ProcessAllWindowFunction, ProcessWindowFunction, WindowFunction,
)


class WindowFiringContext(ProcessWindowFunction.Context, Evictor.EvictorContext):
    """The context a window function and an evictor see during one firing (or one cleanup).

    Flink counterpart: `WindowOperator.WindowContext` and
    `EvictingWindowOperator.EvictorContext`.
    Simplified: no per-window or global keyed state (`window_state()`,
    `global_state()`), no side-output method (yield `(tag, value)` instead).
    """

    def __init__(self) -> None:
        self._window: Any = None
        self._watermark = 0
        self._processing_time = 0

    def at(self, window: Any, watermark: int, processing_time: int) -> WindowFiringContext:
        """Points the context at a window and the two clocks; returns itself."""
        self._window, self._watermark, self._processing_time = window, watermark, processing_time
        return self

    def window(self) -> Any:
        return self._window

    def current_watermark(self) -> int:
        return self._watermark

    def current_processing_time(self) -> int:
        return self._processing_time

    def get_current_watermark(self) -> int:
        return self._watermark

    def get_current_processing_time(self) -> int:
        return self._processing_time


class InternalWindowFunction:
    """One call shape, `process(key, window, context, inputs) -> list`, for every kind of window function.

    None passes the inputs through (a plain `reduce` or `aggregate`). Keyed
    windows take a `ProcessWindowFunction` or `WindowFunction`; `window_all`
    takes a `ProcessAllWindowFunction` or `AllWindowFunction` (the key is
    then ignored).

    Flink counterpart: `InternalWindowFunction` and its wrappers
    (`InternalIterableProcessWindowFunction`, `InternalSingleValueWindowFunction`, ...).
    Simplified: results are collected into a list rather than streamed.
    """

    def __init__(self, function: Any = None):
        if function is not None and not isinstance(
                function, (ProcessWindowFunction, ProcessAllWindowFunction, WindowFunction, AllWindowFunction)):
            raise TypeError("a window function must be a ProcessWindowFunction, WindowFunction, "
                            f"ProcessAllWindowFunction or AllWindowFunction, got {type(function).__name__}")
        self.function = function

    def process(self, key: Any, window: Any, context: WindowFiringContext, inputs: list) -> list:
        """Calls the function once and returns everything it yielded (or returned)."""
        function = self.function
        if function is None:
            return inputs
        if isinstance(function, ProcessWindowFunction):
            results = function.process(key, context, inputs)
        elif isinstance(function, ProcessAllWindowFunction):
            results = function.process(context, inputs)
        elif isinstance(function, WindowFunction):
            results = function.apply(key, window, inputs)
        else:
            results = function.apply(window, inputs)
        return [] if results is None else list(results)

    def clear(self, context: WindowFiringContext) -> None:
        """Tells a process function that its window's state is being cleared."""
        if isinstance(self.function, (ProcessWindowFunction, ProcessAllWindowFunction)):
            self.function.clear(context)
