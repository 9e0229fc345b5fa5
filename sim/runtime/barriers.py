"""Checkpoint barrier handling at a task's inputs, as an explicit state machine.

Layer: `sim.runtime` (no SimPy, no clock, nothing from `sim.cluster` or
`sim.scenario`). The simulated task feeds in what its input channels deliver
(barriers, cancel markers, end of partition) and the alignment timers it was
asked to register; the handler answers only through a `CheckpointController`
and reads time only through `controller.now_us()`.

Exactly-once transition table. `n` is the pending checkpoint, `L` the latest
id seen (pending, triggered or aborted), `k` the input's id, `ch` its
channel. "Open" channels have not ended; "missing" ones are open without
barrier n. Every channel input is first checked (channel in range and not
ended, barrier kind fits the mode); a failed check raises
`BarrierProtocolError`. Actions are controller calls, in order.

    WaitingForFirstBarrier
      barrier k <= L            -> same        IGNORED: resume [ch] if the barrier blocks upstream
      barrier k > L             -> as CollectingBarriers(k), after first_barrier_received
      cancel k > L              -> same        ABORTED: abort k CANCELLED_BY_MARKER; L = k
      cancel k <= L             -> same        IGNORED
      end of partition          -> same        CHANNEL_ENDED (Finished, FINISHED if all ended)
    CollectingBarriers(n), aligning; "aligned" = ALIGNED, or TIMEOUTABLE before its deadline
      barrier n aligned, missing left
                                -> same        ALIGNING: block ch; register the timeout at the
                                               first timeoutable barrier
      barrier n aligned, none missing
                                -> Waiting     TRIGGERED: block ch, last_barrier_received,
                                               trigger(aligned), resume blocked
      barrier n UNALIGNED, or TIMEOUTABLE at/after its deadline; or alignment timed out n
                                -> CollectingBarriersUnaligned(n) (Waiting if none missing)
                                               TRIGGERED: trigger(unaligned), resume channels
                                               whose barrier was TIMEOUTABLE, start_persisting
                                               each missing channel (then as its completion)
    CollectingBarriersUnaligned(n), triggered
      barrier n, missing left   -> same        PERSISTING: stop_persisting ch; ALIGNED: block ch;
                                               TIMEOUTABLE: resume [ch]
      barrier n, none missing   -> Waiting     INPUTS_COMPLETED: as above, last_barrier_received,
                                               resume blocked
    both collecting states
      barrier k < n             -> same        IGNORED: resume [ch] if the barrier blocks upstream
      barrier k > n             -> as Waiting with barrier k, after abort n SUBSUMED and release
      barrier n again on ch     -> raise BarrierProtocolError
      cancel k < n              -> same        IGNORED
      cancel k == n             -> Waiting     ABORTED: abort n CANCELLED_BY_MARKER, release
      cancel k > n              -> Waiting     ABORTED: abort n SUBSUMED, release, abort k
                                               CANCELLED_BY_MARKER; L = k
      end of partition          -> stop_persisting ch, then:
          end_of_partition_aborts  Waiting     ABORTED: abort n END_OF_PARTITION, release
          none missing now         Waiting     the state's completion (TRIGGERED / INPUTS_COMPLETED)
          missing left             same        CHANNEL_ENDED
        (then Finished if every channel has ended)
    Finished
      any channel input         -> raise BarrierProtocolError
    every state except CollectingBarriers(n) with k == n
      alignment timed out k     -> same        IGNORED (a stale timer)
    (CollectingBarriers(n) timed out for n without a registered timer raises.)

"Release" is stop_persisting for every persisting channel, then resume every
blocked channel. The barrier handed to trigger_checkpoint is the pending
checkpoint's least aligned barrier seen so far (UNALIGNED > TIMEOUTABLE >
ALIGNED), promoted to UNALIGNED for an unaligned trigger.

At-least-once has one working state, `TrackingBarriers` (then `Finished`):
barrier k counts ch for k (a new k > L starts a count with
first_barrier_received, dropping the oldest count beyond 50); once every
open channel counted k: last_barrier_received, trigger(unaligned=False), and
all counts for ids <= k are dropped without an abort call. Cancel k (pending,
or > L) drops counts <= k and aborts k. End of partition completes the newest
count that now covers every open channel, or with `end_of_partition_aborts`
aborts every count.
"""

