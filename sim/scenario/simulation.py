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
from pathlib import Path
from typing import Any, Iterable

from sim.api.checkpointing import CheckpointConfig, CheckpointingMode
from sim.api.environment import DEFAULT_JOB_NAME, StreamExecutionEnvironment, register_runner
from sim.cluster.coordinator import CheckpointCoordinator
from sim.cluster.deployment import slots_needed
from sim.cluster.spec import ClusterSpec
from sim.cluster.faults import FaultPlan
from sim.cluster.injector import validate_plan
from sim.cluster.jobmaster import JobMaster
from sim.cluster.world import World
from sim.graph import build_execution_graph, build_job_graph, build_stream_graph
from sim.kernel.clock import ms_to_us
from sim.kernel.environment import SimEnvironment
from sim.kernel.rng import RngStreams
from sim.runtime.operators import SinkLog
from sim.scenario.result import RunResult, SubtaskMetrics
from sim.state.storage import CheckpointWriter
from sim.runtime.restore import plan_restore
from sim.state.savepoint import load_savepoint
from sim.trace import BatchExecutionPlanned, JobFinished, JobStarted, RunStopped, Trace, TraceLevel


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
        faults: what goes wrong, and when (`FaultPlan`); nothing by default.
        restore_from: a savepoint (or retained checkpoint) directory the job starts from; the
            job may have another parallelism, and state is matched to operators by `uid`.
        allow_non_restored_state: start even if the snapshot holds state of operators this
            job does not have (Flink's `--allowNonRestoredState`).
        savepoint_dir: where `trigger_savepoint` and `stop_with_savepoint` write.
        max_attempts: stop restarting after this many execution attempts (the job is FAILED),
            so a failure that recurs in every attempt cannot run for ever; Flink's default
            strategy with checkpointing would restart without end.
    """

    def __init__(self, env: StreamExecutionEnvironment, cluster: ClusterSpec | None = None, seed: int = 0,
                 trace_level: TraceLevel = TraceLevel.BUFFERS, job_name: str = DEFAULT_JOB_NAME,
                 stdout: Any = None, checkpoint_dir: str | None = None, faults: FaultPlan | None = None,
                 restore_from: str | Path | None = None, allow_non_restored_state: bool = False,
                 savepoint_dir: str | Path | None = None, max_attempts: int = 100):
        if not isinstance(env, StreamExecutionEnvironment):
            raise TypeError(f"Simulation needs a StreamExecutionEnvironment, got {type(env).__name__}")
        if type(seed) is not int:
            raise TypeError(f"seed must be an int, got {seed!r}")
        if faults is not None and not isinstance(faults, FaultPlan):
            raise TypeError(f"faults must be a FaultPlan, got {type(faults).__name__}")
        self.env = env
        self.seed = seed
        self.trace_level = TraceLevel(trace_level)
        self.job_name = job_name
        self.stdout = stdout
        self.checkpoint_dir = checkpoint_dir or env.get_checkpoint_config().get_checkpoint_storage_dir()
        self.faults = faults or FaultPlan()
        self.allow_non_restored_state = allow_non_restored_state
        self.savepoint_dir = savepoint_dir
        if type(max_attempts) is not int or max_attempts < 1:
            raise ValueError(f"max_attempts must be a positive int, got {max_attempts!r}")
        self.max_attempts = max_attempts
        self.savepoint_requests: list[tuple[int, str | None, bool]] = []
        env.get_checkpoint_config().validate()
        sg = build_stream_graph(env, job_name)
        self.execution_graph = build_execution_graph(build_job_graph(sg))
        self.cluster = cluster or ClusterSpec.local(sum(slots_needed(self.execution_graph).values()))
        self.validate_faults()
        # Loaded (and verified) now, so a missing or damaged savepoint is reported before anything runs.
        self.restore_from = load_savepoint(restore_from) if restore_from is not None else None
        if self.restore_from is not None:
            plan_restore(self.restore_from, self.execution_graph, allow_non_restored_state)

    def validate_faults(self) -> None:
        """Check `faults` against this job and cluster now (`run()` checks it too, when it starts).

        Raises:
            FaultPlanError: the plan names a machine, subtask or operator this run does not have.
        """
        validate_plan(self.faults, self.cluster, self.execution_graph)

    def draw_faults(self, horizon_ms: int, max_faults: int = 2,
                    kinds: Iterable[str] = ("crash_taskmanager", "fail_task")) -> FaultPlan:
        """A fault plan drawn from this run's seed that names only this cluster's machines and this job's subtasks.

        `simulation.faults = simulation.draw_faults(horizon_ms=1_000)` makes a
        scenario's faults a function of its seed, so `python -m sim run
        SCENARIO --seed N` replays them (see `FaultPlan.random` for the draw).
        """
        operators = [(n.id, n.parallelism) for n in self.execution_graph.job_graph.stream_graph.nodes
                     if n.kind != "source"]
        return FaultPlan.random(self.seed, self.cluster.taskmanager_names,
                                [s.id for s in self.execution_graph.subtasks], horizon_ms, max_faults, kinds,
                                operators)

    def trigger_savepoint(self, at_ms: int, name: str | None = None) -> Simulation:
        """Take a savepoint at virtual time `at_ms` into `savepoint_dir` (as `savepoint-<name>`)."""
        return self._savepoint(at_ms, name, stop=False)

    def stop_with_savepoint(self, at_ms: int, name: str | None = None) -> Simulation:
        """At `at_ms`, take a savepoint, let its commits happen, then stop the job (status FINISHED)."""
        return self._savepoint(at_ms, name, stop=True)

    def _savepoint(self, at_ms: int, name: str | None, stop: bool) -> Simulation:
        if self.savepoint_dir is None:
            raise ValueError("a savepoint needs a directory: Simulation(..., savepoint_dir=...)")
        if type(at_ms) is not int or at_ms < 0:
            raise ValueError(f"savepoint time must be a non-negative int of ms, got {at_ms!r}")
        if self.execution_graph.job_graph.stream_graph.batch:
            raise ValueError("a job in BATCH mode takes no savepoints")
        self.savepoint_requests.append((at_ms, name, stop))
        return self

    def run(self, until_ms: int | None = None) -> RunResult:
        """Run until the job finishes or fails (or `until_ms` of virtual time passes)."""
        with tempfile.TemporaryDirectory(prefix="sim-state-") as state_dir:
            return self._run(until_ms, state_dir)

    def _run(self, until_ms: int | None, state_dir: str) -> RunResult:
        kernel = SimEnvironment()
        trace = Trace(self.trace_level)
        eg = self.execution_graph
        sg = eg.job_graph.stream_graph
        outputs = {n.id: SinkLog() for n in sg.nodes if n.kind == "sink"}
        stop = kernel.event()
        status: list[str] = []

        def on_end(final: str) -> None:
            status.append(final)
            if not stop.triggered:
                stop.succeed()

        backend = self.env.get_state_backend()
        config = self.env.get_checkpoint_config()
        writer = CheckpointWriter.for_new_run(self.checkpoint_dir) if self.checkpoint_dir else None
        coordinator = None
        master: list[JobMaster] = []
        if not sg.batch:
            coordinator = CheckpointCoordinator(
                kernel, config, trace, self.cluster.rpc_latency_us, [], writer,
                lambda reason: master[0].coordinator_failed(reason))
            coordinator.operators = {n.state_id: {"parallelism": n.parallelism, "max_parallelism": n.max_parallelism}
                                     for n in sg.nodes}
            if self.savepoint_dir is not None:
                coordinator.savepoint_writer = CheckpointWriter(self.savepoint_dir)
                coordinator.on_savepoint = lambda done: self._savepoint_done(done, coordinator, master[0])
        world_args = {"rng": RngStreams(self.seed), "sink_log": outputs.__getitem__, "stdout": self.stdout,
                      "backend": (backend.kind, backend.incremental, state_dir), "writer": writer,
                      "files": coordinator.writer_for if coordinator is not None else writer,
                      "handler_mode": _handler_mode(config)}
        master.append(JobMaster(kernel, eg, self.cluster, trace, world_args["rng"], world_args, coordinator,
                                self.env.get_restart_strategy(), config.is_checkpointing_enabled(), self.faults,
                                self.restore_from, self.allow_non_restored_state, on_end, self.max_attempts))
        trace.emit(JobStarted(0, self.job_name, len(eg.subtasks), self.seed))
        if sg.batch:
            trace.emit(BatchExecutionPlanned(0, sg.requested_mode.name, len(eg.job_graph.stages),
                                             _checkpointing_in_batch(config)))
        master[0].start()
        if coordinator is not None:
            coordinator.start()
            for at_ms, name, stop_job in self.savepoint_requests:
                kernel.schedule_call(ms_to_us(at_ms), lambda n=name, s=stop_job: coordinator.trigger_savepoint(n, s))
        if until_ms is not None:
            kernel.schedule_call(ms_to_us(until_ms), lambda: stop.triggered or stop.succeed())
        kernel.run(until=stop)
        if coordinator is not None:
            coordinator.stop()
        for world in master[0].worlds:
            world.dispose()
        final = status[0] if status else "RUNNING"
        if final == "RUNNING":
            trace.emit(RunStopped(kernel.now, f"until_ms={until_ms} reached"))
        else:
            trace.emit(JobFinished(kernel.now, self.job_name, final))
        failures = master[0].failures
        world = master[0].world
        return RunResult(self.job_name, self.seed, final, kernel.now, outputs, trace, _metrics(world, kernel.now),
                         eg, world.placements, master[0].final_failure if final == "FAILED" else None,
                         _sink_ids(eg), kernel.events_processed, coordinator.completed if coordinator else [],
                         attempts=master[0].attempt + 1, failures=list(failures),
                         savepoints=[c.path for c in (coordinator.completed if coordinator else []) if c.savepoint],
                         faults=self.faults)

    def _savepoint_done(self, done: Any, coordinator: CheckpointCoordinator, master: JobMaster) -> None:
        if coordinator.savepoints.get(done.checkpoint_id, {}).get("stop"):
            master.stop_with_savepoint(done)


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
