"""The job master: deploys a job's execution attempts, hears of failures, and restarts from the latest snapshot.

Layer: `sim.cluster` (the simulated world). One per run. It owns the
checkpoint coordinator, the fault injector and the heartbeats, and replaces
the whole `World` (threads and channels) of a failed attempt by a new one.

Lifecycle of a run: attempt 0 is deployed (from a savepoint if the run was
given one) -> running -> every task finished (FINISHED), or a failure:

- a task failure is reported at once (after the RPC latency);
- a dead or unreachable TaskManager is noticed when its heartbeats have been
  missing for `heartbeat_timeout_ms` (checked every `heartbeat_interval_ms`);
  it fails the attempt if a task on it had not finished, or if a channel
  from it had not yet brought its end of partition to its consumer (the
  output it still held is gone with it);

then the job fails over: every task of the attempt is canceled, pending
checkpoints are aborted, and the restart strategy decides. A restart waits
its backoff, waits for enough live slots (a lost TaskManager's slots are
gone until it comes back: restarted after a crash, or reachable again after
a partition or lost heartbeats), then deploys attempt n+1 from the latest
completed checkpoint (falling back to the savepoint the run started from,
or to nothing: sources from the start). Without a permitted restart the job
is FAILED. After a stop-with-savepoint the job ends FINISHED.

A lost TaskManager registers again, with its slots free, when it is heard
once more: it restarted, its partition from the JobManager healed, or its
heartbeats get through again. A restart short of slots whose missing
TaskManagers all crashed for good (no restart of theirs scheduled or
planned) would wait for ever: the job is FAILED instead, saying so.

Flink counterpart: `JobMaster`, `DefaultScheduler` with
`RestartPipelinedRegionFailoverStrategy`, `HeartbeatManagerImpl`,
`CheckpointCoordinator.restoreLatestCheckpointedStateToAll`.
Simplified: a failover restarts every task (a connected streaming job is one
pipelined region anyway; disconnected pipelines restart together too);
canceling is instantaneous; heartbeats are checked in rounds, so a loss is
noticed at the first round after the timeout, and a TaskManager written off
while alive registers again at the first round whose heartbeat gets through.
A wait for slots that could never end fails the job at once; one that can
waits up to the slot request timeout, then fails over again.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Callable

from sim.cluster.coordinator import CheckpointCoordinator, CompletedCheckpoint
from sim.cluster.deployment import slots_needed
from sim.cluster.faults import JOBMANAGER, CrashTaskManager, FaultPlan
from sim.cluster.injector import Conditions, FaultInjector, validate_plan
from sim.cluster.restart import create_backoff
from sim.cluster.spec import ClusterSpec
from sim.cluster.taskthread import TaskFailure, TaskThread
from sim.cluster.world import World
from sim.graph.execution_graph import ExecutionGraph
from sim.kernel.clock import ms_to_us
from sim.kernel.environment import SimEnvironment
from sim.kernel.rng import RngStreams
from sim.runtime.operators import END_OF_INPUT
from sim.runtime.restore import plan_restore
from sim.state.storage import LoadedCheckpoint, incremental_bases, latest_valid_checkpoint
from sim.trace import (
    CheckpointSkipped, JobFailing, JobRestored, RestartRefused, RestartScheduled, StateRestored, TaskCanceled,
    TaskFailed, TaskManagerJoined, TaskManagerLost, Trace, WaitingForResources,
)


class JobMaster:
    """Runs one job on the simulated cluster across execution attempts.

    Args:
        kernel: The run's SimPy environment.
        eg: The execution graph.
        cluster: The cluster.
        trace: The run's trace.
        rng: The run's random streams.
        world_args: Everything `World` needs besides the per-attempt arguments: `writer` is the
            checkpoint directory's writer (or None), `files` where subtask files go (a function of
            the checkpoint id, so a savepoint's go to the savepoint directory).
        coordinator: The checkpoint coordinator (None in BATCH mode).
        restart: The restart strategy configuration.
        checkpointing: Whether periodic checkpoints are on (decides the default restart strategy).
        faults: The fault plan.
        restore_from: A snapshot the first attempt starts from (a savepoint), or None.
        allow_non_restored_state: Restore even if the snapshot has state for operators the job lacks.
        on_end: Called once with the final status, "FINISHED" or "FAILED".
        max_attempts: A guard against a failure that recurs in every attempt: after this many
            attempts the job fails even if the strategy would restart again (Flink's would not stop).
    """

    def __init__(self, kernel: SimEnvironment, eg: ExecutionGraph, cluster: ClusterSpec, trace: Trace,
                 rng: RngStreams, world_args: dict[str, Any], coordinator: CheckpointCoordinator | None,
                 restart: Any, checkpointing: bool, faults: FaultPlan, restore_from: LoadedCheckpoint | None,
                 allow_non_restored_state: bool, on_end: Callable[[str], None], max_attempts: int = 100):
        self.env = kernel
        self.eg = eg
        self.cluster = cluster
        self.trace = trace
        self.world_args = world_args
        self.coordinator = coordinator
        self.backoff = create_backoff(restart, checkpointing, rng.stream("restart.jitter"))
        self.conditions = Conditions(kernel, trace)
        self.injector = FaultInjector(kernel, faults, self.conditions, trace, self)
        self.initial_restore = restore_from
        self.allow_non_restored_state = allow_non_restored_state
        self.on_end = on_end
        self.max_attempts = max_attempts
        self.attempt = 0
        self.world: World | None = None
        self.worlds: list[World] = []
        self.failures: list[TaskFailure] = []
        self.final_failure: TaskFailure | None = None
        """The task failure the job failed of (no restart followed it); None while it runs or recovers."""
        self.remaining = 0
        self.ended = False
        self.restarting = False
        self.failing = False
        self.waiting_since_us: int | None = None
        self.lost: set[str] = set()
        self.last_heard = {tm: 0 for tm in cluster.taskmanager_names}
        self.returns_pending: Counter[str] = Counter()
        """Restarts of crashed TaskManagers scheduled and not yet happened, per TaskManager."""
        if coordinator is not None:
            coordinator.conditions = self.conditions
        validate_plan(faults, cluster, eg)

    # --- attempts -----------------------------------------------------------------------

    def start(self) -> None:
        """Deploy the first attempt, start the injector and the heartbeats."""
        self.injector.start()
        self.env.process(self.run_heartbeats())
        self._deploy(self.initial_restore, first=True)

    def _alive(self) -> list[str]:
        """The TaskManagers the JobManager counts on (not lost), in the cluster's order."""
        return [tm for tm in self.cluster.taskmanager_names if tm not in self.lost]

    def _deploy(self, restore: LoadedCheckpoint | None, first: bool = False) -> None:
        world = World(self.env, self.eg, self.cluster, self.trace, self.world_args["rng"],
                      self.world_args["sink_log"], self._task_done, self.world_args["stdout"],
                      *self.world_args["backend"], self.world_args["files"], taskmanagers=self._alive(),
                      attempt=self.attempt, conditions=self.conditions)
        self.world, self.remaining, self.failing = world, len(world.threads), False
        self.worlds.append(world)
        for fault in self.injector.record_faults(self.attempt):
            for thread in world.threads:
                if thread.task.subtask.index == fault.subtask and fault.operator in thread.task.operators:
                    thread.task.failures_armed[fault.operator] = fault.record
        if restore is not None or not first:
            self._restore(world, restore)
        if self.coordinator is not None:
            world.attach_checkpointing(self.coordinator, self.world_args["handler_mode"])
            self.coordinator.resume(world.threads)
        world.start(self.trace)

    def _restore(self, world: World, snapshot: LoadedCheckpoint | None) -> None:
        """Give every task its share of `snapshot` before it opens (nothing: sources start over)."""
        kind = "none" if snapshot is None else snapshot.kind
        path = None if snapshot is None or snapshot.path is None else Path(snapshot.path).name
        cid = None if snapshot is None else snapshot.checkpoint_id
        self.trace.emit(JobRestored(self.env.now, self.attempt, cid, kind, path))
        if snapshot is None:
            return
        plan = plan_restore(snapshot, self.eg, self.allow_non_restored_state)
        if self.coordinator is not None:
            self.coordinator.restored(snapshot.checkpoint_id)
        finished = set(snapshot.metadata.get("metadata", {}).get("finished_tasks", ()))
        for thread in world.threads:
            # A task that had finished before the snapshot stays finished: it ends its outputs and nothing more.
            thread.restored_finished = thread.id in finished
            task_restore = plan.tasks.get(thread.id)
            if task_restore is None:
                continue
            thread.task.begin_step(self.env.now)  # what the restore does (re-commits) happens now
            thread.task.restore(task_restore)
            if self.trace.checkpoints:
                self.trace.emit(StateRestored(self.env.now, thread.id, snapshot.checkpoint_id,
                                              len(task_restore.operators), task_restore.key_groups,
                                              task_restore.size_bytes))

    def _task_done(self, thread: TaskThread, failure: TaskFailure | None) -> None:
        if thread not in self.world.threads or self.ended:
            return  # a thread of an attempt already replaced
        self.remaining -= 1
        if failure is not None:
            # The attempt is failing from now on, even before the JobManager hears of it.
            self.failures.append(failure)
            self.failing = True
            self.env.call_after(self.cluster.rpc_latency_us,
                                lambda: self.fail(f"{failure.operator} failed: {failure.error}", failure.task,
                                                  failure))
        else:
            if self.coordinator is not None:
                self.coordinator.task_finished(thread.id)
            if self.remaining == 0 and not self.failing:
                self._end("FINISHED")

    # --- failures -----------------------------------------------------------------------

    def fail_task(self, task: str, cause: BaseException) -> None:
        """An injected fault fails subtask `task` of the running attempt (if it still runs)."""
        for thread in self.world.threads:
            if thread.id == task:
                thread.fail_externally(cause)

    def fail(self, cause: str, task: str | None = None, failure: TaskFailure | None = None) -> None:
        """Fail the running attempt over: cancel it, abort pending checkpoints, restart if the strategy allows.

        `failure` is the task failure behind it (None for a lost TaskManager): if no restart follows, it is
        the job's failure (`final_failure`).
        """
        if self.ended or self.restarting:
            return
        self.restarting = True
        self.trace.emit(JobFailing(self.env.now, cause, self.attempt, [t.id for t in self.world.threads]))
        self._cancel_attempt()
        if self.coordinator is not None:
            self.coordinator.suspend()
        self.backoff.failure(self.env.now)
        refusal = None if self.backoff.can_restart() else self.backoff.refusal()
        if refusal is None and self.attempt + 1 >= self.max_attempts:
            refusal = (f"the simulation allows at most {self.max_attempts} execution attempts "
                       f"(Simulation(max_attempts=...)); the strategy would restart again")
        if refusal is not None:
            self.final_failure = failure
            self.trace.emit(RestartRefused(self.env.now, self.backoff.name, refusal))
            self._end("FAILED")
            return
        delay = self.backoff.backoff_us()
        self.attempt += 1
        self.trace.emit(RestartScheduled(self.env.now, self.backoff.name, self.attempt, delay))
        self.env.schedule_call(delay, self._restart)

    def _cancel_attempt(self) -> None:
        """Stop every task of the running attempt that still runs, and trace each."""
        for task_id in self.world.cancel():
            self.trace.emit(TaskCanceled(self.env.now, task_id, self.attempt))

    def _restart(self) -> None:
        if self.ended:
            return
        need = sum(slots_needed(self.eg).values())
        alive = self._alive()
        have = len(alive) * self.cluster.slots_per_task_manager
        if have < need:
            refusal = self._never_enough_slots(need, alive)
            if refusal is not None:
                self.trace.emit(RestartRefused(self.env.now, self.backoff.name, refusal))
                self._end("FAILED")
                return
            if self.waiting_since_us is None:
                self.waiting_since_us = self.env.now
                self.trace.emit(WaitingForResources(self.env.now, need, have))
                attempt = self.attempt
                self.env.schedule_call(ms_to_us(self.cluster.slot_request_timeout_ms),
                                       lambda: self._slot_request_timed_out(attempt, need))
            return
        self.waiting_since_us = None
        self.restarting = False
        self._deploy(self._latest_snapshot())

    def _slot_request_timed_out(self, attempt: int, need: int) -> None:
        """No slots came within the slot request timeout: the restart itself fails (a failure like any other)."""
        if self.ended or self.attempt != attempt or self.waiting_since_us is None:
            return
        self.waiting_since_us = None
        self.restarting = False
        self.fail(f"could not get {need} slots within {self.cluster.slot_request_timeout_ms} ms "
                  f"(slot request timeout)")

    def _never_enough_slots(self, need: int, alive: list[str]) -> str | None:
        """Why waiting for slots would never end (None: a lost TaskManager may still register again).

        A lost TaskManager that did not crash (partitioned, or its heartbeats
        lost) registers again once it is heard; a crashed one only if its
        restart is scheduled or a later fault of the plan restarts it.
        """
        now = self.env.now
        coming = [tm for tm in sorted(self.lost) if tm not in self.conditions.crashed or self.returns_pending[tm] or any(
            isinstance(f, CrashTaskManager) and f.taskmanager == tm and f.back_after_ms is not None
            and ms_to_us(f.at_ms) >= now for f in self.injector.plan)]
        if (len(alive) + len(coming)) * self.cluster.slots_per_task_manager >= need:
            return None
        gone = sorted(set(self.lost) - set(coming))
        return (f"the job needs {need} slots, {len(alive) * self.cluster.slots_per_task_manager} are alive, and "
                f"{', '.join(gone)} crashed for good: waiting for resources would never end")

    def _latest_snapshot(self) -> LoadedCheckpoint | None:
        """The newest completed checkpoint (not an intermediate savepoint), else the snapshot the run started from."""
        coordinator = self.coordinator
        writer = self.world_args["writer"]
        if writer is not None:
            loaded, skipped = latest_valid_checkpoint(writer.root)
            for s in skipped:
                self.trace.emit(CheckpointSkipped(self.env.now, s.checkpoint_id, s.reason))
            if loaded is not None:
                return loaded
        elif coordinator is not None:
            done = [c for c in coordinator.completed if not c.savepoint]
            if done:
                return _in_memory(done[-1], coordinator)
        return self.initial_restore

    # --- TaskManagers and heartbeats ---------------------------------------------------------

    def crash_taskmanager(self, taskmanager: str, back_after_us: int | None) -> None:
        """`taskmanager` dies now: its tasks stop, its heartbeats stop; it may come back later."""
        self.conditions.crashed.add(taskmanager)
        if self.world is not None:
            self.world.kill_taskmanager(taskmanager)
        if back_after_us is not None:
            self.returns_pending[taskmanager] += 1
            self.env.schedule_call(back_after_us, lambda: self._taskmanager_back(taskmanager))

    def _taskmanager_back(self, taskmanager: str) -> None:
        """A crashed TaskManager restarted: its old tasks are gone for good, its slots are free again."""
        self.returns_pending[taskmanager] -= 1
        self.conditions.crashed.discard(taskmanager)
        if taskmanager not in self.lost:
            # It registers anew before its old incarnation timed out: that one is lost now.
            self._declare_lost(taskmanager)
        self._rejoin(taskmanager)

    def partition_healed(self, a: str, b: str) -> None:
        """A partition ended; a TaskManager the JobManager had written off registers again."""
        if JOBMANAGER in (a, b):
            self._rejoin(b if a == JOBMANAGER else a)

    def _rejoin(self, tm: str) -> None:
        """A TaskManager the JobManager had written off, alive all along, reaches it again and registers anew."""
        if tm in self.lost and tm not in self.conditions.crashed:
            self.lost.discard(tm)
            self.last_heard[tm] = self.env.now
            self.trace.emit(TaskManagerJoined(self.env.now, tm))
            self._resources_changed()

    def _resources_changed(self) -> None:
        if self.waiting_since_us is not None and not self.ended:
            self._restart()

    def run_heartbeats(self):
        """SimPy process. Every heartbeat interval, hear from each reachable TaskManager; declare silent ones lost."""
        interval = ms_to_us(self.cluster.heartbeat_interval_ms)
        timeout = ms_to_us(self.cluster.heartbeat_timeout_ms)
        while not self.ended:
            yield self.env.timeout(interval)
            for tm in self.cluster.taskmanager_names:
                heard = not self.conditions.rpc_lost("heartbeat", tm, "heartbeat")
                if tm in self.lost:
                    # Written off but alive (its heartbeats were lost): it registers again once they get
                    # through, as a TaskExecutor reconnects to the ResourceManager after its own timeout.
                    if heard:
                        self._rejoin(tm)
                elif heard:
                    self.last_heard[tm] = self.env.now
                elif self.env.now - self.last_heard[tm] >= timeout:
                    self._declare_lost(tm)

    def _declare_lost(self, taskmanager: str) -> None:
        self.lost.add(taskmanager)
        self.trace.emit(TaskManagerLost(self.env.now, taskmanager, self.env.now - self.last_heard[taskmanager]))
        if self.world is not None and self.world.needs_taskmanager(taskmanager):
            self.fail(f"TaskManager {taskmanager} lost (no heartbeat for "
                      f"{(self.env.now - self.last_heard[taskmanager]) // 1000} ms)")
        self._resources_changed()  # a restart waiting for slots may now never get them

    # --- the end ---------------------------------------------------------------------------

    def stop_with_savepoint(self, savepoint: CompletedCheckpoint) -> None:
        """The stop-with-savepoint completed: the tasks stop and the job ends FINISHED (after its commits)."""
        def stop() -> None:
            if not self.ended:
                self._cancel_attempt()
                self._end("FINISHED")

        # Let the completion notices (and the sinks' commits) arrive first.
        self.env.schedule_call(self.cluster.rpc_latency_us, stop)

    def _end(self, status: str) -> None:
        if self.ended:
            return
        self.ended = True
        if status == "FINISHED":
            self._notify_end_of_input()
        self.on_end(status)

    def _notify_end_of_input(self) -> None:
        """The whole job finished: operators commit what they kept for the end (Flink's final checkpoint)."""
        for thread in self.world.threads:
            if not thread.stopped and not thread.failed:
                thread.notify_operators(END_OF_INPUT)

    def coordinator_failed(self, reason: str) -> None:
        """The checkpoint coordinator fails the job (too many failed checkpoints): a failover like any other."""
        failure = TaskFailure("jobmanager", "checkpoint coordinator", reason, None, "")
        self.trace.emit(TaskFailed(self.env.now, failure.task, failure.operator, failure.error, None, ""))
        self.failures.append(failure)
        self.fail(f"checkpoint coordinator: {reason}", failure=failure)


def _in_memory(completed: CompletedCheckpoint, coordinator: CheckpointCoordinator) -> LoadedCheckpoint:
    """A checkpoint kept in JobManager memory, as a `LoadedCheckpoint` (with the checkpoints it builds on)."""
    by_id = {c.checkpoint_id: c for c in coordinator.completed}

    def load(c: CompletedCheckpoint, bases: list[LoadedCheckpoint]) -> LoadedCheckpoint:
        return LoadedCheckpoint.from_payloads(c.checkpoint_id, "checkpoint", c.metadata, c.payloads, bases)

    def bases_of(c: CompletedCheckpoint) -> list[int]:
        return sorted({b for payload in c.payloads.values() for b in incremental_bases(payload)})

    # A chain's bases are incremental too (1 <- 2 <- 3): each is loaded with the older ones it builds on.
    bases: dict[int, LoadedCheckpoint] = {}
    for b in bases_of(completed):
        if b in by_id:
            bases[b] = load(by_id[b], [bases[older] for older in bases_of(by_id[b]) if older in bases])
    return load(completed, list(bases.values()))
