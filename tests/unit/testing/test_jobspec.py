"""Jobs as data (`JobSpec`, `Step`): the model predicts the run, the order rules hold where Flink's do, names and
JSON are stable, and bad steps are refused with a reason."""

from __future__ import annotations

from collections import Counter

import pytest

from sim import ClusterSpec
from sim.testing import STEP_KINDS, Case, JobSpec, Step
from tests.unit.testing.operators import ForgetfulCount, LastValue

CLUSTER = ClusterSpec(task_managers=2, slots_per_task_manager=2)
INPUT = tuple((i * 37) % 101 for i in range(60))

JOBS = {
    "every kind at parallelism 1": JobSpec(parallelism=1, steps=tuple(
        Step(k, STEP_KINDS[k].args[1]) for k in ("add", "rekey", "filter", "explode", "rebalance", "sum", "max",
                                                 "count", "distinct"))),
    "keyed steps behind a single sender": JobSpec(parallelism=3, steps=(
        Step("sum"), Step("add", 2), Step("max", parallelism=2), Step("explode", 2), Step("count"))),
    "round robin, then order-free steps": JobSpec(parallelism=4, steps=(
        Step("add", 5), Step("distinct"), Step("rebalance"), Step("filter", 3), Step("count", parallelism=2),
        Step("sum"))),
    "kafka over several partitions": JobSpec(source="kafka", source_parallelism=2, source_partitions=3,
                                             parallelism=2, steps=(Step("rekey", 5), Step("count"))),
    "kafka over one partition keeps order": JobSpec(source="kafka", source_parallelism=3, source_partitions=1,
                                                    parallelism=2, steps=(Step("sum"), Step("max"))),
}


@pytest.mark.parametrize("job", JOBS.values(), ids=JOBS.keys())
def test_the_model_predicts_the_run_without_faults(job):
    """The plain-Python model writes what the job writes: the same multiset, and per key the same sequence
    wherever the job fixes that order."""
    case = Case(job, INPUT, CLUSTER, seed=3)
    run = case.run()
    assert run.result.status == "FINISHED", run.result.summary()
    expected = case.expected()
    assert Counter(map(repr, run.output)) == Counter(map(repr, expected))
    if job.order_key() is not None:
        per_key = lambda values: {k: [v for v in values if v[0] == k] for k in {v[0] for v in values}}  # noqa: E731
        assert per_key(run.output) == per_key(expected)


@pytest.mark.parametrize("job, ordered", [
    (JobSpec(parallelism=1, steps=(Step("add", 1), Step("sum"))), True),
    (JobSpec(parallelism=2, steps=(Step("sum"),)), True),  # one sender, then keyed
    (JobSpec(parallelism=2, steps=(Step("add", 1),)), False),  # round robin from the source to two maps
    (JobSpec(parallelism=2, steps=(Step("add", 1), Step("count"))), True),  # count's outputs come out 1, 2, 3
    (JobSpec(parallelism=2, steps=(Step("add", 1), Step("distinct"))), False),
    (JobSpec(parallelism=2, steps=(Step("sum"), Step("rebalance"))), False),
    (JobSpec(parallelism=2, steps=(Step("sum"), Step("rekey", 3))), False),  # a new key gathers from every subtask
    (JobSpec(parallelism=2, steps=(Step("add", 1), Step("count", parallelism=1), Step("rekey", 1))),
     False),  # count fixes each old key's order, but a new key interleaves old keys as they arrive
    (JobSpec(parallelism=1, steps=(Step("add", 1, parallelism=2), Step("count"), Step("rekey", 1))), False),
    (JobSpec(parallelism=1, steps=(Step("count"), Step("rekey", 2), Step("sum"))), True),  # all sequential
    (JobSpec(parallelism=1, steps=(Step("rebalance"), Step("rekey", 3))), True),
    (JobSpec(parallelism=2, steps=(Step("count"), Step("rebalance"), Step("max"))), True),  # key_by replaces it
    (JobSpec(source="kafka", source_parallelism=2, source_partitions=2, parallelism=2), False),
])
def test_order_at_the_sink_follows_flinks_per_channel_order(job, ordered):
    assert job.order_at_sink() is ordered
    assert (job.order_key() is not None) is ordered


