"""The barrier handler against a small set-based model, driven by Hypothesis.

`BarrierHandlerMachine` plays the simulated world around an exactly-once
`BarrierHandler`: a JobManager that starts checkpoints, 1-4 input channels
that deliver barriers and cancel markers in increasing id order (a sender
that blocked itself after an aligned barrier sends nothing until resumed),
channels that end, a clock, and alignment timers that fire. After every step
the handler must agree with `Model`, which states the rules with plain sets.
"""

from __future__ import annotations

from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sim.runtime.barriers import BarrierHandler
from sim.runtime.checkpoint_events import AbortReason, BarrierKind, CheckpointBarrier, CheckpointOptions

ALIGNED, UNALIGNED = BarrierKind.ALIGNED, BarrierKind.UNALIGNED
TIMEOUTABLE, AT_LEAST_ONCE = BarrierKind.TIMEOUTABLE_ALIGNED, BarrierKind.AT_LEAST_ONCE
TIMEOUT_US = 100


class Model:
    """The exactly-once rules as sets: what is pending, arrived, blocked, persisting; what triggered or aborted."""

    def __init__(self, num_channels: int, end_of_partition_aborts: bool):
        self.channels = set(range(num_channels))
        self.end_of_partition_aborts = end_of_partition_aborts
        self.ended: set[int] = set()
        self.latest = 0
        self.triggered: list[tuple[int, bool]] = []
        self.aborted: list[tuple[int, AbortReason]] = []
        self._release()

    def _release(self) -> None:
        self.pending: int | None = None
        self.unaligned = False
        self.arrived: dict[int, BarrierKind] = {}
        self.blocked: set[int] = set()
        self.persisting: set[int] = set()

    @property
    def open(self) -> set[int]:
        return self.channels - self.ended

    def _abort_pending(self, reason: AbortReason) -> None:
        self.aborted.append((self.pending, reason))
        self._release()

    def _switch_to_unaligned(self) -> None:
        self.triggered.append((self.pending, True))
        self.unaligned = True
        self.blocked = {c for c in self.blocked if self.arrived[c] is ALIGNED}
        self.persisting = self.open - self.arrived.keys()

    def _complete_if_all_arrived(self) -> None:
        if self.pending is not None and self.open <= self.arrived.keys():
            if not self.unaligned:
                self.triggered.append((self.pending, False))
            self._release()

    def barrier(self, channel: int, k: int, kind: BarrierKind, past_deadline: bool) -> None:
        if self.pending is not None and k > self.pending:
            self._abort_pending(AbortReason.SUBSUMED)
        if self.pending is None:
            if k <= self.latest:
                return
            self.pending = self.latest = k
        elif k < self.pending:
            return
        self.arrived[channel] = kind
        if self.unaligned:
            self.persisting.discard(channel)
            if kind is ALIGNED:
                self.blocked.add(channel)
        elif kind is UNALIGNED or (kind is TIMEOUTABLE and past_deadline):
            self._switch_to_unaligned()
        else:
            self.blocked.add(channel)
        self._complete_if_all_arrived()

    def cancel(self, k: int) -> None:
        if self.pending is None:
            if k > self.latest:
                self.aborted.append((k, AbortReason.CANCELLED_BY_MARKER))
                self.latest = k
        elif k == self.pending:
            self._abort_pending(AbortReason.CANCELLED_BY_MARKER)
        elif k > self.pending:
            self._abort_pending(AbortReason.SUBSUMED)
            self.aborted.append((k, AbortReason.CANCELLED_BY_MARKER))
            self.latest = k

    def end_of_partition(self, channel: int) -> None:
        self.ended.add(channel)
        self.persisting.discard(channel)
        if self.pending is not None and self.end_of_partition_aborts:
            self._abort_pending(AbortReason.END_OF_PARTITION)
        self._complete_if_all_arrived()

    def timed_out(self, k: int) -> None:
        if self.pending == k and not self.unaligned:
            self._switch_to_unaligned()
            self._complete_if_all_arrived()


