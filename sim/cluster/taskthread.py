"""The task thread: a SimPy process that runs one subtask's mailbox loop on a core.

Layer: `sim.cluster` (the simulated world). It drives a runtime `StreamTask`:
waits for output buffers (backpressure) and for input (idle), hands the task a
buffer or a source batch, and charges the CPU the task reports to virtual
time, holding one of its TaskManager's cores. Buffers the task finished during
a step are published when the step's CPU time has passed. A second process,
the output flusher, finishes partly filled buffers every buffer timeout.

Mailbox actions (checkpoint steps) run between steps, also while the task
waits for input or is backpressured; so does a priority (unaligned) barrier
that arrives meanwhile, as in Flink.

BATCH mode, keyed chain: once every input channel has ended, the task sorts
what it collected in one step, then runs one key per step.

Lifecycle: deployed -> running (busy / idle / backpressured) -> finished or failed.

Flink counterpart: `StreamTask` mailbox loop (`MailboxProcessor`), the
`OutputFlusher` thread.
Simplified: output availability is checked before each input buffer, so a step
may overdraw the pool by the output of one input buffer (as Flink's overdraft
buffers allow).
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import simpy

from sim.cluster.network import ChannelLink, InputGate, ResultPartition
from sim.kernel.clock import ns_to_us_carry
from sim.kernel.stable import stable_repr
from sim.runtime.operators import InjectedFault, UserFunctionError
from sim.runtime.task import StreamTask
from sim.trace import (
    ChannelStateReplayed, FaultInjected,
    BackpressureEnded, BackpressureStarted, BufferConsumed, BufferFlushed, ChannelEventReceived, InputEnded,
    InputSorted, KeyProcessed, SourceRecordsEmitted, TaskFailed, TaskFinished, TimersRan, Trace,
)


IDLE_SOURCE_POLL_US = 1_000
"""How long a source waits before polling again when its reader had nothing and named no time."""


@dataclass
class TaskFailure:
    """Why a subtask failed: the operator (`map[2]`), the error, the record, a traceback."""

    task: str
    operator: str
    error: str
    record: str | None
    traceback: str

    def __str__(self) -> str:
        where = f" on record {self.record}" if self.record is not None else ""
        return f"{self.operator} failed{where}: {self.error}\n{self.traceback}"


def _portable_traceback(exc: BaseException) -> str:
    """The traceback of the user's exception with file base names only (same on every machine)."""
    lines = []
    for frame in traceback.extract_tb(exc.__traceback__):
        lines.append(f"  {os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}")
        if frame.line:
            lines.append(f"    {frame.line}")
    lines.append(f"{type(exc).__name__}: {exc}")
    lines += [f"  note: {note}" for note in getattr(exc, "__notes__", [])]
    return "\n".join(lines)


