"""State is matched to operators by uid; what cannot be restored is refused, naming state, snapshot and fix."""

from __future__ import annotations

import pytest

from sim.api import NumberSequenceSource, StreamExecutionEnvironment
from sim.kernel.hashing import assign_key_to_parallel_operator
from sim.runtime.restore import RestoreError, plan_restore
from sim.state.savepoint import load_savepoint
from sim.state.storage import CheckpointWriter, LoadedCheckpoint

from tests.unit.restore.harness import TaskHarness
from tests.unit.restore.jobs import KEYS, RECORDS, checkpoint_files, counting
from tests.unit.restore.test_timers_and_windows import timers_job


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> LoadedCheckpoint:
    return checkpoint_files(counting(2), tmp_path_factory.mktemp("checkpoints"))


def _job(parallelism=2, source_uid="numbers", sum_uid="counts", sum_name="counts", keyed=True, extra=False):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    numbers = env.from_source(NumberSequenceSource(0, RECORDS - 1))
    if source_uid is not None:
        numbers = numbers.uid(source_uid)
    pairs = numbers.map(lambda i: (i % KEYS, 1))
    if extra:
        pairs = pairs.key_by(lambda t: t[0]).reduce(lambda a, b: a).uid("extra")
    if keyed:
        counts = pairs.key_by(lambda t: t[0]).sum(1).name(sum_name)
    else:
        counts = pairs.map(lambda t: t).name(sum_name)
    if sum_uid is not None:
        counts = counts.uid(sum_uid)
    counts.add_sink(lambda v: None).name("sink")
    return env


def _final_counts(checkpoint, env, **plan_options):
    harness = TaskHarness(env)
    plan = plan_restore(checkpoint, harness.eg, **plan_options)
    harness.restore(plan)
    harness.open()
    harness.finish()
    counts = {key: count for _, (key, count) in harness.written() if isinstance(count, int)}
    harness.dispose()
    return plan, counts


