"""Watermarks in the runtime: per-split generators, a mid-pipeline assigner, and merging input channels.

Layer: `sim.runtime` (no SimPy, no clock, nothing from `sim.cluster` or
above). Processing time arrives as `now_ms` arguments; nothing here schedules
anything. The task calls `on_periodic_emit` every auto-watermark interval
(`pipeline.auto-watermark-interval`, 200 ms by default, 0 = never).

Where a task's outgoing watermark comes from:

- a FLIP-27 source runs one generator per split: `SplitWatermarks`;
- `assign_timestamps_and_watermarks` runs one generator and ignores upstream
  event time except the final Long.MAX_VALUE: `TimestampsAndWatermarks`;
- every other task merges its input channels: `StatusWatermarkValve`, and
  `TwoInputWatermarks` for two-input operators.

Every one of them only ever emits strictly increasing watermarks. When a
result carries both a watermark and a status change, ACTIVE goes before the
watermark and IDLE after it (`ValveOutput.elements()`), so a watermark is never
sent on a stream that downstream believes idle.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from enum import Enum
from typing import Any, Hashable, Iterable

from sim.api.eventtime import (  # noqa: F401 (DEFAULT_AUTO_WATERMARK_INTERVAL_MS is re-exported)
    DEFAULT_AUTO_WATERMARK_INTERVAL_MS, LONG_MAX, TimestampAssigner, Watermark, WatermarkGenerator,
    WatermarkStrategy, check_timestamp_ms,
)
from sim.api.functions import LONG_MIN  # re-exported with LONG_MAX: the runtime's Java long bounds


class WatermarkStatus(Enum):
    """Whether a stream still drives event time (ACTIVE) or has stopped holding it back (IDLE)."""

    ACTIVE = "ACTIVE"
    IDLE = "IDLE"


@dataclass(frozen=True)
class ValveOutput:
    """What an input caused: an optional new watermark and an optional status change."""

    watermark: Watermark | None = None
    status: WatermarkStatus | None = None

    def elements(self) -> list[Watermark | WatermarkStatus]:
        """What to send downstream, in order: ACTIVE before the watermark, IDLE after it."""
        items: list[Watermark | WatermarkStatus] = [] if self.watermark is None else [self.watermark]
        if self.status is WatermarkStatus.ACTIVE:
            items.insert(0, self.status)
        elif self.status is WatermarkStatus.IDLE:
            items.append(self.status)
        return items


NOTHING = ValveOutput()


@dataclass(frozen=True)
class ChannelState:
    """One valve channel as seen from outside: last watermark, status, and whether it is in the minimum."""

    watermark: int
    status: WatermarkStatus
    aligned: bool


@dataclass(frozen=True)
class StampedRecord:
    """A record's assigned event timestamp, and the watermark its generator's `on_event` made (if any)."""

    timestamp: int
    watermark: Watermark | None


class StatusWatermarkValve:
    """Merges a task's input channels into one strictly increasing watermark and one status.

    Lifecycle: every channel starts at Long.MIN_VALUE, ACTIVE and aligned; the
    valve starts ACTIVE, having emitted Long.MIN_VALUE. A watermark on an idle
    channel, or one not above its channel's last, is ignored. The output is the
    minimum over aligned channels (active ones that have caught up), emitted
    only if it exceeds the last output. An idle channel leaves the minimum; on
    becoming active it is aligned at once if its watermark is >= the last
    output, otherwise when a later watermark of its reaches that value. When
    the last active channel goes idle the valve turns IDLE, first flushing the
    maximum over all channels if that channel was holding the minimum; it turns
    ACTIVE again with the first channel to do so.

    Flink counterpart: `StatusWatermarkValve`, `WatermarkStatus`.
    Simplified: one subpartition per channel; a scan replaces Flink's heap of
    aligned channels; only timestamp watermarks (no generalized watermarks).
    """

    def __init__(self, num_channels: int, owner: str = "valve"):
        if isinstance(num_channels, bool) or not isinstance(num_channels, int) or num_channels < 1:
            raise ValueError(f"{owner} needs at least one input channel, found {num_channels!r}")
        self._owner = owner
        self._watermarks = [LONG_MIN] * num_channels
        self._idle = [False] * num_channels
        self._aligned = [True] * num_channels
        self._last_emitted = LONG_MIN
        self._status = WatermarkStatus.ACTIVE

    @property
    def last_emitted(self) -> int:
        return self._last_emitted

    @property
    def status(self) -> WatermarkStatus:
        return self._status

    def channel_states(self) -> tuple[ChannelState, ...]:
        return tuple(ChannelState(wm, WatermarkStatus.IDLE if idle else WatermarkStatus.ACTIVE, aligned)
                     for wm, idle, aligned in zip(self._watermarks, self._idle, self._aligned))

    def input_watermark(self, channel: int, timestamp: int) -> ValveOutput:
        """A watermark arrived on `channel`; returns the valve's new watermark, if any."""
        self._check_channel(channel)
        check_timestamp_ms(timestamp, f"the watermark on {self._owner} channel {channel}")
        if self._idle[channel] or timestamp <= self._watermarks[channel]:
            return NOTHING
        self._watermarks[channel] = timestamp
        if not self._aligned[channel] and timestamp >= self._last_emitted:
            self._aligned[channel] = True
        return ValveOutput(watermark=self._advance_to_min())

    def input_status(self, channel: int, idle: bool) -> ValveOutput:
        """`channel` announced IDLE (`idle=True`) or ACTIVE; returns what the valve emits in response."""
        self._check_channel(channel)
        if not isinstance(idle, bool):
            raise TypeError(f"{self._owner} channel {channel} status must be a bool (idle), found {idle!r}")
        if idle and not self._idle[channel]:
            return self._channel_went_idle(channel)
        if not idle and self._idle[channel]:
            return self._channel_went_active(channel)
        return NOTHING

    def _channel_went_idle(self, channel: int) -> ValveOutput:
        self._idle[channel] = True
        self._aligned[channel] = False
        if not all(self._idle):
            return ValveOutput(watermark=self._advance_to_min())
        flushed = None
        if self._watermarks[channel] == self._last_emitted:
            flushed = self._raise_to(max(self._watermarks))
        self._status = WatermarkStatus.IDLE
        return ValveOutput(flushed, WatermarkStatus.IDLE)

    def _channel_went_active(self, channel: int) -> ValveOutput:
        self._idle[channel] = False
        if self._watermarks[channel] >= self._last_emitted:
            self._aligned[channel] = True
        if self._status is WatermarkStatus.IDLE:
            self._status = WatermarkStatus.ACTIVE
            return ValveOutput(status=WatermarkStatus.ACTIVE)
        return NOTHING

    def _advance_to_min(self) -> Watermark | None:
        aligned = [wm for wm, ok in zip(self._watermarks, self._aligned) if ok]
        return self._raise_to(min(aligned)) if aligned else None

    def _raise_to(self, timestamp: int) -> Watermark | None:
        if timestamp <= self._last_emitted:
            return None
        self._last_emitted = timestamp
        return Watermark(timestamp)

    def _check_channel(self, channel: int) -> None:
        n = len(self._watermarks)
        if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel < n:
            raise ValueError(f"{self._owner} has channels 0..{n - 1}, found channel {channel!r}")


