"""The numbers chapters 4 to 6 state about scenarios 5, 11 and 12, asserted on the scenarios' runs.

Chapter 4 (`docs/04-failure-and-recovery.md`) and chapter 6 (`docs/06-exactly-once.md`) read scenario 11 and
the failing variant of scenario 5; chapter 5 (`docs/05-savepoints-and-rescaling.md`) reads scenario 12. A
number changed here is a number to change in the chapter and its notebook.
"""

from collections import Counter

import pytest

from sim import Simulation
from sim.api import CheckpointingMode, DeliveryGuarantee, Topic
from sim.api.kafka import kafka_split_owner
from sim.kernel.hashing import assign_to_key_group, key_group_range_for_operator
from sim.scenario.inspect import source_positions
from sim.runtime.restore import RestoreError
from sim.scenario.loader import load_scenario
from sim.testing import ViolationKind, check_exactly_once, check_no_loss, count_duplicates
from sim.trace import (
    ChannelStateReplayed, CheckpointAborted, CheckpointCompleted, JobFailing, JobRestored, RestartScheduled,
    StateRestored, TaskCanceled, TaskManagerJoined, TaskManagerLost, TransactionCommitted, WaitingForResources,
)
from tests.conftest import SCENARIOS


def _module(name):
    return load_scenario(str(SCENARIOS / name)).module


@pytest.fixture(scope="module")
def crash():
    return _module("11_crash_during_unaligned_checkpoint.py")


@pytest.fixture(scope="module")
def crashed(crash):
    """Scenario 11 at seed 3, its output topic, and the reference (no crash)."""
    topic = Topic("counts", 2)
    return crash.build(3, topic=topic).run(), topic, crash.reference_counts(3)


# --- chapter 4: failure and recovery ------------------------------------------------------------------------


