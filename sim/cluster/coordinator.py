"""The JobManager's checkpoint coordinator: triggers, acknowledgements, completion, expiry, abort.

Layer: `sim.cluster` (the simulated world; SimPy processes). Every RPC between
the JobManager and a task pays `ClusterSpec.rpc_latency_us`.

Lifecycle of a checkpoint: triggered (a new id; the trigger goes to every
running source; with no source running, nothing is triggered) -> pending
(every task that has not finished acknowledges after its asynchronous part,
those of a TaskManager that died unnoticed included: they never do) ->
completed (all acknowledged: metadata written, older pending checkpoints
aborted as SUBSUMED, every task notified) or aborted (declined by a task,
expired after the timeout, or subsumed). A task that finishes without having
started a pending checkpoint acknowledges it empty, as Flink does for
finished tasks.

Flink counterpart: `CheckpointCoordinator`, `PendingCheckpoint`,
`CompletedCheckpoint`, `CheckpointFailureManager`.
Simplified: the first checkpoint is triggered one interval after the job
starts (Flink picks a random initial delay); no operator coordinators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import simpy

from sim.kernel.environment import SimEnvironment
from sim.api.checkpointing import CheckpointConfig, CheckpointingMode
from sim.kernel.clock import ms_to_us
from sim.runtime.checkpoint_events import AbortReason, BarrierKind, CheckpointBarrier, CheckpointOptions
from sim.trace import (
    CheckpointAborted, CheckpointCompleted, CheckpointTriggered, SubtaskAcknowledged, Trace,
)

if TYPE_CHECKING:
    from sim.cluster.taskthread import TaskThread

# What counts towards the tolerable-failure limit: expiry, async-phase errors and
# JobManager I/O errors (flink-facts §8). Subsumption never does; a task failure
# fails the job anyway.
COUNTED_FAILURES = (AbortReason.EXPIRED, AbortReason.ASYNC_PHASE_FAILED, AbortReason.STORAGE_FAILED)

@dataclass
class SubtaskAck:
    """What a subtask reports when its part of a checkpoint is durable."""

    task: str
    sync_us: int = 0
    async_us: int = 0
    alignment_us: int = 0
    start_delay_us: int = 0
    checkpointed_bytes: int = 0
    full_bytes: int = 0
    processed_in_flight_bytes: int = 0
    persisted_in_flight_bytes: int = 0
    unaligned: bool = False
    payload: dict | None = None
    handle: Any = None
    finished: bool = False


@dataclass
class PendingCheckpoint:
    checkpoint_id: int
    trigger_us: int
    barrier: CheckpointBarrier
    waiting: set[str]
    acks: dict[str, SubtaskAck] = field(default_factory=dict)


@dataclass
class CompletedCheckpoint:
    """A completed checkpoint: its id, times, and every subtask's state payload (and files, if written)."""

    checkpoint_id: int
    trigger_us: int
    completed_us: int
    savepoint: bool
    payloads: dict[str, dict]
    path: str | None
    finished_tasks: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    """What was recorded beside the state (`CheckpointCoordinator.metadata`), in a file or kept in memory."""


def barrier_options(config: CheckpointConfig, savepoint: bool = False) -> CheckpointOptions:
    """The barrier kind the configuration asks for (savepoints are always aligned)."""
    if config.mode is CheckpointingMode.AT_LEAST_ONCE:
        return CheckpointOptions(BarrierKind.AT_LEAST_ONCE)
    if config.unaligned and not savepoint:
        if config.aligned_timeout_ms > 0:
            return CheckpointOptions(BarrierKind.TIMEOUTABLE_ALIGNED, ms_to_us(config.aligned_timeout_ms))
        return CheckpointOptions(BarrierKind.UNALIGNED)
    return CheckpointOptions(BarrierKind.ALIGNED, is_savepoint=savepoint)


