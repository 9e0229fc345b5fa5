"""The window operator's decisions: assign, add, ask the trigger, fire, refuse late data, clean up.

Layer: `sim.runtime` (no SimPy, no clock: every call is handed the current
watermark and processing time, both in ms). `WindowOperatorLogic` owns the
window contents, session merging, trigger state and timers of one subtask
and answers every input with a list of `Emission`s; it does not forward
records, emit watermarks, charge CPU or wrap user errors. The operator that
runs it does that, and calls `advance_watermark` before forwarding a
watermark, as Flink does.

Lateness (event time only; processing-time windows are never late):

    cleanup_time(w) = w.max_timestamp() + allowed_lateness   (Long.MAX_VALUE on overflow)
                    = w.max_timestamp()                      for processing time
    window late     : cleanup_time(w) <= watermark           -> the element skips w
    element late    : timestamp + allowed_lateness <= watermark
    side output     : only if every window skipped the element AND it is late;
                      without a late-data tag it is dropped and counted

A window not skipped gets the element, its trigger is asked, and its cleanup
timer is (re)registered; a cleanup time of Long.MAX_VALUE (GlobalWindows)
registers none. Session windows check lateness on the merged window.
"""

from __future__ import annotations

import copy
from enum import Enum
from typing import Any, Callable, Container, NamedTuple

from sim.api.functions import OutputTag
from sim.api.windowing import LONG_MAX, Evictor, Trigger, TriggerResult, WindowAssigner, milliseconds_of
from sim.runtime.merging_window_set import MergingWindowSet
from sim.runtime.timers import InternalTimerService
from sim.runtime.window_contents import WindowContents
from sim.runtime.window_functions import InternalWindowFunction, WindowFiringContext
from sim.runtime.window_trigger_context import WindowTriggerContext


class EmissionKind(Enum):
    """What an emission is; only RESULT, SIDE_OUTPUT and LATE_ELEMENT become records."""

    RESULT = "result"  # a window function output, timestamped window.max_timestamp()
    SIDE_OUTPUT = "side output"  # a (tag, value) the window function yielded
    LATE_ELEMENT = "late element"  # a late element sent to the late-data side output
    LATE_DROPPED = "late dropped"  # a late element dropped (counted in num_late_records_dropped)
    WINDOW_FIRED = "window fired"  # the trigger fired; value is the TriggerResult
    WINDOW_PURGED = "window purged"  # the trigger purged the contents
    WINDOW_CLEARED = "window cleared"  # the cleanup timer removed all of the window's state


class Emission(NamedTuple):
    """One output of the window logic, in the order it happened."""

    kind: EmissionKind
    key: Any
    window: Any
    value: Any
    timestamp: int | None
    tag: OutputTag | None = None


class WindowMergeError(RuntimeError):
    """Merging produced a window that is already late (Flink throws UnsupportedOperationException)."""


