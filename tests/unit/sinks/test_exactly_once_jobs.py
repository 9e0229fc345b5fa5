"""Whole jobs with transactional topics: an exactly-once sink whose committed content is its input once, and a
read-committed source that reads only committed records, in a `Simulation`."""

from __future__ import annotations

import pytest

from sim import Simulation
from sim.api import (
    DeliveryGuarantee, KafkaSink, KafkaSource, PacedSource, StreamExecutionEnvironment, Topic, TopicSink,
    TransactionalTopicSink,
)
from sim.runtime.transactional_sink import END_OF_INPUT
from sim.trace import CheckpointCompleted, TraceLevel, TransactionCommitted, TransactionPreCommitted


def _exactly_once_job(topic: Topic, interval_ms: int | None = 50) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    if interval_ms is not None:
        env.enable_checkpointing(interval_ms)
    sink = (KafkaSink.builder().set_topic(topic).set_key(lambda v: str(v % 5))
            .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE).set_transactional_id_prefix("job").build())
    env.from_source(PacedSource.every(10, list(range(40)))).rebalance().map(lambda v: v * 10).sink_to(sink)
    return env


def test_a_bounded_job_with_checkpoints_commits_its_input_exactly_once():
    topic = Topic("out", 3)
    result = Simulation(_exactly_once_job(topic), seed=4, trace_level=TraceLevel.CHECKPOINTS).run()
    assert result.status == "FINISHED", result.failure
    expected = [v * 10 for v in range(40)]
    assert sorted(topic.committed_values()) == expected
    assert sorted(r.value for r in result.outputs["sink"]) == expected  # written, as the sink log keeps it
    pre_commits = result.trace.of_type(TransactionPreCommitted)
    commits = result.trace.of_type(TransactionCommitted)
    # Sometimes-assertions: checkpoints did cut the input into transactions, and both subtasks ended with one.
    assert len({e.checkpoint_id for e in pre_commits} - {END_OF_INPUT}) >= 3
    assert [e.task for e in pre_commits if e.checkpoint_id == END_OF_INPUT] == ["map->sink[0]", "map->sink[1]"]
    assert sorted(e.txn for e in commits) == sorted(e.txn for e in pre_commits)
    completed_us = {e.checkpoint_id: e.t_us for e in result.trace.of_type(CheckpointCompleted)}
    committed_us = {e.txn: e.t_us for e in commits}
    for e in pre_commits:
        if e.checkpoint_id in completed_us:  # visible no earlier than its checkpoint completed
            assert committed_us[e.txn] >= completed_us[e.checkpoint_id] > e.t_us
            assert topic.transactions.get(e.txn).decided_ms >= completed_us[e.checkpoint_id] // 1000
    assert sum(e.records for e in commits) == 40 and not any(e.recovered for e in commits)


def test_each_partition_keeps_its_order_for_committed_readers():
    topic = Topic("out", 3)
    Simulation(_exactly_once_job(topic), seed=4, trace_level=TraceLevel.JOB).run()
    for p in range(3):
        assert topic.committed_records(p) == [r for r in topic.records(p)]  # nothing aborted, nothing open


def test_without_checkpoints_nothing_is_visible_until_the_job_has_finished():
    topic = Topic("out", 1)
    env = _exactly_once_job(topic, interval_ms=None)
    result = Simulation(env, seed=4, trace_level=TraceLevel.CHECKPOINTS).run(until_ms=200)
    assert result.status == "RUNNING"
    assert topic.records() and topic.committed_values() == []
    topic = Topic("out", 1)
    result = Simulation(_exactly_once_job(topic, interval_ms=None), seed=4, trace_level=TraceLevel.CHECKPOINTS).run()
    assert sorted(topic.committed_values()) == [v * 10 for v in range(40)]
    assert {e.checkpoint_id for e in result.trace.of_type(TransactionPreCommitted)} == {END_OF_INPUT}


def test_the_builder_maps_delivery_guarantees_to_the_two_topic_sinks():
    topic = Topic("out", 1)
    builder = KafkaSink.builder().set_topic(topic)
    assert type(builder.build()) is TopicSink  # NONE, Flink's default
    assert type(builder.set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE).build()) is TopicSink
    with pytest.raises(ValueError, match=r"KafkaSink.builder\(\) of topic 'out': EXACTLY_ONCE needs "
                                         r"set_transactional_id_prefix\(prefix\)"):
        builder.set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE).build()
    sink = builder.set_transactional_id_prefix("orders").build()
    assert type(sink) is TransactionalTopicSink and sink.transactional_id_prefix == "orders"
    with pytest.raises(ValueError, match=r"KafkaSink.builder\(\) needs set_topic\(topic\)"):
        KafkaSink.builder().build()


def test_a_read_committed_source_reads_committed_records_once_they_are_committed():
    """A topic written before the run: a transaction committed at 200 ms, one aborted, plain records around."""
    topic = Topic("in", 2)
    producer = topic.producer()
    committed, aborted = topic.begin_transaction("w-0"), topic.begin_transaction("w-1")
    topic.append(None, "plain-0", partition=0)
    for i in range(3):
        producer.send(0, None, f"committed-{i}", partition=i % 2, transaction=committed)
        producer.send(0, None, f"aborted-{i}", partition=i % 2, transaction=aborted)
    topic.append(None, "plain-1", partition=1)
    topic.abort_transaction(aborted)
    topic.commit_transaction(committed, 200)
    env = StreamExecutionEnvironment.get_execution_environment()
    read = []
    source = KafkaSource.builder().set_topics(topic).set_bounded() \
        .set_property("isolation.level", "read_committed").set_deserializer(lambda r: r.value).build()

    class At(TopicSink):
        def invoke(self, value, context):
            read.append((value, context.current_processing_time()))

    env.from_source(source).sink_to(At(Topic("unused", 1)))
    result = Simulation(env, seed=1, trace_level=TraceLevel.JOB).run()
    assert result.status == "FINISHED", result.failure
    assert sorted(v for v, _ in read) == ["committed-0", "committed-1", "committed-2", "plain-0", "plain-1"]
    assert all(t >= 200 for v, t in read if v.startswith("committed"))
    # plain-0 precedes the transaction in partition 0 and is read at once; plain-1 follows it in partition 1.
    assert dict(read)["plain-0"] < 200 <= dict(read)["plain-1"]
