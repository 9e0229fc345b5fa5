"""Operators that live in time: the timestamp assigner, keyed process functions with timers, and windows.

Layer: `sim.runtime` (no SimPy). Each takes processing time from the task's
clock and registers its wake-ups with the task's `ProcessingTimeService`; the
simulated world runs those between steps. Event time arrives as watermarks
through `process_watermark`, which fires every due event-time timer (and so
every due window) before the watermark goes on, as Flink does.

BATCH mode: only Long.MAX_VALUE exists as a watermark (`BatchWatermarkAnnouncer`),
and a keyed operator is told when each key's input ends (`end_key`): its
event time jumps to Long.MAX_VALUE, every timer of the key fires, and event
time falls back to Long.MIN_VALUE for the next key.

What reaches the trace (jobs that use event time): every watermark an
operator advances to, every late element (sent to the side output or
dropped), and, at the buffers level, every window firing and timer.

Flink counterpart: `TimestampsAndWatermarksOperator`, `KeyedProcessOperator`,
`WindowOperator` / `EvictingWindowOperator`.
Simplified: window contents and timers live beside the keyed state backend
(in the operator, checkpointed as operator data tagged with key groups), not
inside it; so a RocksDB job keeps its windows on the heap.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from sim.api.eventtime import LONG_MAX, Watermark, WatermarkStrategy
from sim.api.functions import LONG_MIN, Function, KeyedProcessFunction, TimeDomain
from sim.api.windowing import GlobalWindow, TimestampedValue, TimeWindow
from sim.kernel.stable import stable_repr
from sim.runtime.operators import OperatorTimerService, StreamOperator, UserFunctionError, _KeyedOperator
from sim.runtime.timers import InternalTimer, InternalTimerService, TimerChange
from sim.runtime.watermarks import TimestampsAndWatermarks, WatermarkStatus
from sim.runtime.window_operator import Emission, EmissionKind, WindowOperatorLogic
from sim.state import serde
from sim.trace import LateElement, TimerFired, WatermarkStatusChanged, WindowFired

serde.register_type(TimeWindow, "TimeWindow", lambda w: [w.start, w.end], lambda d: TimeWindow(d[0], d[1]))
serde.register_type(GlobalWindow, "GlobalWindow", lambda w: None, lambda d: GlobalWindow())
serde.register_type(TimestampedValue, "TimestampedValue", lambda v: [v.value, v.timestamp],
                    lambda d: TimestampedValue(d[0], d[1]))


def window_label(window: Any) -> str:
    """`[start, end)` for a time window, `GlobalWindow` for the global one."""
    return str(window) if isinstance(window, TimeWindow) else "GlobalWindow"


class WatermarkAnnouncer:
    """Sends what a watermark driver (a source's splits, an assigner) decided: ACTIVE, watermark, IDLE.

    A stream is announced ACTIVE before its first watermark after being idle,
    and IDLE after the watermark it went idle with, so no watermark ever
    travels on a stream downstream believes idle.
    """

    def __init__(self, op: StreamOperator):
        self._op = op
        self.sent = WatermarkStatus.ACTIVE

    def announce(self, status: WatermarkStatus, watermark: Watermark | None) -> None:
        op = self._op
        if status is WatermarkStatus.ACTIVE and self.sent is WatermarkStatus.IDLE:
            self._send(WatermarkStatus.ACTIVE)
        if watermark is not None:
            StreamOperator.process_watermark(op, watermark.timestamp)
        if status is WatermarkStatus.IDLE and self.sent is WatermarkStatus.ACTIVE:
            self._send(WatermarkStatus.IDLE)

    def final(self) -> None:
        """End of input: Long.MAX_VALUE, on an active stream."""
        if self.sent is WatermarkStatus.IDLE:
            self._send(WatermarkStatus.ACTIVE)
        if self._op.current_watermark < LONG_MAX:
            StreamOperator.process_watermark(self._op, LONG_MAX)

    def _send(self, status: WatermarkStatus) -> None:
        self.sent = status
        op = self._op
        trace = getattr(op, "trace", None)
        if trace is not None and trace.checkpoints:
            trace.emit(WatermarkStatusChanged(op.clock.now_us, op.task_id, op.label, status.value))
        op.mark_output(status)


class BatchWatermarkAnnouncer(WatermarkAnnouncer):
    """BATCH mode: generators are ignored, so only Long.MAX_VALUE goes out; other watermarks and statuses do not.

    Flink counterpart: the `emitProgressiveWatermarks = false` setting of
    sources and `TimestampsAndWatermarksOperator` in BATCH mode.
    """

    def announce(self, status: WatermarkStatus, watermark: Watermark | None) -> None:
        if watermark is not None and watermark.timestamp == LONG_MAX:
            super().announce(WatermarkStatus.ACTIVE, watermark)


def make_announcer(op: StreamOperator) -> WatermarkAnnouncer:
    """The announcer for a source or assigner: every watermark (STREAMING) or only the final one (BATCH)."""
    return WatermarkAnnouncer(op) if op.progressive_watermarks else BatchWatermarkAnnouncer(op)


class TimestampsOperator(StreamOperator):
    """`assign_timestamps_and_watermarks`: new timestamps, its own watermarks; upstream event time dropped.

    A record goes out with its new timestamp before the generator sees it.
    Every `auto_watermark_interval_ms` of processing time the generator may
    emit; the next emission is planned from when the last one actually ran.
    Only an upstream Long.MAX_VALUE (end of input) is forwarded.
    """

    time: Any = None
    interval_ms = 0

    def open(self) -> None:
        strategy = self.function
        if not isinstance(strategy, WatermarkStrategy):
            raise TypeError(f"{self.label} needs a WatermarkStrategy, got {type(strategy).__name__}")
        self.driver = TimestampsAndWatermarks(strategy)
        self.announcer = make_announcer(self)
        super().open()
        if self.interval_ms > 0:
            self.time.register(self.clock.now_ms() + self.interval_ms, self._periodic)

    def _make_process(self) -> Callable[[Any], None]:
        on_record, clock, out, label, announcer = self.driver.on_record, self.clock, self.output, self.label, \
            self.announcer

        def process_element(value: Any) -> None:
            previous = clock.timestamp
            try:
                stamped = on_record(value, previous)
            except Exception as exc:
                raise UserFunctionError(label, value, exc) from exc
            clock.timestamp = stamped.timestamp
            out(value)
            clock.timestamp = previous
            if stamped.watermark is not None:
                announcer.announce(self.driver.status, stamped.watermark)

        return process_element

    def _periodic(self, time_ms: int) -> None:
        now = self.clock.now_ms()
        watermark = self._call(lambda: self.driver.on_periodic_emit(now), None, has_record=False)
        self.announcer.announce(self.driver.status, watermark)
        self.time.register(now + self.interval_ms, self._periodic)

    def process_watermark(self, timestamp: int) -> None:
        watermark = self.driver.upstream_watermark(Watermark(timestamp))
        if watermark is not None:
            self.announcer.announce(WatermarkStatus.ACTIVE, watermark)

    def process_status(self, status: Any) -> None:
        """Upstream idleness is not this operator's: it decides its own."""

    def end_input(self) -> None:
        now = self.clock.now_ms()
        watermark = self._call(lambda: self.driver.on_finish(now), None, has_record=False)
        self.announcer.announce(self.driver.status, watermark)


class _TimedKeyedOperator(_KeyedOperator):
    """A keyed operator with an `InternalTimerService`, woken by watermarks and by processing time."""

    time: Any = None
    trace: Any = None
    task_id = ""
    _restored_timers: tuple[dict, ...] = ()

    def restore_operator_state(self, states: list[dict | None], subtask: int, parallelism: int) -> None:
        """Keep the old subtasks' timers; `open()` adds those of this subtask's key groups."""
        self._restored_timers = tuple(s["timers"] for s in states if s is not None and "timers" in s)

    def open(self) -> None:
        self.timers = self._timer_service()
        for snapshot in self._restored_timers:
            self.timers.restore(snapshot, self.backend.key_group_range)
        self._wake_at(self.timers.next_processing_time())
        super().open()

    def _timer_service(self) -> InternalTimerService:
        return InternalTimerService(self.label, self.backend.key_group_of)

    def _wake_at(self, time_ms: int | None) -> None:
        if time_ms is not None:
            self.time.register(time_ms, self.on_processing_time)

    def on_watermark(self, timestamp: int) -> None:
        self._fire(lambda: self.timers.poll_event_time_timer(timestamp), TimeDomain.EVENT_TIME)

    def on_processing_time(self, time_ms: int) -> None:
        now = self.clock.now_ms()
        self._fire(lambda: self.timers.poll_processing_time_timer(now), TimeDomain.PROCESSING_TIME)
        self._wake_at(self.timers.next_processing_time())

    def _fire(self, poll: Callable[[], InternalTimer | None], domain: TimeDomain) -> None:
        while (timer := poll()) is not None:
            if self.trace is not None and self.trace.buffers:
                self.trace.emit(TimerFired(self.clock.now_us, self.task_id, self.label, stable_repr(timer.key),
                                           timer.timestamp, domain.name))
            self.backend.current_key = timer.key
            self.clock.timestamp = timer.timestamp if domain is TimeDomain.EVENT_TIME else None
            self.on_timer(timer, domain)

    def on_timer(self, timer: InternalTimer, domain: TimeDomain) -> None:
        raise NotImplementedError

    def end_key(self) -> None:
        """BATCH: the current key's input ended (Flink's `BatchExecutionInternalTimeService` on a key switch).

        Event time jumps to Long.MAX_VALUE: every event-time timer of the key
        fires, then every processing-time timer, each in timestamp order;
        timers registered meanwhile are ignored. Then event time falls back to
        Long.MIN_VALUE and the key's state goes.
        """
        self.timers.quiesced = True
        self.current_watermark = LONG_MAX
        self.on_watermark(LONG_MAX)
        self.fire_all_processing_time_timers()
        self.timers.quiesced = False
        self.current_watermark = self.timers.current_watermark = LONG_MIN
        super().end_key()

    def fire_all_processing_time_timers(self) -> None:
        """Fire every processing-time timer now, whatever its time (BATCH, at the end of a key)."""
        self._fire(lambda: self.timers.poll_processing_time_timer(LONG_MAX), TimeDomain.PROCESSING_TIME)

    def snapshot_operator_state(self, checkpoint_id: int) -> dict | None:
        timers = self.timers.snapshot()
        if not timers["event_time"] and not timers["processing_time"]:
            return None
        return {"timers": timers}


class KeyedTimerService(OperatorTimerService):
    """The timers of the current key of a keyed process function (and its time, as any operator's)."""

    _op: _TimedKeyedOperator

    def register_event_time_timer(self, timestamp: int) -> None:
        self._op.timers.register_event_time_timer(self._op.backend.current_key, None, timestamp)

    def register_processing_time_timer(self, timestamp: int) -> None:
        op = self._op
        if op.timers.register_processing_time_timer(op.backend.current_key, None, timestamp) is TimerChange.REGISTERED:
            op.time.register(timestamp, op.on_processing_time)

    def delete_event_time_timer(self, timestamp: int) -> None:
        self._op.timers.delete_event_time_timer(self._op.backend.current_key, None, timestamp)

    def delete_processing_time_timer(self, timestamp: int) -> None:
        self._op.timers.delete_processing_time_timer(self._op.backend.current_key, None, timestamp)


class KeyedProcessOperator(_TimedKeyedOperator):
    """Runs a KeyedProcessFunction: `process_element` per record, `on_timer` per timer of a key."""

    def _make_process(self) -> Callable[[Any], None]:
        service = KeyedTimerService(self)
        ctx = KeyedProcessFunction.Context(service, self.clock)
        self._timer_ctx = KeyedProcessFunction.OnTimerContext(service, self.clock)
        fn, key_of, backend = self.function.process_element, self.key_of, self.backend
        emit_all, label = self._emit_all, self.label
        self._count_emitted()

        def process_element(value: Any) -> None:
            try:
                ctx._key = backend.current_key = key_of(value)
                results = fn(value, ctx)
            except Exception as exc:
                raise UserFunctionError(label, value, exc) from exc
            emit_all(results, value)

        return process_element

    def on_timer(self, timer: InternalTimer, domain: TimeDomain) -> None:
        ctx = self._timer_ctx
        ctx._key, ctx._time_domain, ctx._timer_timestamp = timer.key, domain, timer.timestamp
        results = self._call(lambda: self.function.on_timer(timer.timestamp, ctx), None, has_record=False)
        self._emit_all(results, None)


class WindowOperator(_TimedKeyedOperator):
    """`window(...)` on a keyed stream (and `window_all`, keyed by one constant): `WindowOperatorLogic` at work.

    The logic decides; this operator feeds it each record with the current
    watermark and processing time, wakes it for its timers, and turns its
    emissions into records (timestamped `window.max_timestamp()`), side
    outputs, late-element side output records, and trace events.
    """

    _restored_windows: tuple[dict, ...] = ()

    def restore_operator_state(self, states: list[dict | None], subtask: int, parallelism: int) -> None:
        """Keep the old subtasks' windows and timers; `open()` adds those of this subtask's key groups."""
        self._restored_windows = tuple(s["windows"] for s in states if s is not None and "windows" in s)

    def open(self) -> None:
        options = self.node.operator.options
        functions = {name: self._copy(options.get(name)) for name in
                     ("window_function", "reduce_function", "aggregate_function")}
        self.logic = WindowOperatorLogic(
            options["assigner"], **functions, trigger=options.get("trigger"), evictor=options.get("evictor"),
            allowed_lateness=options.get("allowed_lateness", 0), late_data_tag=options.get("late_data_tag"),
            key_group_of=self.backend.key_group_of, name=self.label)
        for snapshot in self._restored_windows:
            self.logic.restore(snapshot, self.backend.key_group_range)
        self._wake_at(self.logic.timers.next_processing_time())
        self._functions = [f for f in functions.values() if isinstance(f, Function)]
        for function in self._functions:
            self._call(lambda f=function: f.open(self.runtime_context), None, has_record=False)
        self.timers = self.logic.timers
        self.process_element = self._make_process()

    def _copy(self, function: Any) -> Any:
        if isinstance(function, Function):
            return self._call(lambda: copy.deepcopy(function), None, has_record=False)
        return function

    def close(self) -> None:
        for function in self._functions:
            self._call(function.close, None, has_record=False)

    def _make_process(self) -> Callable[[Any], None]:
        logic, key_of, backend, clock, label = self.logic, self.key_of, self.backend, self.clock, self.label
        self._count_emitted()

        def process_element(value: Any) -> None:
            timestamp = clock.timestamp
            try:
                key = backend.current_key = key_of(value)
                emissions = logic.process_element(key, value, timestamp, self.current_watermark, clock.now_ms())
            except Exception as exc:
                raise UserFunctionError(label, value, exc) from exc
            if emissions:
                self._emit(emissions, value)
                clock.timestamp = timestamp
            self._wake_at(logic.timers.next_processing_time())

        return process_element

    def on_watermark(self, timestamp: int) -> None:
        self._run(lambda: self.logic.advance_watermark(timestamp, self.clock.now_ms()))

    def on_processing_time(self, time_ms: int) -> None:
        self._run(lambda: self.logic.advance_processing_time(self.clock.now_ms(), self.current_watermark))
        self._wake_at(self.logic.timers.next_processing_time())

    def fire_all_processing_time_timers(self) -> None:
        self._run(lambda: self.logic.advance_processing_time(self.clock.now_ms(), self.current_watermark,
                                                             until=LONG_MAX))

    def end_key(self) -> None:
        """BATCH: fire the key's windows and timers, then drop what is left (e.g. global windows' contents)."""
        super().end_key()
        self.logic.drop_state()

    def _run(self, thunk: Callable[[], list[Emission]]) -> None:
        self._emit(self._call(thunk, None, has_record=False), None)

    def _emit(self, emissions: list[Emission], record: Any) -> None:
        clock, trace = self.clock, self.trace
        for e in emissions:
            kind = e.kind
            if kind is EmissionKind.RESULT:
                clock.timestamp = e.timestamp
                self._main_out += 1
                self.output(e.value)
            elif kind is EmissionKind.SIDE_OUTPUT or kind is EmissionKind.LATE_ELEMENT:
                clock.timestamp = e.timestamp
                tag = e.tag.tag_id
                self._side_out[tag] = self._side_out.get(tag, 0) + 1
                self.side_outputs.get(tag, _ignore)(e.value)
                if kind is EmissionKind.LATE_ELEMENT:
                    self._trace_late(e, f"side output {tag}")
            elif kind is EmissionKind.LATE_DROPPED:
                self._trace_late(e, "dropped")
            elif kind is EmissionKind.WINDOW_FIRED and trace is not None and trace.buffers:
                trace.emit(WindowFired(clock.now_us, self.task_id, self.label, stable_repr(e.key),
                                       window_label(e.window), self.current_watermark))

    def _trace_late(self, e: Emission, outcome: str) -> None:
        if self.trace is not None and self.trace.checkpoints:
            self.trace.emit(LateElement(self.clock.now_us, self.task_id, self.label, stable_repr(e.value),
                                        e.timestamp, self.current_watermark, outcome))

    def on_timer(self, timer: InternalTimer, domain: TimeDomain) -> None:  # the logic fires its own timers
        raise AssertionError("window timers are fired by the window logic")

    def snapshot_operator_state(self, checkpoint_id: int) -> dict | None:
        snapshot = self.logic.snapshot()
        if not any(snapshot[k] for k in ("contents", "merging", "trigger_state")) and \
                not snapshot["timers"]["event_time"] and not snapshot["timers"]["processing_time"]:
            return None
        return {"windows": snapshot}

    def fast_state_accesses(self) -> int:
        """A read and a write of the window contents per record (the cost model's state price)."""
        return 2 * self.records_in


def _ignore(value: Any) -> None:
    pass
