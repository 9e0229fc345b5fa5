"""What a trigger sees of its (key, window): the two clocks, timers in the window's namespace, a state dict.

Layer: `sim.runtime` (no SimPy, no clock: the window operator sets the
watermark and processing time before each trigger call). It holds no state
of its own; timers go to the operator's timer service and state to the
operator's per-(key, window) dicts.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from sim.api.windowing import LONG_MIN, Trigger
from sim.runtime.timers import InternalTimerService


class WindowTriggerContext(Trigger.OnMergeContext):
    """The trigger's view of one (key, window): timers in that namespace, and a state dict.

    Flink counterpart: `WindowOperator.Context`.
    Simplified: trigger state is a plain dict per (key, window), not descriptors.
    """

    def __init__(self, timers: InternalTimerService, state: dict[tuple[Any, Any], dict]):
        self._timers = timers
        self._state = state
        self.key: Any = None
        self.window: Any = None
        self.watermark = LONG_MIN
        self.processing_time = 0
        self.merged_windows: list = []

    def at(self, key: Any, window: Any, watermark: int, processing_time: int,
           merged_windows: list | None = None) -> WindowTriggerContext:
        """Points the context at a (key, window) and the two clocks; returns itself."""
        self.key, self.window = key, window
        self.watermark, self.processing_time = watermark, processing_time
        self.merged_windows = merged_windows or []
        return self

    def get_current_watermark(self) -> int:
        return self.watermark

    def get_current_processing_time(self) -> int:
        return self.processing_time

    def register_event_time_timer(self, time: int) -> None:
        self._timers.register_event_time_timer(self.key, self.window, time)

    def register_processing_time_timer(self, time: int) -> None:
        self._timers.register_processing_time_timer(self.key, self.window, time)

    def delete_event_time_timer(self, time: int) -> None:
        self._timers.delete_event_time_timer(self.key, self.window, time)

    def delete_processing_time_timer(self, time: int) -> None:
        self._timers.delete_processing_time_timer(self.key, self.window, time)

    def get_partitioned_state(self) -> dict:
        return self._state.setdefault((self.key, self.window), {})

    def merge_partitioned_state(self, name: str, combine: Callable[[Any, Any], Any]) -> None:
        found = [state[name] for w in self.merged_windows if name in (state := self._state.get((self.key, w), {}))]
        if found:
            merged = functools.reduce(combine, found)
            target = self.get_partitioned_state()
            target[name] = combine(target[name], merged) if name in target else merged

    def get_merged_windows(self) -> list:
        return list(self.merged_windows)
