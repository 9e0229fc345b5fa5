"""Flink's Kafka source over a `Topic`: `KafkaSource`, one split per partition (sinks: `sim.api.kafka_sink`).

Layer: `sim.api` (no SimPy, no clock: a reader is handed the virtual time in
`poll`). The source and its readers follow Flink's Kafka source where it
matters for a run:

- one split per partition, owned by reader `(start + partition) % readers`
  with `start = ((topic.hashCode() * 31) & 0x7FFFFFFF) % readers`;
- a split's state is its current offset (the next one to read); a
  checkpoint holds `{"offsets": {partition: next offset}}`, and restored
  offsets take precedence over the configured start (earliest by default);
  restored at another parallelism, each offset goes to the reader that owns
  its partition under the rule above;
- the record's timestamp is its Kafka timestamp, and each partition has
  its own watermark generator; a split that has ended (bounded mode) is
  released, so it no longer holds the watermark back;
- a reader without partitions emits nothing and does not go idle by
  itself, so its Long.MIN_VALUE watermark holds back what is downstream;
- `isolation.level` is Kafka's consumer setting: `read_uncommitted` (the
  default) reads every record once appended, `read_committed` only records
  of committed transactions (and those written outside any), never past a
  transaction still open in the partition (its last stable offset).

Flink counterpart: `KafkaSource`, `KafkaSourceBuilder`, `OffsetsInitializer`
(`KafkaOffsetsInitializer` in PyFlink), `KafkaSourceEnumerator` (the split
owner), `KafkaSourceReader` with `KafkaPartitionSplitReader`,
`KafkaPartitionSplitState`.
Simplified: one topic per source, splits assigned once up front (no
partition discovery), no consumer group and no offset commits. Bounded
mode stops at the end of the topic's producer schedule (Flink stops at
offsets fixed when the job starts). A reader reads its partitions round
robin, one record each in turn; the turn is not part of its state. A
read-committed reader blocked by an open transaction cannot know when it
will be decided, so it asks to be polled again soon rather than at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Mapping

from sim.api.connectors import ReaderPoll, Source, SourceReader
from sim.api.log import Record, Topic
from sim.kernel.hashing import java_hash_code


def kafka_split_owner(topic_name: str, partition: int, num_readers: int) -> int:
    """The reader that owns a partition: Flink's `KafkaSourceEnumerator.getSplitOwner`."""
    start = ((java_hash_code(topic_name) * 31) & 0x7FFFFFFF) % num_readers
    return (start + partition) % num_readers


class _Start(Enum):
    """Which `KafkaOffsetsInitializer` this is."""

    EARLIEST = "earliest"
    LATEST = "latest"
    SPECIFIC = "specific"


@dataclass(frozen=True)
class KafkaOffsetsInitializer:
    """Where a partition's reading starts: `earliest()`, `latest()` or `offsets({partition: offset})`.

    `latest()` is the partition's visible end when the reader first polls.
    With `offsets`, a partition not named starts at the earliest offset, and
    an offset beyond the end is read once the partition gets there.

    Flink counterpart: `OffsetsInitializer` (PyFlink's `KafkaOffsetsInitializer`).
    """

    kind: _Start
    specific: tuple[tuple[int, int], ...] = ()

    @staticmethod
    def earliest() -> KafkaOffsetsInitializer:
        return KafkaOffsetsInitializer(_Start.EARLIEST)

    @staticmethod
    def latest() -> KafkaOffsetsInitializer:
        return KafkaOffsetsInitializer(_Start.LATEST)

    @staticmethod
    def offsets(offsets: Mapping[int, int]) -> KafkaOffsetsInitializer:
        return KafkaOffsetsInitializer(_Start.SPECIFIC, tuple(sorted(dict(offsets).items())))

    def start_offset(self, partition: int) -> int | None:
        """The first offset to read in `partition`; None: the visible end at the first poll."""
        if self.kind is _Start.LATEST:
            return None
        return dict(self.specific).get(partition, 0)


