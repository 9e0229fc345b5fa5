"""`Simulation`: run a job built with `sim.api` on a described cluster, deterministically.

Layer: `sim.scenario`, the top of the stack below the command line. One run =
one `simpy.Environment` (integer microseconds), one trace, one seed from which
every random draw is derived by name. Also registers itself as the runner
behind `env.execute()`, which runs on a default local cluster sized to fit the
job, as Flink's local MiniCluster does.

In BATCH mode (`env.set_runtime_mode`) the run takes no checkpoints: no
coordinator is started, whatever the checkpoint configuration says, and the
trace says so (`BatchExecutionPlanned`).
"""

from __future__ import annotations

import hashlib
import tempfile
from typing import Any

from sim.api.checkpointing import CheckpointConfig, CheckpointingMode
from sim.api.environment import DEFAULT_JOB_NAME, StreamExecutionEnvironment, register_runner
from sim.cluster.coordinator import CheckpointCoordinator
from sim.cluster.deployment import slots_needed
from sim.cluster.spec import ClusterSpec
from sim.cluster.taskthread import TaskFailure, TaskThread
from sim.cluster.world import World
from sim.graph import build_execution_graph, build_job_graph, build_stream_graph
from sim.kernel.clock import ms_to_us
from sim.kernel.environment import SimEnvironment
from sim.kernel.rng import RngStreams
from sim.runtime.operators import SinkLog
from sim.scenario.result import RunResult, SubtaskMetrics
from sim.state.storage import CheckpointWriter
from sim.trace import BatchExecutionPlanned, JobFinished, JobStarted, RunStopped, TaskFailed, Trace, TraceLevel


class Simulation:
    """A job, a cluster, a seed: `Simulation(env, cluster=ClusterSpec(...), seed=7).run()`.

    Args:
        env: the environment the job was built on.
        cluster: the simulated cluster; default: one TaskManager with one slot
            and one core per slot the job needs.
        seed: every random choice (rebalance start, jitter, ...) derives from it.
        trace_level: how much to record (`TraceLevel.BUFFERS` by default).
        job_name: the name in the trace and summary.
        stdout: where `print()` sinks write (default: sys.stdout).
        checkpoint_dir: write completed checkpoints as files here (default: the checkpoint
            config's storage dir; with neither, checkpoints stay in memory, like Flink's
            JobManager storage).
    """

    def __init__(self, env: StreamExecutionEnvironment, cluster: ClusterSpec | None = None, seed: int = 0,
                 trace_level: TraceLevel = TraceLevel.BUFFERS, job_name: str = DEFAULT_JOB_NAME,
                 stdout: Any = None, checkpoint_dir: str | None = None):
        if not isinstance(env, StreamExecutionEnvironment):
            raise TypeError(f"Simulation needs a StreamExecutionEnvironment, got {type(env).__name__}")
        if type(seed) is not int:
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.env = env
        self.seed = seed
        self.trace_level = TraceLevel(trace_level)
        self.job_name = job_name
        self.stdout = stdout
        self.checkpoint_dir = checkpoint_dir or env.get_checkpoint_config().get_checkpoint_storage_dir()
        env.get_checkpoint_config().validate()
        sg = build_stream_graph(env, job_name)
        self.execution_graph = build_execution_graph(build_job_graph(sg))
        self.cluster = cluster or ClusterSpec.local(sum(slots_needed(self.execution_graph).values()))

    def run(self, until_ms: int | None = None) -> RunResult:
        """Run until the job finishes or fails (or `until_ms` of virtual time passes)."""
        with tempfile.TemporaryDirectory(prefix="sim-state-") as state_dir:
            return self._run(until_ms, state_dir)

    def _run(self, until_ms: int | None, state_dir: str) -> RunResult:
        kernel = SimEnvironment()
        trace = Trace(self.trace_level)
        outputs = {n.id: SinkLog() for n in self.execution_graph.job_graph.stream_graph.nodes if n.kind == "sink"}
        remaining = [len(self.execution_graph.subtasks)]
        failures: list[TaskFailure] = []
        stop = kernel.event()
        coordinator: list[CheckpointCoordinator] = []

        def on_done(thread: TaskThread, failure: TaskFailure | None) -> None:
            remaining[0] -= 1
            if failure is not None:
                failures.append(failure)
            elif coordinator:
                coordinator[0].task_finished(thread.id)
            if (failure is not None or remaining[0] == 0) and not stop.triggered:
                stop.succeed()

        def fail_job(reason: str) -> None:
            failure = TaskFailure("jobmanager", "checkpoint coordinator", reason, None, "")
            trace.emit(TaskFailed(kernel.now, failure.task, failure.operator, reason, None, ""))
            failures.append(failure)
            if not stop.triggered:
                stop.succeed()

        backend = self.env.get_state_backend()
        writer = CheckpointWriter.for_new_run(self.checkpoint_dir) if self.checkpoint_dir else None
        world = World(kernel, self.execution_graph, self.cluster, trace, RngStreams(self.seed), outputs.__getitem__,
                      on_done, self.stdout, backend.kind, backend.incremental, state_dir, writer)
        config = self.env.get_checkpoint_config()
        sg = self.execution_graph.job_graph.stream_graph
        if not sg.batch:
            coordinator.append(CheckpointCoordinator(kernel, config, trace, self.cluster.rpc_latency_us,
                                                     world.threads, writer, fail_job))
            world.attach_checkpointing(coordinator[0], _handler_mode(config))
        trace.emit(JobStarted(0, self.job_name, len(world.threads), self.seed))
        if sg.batch:
            trace.emit(BatchExecutionPlanned(0, sg.requested_mode.name, len(self.execution_graph.job_graph.stages),
                                             _checkpointing_in_batch(config)))
        world.start(trace)
        for c in coordinator:
            c.start()
        if until_ms is not None:
            kernel.schedule_call(ms_to_us(until_ms), lambda: stop.triggered or stop.succeed())
        kernel.run(until=stop)
        for c in coordinator:
            c.stop()
        world.dispose()
        status = "FAILED" if failures else "FINISHED" if remaining[0] == 0 else "RUNNING"
        if status == "RUNNING":
            trace.emit(RunStopped(kernel.now, f"until_ms={until_ms} reached"))
        else:
            trace.emit(JobFinished(kernel.now, self.job_name, status))
        return RunResult(self.job_name, self.seed, status, kernel.now, outputs, trace,
                         _metrics(world, kernel.now), self.execution_graph, world.placements,
                         failures[0] if failures else None, _sink_ids(self.execution_graph),
                         kernel.events_processed, coordinator[0].completed if coordinator else [])


