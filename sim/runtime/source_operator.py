"""The source operator: polls a reader and pushes what it read into the chain, with event time if the job has it.

Layer: `sim.runtime` (no SimPy, no clock reads: the task's clock is handed
in). The chain's head in a source task; `StreamTask.source_step` calls
`emit_batch` once per step.

Flink counterpart: `SourceOperator` (FLIP-27) with its per-split watermark
generation (`ProgressiveTimestampsAndWatermarks`).
Simplified: splits are the reader's own (`split_ids()`), assigned once. On
restore the reader's state comes from the source's own redistribution
(`Source.redistribute_reader_states`), not from split lists in operator
list state.
"""

from __future__ import annotations

from typing import Any

from sim.api.connectors import ReaderPoll, Source
from sim.api.log import Record
from sim.runtime import operators as ops
from sim.runtime.timed_operators import make_announcer
from sim.runtime.watermarks import SplitWatermarks
from sim.state import serde

# A log record read whole (`deserializer=lambda r: r`) may travel in channel state or live in keyed state.
serde.register_type(Record, "LogRecord", lambda r: [r.partition, r.offset, r.key, r.value, r.timestamp, r.append_ms],
                    lambda d: Record(*d))


def redistribute_readers(source: Source, states: list[dict | None], parallelism: int) -> list[dict | None]:
    """Each new reader's state, from the old source subtasks' operator states (`{"reader": ...}` or None).

    Raises:
        ValueError: The source cannot hand its readers' states to `parallelism` readers.
    """
    readers = [None if s is None else s.get("reader") for s in states]
    shares = source.redistribute_reader_states(readers, parallelism)
    if len(shares) != parallelism:
        raise ValueError(f"{type(source).__name__}.redistribute_reader_states returned {len(shares)} reader "
                         f"states, expected one per new reader ({parallelism})")
    return shares


class SourceOperator(ops.StreamOperator):
    """Polls its reader and pushes the records it read into the chain; its state is the reader's position.

    In a job that uses event time, each record carries the timestamp the
    reader gave it; with a watermark strategy, the strategy's assigner
    stamps it and one generator per split makes the source's watermark (the
    minimum over splits that are not idle), emitted every auto-watermark
    interval. At end of input the source emits Long.MAX_VALUE. In BATCH mode
    that is the only watermark it emits.
    """

    read = 0
    timestamped = False
    time: Any = None
    interval_ms = 0
    watermarks: SplitWatermarks | None = None
    _restored_reader: dict | None = None

    def snapshot_operator_state(self, checkpoint_id: int) -> dict | None:
        reader = getattr(self, "reader", None)
        state = reader.snapshot_state() if reader is not None else None
        return None if state is None else {"reader": state}

    def restore_operator_state(self, states: list[dict | None], subtask: int, parallelism: int) -> None:
        """Keep this reader's share of the old readers' states; `open()` hands it to the reader it creates."""
        self._restored_reader = redistribute_readers(self.node.operator.function, states, parallelism)[subtask]

    def open(self) -> None:
        source = self.node.operator.function
        p = self.runtime_context.get_number_of_parallel_subtasks()
        self.reader = self._call(lambda: source.create_reader(self.subtask, p), None, has_record=False)
        restored = self._restored_reader
        if restored is not None:
            self._call(lambda: self.reader.restore_state(restored), None, has_record=False)
        self.read = 0
        strategy = self.node.operator.options.get("watermark_strategy")
        if self.timestamped:
            self.announcer = make_announcer(self)
        if strategy is not None and self.timestamped:
            splits = self._call(self.reader.split_ids, None, has_record=False)
            self.watermarks = SplitWatermarks(strategy, splits, owner=self.label)
            self._first_split = splits[0] if splits else None
            if self.interval_ms > 0:
                self.time.register(self.clock.now_ms() + self.interval_ms, self._periodic)

    def emit_batch(self, max_records: int) -> ReaderPoll:
        poll = self._call(lambda: self.reader.poll(max_records, self.clock.now_us), None, has_record=False)
        if self.timestamped:
            self._emit_timestamped(poll)
        else:
            output = self.output
            for value in poll.records:
                output(value)
        self.read += len(poll.records)
        return poll

    def _emit_timestamped(self, poll: ReaderPoll) -> None:
        output, clock, watermarks = self.output, self.clock, self.watermarks
        timestamps, splits = poll.timestamps, poll.splits
        for i, value in enumerate(poll.records):
            timestamp = timestamps[i] if timestamps is not None else None
            if watermarks is None:
                clock.timestamp = timestamp
                output(value)
                continue
            split = splits[i] if splits is not None else self._first_split
            try:
                stamped = watermarks.on_record(split, value, timestamp)
            except Exception as exc:
                raise ops.UserFunctionError(self.label, value, exc) from exc
            clock.timestamp = stamped.timestamp
            output(value)
            if stamped.watermark is not None:
                self.announcer.announce(watermarks.status, stamped.watermark)
        if watermarks is not None and poll.finished_splits:
            for split in poll.finished_splits:
                watermarks.remove_split(split)

    def _periodic(self, time_ms: int) -> None:
        now = self.clock.now_ms()
        watermark = self._call(lambda: self.watermarks.on_periodic_emit(now), None, has_record=False)
        self.announcer.announce(self.watermarks.status, watermark)
        self.time.register(now + self.interval_ms, self._periodic)

    def finish_event_time(self) -> None:
        """The source has read everything: Long.MAX_VALUE, so every event-time timer downstream fires."""
        if self.timestamped:
            self.announcer.final()
