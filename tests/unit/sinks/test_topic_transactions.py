"""Transactions on a topic, as Kafka's broker keeps them: visibility, the last stable offset, idempotent
decisions, fencing, and errors that name the topic and the transaction."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.api import Topic, TransactionError, TransactionResult, TransactionState


def values(records):
    return [r.value for r in records]


def test_transaction_names_count_per_transactional_id():
    topic = Topic("out", 1)
    assert [topic.begin_transaction(tid) for tid in ("p-0", "p-0", "p-1", "p-0")] == [
        "p-0-0", "p-0-1", "p-1-0", "p-0-2"]
    assert topic.transactions.transactional_ids() == ["p-0", "p-1"]


def test_records_of_an_open_transaction_have_offsets_but_only_uncommitted_readers_see_them():
    topic = Topic("out", 1)
    txn = topic.begin_transaction("p-0")
    producer = topic.producer()
    first = producer.send(0, None, "in txn", transaction=txn)
    topic.append(None, "plain")
    assert (first.offset, first.transaction) == (0, txn)
    assert topic.visible_end(0, 0) == 2
    # The plain record comes after the open transaction's first record: the LSO holds it back too.
    assert topic.last_stable_offset(0) == 0
    assert topic.readable_end(0, 0, read_committed=True) == 0
    assert topic.committed_values() == []
    assert topic.commit_transaction(txn, 10) is TransactionResult.COMMITTED
    assert topic.committed_values(now_ms=9) == []  # decided at 10 ms: a reader at 9 ms does not know yet
    assert topic.committed_values() == ["in txn", "plain"]
    assert topic.last_stable_offset(0) == 2


def test_aborted_records_are_never_read_committed_and_stop_holding_back_what_follows():
    topic = Topic("out", 1)
    txn = topic.begin_transaction("p-0")
    topic.producer().send(0, None, "dropped", transaction=txn)
    topic.append(None, "kept")
    assert topic.abort_transaction(txn) is TransactionResult.ABORTED
    assert topic.committed_values() == ["kept"]
    assert values(topic.records()) == ["dropped", "kept"]  # the log keeps them; read-uncommitted sees them
    assert topic.transaction_state(txn) is TransactionState.ABORTED


def test_a_later_transaction_committed_first_waits_for_the_earlier_one_in_each_partition():
    """LSO order: B (offsets 1, 3) commits before A (offsets 0, 2) is decided, so nothing is readable until A is;
    then A's records are skipped (aborted) and B's read in offset order."""
    topic = Topic("out", 1)
    a, b = topic.begin_transaction("p-0"), topic.begin_transaction("p-1")
    pa, pb = topic.producer(), topic.producer()
    for i in range(2):
        pa.send(0, None, f"a{i}", transaction=a)
        pb.send(0, None, f"b{i}", transaction=b)
    topic.commit_transaction(b)
    assert topic.last_stable_offset(0) == 0 and topic.committed_values() == []
    topic.abort_transaction(a)
    assert topic.committed_values() == ["b0", "b1"]


def test_an_open_transaction_holds_back_only_the_partitions_it_wrote_to():
    topic = Topic("out", 2)
    txn = topic.begin_transaction("p-0")
    topic.producer().send(0, None, "open", partition=0, transaction=txn)
    topic.append(None, "p0 plain", partition=0)
    topic.append(None, "p1 plain", partition=1)
    assert topic.committed_values(0) == [] and topic.committed_values(1) == ["p1 plain"]
    assert [topic.last_stable_offset(p) for p in (0, 1)] == [0, 1]


def test_commit_and_abort_are_idempotent_but_final():
    topic = Topic("out", 1)
    committed, aborted = topic.begin_transaction("p-0"), topic.begin_transaction("p-0")
    assert topic.commit_transaction(committed) is TransactionResult.COMMITTED
    assert topic.commit_transaction(committed) is TransactionResult.ALREADY_COMMITTED
    assert topic.abort_transaction(aborted) is TransactionResult.ABORTED
    assert topic.abort_transaction(aborted) is TransactionResult.ALREADY_ABORTED
    with pytest.raises(TransactionError, match=r"topic 'out': cannot commit transaction 'p-0-1': expected it open "
                                               r"or committed, found it aborted at 0 ms"):
        topic.commit_transaction(aborted)
    with pytest.raises(TransactionError, match=r"topic 'out': cannot abort transaction 'p-0-0': expected it open "
                                               r"or aborted, found it committed at 0 ms"):
        topic.abort_transaction(committed)


def test_errors_name_the_topic_and_the_transaction():
    topic = Topic("out", 1)
    txn = topic.begin_transaction("p-0")
    topic.commit_transaction(txn, 40)
    with pytest.raises(TransactionError, match=r"topic 'out': cannot append to transaction 'p-0-0': expected it "
                                               r"open, found it committed at 40 ms"):
        topic.producer().send(50, None, "late", transaction=txn)
    with pytest.raises(TransactionError, match=r"topic 'out' has no transaction 'p-9-9'"):
        topic.commit_transaction("p-9-9")
    with pytest.raises(TransactionError, match=r"topic 'out': a transactional id must be a non-empty str, got ''"):
        topic.begin_transaction("")
    assert len(topic.records()) == 0  # the refused record took no offset


def test_a_decision_takes_effect_no_earlier_than_the_topics_time():
    topic = Topic("out", 1)
    txn = topic.begin_transaction("p-0")
    topic.producer().send(0, None, "x", transaction=txn)
    topic.advance_to(300)
    topic.commit_transaction(txn, 100)  # asked at 100 ms, but the topic has been shown 300 ms
    assert topic.committed_values(now_ms=299) == []
    assert topic.committed_values(now_ms=300) == ["x"]


def test_fencing_aborts_only_the_open_transactions_of_that_transactional_id():
    topic = Topic("out", 1)
    done, left, other = (topic.begin_transaction(tid) for tid in ("p-0", "p-0", "p-1"))
    topic.commit_transaction(done)
    assert topic.abort_open_transactions("p-0") == [left]
    assert [topic.transaction_state(t) for t in (done, left, other)] == [
        TransactionState.COMMITTED, TransactionState.ABORTED, TransactionState.OPEN]


def test_a_reader_of_a_later_run_sees_decisions_only_from_their_time():
    """A topic keeps its log across runs, each starting at 0: like appends, decisions count from their instant."""
    topic = Topic("out", 1)
    early, late = topic.begin_transaction("p-0"), topic.begin_transaction("p-0")
    producer = topic.producer()
    producer.send(0, None, "early", transaction=early)
    producer.send(0, None, "late", transaction=late)
    topic.commit_transaction(early, 100)
    topic.commit_transaction(late, 500)
    assert [topic.committed_values(now_ms=t) for t in (99, 100, 500)] == [[], ["early"], ["early", "late"]]
    assert topic.committed_values(now_ms=200) == ["early"]


_OPS = st.lists(st.tuples(st.sampled_from(["begin", "send", "plain", "commit", "abort"]), st.integers(0, 3),
                          st.integers(0, 1)), max_size=40)


@given(_OPS)
def test_read_committed_matches_a_model_of_the_last_stable_offset(ops):
    """Property: per partition, a read-committed consumer reads, in offset order, the records written outside
    transactions or in committed ones, up to (not including) the first record of a still open transaction;
    a second commit or abort of the same outcome reports ALREADY_*, the opposite one raises."""
    topic = Topic("t", 2)
    producer = topic.producer()
    txns, outcome = [], {}
    for op, which, partition in ops:
        open_ones = [t for t in txns if t not in outcome]
        if op == "begin":
            txns.append(topic.begin_transaction("w"))
        elif op == "plain":
            topic.append(None, "plain", partition=partition)
        elif op == "send" and open_ones:
            producer.send(0, None, "txn", partition=partition, transaction=open_ones[which % len(open_ones)])
        elif op in ("commit", "abort") and txns:
            txn = txns[which % len(txns)]
            decide = topic.commit_transaction if op == "commit" else topic.abort_transaction
            if outcome.get(txn, op) != op:
                with pytest.raises(TransactionError):
                    decide(txn)
                continue
            result = decide(txn)
            done = "COMMITTED" if op == "commit" else "ABORTED"
            assert result.name == ("ALREADY_" if txn in outcome else "") + done
            outcome[txn] = op
    for p in range(2):
        expected = []
        for record in topic.records(p):
            state = outcome.get(record.transaction, "open") if record.transaction else "commit"
            if state == "open":
                break
            if state == "commit":
                expected.append(record)
        assert topic.committed_records(p) == expected
