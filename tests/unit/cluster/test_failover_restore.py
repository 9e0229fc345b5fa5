"""Failover and checkpoints together: what a checkpoint waits for while a TaskManager is dead but not yet known
to be, and what the restored job then commits."""

from __future__ import annotations

import pytest

from sim import ClusterSpec, FaultPlan, LinkSpec, Simulation, TraceLevel
from sim.api import (
    DeliveryGuarantee, EmbeddedRocksDBStateBackend, KafkaSink, KafkaSource, PacedSource, RestartStrategies,
    StreamExecutionEnvironment, Topic,
)
from sim.trace import (
    CheckpointAborted, CheckpointCompleted, CheckpointTriggered, JobFailing, JobRestored, StateRestored,
    TaskDeployed, TaskManagerLost, TransactionAborted, TransactionCommitted,
)
from sim.testing import Case


def _kafka_job(output: Topic) -> StreamExecutionEnvironment:
    """Four readers of a one-partition topic (only one of them reads), one exactly-once sink subtask."""
    source_topic = Topic("input", 1)
    source_topic.produce_every(3, [(None, 0)] * 5)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1).enable_checkpointing(10)
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(100, 0))
    source = KafkaSource.builder().set_topics(source_topic).set_bounded().set_deserializer(lambda r: r.value).build()
    sink = (KafkaSink.builder().set_topic(output).set_key(lambda v: str(v[0]))
            .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE).set_transactional_id_prefix("job").build())
    env.from_source(source, source_name="source").set_parallelism(4) \
        .map(lambda x: (0, x)).name("pair").set_parallelism(4).sink_to(sink)
    return env


def test_a_checkpoint_waits_for_the_tasks_of_a_taskmanager_that_died_unnoticed():
    """Found by the exactly-once property (shrunk): tm-0, holding the sink, crashes at 0 ms for good; checkpoint 1
    was triggered at 10 ms, before the JobManager noticed at 20 ms. It used to count the dead tasks as finished,
    complete with the one running reader's acknowledgement, and so restore that reader past four records the
    sink never committed: they were lost."""
    cluster = ClusterSpec(task_managers=3, slots_per_task_manager=2, cores_per_task_manager=1,
                          link=LinkSpec(latency_us=0), rpc_latency_us=0, heartbeat_interval_ms=10,
                          heartbeat_timeout_ms=20)
    output = Topic("output", 1)
    result = Simulation(_kafka_job(output), cluster=cluster, seed=0, trace_level=TraceLevel.CHECKPOINTS,
                        faults=FaultPlan().crash_taskmanager("tm-0", at_ms=0)).run()
    assert result.status == "FINISHED", result.summary()
    (triggered,) = result.trace.of_type(CheckpointTriggered)
    assert (triggered.checkpoint_id, triggered.t_us, triggered.tasks) == (1, 10_000, 4)  # all but the finished reader
    assert not result.trace.of_type(CheckpointCompleted)
    (lost,) = result.trace.of_type(TaskManagerLost)
    (aborted,) = result.trace.of_type(CheckpointAborted)
    assert (lost.t_us, aborted.t_us, aborted.reason) == (20_000, 20_000, "TASK_FAILED")
    assert result.trace.of_type(JobRestored)[0].checkpoint_id is None  # nothing to restore: from the start
    assert output.committed_values() == [(0, 0)] * 5


def _running_sum_job(output: Topic, checkpoint_dir: str | None) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1).enable_checkpointing(10)
    env.set_state_backend(EmbeddedRocksDBStateBackend(enable_incremental_checkpointing=True))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(100, 0))
    if checkpoint_dir is not None:
        env.get_checkpoint_config().set_checkpoint_storage_dir(checkpoint_dir)
    sink = (KafkaSink.builder().set_topic(output).set_key(lambda v: str(v[0]))
            .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE).set_transactional_id_prefix("job").build())
    env.from_source(PacedSource.every(3, [0] * 13)).map(lambda x: (0, x)).key_by(lambda t: t[0]).sum(1) \
        .sink_to(sink)
    return env