def test_state_is_matched_by_uid_whatever_the_generated_ids_and_new_operators_start_empty(checkpoint):
    """The counting operator is renamed (its generated id changes) and a new keyed operator is added."""
    plan, counts = _final_counts(checkpoint, _job(sum_name="totals", extra=True))
    assert counts == {k: RECORDS // KEYS for k in range(KEYS)}
    assert plan.dropped == []
    assert all("extra" not in task.operators for task in plan.tasks.values())


def test_state_for_an_operator_the_job_does_not_have_fails_the_restore(checkpoint):
    with pytest.raises(RestoreError) as info:
        plan_restore(checkpoint, TaskHarness(_job(sum_uid="totals")).eg)
    message = str(info.value)
    assert message.startswith(f"checkpoint {checkpoint.checkpoint_id} ({checkpoint.path}) holds state for "
                              f"operator id(s) ['counts'] that the job does not have")
    assert "give the operators the uid() they had" in message
    assert "allow_non_restored_state=True" in message


def test_without_uids_the_generated_ids_do_not_match_the_uids_the_state_was_filed_under(checkpoint):
    with pytest.raises(RestoreError, match=r"operator id\(s\) \['counts', 'numbers'\]"):
        plan_restore(checkpoint, TaskHarness(_job(source_uid=None, sum_uid=None, sum_name="totals")).eg)


def test_allow_non_restored_state_drops_the_unmatched_state(checkpoint):
    """The counts start from nothing; the sources still resume where they were, so the counts are short."""
    plan, counts = _final_counts(checkpoint, _job(sum_uid="totals"), allow_non_restored_state=True)
    assert plan.dropped == ["counts"]
    read = sum(s["reader"]["position"] - i * RECORDS // 2
               for i, s in enumerate(checkpoint.operator_states("numbers")))
    assert 0 < read and sum(counts.values()) == RECORDS - read


def test_an_unmatched_operator_without_state_is_skipped():
    """Flink skips empty state of an operator it cannot match; so does the plan."""
    empty = {"format": "sim-keyed-state", "version": 1, "checkpoint_id": 1, "operator": "gone[0]",
             "backend": "hashmap", "key_group_range": [0, 127], "max_parallelism": 128, "incremental": False,
             "builds_on": [], "state_kinds": {}, "full_size_bytes": 0, "checkpointed_size_bytes": 0,
             "key_groups": []}
    payloads = {"gone[0]": {"subtask": 0, "operators": {"gone": {"keyed": empty, "operator": None}}}}
    plan = plan_restore(LoadedCheckpoint.from_payloads(1, "checkpoint", {}, payloads), TaskHarness(_job()).eg)
    assert plan.dropped == [] and all(not task.operators for task in plan.tasks.values())


def test_a_savepoint_of_another_job_matches_no_operator_and_is_refused(tmp_path):
    harness = TaskHarness(timers_job(2), source_batch_records=50)
    harness.open()
    harness.read(steps=1)
    writer = CheckpointWriter(tmp_path)
    handles = [writer.write_subtask(9, p["task"], p["subtask"], p) for p in harness.snapshot(9).values()]
    path = writer.finalize(9, "savepoint", {"name": "timers"}, handles)
    harness.dispose()
    with pytest.raises(RestoreError, match=rf"savepoint 'timers' \({path}\) holds state for operator id\(s\) "
                                           rf"\['numbers', 'remember'\] that the job does not have"):
        plan_restore(load_savepoint(path), TaskHarness(_job(source_uid="numbers-v2")).eg)


def test_keyed_state_cannot_be_restored_with_another_max_parallelism(checkpoint):
    env = counting(3, max_parallelism=256)
    with pytest.raises(RestoreError, match=r"cannot restore operator counts \(state id 'counts'\) from checkpoint "
                                           r"\d+ \(.*\): its keyed state was taken with max parallelism 128, the job "
                                           r"has 256; the max parallelism must stay the same"):
        plan_restore(checkpoint, TaskHarness(env).eg)


def test_keyed_state_needs_a_keyed_operator_under_its_uid(checkpoint):
    with pytest.raises(RestoreError, match=r"holds keyed state for operator 'counts', but operator counts of the "
                                           r"job is not keyed"):
        plan_restore(checkpoint, TaskHarness(_job(keyed=False)).eg)


def test_a_parallelism_that_changes_the_default_max_parallelism_needs_it_set_explicitly(checkpoint):
    """At parallelism 128 the default max parallelism becomes 256 (Flink's rule): set it back to 128 to restore.

    With one key group per subtask, every restored key still lands in the subtask owning its group.
    """
    with pytest.raises(RestoreError, match=r"taken with max parallelism 128, the job has 256"):
        plan_restore(checkpoint, TaskHarness(counting(128)).eg)
    harness = TaskHarness(counting(128, max_parallelism=128))
    plan = plan_restore(checkpoint, harness.eg)
    owners = {assign_key_to_parallel_operator(k, 128, 128) for k in range(KEYS)}
    assert {t.subtask.index for t in harness.of("counts") if plan.tasks[t.id].key_groups} == owners
    harness.dispose()


def test_a_task_that_cannot_take_its_share_fails_naming_the_operator():
    """A plan made for another job (here: keyed state of another max parallelism) fails in StreamTask.restore."""
    old = TaskHarness(counting(2, checkpoint_ms=None, max_parallelism=256))
    old.open()
    old.read(steps=1)
    checkpoint = LoadedCheckpoint.from_payloads(1, "checkpoint", {}, old.snapshot(1))
    old.dispose()
    harness = TaskHarness(counting(2))
    plan = plan_restore(checkpoint, TaskHarness(counting(2, max_parallelism=256)).eg)
    task = harness.of("counts")[0]
    with pytest.raises(RestoreError, match=r"^counts\[0\] could not take its share of checkpoint 1: cannot restore "
                                           r"counts\[0\] .* max parallelism must stay the same, expected 128, "
                                           r"found 256"):
        task.restore(plan.tasks[task.id])
    harness.dispose()
