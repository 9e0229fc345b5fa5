"""A Kafka-like partitioned log: topics, their records, producers and a producer schedule.

Layer: `sim.api` (no SimPy, no clock). A `Topic` stands for an external
system that jobs read (`sim.api.kafka.KafkaSource`) and write
(`sim.api.kafka_sink.TopicSink`, or exactly once through transactions with
`sim.api.kafka_sink.TransactionalTopicSink`). It reads no clock: whoever
appends or reads hands in the virtual time in milliseconds. The topic remembers the latest
instant it has been shown (its *time*), which never goes back.

How records get in:

- `append(...)`: at the topic's time, so before a run (time 0) it pre-fills
  the topic and the record is visible from time 0;
- `produce_at(at_ms, ...)` and `produce_every(interval_ms, records)`: the
  producer schedule, plain data given before the run. A scheduled record is
  appended when virtual time reaches its instant, and gets its offset then;
- a `Producer` (one per sink subtask) appends at the instant it is given.

A record is visible to readers once virtual time reaches its append time.
Offsets count from 0 per partition, in append order; records scheduled for
the same instant are appended in the order they were scheduled.

Transactions (`begin_transaction`, `Producer.send(..., transaction=txn)`,
`commit_transaction`, `abort_transaction`; rules in
`sim.api.topic_transactions`): a record appended inside a transaction gets
its offset at once, but a *read-committed* reader (`readable_end`,
`committed_records`) sees it only once the transaction has committed, and
never reads past the first record of a transaction still open in that
partition. Records written outside transactions are visible to both kinds
of reader as above.

Partitioning is the producer's choice, as in Kafka's client: an explicit
partition wins; a keyed record goes to `toPositive(murmur2(key bytes)) %
partitions` (Kafka's default for non-null keys; a str key is its UTF-8
bytes); a record without a key goes round robin over the partitions, each
producer with its own counter from partition 0. The schedule is one
producer and takes its turns in the order of its instants.

Flink counterpart: none, this is the broker and client side (Kafka's
partition log, `Utils.murmur2`, `BuiltInPartitioner.partitionForKey`,
`RoundRobinPartitioner`).
Simplified: no brokers, replication, retention, compaction or serialisation
(values are Python objects and keys are str or bytes), and transactions as
`sim.api.topic_transactions` says. Records without a key go round robin;
Kafka's default sticky partitioner (which fills a batch per partition) is
not modelled. Every run starts its virtual time at 0 while a topic keeps
its log, so a record appended at 3 s in one run is visible from 3 s in a
later run, and appending earlier than the topic's time is an error.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Iterable

from sim.api.topic_transactions import TopicTransactions, TransactionResult, TransactionState

_MASK32 = 0xFFFFFFFF
_MURMUR2_SEED = 0x9747B28C
_MURMUR2_M = 0x5BD1E995


def murmur2(data: bytes) -> int:
    """Kafka's `Utils.murmur2`: the 32-bit MurmurHash2 of `data` (seed 0x9747b28c), as a signed Java int."""
    length = len(data)
    h = (_MURMUR2_SEED ^ length) & _MASK32
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = (int.from_bytes(data[i:i + 4], "little") * _MURMUR2_M) & _MASK32
        k ^= k >> 24
        k = (k * _MURMUR2_M) & _MASK32
        h = ((h * _MURMUR2_M) & _MASK32) ^ k
    if whole < length:
        # The last 1-3 bytes, little-endian, as Kafka's fall-through switch combines them.
        h ^= int.from_bytes(data[whole:], "little")
        h = (h * _MURMUR2_M) & _MASK32
    h ^= h >> 13
    h = (h * _MURMUR2_M) & _MASK32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def to_positive(number: int) -> int:
    """Kafka's `Utils.toPositive`: the low 31 bits (not the absolute value)."""
    return number & 0x7FFFFFFF


def key_bytes(key: str | bytes) -> bytes:
    """The bytes Kafka hashes for a key: a str as UTF-8 (Kafka's `StringSerializer`), bytes as they are."""
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode("utf-8")
    raise TypeError(f"a record key must be str, bytes or None, got {type(key).__name__}: {key!r}; "
                    f"serialise it first, e.g. str(key)")


