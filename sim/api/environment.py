"""`StreamExecutionEnvironment`: where a job is built, configured and started.

Layer: `sim.api` (no SimPy). The environment records transformations; running
them is the job of `sim.scenario`, which registers itself here as the runner
when `sim` is imported (so the API never imports the layers above it).
`execute()` runs on a default local cluster sized to fit the job, as Flink's
local MiniCluster does; `sim.Simulation` runs on a cluster you describe.

Flink counterpart: `StreamExecutionEnvironment` (PyFlink's method names).
Simplified: no remote execution, no configuration files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Protocol

from sim.api.restart_strategy import FallbackRestartStrategyConfiguration, RestartStrategyConfiguration
from sim.api.checkpointing import CheckpointConfig, CheckpointingMode, HashMapStateBackend, StateBackend
from sim.api.connectors import CollectionSource, NumberSequenceSource, Source
from sim.api.eventtime import DEFAULT_AUTO_WATERMARK_INTERVAL_MS, WatermarkStrategy
from sim.api.execution_mode import RuntimeExecutionMode
from sim.api.transformations import ChainingStrategy, OperatorSpec, Transformation
from sim.api.typeinfo import TypeInformation
from sim.kernel.hashing import UPPER_BOUND_MAX_PARALLELISM

if TYPE_CHECKING:
    from sim.api.datastream import DataStream

DEFAULT_JOB_NAME = "Flink Streaming Job"
DEFAULT_BUFFER_TIMEOUT_MS = 100


class JobRunner(Protocol):
    """What `sim.scenario` provides: run a job, or describe its plan."""

    def execute(self, env: StreamExecutionEnvironment, job_name: str) -> Any: ...

    def execution_plan(self, env: StreamExecutionEnvironment) -> str: ...


_runner: JobRunner | None = None


def register_runner(runner: JobRunner) -> None:
    """Install the object that runs jobs (called once, by `sim.scenario` on import)."""
    global _runner
    _runner = runner


def _require_runner() -> JobRunner:
    if _runner is None:
        raise RuntimeError("no job runner registered: import sim (not only sim.api) before running a job")
    return _runner


class ExecutionConfig:
    """Job-wide settings (PyFlink's `ExecutionConfig`): so far the periodic watermark interval."""

    def __init__(self) -> None:
        self._auto_watermark_interval_ms = DEFAULT_AUTO_WATERMARK_INTERVAL_MS

    def set_auto_watermark_interval(self, interval: int) -> ExecutionConfig:
        """How often (ms of processing time) generators may emit a watermark; 0 disables periodic emission."""
        if type(interval) is not int or interval < 0:
            raise ValueError(f"pipeline.auto-watermark-interval must be an int >= 0 (ms), got {interval!r}")
        self._auto_watermark_interval_ms = interval
        return self

    def get_auto_watermark_interval(self) -> int:
        return self._auto_watermark_interval_ms


class StreamExecutionEnvironment:
    """Builds a streaming job: sources, transformations, sinks, and their settings."""

    def __init__(self) -> None:
        self._parallelism = 1
        self._max_parallelism: int | None = None
        self._chaining = True
        self._buffer_timeout_ms = DEFAULT_BUFFER_TIMEOUT_MS
        self._checkpoint_config = CheckpointConfig()
        self._state_backend: StateBackend = HashMapStateBackend()
        self._config = ExecutionConfig()
        self._runtime_mode = RuntimeExecutionMode.STREAMING
        self._restart_strategy: RestartStrategyConfiguration = FallbackRestartStrategyConfiguration()
        self.transformations: list[Transformation] = []

    @staticmethod
    def get_execution_environment(configuration: Any = None) -> StreamExecutionEnvironment:
        """A new environment (parallelism 1 by default, like a local PyFlink run with one core)."""
        return StreamExecutionEnvironment()

    # --- settings -------------------------------------------------------------

    def get_config(self) -> ExecutionConfig:
        """The job-wide settings, e.g. `get_config().set_auto_watermark_interval(50)`."""
        return self._config

    def set_runtime_mode(self, execution_mode: RuntimeExecutionMode) -> StreamExecutionEnvironment:
        """STREAMING (default), BATCH (bounded sources only) or AUTOMATIC (BATCH if every source is bounded)."""
        if not isinstance(execution_mode, RuntimeExecutionMode):
            raise TypeError(f"set_runtime_mode needs a RuntimeExecutionMode (STREAMING, BATCH or AUTOMATIC), "
                            f"got {execution_mode!r}")
        self._runtime_mode = execution_mode
        return self

    def get_runtime_mode(self) -> RuntimeExecutionMode:
        """The mode asked for; AUTOMATIC is resolved when the job is built."""
        return self._runtime_mode

    def set_parallelism(self, parallelism: int) -> StreamExecutionEnvironment:
        if not isinstance(parallelism, int) or parallelism < 1:
            raise ValueError(f"parallelism must be a positive int, got {parallelism!r}")
        self._parallelism = parallelism
        return self

    def get_parallelism(self) -> int:
        return self._parallelism

    def set_max_parallelism(self, max_parallelism: int) -> StreamExecutionEnvironment:
        if not isinstance(max_parallelism, int) or not 1 <= max_parallelism <= UPPER_BOUND_MAX_PARALLELISM:
            raise ValueError(
                f"max parallelism must be an int in 1..{UPPER_BOUND_MAX_PARALLELISM}, got {max_parallelism!r}"
            )
        self._max_parallelism = max_parallelism
        return self

    def get_max_parallelism(self) -> int | None:
        """The job-wide max parallelism, or None: then each operator gets Flink's default."""
        return self._max_parallelism

    def disable_operator_chaining(self) -> StreamExecutionEnvironment:
        self._chaining = False
        return self

    def is_chaining_enabled(self) -> bool:
        return self._chaining

    def set_buffer_timeout(self, timeout_millis: int) -> StreamExecutionEnvironment:
        """100 ms by default; 0 flushes after every record; -1 flushes only full buffers."""
        if not isinstance(timeout_millis, int) or timeout_millis < -1:
            raise ValueError(f"buffer timeout must be an int >= -1 (ms), got {timeout_millis!r}")
        self._buffer_timeout_ms = timeout_millis
        return self

    def get_buffer_timeout(self) -> int:
        return self._buffer_timeout_ms

    def enable_checkpointing(self, interval: int, mode: CheckpointingMode | None = None) -> StreamExecutionEnvironment:
        """Take a checkpoint every `interval` ms of virtual time (EXACTLY_ONCE unless `mode` says otherwise)."""
        self._checkpoint_config.set_checkpoint_interval(interval)
        if mode is not None:
            self._checkpoint_config.set_checkpointing_mode(mode)
        return self

    def get_checkpoint_config(self) -> CheckpointConfig:
        return self._checkpoint_config

    def get_checkpoint_interval(self) -> int:
        return self._checkpoint_config.get_checkpoint_interval()

    def get_checkpointing_mode(self) -> CheckpointingMode:
        return self._checkpoint_config.get_checkpointing_mode()

    def set_restart_strategy(self, restart_strategy_configuration: RestartStrategyConfiguration
                             ) -> StreamExecutionEnvironment:
        """How a failed job restarts, e.g. `RestartStrategies.fixed_delay_restart(3, 1000)` (see `RestartStrategies`)."""
        if not isinstance(restart_strategy_configuration, RestartStrategyConfiguration):
            raise TypeError(f"set_restart_strategy needs a configuration from RestartStrategies, "
                            f"got {type(restart_strategy_configuration).__name__}")
        self._restart_strategy = restart_strategy_configuration
        return self

    def get_restart_strategy(self) -> RestartStrategyConfiguration:
        return self._restart_strategy

    def set_state_backend(self, state_backend: StateBackend) -> StreamExecutionEnvironment:
        if not isinstance(state_backend, StateBackend):
            raise TypeError(f"set_state_backend needs HashMapStateBackend() or EmbeddedRocksDBStateBackend(), "
                            f"got {type(state_backend).__name__}")
        self._state_backend = state_backend
        return self

    def get_state_backend(self) -> StateBackend:
        return self._state_backend

    # --- sources ----------------------------------------------------------------

    def from_collection(self, collection: Iterable[Any], type_info: TypeInformation | None = None) -> DataStream:
        """A non-parallel source of the collection's elements, in order."""
        return self._add_source(CollectionSource(list(collection)), "Collection Source", fixed_parallelism=1)

    def from_source(self, source: Source, watermark_strategy: Any = None, source_name: str | None = None,
                    type_info: TypeInformation | None = None) -> DataStream:
        """A source object (see `sim.api.connectors.Source`), parallel unless it says otherwise.

        With a `WatermarkStrategy` the source stamps its records and makes
        watermarks, one generator per split (`WatermarkStrategy.no_watermarks()`
        keeps the reader's own timestamps and makes none).
        """
        if not isinstance(source, Source):
            raise TypeError(f"from_source needs a sim.api Source, got {type(source).__name__}")
        if watermark_strategy is not None and not isinstance(watermark_strategy, WatermarkStrategy):
            raise TypeError(f"from_source needs a WatermarkStrategy (or None), got {type(watermark_strategy).__name__}")
        fixed = None if source.parallel else 1
        stream = self._add_source(source, source_name or source.name, fixed_parallelism=fixed)
        stream._t.operator.options["watermark_strategy"] = watermark_strategy
        return stream

    def from_sequence(self, start: int, end: int) -> DataStream:
        """A parallel source of the numbers start..end (inclusive)."""
        return self._add_source(NumberSequenceSource(start, end), "Sequence Source", fixed_parallelism=None)

    def _add_source(self, source: Source, name: str, fixed_parallelism: int | None) -> DataStream:
        from sim.api.datastream import DataStream

        t = Transformation(
            kind="source", name=name, inputs=[], operator=OperatorSpec("source", source),
            parallelism=fixed_parallelism, parallelism_fixed=fixed_parallelism is not None,
            chaining=ChainingStrategy.HEAD,
        )
        self.transformations.append(t)
        return DataStream(self, t)

    # --- running ------------------------------------------------------------------

    def execute(self, job_name: str | None = None) -> Any:
        """Run the job to its end on a default local cluster; returns a JobExecutionResult."""
        return _require_runner().execute(self, job_name or DEFAULT_JOB_NAME)

    def get_execution_plan(self) -> str:
        """The job's StreamGraph as JSON, in the shape of Flink's execution plan."""
        return _require_runner().execution_plan(self)