from __future__ import annotations

from enum import Enum
from typing import Iterable, NamedTuple, Protocol

from sim.api.checkpointing import CheckpointingMode
from sim.runtime.checkpoint_events import AbortReason, BarrierKind, CheckpointBarrier

MAX_TRACKED_CHECKPOINTS = 50
"""At-least-once: how many checkpoint ids are counted at once (Flink's tracker limit)."""

_KIND_RANK = {BarrierKind.AT_LEAST_ONCE: 0, BarrierKind.ALIGNED: 1, BarrierKind.TIMEOUTABLE_ALIGNED: 2,
              BarrierKind.UNALIGNED: 3}


class BarrierProtocolError(ValueError):
    """An input that a correct world never delivers (a bug in the simulated world or the wiring)."""


class BarrierResult(Enum):
    """What one input did."""

    IGNORED = "ignored"
    """Nothing changed: an old barrier or marker, or a stale timeout."""
    ALIGNING = "aligning"
    """Accepted; the aligned checkpoint still waits for other channels."""
    COUNTED = "counted"
    """At-least-once: counted; other channels have not delivered this barrier yet."""
    TRIGGERED = "triggered"
    """This input triggered the snapshot."""
    PERSISTING = "persisting"
    """Accepted into a triggered unaligned checkpoint; other channels are still persisted."""
    INPUTS_COMPLETED = "inputs_completed"
    """The last barrier of an already triggered (unaligned) checkpoint arrived."""
    ABORTED = "aborted"
    """This input aborted a checkpoint."""
    CHANNEL_ENDED = "channel_ended"
    """The channel ended; no checkpoint changed."""
    FINISHED = "finished"
    """The channel ended and it was the last open one."""


class CheckpointController(Protocol):
    """What the handler may ask of its task (implemented by the simulated task)."""

    def now_us(self) -> int:
        """Current virtual time."""

    def trigger_checkpoint(self, barrier: CheckpointBarrier, unaligned: bool) -> None:
        """Snapshot now and forward `barrier` downstream (`unaligned` == `barrier.is_priority`)."""

    def abort_checkpoint(self, checkpoint_id: int, reason: AbortReason) -> None:
        """Decline to the JobManager and forward a `CancelCheckpointMarker` downstream."""

    def block_channel(self, channel: int) -> None:
        """The channel's sender blocked itself after an aligned barrier (for tracing and stats)."""

    def resume_channels(self, channels: list[int]) -> None:
        """Resume consumption of these channels (sorted)."""

    def start_persisting(self, channel: int, checkpoint_id: int) -> None:
        """Unaligned: record the channel's in-flight buffers as channel state until its barrier."""

    def stop_persisting(self, channel: int, checkpoint_id: int) -> None:
        """The channel's barrier arrived (or it ended, or the checkpoint was aborted)."""

    def first_barrier_received(self, checkpoint_id: int) -> None:
        """Statistics: alignment (or the unaligned inputs part) starts."""

    def last_barrier_received(self, checkpoint_id: int) -> None:
        """Statistics: alignment (or the unaligned inputs part) ends."""

    def register_alignment_timeout(self, checkpoint_id: int, deadline_us: int) -> None:
        """Call `alignment_timed_out(checkpoint_id)` at `deadline_us`."""


