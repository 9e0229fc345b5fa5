"""Failover on the simulated cluster: detection, the restart strategy, restore, resources, and each fault kind."""

from collections import Counter

import pytest

from sim import ClusterSpec, FaultPlan, Simulation, StorageSpec, TraceLevel
from sim.api import PacedSource, RestartStrategies, StreamExecutionEnvironment
from sim.trace import (
    CheckpointAborted, FaultInjected, JobFailing, JobRestored, RestartRefused, RestartScheduled, RpcLost,
    SubtaskAcknowledged, TaskCanceled, TaskFailed, TaskManagerJoined, TaskManagerLost, WaitingForResources,
)

RECORDS = 400


def _env(checkpoint_ms=None, restart=None):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    if checkpoint_ms:
        env.enable_checkpointing(checkpoint_ms)
    if restart is not None:
        env.set_restart_strategy(restart)
    (env.from_source(PacedSource.every(1, list(range(RECORDS)))).map(lambda v: (v % 5, 1))
        .key_by(lambda t: t[0]).sum(1).add_sink(lambda v: None))
    return env


CLUSTER = ClusterSpec(task_managers=2, slots_per_task_manager=1, heartbeat_interval_ms=20, heartbeat_timeout_ms=60)


def _run(env, plan, until_ms=None, **kwargs):
    return Simulation(env, cluster=kwargs.pop("cluster", CLUSTER), seed=2, faults=plan,
                      trace_level=TraceLevel.CHECKPOINTS, **kwargs).run(until_ms=until_ms)


def _finals(result):
    return {key: count for _, _, (key, count) in result.outputs["sink"]}


def test_a_failed_task_is_reported_at_once_and_without_a_strategy_the_job_fails():
    result = _run(_env(), FaultPlan().fail_task("map[1]", 100))
    assert result.status == "FAILED" and result.attempts == 1
    failed = result.trace.of_type(TaskFailed)[0]
    assert (failed.task, failed.t_us) == ("map[1]", 100_000) and "injected failure" in failed.error
    failing = result.trace.of_type(JobFailing)[0]
    assert failing.t_us == 100_000 + CLUSTER.rpc_latency_us  # the report is one RPC away
    assert result.trace.of_type(RestartRefused)[0].strategy == "none"
    canceled = {e.task for e in result.trace.of_type(TaskCanceled)}
    assert "map[1]" not in canceled and "map[0]" in canceled


