"""What travels on a channel: network buffers of records, and in-band events.

Layer: `sim.runtime` (no SimPy). A `Buffer` holds the records one producer
serialised for one channel, in order; its size is what the network charges.
Events (end of partition now; barriers later) travel in the same FIFO as
buffers but need no credit.

Flink counterpart: `Buffer`/`NetworkBuffer`, `EndOfPartitionEvent`.
Simplified: a record's serialised size is an estimate from the cost model,
not the bytes of a real serialiser.
"""

from __future__ import annotations

from typing import Any


class Buffer:
    """A finished network buffer: `values` in order, `size_bytes`, and its `seq` on the channel."""

    __slots__ = ("channel", "seq", "values", "size_bytes", "reason", "floating")
    is_event = False

    def __init__(self, channel: str, seq: int, values: list[Any], size_bytes: int, reason: str):
        self.channel = channel
        self.seq = seq
        self.values = values
        self.size_bytes = size_bytes
        self.reason = reason
        self.floating = False

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
