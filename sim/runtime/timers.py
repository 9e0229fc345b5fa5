"""Event-time and processing-time timers of one operator, kept per (key, namespace, timestamp).

Layer: `sim.runtime`. The service only stores timers and says which are due
for a watermark or a processing time handed in; it never reads a clock, never
calls user code (the operator fires what it is given), and never imports SimPy.
The simulated world asks `next_processing_time()` when to wake the task up.

Firing order (Flink leaves equal timestamps unordered; this is the rule chosen
here, **[sim]**): timers fire by timestamp, and timers with the same timestamp
fire in the order they were first registered (a global registration sequence
number per service). Registering an existing timer again keeps its original
place. A timer deleted and registered again counts as new. Restored timers
are re-registered in the snapshot's firing order. Real Flink pops equal
timestamps in binary-heap order, which this does not reproduce.

Firing condition: an event-time timer is due when `timestamp <= watermark`, a
processing-time timer when `timestamp <= now`. Registering never fires
anything: a timer at or behind the current watermark fires at the next
`advance_watermark` (in Flink, the next, larger watermark).

Quiescing (BATCH mode): while `quiesced` is set, registering does nothing
and says IGNORED. A BATCH operator sets it while the end of a key fires
that key's timers, so a timer registered by a firing timer cannot keep the
key alive, as in Flink's `BatchExecutionInternalTimeService`.
"""

from __future__ import annotations

import heapq
from enum import Enum
from typing import Any, Callable, Container, NamedTuple

from sim.api.functions import LONG_MIN


class TimerChange(Enum):
    """What registering or deleting a timer did."""

    REGISTERED = "registered"
    ALREADY_REGISTERED = "already registered"
    DELETED = "deleted"
    NOT_FOUND = "not found"
    IGNORED = "ignored: the service is quiesced"


class InternalTimer(NamedTuple):
    """A timer: when it fires, for which key, in which namespace (a window, or None)."""

    timestamp: int
    key: Any
    namespace: Any


class _TimerQueue:
    """One time domain's timers: a heap in firing order and an index for dedup and deletion.

    Invariant: `_index` maps every live timer to its sequence number; a heap
    entry `(timestamp, seq, timer)` is live iff `_index.get(timer) == seq`.
    Deleted timers stay in the heap until they reach the top (lazy deletion).
    """

    __slots__ = ("_heap", "_index")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, InternalTimer]] = []
        self._index: dict[InternalTimer, int] = {}

    def __len__(self) -> int:
        return len(self._index)

    def add(self, timer: InternalTimer, seq: int) -> bool:
        if timer in self._index:
            return False
        self._index[timer] = seq
        heapq.heappush(self._heap, (timer.timestamp, seq, timer))
        return True

    def remove(self, timer: InternalTimer) -> bool:
        if self._index.pop(timer, None) is None:
            return False
        if len(self._heap) > 2 * len(self._index) + 32:
            self._heap = [entry for entry in self._heap if self._index.get(entry[2]) == entry[1]]
            heapq.heapify(self._heap)
        return True

    def head(self) -> InternalTimer | None:
        """The next timer to fire, without removing it."""
        heap = self._heap
        while heap and self._index.get(heap[0][2]) != heap[0][1]:
            heapq.heappop(heap)
        return heap[0][2] if heap else None

    def poll(self, limit: int) -> InternalTimer | None:
        """Removes and returns the next timer if its timestamp is `<= limit`."""
        head = self.head()
        if head is None or head.timestamp > limit:
            return None
        heapq.heappop(self._heap)
        del self._index[head]
        return head

    def ordered(self) -> list[InternalTimer]:
        """Every live timer, in firing order."""
        # (timestamp, seq) is unique, so the timers themselves are never compared.
        return [timer for _, _, timer in sorted((t.timestamp, seq, t) for t, seq in self._index.items())]


