"""The live session windows of one key, and which window's state each one uses.

Layer: `sim.runtime` (no SimPy, no clock, no user code except the merge
callback the window operator passes in). It only keeps the mapping and
decides merges; the operator moves contents, trigger state and timers.
"""

from __future__ import annotations

from typing import Callable, Iterable

from sim.api.windowing import TimeWindow, merge_windows

# merge_callback(merge_result, merged_windows, state_window_of_result, merged_state_windows)
MergeCallback = Callable[[TimeWindow, list[TimeWindow], TimeWindow, list[TimeWindow]], None]


class MergingWindowSet:
    """Maps each live window of a key to its *state window*: the namespace its contents live under.

    When windows merge, the merged window takes over the state window of one
    of the windows it covers, so only the other contents need moving. The
    live windows never intersect each other (they would have merged).

    Lifecycle: empty; `add_window` for each assigned window (merging as
    needed); `retire_window` when a window is cleared or turned out late;
    `snapshot()` gives the pairs the constructor takes back.

    Flink counterpart: `MergingWindowSet`.
    Simplified: Flink picks the surviving state window from a hash set; here
    it is the earliest-starting pre-existing window of the merge, and the
    merged windows are listed in start order, so the result is deterministic.
    """

    def __init__(self, mapping: Iterable[tuple[TimeWindow, TimeWindow]] = ()):
        self._mapping: dict[TimeWindow, TimeWindow] = dict(mapping)

    def get_state_window(self, window: TimeWindow) -> TimeWindow | None:
        """The namespace holding `window`'s contents, or None if the window is not live."""
        return self._mapping.get(window)

    def retire_window(self, window: TimeWindow) -> None:
        """Forgets a live window.

        Raises:
            KeyError: The window is not live.
        """
        if self._mapping.pop(window, None) is None:
            raise KeyError(f"window {window} is not in the merging window set, found {sorted(self._mapping)}")

    def windows(self) -> list[TimeWindow]:
        """The live windows, in start order."""
        return sorted(self._mapping)

    def __len__(self) -> int:
        return len(self._mapping)

    def add_window(self, new_window: TimeWindow, merge_callback: MergeCallback) -> TimeWindow:
        """Adds a window, merging it with every live window it intersects or touches.

        For each merge the callback hears the merge result, the pre-existing
        windows it swallowed, the state window the result keeps, and the
        state windows whose contents must move into it. The callback is not
        called when the new window only fell inside one existing window.

        Returns:
            The live window that now covers `new_window` (itself if nothing merged).
        """
        result = new_window
        merged_new = False
        for merge_result, originals in merge_windows([*self._mapping, new_window]):
            merged = [w for w in originals if w != new_window]
            if len(merged) < len(originals):
                merged_new, result = True, merge_result
            state_windows = [self._mapping.pop(w) for w in merged]
            target = state_windows[0]
            self._mapping[merge_result] = target
            if not (len(merged) == 1 and merged[0] == merge_result):
                merge_callback(merge_result, merged, target, state_windows[1:])
        if not merged_new:
            self._mapping.setdefault(new_window, new_window)
        return result

    def snapshot(self) -> list[tuple[TimeWindow, TimeWindow]]:
        """(window, state window) pairs, in start order of the window."""
        return [(window, self._mapping[window]) for window in sorted(self._mapping)]

    def __repr__(self) -> str:
        return "MergingWindowSet(" + ", ".join(f"{w}->{s}" for w, s in self.snapshot()) + ")"
