"""The two-phase-commit sink operator driven by hand through its lifecycle, as a task and the cluster would:
pre-commit at the snapshot, commit on notification, recovery on restore (also rescaled), the end of input,
and user errors that name the operator.

Scripts compare whole call sequences and whole trace timelines; phases are commented.
"""

from __future__ import annotations

from collections import Counter

import pytest

from sim.api import Topic, TransactionalTopicSink, TransactionState
from sim.runtime.operators import UserFunctionError
from sim.runtime.transactional_sink import END_OF_INPUT
from sim.state import serde
from sim.trace import TraceLevel, TransactionAborted, TransactionCommitted, TransactionPreCommitted
from tests.unit.sinks.doubles import CommitOnPreCommitSink, RecordingSink, sink_operator


def timeline(op) -> list[tuple]:
    """The operator's transaction events as (time us, event name, *fields after the task)."""
    out = []
    for e in op._trace.events:
        fields = e.to_dict()
        out.append((fields.pop("t_us"), type(e).__name__, *[v for k, v in fields.items() if k not in ("task", "type")]))
    return out


def through_checkpoint(state):
    """A snapshot as a restore gets it: through the checkpoint encoding and back."""
    return serde.loads(serde.dumps(state))


def test_records_go_into_the_current_transaction_which_is_pre_committed_at_the_snapshot_and_committed_on_notify():
    op = sink_operator(RecordingSink())
    op.open()
    op.clock.now_us = 1_000
    op.process_element("a")
    op.process_element("b")
    # Checkpoint 1: pre-commit t0.0, keep it pending, begin t0.1.
    assert op.snapshot_operator_state(1) == {"pending": [[1, "t0.0", 2]], "open": "t0.1"}
    op.process_element("c")
    op.clock.now_us = 2_000
    assert op.snapshot_operator_state(2) == {"pending": [[1, "t0.0", 2], [2, "t0.1", 1]], "open": "t0.2"}
    # Checkpoint 1 completes: only what was pre-committed at 1 or before is committed.
    op.clock.now_us = 3_000
    op.notify_checkpoint_complete(1)
    assert op.pending == [(2, "t0.1", 1)]
    op.notify_checkpoint_complete(2)
    assert op.function.calls == [
        ("open",), ("begin_transaction", "t0.0"), ("invoke", "t0.0", "a"), ("invoke", "t0.0", "b"),
        ("pre_commit", "t0.0"), ("begin_transaction", "t0.1"), ("invoke", "t0.1", "c"),
        ("pre_commit", "t0.1"), ("begin_transaction", "t0.2"), ("commit", "t0.0"), ("commit", "t0.1"),
    ]
    assert timeline(op) == [
        (1_000, "TransactionPreCommitted", 1, "t0.0", 2),
        (2_000, "TransactionPreCommitted", 2, "t0.1", 1),
        (3_000, "TransactionCommitted", "t0.0", 2, False),
        (3_000, "TransactionCommitted", "t0.1", 1, False),
    ]
    assert op.log.values == ["a", "b", "c"]  # every write is still logged as written


def test_a_later_notification_commits_every_earlier_pending_transaction_oldest_first():
    """Checkpoint 1's notification may never come (aborted, or subsumed): checkpoint 2's commits both."""
    op = sink_operator(RecordingSink())
    op.open()
    op.snapshot_operator_state(1)
    op.snapshot_operator_state(2)
    op.notify_checkpoint_complete(2)
    op.notify_checkpoint_complete(2)  # a repeated notification finds nothing left to commit
    assert [c for c in op.function.calls if c[0] == "commit"] == [("commit", "t0.0"), ("commit", "t0.1")]


def test_the_end_of_input_pre_commits_the_last_transaction_which_commits_only_once_the_job_has_finished():
    op = sink_operator(RecordingSink())
    op.open()
    op.process_element("a")
    op.snapshot_operator_state(1)
    op.process_element("b")
    op.end_input()
    op.close()
    assert op.pending == [(1, "t0.0", 1), (END_OF_INPUT, "t0.1", 1)]
    op.notify_checkpoint_complete(7)  # any real checkpoint stays below END_OF_INPUT
    assert op.pending == [(END_OF_INPUT, "t0.1", 1)]
    op.notify_checkpoint_complete(END_OF_INPUT)
    assert op.function.calls[-4:] == [("pre_commit", "t0.1"), ("close",), ("commit", "t0.0"), ("commit", "t0.1")]
    assert [e.checkpoint_id for e in op._trace.of_type(TransactionPreCommitted)] == [1, END_OF_INPUT]


