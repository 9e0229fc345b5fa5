"""Channels on the simulated network: queues, credits, the wire, and input gates.

Layer: `sim.cluster` (the simulated world). A `ChannelLink` is one channel in
both halves: the producer's subpartition queue (sender) and the consumer's
input channel (receiver). Costs one SimPy event per buffer on a remote link
(its arrival) and one per credit announcement; a local channel (same
TaskManager) delivers at once, with no wire.

Credit-based flow control (Flink 1.x): a receiver starts by granting its
exclusive buffers as credit. The sender ships a data buffer only while it
holds credit and tells the receiver its backlog (data buffers still queued).
The receiver asks its gate's floating pool for buffers to cover the backlog
and grants them as more credit. A processed buffer is recycled: an exclusive
one becomes credit again, a floating one goes back to the pool. Events need
no credit. So a slow consumer stops granting credit, the producer's queues
fill, and backpressure moves upstream by itself.

Flink counterpart: `PipelinedSubpartition`, `CreditBasedSequenceNumberingViewReader`,
`RemoteInputChannel`, `BufferManager`, `SingleInputGate`.
Checkpoint barriers: an aligned barrier blocks its subpartition once sent,
until the consumer resumes it (the resume travels back over the link), so
data behind it waits at the sender. A priority (unaligned) barrier is put at
the head of the queue, overtaking the queued buffers, which the producer
persists as output channel state; at the receiver it jumps ahead of the
buffers waiting there too. A timeoutable aligned barrier still queued when its
alignment timeout passes is promoted to a priority barrier the same way.

Blocking channels (BATCH mode, between two stages): the producer's
subpartition keeps everything written to it, with no pool limit, so the
producer never waits; nothing is sent until the consumer's stage starts and
`release()`s the channel. From then on the stored buffers are read with the
same credit flow as a pipelined channel.

Simplified: local channels use the same credit flow with no latency (Flink's
local channels read the producer's queue directly); a buffer leaves the
producer's pool when it is put on the wire. A blocking partition is kept in
the producer's memory at no cost (Flink writes it to local disk, sorted by
subpartition, and serves it to the consumer from there).
"""

from __future__ import annotations

import random
from collections import deque
from typing import Any, Callable

import simpy

from sim.cluster.spec import LinkSpec, NetworkConfig
from sim.kernel.environment import SimEnvironment
from sim.graph.execution_graph import Channel
from sim.runtime.checkpoint_events import BarrierKind, CheckpointBarrier
from sim.trace import BarrierPromoted, BarrierSent, BufferReceived, BufferSent, ChannelEventSent, CreditAnnounced, Trace


UNBOUNDED = 1 << 62
"""Pool size and queue cap of a blocking partition: more buffers than any run writes."""


class Nic:
    """A TaskManager's outgoing interface: transmissions are serialised, first come first served."""

    __slots__ = ("busy_until_us",)

    def __init__(self) -> None:
        self.busy_until_us = 0


class ResultPartition:
    """A producer's subpartitions on one edge and its output buffer pool.

    The writer is available while fewer than `#channels * buffers_per_channel
    + floating_buffers_per_gate` finished buffers wait in its queues and no
    queue holds `max_buffers_per_channel`. A blocking partition (BATCH) is
    unbounded: always available.
    """

    def __init__(self, links: list[ChannelLink], config: NetworkConfig, on_available: Callable[[], None]):
        self.links = links
        self.bounded = not any(link.blocking for link in links)
        self.pool_size = len(links) * config.buffers_per_channel + config.floating_buffers_per_gate
        self.cap = config.max_buffers_per_channel
        if not self.bounded:
            self.pool_size = self.cap = UNBOUNDED
        self.queued = 0
        self.full_queues = 0
        self._on_available = on_available
        for link in links:
            link.partition = self

    @property
    def available(self) -> bool:
        return self.queued < self.pool_size and self.full_queues == 0

    def buffer_queued(self, link: ChannelLink) -> None:
        self.queued += 1
        if link.backlog == self.cap:
            self.full_queues += 1

    def buffer_sent(self, link: ChannelLink) -> None:
        was = self.available
        if link.backlog == self.cap - 1:
            self.full_queues -= 1
        self.queued -= 1
        if not was and self.available:
            self._on_available()


