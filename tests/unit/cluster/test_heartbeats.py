"""Heartbeats: a TaskManager whose heartbeats go missing is written off; one that was alive all along registers
again once they get through, and the job it holds up restarts and finishes."""

from __future__ import annotations

import pytest

from sim import ClusterSpec, FaultPlan, Simulation, TraceLevel
from sim.api import DeliveryGuarantee, KafkaSink, PacedSource, RestartStrategies, StreamExecutionEnvironment, Topic
from sim.trace import JobRestored, TaskManagerJoined, TaskManagerLost, WaitingForResources

CLUSTER = ClusterSpec(task_managers=2, slots_per_task_manager=1, heartbeat_interval_ms=20, heartbeat_timeout_ms=60)


def _job(topic: Topic) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2).enable_checkpointing(50)
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(10, 100))
    sink = (KafkaSink.builder().set_topic(topic).set_key(lambda v: str(v[0]))
            .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE).set_transactional_id_prefix("job").build())
    env.from_source(PacedSource.every(2, list(range(300)))).map(lambda v: (v % 7, 1)) \
        .key_by(lambda t: t[0]).sum(1).sink_to(sink)
    return env


def _run(plan: FaultPlan):
    topic = Topic("out", 2)
    result = Simulation(_job(topic), cluster=CLUSTER, seed=1, faults=plan,
                        trace_level=TraceLevel.CHECKPOINTS).run(until_ms=60_000)
    return result, topic


@pytest.mark.parametrize("plan", [
    # Found by the exactly-once property (seed 28 of FaultPlan.random): heartbeats lost for 55 ms.
    FaultPlan().lose_rpc(at_ms=413, until_ms=468, rpc="heartbeat"),
    # The shrunk example of tests/property: a crash that comes back at once, then every RPC lost for 21 ms.
    FaultPlan().crash_taskmanager("tm-0", at_ms=0, back_after_ms=0).lose_rpc(at_ms=0, until_ms=21, rpc="any"),
    FaultPlan().lose_rpc(at_ms=100, until_ms=400, rpc="heartbeat", taskmanager="tm-1"),
], ids=["heartbeats-of-all", "crash-then-all-rpcs", "heartbeats-of-tm-1"])
def test_a_taskmanager_written_off_while_alive_registers_again(plan):
    result, topic = _run(plan)
    events = result.trace.of_type(TaskManagerLost, TaskManagerJoined)
    assert any(isinstance(e, TaskManagerLost) for e in events), "the plan must make the JobManager write one off"
    assert result.status == "FINISHED", result.summary()
    for i, event in enumerate(events):
        if isinstance(event, TaskManagerLost):  # every TaskManager written off registered again later
            assert any(isinstance(j, TaskManagerJoined) and j.taskmanager == event.taskmanager for j in events[i:])
    assert result.trace.of_type(JobRestored)
    expected = Topic("out", 2)
    Simulation(_job(expected), cluster=CLUSTER, seed=1).run()
    assert sorted(topic.committed_values()) == sorted(expected.committed_values())


def test_it_does_not_register_while_its_heartbeats_are_still_lost():
    result, _ = _run(FaultPlan().lose_rpc(at_ms=100, until_ms=400, rpc="heartbeat", taskmanager="tm-1"))
    (lost,) = [e for e in result.trace.of_type(TaskManagerLost) if e.taskmanager == "tm-1"]
    (joined,) = [e for e in result.trace.of_type(TaskManagerJoined) if e.taskmanager == "tm-1"]
    # Rounds every 20 ms: last heard at 80 ms, written off 60 ms later; heard again at the round at 400 ms.
    assert (lost.t_us, lost.silent_us, joined.t_us) == (140_000, 60_000, 400_000)
    waiting = result.trace.of_type(WaitingForResources)
    assert waiting and all(lost.t_us <= w.t_us <= joined.t_us for w in waiting)