class WindowOperatorLogic:
    """Everything a window operator decides for the keys of one subtask.

    Lifecycle: built from an assigner and a function; then, in any order,
    `process_element` for each record and `advance_watermark` /
    `advance_processing_time` as time moves (or `on_event_time` /
    `on_processing_time` for single timers); `snapshot()` / `restore()`
    around failures. A window lives from its first element until its cleanup
    timer fires (it may fire several times in between: on time, then once per
    late element within the allowed lateness, always with its full contents).

    Flink counterpart: `WindowOperator` and `EvictingWindowOperator`.
    Simplified: no per-window state for process functions; a trigger's state
    is dropped with its window even if its `clear()` forgets it; merged
    session contents are target first, then the others in start order.
    """

    def __init__(self, assigner: WindowAssigner, *, window_function: Any = None, reduce_function: Any = None,
                 aggregate_function: Any = None, trigger: Trigger | None = None, evictor: Evictor | None = None,
                 allowed_lateness: Any = 0, late_data_tag: OutputTag | None = None,
                 key_group_of: Callable[[Any], int] | None = None, name: str = "window"):
        """Configures the operator (PyFlink's `window(...).trigger(...).evictor(...).process(...)` chain).

        Raises:
            ValueError: No function at all, both reduce and aggregate, negative
                lateness, or a merging assigner with a trigger that cannot merge.
        """
        if window_function is None and reduce_function is None and aggregate_function is None:
            raise ValueError(f"{name} needs a window function, a reduce function or an aggregate function, got none")
        self.name = name
        self.assigner = assigner
        self.trigger = trigger if trigger is not None else assigner.get_default_trigger()
        if assigner.is_merging() and not self.trigger.can_merge():
            raise ValueError(f"{name}: {assigner!r} merges windows, so the trigger must merge too; "
                             f"{self.trigger!r} cannot")
        self.allowed_lateness = milliseconds_of(allowed_lateness, "allowed lateness")
        if self.allowed_lateness < 0:
            raise ValueError(f"{name}: allowed lateness must be >= 0 ms, got {self.allowed_lateness}")
        self.contents = WindowContents(reduce_function, aggregate_function, evictor)
        self.function = InternalWindowFunction(window_function)
        self.late_data_tag = late_data_tag
        self.key_group_of = key_group_of
        self.timers = InternalTimerService(name, key_group_of)
        self.num_late_records_dropped = 0
        self._windows: dict[Any, dict[Any, Any]] = {}  # key -> state window -> stored contents
        self._merging: dict[Any, MergingWindowSet] = {}  # key -> live session windows
        self._trigger_state: dict[tuple[Any, Any], dict] = {}  # (key, window) -> trigger's dict
        self._trigger_ctx = WindowTriggerContext(self.timers, self._trigger_state)
        self._firing_ctx = WindowFiringContext()

    # ---------------------------------------------------------------- lateness

    def cleanup_time(self, window: Any) -> int:
        """When the window's state is dropped: `max_timestamp + allowed_lateness` for event time."""
        if self.assigner.is_event_time():
            return min(window.max_timestamp() + self.allowed_lateness, LONG_MAX)
        return window.max_timestamp()

    def is_window_late(self, window: Any, watermark: int) -> bool:
        return self.assigner.is_event_time() and self.cleanup_time(window) <= watermark

    def is_element_late(self, timestamp: int, watermark: int) -> bool:
        return self.assigner.is_event_time() and timestamp + self.allowed_lateness <= watermark

    # ---------------------------------------------------------------- elements

    def process_element(self, key: Any, value: Any, timestamp: int | None, watermark: int,
                        processing_time: int) -> list[Emission]:
        """Assigns the element to its windows, adds it to each window that is not late, and asks the trigger.

        Returns:
            Firings caused by the element (late firings, count triggers), or
            the element itself as LATE_ELEMENT / LATE_DROPPED.
        """
        out: list[Emission] = []
        merging = self._merging.setdefault(key, MergingWindowSet()) if self.assigner.is_merging() else None
        accepted = False
        for window in self.assigner.assign_windows(value, timestamp, processing_time):
            accepted |= self._add(key, window, value, timestamp, watermark, processing_time, merging, out)
        if merging is not None and not len(merging):
            del self._merging[key]
        if not accepted and self.is_element_late(timestamp, watermark):
            out.append(self._late(key, value, timestamp))
        return out

    def _add(self, key: Any, window: Any, value: Any, timestamp: int | None, watermark: int,
             processing_time: int, merging: MergingWindowSet | None, out: list[Emission]) -> bool:
        """Adds the element to one assigned window unless it is late; True if added."""
        state_window = window
        if merging is not None:
            window = merging.add_window(
                window, lambda *merge: self._merge(key, watermark, processing_time, *merge))
            if self.is_window_late(window, watermark):
                merging.retire_window(window)
                return False
            state_window = merging.get_state_window(window)
        elif self.is_window_late(window, watermark):
            return False
        self._store(key, state_window, self.contents.add(self._stored(key, state_window), value, timestamp))
        ctx = self._trigger_ctx.at(key, window, watermark, processing_time)
        result = self.trigger.on_element(value, timestamp, window, ctx)
        self._act(key, window, state_window, result, watermark, processing_time, out)
        self._cleanup_timer(key, window, register=True)
        return True

    def _merge(self, key: Any, watermark: int, processing_time: int, result: Any, merged: list,
               state_window: Any, merged_state_windows: list) -> None:
        """Merges trigger state, timers and contents of `merged` windows into `result`."""
        if self.assigner.is_event_time() and self.cleanup_time(result) <= watermark:
            raise WindowMergeError(f"{self.name}: merging made window {result} for key {key!r} late "
                                   f"at watermark {watermark}; expected its cleanup time to be ahead")
        if not self.assigner.is_event_time() and result.max_timestamp() <= processing_time:
            raise WindowMergeError(f"{self.name}: merging made window {result} for key {key!r} end at or "
                                   f"before processing time {processing_time}; expected it to end later")
        self.trigger.on_merge(result, self._trigger_ctx.at(key, result, watermark, processing_time, merged))
        for window in merged:
            self._clear_trigger(key, window, watermark, processing_time)
            self._cleanup_timer(key, window, register=False)
        sources = [self._windows.get(key, {}).pop(s, None) for s in merged_state_windows]
        self._store(key, state_window, self.contents.merge(self._stored(key, state_window), sources))

    def _late(self, key: Any, value: Any, timestamp: int | None) -> Emission:
        if self.late_data_tag is not None:
            return Emission(EmissionKind.LATE_ELEMENT, key, None, value, timestamp, self.late_data_tag)
        self.num_late_records_dropped += 1
        return Emission(EmissionKind.LATE_DROPPED, key, None, value, timestamp)

    # ---------------------------------------------------------------- timers

    def advance_watermark(self, watermark: int, processing_time: int) -> list[Emission]:
        """Fires every event-time timer `<= watermark`, one at a time, in the timer service's order."""
        out: list[Emission] = []
        while (timer := self.timers.poll_event_time_timer(watermark)) is not None:
            out += self.on_event_time(timer.timestamp, timer.key, timer.namespace, watermark, processing_time)
        return out

    def advance_processing_time(self, processing_time: int, watermark: int,
                                until: int | None = None) -> list[Emission]:
        """Fires every processing-time timer `<= processing_time` (or `<= until`), one at a time.

        `until` lets BATCH mode fire every timer of a finished key while the
        triggers still see the real `processing_time`.
        """
        out: list[Emission] = []
        limit = processing_time if until is None else until
        while (timer := self.timers.poll_processing_time_timer(limit)) is not None:
            out += self.on_processing_time(timer.timestamp, timer.key, timer.namespace, watermark, processing_time)
        return out

    def on_event_time(self, timestamp: int, key: Any, window: Any, watermark: int,
                      processing_time: int) -> list[Emission]:
        """One event-time timer of (key, window) fired: ask the trigger, then clean up if it is the cleanup timer."""
        return self._on_timer(True, timestamp, key, window, watermark, processing_time)

    def on_processing_time(self, timestamp: int, key: Any, window: Any, watermark: int,
                           processing_time: int) -> list[Emission]:
        """One processing-time timer of (key, window) fired."""
        return self._on_timer(False, timestamp, key, window, watermark, processing_time)

    def _on_timer(self, event_time: bool, timestamp: int, key: Any, window: Any, watermark: int,
                  processing_time: int) -> list[Emission]:
        out: list[Emission] = []
        state_window = window
        if self.assigner.is_merging():
            merging = self._merging.get(key)
            state_window = merging.get_state_window(window) if merging is not None else None
            if state_window is None:
                return out  # a timer of a window that has since merged into another
        ctx = self._trigger_ctx.at(key, window, watermark, processing_time)
        on_time = self.trigger.on_event_time if event_time else self.trigger.on_processing_time
        self._act(key, window, state_window, on_time(timestamp, window, ctx), watermark, processing_time, out)
        if event_time == self.assigner.is_event_time() and timestamp == self.cleanup_time(window):
            self._clear_all_state(key, window, state_window, watermark, processing_time, out)
        return out

    # ---------------------------------------------------------------- firing and clearing

    def _act(self, key: Any, window: Any, state_window: Any, result: TriggerResult, watermark: int,
             processing_time: int, out: list[Emission]) -> None:
        if result.is_fire():
            out += self._fire(key, window, state_window, result, watermark, processing_time)
        if result.is_purge():
            self._store(key, state_window, None)
            out.append(Emission(EmissionKind.WINDOW_PURGED, key, window, None, None))

    def _fire(self, key: Any, window: Any, state_window: Any, result: TriggerResult, watermark: int,
              processing_time: int) -> list[Emission]:
        stored = self._stored(key, state_window)
        if stored is None:
            return []  # purged or evicted empty: Flink calls no function either
        ctx = self._firing_ctx.at(window, watermark, processing_time)
        outputs, stored = self.contents.fire(
            stored, window, ctx, lambda inputs: self.function.process(key, window, ctx, inputs))
        self._store(key, state_window, stored)
        timestamp = window.max_timestamp()
        out = [Emission(EmissionKind.WINDOW_FIRED, key, window, result, None)]
        for output in outputs:
            if isinstance(output, tuple) and len(output) == 2 and isinstance(output[0], OutputTag):
                out.append(Emission(EmissionKind.SIDE_OUTPUT, key, window, output[1], timestamp, output[0]))
            else:
                out.append(Emission(EmissionKind.RESULT, key, window, output, timestamp))
        return out

    def _clear_all_state(self, key: Any, window: Any, state_window: Any, watermark: int, processing_time: int,
                         out: list[Emission]) -> None:
        self._store(key, state_window, None)
        self._clear_trigger(key, window, watermark, processing_time)
        self.function.clear(self._firing_ctx.at(window, watermark, processing_time))
        merging = self._merging.get(key)
        if merging is not None:
            merging.retire_window(window)
            if not len(merging):
                del self._merging[key]
        out.append(Emission(EmissionKind.WINDOW_CLEARED, key, window, None, None))

    def _clear_trigger(self, key: Any, window: Any, watermark: int, processing_time: int) -> None:
        self.trigger.clear(window, self._trigger_ctx.at(key, window, watermark, processing_time))
        self._trigger_state.pop((key, window), None)

    def _cleanup_timer(self, key: Any, window: Any, register: bool) -> None:
        """Registers or deletes the cleanup timer (none for a cleanup time of Long.MAX_VALUE)."""
        time = self.cleanup_time(window)
        if time == LONG_MAX:
            return
        if self.assigner.is_event_time():
            change = self.timers.register_event_time_timer if register else self.timers.delete_event_time_timer
        else:
            change = (self.timers.register_processing_time_timer if register
                      else self.timers.delete_processing_time_timer)
        change(key, window, time)

    # ---------------------------------------------------------------- contents

    def _stored(self, key: Any, state_window: Any) -> Any:
        return self._windows.get(key, {}).get(state_window)

    def _store(self, key: Any, state_window: Any, stored: Any) -> None:
        if stored is not None:
            self._windows.setdefault(key, {})[state_window] = stored
            return
        windows = self._windows.get(key)
        if windows is not None:
            windows.pop(state_window, None)
            if not windows:
                del self._windows[key]

    def drop_state(self) -> None:
        """Forget every window's contents, sessions and trigger state (timers are left alone).

        BATCH mode calls this when a key's input has ended and its timers have
        fired: what is left (e.g. a global window's contents) goes with the key's state.
        """
        self._windows.clear()
        self._merging.clear()
        self._trigger_state.clear()

    def window_contents(self, key: Any, window: Any) -> Any:
        """What `window` holds for `key` now (a list of `TimestampedValue`, a value, an accumulator, or None)."""
        merging = self._merging.get(key)
        state_window = merging.get_state_window(window) if merging is not None else window
        return copy.deepcopy(self._stored(key, state_window))

    def windows(self, key: Any) -> list:
        """The windows of `key` that hold contents: sessions in start order, others in the order they were filled."""
        merging = self._merging.get(key)
        if merging is not None:
            return merging.windows()
        return list(self._windows.get(key, {}))

    # ---------------------------------------------------------------- snapshots

    def snapshot(self) -> dict[str, Any]:
        """Contents, session windows, trigger state and timers as plain data, each row led by its key group.

        Raises:
            ValueError: The logic was built without `key_group_of`.
        """
        if self.key_group_of is None:
            raise ValueError(f"{self.name} needs key_group_of to take a snapshot, got None")
        kg = self.key_group_of
        return copy.deepcopy({
            "contents": [(kg(k), k, w, stored) for k, ws in self._windows.items() for w, stored in ws.items()],
            "merging": [(kg(k), k, merging.snapshot()) for k, merging in self._merging.items()],
            "trigger_state": [(kg(k), k, w, state) for (k, w), state in self._trigger_state.items()],
            "timers": self.timers.snapshot(),
        })

    def restore(self, snapshot: dict[str, Any], key_groups: Container[int] | None = None) -> None:
        """Adds a snapshot's state, keeping only rows of `key_groups` (all if None)."""
        def mine(kg: int) -> bool:
            return key_groups is None or kg in key_groups

        snapshot = copy.deepcopy(snapshot)
        for kg, key, window, stored in snapshot["contents"]:
            if mine(kg):
                self._store(key, window, stored)
        for kg, key, pairs in snapshot["merging"]:
            if mine(kg):
                self._merging[key] = MergingWindowSet(pairs)
        for kg, key, window, state in snapshot["trigger_state"]:
            if mine(kg):
                self._trigger_state[(key, window)] = state
        self.timers.restore(snapshot["timers"], key_groups)