class AlignmentContext:
    """What a state sees: the controller and the handler's channel bookkeeping.

    Invariants: `blocked` and `persisting` are empty while nothing is
    pending; `persisting` and `arrived` are disjoint; `blocked` is a subset
    of `arrived`.

    Flink counterpart: `BarrierHandlerState.Controller` together with the
    alignment fields of `SingleCheckpointBarrierHandler` (`ChannelState`).
    Simplified: channels are ints; the alignment timer is the controller's.
    """

    def __init__(self, num_channels: int, controller: CheckpointController, end_of_partition_aborts: bool):
        self.controller = controller
        self.num_channels = num_channels
        self.end_of_partition_aborts = end_of_partition_aborts
        self.ended: set[int] = set()
        self.pending: CheckpointBarrier | None = None
        self.arrived: dict[int, BarrierKind] = {}
        self.blocked: set[int] = set()
        self.persisting: set[int] = set()
        self.timeout_armed = False
        self.latest_checkpoint_id = 0

    @property
    def pending_id(self) -> int:
        assert self.pending is not None, "no checkpoint is pending"
        return self.pending.checkpoint_id

    def open_channels(self) -> set[int]:
        return set(range(self.num_channels)) - self.ended

    def missing(self) -> list[int]:
        """Open channels that have not delivered the pending barrier, sorted."""
        return sorted(self.open_channels() - self.arrived.keys())

    def all_ended(self) -> bool:
        return len(self.ended) == self.num_channels

    def begin(self, barrier: CheckpointBarrier) -> None:
        self.pending, self.arrived, self.timeout_armed = barrier, {}, False
        self.latest_checkpoint_id = barrier.checkpoint_id
        self.controller.first_barrier_received(barrier.checkpoint_id)

    def record_arrival(self, channel: int, barrier: CheckpointBarrier) -> None:
        if channel in self.arrived:
            raise BarrierProtocolError(
                f"channel {channel} delivered barrier {barrier.checkpoint_id} twice while checkpoint "
                f"{barrier.checkpoint_id} is pending; expected one barrier per channel and checkpoint")
        self.arrived[channel] = barrier.kind
        # Forward the least aligned kind seen: a pointwise input's ALIGNED barrier must not
        # turn the checkpoint aligned for this task's other outputs.
        if _KIND_RANK[barrier.kind] > _KIND_RANK[self.pending.kind]:
            self.pending = barrier

    def block(self, channel: int) -> None:
        self.blocked.add(channel)
        self.controller.block_channel(channel)

    def resume(self, channels: Iterable[int]) -> None:
        chosen = sorted(set(channels))
        if chosen:
            self.blocked.difference_update(chosen)
            self.controller.resume_channels(chosen)

    def start_persisting_missing(self) -> None:
        for channel in self.missing():
            self.persisting.add(channel)
            self.controller.start_persisting(channel, self.pending_id)

    def stop_persisting(self, channel: int) -> None:
        if channel in self.persisting:
            self.persisting.discard(channel)
            self.controller.stop_persisting(channel, self.pending_id)

    def arm_timeout(self, barrier: CheckpointBarrier) -> None:
        """Register the alignment timeout once, at the checkpoint's first timeoutable barrier."""
        deadline_us = barrier.alignment_deadline_us
        if deadline_us is not None and not self.timeout_armed:
            self.timeout_armed = True
            self.controller.register_alignment_timeout(barrier.checkpoint_id, deadline_us)

    def past_deadline(self, barrier: CheckpointBarrier) -> bool:
        deadline_us = barrier.alignment_deadline_us
        return deadline_us is not None and self.controller.now_us() >= deadline_us

    def finish_pending(self) -> None:
        """The pending checkpoint needs no more barriers: release what is still blocked."""
        for channel in sorted(self.persisting):
            self.stop_persisting(channel)
        self.resume(self.blocked)
        self.pending, self.arrived, self.timeout_armed = None, {}, False

    def abort_pending(self, reason: AbortReason) -> None:
        self.controller.abort_checkpoint(self.pending_id, reason)
        self.finish_pending()

    def abort_unseen(self, checkpoint_id: int, reason: AbortReason) -> None:
        """Abort a checkpoint this task saw no barrier of; its later barriers are then ignored."""
        self.latest_checkpoint_id = checkpoint_id
        self.controller.abort_checkpoint(checkpoint_id, reason)