class _Partial:
    """One contributor to a combined watermark: its highest watermark and whether it is idle."""

    __slots__ = ("watermark", "idle")

    def __init__(self) -> None:
        self.watermark = LONG_MIN
        self.idle = False

    def set_watermark(self, timestamp: int) -> bool:
        """Any watermark makes the contributor active; returns True if it raised its watermark."""
        self.idle = False
        if timestamp <= self.watermark:
            return False
        self.watermark = timestamp
        return True


class _Combined:
    """The minimum over non-idle contributors, moving only upwards (Flink's `CombinedWatermarkStatus`)."""

    __slots__ = ("watermark", "idle")

    def __init__(self) -> None:
        self.watermark = LONG_MIN
        self.idle = False

    def update(self, partials: list[_Partial]) -> int | None:
        """Recompute; returns the new combined watermark if it rose. With no contributors nothing changes."""
        if not partials:
            return None
        active = [p.watermark for p in partials if not p.idle]
        self.idle = not active
        if active and min(active) > self.watermark:
            self.watermark = min(active)
            return self.watermark
        return None


class _AnnouncedOutput:
    """What downstream has been told: the highest watermark sent and the status announced.

    Sending a higher watermark announces ACTIVE first if the stream was IDLE.
    """

    __slots__ = ("max_sent", "status")

    def __init__(self) -> None:
        self.max_sent = LONG_MIN
        self.status = WatermarkStatus.ACTIVE

    def emit(self, timestamp: int) -> Watermark | None:
        if timestamp <= self.max_sent:
            return None
        self.max_sent = timestamp
        self.status = WatermarkStatus.ACTIVE
        return Watermark(timestamp)


