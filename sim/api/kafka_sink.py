"""Writing a job's records to a `Topic`: at least once (`TopicSink`) or exactly once (`TransactionalTopicSink`).

Layer: `sim.api` (no SimPy, no clock: a sink reads the virtual time from its
context, or from the clock the runtime binds to a two-phase-commit sink).
`KafkaSink.builder()` is PyFlink's way to ask for either, by
`DeliveryGuarantee`.

Both sinks route and stamp records alike: `key(value)` gives a record's key
(None: no key, round robin), or `partition` fixes the partition; the
timestamp is the element's event timestamp if it has one, else the append
time; each subtask is its own producer, with its own round-robin counter.
The exactly-once sink appends each record at once too, but inside the
subtask's current transaction, which becomes visible to read-committed
readers only when the checkpoint it was pre-committed at completes.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Callable

from sim.api.functions import RuntimeContext, SinkFunction
from sim.api.log import Producer, Topic
from sim.api.topic_transactions import TransactionState
from sim.api.transactional import TwoPhaseCommitSinkFunction


class _TopicWriter:
    """What both topic sinks share: checked routing settings, one producer per subtask, and the send."""

    def __init__(self, topic: Topic, key: Callable[[Any], Any] | None, partition: int | None):
        what = type(self).__name__
        if not isinstance(topic, Topic):
            raise TypeError(f"{what} writes to a sim.api Topic, got {type(topic).__name__}: {topic!r}")
        if key is not None and not callable(key):
            raise TypeError(f"{what} of topic {topic.name!r}: key must be a function of the value, "
                            f"got {type(key).__name__}")
        if partition is not None:
            topic.check_partition(partition)
        self.topic = topic
        self.key = key
        self.partition = partition
        # Each subtask runs its own copy of this function, so each gets its own producer (the topic is shared).
        self._producer: Producer = topic.producer()

    def _send(self, value: Any, context: SinkFunction.Context, transaction: str | None = None) -> None:
        key = self.key(value) if self.key is not None else None
        self._producer.send(context.current_processing_time(), key, value, context.timestamp(), self.partition,
                            transaction)


class TopicSink(_TopicWriter, SinkFunction):
    """Appends every record to a topic at the virtual time it is written: at-least-once.

    `TopicSink(topic, key=None, partition=None)`, routed and stamped as the
    module docstring says.

    Flink counterpart: `KafkaSink` with `DeliveryGuarantee.AT_LEAST_ONCE`.
    Simplified: a record is appended as it is written, with no batching or
    flush at checkpoints, so after a restart the records since the last
    checkpoint would be appended again.
    """

    name = "Topic Sink"

    def __init__(self, topic: Topic, key: Callable[[Any], Any] | None = None, partition: int | None = None):
        super().__init__(topic, key, partition)

    def invoke(self, value: Any, context: SinkFunction.Context) -> None:
        self._send(value, context)


class TransactionalTopicSink(_TopicWriter, TwoPhaseCommitSinkFunction):
    """Writes each checkpoint's records in one topic transaction per subtask: exactly once for committed readers.

    `TransactionalTopicSink(topic, key=None, partition=None,
    transactional_id_prefix=None)`. Subtask i's transactional id is
    `<prefix>-<i>` (the prefix defaults to the topic's name; two
    exactly-once sinks writing to one topic need different prefixes), and
    its transactions are `<prefix>-<i>-<n>`. A transaction is its name, a
    str.

    Before its first transaction, a subtask fences the transactional ids it
    inherits: its own and, after a scale-down, those of the old subtasks
    whose state it took (`<prefix>-<j>` with `j % parallelism == i`, the
    runtime's rule). That aborts what a failed attempt left open after the
    restored checkpoint: transactions it pre-committed for checkpoints that
    never completed, and the one it was writing. Left open, they would hold
    back every read-committed reader at their first offset.

    Flink counterpart: `KafkaSink` with `DeliveryGuarantee.EXACTLY_ONCE`
    (`KafkaWriter`, `KafkaCommitter`, the lingering-transaction abort of
    `TransactionAborter`).
    Simplified: a record is appended at once, so `pre_commit` has nothing
    to flush; no producer pool, epochs or transaction timeout; transaction
    names count per transactional id where Flink's use the checkpoint id.
    """

    name = "Transactional Topic Sink"

    def __init__(self, topic: Topic, key: Callable[[Any], Any] | None = None, partition: int | None = None,
                 transactional_id_prefix: str | None = None):
        super().__init__(topic, key, partition)
        prefix = topic.name if transactional_id_prefix is None else transactional_id_prefix
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"TransactionalTopicSink of topic {topic.name!r}: transactional_id_prefix must be a "
                             f"non-empty str, got {prefix!r}")
        self.transactional_id_prefix = prefix
        self._subtask: int | None = None
        self._parallelism = 1
        self._fenced = False

    def open(self, runtime_context: RuntimeContext) -> None:
        self._subtask = runtime_context.get_index_of_this_subtask()
        self._parallelism = runtime_context.get_number_of_parallel_subtasks()

    @property
    def transactional_id(self) -> str:
        """This subtask's transactional id, `<prefix>-<subtask>` (known once opened)."""
        if self._subtask is None:
            raise RuntimeError(f"TransactionalTopicSink of topic {self.topic.name!r} has no subtask yet: "
                               f"expected open(runtime_context) before the first transaction")
        return f"{self.transactional_id_prefix}-{self._subtask}"

    def begin_transaction(self) -> str:
        own = self.transactional_id
        if not self._fenced:
            self._fence()
        return self.topic.begin_transaction(own)

    def _fence(self) -> None:
        """Abort the open transactions of every transactional id this subtask inherits (see the class)."""
        head = f"{self.transactional_id_prefix}-"
        for tid in self.topic.transactions.transactional_ids():
            index = tid[len(head):]
            if tid.startswith(head) and index.isdigit() and int(index) % self._parallelism == self._subtask:
                self.topic.abort_open_transactions(tid, self.current_processing_time())
        self._fenced = True

    def invoke(self, transaction: str, value: Any, context: SinkFunction.Context) -> None:  # type: ignore[override]
        self._send(value, context, transaction)

    def pre_commit(self, transaction: str) -> None:
        """Nothing to flush: every record was appended as it was written."""

    def commit(self, transaction: str) -> None:
        self.topic.commit_transaction(transaction, self.current_processing_time())

    def abort(self, transaction: str) -> None:
        self.topic.abort_transaction(transaction, self.current_processing_time())

    def recover_and_abort(self, transaction: str) -> None:
        """Abort the restored open transaction if it still is open; a committed one stays committed.

        As in Kafka, where recovery only fences the transactional id, a
        commit cannot be undone. A correct sink finds its restored open
        transaction committed only when restored from a checkpoint older
        than the latest (a savepoint, say): then what it replays is written
        twice.
        """
        if self.topic.transaction_state(transaction) is TransactionState.OPEN:
            self.abort(transaction)


class DeliveryGuarantee(Enum):
    """What a sink promises after failures (PyFlink's `DeliveryGuarantee`)."""

    EXACTLY_ONCE = "exactly-once"
    AT_LEAST_ONCE = "at-least-once"
    NONE = "none"


class KafkaSink:
    """PyFlink's entry point: `KafkaSink.builder()` builds the topic sink that gives the asked guarantee."""

    @staticmethod
    def builder() -> KafkaSinkBuilder:
        return KafkaSinkBuilder()


class KafkaSinkBuilder:
    """PyFlink's `KafkaSinkBuilder`, for what `sim` models.

    `set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)` builds a
    `TransactionalTopicSink` and, as in Flink, needs
    `set_transactional_id_prefix`; AT_LEAST_ONCE and NONE (the default)
    build a `TopicSink`, which appends as it goes, so the two are the same
    here. Brokers and serialisation schemas have no counterpart: the topic
    is given by `set_topic` (in PyFlink, by the record serializer) and the
    record key by `set_key(fn)`.
    """

    def __init__(self) -> None:
        self._topic: Topic | None = None
        self._key: Callable[[Any], Any] | None = None
        self._guarantee = DeliveryGuarantee.NONE
        self._prefix: str | None = None

    def set_topic(self, topic: Topic) -> KafkaSinkBuilder:
        self._topic = topic
        return self

    def set_key(self, key: Callable[[Any], Any]) -> KafkaSinkBuilder:
        self._key = key
        return self

    def set_delivery_guarantee(self, delivery_guarantee: DeliveryGuarantee) -> KafkaSinkBuilder:
        if not isinstance(delivery_guarantee, DeliveryGuarantee):
            raise TypeError(f"KafkaSink.builder(): expected a DeliveryGuarantee, got "
                            f"{type(delivery_guarantee).__name__}: {delivery_guarantee!r}")
        self._guarantee = delivery_guarantee
        return self

    def set_transactional_id_prefix(self, transactional_id_prefix: str) -> KafkaSinkBuilder:
        self._prefix = transactional_id_prefix
        return self

    def build(self) -> TopicSink | TransactionalTopicSink:
        if self._topic is None:
            raise ValueError("KafkaSink.builder() needs set_topic(topic) before build()")
        if self._guarantee is not DeliveryGuarantee.EXACTLY_ONCE:
            return TopicSink(self._topic, self._key)
        if self._prefix is None:
            raise ValueError(f"KafkaSink.builder() of topic {self._topic.name!r}: EXACTLY_ONCE needs "
                             f"set_transactional_id_prefix(prefix), so that sinks writing to one topic have "
                             f"distinct transaction names")
        return TransactionalTopicSink(self._topic, self._key, transactional_id_prefix=self._prefix)