class Transition(NamedTuple):
    """What a state returns for an input: the next state and the input's result."""

    next_state: BarrierHandlerState
    result: BarrierResult


class BarrierHandlerState:
    """One state of the handler; every input returns a `Transition`.

    Flink counterpart: `BarrierHandlerState`.
    Simplified: states are plain objects; the handler's bookkeeping lives in
    `AlignmentContext`, not in the states.
    """

    @property
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return self.name

    def pending_checkpoint_ids(self, ctx: AlignmentContext) -> tuple[int, ...]:
        return () if ctx.pending is None else (ctx.pending.checkpoint_id,)

    def barrier_received(self, ctx: AlignmentContext, channel: int, barrier: CheckpointBarrier) -> Transition:
        raise NotImplementedError

    def cancel_marker_received(self, ctx: AlignmentContext, channel: int, checkpoint_id: int) -> Transition:
        raise NotImplementedError

    def end_of_partition_received(self, ctx: AlignmentContext, channel: int) -> Transition:
        raise NotImplementedError

    def alignment_timed_out(self, ctx: AlignmentContext, checkpoint_id: int) -> Transition:
        """Timers are registered for aligned exactly-once checkpoints only; elsewhere they are stale."""
        return Transition(self, BarrierResult.IGNORED)


def _ignore_old_barrier(state: BarrierHandlerState, ctx: AlignmentContext, channel: int,
                        barrier: CheckpointBarrier) -> Transition:
    # The sender blocked itself after an aligned barrier; nobody else will resume it.
    if barrier.blocks_upstream and channel not in ctx.blocked:
        ctx.resume([channel])
    return Transition(state, BarrierResult.IGNORED)


def _after_channel_ended(ctx: AlignmentContext, transition: Transition) -> Transition:
    if ctx.all_ended():
        result = BarrierResult.FINISHED if transition.result is BarrierResult.CHANNEL_ENDED else transition.result
        return Transition(Finished(), result)
    return transition


class WaitingForFirstBarrier(BarrierHandlerState):
    """Exactly-once, idle: no checkpoint is pending; the next new barrier starts one.

    Flink counterpart: `WaitingForFirstBarrier` (and `WaitingForFirstBarrierUnaligned`).
    Simplified: one waiting state for every barrier kind; the kind of each
    barrier decides what happens next.
    """

    def barrier_received(self, ctx: AlignmentContext, channel: int, barrier: CheckpointBarrier) -> Transition:
        if barrier.checkpoint_id <= ctx.latest_checkpoint_id:
            return _ignore_old_barrier(self, ctx, channel, barrier)
        ctx.begin(barrier)
        # An unaligned first barrier switches at once inside CollectingBarriers.
        return CollectingBarriers().barrier_received(ctx, channel, barrier)

    def cancel_marker_received(self, ctx: AlignmentContext, channel: int, checkpoint_id: int) -> Transition:
        if checkpoint_id <= ctx.latest_checkpoint_id:
            return Transition(self, BarrierResult.IGNORED)
        ctx.abort_unseen(checkpoint_id, AbortReason.CANCELLED_BY_MARKER)
        return Transition(self, BarrierResult.ABORTED)

    def end_of_partition_received(self, ctx: AlignmentContext, channel: int) -> Transition:
        ctx.ended.add(channel)
        return _after_channel_ended(ctx, Transition(self, BarrierResult.CHANNEL_ENDED))


