"""Fault plans as data: builders, JSON round trip, validation against the run, seeded drawing."""

import re

import pytest

from sim import ClusterSpec, FaultPlan, FaultPlanError, Simulation
from sim.api import StreamExecutionEnvironment
from sim.cluster.faults import CrashTaskManager, FailTask, RaiseAtRecord


def _env():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.from_collection(list(range(10))).map(lambda v: v).key_by(lambda v: v % 2).sum(0).add_sink(lambda v: None)
    return env


def test_a_plan_round_trips_through_json_and_describes_itself():
    plan = (FaultPlan().crash_taskmanager("tm-1", at_ms=120, back_after_ms=50).fail_task("map[0]", 30)
            .raise_at_record("map", 1, 7).partition("tm-0", "jobmanager", 10, 90).slow_link("tm-0", "tm-1", 5, 9, 3)
            .slow_checkpoint_store(1, 2, 4).lose_rpc(3, 4, "acknowledge", "tm-1"))
    assert FaultPlan.from_json(plan.to_json()) == plan
    assert plan.faults[0] == CrashTaskManager(120, "tm-1", 50)
    assert plan.describe().startswith("crash tm-1 at 120 ms (back after 50 ms); fail map[0] at 30 ms")


@pytest.mark.parametrize("text, message", [
    ("not json", "is not JSON"),
    ('{"kind": "fail_task"}', "JSON list of faults"),
    ('[{"kind": "melt"}]', "unknown fault kind 'melt'"),
    ('[{"kind": "fail_task", "at_ms": 1}]', "fault fail_task"),
    ('[{"kind": "partition", "at_ms": 5, "until_ms": 5, "a": "tm-0", "b": "tm-1"}]', "at_ms < until_ms"),
])
def test_malformed_plans_are_refused_with_what_was_expected(text, message):
    with pytest.raises(FaultPlanError, match=message):
        FaultPlan.from_json(text)


@pytest.mark.parametrize("plan, message", [
    (FaultPlan().crash_taskmanager("tm-7", 5), "no machine 'tm-7'"),
    (FaultPlan().fail_task("map[5]", 5), "no subtask 'map[5]'"),
    (FaultPlan().raise_at_record("nope", 0, 3), "no operator subtask nope[0]"),
    (FaultPlan().partition("tm-0", "tm-9", 1, 2), "no machine 'tm-9'"),
])
def test_a_plan_naming_what_the_run_lacks_is_refused_before_it_runs(plan, message):
    cluster = ClusterSpec(task_managers=2, slots_per_task_manager=1)
    with pytest.raises(FaultPlanError, match=re.escape(message)):
        Simulation(_env(), cluster=cluster, faults=plan)
    simulation = Simulation(_env(), cluster=cluster)
    simulation.faults = plan  # as `run --faults` does: checked again when the run starts
    with pytest.raises(FaultPlanError, match=re.escape(message)):
        simulation.run()


def test_a_random_plan_is_the_same_for_the_same_seed_and_stays_within_its_bounds():
    kwargs = dict(taskmanagers=["tm-0", "tm-1"], tasks=["map[0]", "map[1]"], horizon_ms=500, max_faults=3,
                  kinds=("crash_taskmanager", "fail_task", "raise_at_record", "partition", "lose_rpc"),
                  operators=[("map", 2)])
    plans = [FaultPlan.random(seed, **kwargs) for seed in range(40)]
    assert plans == [FaultPlan.random(seed, **kwargs) for seed in range(40)]
    assert len(set(plans)) > 30
    for plan in plans:
        assert 1 <= len(plan) <= 3
        for fault in plan:
            assert isinstance(fault, RaiseAtRecord) or 1 <= fault.at_ms < 500
            if isinstance(fault, FailTask):
                assert fault.task in kwargs["tasks"]