_STARTS = "'earliest', 'latest', a {partition: offset} dict or a KafkaOffsetsInitializer"
ISOLATION_LEVELS = ("read_uncommitted", "read_committed")
"""Kafka's `isolation.level` values; the first is the default, as in Kafka's consumer."""


def _initializer(starting_offsets: Any, topic: Topic) -> KafkaOffsetsInitializer:
    """Accept "earliest", "latest", {partition: offset} or a KafkaOffsetsInitializer; check it against the topic."""
    if isinstance(starting_offsets, str):
        named = {"earliest": KafkaOffsetsInitializer.earliest, "latest": KafkaOffsetsInitializer.latest}
        if starting_offsets not in named:
            raise ValueError(f"KafkaSource of topic {topic.name!r}: starting_offsets must be {_STARTS}, "
                             f"got {starting_offsets!r}")
        return named[starting_offsets]()
    if isinstance(starting_offsets, Mapping):
        starting_offsets = KafkaOffsetsInitializer.offsets(starting_offsets)
    if not isinstance(starting_offsets, KafkaOffsetsInitializer):
        raise TypeError(f"KafkaSource of topic {topic.name!r}: starting_offsets must be {_STARTS}, "
                        f"got {type(starting_offsets).__name__}")
    for partition, offset in starting_offsets.specific:
        topic.check_partition(partition)
        _check_offset(offset, topic, partition, "a starting offset")
    return starting_offsets


def _check_offset(offset: Any, topic: Topic, partition: int, what: str) -> int:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"topic {topic.name!r} partition {partition}: {what} must be a non-negative int, "
                         f"got {offset!r}")
    return offset


class KafkaSource(Source):
    """Reads one `Topic`, one split per partition, in parallel.

    `KafkaSource(topic, starting_offsets="earliest", bounded=False,
    deserializer=None, isolation_level="read_uncommitted")`, or
    `KafkaSource.builder()`. Each record becomes its value, or
    `deserializer(record)` given the whole `Record` (key, partition, offset,
    timestamp). With `isolation_level="read_committed"` the readers see only
    committed records, in offset order. Unbounded (Flink's default), a reader
    never finishes: run such a job with `Simulation(...).run(until_ms=...)`.
    Bounded, a reader finishes once each of its partitions is read to the
    end of the topic's producer schedule; records a producer appends after
    that are not read.
    """

    name = "Kafka Source"
    parallel = True

    def __init__(self, topic: Topic, starting_offsets: Any = "earliest", bounded: bool = False,
                 deserializer: Callable[[Record], Any] | None = None, isolation_level: str = "read_uncommitted"):
        if not isinstance(topic, Topic):
            raise TypeError(f"KafkaSource reads a sim.api Topic, got {type(topic).__name__}: {topic!r}")
        if deserializer is not None and not callable(deserializer):
            raise TypeError(f"KafkaSource of topic {topic.name!r}: deserializer must be callable, "
                            f"got {type(deserializer).__name__}")
        self.topic = topic
        self.starting_offsets = _initializer(starting_offsets, topic)
        self.bounded = bool(bounded)
        self.deserializer = deserializer
        if isolation_level not in ISOLATION_LEVELS:
            raise ValueError(f"KafkaSource of topic {topic.name!r}: isolation.level must be one of "
                             f"{', '.join(ISOLATION_LEVELS)}, got {isolation_level!r}")
        self.isolation_level = isolation_level

    @staticmethod
    def builder() -> KafkaSourceBuilder:
        return KafkaSourceBuilder()

    def create_reader(self, index: int, parallelism: int) -> SourceReader:
        partitions = [p for p in range(self.topic.partitions)
                      if kafka_split_owner(self.topic.name, p, parallelism) == index]
        return KafkaSourceReader(self, index, partitions)

    def redistribute_reader_states(self, states: list[dict | None], parallelism: int) -> list[dict | None]:
        """Every restored offset goes to the reader that owns its partition at `parallelism` (the split-owner rule).

        The old readers' offsets are united; a partition without an offset
        (its `latest` start was never resolved) starts as configured.
        """
        offsets: dict[int, int] = {}
        for i, state in enumerate(states):
            found = state.get("offsets") if isinstance(state, dict) else None
            if state is not None and not isinstance(found, dict):
                raise ValueError(f"reader {i} of topic {self.topic.name!r}: a state must be "
                                 f"{{'offsets': {{partition: offset}}}}, got {state!r}")
            offsets.update(found or {})
        owners = {p: kafka_split_owner(self.topic.name, p, parallelism) for p in offsets}
        return [{"offsets": {p: o for p, o in sorted(offsets.items()) if owners[p] == i}} for i in range(parallelism)]