class _CollectingState(BarrierHandlerState):
    """What both collecting states share: newer and older ids, cancel markers, end of partition."""

    def barrier_received(self, ctx: AlignmentContext, channel: int, barrier: CheckpointBarrier) -> Transition:
        if barrier.checkpoint_id < ctx.pending_id:
            return _ignore_old_barrier(self, ctx, channel, barrier)
        if barrier.checkpoint_id > ctx.pending_id:
            ctx.abort_pending(AbortReason.SUBSUMED)
            return WaitingForFirstBarrier().barrier_received(ctx, channel, barrier)
        ctx.record_arrival(channel, barrier)
        return self._pending_barrier_arrived(ctx, channel, barrier)

    def cancel_marker_received(self, ctx: AlignmentContext, channel: int, checkpoint_id: int) -> Transition:
        if checkpoint_id < ctx.pending_id:
            return Transition(self, BarrierResult.IGNORED)
        if checkpoint_id == ctx.pending_id:
            ctx.abort_pending(AbortReason.CANCELLED_BY_MARKER)
        else:
            ctx.abort_pending(AbortReason.SUBSUMED)
            ctx.abort_unseen(checkpoint_id, AbortReason.CANCELLED_BY_MARKER)
        return Transition(WaitingForFirstBarrier(), BarrierResult.ABORTED)

    def end_of_partition_received(self, ctx: AlignmentContext, channel: int) -> Transition:
        ctx.ended.add(channel)
        ctx.stop_persisting(channel)
        if ctx.end_of_partition_aborts:
            ctx.abort_pending(AbortReason.END_OF_PARTITION)
            transition = Transition(WaitingForFirstBarrier(), BarrierResult.ABORTED)
        elif not ctx.missing():
            transition = self._complete(ctx)
        else:
            transition = Transition(self, BarrierResult.CHANNEL_ENDED)
        return _after_channel_ended(ctx, transition)

    def _pending_barrier_arrived(self, ctx: AlignmentContext, channel: int,
                                 barrier: CheckpointBarrier) -> Transition:
        raise NotImplementedError

    def _complete(self, ctx: AlignmentContext) -> Transition:
        raise NotImplementedError


class CollectingBarriers(_CollectingState):
    """Exactly-once, aligning: checkpoint n has begun and is not triggered yet.

    Every channel that delivered barrier n is blocked (at its sender) until
    barrier n has come from every open channel; then the snapshot is
    triggered and all channels resume. A timeoutable checkpoint, and any
    checkpoint that receives an unaligned barrier, switches to unaligned.

    Flink counterpart: `CollectingBarriers`, `AlternatingCollectingBarriers`.
    Simplified: the timeoutable (alternating) variant is the same state with
    a timer; per-channel announcements are not modelled.
    """

    def _pending_barrier_arrived(self, ctx: AlignmentContext, channel: int,
                                 barrier: CheckpointBarrier) -> Transition:
        if barrier.is_priority or ctx.past_deadline(barrier):
            return _switch_to_unaligned(ctx, barrier.as_unaligned(), channel)
        ctx.block(channel)
        if not ctx.missing():
            return self._complete(ctx)
        ctx.arm_timeout(barrier)
        return Transition(self, BarrierResult.ALIGNING)

    def _complete(self, ctx: AlignmentContext) -> Transition:
        ctx.controller.last_barrier_received(ctx.pending_id)
        ctx.controller.trigger_checkpoint(ctx.pending, unaligned=False)
        ctx.finish_pending()
        return Transition(WaitingForFirstBarrier(), BarrierResult.TRIGGERED)

    def alignment_timed_out(self, ctx: AlignmentContext, checkpoint_id: int) -> Transition:
        if checkpoint_id != ctx.pending_id:
            return Transition(self, BarrierResult.IGNORED)
        if not ctx.timeout_armed:
            raise BarrierProtocolError(
                f"alignment timeout fired for checkpoint {checkpoint_id}, which registered none; "
                f"expected timeouts only for timeoutable aligned barriers")
        return _switch_to_unaligned(ctx, ctx.pending.as_unaligned(), None)


def _switch_to_unaligned(ctx: AlignmentContext, barrier: CheckpointBarrier, channel: int | None) -> Transition:
    """Trigger the pending checkpoint unaligned; `channel` delivered the barrier that caused it, if any."""
    ctx.controller.trigger_checkpoint(barrier, unaligned=True)
    # Timeoutable alignment was provisional: release it. ALIGNED channels (pointwise and
    # broadcast edges) keep aligning until the last barrier.
    provisional = [ch for ch in ctx.blocked if ctx.arrived[ch] is BarrierKind.TIMEOUTABLE_ALIGNED]
    if channel is not None and ctx.arrived[channel] is BarrierKind.TIMEOUTABLE_ALIGNED:
        provisional.append(channel)
    ctx.resume(provisional)
    ctx.start_persisting_missing()
    state = CollectingBarriersUnaligned()
    if not ctx.missing():
        state._complete(ctx)
        return Transition(WaitingForFirstBarrier(), BarrierResult.TRIGGERED)
    return Transition(state, BarrierResult.TRIGGERED)