def _require_watermark(watermark: Any) -> int:
    if not isinstance(watermark, Watermark):
        raise TypeError(f"a watermark generator must emit Watermark objects, found {type(watermark).__name__} "
                        f"{watermark!r}")
    return watermark.timestamp


class _PartialOutput:
    """The `WatermarkOutput` one split's generator writes to."""

    __slots__ = ("partial",)

    def __init__(self, partial: _Partial):
        self.partial = partial

    def emit_watermark(self, watermark: Watermark) -> None:
        self.partial.set_watermark(_require_watermark(watermark))

    def mark_idle(self) -> None:
        self.partial.idle = True

    def mark_active(self) -> None:
        self.partial.idle = False


class IdlenessTimer:
    """Decides, at each periodic emission, whether an input without records has become idle.

    The countdown starts at the first check that finds no record since the
    previous check; the input is idle at the first check where strictly more
    than the timeout has passed since the countdown started. A record resets
    it. So idleness is declared no sooner than the timeout after the last
    record, and up to about two emission intervals later.

    Flink counterpart: `WatermarksWithIdleness.IdlenessTimer`.
    Simplified: the clock is the `now_ms` the caller passes, in milliseconds.
    """

    __slots__ = ("timeout_ms", "_recent_activity", "_quiet_since_ms", "_last_check_ms")

    def __init__(self, timeout_ms: int):
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms <= 0:
            raise ValueError(f"the idle timeout must be a positive int of ms, found {timeout_ms!r}")
        self.timeout_ms = timeout_ms
        self._recent_activity = False
        self._quiet_since_ms: int | None = None
        self._last_check_ms: int | None = None

    def activity(self) -> None:
        self._recent_activity = True

    def check(self, now_ms: int) -> WatermarkStatus:
        if self._last_check_ms is not None and now_ms < self._last_check_ms:
            raise ValueError(f"idleness check went back in time: now_ms {now_ms} < previous {self._last_check_ms}")
        self._last_check_ms = now_ms
        if self._recent_activity:
            self._recent_activity = False
            self._quiet_since_ms = None
            return WatermarkStatus.ACTIVE
        if self._quiet_since_ms is None:
            self._quiet_since_ms = now_ms
            return WatermarkStatus.ACTIVE
        idle = now_ms - self._quiet_since_ms > self.timeout_ms
        return WatermarkStatus.IDLE if idle else WatermarkStatus.ACTIVE


