"""The Hypothesis strategies draw cases that can run (the slots are there, every fault names something real) and
shrink to small ones: few faults, early, on a small job and input."""

from __future__ import annotations

from hypothesis import find, given, settings
from hypothesis import strategies as st

from sim import ClusterSpec, FaultPlan
from sim.cluster.faults import CrashTaskManager, FailTask, LoseRpc, Partition, RaiseAtRecord, SlowLink
from sim.testing import FAULT_KINDS, Case, JobSpec, Step, cases, clusters, fault_plans, inputs, jobs
from tests.unit.testing.operators import ForgetfulCount, LastValue

QUICK = settings(max_examples=40, database=None, derandomize=True)


@QUICK
@given(cases(max_faults=4))
def test_a_drawn_case_names_only_what_it_has_and_keeps_enough_slots(case: Case):
    """Property: every fault names a machine, subtask or operator of the case, and crashes that never come back
    leave at least the slots the job needs."""
    job, cluster = case.job, case.cluster
    assert job.max_parallelism_used <= cluster.total_slots
    machines, subtasks, operators = set(cluster.taskmanager_names), set(job.subtasks()), job.operators()
    forever = set()
    for fault in case.faults:
        if isinstance(fault, CrashTaskManager):
            assert fault.taskmanager in machines
            if fault.back_after_ms is None:
                forever.add(fault.taskmanager)
        elif isinstance(fault, FailTask):
            assert fault.task in subtasks
        elif isinstance(fault, RaiseAtRecord):
            assert 0 <= fault.subtask < operators[fault.operator]
        elif isinstance(fault, (Partition, SlowLink)):
            assert {fault.a, fault.b} <= machines | {"jobmanager"} and fault.a != fault.b
        elif isinstance(fault, LoseRpc):
            assert fault.taskmanager in machines | {None}
    assert (cluster.task_managers - len(forever)) * cluster.slots_per_task_manager >= job.max_parallelism_used
    assert Case.from_json(case.to_json()) == case


def test_cases_shrink_to_one_early_fault_on_the_smallest_job():
    case = find(cases(min_faults=1), lambda c: True, settings=QUICK)
    assert case.job == JobSpec(parallelism=1, keys=1, pace_ms=1, sink_partitions=1, interval_ms=10,
                               restart_delay_ms=0)
    assert case.input == (0,) and case.seed == 0
    assert case.cluster.task_managers == 1 and case.cluster.heartbeat_interval_ms == 10
    assert [(f.kind, f.at_ms) for f in case.faults] == [("crash_taskmanager", 0)]


def test_a_failing_condition_shrinks_to_the_faults_it_needs():
    """Needing two TaskManager crashes and a partition, the minimal plan holds just those, as early as can be."""
    job, cluster = JobSpec(parallelism=2), ClusterSpec(task_managers=2, slots_per_task_manager=2)
    plan = find(fault_plans(job, cluster, 1_000, max_faults=6),
                lambda p: sum(isinstance(f, CrashTaskManager) for f in p) >= 2 and any(
                    isinstance(f, Partition) for f in p), settings=settings(QUICK, max_examples=500))
    assert sorted(f.kind for f in plan) == ["crash_taskmanager", "crash_taskmanager", "partition"]
    assert all(f.at_ms == 0 for f in plan)


@QUICK
@given(jobs(checkpointing=("none", "at_least_once"), sinks=("at_least_once",), max_parallelism=2))
def test_jobs_keep_to_what_they_are_asked_for(job: JobSpec):
    assert job.checkpointing in ("none", "at_least_once") and job.sink == "at_least_once"
    assert job.max_parallelism_used <= 2


@QUICK
@given(st.data())
def test_a_users_operator_is_in_every_job_once_where_its_order_holds(data):
    needs_order = data.draw(st.booleans())
    operator = Step.process(LastValue if needs_order else ForgetfulCount, needs_key_order=needs_order)
    job = data.draw(jobs(operator=operator, max_steps=5))
    assert [s for s in job.steps if s.kind == "process"] == [operator]  # JobSpec checked that its order holds
    cluster = data.draw(clusters(job))
    assert job.max_parallelism_used <= cluster.total_slots


@QUICK
@given(inputs(max_size=5, max_value=3))
def test_inputs_are_small_ints(values):
    assert 1 <= len(values) <= 5 and all(0 <= v <= 3 for v in values)


def test_every_fault_kind_is_drawn():
    assert set(FAULT_KINDS) == {"crash_taskmanager", "fail_task", "raise_at_record", "partition", "slow_link",
                                "slow_checkpoint_store", "lose_rpc"}
    job, cluster = JobSpec(steps=(Step("count"),)), ClusterSpec(task_managers=2, slots_per_task_manager=2)
    for kind in FAULT_KINDS:
        plan = find(fault_plans(job, cluster, 100, kinds=(kind,), min_faults=1), lambda p: True, settings=QUICK)
        assert [f.kind for f in plan] == [kind]
    assert find(fault_plans(job, ClusterSpec(), 100, kinds=("slow_link",)), lambda p: True) == FaultPlan()