@pytest.mark.parametrize("steps, message", [
    ((Step("add", 1), Step("sum")), r"step sum2 \(key_by\(k\).sum\(1\): running sum per key\) needs each key's "
                                    r"records in a fixed order, but here they come from several senders"),
    ((Step("count"), Step("rebalance"), Step("add", 1), Step("max")), r"step max4"),
    ((Step("sum"), Step("rekey", 3, parallelism=1), Step("sum", parallelism=1)), r"step sum3"),
    ((Step("add", 1), Step.process(LastValue)), r"step process2 \(key_by\(k\).process\(tests.unit.testing"
                                                r".operators:LastValue\)\) needs"),
])
def test_a_step_that_would_depend_on_timing_is_refused(steps, message):
    with pytest.raises(ValueError, match=message):
        JobSpec(parallelism=2, steps=steps)


def test_a_user_step_that_needs_no_order_may_follow_any_exchange():
    job = JobSpec(parallelism=2, steps=(Step("add", 1), Step.process(ForgetfulCount, needs_key_order=False)))
    assert job.steps[1].function == "tests.unit.testing.operators:ForgetfulCount"
    assert job.model(INPUT) is None  # no model for a user's function: compare with the run without faults


@pytest.mark.parametrize("step, message", [
    (dict(kind="map"), r"step kind 'map' is unknown; expected one of \['add', 'count', 'distinct', 'explode', "
                       r"'filter', 'max', 'rebalance', 'rekey', 'sum'\] or 'process'"),
    (dict(kind="filter", arg=1), r"step filter: arg must be an int in 2..5, got 1"),
    (dict(kind="rebalance", parallelism=2), r"step rebalance: it is an exchange, not an operator"),
    (dict(kind="count", parallelism=0), r"step count: parallelism must be a positive int or None, got 0"),
    (dict(kind="process", function="LastValue"), r"names its KeyedProcessFunction as 'module:Class', got 'LastValue'"),
    (dict(kind="process", function="tests.unit.testing.operators:Missing"), r"cannot import it"),
    (dict(kind="process", function="tests.unit.testing.operators:NotAFunction"),
     r"expected a KeyedProcessFunction subclass"),
])
def test_bad_steps_are_refused_with_a_reason(step, message):
    with pytest.raises(ValueError, match=message):
        Step(**step)


def test_bad_job_settings_are_refused():
    with pytest.raises(ValueError, match=r"JobSpec.checkpointing must be one of \['aligned', 'unaligned', "
                                         r"'at_least_once', 'none'\], got 'exactly_once'"):
        JobSpec(checkpointing="exactly_once")
    with pytest.raises(ValueError, match=r"a paced source has one reader"):
        JobSpec(source_parallelism=2)
    with pytest.raises(ValueError, match=r"JobSpec.keys must be an int >= 1, got 0"):
        JobSpec(keys=0)


def test_names_json_and_text():
    job = JobSpec(parallelism=2, checkpointing="unaligned", alignment_timeout_ms=5, steps=(
        Step("sum"), Step("rebalance"), Step("filter", 3, parallelism=3)))
    assert job.operators() == {"pair": 1, "sum1": 2, "filter3": 3, "sink": 2}
    assert job.subtasks() == ["source->pair[0]", "sum1[0]", "sum1[1]", "filter3[0]", "filter3[1]", "filter3[2]",
                              "sink[0]", "sink[1]"]
    assert job.to_dict() == {"checkpointing": "unaligned", "alignment_timeout_ms": 5,
                             "steps": [{"kind": "sum"}, {"kind": "rebalance"},
                                       {"kind": "filter", "arg": 3, "parallelism": 3}]}
    assert JobSpec.from_dict(job.to_dict()) == job
    assert job.describe() == "\n".join([
        "parallelism 2; unaligned checkpoints every 50 ms (aligned for 5 ms first), hashmap backend; fixed-delay "
        "restart every 100 ms; buffer timeout 100 ms",
        "  source: PacedSource, one element every 2 ms",
        "  pair: x -> (x % 4, x)",
        "  sum1: key_by(k).sum(1): running sum per key",
        "  rebalance2: send records round robin to the next operator",
        "  filter3: keep (k, v) where v % 3 != 0 at parallelism 3",
        "  sink: exactly-once to 2 partition(s), key str(k)"])