class CollectingBarriersUnaligned(_CollectingState):
    """Exactly-once, unaligned: checkpoint n is triggered; the missing channels' in-flight data is persisted.

    Each later barrier n stops persisting its channel. An ALIGNED barrier (a
    pointwise or broadcast edge) still blocks its channel until the last
    barrier; a timeoutable one is resumed at once.

    Flink counterpart: `CollectingBarriersUnaligned`, `AlternatingCollectingBarriersUnaligned`.
    Simplified: the buffers queued in front of a priority barrier on its own
    channel are left to the simulated task (the barrier overtook them there).
    """

    def _pending_barrier_arrived(self, ctx: AlignmentContext, channel: int,
                                 barrier: CheckpointBarrier) -> Transition:
        ctx.stop_persisting(channel)
        if barrier.kind is BarrierKind.ALIGNED:
            ctx.block(channel)
        elif barrier.kind is BarrierKind.TIMEOUTABLE_ALIGNED:
            ctx.resume([channel])
        if not ctx.missing():
            return self._complete(ctx)
        return Transition(self, BarrierResult.PERSISTING)

    def _complete(self, ctx: AlignmentContext) -> Transition:
        ctx.controller.last_barrier_received(ctx.pending_id)
        ctx.finish_pending()
        return Transition(WaitingForFirstBarrier(), BarrierResult.INPUTS_COMPLETED)


class Finished(BarrierHandlerState):
    """Every input channel has ended; no channel input can arrive any more.

    Flink counterpart: none (the input gate is finished and the task ends).
    Simplified: stale alignment timers are ignored rather than cancelled.
    """

    def _refuse(self, what: str) -> Transition:
        raise BarrierProtocolError(f"{what} arrived after every input channel ended; expected no more input")

    def barrier_received(self, ctx: AlignmentContext, channel: int, barrier: CheckpointBarrier) -> Transition:
        return self._refuse(f"{barrier.name} on channel {channel}")

    def cancel_marker_received(self, ctx: AlignmentContext, channel: int, checkpoint_id: int) -> Transition:
        return self._refuse(f"Cancel({checkpoint_id}) on channel {channel}")

    def end_of_partition_received(self, ctx: AlignmentContext, channel: int) -> Transition:
        return self._refuse(f"end of partition on channel {channel}")


