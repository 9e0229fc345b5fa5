"""The operator that drives a `TwoPhaseCommitSinkFunction`: a transaction per checkpoint, committed on completion.

Layer: `sim.runtime` (no SimPy, no clock reads: time is the task's clock,
set by the simulated world). `StreamTask` picks this operator for a sink
whose function is a two-phase-commit function (`sink_operator_class`).

What the simulated world must call, besides the usual operator lifecycle:

- `snapshot_operator_state(checkpoint_id)` in the synchronous part of each
  checkpoint (the task does, through `StreamTask.snapshot_state`);
- `notify_checkpoint_complete(checkpoint_id)` on every subtask once
  checkpoint `checkpoint_id` has completed on the JobManager;
- `notify_checkpoint_complete(END_OF_INPUT)` on every subtask once the whole
  job has finished, which commits what each subtask pre-committed when its
  input ended (Flink commits those on the final checkpoint). A job that
  never finishes (failed, cancelled, or cut off by `until_ms`) never commits
  them; neither does one without checkpoints until it finishes;
- `restore_operator_state(states, subtask, parallelism)` before `open()` on
  a restore, with the states of the checkpoint restored from.

The notifications, as Flink's, are mailbox actions of the task: call them
inside a step of the task (`StreamTask.begin_step(now)` first), so that the
clock says when the commits happen; with a stale clock, they would be
traced, and decided in the external system, at the time of the task's last
step.

Restore and rescaling: every old subtask's transactions go to exactly one
new subtask, old j to new `j % parallelism` (for `TransactionalTopicSink`
the same rule decides which transactional ids a subtask fences). A new
subtask first recovers-and-commits all the pending transactions it got,
ordered by (checkpoint id, old subtask), then recovers-and-aborts the open
ones, by old subtask.

Flink counterpart: `StreamSink` running a `TwoPhaseCommitSinkFunction`
(`snapshotState`, `notifyCheckpointComplete`, `initializeState`, `finish`,
`close`).
Simplified: the transactions are operator state of the operator itself
(Flink keeps them in union list state of the function and lets subtask 0
handle them all on a scale-down; here no transaction is handled twice); no
transaction timeout; a failed commit at a notification is a task failure
rather than a retry at the next one.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from sim.api.functions import RuntimeContext, SinkFunction
from sim.api.transactional import TwoPhaseCommitSinkFunction
from sim.graph.stream_graph import StreamNode
from sim.kernel.stable import stable_repr
from sim.runtime.operators import END_OF_INPUT, SinkLog, SinkOperator
from sim.state import serde
from sim.trace import Trace, TransactionAborted, TransactionCommitted, TransactionPreCommitted

__all__ = ["END_OF_INPUT", "TwoPhaseCommitSinkOperator", "sink_operator_class", "transaction_name"]


def sink_operator_class(function: Any) -> type[SinkOperator]:
    """The operator for a sink running `function`: this module's for a two-phase-commit function."""
    return TwoPhaseCommitSinkOperator if isinstance(function, TwoPhaseCommitSinkFunction) else SinkOperator


def transaction_name(txn: Any) -> str:
    """How the trace names a transaction: itself if it is a str, else its stable repr."""
    return txn if isinstance(txn, str) else stable_repr(txn)


