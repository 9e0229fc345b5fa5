"""Failover: a lost TaskManager that is alive registers again, a wait for slots that cannot end fails, and a failed
job names the failure it failed of."""

from sim import ClusterSpec, FaultPlan, Simulation
from sim.api import PacedSource, RestartStrategies, StreamExecutionEnvironment
from sim.runtime.operators import InjectedFault
from sim.trace import RestartRefused, TaskManagerJoined, TaskManagerLost, WaitingForResources

RECORDS = 300
CLUSTER = ClusterSpec(task_managers=2, slots_per_task_manager=1, heartbeat_interval_ms=20, heartbeat_timeout_ms=60)


def _env():
    """A job of parallelism 2: it needs both slots of `CLUSTER`."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.enable_checkpointing(50)
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(5, 20))
    env.from_source(PacedSource.every(2, list(range(RECORDS)))).map(lambda v: (v % 7, 1)) \
        .key_by(lambda t: t[0]).sum(1).add_sink(lambda v: None)
    return env


def _run(plan: FaultPlan):
    # until_ms only guards the test: every run here ends (FINISHED or FAILED) long before it.
    return Simulation(_env(), cluster=CLUSTER, seed=0, faults=plan).run(until_ms=60_000)


def test_a_taskmanager_written_off_for_lost_heartbeats_registers_again_when_heard():
    """Regression: tm-1 lost its heartbeats for 100 ms and was declared lost; it was never heard again, so the
    restart waited for its slot for ever. Now it registers again at the first heartbeat round that reaches it."""
    result = _run(FaultPlan().lose_rpc(at_ms=100, until_ms=200, rpc="heartbeat", taskmanager="tm-1"))
    assert result.status == "FINISHED" and result.restarts == 1
    assert [(e.t_us, e.taskmanager) for e in result.trace.of_type(TaskManagerLost)] == [(140_000, "tm-1")]
    assert [(e.t_us, e.taskmanager) for e in result.trace.of_type(TaskManagerJoined)] == [(200_000, "tm-1")]
    assert len(result.values()) >= RECORDS


def test_a_restart_that_can_never_get_its_slots_fails_the_job():
    """Regression: with tm-1 crashed for good the job lacks a slot; the restart waited for resources for ever and
    `run()` never returned (the heartbeat rounds went on in virtual time). Now the job fails, saying why."""
    result = _run(FaultPlan().crash_taskmanager("tm-1", at_ms=100))
    assert result.status == "FAILED" and result.end_time_us < 1_000_000
    [refused] = result.trace.of_type(RestartRefused)
    assert refused.reason == ("the job needs 2 slots, 1 are alive, and tm-1 crashed for good: waiting for "
                              "resources would never end")
    assert "no restart: the job needs 2 slots" in result.summary()


def test_a_restart_waits_for_a_crashed_taskmanager_that_a_later_fault_restarts():
    """A TaskManager crashed for good can still come back if a later crash of it has a restart: the job waits."""
    plan = FaultPlan().crash_taskmanager("tm-1", at_ms=100).crash_taskmanager("tm-1", at_ms=400, back_after_ms=50)
    result = _run(plan)
    assert result.status == "FINISHED" and not result.trace.of_type(RestartRefused)
    assert result.trace.of_type(WaitingForResources)
    assert [e.t_us for e in result.trace.of_type(TaskManagerJoined)] == [450_000]


def test_a_job_that_runs_out_of_restarts_names_the_last_failure():
    """Regression: after two restarts the third failure failed the job, yet `result.failure` (and the summary's
    `failure:` line) named the first, with `(record None)` for a failure outside any record."""
    plan = FaultPlan().fail_task("map[0]", at_ms=100).fail_task("map[1]", at_ms=200).fail_task("map[0]", at_ms=300)
    env = _env()
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(2, 20))
    result = Simulation(env, cluster=CLUSTER, seed=0, faults=plan).run()
    assert result.status == "FAILED" and len(result.failures) == 3
    assert result.failure is result.failures[-1] and result.failure.error == (
        f"{InjectedFault.__name__}: injected failure of map[0] at 300 ms")
    assert "\nfailure: map[0]: InjectedFault: injected failure of map[0] at 300 ms\n" in result.summary()