class TaskThread:
    """The world half of a subtask: its gate, partitions, core and timings."""

    def __init__(self, env: simpy.Environment, task: StreamTask, trace: Trace, cores: simpy.Resource | None,
                 inputs: list[ChannelLink], outputs: dict[int, list[ChannelLink]], config: Any,
                 buffer_timeout_us: int, on_done: Callable[[TaskThread, TaskFailure | None], None]):
        self.env = env
        self.task = task
        self.id = task.id
        self.trace = trace
        self.cores = cores
        self.gate = InputGate(env, inputs, config) if inputs else None
        if self.gate is not None:
            self.gate.on_priority = self.wake
        self.outputs = outputs
        self.partitions = [ResultPartition(links, config, self._output_freed) for _, links in sorted(outputs.items())]
        self.buffer_timeout_us = buffer_timeout_us
        self.on_done = on_done
        self.pending: list[tuple[int, int, Any]] = []
        self.in_step = False
        self.flush_requested = False
        self.finished = False
        self.output_waiter: simpy.Event | None = None
        self.mailbox_waiter: simpy.Event | None = None
        self.upstream: list[TaskThread] = []
        self.checkpointing: Any = None
        self.storage: Any = None
        self.taskmanager = ""
        self.carry_ns = 0
        self.busy_us = 0
        self.backpressured_us = 0
        self.started_us = 0
        self.ended_us: int | None = None
        self.deployed = False
        """Whether the thread was started (in BATCH a later stage's tasks may never be, if the job fails first)."""
        self.stopped = False
        """Canceled by a failover, or its TaskManager died: it ended without finishing or failing."""
        self.failed = False
        self.restored_finished = False
        self.reading_suspended = False
        """A source after a stop-with-savepoint barrier: it reads nothing more."""
        """Restored from a snapshot taken after this task had finished: it only ends its outputs."""
        self.recovering = False
        self.process: simpy.Process | None = None

    # --- services for checkpointing -------------------------------------------------------

    def is_root(self) -> bool:
        """A running source: the JobManager triggers checkpoints here.

        A task downstream of finished sources is never triggered directly: its
        queues may still hold their records, which only a barrier behind them
        would account for. It finishes once it has consumed them.
        """
        return not self.finished and not self.upstream

    def wake(self) -> None:
        """A mailbox action arrived: wake the thread wherever it waits."""
        if self.gate is not None:
            self.gate.wake()
        if self.mailbox_waiter is not None and not self.mailbox_waiter.triggered:
            self.mailbox_waiter.succeed()

    def output_edges(self) -> list[tuple[int, Any]]:
        """(edge index, partitioner kind) of every outgoing edge, in edge order."""
        return [(e, self.task.partitioner_kind(e)) for e in sorted(self.outputs)]

    def broadcast_event(self, event: Any, edge_index: int | None = None) -> None:
        """Send an event on every channel (of one edge, or of all), behind the pending data."""
        self.task.broadcast_event(event, edge_index)
        if not self.in_step:
            self.publish()

    def charge_checkpoint_cpu(self, cost_ns: int):
        """Generator: hold a core for a checkpoint's synchronous CPU; returns the busy µs."""
        self.in_step = True
        return (yield from self._charge(cost_ns))

    def upload_us(self, size_bytes: int) -> int:
        return self.storage.upload_us(self.env.now, size_bytes)

    def write_checkpoint_file(self, checkpoint_id: int, payload: dict | None) -> Any:
        return self.storage.write(checkpoint_id, self.id, self.task.subtask.index, payload)

    def _mailbox(self):
        """Generator: run alignment timeouts, pending checkpoint steps and any priority barrier waiting at the gate."""
        cp = self.checkpointing
        if cp is None or self.recovering:
            return
        while True:
            cp.run_timeouts()
            priority = self._priority_event()
            if priority is not None:
                link, item = priority
                cp.event_received(link.channel.input_index, item)
            elif not cp.actions:
                return
            yield from cp.perform_pending()

    def _priority_event(self) -> tuple[Any, Any] | None:
        gate = self.gate
        if gate is None or not gate.ready:
            return None
        head = gate.ready[0].received
        if head and getattr(head[0], "is_priority", False):
            return gate.poll()
        return None

    def output(self, edge_index: int, channel_index: int, item: Any) -> None:
        """Called by the runtime for each finished buffer or event; published after the step."""
        self.pending.append((edge_index, channel_index, item))
        if not self.in_step:
            self.publish()

    def publish(self) -> None:
        pending, self.pending = self.pending, []
        now = self.env.now
        for edge_index, channel_index, item in pending:
            link = self.outputs[edge_index][channel_index]
            if self.trace.buffers and not item.is_event:
                self.trace.emit(BufferFlushed(now, link.id, item.seq, len(item.values), item.size_bytes, item.reason))
            link.enqueue(item)

    # --- processes ------------------------------------------------------------------

    def start(self) -> None:
        self.deployed = True
        self.started_us = self.env.now
        self.process = self.env.process(self.run_mailbox())
        if self.buffer_timeout_us > 0 and any(p.bounded for p in self.partitions):
            self.env.process(self.run_output_flusher())

    def run_mailbox(self):
        """SimPy process. The mailbox loop: wait for output, take input, process, charge CPU."""
        try:
            self.task.begin_step(self.env.now)
            if self.restored_finished:
                self.task.end_as_finished()
                self.publish()
                self._finish()
                return
            self.task.open()
            if self.task.is_source:
                yield from self._run_source()
            else:
                yield from self._replay_channel_state()
                yield from self._run_inputs()
        except UserFunctionError as exc:
            self._fail(exc)
            return
        except simpy.Interrupt:
            return  # stopped: canceled by a failover, or the TaskManager died
        self._finish()

    def _replay_channel_state(self):
        """Generator: process the restored in-flight buffers of an unaligned checkpoint before any new input.

        No checkpoint step runs meanwhile: a barrier that arrives waits until the
        restored data is through, so the next checkpoint's channel state cannot miss it.
        """
        recovered = getattr(self.task, "recovered_inputs", None)
        if not recovered:
            return
        self.recovering = True
        links = self.gate.links
        counts: dict[int, list[int]] = {}
        for channel, buffer in recovered:
            yield from self._await_output()
            self.task.begin_step(self.env.now)
            self.in_step = True
            yield from self._charge(self.task.process_buffer(buffer, channel))
            count = counts.setdefault(channel, [0, 0])
            count[0] += 1
            count[1] += buffer.records
        self.recovering = False
        if self.trace.checkpoints:
            for channel in sorted(counts):
                buffers, records = counts[channel]
                self.trace.emit(ChannelStateReplayed(self.env.now, self.id, links[channel].id, buffers, records))

    def _fire_timers(self):
        """Generator: run due processing-time callbacks as one step; returns True if any ran."""
        due = self.task.next_wakeup_us()
        if due is None or due > self.env.now:
            return False
        self.task.begin_step(self.env.now)
        self.in_step = True
        fired_before = self.task.time_fired
        cost_ns = self.task.fire_timers()
        busy_us = yield from self._charge(cost_ns)
        if self.trace.buffers:
            self.trace.emit(TimersRan(self.env.now, self.id, self.task.time_fired - fired_before, busy_us))
        return True

    def _wake_time(self, wake_us: int | None) -> int | None:
        """The earlier of `wake_us` and the task's next processing-time callback."""
        due = self.task.next_wakeup_us()
        if due is None:
            return wake_us
        return due if wake_us is None else min(due, wake_us)

    def _run_source(self):
        while True:
            yield from self._mailbox()
            if self.reading_suspended:
                yield self.env.event()  # until the job stops this thread (stop-with-savepoint)
            yield from self._await_output()
            if (yield from self._fire_timers()):
                continue
            self.task.begin_step(self.env.now)
            self.in_step = True
            count, finished, wait_until_us, cost_ns = self.task.source_step()
            busy_us = yield from self._charge(cost_ns)
            if self.trace.buffers and count:
                self.trace.emit(SourceRecordsEmitted(self.env.now, self.id, count, busy_us))
            if finished:
                break
            if not count:
                # Nothing to read now: wait as the reader asked (or for a timer), and never spin in zero time.
                wake = self._wake_time(wait_until_us or self.env.now + IDLE_SOURCE_POLL_US)
                yield from self._sleep(max(1, wake - self.env.now))
        yield from self._end_input()

    def _run_inputs(self):
        gate, cp = self.gate, self.checkpointing
        while True:
            yield from self._mailbox()
            yield from self._await_output()
            if (yield from self._fire_timers()):
                continue
            polled = gate.poll()
            if polled is None:
                due = self._wake_time(None)
                if due is None:
                    yield gate.wait()
                else:
                    yield gate.wait() | self.env.timeout(due - self.env.now)
                continue
            link, item = polled
            self.task.begin_step(self.env.now)
            if item.is_event:
                if self.trace.buffers:
                    self.trace.emit(ChannelEventReceived(self.env.now, self.id, link.id, item.name))
                if item.name != "EndOfPartition":
                    if cp is not None:
                        cp.event_received(link.channel.input_index, item)
                    continue
                gate.open_channels -= 1
                if cp is not None:
                    cp.end_of_partition(link.channel.input_index)
                if gate.open_channels == 0:
                    break
                continue
            self.in_step = True
            cost_ns = self.task.process_buffer(item, link.channel.input_index)
            busy_us = yield from self._charge(cost_ns)
            link.recycle()
            if cp is not None:
                cp.buffer_consumed(link.channel.input_index, item)
            if self.trace.buffers:
                self.trace.emit(BufferConsumed(self.env.now, self.id, link.id, item.seq, len(item.values), busy_us))
        if self.task.sorting is not None:
            yield from self._run_sorted()
        yield from self._end_input()

    def _run_sorted(self):
        """BATCH, keyed chain: sort the collected input in one step, then run one key per step."""
        self.task.begin_step(self.env.now)
        self.in_step = True
        records, keys, cost_ns = self.task.sort_input()
        busy_us = yield from self._charge(cost_ns)
        if self.trace.buffers:
            self.trace.emit(InputSorted(self.env.now, self.id, self.task.head.label, records, keys, busy_us))
        while self.task.has_next_key():
            yield from self._await_output()
            self.task.begin_step(self.env.now)
            self.in_step = True
            key, count, cost_ns = self.task.process_next_key()
            busy_us = yield from self._charge(cost_ns)
            if self.trace.buffers:
                self.trace.emit(KeyProcessed(self.env.now, self.id, self.task.head.label, stable_repr(key), count,
                                             busy_us))

    def _end_input(self):
        yield from self._mailbox()
        self.task.begin_step(self.env.now)
        self.in_step = True
        cost_ns = self.task.end_input()
        busy_us = yield from self._charge(cost_ns)
        if self.trace.buffers:
            self.trace.emit(InputEnded(self.env.now, self.id, busy_us))

    def _charge(self, cost_ns: int):
        """Hold a core for the step's CPU time, then publish what the step produced."""
        cpu_us, self.carry_ns = ns_to_us_carry(cost_ns, self.carry_ns)
        started = self.env.now
        if cpu_us:
            if self.cores is None:
                yield self.env.timeout(cpu_us)
            else:
                with self.cores.request() as req:
                    yield req
                    yield self.env.timeout(cpu_us)
        # Waiting for a core counts as busy, as a descheduled thread does in Flink's busy time.
        busy_us = self.env.now - started
        self.busy_us += busy_us
        self.in_step = False
        if self.flush_requested:
            self.flush_requested = False
            self.task.flush("timeout")
        self.publish()
        return busy_us

    def _await_output(self):
        if all(p.available for p in self.partitions):
            return
        started = self.env.now
        if self.trace.buffers:
            self.trace.emit(BackpressureStarted(started, self.id))
        while not all(p.available for p in self.partitions):
            self.output_waiter = self.env.event()
            self.mailbox_waiter = self.env.event()
            yield self.output_waiter | self.mailbox_waiter
            self.mailbox_waiter = None
            yield from self._mailbox()
        self.backpressured_us += self.env.now - started
        if self.trace.buffers:
            self.trace.emit(BackpressureEnded(self.env.now, self.id))

    def _sleep(self, delay_us: int):
        """Generator: wait `delay_us`, waking early for mailbox actions."""
        self.mailbox_waiter = self.env.event()
        yield self.env.timeout(delay_us) | self.mailbox_waiter
        self.mailbox_waiter = None

    def _output_freed(self) -> None:
        if self.output_waiter is not None:
            waiter, self.output_waiter = self.output_waiter, None
            waiter.succeed()

    def run_output_flusher(self):
        """SimPy process. Every buffer timeout, make partly filled buffers visible downstream."""
        while not self.finished:
            yield self.env.timeout(self.buffer_timeout_us)
            if self.finished:
                return
            if self.in_step:
                self.flush_requested = True
            else:
                self.task.flush("timeout")
                self.publish()

    # --- endings --------------------------------------------------------------------

    def _finish(self) -> None:
        self.finished = True
        self.ended_us = self.env.now
        self.trace.emit(TaskFinished(self.env.now, self.id))
        self.on_done(self, None)

    @property
    def finished_normally(self) -> bool:
        """It ended by finishing its input (Flink's FINISHED state), not stopped or failed."""
        return self.finished and not self.stopped and not self.failed

    def stop(self) -> bool:
        """Stop this thread where it is (a failover cancels it, or its machine died); False if it had ended.

        Its checkpoints in progress are dropped; what it wrote to its channels stays
        there, and the channels are silenced by the world.
        """
        if self.finished:
            return False
        self.stopped = True
        self._halt()
        return True

    def _halt(self) -> None:
        """End the thread where it stands: its checkpoints in progress are dropped, its process interrupted."""
        self.finished = True
        self.ended_us = self.env.now
        if self.checkpointing is not None:
            self.checkpointing.cancel()
        if self.process is not None and self.process.is_alive and self.env.active_process is not self.process:
            self.process.interrupt("stopped")

    def notify_operators(self, checkpoint_id: int) -> None:
        """Tell every operator that `checkpoint_id` completed, as a step at this instant; a raise fails the task."""
        self.task.begin_step(self.env.now)
        try:
            for op in self.task.operators.values():
                op.notify_checkpoint_complete(checkpoint_id)
        except UserFunctionError as exc:
            self.fail_externally(exc)

    def fail_externally(self, cause: BaseException) -> None:
        """The task fails now with `cause`, wherever it is (an injected fault, or a failed notification)."""
        if self.finished:
            return
        error = cause if isinstance(cause, UserFunctionError) else UserFunctionError(
            self.task.head.label, None, cause, has_record=False)
        self._halt()
        self._fail(error)

    def _fail(self, exc: UserFunctionError) -> None:
        self.finished = self.failed = True
        self.ended_us = self.env.now
        if isinstance(exc.cause, InjectedFault) and exc.has_record:
            self.trace.emit(FaultInjected(self.env.now, "raise_at_record", exc.operator, str(exc.cause)))
        record = stable_repr(exc.record) if exc.has_record else None
        failure = TaskFailure(self.id, exc.operator, f"{type(exc.cause).__name__}: {exc.cause}", record,
                              _portable_traceback(exc.cause))
        self.trace.emit(TaskFailed(self.env.now, self.id, failure.operator, failure.error, record, failure.traceback))
        self.on_done(self, failure)