class InputGate:
    """The consumer's input channels, read through a FIFO queue of channels with data.

    Rule for which ready channel is read next (Flink's `inputChannelsWithData`):
    channels join the queue in the order their data arrived; after one item is
    taken from a channel that still has data, the channel rejoins at the tail.
    So ready channels are served round robin, one buffer each. Arrivals at the
    same virtual instant are ordered by the event queue, which is deterministic.
    """

    def __init__(self, env: simpy.Environment, links: list[ChannelLink], config: NetworkConfig):
        self.env = env
        self.links = links
        self.ready: deque[ChannelLink] = deque()
        self.floating_free = config.floating_buffers_per_gate
        self.waiting: deque[ChannelLink] = deque()
        self.waiter: simpy.Event | None = None
        self.on_priority: Callable[[], None] | None = None
        self.open_channels = len(links)
        for link in links:
            link.gate = self

    def notify(self, link: ChannelLink, priority: bool = False) -> None:
        """`link` has data; a priority event puts it at the front of the queue of ready channels."""
        if priority and link.in_ready:
            self.ready.remove(link)
            link.in_ready = False
        if not link.in_ready:
            link.in_ready = True
            if priority:
                self.ready.appendleft(link)
            else:
                self.ready.append(link)
        self.wake()
        if priority and self.on_priority is not None:
            self.on_priority()

    def wake(self) -> None:
        """Wake the task thread if it waits for input."""
        if self.waiter is not None:
            waiter, self.waiter = self.waiter, None
            waiter.succeed()

    def poll(self) -> tuple[ChannelLink, Any] | None:
        """The next (channel, buffer or event) by the rule above, or None."""
        if not self.ready:
            return None
        link = self.ready.popleft()
        item = link.received.popleft()
        if link.received:
            self.ready.append(link)
        else:
            link.in_ready = False
        return link, item

    def wait(self) -> simpy.Event:
        self.waiter = self.env.event()
        return self.waiter

    def grant_floating(self) -> None:
        """Hand free floating buffers to channels whose backlog exceeds their credit."""
        while self.floating_free and self.waiting:
            link = self.waiting[0]
            need = link.need()
            if need <= 0:
                self.waiting.popleft()
                link.waiting = False
                continue
            give = min(need, self.floating_free)
            self.floating_free -= give
            link.floating += give
            link.announce(give)


