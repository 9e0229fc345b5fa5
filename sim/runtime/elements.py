"""What travels on a channel: network buffers of records, and in-band events.

Layer: `sim.runtime` (no SimPy). A `Buffer` holds the records one producer
serialised for one channel, in order; its size is what the network charges.
Events (end of partition, barriers) travel in the same FIFO as buffers but
need no credit. Watermarks and watermark statuses are not events: like
records, they are written into the data buffers (see `Buffer.timestamps`).

Flink counterpart: `Buffer`/`NetworkBuffer`, `EndOfPartitionEvent`.
Simplified: a record's serialised size is an estimate from the cost model,
not the bytes of a real serialiser.
"""

from __future__ import annotations

from typing import Any


MARK = object()
"""In a timestamped buffer, the timestamp slot of an entry that is a watermark or a status, not a record."""


class Buffer:
    """A finished network buffer: `values` in order, `size_bytes`, and its `seq` on the channel.

    In a job that uses event time, `timestamps` runs beside `values`: each
    record's timestamp (None if it has none), or `MARK` where the entry is a
    `Watermark` or a `WatermarkStatus` serialised between the records, as Flink
    writes watermarks into the data buffers. `marks` counts those entries.
    """

    __slots__ = ("channel", "seq", "values", "size_bytes", "reason", "floating", "timestamps", "marks")
    is_event = False

    def __init__(self, channel: str, seq: int, values: list[Any], size_bytes: int, reason: str,
                 timestamps: list[Any] | None = None, marks: int = 0):
        self.channel = channel
        self.seq = seq
        self.values = values
        self.size_bytes = size_bytes
        self.reason = reason
        self.floating = False
        self.timestamps = timestamps
        self.marks = marks

    @property
    def records(self) -> int:
        """How many records (not watermarks) the buffer holds."""
        return len(self.values) - self.marks

    def state_records(self) -> list[Any]:
        """What channel state keeps of this buffer: its records, as `[value, timestamp]` pairs if timestamped.

        Watermarks and statuses are left out: Flink does not checkpoint watermarks.
        """
        if self.timestamps is None:
            return list(self.values)
        return [[v, ts] for v, ts in zip(self.values, self.timestamps) if ts is not MARK]

    def __repr__(self) -> str:
        return f"Buffer({self.channel}#{self.seq}, {len(self.values)} records)"


class ChannelEvent:
    """An in-band event; `name` is what the trace shows."""

    is_event = True
    name = "Event"
    size_bytes = 64

    def __repr__(self) -> str:
        return self.name


class EndOfPartition(ChannelEvent):
    """The producer will send nothing more on this channel."""

    name = "EndOfPartition"


END_OF_PARTITION = EndOfPartition()
