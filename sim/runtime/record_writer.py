"""RecordWriter: serialises records into per-channel buffers and hands off full ones.

Layer: `sim.runtime` (no SimPy). One writer per (producer subtask, outgoing
edge). A buffer is finished when it holds `records_per_buffer` records (the
buffer size divided by the estimated record size), when the buffer timeout
flushes it, or when an event is broadcast (pending data goes out first). What
happens to a finished buffer (queueing, credit, the wire) is the simulated
world's business: the writer calls `on_buffer(index, buffer)` and
`on_event(index, event)`.

In a job that uses event time (`timestamped`), every record is written with
the timestamp in `clock.timestamp` (the record being processed, or what the
operator set), and `emit_mark` writes a watermark or status into every
channel's open buffer without flushing it: a watermark waits for its buffer
to fill or for the buffer timeout, as in Flink.

Flink counterpart: `RecordWriter`, `ChannelSelectorRecordWriter`,
`BroadcastRecordWriter`, `BufferWritingResultPartition`,
`RecordWriterOutput.emitWatermark`.
Simplified: records are not really serialised; sizes come from the cost model.
"""

from __future__ import annotations

from typing import Any, Callable

from sim.graph.execution_graph import Channel
from sim.kernel.stable import stable_repr
from sim.runtime.elements import MARK, Buffer, ChannelEvent
from sim.runtime.operators import UserFunctionError
from sim.runtime.partitioners import KeyChannels, Selector
from sim.trace import RecordSent, Trace


class RecordWriter:
    """Routes each record to a channel (or all, for broadcast) and fills buffers."""

    def __init__(self, channels: list[Channel], selector: Selector | None, records_per_buffer: int,
                 record_size_bytes: int, on_buffer: Callable[[int, Buffer], None],
                 on_event: Callable[[int, ChannelEvent], None], trace: Trace, clock: Any, task: str,
                 operator: str = "", target: str = "", timestamped: bool = False):
        self.channels = channels
        self._select = selector
        self._cap = max(1, records_per_buffer)
        self._record_size = record_size_bytes
        self._open: list[list[Any]] = [[] for _ in channels]
        self._seq = [0] * len(channels)
        self._on_buffer = on_buffer
        self._on_event = on_event
        self._trace = trace
        self._clock = clock
        self._task = task
        self._operator = operator
        self._target = target
        self.records_out = 0
        self.buffers_out = 0
        self.bytes_out = 0
        self.timestamped = timestamped
        self.blocking = False
        """Whether this writer feeds a blocking (BATCH) exchange, which the buffer timeout never flushes."""
        self._open_ts: list[list[Any]] = [[] for _ in channels]
        self._marks = [0] * len(channels)
        if timestamped or selector is None or trace.records:
            self.emit = self._make_general_emit()
        else:
            self.emit = self._make_emit()

    def _route_failed(self, value: Any, exc: Exception) -> UserFunctionError:
        exc.add_note(f"while routing a record from {self._operator} to {self._target}")
        return UserFunctionError(self._operator, value, exc)

    def _make_emit(self) -> Callable[[Any], None]:
        """The per-record path as a closure over locals (the hot loop of every exchange)."""
        keys = getattr(self._select, "__self__", None)
        if isinstance(keys, KeyChannels):
            return self._make_keyed_emit(keys)
        select, open_buffers, cap, finish, failed = self._select, self._open, self._cap, self._finish, \
            self._route_failed

        def emit(value: Any) -> None:
            try:
                index = select(value)
            except Exception as exc:
                raise failed(value, exc) from exc
            buf = open_buffers[index]
            buf.append(value)
            if len(buf) >= cap:
                finish(index, "full")

        return emit

    def _make_keyed_emit(self, keys: KeyChannels) -> Callable[[Any], None]:
        """`_make_emit` for a keyBy exchange, with the key-to-channel lookup inlined.

        The buffer-filling tail repeats `_make_emit`'s on purpose: a shared helper
        would add a call per record on the hottest path of the simulator.
        """
        key_of, cache, compute = keys.key_of, keys.cache, keys.compute
        open_buffers, cap, finish, failed = self._open, self._cap, self._finish, self._route_failed

        def emit(value: Any, key_of: Callable = key_of, get: Callable = cache.get, str_: type = str,
                 int_: type = int) -> None:
            try:
                key = key_of(value)
                kind = type(key)
                index = get(key) if kind is str_ or kind is int_ else None
                if index is None:
                    index = compute(key, value)
            except Exception as exc:
                raise failed(value, exc) from exc
            buf = open_buffers[index]
            buf.append(value)
            if len(buf) >= cap:
                finish(index, "full")

        return emit

    def _make_general_emit(self) -> Callable[[Any], None]:
        """Every other path, each part only if needed: broadcast to all channels, a `RecordSent` per
        channel (records-level traces), and the record's `clock.timestamp` (jobs that use event time).
        """
        select, open_buffers, open_ts, cap, finish, failed = self._select, self._open, self._open_ts, self._cap, \
            self._finish, self._route_failed
        clock, channels, task, timestamped = self._clock, self.channels, self._task, self.timestamped
        trace = self._trace if self._trace.records else None
        every_channel = range(len(channels))

        def emit(value: Any) -> None:
            if select is None:
                targets = every_channel
            else:
                try:
                    targets = (select(value),)
                except Exception as exc:
                    raise failed(value, exc) from exc
            for index in targets:
                if trace is not None:
                    trace.emit(RecordSent(clock.now_us, task, channels[index].id, stable_repr(value)))
                buf = open_buffers[index]
                buf.append(value)
                if timestamped:
                    open_ts[index].append(clock.timestamp)
                if len(buf) >= cap:
                    finish(index, "full")

        return emit

    def emit_mark(self, mark: Any) -> None:
        """Write a watermark or status into every channel's open buffer, behind the records before it."""
        for index, buf in enumerate(self._open):
            buf.append(mark)
            self._open_ts[index].append(MARK)
            self._marks[index] += 1
            if len(buf) >= self._cap:
                self._finish(index, "full")

    def _finish(self, index: int, reason: str) -> None:
        values = self._open[index]
        self._open[index] = []
        seq = self._seq[index]
        self._seq[index] = seq + 1
        size = len(values) * self._record_size
        self.buffers_out += 1
        self.bytes_out += size
        if not self.timestamped:
            self.records_out += len(values)
            self._on_buffer(index, Buffer(self.channels[index].id, seq, values, size, reason))
            return
        timestamps, marks = self._open_ts[index], self._marks[index]
        self._open_ts[index], self._marks[index] = [], 0
        self.records_out += len(values) - marks
        self._on_buffer(index, Buffer(self.channels[index].id, seq, values, size, reason, timestamps, marks))

    def flush_all(self, reason: str) -> None:
        """Finish every non-empty open buffer (buffer timeout, or before an event)."""
        for index, buf in enumerate(self._open):
            if buf:
                self._finish(index, reason)

    def broadcast_event(self, event: ChannelEvent) -> None:
        """Flush pending data, then put `event` on every channel behind it."""
        self.flush_all("event")
        for index in range(len(self.channels)):
            self._on_event(index, event)