class KafkaSourceBuilder:
    """PyFlink's builder, for what `sim` models: `set_topics`, `set_starting_offsets`, bounded or not, and
    the `isolation.level` property.

    Brokers, group ids and (value) deserialisation schemas have no counterpart:
    values are Python objects already; `set_deserializer(fn)` maps a `Record`
    to the element instead.
    """

    def __init__(self) -> None:
        self._topic: Topic | None = None
        self._starting: Any = "earliest"
        self._bounded = False
        self._deserializer: Callable[[Record], Any] | None = None
        self._isolation_level = ISOLATION_LEVELS[0]

    def set_topics(self, *topics: Topic) -> KafkaSourceBuilder:
        if len(topics) != 1:
            raise ValueError(f"a sim KafkaSource reads exactly one Topic, got {len(topics)}: {list(topics)}")
        self._topic = topics[0]
        return self

    def set_starting_offsets(self, starting_offsets: Any) -> KafkaSourceBuilder:
        self._starting = starting_offsets
        return self

    def set_bounded(self) -> KafkaSourceBuilder:
        """Stop at the end of the topic's producer schedule."""
        self._bounded = True
        return self

    def set_unbounded(self) -> KafkaSourceBuilder:
        self._bounded = False
        return self

    def set_deserializer(self, deserializer: Callable[[Record], Any]) -> KafkaSourceBuilder:
        self._deserializer = deserializer
        return self

    def set_property(self, key: str, value: str) -> KafkaSourceBuilder:
        """A Kafka consumer property; `sim` models only `isolation.level` (checked when the source is built)."""
        if key != "isolation.level":
            raise ValueError(f"KafkaSource.builder(): property {key!r} is not modelled by sim; the only one "
                             f"is 'isolation.level'")
        self._isolation_level = value
        return self

    def build(self) -> KafkaSource:
        if self._topic is None:
            raise ValueError("KafkaSource.builder() needs set_topics(topic) before build()")
        return KafkaSource(self._topic, self._starting, self._bounded, self._deserializer, self._isolation_level)