class World:
    """The controller side: records what the handler asked for, and keeps the senders' own view."""

    def __init__(self, machine: BarrierHandlerMachine):
        self.machine = machine
        self.time_us = 0
        self.triggered: list[tuple[int, bool]] = []
        self.aborted: list[tuple[int, AbortReason]] = []
        self.missing_at_aligned_trigger: list[set[int]] = []
        self.persisting: set[int] = set()
        self.timers: dict[int, int] = {}

    def now_us(self) -> int:
        return self.time_us

    def trigger_checkpoint(self, barrier: CheckpointBarrier, unaligned: bool) -> None:
        assert unaligned == barrier.is_priority
        m = self.machine
        self.triggered.append((barrier.checkpoint_id, unaligned))
        if not unaligned:
            open_now = set(range(m.num_channels)) - m.ended
            self.missing_at_aligned_trigger.append(
                {c for c in open_now if barrier.checkpoint_id not in m.barriers_sent[c]})

    def abort_checkpoint(self, checkpoint_id: int, reason: AbortReason) -> None:
        self.aborted.append((checkpoint_id, reason))

    def block_channel(self, channel: int) -> None:
        assert channel in self.machine.sender_blocked, f"channel {channel} blocked, but its sender sent no blocking barrier"

    def resume_channels(self, channels: list[int]) -> None:
        assert channels == sorted(set(channels))
        self.machine.sender_blocked.difference_update(channels)

    def start_persisting(self, channel: int, checkpoint_id: int) -> None:
        self.persisting.add(channel)

    def stop_persisting(self, channel: int, checkpoint_id: int) -> None:
        self.persisting.remove(channel)

    def first_barrier_received(self, checkpoint_id: int) -> None:
        pass

    def last_barrier_received(self, checkpoint_id: int) -> None:
        pass

    def register_alignment_timeout(self, checkpoint_id: int, deadline_us: int) -> None:
        assert checkpoint_id not in self.timers
        self.timers[checkpoint_id] = deadline_us