@pytest.mark.parametrize("storage", ["memory", "files"])
def test_a_restore_from_an_incremental_chain_loads_every_base(storage, tmp_path):
    """Found by the exactly-once property (shrunk): RocksDB incremental checkpoints kept in JobManager memory;
    tm-0 crashes at 35 ms, after checkpoint 3, which builds on 1 and 2. The restore loaded base 2 without its
    own base 1 and failed the run with "checkpoint 2: its incremental state builds on checkpoints [1], but
    bases hold []". Files were loaded right; both must restore the same state."""
    output = Topic("output", 1)
    cluster = ClusterSpec(task_managers=1, slots_per_task_manager=1, cores_per_task_manager=1,
                          link=LinkSpec(latency_us=0), rpc_latency_us=0, heartbeat_interval_ms=10,
                          heartbeat_timeout_ms=20)
    env = _running_sum_job(output, str(tmp_path / "checkpoints") if storage == "files" else None)
    result = Simulation(env, cluster=cluster, seed=0, trace_level=TraceLevel.CHECKPOINTS,
                        faults=FaultPlan().crash_taskmanager("tm-0", at_ms=35, back_after_ms=0)).run()
    assert result.status == "FINISHED", result.summary()
    (restored,) = [e for e in result.trace.of_type(JobRestored)]
    (state,) = [e for e in result.trace.of_type(StateRestored) if e.task == "sum->sink[0]"]
    assert (restored.checkpoint_id, state.key_groups) == (3, 1)
    assert output.committed_values() == [(0, 0)] * 13


def test_losing_a_taskmanager_whose_tasks_finished_fails_over_while_their_output_is_still_needed():
    """Found by the exactly-once property (shrunk): the source and sink[0] on tm-0 finish at once, but the end of
    partition for sink[1] on tm-1 is held by a partition until 1 ms, when tm-0 crashes (and comes back at once).
    Every task on tm-0 had finished, so losing tm-0 used to fail nothing, and sink[1] waited for ever for the end
    that died with tm-0. Flink's consumer loses its connection and fails; here the JobManager fails over."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2).enable_checkpointing(10)
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(100, 0))
    output = Topic("output", 1)
    sink = (KafkaSink.builder().set_topic(output).set_key(lambda v: str(v[0]))
            .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE).set_transactional_id_prefix("job").build())
    env.from_source(PacedSource.every(1, [0])).map(lambda x: (0, x)).set_parallelism(1).sink_to(sink)
    cluster = ClusterSpec(task_managers=2, slots_per_task_manager=1, cores_per_task_manager=1,
                          link=LinkSpec(latency_us=0), rpc_latency_us=0, heartbeat_interval_ms=10,
                          heartbeat_timeout_ms=20)
    plan = FaultPlan().partition("tm-0", "tm-1", at_ms=0, until_ms=1).crash_taskmanager("tm-0", 1, back_after_ms=0)
    result = Simulation(env, cluster=cluster, seed=0, faults=plan).run(until_ms=10_000)
    assert result.status == "FINISHED", result.summary()
    assert [e.cause for e in result.trace.of_type(JobFailing)] == ["TaskManager tm-0 lost (no heartbeat for 1 ms)"]
    assert output.committed_values() == [(0, 0)]


def test_what_a_restore_commits_and_aborts_is_stamped_with_the_restore_time():
    """Seen in the shrunk unaligned case of the exactly-once property: restoring checkpoint 1 at 17 ms, the sinks
    commit its transactions again and abort the ones left open, before any step of the new attempt; those
    events were stamped t=0, the clock of a new task, instead of 17 ms."""
    case = Case.from_json(
        '{"cluster":{"cores_per_task_manager":1,"costs":{"operator_cpu_ns":{"pair":1200000}},'
        '"heartbeat_interval_ms":10,"heartbeat_timeout_ms":20,"link":{"latency_us":0},'
        '"network":{"segment_size_bytes":512},"rpc_latency_us":0,"slots_per_task_manager":2},'
        '"faults":[{"at_ms":17,"back_after_ms":0,"kind":"crash_taskmanager","taskmanager":"tm-0"}],'
        '"input":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"job":{"checkpointing":"unaligned","interval_ms":10,'
        '"keys":1,"pace_ms":1,"restart_delay_ms":0,"sink_partitions":1},"seed":0}')
    result = case.run(trace_level=TraceLevel.CHECKPOINTS).result
    events = result.trace.events
    (restored,) = result.trace.of_type(JobRestored)
    assert (restored.t_us, restored.checkpoint_id) == (17_000, 1)
    start, deployed = events.index(restored), next(e for e in events if isinstance(e, TaskDeployed) and e.t_us > 0)
    at_restore = [e for e in events[start:events.index(deployed)]
                  if isinstance(e, (TransactionCommitted, TransactionAborted))]
    assert [(type(e).__name__, e.task, e.t_us) for e in at_restore] == [
        ("TransactionCommitted", "sink[0]", 17_000), ("TransactionAborted", "sink[0]", 17_000),
        ("TransactionCommitted", "sink[1]", 17_000), ("TransactionAborted", "sink[1]", 17_000)]
