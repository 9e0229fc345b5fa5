"""A subtask's part in checkpoints: barriers, snapshots, channel state, upload, acknowledgement.

Layer: `sim.cluster` (the simulated world). `TaskCheckpointing` is the
controller of the task's `BarrierHandler` (pure runtime logic) and carries out
what it decides:

- perform a checkpoint, atomically in the task thread: forward the barrier on
  every output (aligned barriers behind the pending data; unaligned ones ahead
  of it, except on forward, rescale and broadcast edges, which still align),
  then take the synchronous snapshot of every operator's state, charging its
  CPU;
- the asynchronous part, in its own process: wait for the last barrier
  (unaligned) and for every timeoutable barrier still queued behind data to
  be sent or promoted, upload snapshot plus channel state through the
  TaskManager's link to the checkpoint store, write the files, acknowledge
  to the JobManager;
- channel state: buffers overtaken by a priority barrier, and buffers consumed
  from a channel between the snapshot and that channel's barrier;
- statistics: start delay, alignment, sync and async durations, sizes.

Flink counterpart: `SubtaskCheckpointCoordinatorImpl`, `ChannelStateWriter`,
`AsyncCheckpointRunnable`, `CheckpointBarrierHandler`'s controller side.
Simplified: channel state is recorded buffer by buffer (sizes and values) and
uploaded with the snapshot; the upload is one transfer per subtask.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.api.transformations import PartitionerKind
from sim.kernel.clock import ns_to_us_carry
from sim.runtime.barriers import BarrierHandler
from sim.runtime.checkpoint_events import (
    AbortReason, BarrierKind, CancelCheckpointMarker, CheckpointBarrier, CheckpointOptions,
)
from sim.state import serde
from sim.trace import (
    AlignmentTimedOut, BarrierReceived, ChannelBlocked, ChannelResumed, ChannelStatePersisted, CheckpointDeclined,
    SnapshotTaken,
)

if TYPE_CHECKING:
    from sim.cluster.coordinator import CheckpointCoordinator
    from sim.cluster.taskthread import TaskThread


@dataclass
class SubtaskCheckpoint:
    """This subtask's progress on one checkpoint."""

    barrier: CheckpointBarrier
    unaligned: bool
    first_barrier_us: int | None = None
    last_barrier_us: int | None = None
    snapshot_us: int | None = None
    sync_us: int = 0
    checkpointed_bytes: int = 0
    full_bytes: int = 0
    processed_in_flight_bytes: int = 0
    input_state: dict[str, list[Any]] = field(default_factory=dict)
    output_state: dict[str, list[Any]] = field(default_factory=dict)
    payload: dict | None = None
    inputs_done: Any = None
    outputs_waiting: set[str] = field(default_factory=set)
    """Output channels still holding this checkpoint's timeoutable barrier behind data."""
    outputs_done: Any = None
    aborted: bool = False

    @property
    def checkpoint_id(self) -> int:
        return self.barrier.checkpoint_id


def _barrier_for_edge(barrier: CheckpointBarrier, kind: PartitionerKind) -> CheckpointBarrier:
    """Forward, rescale and broadcast edges keep aligning in an unaligned checkpoint."""
    pointwise_or_broadcast = kind.is_pointwise or kind is PartitionerKind.BROADCAST
    if pointwise_or_broadcast and barrier.options.kind in (BarrierKind.UNALIGNED, BarrierKind.TIMEOUTABLE_ALIGNED):
        return CheckpointBarrier(barrier.checkpoint_id, barrier.timestamp_us,
                                 CheckpointOptions(BarrierKind.ALIGNED, 0, barrier.options.is_savepoint))
    return barrier


