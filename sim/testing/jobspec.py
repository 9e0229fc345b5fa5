"""Jobs as data: a `JobSpec` describes a small keyed pipeline that `sim.api` can build and a model can predict.

Layer: `sim.testing`, the top of the library; it builds jobs with `sim.api`
and never touches a running one. A `JobSpec` is plain frozen data (it
compares, prints and round-trips through JSON), so a Hypothesis strategy can
draw it and shrink it, and a failing case can be written down and run again.

Every job has the same frame:

    source (ints) -> pair: x -> (x % keys, x) -> step -> step -> ... -> sink (a Topic)

Records are `(key, value)` pairs of ints from `pair` on. Each `Step` is one
operator from a small catalogue (`STEP_KINDS`), or a user's own
`KeyedProcessFunction` named by its import path (`Step.process`). Keyed steps
key by the pair's first field.

**Which outputs are fixed.** An exactly-once check compares a run's output
with the output of the same job without faults, so the output must not depend
on timing. Per-record steps never do. A keyed step sees each key's records in
a fixed order only while every record of a key has travelled through one
chain of channels: Flink keeps order per pair of sending and receiving
subtask, never across senders. `JobSpec` tracks this along the pipeline and
refuses a step whose outputs depend on the order of its key's records
(`needs_key_order`: a running sum, a running max) where that order is not
fixed. `order_key` tells whether the sink's per-key order is fixed too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sim.api import (
    CheckpointingMode, DataStream, DeliveryGuarantee, EmbeddedRocksDBStateBackend, HashMapStateBackend, KafkaSink,
    KafkaSource, PacedSource, RestartStrategies, StreamExecutionEnvironment, Topic,
)
from sim.graph import build_execution_graph, build_job_graph, build_stream_graph
from sim.testing.steps import PROCESS, STEP_KINDS, Step, function_class, key_of

SOURCES = ("paced", "kafka")
SINKS = ("exactly_once", "at_least_once")
CHECKPOINTING = ("aligned", "unaligned", "at_least_once", "none")
BACKENDS = ("hashmap", "rocksdb", "rocksdb_incremental")
RESTARTS = ("fixed_delay", "exponential_delay", "none")
STORAGES = ("memory", "files")


def _one_of(owner: str, name: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{owner}.{name} must be one of {list(allowed)}, got {value!r}")


def _at_least(owner: str, name: str, value: Any, minimum: int) -> None:
    if type(value) is not int or value < minimum:
        raise ValueError(f"{owner}.{name} must be an int >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class JobSpec:
    """A job as data: `source -> pair -> steps -> sink`, and how it checkpoints and restarts.

    Attributes:
        steps: the operators after `pair`, in order.
        parallelism: the job's default parallelism (`env.set_parallelism`).
        keys: `pair` keys element x by `x % keys`.
        source: `"paced"` (a `PacedSource`, one reader) or `"kafka"` (a bounded `KafkaSource`
            over a topic whose records are produced one every `pace_ms`, round robin).
        pace_ms: one input element every `pace_ms` of virtual time.
        source_parallelism: readers of the Kafka source (a paced source has one).
        source_partitions: partitions of the Kafka source's topic.
        sink: `"exactly_once"` (`KafkaSink` with `DeliveryGuarantee.EXACTLY_ONCE`: transactions
            committed when a checkpoint completes) or `"at_least_once"` (`TopicSink`: every
            write visible at once). Both key records by `str(k)`.
        sink_partitions: partitions of the output topic.
        checkpointing: `"aligned"` (exactly-once barriers), `"unaligned"`, `"at_least_once"`
            (`CheckpointingMode.AT_LEAST_ONCE`) or `"none"`.
        interval_ms: the checkpoint interval.
        alignment_timeout_ms: unaligned only: checkpoints start aligned and turn unaligned after
            this long (Flink's aligned-checkpoint timeout; 0: unaligned from the start).
        backend: `"hashmap"`, `"rocksdb"` or `"rocksdb_incremental"`.
        restart: `"fixed_delay"` (`restart_attempts` attempts, `restart_delay_ms` apart),
            `"exponential_delay"` (from `restart_delay_ms`) or `"none"`.
        restart_delay_ms: see `restart`.
        restart_attempts: see `restart`.
        buffer_timeout_ms: `env.set_buffer_timeout` (0 flushes after every record).
        checkpoint_storage: `"memory"` (the JobManager keeps completed checkpoints) or `"files"`
            (written to a checkpoint directory, and read back from it on a restore).
    """

    steps: tuple[Step, ...] = ()
    parallelism: int = 2
    keys: int = 4
    source: str = "paced"
    pace_ms: int = 2
    source_parallelism: int = 1
    source_partitions: int = 1
    sink: str = "exactly_once"
    sink_partitions: int = 2
    checkpointing: str = "aligned"
    interval_ms: int = 50
    alignment_timeout_ms: int = 0
    backend: str = "hashmap"
    restart: str = "fixed_delay"
    restart_delay_ms: int = 100
    restart_attempts: int = 100
    buffer_timeout_ms: int = 100
    checkpoint_storage: str = "memory"

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(Step(**s) if isinstance(s, dict) else s for s in self.steps))
        for name, allowed in (("source", SOURCES), ("sink", SINKS), ("checkpointing", CHECKPOINTING),
                              ("backend", BACKENDS), ("restart", RESTARTS), ("checkpoint_storage", STORAGES)):
            _one_of("JobSpec", name, getattr(self, name), allowed)
        for name in ("parallelism", "keys", "source_parallelism", "source_partitions", "sink_partitions",
                     "interval_ms", "restart_attempts"):
            _at_least("JobSpec", name, getattr(self, name), 1)
        for name in ("pace_ms", "alignment_timeout_ms", "restart_delay_ms", "buffer_timeout_ms"):
            _at_least("JobSpec", name, getattr(self, name), 0)
        if self.source == "paced" and (self.source_parallelism, self.source_partitions) != (1, 1):
            raise ValueError("JobSpec: a paced source has one reader and no partitions; source_parallelism and "
                             "source_partitions are for source='kafka'")
        self.order_at_sink()  # refuses a step whose outputs would depend on timing

    # --- order -------------------------------------------------------------------------

    def _source_order(self) -> bool:
        """Whether `pair` (chained to the source) emits every record on one subtask, in a fixed sequence.

        A reader of several partitions interleaves them as records become
        visible; one partition is read by one reader, in offset order.
        """
        return self.source == "paced" or self.source_partitions == 1

    def order_at_sink(self) -> bool:
        """Whether each key's records reach the sink through one chain of channels, in a fixed order.

        Two facts are followed along the pipeline: *sequential*, every record
        is on one subtask in a fixed sequence; *keyed*, each key's records are
        on one subtask in a fixed sequence. Round robin to several receivers
        breaks both. A keyed exchange keeps *keyed*. A step that changes keys
        (`rekey`) keeps *keyed* only where the stream was sequential: a new key
        gathers records of several old keys, whose interleaving is fixed only
        in a fixed sequence. `count` makes *keyed* hold again (1, 2, 3, ... in
        any input order).

        Raises:
            ValueError: a step needs its key's records in order where they are not.
        """
        sequential = keyed = self._source_order()
        upstream_p, exchange = self.source_parallelism, False
        for i, step in enumerate(self.steps):
            if step.kind == "rebalance":
                exchange = True
                continue
            p = step.parallelism or self.parallelism
            if step.keyed:
                if step.needs_order and not keyed:
                    raise ValueError(
                        f"JobSpec step {step.kind}{i + 1} ({step.describe()}) needs each key's records in a fixed "
                        f"order, but here they come from several senders and interleave as timing decides; use "
                        f"count or distinct there, or parallelism 1 before it")
                keyed = keyed or (step.kind != PROCESS and STEP_KINDS[step.kind].fixes_order)
                sequential = sequential and p == 1
            else:
                if exchange or p != upstream_p:  # round robin spreads the records over the receivers
                    sequential, keyed = sequential and p == 1, keyed and p == 1
                if not STEP_KINDS[step.kind].keeps_key:
                    keyed = sequential
            upstream_p, exchange = p, False
        if exchange or self.parallelism != upstream_p:
            keyed = keyed and self.parallelism == 1
        return keyed

    def order_key(self) -> Callable[[Any], Any] | None:
        """The key to compare per-key order by at the sink (`check_exactly_once(..., key=)`), or None."""
        return key_of if self.order_at_sink() else None

    # --- building --------------------------------------------------------------------------

    @property
    def max_parallelism_used(self) -> int:
        """The most subtasks of any operator: the slots the job needs (one slot-sharing group)."""
        return max([self.parallelism, self.source_parallelism] + [s.parallelism or 0 for s in self.steps])

    def operators(self) -> dict[str, int]:
        """Operator id -> parallelism for every operator but the source: `pair`, the steps, `sink`.

        These are the ids a `raise_at_record` fault and `CostModel.operator_cpu_ns` name.
        """
        ops = {"pair": self.source_parallelism}
        ops.update({f"{s.kind}{i + 1}": s.parallelism or self.parallelism for i, s in enumerate(self.steps)
                    if s.kind != "rebalance"})
        ops["sink"] = self.parallelism
        return ops

    def subtasks(self) -> list[str]:
        """The ids of the job's subtasks (chains included, e.g. `count2->sink[1]`), as a `fail_task` names them."""
        env = self.build([], Topic("output", self.sink_partitions))
        return [s.id for s in build_execution_graph(build_job_graph(build_stream_graph(env))).subtasks]

    def build(self, elements: Sequence[int], output: Topic, checkpoint_dir: str | None = None
              ) -> StreamExecutionEnvironment:
        """The job, built with `sim.api`, reading `elements` and writing to `output`.

        Args:
            elements: the input, one int per element.
            output: the topic the sink writes to (a new one for every run).
            checkpoint_dir: where checkpoints go as files (None: in memory).
        """
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(self.parallelism).set_buffer_timeout(self.buffer_timeout_ms)
        self._configure_checkpoints(env, checkpoint_dir)
        self._configure_restarts(env)
        keys = self.keys
        stream = self._source(env, list(elements))
        stream = stream.map(lambda x: (x % keys, x)).name("pair").set_parallelism(self.source_parallelism)
        for i, step in enumerate(self.steps):
            name = f"{step.kind}{i + 1}"
            if step.kind == PROCESS:
                stream = stream.key_by(key_of).process(function_class(step.function)()).name(name)
            else:
                stream = STEP_KINDS[step.kind].build(stream, step.arg, name)
            if step.parallelism is not None and step.kind != "rebalance":
                stream = stream.set_parallelism(step.parallelism)
        builder = KafkaSink.builder().set_topic(output).set_key(lambda r: str(r[0]))
        if self.sink == "exactly_once":
            builder = builder.set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE).set_transactional_id_prefix("job")
        else:
            builder = builder.set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE)
        stream.sink_to(builder.build()).name("sink")
        return env

    def _source(self, env: StreamExecutionEnvironment, elements: list[int]) -> DataStream:
        if self.source == "paced":
            return env.from_source(PacedSource.every(self.pace_ms, elements), source_name="source")
        topic = Topic("input", self.source_partitions)
        topic.produce_every(self.pace_ms, [(None, x) for x in elements])
        source = KafkaSource.builder().set_topics(topic).set_bounded().set_deserializer(lambda r: r.value).build()
        return env.from_source(source, source_name="source").set_parallelism(self.source_parallelism)

    def _configure_checkpoints(self, env: StreamExecutionEnvironment, checkpoint_dir: str | None) -> None:
        backend = {"hashmap": HashMapStateBackend(), "rocksdb": EmbeddedRocksDBStateBackend(),
                   "rocksdb_incremental": EmbeddedRocksDBStateBackend(True)}[self.backend]
        env.set_state_backend(backend)
        if self.checkpointing == "none":
            return
        mode = CheckpointingMode.AT_LEAST_ONCE if self.checkpointing == "at_least_once" else None
        env.enable_checkpointing(self.interval_ms, mode)
        config = env.get_checkpoint_config()
        if self.checkpointing == "unaligned":
            config.enable_unaligned_checkpoints()
            config.set_aligned_checkpoint_timeout(self.alignment_timeout_ms)
        if checkpoint_dir is not None:
            config.set_checkpoint_storage_dir(checkpoint_dir)

    def _configure_restarts(self, env: StreamExecutionEnvironment) -> None:
        if self.restart == "none":
            env.set_restart_strategy(RestartStrategies.no_restart())
        elif self.restart == "fixed_delay":
            env.set_restart_strategy(RestartStrategies.fixed_delay_restart(self.restart_attempts,
                                                                           self.restart_delay_ms))
        else:
            env.set_restart_strategy(RestartStrategies.exponential_delay_restart(max(1, self.restart_delay_ms)))

    # --- the model and the text ---------------------------------------------------------------

    def model(self, elements: Sequence[int]) -> list[tuple] | None:
        """What the job writes without faults, computed in plain Python (None with a user's step).

        Each key's values come in the order the job writes them wherever
        `order_at_sink()` holds; elsewhere only the multiset is the job's.
        """
        if any(step.kind == PROCESS for step in self.steps):
            return None
        records = [(x % self.keys, x) for x in elements]
        for step in self.steps:
            records = STEP_KINDS[step.kind].model(records, step.arg)
        return records

    def to_dict(self) -> dict[str, Any]:
        """The fields that differ from the defaults, as JSON data (steps as lists of their changed fields)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != f.default}
        if self.steps:
            data["steps"] = [{f.name: getattr(s, f.name) for f in dataclasses.fields(s)
                              if f.name == "kind" or getattr(s, f.name) != f.default} for s in self.steps]
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> JobSpec:
        return JobSpec(**{**data, "steps": tuple(Step(**s) for s in data.get("steps", ()))})

    def describe(self) -> str:
        """The job in one line per operator."""
        source = (f"PacedSource, one element every {self.pace_ms} ms" if self.source == "paced" else
                  f"KafkaSource over {self.source_partitions} partition(s) at parallelism {self.source_parallelism}, "
                  f"one record every {self.pace_ms} ms")
        checkpoints = "no checkpoints" if self.checkpointing == "none" else (
            f"{self.checkpointing} checkpoints every {self.interval_ms} ms"
            + (f" (aligned for {self.alignment_timeout_ms} ms first)" if self.checkpointing == "unaligned"
               and self.alignment_timeout_ms else "") + f", {self.backend} backend")
        restart = {"none": "no restart", "fixed_delay": f"fixed-delay restart every {self.restart_delay_ms} ms",
                   "exponential_delay": f"exponential-delay restart from {self.restart_delay_ms} ms"}[self.restart]
        lines = [f"parallelism {self.parallelism}; {checkpoints}; {restart}; buffer timeout "
                 f"{self.buffer_timeout_ms} ms", f"  source: {source}", f"  pair: x -> (x % {self.keys}, x)"]
        lines += [f"  {step.kind}{i + 1}: {step.describe()}" for i, step in enumerate(self.steps)]
        lines.append(f"  sink: {self.sink.replace('_', '-')} to {self.sink_partitions} partition(s), key str(k)")
        return "\n".join(lines)