def test_chapter_4_detection_restart_and_restore_happen_when_the_chapter_says(crashed):
    result, _, _ = crashed
    assert [(e.taskmanager, e.t_us, e.silent_us) for e in result.trace.of_type(TaskManagerLost)] == [
        ("tm-1", 400_000, 200_000)]
    assert [e.t_us for e in result.trace.of_type(JobFailing)] == [400_000]
    assert sorted(e.task for e in result.trace.of_type(TaskCanceled)) == ["count->sink[0]", "source->pair[0]"]
    assert [(e.checkpoint_id, e.reason) for e in result.trace.of_type(CheckpointAborted)] == [(4, "TASK_FAILED")]
    assert [(e.strategy, e.delay_us) for e in result.trace.of_type(RestartScheduled)] == [
        ("fixed-delay (3 attempts, 200 ms)", 200_000)]
    assert [(e.t_us, e.slots_needed, e.slots_available) for e in result.trace.of_type(WaitingForResources)] == [
        (600_000, 2, 1)]
    assert [(e.t_us, e.taskmanager) for e in result.trace.of_type(TaskManagerJoined)] == [(612_000, "tm-1")]
    assert [(e.t_us, e.checkpoint_id) for e in result.trace.of_type(JobRestored)] == [(612_000, 3)]
    assert (result.attempts, result.restarts, result.end_time_us // 1000) == (2, 1, 715)


def test_chapter_4_what_each_task_restores(crashed):
    result, _, _ = crashed
    restored = {e.task: (e.operators, e.key_groups) for e in result.trace.of_type(StateRestored)}
    assert restored == {"source->pair[0]": (1, 0), "source->pair[1]": (1, 0),
                        "count->sink[0]": (2, 19), "count->sink[1]": (2, 18)}
    replayed = result.trace.of_type(ChannelStateReplayed)
    assert (len(replayed), sum(e.records for e in replayed)) == (4, 6_528)
    ends = {e.task: e.t_us // 100 / 10 for e in replayed}
    assert ends == {"count->sink[0]": 656.5, "count->sink[1]": 673.7}
    first_after = [e for e in result.trace.of_type(CheckpointCompleted) if e.t_us > 612_000][0]
    assert first_after.checkpoint_id == 5


def test_chapter_4_the_crash_costs_about_460_ms(crash):
    assert crash.build(3, crash=False).run().end_time_us // 1000 == 255


# --- chapter 6: exactly-once ----------------------------------------------------------------------------------


def test_chapter_6_read_committed_sees_exactly_the_reference(crashed):
    result, topic, reference = crashed
    assert len(topic.records()) == len(result.outputs["sink"]) == 38_743
    assert len(topic.committed_values()) == len(reference) == 30_000
    assert check_exactly_once(topic.committed_values(), reference, key=lambda pair: pair[0])
    # External visibility trails the checkpoints: the commits of checkpoints 1 and 2 by 100 ms, 1 to 3 by 300 ms.
    assert [len(topic.committed_values(now_ms=t)) for t in (100, 300)] == [6_144, 18_560]


def test_chapter_6_an_at_least_once_sink_shows_the_replayed_counts_twice(crash, crashed):
    _, _, reference = crashed
    topic = Topic("counts", 2)
    crash.build(3, topic=topic, guarantee=DeliveryGuarantee.AT_LEAST_ONCE).run()
    seen = topic.committed_values()
    assert len(seen) == 38_743 and count_duplicates(seen, reference) == 8_743
    verdict = check_exactly_once(seen, reference, key=lambda pair: pair[0])
    assert not verdict and verdict.kind_counts == ((ViolationKind.DUPLICATE_VALUE, 8_743),)
    assert check_no_loss(seen, reference)


def test_chapter_6_at_least_once_checkpoints_count_records_twice_after_a_restore():
    at_least_once = _module("05_at_least_once.py")
    result = at_least_once.build(7, fail_at_ms=450).run()
    assert [e.checkpoint_id for e in result.trace.of_type(JobRestored)] == [3]
    assert at_least_once.overcount(result) == 13_312 == at_least_once.beyond_the_cut(result)[3]
    exact = at_least_once.build(7, CheckpointingMode.EXACTLY_ONCE, fail_at_ms=450).run()
    assert [e.checkpoint_id for e in exact.trace.of_type(JobRestored)] == [3]
    assert at_least_once.overcount(exact) == 0


# --- chapter 5: savepoints and rescaling ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def rescale():
    return _module("12_savepoint_rescale.py")


@pytest.fixture(scope="module")
def stopped(rescale, tmp_path_factory):
    topic = rescale.clicks_topic()
    return rescale.build(5, savepoint_dir=tmp_path_factory.mktemp("savepoints"), topic=topic).run(), topic


def test_chapter_5_the_savepoint_holds_the_counts_and_offsets(rescale, stopped):
    first, _ = stopped
    savepoint = first.completed_checkpoints[0]
    assert savepoint.savepoint and savepoint.checkpoint_id == 1
    completed = first.trace.of_type(CheckpointCompleted)[0]
    assert (completed.t_us, completed.path) == (1_210_028, "savepoint-before-rescale")
    assert sum(rescale.final_counts(first).values()) == 1_201
    offsets = {split: offset for reader in source_positions(savepoint, "clicks").values()
               for split, offset in reader["offsets"].items()}
    assert dict(sorted(offsets.items())) == {0: 300, 1: 200, 2: 300, 3: 401}


@pytest.mark.parametrize("parallelism, users_per_subtask, partitions_per_reader", [
    (2, [8, 4], [[1, 3], [0, 2]]),
    (3, [8, 0, 4], [[0, 3], [1], [2]]),
    (1, [12], [[0, 1, 2, 3]]),
])
def test_chapter_5_key_groups_and_partitions_at_each_parallelism(rescale, parallelism, users_per_subtask,
                                                                  partitions_per_reader):
    ranges = [key_group_range_for_operator(128, parallelism, i) for i in range(parallelism)]
    users = Counter(next(i for i, r in enumerate(ranges) if r.start <= assign_to_key_group(u, 128) <= r.end)
                    for u in rescale.USERS)
    assert [users[i] for i in range(parallelism)] == users_per_subtask
    owners = [kafka_split_owner("clicks", p, parallelism) for p in range(4)]
    assert [[p for p in range(4) if owners[p] == reader] for reader in range(parallelism)] == partitions_per_reader


def test_chapter_5_the_restore_at_3_gives_one_counting_subtask_nothing(rescale, stopped):
    first, topic = stopped
    result = rescale.restore(5, first.savepoints[0], topic, 3).run()
    restored = {e.task: e.key_groups for e in result.trace.of_type(StateRestored) if e.task.startswith("count")}
    assert restored == {"count->sink[0]": 8, "count->sink[1]": 0, "count->sink[2]": 4}
    assert result.metrics["count->sink[1]"].records_in == 0
    assert set(rescale.expected_counts().values()) == {250}


def test_chapter_5_a_changed_uid_is_refused_unless_its_state_may_be_dropped(rescale, stopped):
    first, topic = stopped
    with pytest.raises(RestoreError, match=r"operator id\(s\) \['count'\] that the job does not have"):
        Simulation(rescale.job(topic, 3, count_uid="count-v2"), restore_from=first.savepoints[0])
    dropped = Simulation(rescale.job(topic, 3, count_uid="count-v2"), restore_from=first.savepoints[0],
                         allow_non_restored_state=True).run()
    finals = rescale.final_counts(dropped)
    assert finals == {user: 250 - count for user, count in rescale.final_counts(first).items()}


def test_chapter_5_the_max_parallelism_must_stay_the_same(rescale, stopped):
    first, topic = stopped
    env = rescale.job(topic, 3)
    env.set_max_parallelism(256)
    with pytest.raises(RestoreError, match="taken with max parallelism 128, the job has 256"):
        Simulation(env, restore_from=first.savepoints[0])


def test_chapter_6_commits_follow_completions_by_one_rpc(crashed):
    result, _, _ = crashed
    completed = {e.checkpoint_id: e.t_us for e in result.trace.of_type(CheckpointCompleted)}
    assert completed[1] // 1000 == 58
    first = [e for e in result.trace.of_type(TransactionCommitted) if not e.recovered][:2]
    assert {e.txn for e in first} == {"counts-0-0", "counts-1-0"}
    assert {e.t_us for e in first} == {completed[1] + 1_000}