def _checkpointing_in_batch(config: CheckpointConfig) -> str:
    """What BATCH mode does with the checkpoint configuration: nothing, and the trace says so."""
    if config.is_checkpointing_enabled():
        return f"ignored (interval {config.interval_ms} ms configured)"
    return "off"


def _handler_mode(config: CheckpointConfig) -> str:
    return "at_least_once" if config.mode is CheckpointingMode.AT_LEAST_ONCE else "exactly_once"


def _metrics(world: World, now: int) -> dict[str, SubtaskMetrics]:
    out = {}
    for th in world.threads:
        task = th.task
        task.count_inputs()
        life = (th.ended_us if th.ended_us is not None else now) - th.started_us if th.deployed else 0
        sinks = sum(op.records_in for op in task.operators.values() if op.node.kind == "sink")
        out[th.id] = SubtaskMetrics(
            th.id, world.placements[th.id].taskmanager, task.records_in, task.records_out + sinks,
            task.buffers_in, task.buffers_out, task.bytes_in, sum(w.bytes_out for w in task.writers),
            th.busy_us, th.backpressured_us, max(0, life - th.busy_us - th.backpressured_us))
    return out


def _sink_ids(eg) -> dict[int, str]:
    return {n.transformation_id: n.id for n in eg.job_graph.stream_graph.nodes if n.kind == "sink"}


class JobExecutionResult:
    """What `env.execute()` returns (PyFlink's names), plus the full `result`."""

    def __init__(self, result: RunResult):
        self.result = result

    def get_job_id(self) -> str:
        return hashlib.sha256(f"{self.result.job_name}:{self.result.seed}".encode()).hexdigest()[:32]

    def get_net_runtime(self) -> int:
        """Virtual run time in milliseconds."""
        return self.result.end_time_us // 1000

    def get_job_execution_result(self) -> JobExecutionResult:
        return self


class _DefaultRunner:
    """Runs `env.execute()` jobs on the default local cluster, seed 0."""

    def execute(self, env: StreamExecutionEnvironment, job_name: str) -> JobExecutionResult:
        result = Simulation(env, job_name=job_name).run()
        result.raise_for_failure()
        return JobExecutionResult(result)

    def execution_plan(self, env: StreamExecutionEnvironment) -> str:
        return build_stream_graph(env).to_json()


register_runner(_DefaultRunner())