class TaskCheckpointing:
    """The checkpointing side of one task thread; also the `BarrierHandler`'s controller."""

    def __init__(self, thread: TaskThread, coordinator: CheckpointCoordinator | None, mode: str):
        self.thread = thread
        self.env = thread.env
        self.trace = thread.trace
        self.coordinator = coordinator
        inputs = thread.gate.links if thread.gate is not None else []
        self.inputs = inputs
        self.handler = BarrierHandler(len(inputs), self, mode) if inputs else None
        self.actions: deque[tuple[CheckpointBarrier, bool]] = deque()
        self.timed_out: deque[int] = deque()
        """Checkpoints whose alignment timeout passed, for the mailbox to hand to the barrier handler."""
        self.running: dict[int, SubtaskCheckpoint] = {}
        self.persisting: dict[int, int] = {}
        self.started: set[int] = set()
        self._current_barrier: CheckpointBarrier | None = None
        self._carry_ns = 0
        for links in thread.outputs.values():
            for link in links:
                link.on_overtaken = lambda cid, buffers, _l=link: self._record(cid, "output", _l.id, buffers)
                link.on_barrier_sent = lambda cid, _l=link: self._barrier_sent(cid, _l.id)

    # --- from the JobManager ---------------------------------------------------------

    def trigger_received(self, barrier: CheckpointBarrier) -> None:
        """A trigger RPC reached this (root) task: checkpoint at the next mailbox step."""
        if self.thread.finished:
            return
        entry = self._entry(barrier, barrier.options.is_unaligned)
        entry.first_barrier_us = entry.last_barrier_us = self.env.now
        self.actions.append((barrier, barrier.options.is_unaligned))
        self.thread.wake()

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Checkpoint `checkpoint_id` completed: backends and operators (a transactional sink commits) hear of it.

        An operator that raises here fails the task, as in Flink.
        """
        if self.thread.stopped or self.thread.failed:
            return
        for backend in self.thread.task.keyed_backends():
            backend.notify_checkpoint_complete(checkpoint_id)
        self.thread.notify_operators(checkpoint_id)

    def cancel(self) -> None:
        """The task stopped: every checkpoint in progress here is dropped (no file is written for it)."""
        for checkpoint_id in sorted(self.running):
            self.notify_checkpoint_aborted(checkpoint_id)
        self.actions.clear()

    def notify_checkpoint_aborted(self, checkpoint_id: int) -> None:
        entry = self.running.pop(checkpoint_id, None)
        if entry is not None:
            entry.aborted = True
        self.persisting = {ch: cid for ch, cid in self.persisting.items() if cid != checkpoint_id}

    def has_started(self, checkpoint_id: int) -> bool:
        return checkpoint_id in self.started

    # --- from the task thread ----------------------------------------------------------

    def event_received(self, channel: int, item: Any) -> None:
        """A checkpoint event was taken from input `channel`."""
        link = self.inputs[channel]
        if isinstance(item, CheckpointBarrier):
            if self.trace.checkpoints:
                self.trace.emit(BarrierReceived(self.env.now, self.thread.id, link.id, item.checkpoint_id,
                                                item.options.kind.name))
            if item.is_priority:
                # Only what was queued here when the barrier arrived: later buffers are the producer's output state.
                overtaken = link.overtaken_at_arrival.pop(item.checkpoint_id, [])
                self._entry(item, True)
                self._record(item.checkpoint_id, "input", link.id, overtaken)
            self._current_barrier = item
            self.handler.barrier_received(channel, item)
            self._current_barrier = None
        elif isinstance(item, CancelCheckpointMarker):
            self.handler.cancel_marker_received(channel, item.checkpoint_id)

    def end_of_partition(self, channel: int) -> None:
        if self.handler is not None:
            self.handler.end_of_partition_received(channel)

    def buffer_consumed(self, channel: int, buffer: Any) -> None:
        """Account a processed data buffer: in-flight bytes during alignment, channel state if persisting."""
        if not self.running:
            return
        cid = self.persisting.get(channel)
        if cid is not None:
            self._record(cid, "input", self.inputs[channel].id, [buffer])
        pending = self.handler.pending_checkpoint_id if self.handler is not None else None
        entry = self.running.get(pending) if pending is not None else None
        if entry is not None and entry.last_barrier_us is None:
            entry.processed_in_flight_bytes += buffer.size_bytes

    def perform_pending(self):
        """Generator: carry out every checkpoint the handler or a trigger asked for (a mailbox step each)."""
        while self.actions:
            barrier, unaligned = self.actions.popleft()
            yield from self._perform(barrier, unaligned)

    # --- BarrierHandler controller ------------------------------------------------------

    def now_us(self) -> int:
        return self.env.now

    def trigger_checkpoint(self, barrier: CheckpointBarrier, unaligned: bool) -> None:
        entry = self._entry(barrier, unaligned)
        entry.unaligned = entry.unaligned or unaligned
        self.actions.append((barrier, unaligned))
        self.thread.wake()

    def abort_checkpoint(self, checkpoint_id: int, reason: AbortReason) -> None:
        self.notify_checkpoint_aborted(checkpoint_id)
        if self.trace.checkpoints:
            self.trace.emit(CheckpointDeclined(self.env.now, self.thread.id, checkpoint_id, reason.name))
        self.thread.broadcast_event(CancelCheckpointMarker(checkpoint_id))
        if self.coordinator is not None:
            self.coordinator.rpc(lambda: self.coordinator.decline(checkpoint_id, self.thread.id, reason),
                                 "acknowledge", self.thread.taskmanager, f"decline checkpoint {checkpoint_id}")

    def block_channel(self, channel: int) -> None:
        if self.trace.checkpoints:
            cid = self.handler.pending_checkpoint_id
            self.trace.emit(ChannelBlocked(self.env.now, self.thread.id, self.inputs[channel].id, cid or 0))

    def resume_channels(self, channels: list[int]) -> None:
        for channel in channels:
            link = self.inputs[channel]
            if self.trace.checkpoints:
                self.trace.emit(ChannelResumed(self.env.now, self.thread.id, link.id))
            link.resume()

    def start_persisting(self, channel: int, checkpoint_id: int) -> None:
        self.persisting[channel] = checkpoint_id

    def stop_persisting(self, channel: int, checkpoint_id: int) -> None:
        if self.persisting.get(channel) == checkpoint_id:
            del self.persisting[channel]

    def first_barrier_received(self, checkpoint_id: int) -> None:
        barrier = self._current_barrier
        if barrier is not None and barrier.checkpoint_id == checkpoint_id:
            entry = self._entry(barrier, barrier.is_priority)
            if entry.first_barrier_us is None:
                entry.first_barrier_us = self.env.now

    def last_barrier_received(self, checkpoint_id: int) -> None:
        entry = self.running.get(checkpoint_id)
        if entry is not None:
            entry.last_barrier_us = self.env.now
            if entry.inputs_done is not None and not entry.inputs_done.triggered:
                entry.inputs_done.succeed()

    def register_alignment_timeout(self, checkpoint_id: int, deadline_us: int) -> None:
        """At `deadline_us`, put the timeout in the mailbox: it runs between steps, as Flink's timer does in the
        task thread, so a buffer whose step is under way is never taken for channel state halfway through."""
        def fire() -> None:
            if self.handler is not None and not self.thread.finished:
                self.timed_out.append(checkpoint_id)
                self.thread.wake()

        self.env.schedule_call(max(0, deadline_us - self.env.now), fire)

    def run_timeouts(self) -> None:
        """Mailbox: hand every alignment timeout that passed to the barrier handler."""
        while self.timed_out:
            checkpoint_id = self.timed_out.popleft()
            if self.handler is None or self.thread.finished:
                continue
            if self.trace.checkpoints and self.handler.pending_checkpoint_id == checkpoint_id:
                self.trace.emit(AlignmentTimedOut(self.env.now, self.thread.id, checkpoint_id))
            self.handler.alignment_timed_out(checkpoint_id)

    # --- performing a checkpoint ----------------------------------------------------------

    def _entry(self, barrier: CheckpointBarrier, unaligned: bool) -> SubtaskCheckpoint:
        cid = barrier.checkpoint_id
        if cid not in self.running:
            self.running[cid] = SubtaskCheckpoint(barrier, unaligned)
            self.started.add(cid)
        return self.running[cid]

    def _record(self, checkpoint_id: int, side: str, channel: str, buffers: list[Any]) -> None:
        entry = self.running.get(checkpoint_id)
        if entry is None or not buffers:
            return
        target = entry.input_state if side == "input" else entry.output_state
        target.setdefault(channel, []).extend(buffers)

    def _barrier_sent(self, checkpoint_id: int, channel: str) -> None:
        entry = self.running.get(checkpoint_id)
        if entry is not None and channel in entry.outputs_waiting:
            entry.outputs_waiting.discard(channel)
            if not entry.outputs_waiting and entry.outputs_done is not None and not entry.outputs_done.triggered:
                entry.outputs_done.succeed()

    def _await_timeoutable_outputs(self, entry: SubtaskCheckpoint) -> None:
        """Note the outputs where a timeoutable barrier still waits behind data after the snapshot.

        Until it is sent, the alignment timeout may promote it, and what it then overtakes is output
        channel state of this checkpoint: the asynchronous part waits for it (Flink's output channel
        state write completes only then).
        """
        cid = entry.checkpoint_id
        entry.outputs_waiting = {
            link.id for links in self.thread.outputs.values() for link in links
            if any(isinstance(item, CheckpointBarrier) and item.checkpoint_id == cid
                   and item.options.kind is BarrierKind.TIMEOUTABLE_ALIGNED for item in link.queue)}
        if entry.outputs_waiting:
            entry.outputs_done = self.env.event()

    def _perform(self, barrier: CheckpointBarrier, unaligned: bool):
        entry = self.running.get(barrier.checkpoint_id)
        if entry is None or entry.aborted or entry.snapshot_us is not None:
            return
        task = self.thread.task
        task.begin_step(self.env.now)  # the snapshot (and a sink's pre-commit) happens now, as a step of its own
        for edge_index, kind in self.thread.output_edges():
            self.thread.broadcast_event(_barrier_for_edge(barrier, kind), edge_index)
        if task.is_source and self.coordinator is not None and self.coordinator.stops_job(barrier.checkpoint_id):
            # Stop-with-savepoint: a source emits nothing after the savepoint's barrier.
            self.thread.reading_suspended = True
        self._await_timeoutable_outputs(entry)
        entry.snapshot_us = self.env.now
        snapshot = task.snapshot_state(barrier.checkpoint_id)
        entry.payload, entry.full_bytes, entry.checkpointed_bytes = snapshot
        sync_ns = task.snapshot_sync_ns(entry.full_bytes)
        entry.sync_us = yield from self.thread.charge_checkpoint_cpu(sync_ns)
        if self.trace.checkpoints:
            self.trace.emit(SnapshotTaken(self.env.now, self.thread.id, barrier.checkpoint_id, entry.sync_us,
                                          entry.full_bytes, entry.unaligned))
        if entry.unaligned and entry.last_barrier_us is None:
            entry.inputs_done = self.env.event()
        self.env.process(self.run_async_part(entry))

    def run_async_part(self, entry: SubtaskCheckpoint):
        """SimPy process. Wait for the last barrier (unaligned), upload, write files, acknowledge."""
        started = self.env.now
        if entry.inputs_done is not None and not entry.inputs_done.triggered:
            yield entry.inputs_done
        if entry.outputs_done is not None and not entry.outputs_done.triggered:
            yield entry.outputs_done
        if entry.aborted:
            return
        persisted = self._channel_state(entry)
        upload_bytes = entry.checkpointed_bytes + persisted
        cpu_us, self._carry_ns = ns_to_us_carry(self.thread.task.snapshot_async_ns(upload_bytes), self._carry_ns)
        yield self.env.timeout(cpu_us + self.thread.upload_us(upload_bytes))
        if entry.aborted or self.coordinator is None:
            return
        cid = entry.checkpoint_id
        self.running.pop(cid, None)
        try:
            ack = self._ack(entry, persisted, started)
        except (OSError, ValueError, TypeError) as exc:
            # An asynchronous-phase failure declines the checkpoint; it does not fail the task.
            if self.trace.checkpoints:
                self.trace.emit(CheckpointDeclined(self.env.now, self.thread.id, cid,
                                                   f"{AbortReason.ASYNC_PHASE_FAILED.name}: {exc}"))
            self.coordinator.rpc(lambda: self.coordinator.decline(cid, self.thread.id, AbortReason.ASYNC_PHASE_FAILED),
                                 "acknowledge", self.thread.taskmanager, f"decline checkpoint {cid}")
            return
        self.coordinator.rpc(lambda: self.coordinator.acknowledge(cid, ack), "acknowledge", self.thread.taskmanager,
                             f"acknowledge checkpoint {cid}")

    def _channel_state(self, entry: SubtaskCheckpoint) -> int:
        """Put the recorded in-flight buffers into the payload; returns their size in bytes."""
        total = 0
        state: dict[str, dict[str, Any]] = {"input": {}, "output": {}}
        for side, recorded in (("input", entry.input_state), ("output", entry.output_state)):
            for channel in sorted(recorded):
                buffers = recorded[channel]
                size = sum(b.size_bytes for b in buffers)
                total += size
                state[side][channel] = [serde.encode(b.state_records()) for b in buffers]
                if self.trace.checkpoints:
                    self.trace.emit(ChannelStatePersisted(self.env.now, self.thread.id, entry.checkpoint_id, channel,
                                                          side, len(buffers), size))
        if entry.payload is not None:
            entry.payload["channel_state"] = state
        return total

    def _ack(self, entry: SubtaskCheckpoint, persisted: int, async_started: int) -> Any:
        from sim.cluster.coordinator import SubtaskAck

        first = entry.first_barrier_us if entry.first_barrier_us is not None else entry.snapshot_us
        last = entry.last_barrier_us if entry.last_barrier_us is not None else first
        handle = self.thread.write_checkpoint_file(entry.checkpoint_id, entry.payload)
        return SubtaskAck(
            self.thread.id, entry.sync_us, self.env.now - async_started, max(0, last - first),
            max(0, first - entry.barrier.timestamp_us), entry.checkpointed_bytes, entry.full_bytes,
            entry.processed_in_flight_bytes, persisted, entry.unaligned, entry.payload, handle)