class ChannelLink:
    """One channel: the sender's queue and credit, the wire, the receiver's queue and buffers."""

    def __init__(self, env: SimEnvironment, channel: Channel, link: LinkSpec | None, nic: Nic | None,
                 config: NetworkConfig, trace: Trace, rng: random.Random, blocking: bool = False):
        self.env = env
        self.channel = channel
        self.id = channel.id
        self.blocking = blocking
        self.released = not blocking
        self.link = link
        self.nic = nic
        self.trace = trace
        self.rng = rng
        self.partition: ResultPartition | None = None
        self.gate: InputGate | None = None
        self.blocked = False
        self.on_overtaken: Callable[[int, list[Any]], None] | None = None
        self.on_barrier_sent: Callable[[int], None] | None = None
        """Told the checkpoint id of every barrier this subpartition puts on the wire."""
        self.dead = False
        """The attempt this channel belongs to was canceled, or a machine at one end crashed: nothing moves."""
        self.end_arrived = False
        """The producer's EndOfPartition reached the consumer: nothing more is needed from the producer's machine."""
        self.conditions: Any = None
        """Faults that may slow or hold this (remote) link: `sim.cluster.injector.Conditions`, with `machines`."""
        self.machines: tuple[str, str] = ("", "")
        self.overtaken_at_arrival: dict[int, list[Any]] = {}
        """Per priority barrier: the data buffers queued at the receiver when it arrived (input channel state)."""
        # sender side
        self.queue: deque[Any] = deque()
        self.backlog = 0
        self.credit = config.buffers_per_channel
        # receiver side
        self.received: deque[Any] = deque()
        self.in_ready = False
        self.waiting = False
        self.granted = config.buffers_per_channel
        self.arrived = 0
        self.floating = 0
        self.reported_backlog = 0
        self.last_arrival_us = 0

    # --- sender ---------------------------------------------------------------------

    def enqueue(self, item: Any) -> None:
        """A finished buffer or an event joins the subpartition queue (a priority barrier at its head)."""
        if isinstance(item, CheckpointBarrier):
            if item.is_priority:
                self._overtake(item)
            else:
                self.queue.append(item)
                if item.options.kind is BarrierKind.TIMEOUTABLE_ALIGNED:
                    deadline = item.timestamp_us + item.options.alignment_timeout_us
                    self.env.schedule_call(max(0, deadline - self.env.now), lambda: self._promote(item))
            self.try_send()
            return
        self.queue.append(item)
        if not item.is_event:
            self.backlog += 1
            self.partition.buffer_queued(self)
        self.try_send()

    def _overtake(self, barrier: CheckpointBarrier, ahead: int | None = None) -> None:
        """Put a priority barrier at the head of the queue; the data it passes is output channel state.

        A new barrier passes everything queued; a promoted one only the `ahead` items that were queued
        in front of it: what the task wrote after its snapshot stays behind it, as a restore writes it again.
        """
        passed = list(self.queue)[:ahead] if ahead is not None else list(self.queue)
        overtaken = [item for item in passed if not item.is_event]
        self.queue.appendleft(barrier)
        if overtaken and self.on_overtaken is not None:
            self.on_overtaken(barrier.checkpoint_id, overtaken)

    def _promote(self, barrier: CheckpointBarrier) -> None:
        """The alignment timeout passed while `barrier` still waited here: send it as a priority barrier."""
        if barrier not in self.queue:
            return
        ahead = self.queue.index(barrier)
        del self.queue[ahead]
        if self.trace.checkpoints:
            self.trace.emit(BarrierPromoted(self.env.now, self.id, barrier.checkpoint_id))
        self._overtake(barrier.as_unaligned(), ahead)
        self.try_send()

    def resume(self) -> None:
        """The consumer resumed consumption after alignment: send again (after the link latency)."""
        self.env.call_after(self._latency_us(), self._unblock)

    def _unblock(self) -> None:
        self.blocked = False
        self.try_send()

    def release(self) -> None:
        """BATCH: the consumer's stage started; the stored buffers may now be sent."""
        self.released = True
        self.try_send()

    def stored(self) -> tuple[int, int]:
        """(data buffers, bytes) waiting in the subpartition queue."""
        data = [item for item in self.queue if not item.is_event]
        return len(data), sum(item.size_bytes for item in data)

    def try_send(self) -> None:
        """Ship queued items in order while the head is an event or credit remains (once released)."""
        if not self.released or self.dead:
            return
        queue = self.queue
        while queue:
            item = queue[0]
            if self.blocked and not getattr(item, "is_priority", False):
                return
            if not item.is_event:
                if self.credit <= 0:
                    return
                self.credit -= 1
            queue.popleft()
            if not item.is_event:
                self.backlog -= 1
                self.partition.buffer_sent(self)
            elif getattr(item, "blocks_upstream", False):
                self.blocked = True
            self._transmit(item)

    def _transmit(self, item: Any) -> None:
        now = self.env.now
        if self.link is None:
            arrival = now
        else:
            start = max(now, self.nic.busy_until_us)
            factor = 1 if self.conditions is None else self.conditions.link_factor(*self.machines)
            done = start + self.link.transfer_us(item.size_bytes) * factor
            self.nic.busy_until_us = done
            jitter = self.rng.randint(0, self.link.jitter_us) if self.link.jitter_us else 0
            arrival = max(done + self.link.latency_us * factor + jitter, self.last_arrival_us)
            if self.conditions is not None:
                # A partition holds the data until it heals (the transport retransmits), then it crosses.
                arrival = max(arrival, self.conditions.partitioned_until(*self.machines) + self.link.latency_us)
        self.last_arrival_us = arrival
        if isinstance(item, CheckpointBarrier):
            if self.trace.checkpoints:
                self.trace.emit(BarrierSent(now, self.id, item.checkpoint_id, item.options.kind.name, arrival))
            if self.on_barrier_sent is not None:
                self.on_barrier_sent(item.checkpoint_id)
        elif self.trace.buffers:
            if item.is_event:
                self.trace.emit(ChannelEventSent(now, self.id, item.name, arrival))
            else:
                self.trace.emit(BufferSent(now, self.id, item.seq, self.backlog, arrival))
        backlog = self.backlog
        self.env.call_after(arrival - now, lambda: self._deliver(item, backlog))

    # --- receiver -------------------------------------------------------------------

    def _deliver(self, item: Any, backlog: int) -> None:
        if self.dead:
            return
        if getattr(item, "is_priority", False):
            self.overtaken_at_arrival[item.checkpoint_id] = [b for b in self.received if not b.is_event]
            self.received.appendleft(item)
            self.gate.notify(self, priority=True)
            return
        self.received.append(item)
        if item.is_event and item.name == "EndOfPartition":
            self.end_arrived = True
        if not item.is_event:
            self.arrived += 1
            self.reported_backlog = backlog
            if self.trace.buffers:
                self.trace.emit(BufferReceived(self.env.now, self.id, item.seq))
            if self.need() > 0:
                self._ask_floating()
        self.gate.notify(self)

    def need(self) -> int:
        """Buffers the sender's backlog needs beyond the credit it already has."""
        return self.reported_backlog - (self.granted - self.arrived)

    def _ask_floating(self) -> None:
        if not self.waiting:
            self.waiting = True
            self.gate.waiting.append(self)
        self.gate.grant_floating()

    def recycle(self) -> None:
        """The consumer finished a data buffer: exclusive -> credit again, floating -> pool."""
        if self.floating:
            self.floating -= 1
            self.gate.floating_free += 1
            if self.need() > 0:
                self._ask_floating()
            self.gate.grant_floating()
        else:
            self.announce(1)

    def announce(self, credits: int) -> None:
        """Grant `credits` more buffers to the sender (arrives after the link latency)."""
        self.granted += credits
        now = self.env.now
        if self.trace.buffers:
            self.trace.emit(CreditAnnounced(now, self.id, credits))
        self.env.call_after(self._latency_us(), lambda: self._credit_arrived(credits))

    def _latency_us(self) -> int:
        """One-way latency of this channel's link (0 for a local channel)."""
        if self.link is None:
            return 0
        if self.conditions is None:
            return self.link.latency_us
        c, latency = self.conditions, self.link.latency_us
        return max(latency * c.link_factor(*self.machines),
                   c.partitioned_until(*self.machines) + latency - self.env.now)

    def _credit_arrived(self, credits: int) -> None:
        if self.dead:
            return
        self.credit += credits
        self.try_send()
