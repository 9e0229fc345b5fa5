"""Processing-time wake-ups of one task: what it asked to run at which virtual millisecond.

Layer: `sim.runtime` (no SimPy). Operators register callbacks here (the
periodic watermark emission, processing-time timers); the simulated world
asks `next_due_us()` how long it may wait for input, and calls `fire_due`
between steps, in the task thread, never during a step: Flink runs
processing-time timers as mails of the task's mailbox, so they never
overlap `processElement`.

Order: by time, then by registration (a sequence number). A callback
registered again for the same millisecond runs once. After `quiesce()` (end
of input) nothing fires any more, as Flink's timer service is quiesced when
a task finishes: pending processing-time timers are dropped.

Flink counterpart: `ProcessingTimeService`, `SystemProcessingTimeService`.
Simplified: a callback due at millisecond T runs at T * 1000 µs exactly
(or at the end of the step running then).
"""

from __future__ import annotations

import heapq
from typing import Any, Callable


class ProcessingTimeService:
    """A heap of (time ms, sequence, callback); `callback(time_ms)` runs when virtual time reaches it."""

    def __init__(self, clock: Any):
        self._clock = clock
        self._heap: list[tuple[int, int, Callable[[int], None]]] = []
        self._pending: set[tuple[int, Callable[[int], None]]] = set()
        self._seq = 0
        self.quiesced = False

    def now_ms(self) -> int:
        return self._clock.now_ms()

    def register(self, time_ms: int, callback: Callable[[int], None]) -> None:
        """Run `callback(time_ms)` once virtual time reaches `time_ms` (at once if it already has)."""
        if self.quiesced or (time_ms, callback) in self._pending:
            return
        self._pending.add((time_ms, callback))
        heapq.heappush(self._heap, (time_ms, self._seq, callback))
        self._seq += 1

    def next_due_us(self) -> int | None:
        """When the earliest callback is due, in µs (None if there is none)."""
        return self._heap[0][0] * 1000 if self._heap and not self.quiesced else None

    def fire_due(self, now_us: int) -> int:
        """Run every callback due at `now_us`, including ones they register that are due too; returns how many."""
        fired = 0
        heap = self._heap
        while heap and not self.quiesced and heap[0][0] * 1000 <= now_us:
            time_ms, _, callback = heapq.heappop(heap)
            self._pending.discard((time_ms, callback))
            callback(time_ms)
            fired += 1
        return fired

    def quiesce(self) -> None:
        """The task's input ended: drop every pending callback and accept no more."""
        self.quiesced = True
        self._heap.clear()
        self._pending.clear()