class _GeneratorSlot:
    """One generator with its optional idleness timer (Flink's `WatermarksWithIdleness` wrapper).

    While the timer says idle, the generator's periodic emission is skipped and
    the output is marked idle once; a record clears that, and the generator's
    next emission makes the output active again.
    """

    __slots__ = ("generator", "output", "timer", "idle_now")

    def __init__(self, generator: WatermarkGenerator, output: Any, idle_timeout_ms: int | None):
        self.generator = generator
        self.output = output
        self.timer = None if idle_timeout_ms is None else IdlenessTimer(idle_timeout_ms)
        self.idle_now = False

    def on_event(self, value: Any, timestamp: int) -> None:
        self.generator.on_event(value, timestamp, self.output)
        if self.timer is not None:
            self.timer.activity()
        self.idle_now = False

    def on_periodic_emit(self, now_ms: int) -> None:
        if self.timer is not None and self.timer.check(now_ms) is WatermarkStatus.IDLE:
            if not self.idle_now:
                self.output.mark_idle()
                self.idle_now = True
            return
        self.generator.on_periodic_emit(self.output)


def _assign_timestamp(assigner: TimestampAssigner, value: Any, record_timestamp: int | None) -> int:
    previous = LONG_MIN if record_timestamp is None else check_timestamp_ms(record_timestamp, "a record timestamp")
    timestamp = assigner.extract_timestamp(value, previous)
    return check_timestamp_ms(timestamp, f"the timestamp assigned to {reprlib.repr(value)}")


class _WatermarkDriver:
    """What the task reads from a watermark driver: the last emitted watermark and the status."""

    _out: _AnnouncedOutput

    @property
    def current_watermark(self) -> int:
        """The last watermark emitted (Long.MIN_VALUE before the first)."""
        return self._out.max_sent

    @property
    def status(self) -> WatermarkStatus:
        return self._out.status

    @property
    def is_idle(self) -> bool:
        return self._out.status is WatermarkStatus.IDLE


class SplitWatermarks(_WatermarkDriver):
    """A FLIP-27 source's event time: one generator per split, combined by minimum over non-idle splits.

    Lifecycle: `add_split` registers a split (it holds the minimum at
    Long.MIN_VALUE until its generator emits); `on_record` stamps a record
    and feeds its split's generator; `on_periodic_emit(now_ms)` runs every
    split's idleness check and generator, then returns the combined watermark
    if it rose; `remove_split` drops a finished split. With `with_idleness`, a
    split goes idle per `IdlenessTimer` and leaves the minimum; a record
    clears that, and it rejoins when its generator next emits. When every
    split is idle the source announces IDLE (`is_idle`); it announces ACTIVE
    again only together with its next higher watermark. With no splits it
    emits nothing and stays ACTIVE, holding the minimum downstream at
    Long.MIN_VALUE, unless the strategy has an idle timeout: then it turns
    IDLE once that much time has passed without records (flink-facts §13).

    Flink counterpart: `ProgressiveTimestampsAndWatermarks` with
    `WatermarkOutputMultiplexer`, `CombinedWatermarkStatus`,
    `WatermarksWithIdleness`, `WatermarkToDataOutput`.
    Simplified: watermark alignment (pausing splits) is not applied here; when
    one call makes several higher watermarks only the last is returned.
    """

    def __init__(self, strategy: WatermarkStrategy, splits: Iterable[Hashable] = (), owner: str = "source"):
        self._strategy = strategy
        self._assigner = strategy.timestamp_assigner
        self._owner = owner
        self._slots: dict[Hashable, _GeneratorSlot] = {}
        self._combined = _Combined()
        self._out = _AnnouncedOutput()
        timeout = strategy.idle_timeout_ms
        self._splitless_idleness = None if timeout is None else IdlenessTimer(timeout)
        for split in splits:
            self.add_split(split)

    @property
    def splits(self) -> tuple[Hashable, ...]:
        return tuple(self._slots)

    def split_watermark(self, split: Hashable) -> int:
        return self._slot(split).output.partial.watermark

    def split_status(self, split: Hashable) -> WatermarkStatus:
        return WatermarkStatus.IDLE if self._slot(split).output.partial.idle else WatermarkStatus.ACTIVE

    def add_split(self, split: Hashable) -> None:
        if split in self._slots:
            raise ValueError(f"{self._owner} already has split {split!r}")
        output = _PartialOutput(_Partial())
        self._slots[split] = _GeneratorSlot(self._strategy.create_generator(), output,
                                            self._strategy.idle_timeout_ms)

    def remove_split(self, split: Hashable) -> None:
        """Forget a finished split; the next periodic emission recombines without it."""
        self._slot(split)
        del self._slots[split]

    def on_record(self, split: Hashable, value: Any, record_timestamp: int | None = None) -> StampedRecord:
        """Stamp `value` (read from `split`, carrying `record_timestamp` or none) and feed its generator."""
        slot = self._slot(split)
        timestamp = _assign_timestamp(self._assigner, value, record_timestamp)
        slot.on_event(value, timestamp)
        return StampedRecord(timestamp, self._publish())

    def on_periodic_emit(self, now_ms: int) -> Watermark | None:
        if not self._slots and self._splitless_idleness is not None:
            # A reader without splits holds the minimum back until its idleness timeout says otherwise.
            if self._splitless_idleness.check(now_ms) is WatermarkStatus.IDLE:
                self._out.status = WatermarkStatus.IDLE
            return None
        for slot in self._slots.values():
            slot.on_periodic_emit(now_ms)
        return self._publish()

    def _publish(self) -> Watermark | None:
        raised = self._combined.update([slot.output.partial for slot in self._slots.values()])
        if raised is not None:
            return self._out.emit(raised)
        if self._combined.idle:
            self._out.status = WatermarkStatus.IDLE
        return None

    def _slot(self, split: Hashable) -> _GeneratorSlot:
        slot = self._slots.get(split)
        if slot is None:
            raise ValueError(f"{self._owner} has no split {split!r}; registered splits: {list(self._slots)}")
        return slot