def test_without_checkpoints_a_restart_starts_the_sources_over_so_the_output_repeats():
    result = _run(_env(restart=RestartStrategies.fixed_delay_restart(1, 50)), FaultPlan().fail_task("map[1]", 250))
    assert result.status == "FINISHED" and result.attempts == 2
    assert [(e.kind, e.checkpoint_id) for e in result.trace.of_type(JobRestored)] == [("none", None)]
    scheduled = result.trace.of_type(RestartScheduled)[0]
    assert (scheduled.strategy, scheduled.delay_us) == ("fixed-delay (1 attempts, 50 ms)", 50_000)
    counts = Counter(value for _, _, value in result.outputs["sink"])
    assert _finals(result) == {k: RECORDS // 5 for k in range(5)}
    assert max(counts.values()) == 2  # the counts before the failure were emitted again


def test_with_checkpoints_the_default_strategy_restarts_after_about_a_second_from_the_last_checkpoint():
    result = _run(_env(checkpoint_ms=30), FaultPlan().raise_at_record("map", 0, 120))
    assert result.status == "FINISHED" and result.attempts == 2
    injected = result.trace.of_type(FaultInjected)[0]
    assert (injected.fault, injected.target) == ("raise_at_record", "map[0]")
    assert "InjectedFault" in result.trace.of_type(TaskFailed)[0].error
    delay = result.trace.of_type(RestartScheduled)[0].delay_us
    assert 900_000 <= delay <= 1_100_000  # exponential delay: 1 s, jitter 0.1
    restored = result.trace.of_type(JobRestored)[0]
    assert restored.kind == "checkpoint" and restored.checkpoint_id >= 1
    assert _finals(result) == {k: RECORDS // 5 for k in range(5)}


def test_a_crashed_taskmanager_is_noticed_only_after_the_heartbeat_timeout():
    plan = FaultPlan().crash_taskmanager("tm-1", at_ms=101)
    result = _run(_env(checkpoint_ms=30, restart=RestartStrategies.fixed_delay_restart(3, 10)), plan, until_ms=2_000)
    lost = result.trace.of_type(TaskManagerLost)[0]
    assert lost.taskmanager == "tm-1" and lost.t_us == 160_000 and lost.silent_us >= 60_000
    # One TaskManager left, one slot, a job that needs two, and tm-1 never returns: waiting would never end.
    assert result.status == "FAILED" and not result.trace.of_type(WaitingForResources)
    assert "crashed for good" in result.trace.of_type(RestartRefused)[0].reason


def test_a_taskmanager_that_comes_back_gives_its_slots_to_the_waiting_restart():
    plan = FaultPlan().crash_taskmanager("tm-1", at_ms=101, back_after_ms=300)
    result = _run(_env(checkpoint_ms=30, restart=RestartStrategies.fixed_delay_restart(3, 10)), plan)
    assert result.status == "FINISHED"
    joined = result.trace.of_type(TaskManagerJoined)[0]
    assert (joined.taskmanager, joined.t_us) == ("tm-1", 401_000)
    assert result.trace.of_type(JobRestored)[0].t_us == joined.t_us
    assert _finals(result) == {k: RECORDS // 5 for k in range(5)}


def test_a_partition_from_the_jobmanager_loses_a_live_taskmanager_until_it_heals():
    plan = FaultPlan().partition("tm-1", "jobmanager", at_ms=50, until_ms=250)
    result = _run(_env(checkpoint_ms=30, restart=RestartStrategies.fixed_delay_restart(3, 10)), plan)
    assert result.status == "FINISHED"
    assert [e.taskmanager for e in result.trace.of_type(TaskManagerLost)] == ["tm-1"]
    assert result.trace.of_type(TaskManagerJoined)[0].t_us == 250_000
    assert result.trace.of_type(RpcLost)  # checkpoint RPCs of tm-1 were lost meanwhile
    assert _finals(result) == {k: RECORDS // 5 for k in range(5)}


def test_lost_acknowledgements_let_a_checkpoint_expire():
    env = _env(checkpoint_ms=30, restart=RestartStrategies.no_restart())
    env.get_checkpoint_config().set_checkpoint_timeout(40)
    env.get_checkpoint_config().set_tolerable_checkpoint_failure_number(100)
    result = _run(env, FaultPlan().lose_rpc(55, 75, "acknowledge", "tm-1"))
    assert result.status == "FINISHED"
    lost = result.trace.of_type(RpcLost)
    assert lost and all(e.rpc.startswith("acknowledge checkpoint") and e.target == "tm-1" for e in lost)
    aborted = {e.checkpoint_id: e.reason for e in result.trace.of_type(CheckpointAborted)}
    assert "EXPIRED" in aborted.values()


def test_a_slow_checkpoint_store_stretches_the_asynchronous_part():
    cluster = ClusterSpec(task_managers=2, slots_per_task_manager=1, checkpoint_storage=StorageSpec(latency_us=1_000))
    plain = _run(_env(checkpoint_ms=30), FaultPlan(), cluster=cluster)
    slow = _run(_env(checkpoint_ms=30), FaultPlan().slow_checkpoint_store(50, 100, factor=20), cluster=cluster)

    def async_us(result, cid):
        return max(e.async_us for e in result.trace.of_type(SubtaskAcknowledged) if e.checkpoint_id == cid)

    assert async_us(slow, 2) >= 10 * async_us(plain, 2)  # triggered at 60 ms, inside the slow interval
    assert async_us(slow, 4) == pytest.approx(async_us(plain, 4), rel=0.1)  # triggered at 120 ms, after it


def test_the_attempt_guard_stops_a_failure_that_recurs_in_every_attempt():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.enable_checkpointing(10)
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(1_000, 1))
    env.from_collection([1, 2, 0]).map(lambda v: 1 // v).add_sink(lambda v: None)
    result = Simulation(env, max_attempts=4).run()
    assert result.status == "FAILED" and result.attempts == 4
    assert "at most 4 execution attempts" in result.trace.of_type(RestartRefused)[0].reason


def test_a_restart_that_gets_no_slots_within_the_slot_request_timeout_fails_in_turn():
    cluster = ClusterSpec(task_managers=2, slots_per_task_manager=1, heartbeat_interval_ms=20,
                          heartbeat_timeout_ms=60, slot_request_timeout_ms=500)
    plan = FaultPlan().crash_taskmanager("tm-1", at_ms=101, back_after_ms=5_000)
    result = _run(_env(checkpoint_ms=30, restart=RestartStrategies.fixed_delay_restart(2, 10)), plan, cluster=cluster)
    assert result.status == "FAILED"
    waiting = result.trace.of_type(WaitingForResources)
    assert [(w.slots_needed, w.slots_available) for w in waiting] == [(2, 1), (2, 1)]
    causes = [e.cause for e in result.trace.of_type(JobFailing)]
    assert causes[0].startswith("TaskManager tm-1 lost")
    assert causes[1:] == ["could not get 2 slots within 500 ms (slot request timeout)"] * 2
    assert "all 2 restart attempts are used" in result.trace.of_type(RestartRefused)[0].reason
