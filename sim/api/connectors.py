"""Sources and sinks as the runtime sees them: the protocols and the built-in ones.

Layer: `sim.api` (no SimPy). A source is split into `SourceSplit`s that are
assigned to reader subtasks; each reader is polled by its task thread with the
current virtual time and returns a batch of records. The runtime talks to
sources and sinks only through these protocols.

Flink counterpart: FLIP-27 `Source`, `SplitEnumerator`, `SourceReader`;
`NumberSequenceSource`; `fromCollection`.
Simplified: splits are assigned once, up front (split i to reader i % p), and
there is no split discovery at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence


@dataclass
class ReaderPoll:
    """One poll of a reader: the records it read, and whether it is finished.

    A reader that has nothing to give right now returns no records and, if it
    knows, the virtual time (µs) at which to ask again in `wait_until_us`;
    otherwise the task polls again after 1 ms.

    Optional, one entry per record: `timestamps` (the record's timestamp in
    ms as the source knows it, e.g. a log's record time; the watermark
    strategy's assigner may replace it) and `splits` (which of the reader's
    `split_ids()` each record came from; every record from the first split
    if not given). Watermarks are generated per split.

    `finished_splits` names splits the reader has read to their end in this
    poll: their watermark generators are released, so they no longer hold
    the source's watermark back (no record of theirs may follow).
    """

    records: list[Any]
    finished: bool
    wait_until_us: int | None = None
    timestamps: list[int | None] | None = None
    splits: list[Any] | None = None
    finished_splits: list[Any] | None = None


class SourceReader:
    """Reads the records of its assigned splits, in order.

    A replayable reader also implements `snapshot_state()` (its position, as
    plain JSON-able data, taken at a checkpoint) and `restore_state(state)`.
    """

    def poll(self, max_records: int, now_us: int) -> ReaderPoll:
        raise NotImplementedError

    def split_ids(self) -> list[Any]:
        """The splits this reader reads; each gets its own watermark generator (one split by default)."""
        return [0]

    def snapshot_state(self) -> dict | None:
        """The reader's position for a checkpoint; None if it cannot be replayed."""
        return None

    def restore_state(self, state: dict) -> None:
        raise ValueError(f"{type(self).__name__} cannot restore a position: it is not replayable")


class _PositionReader(SourceReader):
    """A reader whose whole state is an integer position."""

    position = 0

    def snapshot_state(self) -> dict:
        return {"position": self.position}

    def restore_state(self, state: dict) -> None:
        self.position = int(state["position"])


class Source:
    """A bounded or unbounded source; `create_reader(index, parallelism)` per subtask.

    `bounded` declares whether every reader eventually finishes (Flink's
    `Boundedness.BOUNDED`); only bounded sources may run in BATCH mode. A
    source says so itself: the default is unbounded, as a source that does
    not know cannot promise an end.
    """

    name = "Source"
    parallel = True
    bounded = False

    def create_reader(self, index: int, parallelism: int) -> SourceReader:
        raise NotImplementedError

    def redistribute_reader_states(self, states: list[dict | None], parallelism: int) -> list[dict | None]:
        """On restore: the state of each of `parallelism` new readers, from the old readers' states.

        `states` holds what each old reader's `snapshot_state()` returned, in
        old reader order (None where there was none). The result has one entry
        per new reader; the runtime hands entry i to reader i's
        `restore_state` right after creating it (None: the reader starts as
        configured). By default each reader gets its own state back, which
        is only right at unchanged parallelism: a source whose reader states
        say which splits they read overrides this to rescale.

        Raises:
            ValueError: The parallelism changed, and this source cannot say which reader reads what.
        """
        if len(states) == parallelism:
            return list(states)
        raise ValueError(f"source {self.name!r} ({type(self).__name__}) cannot be rescaled from {len(states)} to "
                         f"{parallelism} readers: expected the same parallelism, because its reader states say "
                         f"nothing of which splits they read (a source can override redistribute_reader_states)")


class _ListReader(_PositionReader):
    """Reads a list from a position; the position is the reader's only state."""

    def __init__(self, records: Sequence[Any]):
        self._records = records
        self.position = 0

    def poll(self, max_records: int, now_us: int) -> ReaderPoll:
        start = self.position
        end = min(start + max_records, len(self._records))
        self.position = end
        return ReaderPoll(list(self._records[start:end]), end >= len(self._records))


class CollectionSource(Source):
    """The elements of a collection, in order, from one (non-parallel) reader.

    Flink counterpart: `StreamExecutionEnvironment.fromCollection`, a source with
    parallelism 1.
    """

    name = "Collection Source"
    bounded = True
    parallel = False

    def __init__(self, elements: Sequence[Any]):
        self.elements = list(elements)

    def create_reader(self, index: int, parallelism: int) -> SourceReader:
        return _ListReader(self.elements)


class _RangeReader(_PositionReader):
    """Reads `start..end` from its position; after a rescale, the unread ranges it was handed, in order.

    Its state is `{"position": next}` for its own range, or, once it was
    handed ranges, `{"ranges": [[next, end], ...]}` (the unread part of each).
    """

    def __init__(self, start: int, end: int):
        self.position = start
        self._end = end
        self._more: list[tuple[int, int]] | None = None

    def poll(self, max_records: int, now_us: int) -> ReaderPoll:
        while self._more and self.position > self._end:
            self.position, self._end = self._more.pop(0)
        start = self.position
        end = min(start + max_records, self._end + 1)
        self.position = end
        return ReaderPoll(list(range(start, end)), end > self._end and not self._more)

    def snapshot_state(self) -> dict:
        if self._more is None:
            return {"position": self.position}
        return {"ranges": [list(r) for r in [(self.position, self._end), *self._more] if r[0] <= r[1]]}

    def restore_state(self, state: dict) -> None:
        if "ranges" not in state:
            super().restore_state(state)
            return
        self._more = [(int(lo), int(hi)) for lo, hi in state["ranges"]]
        self.position, self._end = 1, 0  # nothing of its own range: the first poll moves to the first range


