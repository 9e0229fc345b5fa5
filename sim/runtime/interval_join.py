"""The interval join: pairs of records with equal keys whose event timestamps lie close together.

Layer: `sim.runtime` (no SimPy). With bounds [lower, upper] (inclusive; an
exclusive bound is moved inwards by 1 ms first), a left record at time t
joins every right record of its key at time t' with

    t + lower <= t' <= t + upper

Both sides are buffered in keyed map state (timestamp -> records, in arrival
order). Each arriving record is added to its own buffer, then joined with
the other buffer's matching records, and an event-time cleanup timer is
registered for it:

    left record at t : at t + upper if upper > 0, else at t
    right record at t: at t - lower if lower < 0, else at t

When the (combined) watermark reaches a cleanup timer, that timestamp's
bucket leaves the buffer. A record whose timestamp is below the current
watermark is late: it joins nothing and goes to the side's late-data side
output, or is dropped. A joined pair's timestamp is max(t, t'), and that is
the result's timestamp. A record with no timestamp fails the job.

Order of results: the other buffer's buckets are visited in ascending
timestamp order, each bucket in arrival order **[sim]** (Flink walks its
map state, whose order depends on the backend).

Flink counterpart: `IntervalJoinOperator`.
Simplified: no `hasBeenJoined` flag in buffer entries (Flink keeps it but
never reads it).
"""

from __future__ import annotations

from typing import Any, Callable

from sim.api.functions import LONG_MIN, ProcessJoinFunction, TimeDomain
from sim.api.state import MapStateDescriptor
from sim.kernel.stable import stable_repr
from sim.runtime.operators import _discard
from sim.runtime.timed_operators import _TimedKeyedOperator
from sim.runtime.timers import InternalTimer
from sim.runtime.two_input_operators import TwoInputOperator
from sim.trace import LateElement

LEFT, RIGHT = "CLEANUP_LEFT", "CLEANUP_RIGHT"
"""Timer namespaces: which buffer a cleanup timer empties."""


class IntervalJoinOperator(TwoInputOperator, _TimedKeyedOperator):
    """Runs a ProcessJoinFunction over the pairs the bounds allow (see the module docstring)."""

    def open(self) -> None:
        options = self.node.operator.options
        self.lower = options["lower_ms"] + (0 if options["lower_inclusive"] else 1)
        self.upper = options["upper_ms"] - (0 if options["upper_inclusive"] else 1)
        self._late_tags = {1: options["left_late_tag"], 2: options["right_late_tag"]}
        self._buffers = {1: self.backend.get_map_state(MapStateDescriptor("LEFT_BUFFER")),
                         2: self.backend.get_map_state(MapStateDescriptor("RIGHT_BUFFER"))}
        super().open()

    def _prepare(self) -> None:
        self._count_emitted()
        self._ctx = ProcessJoinFunction.Context()

    def _make_process_for(self, input_number: int) -> Callable[[Any], None]:
        if input_number == 1:
            ours, others, lower, upper, namespace = self._buffers[1], self._buffers[2], self.lower, self.upper, LEFT
        else:
            ours, others, lower, upper, namespace = self._buffers[2], self._buffers[1], -self.upper, -self.lower, RIGHT
        clock, label = self.clock, self.label

        def join(value: Any) -> None:
            timestamp = clock.timestamp
            if timestamp is None:
                raise ValueError(f"{label}: an interval join needs event-time timestamps, but this record of input "
                                 f"{input_number} has none; give its source a WatermarkStrategy with a timestamp "
                                 f"assigner, or call assign_timestamps_and_watermarks() upstream")
            if self.current_watermark != LONG_MIN and timestamp < self.current_watermark:
                self._late(value, timestamp, input_number)
                return
            bucket = ours.get(timestamp)
            ours.put(timestamp, [value] if bucket is None else [*bucket, value])
            for other_timestamp in sorted(others.keys()):
                if timestamp + lower <= other_timestamp <= timestamp + upper:
                    for other in others.get(other_timestamp):
                        self._collect(value, other, timestamp, other_timestamp, input_number)
            clock.timestamp = timestamp
            cleanup = timestamp + upper if upper > 0 else timestamp
            self.timers.register_event_time_timer(self.backend.current_key, namespace, cleanup)

        return self._path(join, input_number, _emitted_already)

    def _collect(self, ours: Any, other: Any, our_timestamp: int, other_timestamp: int, input_number: int) -> None:
        """Call the user function on one pair, left first, with the pair's timestamps."""
        if input_number == 1:
            left, right, left_ts, right_ts = ours, other, our_timestamp, other_timestamp
        else:
            left, right, left_ts, right_ts = other, ours, other_timestamp, our_timestamp
        ctx = self._ctx
        ctx._left, ctx._right, ctx._result = left_ts, right_ts, max(left_ts, right_ts)
        self.clock.timestamp = ctx._result
        self._emit_all(self.function.process_element(left, right, ctx), ours)

    def _late(self, value: Any, timestamp: int, input_number: int) -> None:
        tag = self._late_tags[input_number]
        if tag is not None:
            self._side_out[tag.tag_id] = self._side_out.get(tag.tag_id, 0) + 1
            self.side_outputs.get(tag.tag_id, _discard)(value)
        if self.trace is not None and self.trace.checkpoints:
            outcome = "dropped" if tag is None else f"side output {tag.tag_id}"
            self.trace.emit(LateElement(self.clock.now_us, self.task_id, self.label, stable_repr(value), timestamp,
                                        self.current_watermark, outcome))

    def on_timer(self, timer: InternalTimer, domain: TimeDomain) -> None:
        """A cleanup timer: drop the bucket it was registered for."""
        if timer.namespace == LEFT:
            self._buffers[1].remove(timer.timestamp if self.upper <= 0 else timer.timestamp - self.upper)
        else:
            self._buffers[2].remove(timer.timestamp + self.lower if self.lower <= 0 else timer.timestamp)


def _emitted_already(result: Any, value: Any) -> None:
    """The join emits its pairs while it runs; nothing is left to emit after it."""