class _EmitterOutput:
    """The `WatermarkOutput` of `assign_timestamps_and_watermarks`: straight to what downstream is told."""

    __slots__ = ("announced", "pending")

    def __init__(self, announced: _AnnouncedOutput):
        self.announced = announced
        self.pending: Watermark | None = None

    def emit_watermark(self, watermark: Watermark) -> None:
        sent = self.announced.emit(_require_watermark(watermark))
        if sent is not None:
            self.pending = sent

    def mark_idle(self) -> None:
        self.announced.status = WatermarkStatus.IDLE

    def mark_active(self) -> None:
        self.announced.status = WatermarkStatus.ACTIVE

    def take(self) -> Watermark | None:
        pending, self.pending = self.pending, None
        return pending


class TimestampsAndWatermarks(_WatermarkDriver):
    """`assign_timestamps_and_watermarks` in mid-pipeline: new timestamps, one generator, own event time.

    Lifecycle: `on_record` stamps each record (the assigner sees the record's
    old timestamp, or Long.MIN_VALUE) and feeds the generator;
    `on_periodic_emit(now_ms)` runs the idleness check and the generator;
    `on_finish(now_ms)` emits once more at end of input. Upstream event time is
    thrown away: `upstream_watermark` forwards only Long.MAX_VALUE (end of
    input) and `upstream_status` forwards nothing. With `with_idleness` the
    operator announces IDLE itself, and ACTIVE with its next higher watermark.

    Flink counterpart: `TimestampsAndWatermarksOperator` and its
    `WatermarkEmitter`, `WatermarksWithIdleness`.
    BATCH mode keeps the driver and drops what it emits except Long.MAX_VALUE
    (`timed_operators.BatchWatermarkAnnouncer`).
    Simplified: when one call makes several higher watermarks only the last is
    returned.
    """

    def __init__(self, strategy: WatermarkStrategy):
        self._assigner = strategy.timestamp_assigner
        self._out = _AnnouncedOutput()
        self._emitter = _EmitterOutput(self._out)
        self._slot = _GeneratorSlot(strategy.create_generator(), self._emitter, strategy.idle_timeout_ms)

    def on_record(self, value: Any, record_timestamp: int | None = None) -> StampedRecord:
        timestamp = _assign_timestamp(self._assigner, value, record_timestamp)
        self._slot.on_event(value, timestamp)
        return StampedRecord(timestamp, self._emitter.take())

    def on_periodic_emit(self, now_ms: int) -> Watermark | None:
        self._slot.on_periodic_emit(now_ms)
        return self._emitter.take()

    def on_finish(self, now_ms: int) -> Watermark | None:
        """One last periodic emission when the input ends, so the final records count."""
        return self.on_periodic_emit(now_ms)

    def upstream_watermark(self, watermark: Watermark) -> Watermark | None:
        """An upstream watermark arrived: dropped, unless it is Long.MAX_VALUE (forwarded once)."""
        if _require_watermark(watermark) != LONG_MAX:
            return None
        return self._out.emit(LONG_MAX)

    def upstream_status(self, status: WatermarkStatus) -> None:
        """An upstream IDLE/ACTIVE arrived: always dropped, this operator decides its own idleness."""
        if not isinstance(status, WatermarkStatus):
            raise TypeError(f"upstream_status expects a WatermarkStatus, found {status!r}")
        return None