class BarrierHandlerMachine(RuleBasedStateMachine):
    """An exactly-once handler agrees with `Model` after every step, and never strands a blocked sender.

    `MODE` is the checkpoint's configured kind; in UNALIGNED and TIMEOUTABLE
    mode up to two channels are pointwise edges (always ALIGNED barriers).
    """

    MODE = ALIGNED

    @initialize(num_channels=st.sampled_from([3, 2, 4, 1]), pointwise=st.frozensets(st.integers(0, 3), max_size=2),
                eop_aborts=st.booleans())
    def setup(self, num_channels, pointwise, eop_aborts):
        self.num_channels, self.mode, self.pointwise = num_channels, self.MODE, pointwise
        self.world = World(self)
        self.handler = BarrierHandler(num_channels, self.world, "exactly_once", end_of_partition_aborts=eop_aborts)
        self.model = Model(num_channels, eop_aborts)
        self.trigger_time_us: dict[int, int] = {}
        self.sent = [0] * num_channels  # highest id each channel delivered (barrier or cancel marker)
        self.barriers_sent: list[set[int]] = [set() for _ in range(num_channels)]
        self.sender_blocked: set[int] = set()
        self.ended: set[int] = set()

    # ------------------------------------------------------------ the world

    def _ready(self, behind_only: bool = False) -> list[int]:
        """Channels that can send: open and not blocked at the sender (and, if asked, behind the JobManager)."""
        issued = len(self.trigger_time_us)
        return [c for c in range(self.num_channels) if c not in self.ended and c not in self.sender_blocked
                and (self.sent[c] < issued or not behind_only)]

    def _ids_for(self, channel: int, highest: int) -> list[int]:
        """Ids the channel may send next, the pending one first (so that alignments get completed)."""
        ids = list(range(self.sent[channel] + 1, highest + 1))
        pending = self.handler.pending_checkpoint_id
        return sorted(ids, key=lambda k: k != pending)

    @rule()
    def start_checkpoint(self):
        """The JobManager triggers the next checkpoint id now (its barriers are delivered later)."""
        self.trigger_time_us[len(self.trigger_time_us) + 1] = self.world.time_us

    @rule(dt_us=st.sampled_from([150, 60, 10]))
    def advance_time(self, dt_us):
        """Virtual time moves on (alignment deadlines are 100 us after a checkpoint's trigger)."""
        self.world.time_us += dt_us

    def _kind(self, channel: int, k: int, promoted: bool) -> BarrierKind:
        if self.mode is ALIGNED or channel in self.pointwise:
            return ALIGNED
        if self.mode is UNALIGNED:
            return UNALIGNED
        # A sender promotes a timeoutable barrier still in its queue once the timeout has passed.
        past = self.world.time_us >= self.trigger_time_us[k] + TIMEOUT_US
        return UNALIGNED if promoted and past else TIMEOUTABLE

    @precondition(lambda self: self._ready())
    @rule(data=st.data())
    def deliver_barrier(self, data):
        """A channel delivers a barrier with a higher id than its last; the newest+1 is triggered first."""
        channel = data.draw(st.sampled_from(self._ready()), label="channel")
        k = data.draw(st.sampled_from(self._ids_for(channel, len(self.trigger_time_us) + 1)), label="checkpoint")
        if k not in self.trigger_time_us:
            self.start_checkpoint()
        self._send_barrier(channel, k, data.draw(st.booleans(), label="promoted"))

    def _missing_pending(self) -> list[int]:
        pending = self.handler.pending_checkpoint_id
        return [c for c in self._ready() if pending is not None and self.sent[c] < pending]

    @precondition(lambda self: self._missing_pending())
    @rule(data=st.data())
    def deliver_pending_barrier(self, data):
        """A channel still missing the pending barrier delivers it (alignments get completed)."""
        channel = data.draw(st.sampled_from(self._missing_pending()), label="channel")
        self._send_barrier(channel, self.handler.pending_checkpoint_id, data.draw(st.booleans(), label="promoted"))

    def _send_barrier(self, channel: int, k: int, promoted: bool) -> None:
        kind = self._kind(channel, k, promoted)
        barrier = CheckpointBarrier(k, self.trigger_time_us[k], CheckpointOptions(kind, TIMEOUT_US))
        self.sent[channel] = k
        self.barriers_sent[channel].add(k)
        if barrier.blocks_upstream:
            self.sender_blocked.add(channel)
        past_deadline = kind is TIMEOUTABLE and self.world.time_us >= barrier.alignment_deadline_us
        result = self.handler.barrier_received(channel, barrier)
        self.model.barrier(channel, k, kind, past_deadline)
        event(f"{kind.name} barrier: {result.name}")

    @precondition(lambda self: self._ready(behind_only=True))
    @rule(data=st.data())
    def cancel_marker(self, data):
        """A channel delivers a cancel marker for an issued id above its last."""
        channel = data.draw(st.sampled_from(self._ready(behind_only=True)), label="channel")
        k = data.draw(st.sampled_from(self._ids_for(channel, len(self.trigger_time_us))), label="checkpoint")
        self.sent[channel] = k
        event(f"cancel marker: {self.handler.cancel_marker_received(channel, k).name}")
        self.model.cancel(k)

    @precondition(lambda self: len(self.ended) < self.num_channels - 1 and self._ready())
    @rule(data=st.data())
    def end_of_partition(self, data):
        """A channel that is not blocked ends; one channel always stays open (Finished is scripted)."""
        channel = data.draw(st.sampled_from(self._ready()), label="channel")
        self.ended.add(channel)
        event(f"end of partition: {self.handler.end_of_partition_received(channel).name}")
        self.model.end_of_partition(channel)

    @precondition(lambda self: self.world.timers)
    @rule(data=st.data())
    def alignment_timer_fires(self, data):
        """Time runs on to a registered alignment timer's deadline (if not already past), and it fires once."""
        k = data.draw(st.sampled_from(sorted(self.world.timers)), label="timer")
        self.world.time_us = max(self.world.time_us, self.world.timers.pop(k))
        event(f"alignment timer: {self.handler.alignment_timed_out(k).name}")
        self.model.timed_out(k)

    # ------------------------------------------------------------ agreement with the model

    @invariant()
    def agrees_with_the_model(self):
        """Pending id, latest id, blocked and persisting channels, triggers and aborts are the model's."""
        h, m = self.handler, self.model
        assert h.pending_checkpoint_id == m.pending
        assert h.latest_checkpoint_id == m.latest
        assert h.blocked_channels == tuple(sorted(m.blocked))
        assert h.persisting_channels == tuple(sorted(m.persisting))
        assert self.world.triggered == m.triggered
        assert self.world.aborted == m.aborted

    @invariant()
    def blocked_channels_delivered_the_pending_barrier(self):
        """Only a channel that delivered the pending barrier is blocked."""
        assert set(self.handler.blocked_channels) <= set(self.handler.arrived_channels)

    @invariant()
    def blocked_senders_are_exactly_the_blocked_channels(self):
        """Every sender that blocked itself is blocked in the handler's books, and vice versa."""
        assert self.sender_blocked == set(self.handler.blocked_channels)

    @invariant()
    def aligned_trigger_saw_every_open_channel(self):
        """An aligned trigger of k happened only after every open channel had delivered barrier k."""
        assert all(not missing for missing in self.world.missing_at_aligned_trigger)

    @invariant()
    def nothing_stays_blocked_when_nothing_is_pending(self):
        """With no checkpoint pending, no channel is blocked or persisting, and no sender waits."""
        if self.handler.pending_checkpoint_id is None:
            assert self.handler.blocked_channels == ()
            assert self.handler.persisting_channels == ()
            assert not self.sender_blocked

    @invariant()
    def triggered_ids_strictly_increase(self):
        """Each checkpoint is triggered at most once, and in increasing id order."""
        ids = [k for k, _ in self.world.triggered]
        assert ids == sorted(set(ids))

    @invariant()
    def unaligned_persists_exactly_the_missing_channels(self):
        """While unaligned, the persisting channels are the open channels without the barrier."""
        h = self.handler
        if h.state.name == "CollectingBarriersUnaligned":
            assert set(h.persisting_channels) == set(h.open_channels) - set(h.arrived_channels)
        assert self.world.persisting == set(h.persisting_channels)