def test_without_checkpoints_nothing_commits_before_the_end():
    op = sink_operator(RecordingSink())
    op.open()
    op.process_element("a")
    op.end_input()
    assert [c[0] for c in op.function.calls] == ["open", "begin_transaction", "invoke", "pre_commit"]
    op.notify_checkpoint_complete(END_OF_INPUT)
    assert op.function.calls[-1] == ("commit", "t0.0")


def test_closing_without_the_end_of_input_aborts_the_current_transaction():
    """A cancelled task: Flink's close() aborts the transaction it was writing."""
    op = sink_operator(RecordingSink())
    op.open()
    op.process_element("a")
    op.close()
    assert op.function.calls[-2:] == [("abort", "t0.0"), ("close",)]
    assert op._trace.of_type(TransactionAborted)[0].records == 1


def test_a_restore_commits_the_pending_transactions_and_aborts_the_open_one_before_the_first_new_one():
    before = sink_operator(RecordingSink())
    before.open()
    before.process_element("a")
    before.snapshot_operator_state(1)
    before.process_element("b")
    state = through_checkpoint(before.snapshot_operator_state(2))
    # The job fails before checkpoint 2's notification; it restores checkpoint 2.
    after = sink_operator(RecordingSink())
    after.clock.now_us = 9_000
    after.restore_operator_state([state], 0, 1)
    after.open()
    assert after.function.calls == [
        ("recover_and_commit", "t0.0"), ("recover_and_commit", "t0.1"), ("recover_and_abort", "t0.2"),
        ("open",), ("begin_transaction", "t0.0"),
    ]
    assert timeline(after) == [
        (9_000, "TransactionCommitted", "t0.0", 1, True),
        (9_000, "TransactionCommitted", "t0.1", 1, True),
        (9_000, "TransactionAborted", "t0.2", 0),
    ]
    assert after.pending == []


def _old_states(parallelism: int) -> list[dict]:
    """Per old subtask: two checkpoints taken, so two pending transactions and one open."""
    states = []
    for i in range(parallelism):
        op = sink_operator(RecordingSink(), i, parallelism)
        op.open()
        op.process_element(i)
        op.snapshot_operator_state(1)
        states.append(through_checkpoint(op.snapshot_operator_state(2)))
    return states


@pytest.mark.parametrize("old, new", [(2, 3), (2, 1), (3, 2), (2, 2)])
def test_a_rescaled_restore_handles_every_transaction_exactly_once_old_j_going_to_new_j_mod_p(old, new):
    states = _old_states(old)
    handled = Counter()
    for i in range(new):
        op = sink_operator(RecordingSink(), i, new)
        op.restore_operator_state(states, i, new)
        for method, txn in op.function.calls:
            handled[method, txn] += 1
            assert int(txn[1]) % new == i, f"{txn} of old subtask {txn[1]} went to new subtask {i}"
        commits = [txn for method, txn in op.function.calls if method == "recover_and_commit"]
        assert commits == sorted(commits, key=lambda t: (int(t.split(".")[1]), int(t[1])))  # (checkpoint, old j)
    expected = Counter({("recover_and_commit", f"t{j}.{n}"): 1 for j in range(old) for n in (0, 1)})
    expected.update({("recover_and_abort", f"t{j}.2"): 1 for j in range(old)})
    assert handled == expected


def test_a_user_function_raising_is_wrapped_naming_the_operator():
    for method in ("begin_transaction", "pre_commit", "commit"):
        op = sink_operator(RecordingSink(fail_in=method), 1, 2)
        with pytest.raises(UserFunctionError, match=rf"sink\[1\] failed: ValueError: broken {method}"):
            op.open()
            op.process_element("a")
            op.snapshot_operator_state(1)
            op.notify_checkpoint_complete(1)
    op = sink_operator(RecordingSink(fail_in="invoke"), 1, 2)
    op.open()
    with pytest.raises(UserFunctionError, match=r"sink\[1\] failed on record 'a': ValueError: broken invoke"):
        op.process_element("a")
    assert op.log.values == []  # a record the sink raised on is not logged as written
    op = sink_operator(RecordingSink(fail_in="recover_and_abort"), 0, 1)
    with pytest.raises(UserFunctionError, match=r"sink\[0\] failed: ValueError: broken recover_and_abort"):
        op.restore_operator_state([{"pending": [], "open": "t0.0"}], 0, 1)