def partition_for_key(key: str | bytes, partitions: int) -> int:
    """Kafka's default partition of a non-null key: `toPositive(murmur2(key bytes)) % partitions`."""
    return to_positive(murmur2(key_bytes(key))) % partitions


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a topic partition.

    `timestamp` is the record's own time in ms (Kafka's CreateTime: the
    producer's instant unless one was given); `append_ms` is the virtual
    time at which it was appended and became visible to read-uncommitted
    readers.
    """

    partition: int
    offset: int
    key: str | bytes | None
    value: Any
    timestamp: int
    append_ms: int
    transaction: str | None = None
    """The transaction it was appended in (None: outside any, visible to every reader)."""


def _check_ms(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a non-negative int of ms, got {value!r}")
    return value


class _Scheduled:
    """A record of the producer schedule, waiting for its instant; `partition` is known once routed."""

    __slots__ = ("at_ms", "seq", "key", "value", "timestamp", "requested", "partition")

    def __init__(self, at_ms: int, seq: int, key: Any, value: Any, timestamp: int | None, requested: int | None):
        self.at_ms, self.seq, self.key, self.value = at_ms, seq, key, value
        self.timestamp, self.requested = timestamp, requested
        self.partition = -1


class Producer:
    """One producer of a topic: chooses each record's partition and appends it at a given instant.

    Each producer keeps its own round-robin counter for records without a
    key, starting at partition 0. A sink subtask owns one.

    Flink counterpart: none (Kafka's `KafkaProducer` with its partitioner).
    """

    def __init__(self, topic: Topic, round_robin: int = 0):
        self.topic = topic
        self._round_robin = round_robin

    def partition_for(self, key: str | bytes | None, partition: int | None = None) -> int:
        """The partition of the next record: explicit, by key, or the next round-robin turn."""
        topic = self.topic
        if partition is not None:
            return topic.check_partition(partition)
        if key is not None:
            return partition_for_key(key, topic.partitions)
        turn = self._round_robin % topic.partitions
        self._round_robin += 1
        return turn

    def send(self, at_ms: int, key: str | bytes | None, value: Any, timestamp: int | None = None,
             partition: int | None = None, transaction: str | None = None) -> Record:
        """Append one record at virtual time `at_ms`, inside the open `transaction` if one is named.

        Its timestamp defaults to `at_ms`.
        """
        if key is not None:
            key_bytes(key)
        if transaction is not None:
            self.topic.transactions.writable(transaction)
        return self.topic._append(self.partition_for(key, partition), at_ms, key, value, timestamp, transaction)


class Topic:
    """A named, partitioned, append-only log of records (see the module docstring).

    Lifecycle: created empty -> filled (`append`) and scheduled (`produce_at`,
    `produce_every`) before a run -> during a run, readers advance it to
    their virtual time (`advance_to`), which appends the scheduled records
    that are due, and producers append at theirs -> read back with
    `records()`. A topic stands for an external system, so copying a
    function that refers to it (each subtask gets its own copy) keeps the
    same topic.
    """

    def __init__(self, name: str, partitions: int = 1):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a topic needs a non-empty string name, got {name!r}")
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise ValueError(f"topic {name!r} needs at least one partition, got partitions={partitions!r}")
        self.name = name
        self.partitions = partitions
        self._logs: list[list[Record]] = [[] for _ in range(partitions)]
        self._pending: list[deque[_Scheduled]] = [deque() for _ in range(partitions)]
        self._unrouted: list[_Scheduled] = []
        self._seq = 0
        self._schedule_turns = 0  # round-robin turns the schedule's appended records have taken
        self._time_ms = 0
        self._producer = Producer(self)
        self.transactions = TopicTransactions(name, partitions)

    def __repr__(self) -> str:
        return f"Topic({self.name!r}, partitions={self.partitions})"

    def __copy__(self) -> Topic:
        return self

    def __deepcopy__(self, memo: dict) -> Topic:
        return self

    @property
    def time_ms(self) -> int:
        """The latest virtual time this topic has been shown (0 before any run)."""
        return self._time_ms

    def check_partition(self, partition: Any) -> int:
        """`partition` if this topic has it; raises ValueError naming the topic otherwise."""
        if isinstance(partition, bool) or not isinstance(partition, int) or not 0 <= partition < self.partitions:
            raise ValueError(f"topic {self.name!r} has partitions 0..{self.partitions - 1}, got partition {partition!r}")
        return partition

    # --- writing ------------------------------------------------------------------

    def producer(self) -> Producer:
        """A new producer, with its own round-robin counter for records without a key."""
        return Producer(self)

    def append(self, key: str | bytes | None, value: Any, timestamp: int | None = None,
               partition: int | None = None) -> Record:
        """Append one record now, at the topic's time (0 before a run: visible from time 0)."""
        return self._producer.send(self._time_ms, key, value, timestamp, partition)

    def produce_at(self, at_ms: int, key: str | bytes | None, value: Any, timestamp: int | None = None,
                   partition: int | None = None) -> None:
        """Schedule one record to be appended when virtual time reaches `at_ms` (its timestamp defaults to it)."""
        _check_ms(at_ms, f"topic {self.name!r}: produce_at at_ms")
        if at_ms < self._time_ms:
            raise ValueError(f"topic {self.name!r}: cannot schedule a record at {at_ms} ms, the topic's time is "
                             f"already {self._time_ms} ms")
        if timestamp is not None:
            _check_ms(timestamp, f"topic {self.name!r}: the timestamp of a record")
        if key is not None:
            key_bytes(key)
        if partition is not None:
            self.check_partition(partition)
        self._unrouted.append(_Scheduled(at_ms, self._seq, key, value, timestamp, partition))
        self._seq += 1

    def produce_every(self, interval_ms: int, records: Iterable[tuple[Any, Any]], start_ms: int = 0,
                      partition: int | None = None) -> None:
        """Schedule `(key, value)` pairs, pair i at `start_ms + i * interval_ms`."""
        _check_ms(interval_ms, f"topic {self.name!r}: produce_every interval_ms")
        _check_ms(start_ms, f"topic {self.name!r}: produce_every start_ms")
        for i, pair in enumerate(records):
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise ValueError(f"topic {self.name!r}: produce_every needs (key, value) pairs, "
                                 f"got {pair!r} at index {i}")
            self.produce_at(start_ms + i * interval_ms, pair[0], pair[1], partition=partition)

    def _append(self, partition: int, at_ms: int, key: Any, value: Any, timestamp: int | None,
                transaction: str | None = None) -> Record:
        _check_ms(at_ms, f"topic {self.name!r}: the append time")
        if timestamp is not None:
            _check_ms(timestamp, f"topic {self.name!r}: the timestamp of a record")
        self.advance_to(at_ms)
        if at_ms < self._time_ms:
            raise ValueError(f"topic {self.name!r} partition {partition}: cannot append at {at_ms} ms, the topic's "
                             f"time is already {self._time_ms} ms (each run starts at 0: write to a new Topic)")
        record = self._add(partition, at_ms, key, value, timestamp, transaction)
        if transaction is not None:
            self.transactions.appended(self.transactions.get(transaction), partition, record.offset)
        return record

    def _add(self, partition: int, at_ms: int, key: Any, value: Any, timestamp: int | None,
             transaction: str | None = None) -> Record:
        log = self._logs[partition]
        record = Record(partition, len(log), key, value, at_ms if timestamp is None else timestamp, at_ms,
                        transaction)
        log.append(record)
        return record

    # --- transactions -----------------------------------------------------------------

    def begin_transaction(self, transactional_id: str) -> str:
        """Open a transaction for `transactional_id`; returns its name, `<transactional id>-<n>`."""
        return self.transactions.begin(transactional_id)

    def commit_transaction(self, txn: str, at_ms: int | None = None) -> TransactionResult:
        """Commit `txn` at `at_ms` (see `_decision_ms`): COMMITTED, or ALREADY_COMMITTED if it was.

        Raises TransactionError if `txn` is unknown or was aborted.
        """
        return self.transactions.commit(txn, self._decision_ms(at_ms))

    def abort_transaction(self, txn: str, at_ms: int | None = None) -> TransactionResult:
        """Abort `txn` at `at_ms`: ABORTED, or ALREADY_ABORTED if it was; its records are never read committed.

        Raises TransactionError if `txn` is unknown or was committed.
        """
        return self.transactions.abort(txn, self._decision_ms(at_ms))

    def abort_open_transactions(self, transactional_id: str, at_ms: int | None = None) -> list[str]:
        """Fence `transactional_id` (Kafka's `initTransactions`): abort its open transactions; returns them."""
        return self.transactions.abort_open(transactional_id, self._decision_ms(at_ms))

    def transaction_state(self, txn: str) -> TransactionState:
        return self.transactions.get(txn).state

    def _decision_ms(self, at_ms: int | None) -> int:
        """When a commit or abort asked for at `at_ms` takes effect: then, or at the topic's time if later.

        A sink may decide outside its own task steps (a checkpoint
        notification), when its clock lags the topic's; a decision cannot be
        seen before it is made, so it never takes effect in the topic's past.
        """
        if at_ms is not None:
            self.advance_to(_check_ms(at_ms, f"topic {self.name!r}: the time of a commit or abort"))
        return self._time_ms

    # --- the schedule ---------------------------------------------------------------

    def _route(self) -> None:
        """Give every scheduled record not yet appended its partition, the schedule's turns in time order."""
        if not self._unrouted:
            return
        waiting = [s for queue in self._pending for s in queue] + self._unrouted
        waiting.sort(key=attrgetter("at_ms", "seq"))
        self._unrouted = []
        router = Producer(self, self._schedule_turns)
        self._pending = [deque() for _ in range(self.partitions)]
        for scheduled in waiting:
            scheduled.partition = router.partition_for(scheduled.key, scheduled.requested)
            self._pending[scheduled.partition].append(scheduled)

    def advance_to(self, now_ms: int) -> None:
        """Virtual time is `now_ms`: append every scheduled record that is due (the topic's time never goes back)."""
        self._route()
        for queue in self._pending:
            while queue and queue[0].at_ms <= now_ms:
                s = queue.popleft()
                if s.requested is None and s.key is None:
                    self._schedule_turns += 1
                self._add(s.partition, s.at_ms, s.key, s.value, s.timestamp)
        self._time_ms = max(self._time_ms, now_ms)

    # --- reading --------------------------------------------------------------------

    def end_offset(self, partition: int) -> int:
        """The offset the next record appended to `partition` will get."""
        return len(self._logs[self.check_partition(partition)])

    def visible_end(self, partition: int, now_ms: int) -> int:
        """One past the last offset of `partition` a read-uncommitted reader at `now_ms` may see."""
        return bisect_right(self._logs[partition], now_ms, key=attrgetter("append_ms"))

    def last_stable_offset(self, partition: int, now_ms: int | None = None) -> int:
        """The first offset of `partition` in a transaction undecided at `now_ms` (default: the topic's time).

        The end of the partition if every transaction there is decided.
        """
        now_ms = self._time_ms if now_ms is None else now_ms
        end = len(self._logs[self.check_partition(partition)])
        return self.transactions.last_stable_offset(partition, now_ms, end)

    def readable_end(self, partition: int, now_ms: int, read_committed: bool = False) -> int:
        """One past the last offset a reader at `now_ms` may read: for read-committed, no further than the LSO.

        Below it, a read-committed reader still skips the records of
        aborted transactions (`is_aborted`).
        """
        visible = self.visible_end(partition, now_ms)
        if not read_committed:
            return visible
        return min(visible, self.transactions.last_stable_offset(partition, now_ms, len(self._logs[partition])))

    def is_aborted(self, record: Record) -> bool:
        """Whether `record` belongs to an aborted transaction (so a read-committed reader skips it)."""
        return record.transaction is not None and self.transactions.is_aborted(record.transaction)

    def record(self, partition: int, offset: int) -> Record:
        return self._logs[partition][offset]

    def next_append_ms(self, partition: int, now_ms: int) -> int | None:
        """When `partition` next gets a record visible after `now_ms`, if anyone knows (the schedule does)."""
        log = self._logs[partition]
        end = self.visible_end(partition, now_ms)
        if end < len(log):
            return log[end].append_ms
        self._route()
        queue = self._pending[partition]
        return queue[0].at_ms if queue else None

    def is_scheduled_out(self, partition: int) -> bool:
        """True when the schedule holds no more records for `partition`."""
        self._route()
        return not self._pending[partition]

    def scheduled_count(self) -> int:
        """How many scheduled records are not appended yet."""
        return len(self._unrouted) + sum(len(queue) for queue in self._pending)

    def records(self, partition: int | None = None) -> list[Record]:
        """The records appended so far, whatever their transactions: of one partition, or of all, partition by
        partition, in offset order."""
        if partition is not None:
            return list(self._logs[self.check_partition(partition)])
        return [record for log in self._logs for record in log]

    def committed_records(self, partition: int | None = None, now_ms: int | None = None) -> list[Record]:
        """What a read-committed consumer from the earliest offset has read at `now_ms` (default: the topic's
        time): of one partition, or of all, partition by partition, in offset order."""
        now_ms = self._time_ms if now_ms is None else now_ms
        parts = range(self.partitions) if partition is None else [self.check_partition(partition)]
        return [record for p in parts for record in self._logs[p][:self.readable_end(p, now_ms, True)]
                if not self.is_aborted(record)]

    def committed_values(self, partition: int | None = None, now_ms: int | None = None) -> list[Any]:
        """The values of `committed_records(partition, now_ms)`."""
        return [record.value for record in self.committed_records(partition, now_ms)]