class TrackingBarriers(BarrierHandlerState):
    """At-least-once: barriers are counted per checkpoint id; nothing is ever blocked or persisted.

    `counts` maps each pending id (ascending, as ids only grow) to its first
    barrier and the channels that delivered it. Completing k drops every
    count for a lower id without aborting it: the JobManager subsumes those
    when k completes.

    Flink counterpart: `CheckpointBarrierTracker`.
    Simplified: dropping the oldest count beyond 50 is silent (Flink logs it).
    """

    def __init__(self) -> None:
        self.counts: dict[int, tuple[CheckpointBarrier, set[int]]] = {}

    def pending_checkpoint_ids(self, ctx: AlignmentContext) -> tuple[int, ...]:
        return tuple(self.counts)

    def barrier_received(self, ctx: AlignmentContext, channel: int, barrier: CheckpointBarrier) -> Transition:
        k = barrier.checkpoint_id
        if k not in self.counts:
            if k <= ctx.latest_checkpoint_id:
                return Transition(self, BarrierResult.IGNORED)
            if len(self.counts) >= MAX_TRACKED_CHECKPOINTS:
                del self.counts[next(iter(self.counts))]
            self.counts[k] = (barrier, set())
            ctx.latest_checkpoint_id = k
            ctx.controller.first_barrier_received(k)
        seen = self.counts[k][1]
        if channel in seen:
            raise BarrierProtocolError(
                f"channel {channel} delivered barrier {k} twice while checkpoint {k} is pending; "
                f"expected one barrier per channel and checkpoint")
        seen.add(channel)
        if ctx.open_channels() <= seen:
            return self._complete(ctx, k)
        return Transition(self, BarrierResult.COUNTED)

    def _complete(self, ctx: AlignmentContext, checkpoint_id: int) -> Transition:
        barrier = self.counts[checkpoint_id][0]
        self._drop_up_to(checkpoint_id)
        ctx.controller.last_barrier_received(checkpoint_id)
        ctx.controller.trigger_checkpoint(barrier, unaligned=False)
        return Transition(self, BarrierResult.TRIGGERED)

    def _drop_up_to(self, checkpoint_id: int) -> None:
        for k in [k for k in self.counts if k <= checkpoint_id]:
            del self.counts[k]

    def cancel_marker_received(self, ctx: AlignmentContext, channel: int, checkpoint_id: int) -> Transition:
        if checkpoint_id not in self.counts and checkpoint_id <= ctx.latest_checkpoint_id:
            return Transition(self, BarrierResult.IGNORED)
        self._drop_up_to(checkpoint_id)
        ctx.latest_checkpoint_id = max(ctx.latest_checkpoint_id, checkpoint_id)
        ctx.controller.abort_checkpoint(checkpoint_id, AbortReason.CANCELLED_BY_MARKER)
        return Transition(self, BarrierResult.ABORTED)

    def end_of_partition_received(self, ctx: AlignmentContext, channel: int) -> Transition:
        ctx.ended.add(channel)
        transition = Transition(self, BarrierResult.CHANNEL_ENDED)
        if ctx.end_of_partition_aborts and self.counts:
            for k in list(self.counts):
                ctx.controller.abort_checkpoint(k, AbortReason.END_OF_PARTITION)
            self.counts.clear()
            transition = Transition(self, BarrierResult.ABORTED)
        else:
            complete = [k for k, (_, seen) in self.counts.items() if ctx.open_channels() <= seen]
            if complete:
                transition = self._complete(ctx, complete[-1])
        return _after_channel_ended(ctx, transition)


def _parse_mode(mode: CheckpointingMode | str) -> CheckpointingMode:
    if isinstance(mode, CheckpointingMode):
        return mode
    try:
        return CheckpointingMode(str(mode).upper())
    except ValueError:
        raise ValueError(f"mode must be 'exactly_once' or 'at_least_once', got {mode!r}") from None