class TwoInputWatermarks:
    """A two-input operator's event time: each input's valve, combined by minimum over non-idle inputs.

    Inputs are numbered 1 and 2, like `process_element1`/`process_element2`.
    The combined watermark is emitted only when it rises; the operator is IDLE
    while both inputs are idle and announces ACTIVE as soon as one is not.

    Flink counterpart: `AbstractStreamOperator.processWatermark1/2` and
    `processWatermarkStatus` over `IndexedCombinedWatermarkStatus`, fed by one
    `StatusWatermarkValve` per input.
    Simplified: when a status change and a higher watermark coincide, the
    result follows `ValveOutput.elements()` order (ACTIVE first).
    """

    def __init__(self, num_channels_1: int, num_channels_2: int, owner: str = "operator"):
        self._owner = owner
        self._valves = (StatusWatermarkValve(num_channels_1, f"{owner} input 1"),
                        StatusWatermarkValve(num_channels_2, f"{owner} input 2"))
        self._partials = [_Partial(), _Partial()]
        self._combined = _Combined()

    @property
    def last_emitted(self) -> int:
        return self._combined.watermark

    @property
    def status(self) -> WatermarkStatus:
        return WatermarkStatus.IDLE if self._combined.idle else WatermarkStatus.ACTIVE

    def valve(self, input_index: int) -> StatusWatermarkValve:
        return self._valves[self._index(input_index)]

    def input_watermark(self, input_index: int, channel: int, timestamp: int) -> ValveOutput:
        out = self.valve(input_index).input_watermark(channel, timestamp)
        return self._combine(input_index, out)

    def input_status(self, input_index: int, channel: int, idle: bool) -> ValveOutput:
        out = self.valve(input_index).input_status(channel, idle)
        return self._combine(input_index, out)

    def _combine(self, input_index: int, out: ValveOutput) -> ValveOutput:
        partial = self._partials[self._index(input_index)]
        was_idle = self._combined.idle
        raised = None
        if out.watermark is not None and partial.set_watermark(out.watermark.timestamp):
            raised = self._combined.update(self._partials)
        if out.status is not None:
            partial.idle = out.status is WatermarkStatus.IDLE
            later = self._combined.update(self._partials)
            raised = raised if later is None else later
        status = None
        if was_idle != self._combined.idle:
            status = self.status
        return ValveOutput(None if raised is None else Watermark(raised), status)

    def _index(self, input_index: int) -> int:
        if input_index not in (1, 2) or isinstance(input_index, bool):
            raise ValueError(f"{self._owner} has inputs 1 and 2, found input {input_index!r}")
        return input_index - 1