class CheckpointCoordinator:
    """Runs periodic checkpoints for one job on the JobManager."""

    def __init__(self, env: SimEnvironment, config: CheckpointConfig, trace: Trace, rpc_latency_us: int,
                 threads: list[TaskThread], writer: Any, fail_job: Callable[[str], None]):
        config.validate()
        self.env = env
        self.config = config
        self.trace = trace
        self.rpc_latency_us = rpc_latency_us
        self.threads = threads
        self.writer = writer
        self.fail_job = fail_job
        self.pending: dict[int, PendingCheckpoint] = {}
        self.completed: list[CompletedCheckpoint] = []
        self.next_id = 1
        self.last_completion_us: int | None = None
        self.consecutive_failures = 0
        self.stopped = False
        self.suspended = False
        self.not_before_us = 0
        self.conditions: Any = None
        self.savepoint_writer: Any = None
        self.savepoints: dict[int, dict[str, Any]] = {}
        self.on_savepoint: Callable[[CompletedCheckpoint], None] | None = None
        self.operators: dict[str, dict[str, int]] = {}
        self._wakeup: simpy.Event | None = None

    # --- triggering -------------------------------------------------------------------

    def start(self) -> None:
        if self.config.is_checkpointing_enabled():
            self.env.process(self.run_periodic_trigger())

    def run_periodic_trigger(self):
        """SimPy process. Trigger a checkpoint every interval, respecting min pause and max concurrency."""
        interval_us = ms_to_us(self.config.interval_ms)
        next_at = interval_us
        while not self.stopped:
            yield self.env.timeout(max(0, next_at - self.env.now))
            while not self.stopped and not self._may_trigger():
                self._wakeup = self.env.event()
                if len(self.pending) >= self.config.max_concurrent or self.suspended:
                    yield self._wakeup  # a completion or an abort frees a place (and wakes this process)
                else:
                    yield self._wakeup | self.env.timeout(max(1, self._earliest_trigger_us() - self.env.now))
            if self.stopped:
                return
            self.trigger()
            next_at = self.env.now + interval_us

    def _earliest_trigger_us(self) -> int:
        if self.last_completion_us is None:
            return max(self.env.now, self.not_before_us)
        return max(self.last_completion_us + ms_to_us(self.config.min_pause_ms), self.not_before_us)

    def _may_trigger(self) -> bool:
        return (not self.suspended and len(self.pending) < self.config.max_concurrent
                and self.env.now >= self._earliest_trigger_us())

    # --- failover -------------------------------------------------------------------------

    def suspend(self) -> None:
        """The job fails over: abort every pending checkpoint (TASK_FAILED) and trigger none until `resume`."""
        self.suspended = True
        for cid in sorted(self.pending):
            self.abort(cid, AbortReason.TASK_FAILED)

    def resume(self, threads: list[TaskThread]) -> None:
        """A new execution attempt runs `threads`: periodic checkpoints start again one interval from now."""
        self.threads = threads
        self.suspended = False
        if self.config.is_checkpointing_enabled():
            self.not_before_us = self.env.now + ms_to_us(self.config.interval_ms)
        self._wake()

    def restored(self, checkpoint_id: int) -> None:
        """The job starts from snapshot `checkpoint_id`: new checkpoint ids continue after it, as in Flink."""
        self.next_id = max(self.next_id, checkpoint_id + 1)

    def stops_job(self, checkpoint_id: int) -> bool:
        """Whether `checkpoint_id` is a stop-with-savepoint (sources read nothing after its barrier)."""
        return self.savepoints.get(checkpoint_id, {}).get("stop", False)

    def writer_for(self, checkpoint_id: int) -> Any:
        """Where the files of `checkpoint_id` go: the savepoint directory for a savepoint."""
        return self.savepoint_writer if checkpoint_id in self.savepoints else self.writer

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.triggered:
            self._wakeup.succeed()

    def trigger_savepoint(self, name: str | None, stop: bool) -> int | None:
        """Take a savepoint (always aligned) into the savepoint directory; `stop`: the job ends after it."""
        if self.savepoint_writer is None:
            raise ValueError("a savepoint needs a directory: Simulation(savepoint_dir=...)")
        cid = self.next_id
        self.savepoints[cid] = {"name": name or f"{cid}", "stop": stop}
        if self.trigger(savepoint=True) is None:
            del self.savepoints[cid]
            return None
        return cid

    def trigger(self, savepoint: bool = False) -> int | None:
        """Start checkpoint `next_id` now; returns its id, or None when no task is running."""
        # Every task that has not finished must acknowledge, including those on a TaskManager that died
        # unnoticed: the JobManager still sees them running, and their state belongs in the checkpoint.
        running = [t for t in self.threads if not t.finished_normally]
        if self.suspended or not any(t.is_root() for t in running):
            return None
        cid, now = self.next_id, self.env.now
        self.next_id += 1
        barrier = CheckpointBarrier(cid, now, barrier_options(self.config, savepoint))
        self.pending[cid] = PendingCheckpoint(cid, now, barrier, {t.id for t in running})
        self.trace.emit(CheckpointTriggered(now, cid, savepoint, barrier.options.is_unaligned, len(running)))
        for thread in running:
            if thread.is_root():
                self.rpc(lambda th=thread: th.checkpointing.trigger_received(barrier), "trigger", thread.taskmanager,
                         f"trigger checkpoint {cid}")
        timeout_us = ms_to_us(self.config.timeout_ms)
        self.env.schedule_call(timeout_us, lambda: self.abort(cid, AbortReason.EXPIRED))
        return cid

    def rpc(self, call: Callable[[], None], kind: str = "any", taskmanager: str = "", what: str = "") -> None:
        """An RPC between the JobManager and `taskmanager`, unless a fault loses it (then traced as lost)."""
        if self.conditions is not None and self.conditions.rpc_lost(kind, taskmanager, what):
            return
        self.env.call_after(self.rpc_latency_us, call)

    # --- from the tasks ---------------------------------------------------------------

    def acknowledge(self, checkpoint_id: int, ack: SubtaskAck) -> None:
        """A subtask's acknowledgement arrived (called after the RPC latency)."""
        pending = self.pending.get(checkpoint_id)
        if pending is None or ack.task not in pending.waiting:
            return
        pending.waiting.discard(ack.task)
        pending.acks[ack.task] = ack
        self.trace.emit(SubtaskAcknowledged(
            self.env.now, checkpoint_id, ack.task, ack.sync_us, ack.async_us, ack.alignment_us,
            ack.start_delay_us, ack.checkpointed_bytes, ack.full_bytes, ack.processed_in_flight_bytes,
            ack.persisted_in_flight_bytes, ack.unaligned))
        if not pending.waiting:
            self._complete(pending)

    def task_finished(self, task: str) -> None:
        """A task ended: it acknowledges, empty, every pending checkpoint it never started."""
        for cid in sorted(self.pending):
            pending = self.pending.get(cid)
            if pending is not None and task in pending.waiting and not self._started(task, cid):
                self.acknowledge(cid, SubtaskAck(task, finished=True))

    def _started(self, task: str, checkpoint_id: int) -> bool:
        thread = next(t for t in self.threads if t.id == task)
        return thread.checkpointing.has_started(checkpoint_id)

    def decline(self, checkpoint_id: int, task: str, reason: AbortReason) -> None:
        if checkpoint_id in self.pending:
            self.abort(checkpoint_id, reason)

    # --- outcomes ----------------------------------------------------------------------

    def _complete(self, pending: PendingCheckpoint) -> None:
        cid, now = pending.checkpoint_id, self.env.now
        del self.pending[cid]
        path = None
        writer = self.writer_for(cid)
        savepoint = self.savepoints.get(cid)
        metadata = self.metadata(pending.trigger_us, pending.acks)
        if savepoint is not None:
            metadata["name"] = savepoint["name"]
        if writer is not None:
            handles = [a.handle for _, a in sorted(pending.acks.items()) if a.handle is not None]
            kind = "savepoint" if pending.barrier.options.is_savepoint else "checkpoint"
            path = str(writer.finalize(cid, kind, metadata, handles))
        payloads = {task: a.payload for task, a in sorted(pending.acks.items()) if a.payload is not None}
        self.completed.append(CompletedCheckpoint(cid, pending.trigger_us, now,
                                                  pending.barrier.options.is_savepoint, payloads, path,
                                                  tuple(metadata["finished_tasks"]), metadata))
        acks = pending.acks.values()
        # The trace names the directory relative to the checkpoint root, so a digest does
        # not depend on where the run writes its files.
        self.trace.emit(CheckpointCompleted(now, cid, now - pending.trigger_us,
                                            sum(a.checkpointed_bytes for a in acks), sum(a.full_bytes for a in acks),
                                            None if path is None else Path(path).name))
        self.last_completion_us = now
        self.consecutive_failures = 0
        for older in sorted(k for k in self.pending if k < cid):
            if not self.pending[older].barrier.options.is_savepoint:
                self.abort(older, AbortReason.SUBSUMED)
        if savepoint is None or savepoint["stop"]:
            # Intermediate savepoints commit no side effects (Flink 1.15 and later).
            for thread in self.threads:
                self.rpc(lambda th=thread: th.checkpointing.notify_checkpoint_complete(cid), "notify",
                         thread.taskmanager, f"notify checkpoint {cid} complete")
        if savepoint is not None and self.on_savepoint is not None:
            self.on_savepoint(self.completed[-1])
        self._wake()

    def metadata(self, trigger_us: int, acks: dict[str, SubtaskAck]) -> dict[str, Any]:
        """What a checkpoint records beside the state: times, operators' parallelism, tasks already finished."""
        return {"trigger_us": trigger_us, "completed_us": self.env.now, "operators": self.operators,
                "finished_tasks": sorted(task for task, a in acks.items() if a.finished)}

    def abort(self, checkpoint_id: int, reason: AbortReason) -> None:
        """Give up on a pending checkpoint (no-op if it is no longer pending)."""
        pending = self.pending.pop(checkpoint_id, None)
        if pending is None:
            return
        if self.writer is not None:
            self.writer.abort(checkpoint_id)
        self.trace.emit(CheckpointAborted(self.env.now, checkpoint_id, reason.name))
        for thread in self.threads:
            self.rpc(lambda th=thread: th.checkpointing.notify_checkpoint_aborted(checkpoint_id), "notify",
                     thread.taskmanager, f"notify checkpoint {checkpoint_id} aborted")
        if reason in COUNTED_FAILURES:
            self.consecutive_failures += 1
            if self.consecutive_failures > self.config.tolerable_failures:
                self.fail_job(f"checkpoint {checkpoint_id} failed ({reason.name}) and only "
                              f"{self.config.tolerable_failures} checkpoint failure(s) are tolerated")
        self._wake()

    def stop(self) -> None:
        """The job ended: stop triggering, and abort what is still pending (removing its files)."""
        self.stopped = True
        for cid in sorted(self.pending):
            self.abort(cid, AbortReason.JOB_FINISHED)
        self._wake()