class NumberSequenceSource(Source):
    """The numbers `start..end` (inclusive), split into one contiguous range per reader.

    Rescaling on restore: the unread part of every old reader's range (its
    split) goes whole to new reader `i % parallelism`, i counting the unread
    splits in old reader order **[sim]**. An old reader without state had
    finished (a finished subtask acknowledges checkpoints empty): nothing of
    its range is left. A new reader handed no split finishes at once.

    Flink counterpart: `NumberSequenceSource`. Simplified: one split per reader,
    split i to reader i, where Flink hands splits to readers as they ask; on
    rescale Flink moves split states by even-split of the readers' list state.
    """

    name = "Sequence Source"
    bounded = True

    def __init__(self, start: int, end: int):
        if end < start:
            raise ValueError(f"NumberSequenceSource needs start <= end, got {start}..{end}")
        self.start = start
        self.end = end

    def create_reader(self, index: int, parallelism: int) -> SourceReader:
        return _RangeReader(*self._range(index, parallelism))

    def _range(self, index: int, parallelism: int) -> tuple[int, int]:
        """Reader `index`'s numbers, `(first, last)`."""
        total = self.end - self.start + 1
        return (self.start + index * total // parallelism, self.start + (index + 1) * total // parallelism - 1)

    def redistribute_reader_states(self, states: list[dict | None], parallelism: int) -> list[dict | None]:
        if len(states) == parallelism:
            return list(states)
        unread = [r for i, state in enumerate(states) for r in self._unread(i, len(states), state)]
        return [{"ranges": unread[i::parallelism]} for i in range(parallelism)]

    def _unread(self, index: int, parallelism: int, state: dict | None) -> list[list[int]]:
        """The ranges old reader `index` (of `parallelism`) had not read yet, from its state."""
        if state is None:
            return []
        if "ranges" in state:
            return [[int(lo), int(hi)] for lo, hi in state["ranges"] if lo <= hi]
        last = self._range(index, parallelism)[1]
        position = int(state["position"])
        return [[position, last]] if position <= last else []


class _PacedReader(_PositionReader):
    """Emits each element once virtual time reaches its instant; asks to be polled again at the next one."""

    def __init__(self, elements: Sequence[Any], at_us: Sequence[int]):
        self._elements = elements
        self._at_us = at_us
        self.position = 0

    def poll(self, max_records: int, now_us: int) -> ReaderPoll:
        start = end = self.position
        limit = min(len(self._elements), start + max_records)
        while end < limit and self._at_us[end] <= now_us:
            end += 1
        self.position = end
        finished = end >= len(self._elements)
        wait = None if finished or end > start else self._at_us[end]
        return ReaderPoll(list(self._elements[start:end]), finished, wait)


class PacedSource(Source):
    """Elements that enter the job at chosen instants of virtual processing time, from one reader.

    `PacedSource(elements, at_ms=[...])` emits element i when virtual time
    reaches `at_ms[i]` (non-decreasing, ms); `PacedSource.every(interval_ms,
    elements, start_ms=0)` spaces them evenly. Between elements the reader
    sleeps, so periodic watermarks, timers and checkpoints interleave with
    the elements exactly where the chosen times put them. Elements due at
    the same instant are read in one batch. The position is its state, so
    it replays after a restore.

    Flink counterpart: none; a test source in the spirit of Flink's
    `DataGeneratorSource` with a rate limiter, but with exact instants.
    """

    name = "Paced Source"
    bounded = True
    parallel = False

    def __init__(self, elements: Sequence[Any], at_ms: Sequence[int]):
        elements, at_ms = list(elements), list(at_ms)
        if len(elements) != len(at_ms):
            raise ValueError(f"PacedSource needs one instant per element: {len(elements)} elements, "
                             f"{len(at_ms)} instants in at_ms")
        for i, t in enumerate(at_ms):
            if type(t) is not int or t < 0:
                raise ValueError(f"PacedSource at_ms[{i}] must be a non-negative int of ms, got {t!r}")
            if i and t < at_ms[i - 1]:
                raise ValueError(f"PacedSource at_ms must not decrease: at_ms[{i}]={t} < at_ms[{i - 1}]={at_ms[i - 1]}")
        self.elements = elements
        self.at_ms = at_ms

    @staticmethod
    def every(interval_ms: int, elements: Sequence[Any], start_ms: int = 0) -> PacedSource:
        """Element i at `start_ms + i * interval_ms`."""
        if type(interval_ms) is not int or interval_ms < 0:
            raise ValueError(f"PacedSource.every needs a non-negative int interval_ms, got {interval_ms!r}")
        elements = list(elements)
        return PacedSource(elements, [start_ms + i * interval_ms for i in range(len(elements))])

    def create_reader(self, index: int, parallelism: int) -> SourceReader:
        return _PacedReader(self.elements, [t * 1000 for t in self.at_ms])