class TwoPhaseCommitSinkOperator(SinkOperator):
    """Runs a two-phase-commit sink: records into the current transaction, one transaction per checkpoint.

    Every record is still logged as written (the run's outputs hold what
    the sink wrote, including records of transactions later aborted);
    which of them became visible is the external system's business (for a
    topic: `Topic.committed_values`).

    Lifecycle: created (the subtask's own copy of the function is taken
    now, so that a restore works on it) -> `restore_operator_state`
    (optional: recover and commit, recover and abort) -> `open()` (the
    function opens, the first transaction begins) -> per record `invoke` ->
    per checkpoint `snapshot_operator_state` (pre-commit, keep pending,
    begin the next) and `notify_checkpoint_complete` (commit what is due)
    -> `end_input()` (pre-commit the last one under `END_OF_INPUT`) ->
    `close()` (a transaction still current is aborted, as on cancel).

    The snapshot is `{"pending": [[checkpoint_id, txn, records], ...],
    "open": txn}`: `records` counts what this operator wrote into a
    transaction (so recovered commits can be traced with it); the open
    transaction was begun at the snapshot and holds nothing yet.

    Flink counterpart: `StreamSink` with `TwoPhaseCommitSinkFunction`.
    Simplified: see the module docstring.
    """

    def __init__(self, node: StreamNode, subtask: int, ctx: RuntimeContext, clock: Any,
                 log: SinkLog, trace: Trace, task: str, stdout: Any = None):
        super().__init__(node, subtask, ctx, clock, log, trace, task, stdout)
        self.function = self._call(lambda: copy.deepcopy(self.function), None, has_record=False)
        self.function.bind_clock(clock)
        self.transaction: Any = None
        """The current transaction (None before `open()` and after the input ended)."""
        self.transaction_records = 0
        self.pending: list[tuple[int, Any, int]] = []
        """Pre-committed transactions, oldest first: (checkpoint id, transaction, records)."""

    # --- lifecycle ------------------------------------------------------------------------

    def open(self) -> None:
        """Open the subtask's function (copied at creation), begin the first transaction, build the path."""
        self._call(lambda: self.function.open(self.runtime_context), None, has_record=False)
        self._begin()
        self._build_paths()

    def _writer(self) -> Callable[[Any], None]:
        invoke = self.function.invoke
        context = SinkFunction.Context(self.clock, lambda: self.current_watermark)

        def write(value: Any) -> None:
            invoke(self.transaction, value, context)
            self.transaction_records += 1

        return write

    def _begin(self) -> None:
        txn = self._call(self.function.begin_transaction, None, has_record=False)
        self._call(lambda: serde.encode(txn, f"the transaction {txn!r} of {self.label}"), None, has_record=False)
        self.transaction, self.transaction_records = txn, 0

    def _pre_commit(self, checkpoint_id: int) -> None:
        """Pre-commit the current transaction and keep it pending under `checkpoint_id`."""
        txn, records = self.transaction, self.transaction_records
        self._call(lambda: self.function.pre_commit(txn), None, has_record=False)
        self.pending.append((checkpoint_id, txn, records))
        self.transaction = None
        if self._trace.checkpoints:
            self._trace.emit(TransactionPreCommitted(self.clock.now_us, self._task, checkpoint_id,
                                                     transaction_name(txn), records))

    def end_input(self) -> None:
        """Bounded input ended: pre-commit the last transaction, to be committed once the whole job has finished."""
        if self.transaction is not None:
            self._pre_commit(END_OF_INPUT)

    def close(self) -> None:
        """Abort a transaction still current (the task was cancelled), then close the function."""
        if self.transaction is not None:
            txn, records = self.transaction, self.transaction_records
            self.transaction = None
            self._call(lambda: self.function.abort(txn), None, has_record=False)
            self._trace_aborted(txn, records)
        super().close()

    # --- checkpoints ----------------------------------------------------------------------

    def snapshot_operator_state(self, checkpoint_id: int) -> dict | None:
        """Pre-commit the current transaction under `checkpoint_id`, begin the next; both go in the snapshot."""
        if self.transaction is not None:
            self._pre_commit(checkpoint_id)
            self._begin()
        return {"pending": [[cid, txn, records] for cid, txn, records in self.pending], "open": self.transaction}

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Commit every pending transaction pre-committed at `checkpoint_id` or before, oldest first."""
        while self.pending and self.pending[0][0] <= checkpoint_id:
            _, txn, records = self.pending[0]
            self._call(lambda: self.function.commit(txn), None, has_record=False)
            del self.pending[0]
            self._trace_committed(txn, records, recovered=False)

    def restore_operator_state(self, states: list[dict | None], subtask: int, parallelism: int) -> None:
        """Recover the transactions of the old subtasks that map to this one (old j -> new j % parallelism).

        Pending ones are committed (they may be already: the function's
        `recover_and_commit` must not mind), ordered by (checkpoint id, old
        subtask); then the open ones are aborted, by old subtask.
        """
        mine = [(j, state) for j, state in enumerate(states) if j % parallelism == subtask and state is not None]
        pending = sorted(((cid, j, txn, records) for j, state in mine for cid, txn, records in state["pending"]),
                         key=lambda entry: entry[:2])
        for _, _, txn, records in pending:
            self._call(lambda: self.function.recover_and_commit(txn), None, has_record=False)
            self._trace_committed(txn, records, recovered=True)
        for _, state in mine:
            txn = state["open"]
            if txn is not None:
                self._call(lambda: self.function.recover_and_abort(txn), None, has_record=False)
                self._trace_aborted(txn, 0)

    def _trace_committed(self, txn: Any, records: int, recovered: bool) -> None:
        if self._trace.checkpoints:
            self._trace.emit(TransactionCommitted(self.clock.now_us, self._task, transaction_name(txn), records,
                                                  recovered))

    def _trace_aborted(self, txn: Any, records: int) -> None:
        if self._trace.checkpoints:
            self._trace.emit(TransactionAborted(self.clock.now_us, self._task, transaction_name(txn), records))

