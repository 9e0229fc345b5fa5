"""A `Case`: it runs, checks itself against its run without faults, prints itself, and replays from JSON (also in
another process, with the same trace digest)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from sim import ClusterSpec, CostModel, FaultPlan, LinkSpec, NetworkConfig
from sim.testing import Case, JobSpec, Step
from sim.testing.case import TIME_LIMIT_MS
from sim.trace import TraceLevel
from tests.conftest import ROOT
from tests.unit.testing.operators import ForgetfulCount

CLUSTER = ClusterSpec(task_managers=2, slots_per_task_manager=1, heartbeat_interval_ms=20, heartbeat_timeout_ms=60)
JOB = JobSpec(parallelism=2, keys=5, interval_ms=30, steps=(Step("sum"), Step("add", 3), Step("count")))
CRASH = FaultPlan().crash_taskmanager("tm-1", at_ms=150, back_after_ms=50)
CASE = Case(JOB, tuple(range(120)), CLUSTER, CRASH, seed=11)


def test_a_case_round_trips_through_json_and_its_repr_makes_it_again():
    case = Case(JobSpec(source="kafka", source_parallelism=2, source_partitions=3, sink="at_least_once",
                        checkpointing="at_least_once", backend="rocksdb_incremental", restart="exponential_delay",
                        checkpoint_storage="files", buffer_timeout_ms=0, steps=(Step("explode", 2, parallelism=1),)),
                (5, 0, 9), ClusterSpec(task_managers=3, link=LinkSpec(latency_us=7),
                                       network=NetworkConfig(segment_size_bytes=512),
                                       costs=CostModel(operator_cpu_ns={"explode1": 50_000})),
                FaultPlan().lose_rpc(10, 20, "trigger", "tm-2").raise_at_record("sink", 1, 3, attempt=1), seed=5)
    assert Case.from_json(case.to_json()) == case
    assert eval(repr(case), {"Case": Case}) == case
    assert Case.from_json('{"job": {}, "input": [1]}') == Case(JobSpec(), (1,))


def test_a_case_refuses_what_cannot_run():
    with pytest.raises(ValueError, match=r"a case has job, input, cluster, faults and seed; got also \['inputs'\]"):
        Case.from_json('{"job": {}, "inputs": [1]}')
    with pytest.raises(ValueError, match=r"the job needs 4 slots, the cluster has 2"):
        Case(JobSpec(parallelism=4), (1,), CLUSTER)
    with pytest.raises(ValueError, match=r"a case's input holds ints"):
        Case(JobSpec(), ("a",))


def test_a_crash_is_recovered_exactly_once_and_the_sink_wrote_more_than_it_committed():
    run, reference = CASE.run(), CASE.reference()
    assert run.result.status == "FINISHED" and run.result.restarts == 1
    report = CASE.check(run, reference)
    assert report, report.explain()
    assert report.explain().splitlines()[-1] == ("exactly-once: held (120 values in the output, 120 in the reference, "
                                                 "order compared per key)")
    assert len(run.written) > len(run.output) == len(CASE.expected())  # aborted transactions were written too


def test_a_user_operator_that_keeps_state_in_an_attribute_loses_it_on_a_restore():
    job = JobSpec(parallelism=2, keys=5, interval_ms=30, steps=(Step.process(ForgetfulCount, needs_key_order=False),))
    case = Case(job, tuple(range(120)), CLUSTER, CRASH, seed=11)
    run, reference = case.run(), case.reference()
    assert run.result.status == "FINISHED"
    result = case.check_output(run, reference)
    assert not result and {v.kind.name for v in result.violations} >= {"DUPLICATE_VALUE", "MISSING_VALUE"}


def test_at_least_once_cases_are_checked_for_loss_only():
    case = Case(JobSpec(parallelism=2, sink="at_least_once", steps=(Step("add", 1),)), tuple(range(120)), CLUSTER,
                CRASH, seed=11)
    run, reference = case.run(), case.reference()
    assert not case.exactly_once and len(run.output) > len(reference.output)  # the replay wrote some again
    assert case.check_output(run, reference).explain().startswith("no loss: held")


def test_a_job_that_cannot_get_its_slots_back_fails_and_one_that_waits_stops_at_the_time_limit():
    cluster = ClusterSpec(task_managers=1, slots_per_task_manager=2, heartbeat_interval_ms=200,
                          heartbeat_timeout_ms=400)
    gone = Case(JobSpec(), (1, 2, 3), cluster, FaultPlan().crash_taskmanager("tm-0", at_ms=1)).run(
        trace_level=TraceLevel.JOB)
    assert gone.result.status == "FAILED"  # tm-0 crashed for good: waiting for its slots would never end
    late = Case(JobSpec(), (1, 2, 3), cluster, FaultPlan().crash_taskmanager("tm-0", at_ms=1, back_after_ms=10**6))
    run = late.run(trace_level=TraceLevel.JOB)
    assert run.result.status == "RUNNING"
    assert run.result.end_time_us == (3 * 2 + TIME_LIMIT_MS) * 1000 == late.time_limit_ms * 1000


def test_describe_prints_the_case_and_its_replay_command():
    text = CASE.describe()
    assert text.splitlines()[:4] == [
        "case (seed 11):",
        "job: parallelism 2; aligned checkpoints every 30 ms, hashmap backend; fixed-delay restart every 100 ms; "
        "buffer timeout 100 ms",
        "  source: PacedSource, one element every 2 ms",
        "  pair: x -> (x % 5, x)"]
    assert "faults: crash tm-1 at 150 ms (back after 50 ms)" in text
    assert text.splitlines()[-1] == f"replay: {CASE.replay_command()}"
    assert CASE.replay_command() == f"python -m sim case '{CASE.to_json()}'"


def test_the_replay_command_reproduces_the_trace_in_another_process():
    """Run as printed (with this interpreter), under another PYTHONHASHSEED: the same trace digest."""
    command = CASE.replay_command().replace("python", sys.executable, 1)
    env = {**os.environ, "PYTHONHASHSEED": "4242", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (digest,) = re.findall(r"^trace digest: ([0-9a-f]{64})$", done.stdout, flags=re.M)
    assert digest == CASE.run().digest
    assert "exactly-once: held" in done.stdout
