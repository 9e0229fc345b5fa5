"""`RunResult`: everything one run produced, read from the trace and the run's records.

Layer: `sim.scenario`. Holds the outputs per sink (with the virtual time each
record arrived), the trace, per-subtask metrics, and the graphs; prints a
summary and renders itself in Jupyter.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

from sim.cluster.deployment import Placement
from sim.cluster.faults import FaultPlan
from sim.cluster.taskthread import TaskFailure
from sim.cluster.coordinator import CompletedCheckpoint
from sim.graph import ExecutionGraph
from sim.trace.checkpoint_stats import CheckpointStats, checkpoint_counts, checkpoint_stats, subtask_records
from sim.runtime.operators import SinkLog
from sim.trace import BatchExecutionPlanned, FaultInjected, JobFailing, JobRestored, RestartRefused, Trace
from sim.trace.chrome import write_chrome_trace


class SinkRecord(NamedTuple):
    """One record a sink subtask wrote, at virtual time `t_us`."""

    t_us: int
    subtask: int
    value: Any


@dataclass
class SubtaskMetrics:
    """What one subtask did; busy + idle + backpressured = its lifetime."""

    task: str
    taskmanager: str
    records_in: int
    records_out: int
    buffers_in: int
    buffers_out: int
    bytes_in: int
    bytes_out: int
    busy_us: int
    backpressured_us: int
    idle_us: int

    @property
    def lifetime_us(self) -> int:
        return self.busy_us + self.backpressured_us + self.idle_us

    def share(self, part_us: int) -> float:
        return part_us / self.lifetime_us if self.lifetime_us else 0.0


class JobExecutionError(RuntimeError):
    """`env.execute()` of a job that failed; `failure` says where and why."""

    def __init__(self, failure: TaskFailure):
        self.failure = failure
        super().__init__(f"job failed: {failure}")


class CheckpointHistory(list):
    """Every checkpoint's statistics (a list of `CheckpointStats`) that shows as the web UI's tables in Jupyter."""

    def __init__(self, result: RunResult, stats: list[CheckpointStats]):
        super().__init__(stats)
        self._result = result

    def _repr_html_(self) -> str:
        from sim.viz.report import checkpoints_html  # matplotlib is loaded only when a run is shown
        return checkpoints_html(self._result)


@dataclass
class RunResult:
    """The outcome of `Simulation.run()`."""

    job_name: str
    seed: int
    status: str
    end_time_us: int
    sink_logs: dict[str, SinkLog]
    trace: Trace
    metrics: dict[str, SubtaskMetrics]
    execution_graph: ExecutionGraph
    placements: dict[str, Placement]
    failure: TaskFailure | None = None
    sink_ids: dict[int, str] = field(default_factory=dict)
    events_processed: int = 0
    completed_checkpoints: list[CompletedCheckpoint] = field(default_factory=list)
    attempts: int = 1
    """Execution attempts: 1 plus the number of restarts."""
    failures: list[TaskFailure] = field(default_factory=list)
    """Every task failure of the run, in order, including those the job recovered from."""
    savepoints: list[str] = field(default_factory=list)
    """The directories of the savepoints the run took."""
    faults: FaultPlan = field(default_factory=FaultPlan)
    """The fault plan in force."""

    @property
    def restarts(self) -> int:
        return self.attempts - 1

    @cached_property
    def checkpoints(self) -> CheckpointHistory:
        """Statistics of every triggered checkpoint (Flink's web-UI fields), from the trace; a table in Jupyter."""
        return CheckpointHistory(self, checkpoint_stats(self.trace))

    def checkpoint_records(self) -> list[dict]:
        """One flat row per checkpoint: `pandas.DataFrame(result.checkpoint_records())`."""
        return [c.row() for c in self.checkpoints]

    def subtask_checkpoint_records(self) -> list[dict]:
        """One flat row per (checkpoint, subtask)."""
        return subtask_records(self.checkpoints)

    @cached_property
    def outputs(self) -> dict[str, list[SinkRecord]]:
        """Per sink id, every record it wrote as `SinkRecord(t_us, subtask, value)`, in arrival order."""
        return {sink: [SinkRecord._make(r) for r in log.records()] for sink, log in self.sink_logs.items()}

    @property
    def job_graph(self):
        return self.execution_graph.job_graph

    @property
    def stream_graph(self):
        return self.execution_graph.job_graph.stream_graph

    @property
    def digest(self) -> str:
        """sha256 of the trace: equal for identical runs."""
        return self.trace.digest()

    def _sink_id(self, sink: Any) -> str:
        if sink is None:
            if len(self.sink_logs) != 1:
                raise ValueError(f"this job has sinks {sorted(self.sink_logs)}: name one")
            return next(iter(self.sink_logs))
        if isinstance(sink, str):
            if sink not in self.sink_logs:
                raise KeyError(f"no sink {sink!r}; the sinks are {sorted(self.sink_logs)}")
            return sink
        transformation = getattr(sink, "_t", sink)
        return self.sink_ids[transformation.id]

    def values(self, sink: Any = None) -> list[Any]:
        """The values a sink wrote, in the order they arrived (all its subtasks)."""
        return list(self.sink_logs[self._sink_id(sink)].values)

    def to_chrome_trace(self, path: str | os.PathLike) -> Path:
        """Write the trace in Chrome's trace event format and return the path.

        Open the file in Perfetto (ui.perfetto.dev) or chrome://tracing: one track
        per subtask with its steps and backpressure as spans, checkpoints as spans on
        the JobManager, every other event as an instant (see `sim.trace.chrome`).
        """
        return write_chrome_trace(self.trace, path)

    def raise_for_failure(self) -> RunResult:
        if self.failure is not None:
            raise JobExecutionError(self.failure)
        return self

    def summary(self) -> str:
        """A readable account of the run: status, time, sinks, and a row per subtask."""
        lines = [f"job {self.job_name!r} (seed {self.seed}): {self.status} at {self.end_time_us / 1000:.3f} ms "
                 f"virtual time, {len(self.trace)} trace events, digest {self.digest[:16]}"]
        if self.faults:
            lines.append(f"fault plan: {self.faults.describe()}")
        if self.failure:
            record = "" if self.failure.record is None else f" (record {self.failure.record})"
            lines.append(f"failure: {self.failure.operator}: {self.failure.error}{record}")
        if self.attempts > 1 or self.failures:
            lines.append(self._recovery_summary())
        for plan in self.trace.of_type(BatchExecutionPlanned):
            lines.append(f"runtime mode BATCH (asked for {plan.requested_mode}): {plan.stages} stage(s), each "
                         f"started when the stages it reads from had finished; checkpointing {plan.checkpointing}")
        for sink, log in self.sink_logs.items():
            lines.append(f"sink {sink}: {len(log.values)} records")
        if self.checkpoints:
            lines += ["", self._checkpoint_summary()]
        width = max([34] + [len(m.task) + 2 for m in self.metrics.values()])
        header = f"{'subtask':<{width}}{'tm':<6}{'in':>9}{'out':>9}{'busy':>7}{'backpr.':>8}{'idle':>7}"
        lines += ["", header, "-" * len(header)]
        for m in self.metrics.values():
            lines.append(f"{m.task:<{width}}{m.taskmanager:<6}{m.records_in:>9}{m.records_out:>9}"
                         f"{m.share(m.busy_us):>7.0%}{m.share(m.backpressured_us):>8.0%}{m.share(m.idle_us):>7.0%}")
        return "\n".join(lines)

    def _recovery_summary(self) -> str:
        """Failures and restarts, one line each, from the trace."""
        lines = [f"recovery: {len(self.failures)} task failure(s), {self.restarts} restart(s)"]
        for e in self.trace.events:
            if isinstance(e, FaultInjected):
                lines.append(f"  {e.t_us / 1000:>10.3f} ms  fault: {e.detail}")
            elif isinstance(e, JobFailing):
                lines.append(f"  {e.t_us / 1000:>10.3f} ms  attempt {e.attempt} fails over: {e.cause}")
            elif isinstance(e, JobRestored):
                what = "nothing (sources from the start)" if e.checkpoint_id is None else \
                    f"{e.kind} {e.checkpoint_id}"
                lines.append(f"  {e.t_us / 1000:>10.3f} ms  attempt {e.attempt} restored from {what}")
            elif isinstance(e, RestartRefused):
                lines.append(f"  {e.t_us / 1000:>10.3f} ms  no restart: {e.reason}")
        return "\n".join(lines)

    def _checkpoint_summary(self) -> str:
        counts = checkpoint_counts(self.checkpoints)
        lines = ["checkpoints: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()),
                 f"{'id':>4} {'status':<11}{'end-to-end':>11}{'alignment':>10}{'sync':>8}{'async':>9}"
                 f"{'size':>10}{'in-flight':>10}  unaligned"]
        for c in self.checkpoints:
            e2e = "-" if c.end_to_end_us is None else f"{c.end_to_end_us / 1000:.1f}ms"
            lines.append(f"{c.checkpoint_id:>4} {c.status:<11}{e2e:>11}{c.max_alignment_us / 1000:>8.1f}ms"
                         f"{c.max_sync_us / 1000:>6.1f}ms{c.max_async_us / 1000:>7.1f}ms{c.checkpointed_bytes:>10}"
                         f"{c.persisted_in_flight_bytes:>10}  {c.unaligned}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """In Jupyter: the status, the summary, the job graph, the timelines and the checkpoint statistics."""
        from sim.viz.report import notebook_html  # matplotlib is loaded only when a run is shown
        return notebook_html(self)