class BarrierHandler:
    """The input side of checkpointing for one task: feed it channel events, it drives the controller.

    Lifecycle: starts in `WaitingForFirstBarrier` (exactly-once) or
    `TrackingBarriers` (at-least-once); each input moves `state` along the
    transition table in the module docstring and returns a `BarrierResult`;
    once every channel ended it is `Finished` and channel inputs raise.

    Args:
        num_channels: input channels, numbered 0..num_channels-1.
        controller: the task side (`CheckpointController`).
        mode: "exactly_once" / "at_least_once", or a `CheckpointingMode`.
        end_of_partition_aborts: True when checkpoints after finished tasks
            are off: an input ending during a checkpoint aborts it.

    Raises:
        BarrierProtocolError: from any input the world should never deliver.

    Flink counterpart: `SingleCheckpointBarrierHandler` (exactly-once) and
    `CheckpointBarrierTracker` (at-least-once) behind `CheckpointedInputGate`.
    Simplified: one logical input gate; no concurrent unaligned checkpoints,
    no announcements, and the checkpoint is started by the controller rather
    than by the handler's own subtask coordinator.
    """

    def __init__(self, num_channels: int, controller: CheckpointController,
                 mode: CheckpointingMode | str = "exactly_once", *, end_of_partition_aborts: bool = False):
        if type(num_channels) is not int or num_channels < 1:
            raise ValueError(f"a barrier handler needs at least one input channel, got {num_channels!r}")
        self.mode = _parse_mode(mode)
        self._ctx = AlignmentContext(num_channels, controller, end_of_partition_aborts)
        exactly_once = self.mode is CheckpointingMode.EXACTLY_ONCE
        self.state: BarrierHandlerState = WaitingForFirstBarrier() if exactly_once else TrackingBarriers()

    def barrier_received(self, channel: int, barrier: CheckpointBarrier) -> BarrierResult:
        """Barrier `barrier` was taken from `channel`."""
        self._check_channel(channel, barrier.name)
        at_least_once = barrier.kind is BarrierKind.AT_LEAST_ONCE
        if at_least_once != (self.mode is CheckpointingMode.AT_LEAST_ONCE):
            raise BarrierProtocolError(
                f"{barrier.name} on channel {channel} is {barrier.kind.name}; "
                f"a {self.mode.name} handler cannot take that kind")
        return self._apply(self.state.barrier_received(self._ctx, channel, barrier))

    def cancel_marker_received(self, channel: int, checkpoint_id: int) -> BarrierResult:
        """A `CancelCheckpointMarker(checkpoint_id)` was taken from `channel`."""
        self._check_channel(channel, f"Cancel({checkpoint_id})")
        return self._apply(self.state.cancel_marker_received(self._ctx, channel, checkpoint_id))

    def end_of_partition_received(self, channel: int) -> BarrierResult:
        """`channel` ended: it delivers nothing more, barriers included."""
        self._check_channel(channel, "end of partition")
        return self._apply(self.state.end_of_partition_received(self._ctx, channel))

    def alignment_timed_out(self, checkpoint_id: int) -> BarrierResult:
        """The timer registered for `checkpoint_id` fired; ignored unless it is still aligning."""
        return self._apply(self.state.alignment_timed_out(self._ctx, checkpoint_id))

    def _apply(self, transition: Transition) -> BarrierResult:
        self.state = transition.next_state
        return transition.result

    def _check_channel(self, channel: int, what: str) -> None:
        if type(channel) is not int or not 0 <= channel < self._ctx.num_channels:
            raise BarrierProtocolError(
                f"{what} arrived on channel {channel!r}; expected a channel in 0..{self._ctx.num_channels - 1}")
        # Finished refuses every channel input itself, with its own reason.
        if channel in self._ctx.ended and not self.is_finished:
            raise BarrierProtocolError(f"{what} arrived on channel {channel}, which already ended")

    @property
    def num_channels(self) -> int:
        return self._ctx.num_channels

    @property
    def pending_checkpoint_id(self) -> int | None:
        """The checkpoint being collected (at-least-once: the newest counted id), or None."""
        ids = self.state.pending_checkpoint_ids(self._ctx)
        return ids[-1] if ids else None

    @property
    def pending_checkpoint_ids(self) -> tuple[int, ...]:
        """Every pending id, ascending (at most one for exactly-once)."""
        return self.state.pending_checkpoint_ids(self._ctx)

    @property
    def latest_checkpoint_id(self) -> int:
        """The highest checkpoint id seen by barrier or cancel marker; 0 before any."""
        return self._ctx.latest_checkpoint_id

    @property
    def arrived_channels(self) -> tuple[int, ...]:
        """Exactly-once: channels that delivered the pending barrier, sorted."""
        return tuple(sorted(self._ctx.arrived))

    @property
    def blocked_channels(self) -> tuple[int, ...]:
        return tuple(sorted(self._ctx.blocked))

    @property
    def persisting_channels(self) -> tuple[int, ...]:
        return tuple(sorted(self._ctx.persisting))

    @property
    def ended_channels(self) -> tuple[int, ...]:
        return tuple(sorted(self._ctx.ended))

    @property
    def open_channels(self) -> tuple[int, ...]:
        return tuple(sorted(self._ctx.open_channels()))

    @property
    def is_finished(self) -> bool:
        return isinstance(self.state, Finished)
