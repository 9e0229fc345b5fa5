"""`WindowedStream` and `AllWindowedStream`: windows on a keyed stream, or on the whole stream.

Layer: `sim.api` (no SimPy). `KeyedStream.window(assigner)` and
`DataStream.window_all(assigner)` return these; `trigger`, `evictor`,
`allowed_lateness` and `side_output_late_data` configure the window, and one
of `reduce`, `aggregate`, `apply` or `process` ends it in an operator (kind
"window"). Nothing is checked against the runtime here beyond argument types;
the window logic checks the combination when the job opens.

Flink counterpart: `WindowedStream`, `AllWindowedStream`
(pyflink.datastream.data_stream).
Simplified: `window_all` is a window on a stream keyed by one constant, at
parallelism 1 (as Flink builds it with a null-byte key selector).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.api.functions import OutputTag, ReduceFunction
from sim.api.transformations import OperatorSpec, PartitionerKind, PartitionerSpec, Transformation
from sim.api.windowing import (
    AllWindowFunction, CountEvictor, CountTrigger, Evictor, GlobalWindows, ProcessAllWindowFunction,
    ProcessWindowFunction, PurgingTrigger, Trigger, WindowAssigner, WindowFunction, milliseconds_of,
)

if TYPE_CHECKING:
    from sim.api.datastream import DataStream, KeyedStream


def _constant_key(value: Any) -> int:
    return 0


class WindowedStream:
    """A keyed stream cut into windows; finish it with `reduce`, `aggregate`, `apply` or `process`."""

    _all = False

    def __init__(self, stream: KeyedStream | DataStream, assigner: WindowAssigner):
        if not isinstance(assigner, WindowAssigner):
            raise TypeError(f"window() needs a WindowAssigner (e.g. TumblingEventTimeWindows.of(...)), "
                            f"got {type(assigner).__name__}")
        self._stream = stream
        self._options: dict[str, Any] = {"assigner": assigner}

    def get_execution_environment(self) -> Any:
        return self._stream._env

    def trigger(self, trigger: Trigger) -> WindowedStream:
        """Replace the assigner's default trigger."""
        if not isinstance(trigger, Trigger):
            raise TypeError(f"trigger() needs a Trigger, got {type(trigger).__name__}")
        self._options["trigger"] = trigger
        return self

    def evictor(self, evictor: Evictor) -> WindowedStream:
        """Remove elements before or after the window function runs (keeps every element in the window)."""
        if not isinstance(evictor, Evictor):
            raise TypeError(f"evictor() needs an Evictor, got {type(evictor).__name__}")
        self._options["evictor"] = evictor
        return self

    def allowed_lateness(self, time_ms: Any) -> WindowedStream:
        """Keep each window this long (ms) after the watermark passes its end; late elements re-fire it."""
        lateness = milliseconds_of(time_ms, "allowed lateness")
        if lateness < 0:
            raise ValueError(f"allowed lateness must be >= 0 ms, got {lateness}")
        self._options["allowed_lateness"] = lateness
        return self

    def side_output_late_data(self, output_tag: OutputTag) -> WindowedStream:
        """Send elements every window refused as late to this side output (get it with `get_side_output`)."""
        if not isinstance(output_tag, OutputTag):
            raise TypeError(f"side_output_late_data() needs an OutputTag, got {type(output_tag).__name__}")
        self._options["late_data_tag"] = output_tag
        return self

    # --- window functions ------------------------------------------------------------

    def reduce(self, reduce_function: ReduceFunction | Any, window_function: Any = None,
               output_type: Any = None) -> DataStream:
        """Reduce each window incrementally; the optional window function gets the one reduced value."""
        if not (isinstance(reduce_function, ReduceFunction) or callable(reduce_function)):
            raise TypeError(f"reduce() needs a ReduceFunction or a callable, got {type(reduce_function).__name__}")
        return self._finish("Reduce", reduce_function=reduce_function,
                            window_function=self._window_function(window_function, optional=True))

    def aggregate(self, aggregate_function: Any, window_function: Any = None, accumulator_type: Any = None,
                  output_type: Any = None) -> DataStream:
        """Aggregate each window incrementally with an AggregateFunction (create/add/get_result/merge)."""
        return self._finish("Aggregate", aggregate_function=aggregate_function,
                            window_function=self._window_function(window_function, optional=True))

    def apply(self, window_function: Any, output_type: Any = None) -> DataStream:
        """Run a WindowFunction (`apply(key, window, inputs)`) on all elements of each fired window."""
        return self._finish("Apply", window_function=self._window_function(window_function))

    def process(self, process_window_function: Any, output_type: Any = None) -> DataStream:
        """Run a ProcessWindowFunction (`process(key, context, elements)`) on each fired window."""
        return self._finish("Process", window_function=self._window_function(process_window_function))

    def _window_function(self, function: Any, optional: bool = False) -> Any:
        if function is None and optional:
            return None
        kinds = (ProcessAllWindowFunction, AllWindowFunction) if self._all else (ProcessWindowFunction,
                                                                                  WindowFunction)
        if not isinstance(function, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise TypeError(f"{'window_all' if self._all else 'window'} needs a {names}, "
                            f"got {type(function).__name__}")
        return function

    def _finish(self, what: str, **functions: Any) -> DataStream:
        from sim.api.datastream import DataStream

        options = dict(self._options, **{k: v for k, v in functions.items() if v is not None})
        assigner = options["assigner"]
        main = options.get("reduce_function") or options.get("aggregate_function") or options.get("window_function")
        name = f"Window({assigner!r}, {what})" if not self._all else f"AllWindow({assigner!r}, {what})"
        t = Transformation(kind="operator", name=name, inputs=[self._stream._t],
                           operator=OperatorSpec("window", main, options), keyed=self._key_spec(),
                           parallelism=1 if self._all else None, parallelism_fixed=self._all)
        env = self._stream._env
        env.transformations.append(t)
        return DataStream(env, t)

    def _key_spec(self) -> PartitionerSpec:
        return self._stream._key_spec


class AllWindowedStream(WindowedStream):
    """The whole stream cut into windows, in one subtask: `ProcessAllWindowFunction` / `AllWindowFunction`."""

    _all = True

    def __init__(self, stream: DataStream, assigner: WindowAssigner):
        spec = PartitionerSpec(PartitionerKind.HASH, key_selector=_constant_key)
        partition = Transformation(kind="partition", name="hash", inputs=[stream._t], partitioner=spec)
        super().__init__(_Partitioned(stream._env, partition, spec), assigner)


class _Partitioned:
    """The stream `window_all` keys by one constant (internal)."""

    def __init__(self, env: Any, t: Transformation, spec: PartitionerSpec):
        self._env, self._t, self._key_spec = env, t, spec


def count_window(stream: Any, size: int, slide: int = 0, all_windows: bool = False) -> WindowedStream:
    """Windows of `size` elements, every `slide` elements if sliding (PyFlink's `count_window`)."""
    if type(size) is not int or size < 1:
        raise ValueError(f"count_window needs a positive int size, got {size!r}")
    if type(slide) is not int or slide < 0:
        raise ValueError(f"count_window needs an int slide >= 0, got {slide!r}")
    windowed = (AllWindowedStream if all_windows else WindowedStream)(stream, GlobalWindows.create())
    if slide == 0:
        return windowed.trigger(PurgingTrigger.of(CountTrigger.of(size)))
    return windowed.evictor(CountEvictor.of(size)).trigger(CountTrigger.of(slide))
