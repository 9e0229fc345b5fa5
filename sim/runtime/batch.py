"""What BATCH mode changes in a keyed task: input sorted by key and run one key at a time; reduce emits once per key.

Layer: `sim.runtime` (no SimPy, no clock reads). In BATCH mode a task whose
chain starts with a keyed operator does not process its input as it
arrives. `SortingInput` collects every record from every channel; once the
input has ended, it sorts them by key, and the task runs one key per step:
the key's records, then `end_key()` on the operator, which fires the key's
timers at Long.MAX_VALUE and drops its state. Watermarks that arrive
meanwhile are combined by the task's valve and only the highest is kept; it
goes on (Long.MAX_VALUE at the end of a bounded input) after the last key.

Sort order, **[sim]**: keys by key group, then by the `stable_repr` of the
key, then by first arrival; within a key, by timestamp (a record without one
sorts first), then by arrival. Flink orders keys by their serialised bytes,
which Python values do not have, and within a key by timestamp, leaving
equal timestamps in no defined order.

Flink counterpart: `SortingDataInput` (with `VariableLengthByteKeyComparator`),
`BatchGroupedReduceOperator`.
Simplified: the sort is one in-memory step; Flink's external sorter works
in managed memory and spills to disk.
"""

from __future__ import annotations

from typing import Any, Callable

from sim.api.eventtime import LONG_MAX, Watermark
from sim.api.functions import LONG_MIN, ReduceFunction, TimeDomain
from sim.api.state import ValueStateDescriptor
from sim.kernel.stable import stable_repr
from sim.runtime.operators import UserFunctionError, _KeyedOperator
from sim.runtime.timed_operators import _TimedKeyedOperator
from sim.runtime.timers import InternalTimer


def _timestamp_order(record: tuple[Any, int | None]) -> int:
    timestamp = record[1]
    return LONG_MIN if timestamp is None else timestamp


class SortingInput:
    """The whole input of a keyed task in BATCH mode: collected, sorted by key, handed out one key at a time.

    Lifecycle: collecting (`add` per record, `mark` per valve output) ->
    `sort()` -> `next_key()` while `has_next_key()` -> `finish()`, which
    forwards the highest watermark seen.
    """

    def __init__(self, head: _KeyedOperator, clock: Any):
        self._head = head
        self._clock = clock
        self._groups: dict[Any, list[tuple[Any, int | None]]] = {}
        self._keys: list[Any] = []
        self._next = 0
        self.records = 0
        self.watermark_seen = LONG_MIN

    def add(self, value: Any) -> None:
        """Keep one record with its timestamp (`clock.timestamp`); its key is computed now, as the sorter's is."""
        try:
            key = self._head.key_of(value)
        except Exception as exc:
            raise UserFunctionError(self._head.label, value, exc) from exc
        record = (value, self._clock.timestamp)
        group = self._groups.get(key)
        if group is None:
            self._groups[key] = [record]
        else:
            group.append(record)
        self.records += 1

    def mark(self, element: Any) -> None:
        """A watermark or status out of the valve: only the highest watermark is remembered."""
        if type(element) is Watermark and element.timestamp > self.watermark_seen:
            self.watermark_seen = element.timestamp

    def sort(self) -> int:
        """Put the keys and each key's records in order; returns the number of keys."""
        key_group_of = self._head.backend.key_group_of
        self._keys = sorted(self._groups, key=lambda key: (key_group_of(key), stable_repr(key)))
        for records in self._groups.values():
            records.sort(key=_timestamp_order)
        return len(self._keys)

    def has_next_key(self) -> bool:
        return self._next < len(self._keys)

    def next_key(self) -> tuple[Any, int]:
        """Run the next key's records through the chain, then end the key; returns (key, records)."""
        key = self._keys[self._next]
        self._next += 1
        records = self._groups.pop(key)
        clock, process = self._clock, self._head.process_element
        for value, timestamp in records:
            clock.timestamp = timestamp
            process(value)
        self._head.end_key()
        return key, len(records)

    def finish(self) -> None:
        """Every key is done: the highest watermark the input carried goes on."""
        if self.watermark_seen > LONG_MIN:
            self._head.process_watermark(self.watermark_seen)


class BatchGroupedReduceOperator(_TimedKeyedOperator):
    """BATCH `reduce`, `sum`, `min`, `max`, `min_by`, `max_by`: each key folded, only the final value emitted.

    A key's first record registers an event-time timer at Long.MAX_VALUE;
    the end of the key fires it, and the folded value goes out with
    timestamp Long.MAX_VALUE.

    Flink counterpart: `BatchGroupedReduceOperator`.
    """

    def _make_process(self) -> Callable[[Any], None]:
        fn = self.function.reduce if isinstance(self.function, ReduceFunction) else self.function
        self._values = values = self.backend.get_state(ValueStateDescriptor("_op_state"))
        timers, key_of, backend, label = self.timers, self.key_of, self.backend, self.label
        self._count_emitted()

        def process_element(value: Any) -> None:
            try:
                key = backend.current_key = key_of(value)
                current = values.value()
                if current is None:
                    timers.register_event_time_timer(key, None, LONG_MAX)
                else:
                    value = fn(current, value)
            except Exception as exc:
                raise UserFunctionError(label, value, exc) from exc
            values.update(value)

        return process_element

    def on_timer(self, timer: InternalTimer, domain: TimeDomain) -> None:
        value = self._values.value()
        if value is not None:
            self._values.clear()
            self._main_out += 1
            self.output(value)