class ObjectTransactions(RecordingSink):
    def begin_transaction(self):
        return object()


def test_a_transaction_must_be_a_plain_value_that_a_checkpoint_can_hold():
    op = sink_operator(ObjectTransactions(), 1, 2)
    with pytest.raises(UserFunctionError, match=r"sink\[1\] failed: TypeError: cannot encode a value of type "
                                                r"builtins.object in the transaction <object object at .*> of "
                                                r"sink\[1\]"):
        op.open()


def test_transactions_are_traced_only_at_the_checkpoints_level():
    op = sink_operator(RecordingSink(), level=TraceLevel.JOB)
    op.open()
    op.snapshot_operator_state(1)
    op.notify_checkpoint_complete(1)
    assert op._trace.events == []


# ----------------------------------------------------------------------------- a topic behind the operator


def _write(op, values):
    for v in values:
        op.process_element(v)


@pytest.mark.parametrize("sink_class, committed", [
    (TransactionalTopicSink, [1, 2, 3, 4]),
    (CommitOnPreCommitSink, [1, 2, 3, 4, 3, 4]),
])
def test_after_a_restore_of_the_latest_checkpoint_a_sink_that_commits_early_duplicates_what_is_replayed(
        sink_class, committed):
    """Checkpoint 1 completes after 1, 2; 3, 4 are pre-committed at checkpoint 2, which never completes, and the
    job fails. The restore from checkpoint 1 aborts the transaction holding 3, 4, and the source replays them.
    The broken sink had already committed that transaction at its pre-commit, so 3 and 4 arrive twice."""
    topic = Topic("out", 1)
    first = sink_operator(sink_class(topic, transactional_id_prefix="job"))
    first.open()
    _write(first, [1, 2])
    checkpoint_1 = through_checkpoint(first.snapshot_operator_state(1))
    first.notify_checkpoint_complete(1)
    _write(first, [3, 4])
    first.snapshot_operator_state(2)
    # The failure: the first attempt is gone. The second restores checkpoint 1 and replays 3, 4.
    second = sink_operator(sink_class(topic, transactional_id_prefix="job"))
    second.restore_operator_state([checkpoint_1], 0, 1)
    second.open()
    _write(second, [3, 4])
    second.end_input()
    second.notify_checkpoint_complete(END_OF_INPUT)
    assert topic.committed_values() == committed
    assert [r.value for r in topic.records()] == [1, 2, 3, 4, 3, 4]  # both wrote 3, 4 into the log


def test_a_new_attempt_fences_what_the_failed_one_left_open_so_readers_are_not_held_back():
    """Two snapshots after the restored checkpoint left transactions open that its state does not know of."""
    topic = Topic("out", 1)
    first = sink_operator(TransactionalTopicSink(topic))
    first.open()
    _write(first, [1])
    checkpoint_1 = first.snapshot_operator_state(1)
    _write(first, [2])
    first.snapshot_operator_state(2)  # pre-commits out-0-1, begins out-0-2
    _write(first, [3])
    second = sink_operator(TransactionalTopicSink(topic))
    second.restore_operator_state([checkpoint_1], 0, 1)
    second.open()
    assert [topic.transaction_state(f"out-0-{n}") for n in range(4)] == [
        TransactionState.COMMITTED, TransactionState.ABORTED, TransactionState.ABORTED, TransactionState.OPEN]
    assert topic.committed_values() == [1]
    assert topic.last_stable_offset(0) == 3  # no longer held at the failed attempt's records


def test_after_a_scale_down_the_remaining_subtask_fences_the_transactional_ids_it_inherits():
    topic = Topic("out", 1)
    old = [sink_operator(TransactionalTopicSink(topic), i, 2) for i in range(2)]
    for op in old:
        op.open()
        _write(op, [op.subtask])
    states = [op.snapshot_operator_state(1) for op in old]
    for op in old:
        _write(op, [10 + op.subtask])
        op.snapshot_operator_state(2)  # never completes
    new = sink_operator(TransactionalTopicSink(topic), 0, 1)
    new.restore_operator_state(states, 0, 1)
    new.open()
    assert sorted(topic.committed_values()) == [0, 1]
    assert topic.last_stable_offset(0) == len(topic.records())  # nothing open but the new, empty transaction
    assert [t for t in ("out-0-2", "out-1-2") if topic.transaction_state(t) is TransactionState.OPEN] == []