class InternalTimerService:
    """The timers of one operator instance: one per (key, namespace, timestamp) in each time domain.

    Lifecycle: created empty with the watermark at Long.MIN_VALUE; timers are
    registered and deleted while elements and timers are processed; the
    operator drains due timers with `poll_*` (one at a time, so a timer
    registered while another fires is still seen if due) or with
    `advance_watermark` / `due_processing_timers` (a list); `snapshot()`
    captures the timers (not the watermark) as plain data tagged with key
    groups, and `restore()` adds a snapshot's timers back, optionally only
    those of some key groups.

    Flink counterpart: `InternalTimerServiceImpl` (with `InternalTimer`,
    `TimerHeapInternalTimer`, `HeapPriorityQueueSet`).
    Simplified: one service per operator rather than one per named service and
    key-group partition; namespaces must be immutable, hashable values; equal
    timestamps fire in registration order (see the module docstring).
    """

    def __init__(self, name: str = "timers", key_group_of: Callable[[Any], int] | None = None):
        """Creates an empty service.

        Args:
            name: Names the service in error messages (e.g. "window[2]").
            key_group_of: Maps a key to its key group; needed by `snapshot()`.
        """
        self.name = name
        self.current_watermark = LONG_MIN
        self._key_group_of = key_group_of
        self._event = _TimerQueue()
        self._processing = _TimerQueue()
        self._seq = 0
        self.quiesced = False

    # ---------------------------------------------------------------- registering

    def _timer(self, key: Any, namespace: Any, timestamp: int) -> InternalTimer:
        if type(timestamp) is not int:
            raise TypeError(f"timer service {self.name!r}: a timer timestamp must be an int of ms, got {timestamp!r}")
        return InternalTimer(timestamp, key, namespace)

    def _add(self, queue: _TimerQueue, timer: InternalTimer) -> TimerChange:
        if self.quiesced:
            return TimerChange.IGNORED
        if not queue.add(timer, self._seq):
            return TimerChange.ALREADY_REGISTERED
        self._seq += 1
        return TimerChange.REGISTERED

    def register_event_time_timer(self, key: Any, namespace: Any, timestamp: int) -> TimerChange:
        """Adds an event-time timer unless the same (key, namespace, timestamp) is already there."""
        return self._add(self._event, self._timer(key, namespace, timestamp))

    def register_processing_time_timer(self, key: Any, namespace: Any, timestamp: int) -> TimerChange:
        """Adds a processing-time timer unless the same (key, namespace, timestamp) is already there."""
        return self._add(self._processing, self._timer(key, namespace, timestamp))

    def delete_event_time_timer(self, key: Any, namespace: Any, timestamp: int) -> TimerChange:
        """Removes an event-time timer; deleting a missing timer does nothing (NOT_FOUND)."""
        found = self._event.remove(self._timer(key, namespace, timestamp))
        return TimerChange.DELETED if found else TimerChange.NOT_FOUND

    def delete_processing_time_timer(self, key: Any, namespace: Any, timestamp: int) -> TimerChange:
        """Removes a processing-time timer; deleting a missing timer does nothing (NOT_FOUND)."""
        found = self._processing.remove(self._timer(key, namespace, timestamp))
        return TimerChange.DELETED if found else TimerChange.NOT_FOUND

    # ---------------------------------------------------------------- firing

    def poll_event_time_timer(self, watermark: int) -> InternalTimer | None:
        """Sets the current watermark and removes the next event-time timer with `timestamp <= watermark`."""
        self.current_watermark = watermark
        return self._event.poll(watermark)

    def advance_watermark(self, watermark: int) -> list[InternalTimer]:
        """Sets the current watermark and removes every event-time timer with `timestamp <= watermark`.

        Returns:
            The due timers in firing order.
        """
        return _drain(lambda: self.poll_event_time_timer(watermark))

    def poll_processing_time_timer(self, now_ms: int) -> InternalTimer | None:
        """Removes the next processing-time timer with `timestamp <= now_ms`."""
        return self._processing.poll(now_ms)

    def due_processing_timers(self, now_ms: int) -> list[InternalTimer]:
        """Removes every processing-time timer with `timestamp <= now_ms`, in firing order."""
        return _drain(lambda: self.poll_processing_time_timer(now_ms))

    def next_processing_time(self) -> int | None:
        """When the earliest processing-time timer is due (None if there is none)."""
        head = self._processing.head()
        return None if head is None else head.timestamp

    def next_event_time(self) -> int | None:
        """The earliest event-time timer's timestamp (None if there is none)."""
        head = self._event.head()
        return None if head is None else head.timestamp

    # ---------------------------------------------------------------- looking

    def event_time_timers(self) -> list[InternalTimer]:
        """Every event-time timer, in firing order."""
        return self._event.ordered()

    def processing_time_timers(self) -> list[InternalTimer]:
        """Every processing-time timer, in firing order."""
        return self._processing.ordered()

    def num_event_time_timers(self) -> int:
        return len(self._event)

    def num_processing_time_timers(self) -> int:
        return len(self._processing)

    # ---------------------------------------------------------------- snapshots

    def snapshot(self) -> dict[str, list[tuple[int, int, Any, Any]]]:
        """The timers as plain data: `(key_group, timestamp, key, namespace)` rows in firing order.

        Returns:
            `{"event_time": [...], "processing_time": [...]}`. The watermark is
            not included: Flink does not checkpoint watermarks.

        Raises:
            ValueError: The service was created without `key_group_of`.
        """
        if self._key_group_of is None:
            raise ValueError(f"timer service {self.name!r} needs key_group_of to take a snapshot, got None")
        key_group_of = self._key_group_of
        return {
            domain: [(key_group_of(t.key), t.timestamp, t.key, t.namespace) for t in queue.ordered()]
            for domain, queue in (("event_time", self._event), ("processing_time", self._processing))
        }

    def restore(self, snapshot: dict, key_groups: Container[int] | None = None) -> int:
        """Adds a snapshot's timers, keeping only those in `key_groups` (all if None).

        Restoring several snapshots (e.g. after rescaling) adds them in call
        order. Processing-time timers already due fire at the next
        `due_processing_timers`, i.e. immediately if the world asks at once.

        Returns:
            How many timers were added.

        Raises:
            ValueError: The snapshot is not what `snapshot()` returns.
        """
        if not isinstance(snapshot, dict) or set(snapshot) != {"event_time", "processing_time"}:
            found = sorted(snapshot) if isinstance(snapshot, dict) else type(snapshot).__name__
            raise ValueError(f"timer service {self.name!r}: a snapshot needs keys event_time and "
                             f"processing_time, got {found}")
        added = 0
        for domain, queue in (("event_time", self._event), ("processing_time", self._processing)):
            for key_group, timestamp, key, namespace in snapshot[domain]:
                if key_groups is None or key_group in key_groups:
                    added += self._add(queue, self._timer(key, namespace, timestamp)) is TimerChange.REGISTERED
        return added

    def __repr__(self) -> str:
        return (f"InternalTimerService({self.name!r}, {len(self._event)} event-time, "
                f"{len(self._processing)} processing-time timers)")


def _drain(poll: Callable[[], InternalTimer | None]) -> list[InternalTimer]:
    timers = []
    while (timer := poll()) is not None:
        timers.append(timer)
    return timers
