"""A topic's transactions: their states, where they wrote, and each partition's last stable offset.

Layer: `sim.api` (no SimPy, no clock: whoever begins, commits or aborts hands
in the virtual time). A `Topic` (`sim.api.log`) owns one `TopicTransactions`
and asks it, for every record appended inside a transaction, to note where
the transaction wrote; read-committed readers ask it how far they may read.

Kafka's rules, kept:

- A transaction belongs to a *transactional id* (one per producer: a sink
  subtask's is `<prefix>-<subtask>`) and is named `<transactional id>-<n>`,
  n counting from 0 per transactional id in this topic, so names are
  deterministic and never reused.
- Its records get their offsets when they are appended, between other
  records. Committing makes them visible to read-committed readers; aborting
  hides them for ever. Read-uncommitted readers see them at once, either way.
- Commit and abort are final. Committing a committed transaction, or
  aborting an aborted one, changes nothing and says so
  (`TransactionResult.ALREADY_COMMITTED` / `ALREADY_ABORTED`), which is what
  a recovering sink needs; committing an aborted transaction, or aborting a
  committed one, is an error.
- A read-committed reader stops at the *last stable offset* (LSO) of a
  partition: the first offset of a transaction still undecided there. So it
  never skips ahead of an open transaction, and each partition keeps its
  order; records below the LSO that belong to aborted transactions are
  skipped.
- A new producer with the same transactional id fences the old one: its
  open transactions are aborted (`abort_open`, Kafka's `initTransactions`).

A decision takes effect at a virtual time, so a reader at an earlier time
(a later run reading the same topic starts again at 0) does not see it yet.

Flink counterpart: none, this is Kafka's broker side (`TransactionCoordinator`,
`TransactionMetadata`, the partition's first unstable offset in
`ProducerStateManager`).
Simplified: no producer ids, epochs, sequence numbers or transaction
timeouts; commit and abort markers take no offsets; a transaction is decided
in one step (no PREPARE_COMMIT phase); fencing is explicit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class TransactionState(Enum):
    """Where a transaction is in its life: OPEN, then COMMITTED or ABORTED for good."""

    OPEN = "open"
    COMMITTED = "committed"
    ABORTED = "aborted"


class TransactionResult(Enum):
    """What a commit or an abort did: decided the transaction now, or found it already decided so."""

    COMMITTED = "committed"
    ALREADY_COMMITTED = "already committed"
    ABORTED = "aborted"
    ALREADY_ABORTED = "already aborted"


_OUTCOMES = {
    TransactionState.COMMITTED: (TransactionResult.COMMITTED, TransactionResult.ALREADY_COMMITTED, "commit"),
    TransactionState.ABORTED: (TransactionResult.ABORTED, TransactionResult.ALREADY_ABORTED, "abort"),
}
"""Per outcome: the result of deciding now, of finding it decided so already, and the verb for errors."""


class TransactionError(ValueError):
    """A transaction is unknown, or cannot go where it was asked to (e.g. commit after abort)."""


@dataclass
class Transaction:
    """One transaction: its name, owner, state, when it was decided and how many records it holds.

    `first_offsets` maps each partition it wrote to the offset of its first
    record there.
    """

    id: str
    transactional_id: str
    state: TransactionState = TransactionState.OPEN
    decided_ms: int | None = None
    records: int = 0
    first_offsets: dict[int, int] = field(default_factory=dict)

    def decided_by(self, now_ms: int) -> bool:
        """Whether a reader at `now_ms` knows the outcome."""
        return self.decided_ms is not None and self.decided_ms <= now_ms


class TopicTransactions:
    """The transactions of one topic (see the module docstring).

    Lifecycle of a transaction: `begin` -> `appended` for each of its
    records -> `commit` or `abort` (both final, both idempotent).
    """

    def __init__(self, topic_name: str, partitions: int):
        self._topic = topic_name
        self._by_id: dict[str, Transaction] = {}
        self._begun: dict[str, int] = {}  # transactional id -> transactions begun under it
        # Per partition, the transactions that wrote there, by their first offset in it.
        self._starts: list[list[Transaction]] = [[] for _ in range(partitions)]
        # Per partition, how many leading `_starts` are decided, and the latest of their decision times.
        self._settled: list[tuple[int, int]] = [(0, 0)] * partitions

    def begin(self, transactional_id: str) -> str:
        """Open a new transaction for `transactional_id`; returns its name `<transactional id>-<n>`."""
        if not isinstance(transactional_id, str) or not transactional_id:
            raise TransactionError(f"topic {self._topic!r}: a transactional id must be a non-empty str, "
                                   f"got {transactional_id!r}")
        n = self._begun.get(transactional_id, 0)
        self._begun[transactional_id] = n + 1
        txn = Transaction(f"{transactional_id}-{n}", transactional_id)
        self._by_id[txn.id] = txn
        return txn.id

    def get(self, txn: str) -> Transaction:
        """The transaction named `txn`; raises TransactionError naming the topic if there is none."""
        found = self._by_id.get(txn) if isinstance(txn, str) else None
        if found is None:
            raise TransactionError(f"topic {self._topic!r} has no transaction {txn!r}")
        return found

    def writable(self, txn: str) -> Transaction:
        """The open transaction named `txn`, about to get a record."""
        found = self.get(txn)
        if found.state is not TransactionState.OPEN:
            raise TransactionError(f"topic {self._topic!r}: cannot append to transaction {txn!r}: expected it "
                                   f"open, found it {found.state.value} at {found.decided_ms} ms")
        return found

    def appended(self, txn: Transaction, partition: int, offset: int) -> None:
        """`txn` got the record at `offset` of `partition`."""
        if partition not in txn.first_offsets:
            txn.first_offsets[partition] = offset
            self._starts[partition].append(txn)
        txn.records += 1

    def commit(self, txn: str, at_ms: int) -> TransactionResult:
        """Commit `txn` at `at_ms`; an already committed one is left as it is."""
        return self._decide(txn, TransactionState.COMMITTED, at_ms)

    def abort(self, txn: str, at_ms: int) -> TransactionResult:
        """Abort `txn` at `at_ms`; an already aborted one is left as it is."""
        return self._decide(txn, TransactionState.ABORTED, at_ms)

    def _decide(self, txn: str, outcome: TransactionState, at_ms: int) -> TransactionResult:
        found = self.get(txn)
        done, again, verb = _OUTCOMES[outcome]
        if found.state is outcome:
            return again
        if found.state is not TransactionState.OPEN:
            raise TransactionError(f"topic {self._topic!r}: cannot {verb} transaction {txn!r}: expected it open "
                                   f"or {outcome.value}, found it {found.state.value} at {found.decided_ms} ms")
        found.state, found.decided_ms = outcome, at_ms
        return done

    def abort_open(self, transactional_id: str, at_ms: int) -> list[str]:
        """Fence `transactional_id`: abort each of its open transactions, oldest first; returns their names."""
        fenced = [t.id for t in self._by_id.values()
                  if t.transactional_id == transactional_id and t.state is TransactionState.OPEN]
        for txn in fenced:
            self.abort(txn, at_ms)
        return fenced

    def transactional_ids(self) -> list[str]:
        """Every transactional id that began a transaction here, in the order they first did."""
        return list(self._begun)

    def last_stable_offset(self, partition: int, now_ms: int, end: int) -> int:
        """The first offset of `partition` in a transaction undecided at `now_ms` (`end` if there is none)."""
        starts = self._starts[partition]
        settled, settled_ms = self._settled[partition]
        while settled < len(starts) and starts[settled].decided_ms is not None:
            settled_ms = max(settled_ms, starts[settled].decided_ms)
            settled += 1
        self._settled[partition] = (settled, settled_ms)
        # Within a run, time only grows past `settled_ms`; only a reader behind it (a later run) rescans.
        first = settled if now_ms >= settled_ms else 0
        for txn in starts[first:]:
            if not txn.decided_by(now_ms):
                return txn.first_offsets[partition]
        return end

    def is_aborted(self, txn: str) -> bool:
        return self._by_id[txn].state is TransactionState.ABORTED