class KafkaSourceReader(SourceReader):
    """Reads the partitions one reader owns, round robin, each from its current offset.

    Lifecycle: created with its partitions and their configured starts
    (`latest` is resolved at the first poll) -> `restore_state` (optional:
    restored offsets win) -> `poll` again and again. Each poll first
    advances the topic to the poll's virtual time, then takes one visible
    record from each partition in turn. With nothing to read it asks to be
    polled again at the next append time of its partitions, if known.
    Bounded, it reports each partition once it is read to the end of the
    schedule (`ReaderPoll.finished_splits`), and finishes with the last one.

    Flink counterpart: `KafkaSourceReader`, `KafkaPartitionSplitReader`,
    `KafkaPartitionSplitState`.
    """

    def __init__(self, source: KafkaSource, index: int, partitions: list[int]):
        self._topic = source.topic
        self._bounded = source.bounded
        self._committed = source.isolation_level == "read_committed"
        self._deserializer = source.deserializer
        self.index = index
        self.partitions = partitions
        self._offsets: dict[int, int] = {}
        for p in partitions:
            start = source.starting_offsets.start_offset(p)
            if start is not None:
                self._offsets[p] = start
        self._turn = 0
        self._released: list[int] = []

    def split_ids(self) -> list[Any]:
        return list(self.partitions)

    def offsets(self) -> dict[int, int]:
        """Partition -> the next offset to read (partitions still waiting for `latest` are absent)."""
        return dict(self._offsets)

    def snapshot_state(self) -> dict:
        return {"offsets": dict(sorted(self._offsets.items()))}

    def restore_state(self, state: dict) -> None:
        """Rewind to the offsets of a snapshot; they take precedence over the configured start."""
        offsets = state.get("offsets") if isinstance(state, dict) else None
        if not isinstance(offsets, dict):
            raise ValueError(f"reader {self.index} of topic {self._topic.name!r}: a state must be "
                             f"{{'offsets': {{partition: offset}}}}, got {state!r}")
        for partition, offset in offsets.items():
            if partition not in self.partitions:
                raise ValueError(f"reader {self.index} of topic {self._topic.name!r} reads partitions "
                                 f"{self.partitions}, cannot restore partition {partition!r}")
            self._offsets[partition] = _check_offset(offset, self._topic, partition, "a restored offset")
        self._released = []

    def poll(self, max_records: int, now_us: int) -> ReaderPoll:
        now_ms = now_us // 1000
        topic = self._topic
        topic.advance_to(now_ms)
        for p in self.partitions:
            self._offsets.setdefault(p, topic.readable_end(p, now_ms, self._committed))  # `latest`, at the first poll
        taken = self._take(max_records, now_ms)
        released = self._release_ended() if self._bounded else []
        finished = self._bounded and len(self._released) == len(self.partitions)
        wait_us = None
        if not taken and not finished:
            wait_us = self._next_append_us(now_ms)
        deserialize = self._deserializer
        values = [deserialize(r) for r in taken] if deserialize else [r.value for r in taken]
        return ReaderPoll(values, finished, wait_us, timestamps=[r.timestamp for r in taken],
                          splits=[r.partition for r in taken], finished_splits=released or None)

    def _take(self, max_records: int, now_ms: int) -> list[Record]:
        """Up to `max_records` readable records, one partition after the other in turn.

        Read committed, a record of an aborted transaction is passed over
        without taking a turn.
        """
        parts, topic, offsets, committed = self.partitions, self._topic, self._offsets, self._committed
        ends = [topic.readable_end(p, now_ms, committed) for p in parts]
        taken: list[Record] = []
        turn, empty_in_a_row = self._turn, 0
        while len(taken) < max_records and empty_in_a_row < len(parts):
            i = turn % len(parts)
            offset = offsets[parts[i]]
            if offset < ends[i]:
                record = topic.record(parts[i], offset)
                offsets[parts[i]] = offset + 1
                if committed and topic.is_aborted(record):
                    continue
                taken.append(record)
                empty_in_a_row = 0
            else:
                empty_in_a_row += 1
            turn += 1
        self._turn = turn % len(parts) if parts else 0
        return taken

    def _release_ended(self) -> list[int]:
        """Partitions read to the end of what the schedule puts in them, not reported before."""
        topic = self._topic
        ended = [p for p in self.partitions if p not in self._released
                 and self._offsets[p] >= topic.end_offset(p) and topic.is_scheduled_out(p)]
        self._released += ended
        return ended

    def _next_append_us(self, now_ms: int) -> int | None:
        """When to poll again; None (soon) when a read-committed partition waits for an open transaction."""
        topic, waiting = self._topic, [p for p in self.partitions if p not in self._released]
        if self._committed and any(topic.readable_end(p, now_ms, True) < topic.visible_end(p, now_ms)
                                   for p in waiting):
            return None
        times = [topic.next_append_ms(p, now_ms) for p in waiting]
        known = [t for t in times if t is not None]
        return min(known) * 1000 if known else None
