"""The exactly-once sink contract: `TwoPhaseCommitSinkFunction`, whose transactions the runtime drives.

Layer: `sim.api` (no SimPy, no clock of its own). The user writes the five
transaction methods; the runtime's `TwoPhaseCommitSinkOperator`
(`sim.runtime.transactional_sink`) decides when each is called, from the
checkpoints: it is chosen for any sink whose function is one of these.

A transaction is whatever `begin_transaction` returns: a plain value (str,
int, list, dict, ...), because it is stored in checkpoints, which are JSON
and never pickled. It names the transaction in the external system, so
that any later incarnation of the sink can commit or abort it.
"""

from __future__ import annotations

from typing import Any

from sim.api.functions import SinkFunction


class TwoPhaseCommitSinkFunction(SinkFunction):
    """A sink that writes each checkpoint's records in one transaction, committed once the checkpoint completes.

    Lifecycle, as the runtime calls it (one instance per subtask):

    1. On restore only: `recover_and_commit(txn)` for each transaction that
       was pre-committed in the restored checkpoint (it may already be
       committed: the commit must be idempotent), then
       `recover_and_abort(txn)` for the transaction that was open in it.
    2. `open(runtime_context)`, then `begin_transaction()`.
    3. `invoke(txn, value, context)` for each record, into the current one.
    4. At each checkpoint's snapshot: `pre_commit(txn)` (flush; after it the
       transaction must be committable), then `begin_transaction()` for the
       records that follow.
    5. When a checkpoint completes: `commit(txn)` for each transaction
       pre-committed at it or at an earlier one, oldest first.
    6. At the end of a bounded input: `pre_commit` of the current one, which
       is committed once the whole job has finished (Flink's final
       checkpoint). Closing without that (a cancelled task) aborts it.

    Besides the `context` of `invoke`, every method may read the virtual
    time with `current_processing_time()`.

    Flink counterpart: `TwoPhaseCommitSinkFunction` (legacy sink API;
    `beginTransaction`, `invoke`, `preCommit`, `commit`, `abort`,
    `recoverAndCommit`, `recoverAndAbort`).
    Simplified: no user context (`initializeUserContext`), no transaction
    timeout warnings; a transaction is any value that survives a checkpoint,
    with no serializer to supply.
    """

    _clock: Any = None

    def bind_clock(self, clock: Any) -> None:
        """The runtime hands over the task's clock (anything with `now_us`) before calling any other method."""
        self._clock = clock

    def current_processing_time(self) -> int:
        """Virtual processing time in ms (0 before the runtime has bound a clock)."""
        return 0 if self._clock is None else self._clock.now_us // 1000

    def begin_transaction(self) -> Any:
        """Start a transaction in the external system; return a plain value that names it."""
        raise NotImplementedError(f"{type(self).__name__} must implement begin_transaction()")

    def invoke(self, transaction: Any, value: Any, context: SinkFunction.Context) -> None:  # type: ignore[override]
        """Write `value` into `transaction`."""
        raise NotImplementedError(f"{type(self).__name__} must implement invoke(transaction, value, context)")

    def pre_commit(self, transaction: Any) -> None:
        """Make `transaction` ready to commit (flush); nothing more is written into it."""
        raise NotImplementedError(f"{type(self).__name__} must implement pre_commit(transaction)")

    def commit(self, transaction: Any) -> None:
        """Make `transaction`'s records visible; must succeed once pre-committed."""
        raise NotImplementedError(f"{type(self).__name__} must implement commit(transaction)")

    def abort(self, transaction: Any) -> None:
        """Drop `transaction`: its records must never become visible."""
        raise NotImplementedError(f"{type(self).__name__} must implement abort(transaction)")

    def recover_and_commit(self, transaction: Any) -> None:
        """Commit a pre-committed transaction found in a restored checkpoint; it may be committed already."""
        self.commit(transaction)

    def recover_and_abort(self, transaction: Any) -> None:
        """Abort the transaction that was open in a restored checkpoint."""
        self.abort(transaction)