class UnalignedMachine(BarrierHandlerMachine):
    MODE = UNALIGNED


class TimeoutableMachine(BarrierHandlerMachine):
    MODE = TIMEOUTABLE


_SETTINGS = settings(max_examples=100, stateful_step_count=40, deadline=None)
TestAlignedHandlerModel = BarrierHandlerMachine.TestCase
TestAlignedHandlerModel.settings = _SETTINGS
TestUnalignedHandlerModel = UnalignedMachine.TestCase
TestUnalignedHandlerModel.settings = _SETTINGS
TestTimeoutableHandlerModel = TimeoutableMachine.TestCase
TestTimeoutableHandlerModel.settings = _SETTINGS


class TrackerController:
    """Records at-least-once triggers; blocking or persisting is a failure."""

    def __init__(self) -> None:
        self.triggered: list[int] = []

    def now_us(self) -> int:
        return 0

    def trigger_checkpoint(self, barrier: CheckpointBarrier, unaligned: bool) -> None:
        assert not unaligned
        self.triggered.append(barrier.checkpoint_id)

    def abort_checkpoint(self, checkpoint_id: int, reason: AbortReason) -> None:
        pass

    def block_channel(self, channel: int) -> None:
        raise AssertionError("at-least-once blocked a channel")

    resume_channels = start_persisting = stop_persisting = register_alignment_timeout = block_channel

    def first_barrier_received(self, checkpoint_id: int) -> None:
        pass

    def last_barrier_received(self, checkpoint_id: int) -> None:
        pass


@settings(max_examples=150, deadline=None)
@given(num_channels=st.integers(1, 4), data=st.data())
def test_at_least_once_triggers_each_complete_id_once_in_order(num_channels, data):
    """At-least-once never blocks or persists; it triggers k exactly when every channel delivered k and
    no higher id has triggered, so triggered ids strictly increase."""
    ctl = TrackerController()
    handler = BarrierHandler(num_channels, ctl, "at_least_once")
    sent = [0] * num_channels
    delivered: dict[int, set[int]] = {}
    expected: list[int] = []
    for _ in range(data.draw(st.integers(0, 40), label="steps")):
        channel = data.draw(st.integers(0, num_channels - 1), label="channel")
        k = sent[channel] + data.draw(st.integers(1, 3), label="id step")
        sent[channel] = k
        delivered.setdefault(k, set()).add(channel)
        handler.barrier_received(channel, CheckpointBarrier(k, 0, CheckpointOptions(AT_LEAST_ONCE)))
        if len(delivered[k]) == num_channels and (not expected or k > expected[-1]):
            expected.append(k)
        assert ctl.triggered == expected
