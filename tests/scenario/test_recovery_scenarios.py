"""Scenarios 11 and 12: a crash during an unaligned checkpoint, and a savepoint restored at other parallelisms."""

import hashlib
from pathlib import Path

import pytest

from sim import Simulation
from sim.api import Topic
from sim.scenario.loader import load_scenario
from sim.state.savepoint import NotASnapshotError, SnapshotNotFoundError
from sim.state.storage import CorruptCheckpointError
from sim.trace import (
    ChannelStateReplayed, CheckpointAborted, JobFailing, JobRestored, StateRestored, TaskManagerLost,
)

ROOT = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture(scope="module")
def crash():
    return load_scenario(str(ROOT / "11_crash_during_unaligned_checkpoint.py")).module


@pytest.fixture(scope="module")
def rescale():
    return load_scenario(str(ROOT / "12_savepoint_rescale.py")).module


@pytest.fixture(scope="module")
def crashed_run(crash):
    topic = Topic("counts", 2)
    result = crash.build(3, topic=topic).run()
    return result, topic.committed_values()


def test_the_crash_is_detected_by_heartbeat_and_the_job_restarts_from_the_last_completed_checkpoint(crashed_run):
    result, _ = crashed_run
    assert result.status == "FINISHED" and result.attempts == 2
    lost = result.trace.of_type(TaskManagerLost)
    assert [(e.taskmanager, e.t_us) for e in lost] == [("tm-1", 400_000)]  # first heartbeat round after 200 ms
    assert result.trace.of_type(JobFailing)[0].cause.startswith("TaskManager tm-1 lost")
    aborted = {e.checkpoint_id: e.reason for e in result.trace.of_type(CheckpointAborted)}
    assert aborted[4] == "TASK_FAILED"  # the checkpoint the crash interrupted
    restored = result.trace.of_type(JobRestored)
    assert [(e.attempt, e.kind, e.checkpoint_id) for e in restored] == [(1, "checkpoint", 3)]
    assert {e.task for e in result.trace.of_type(StateRestored)} >= {"count->sink[0]", "count->sink[1]"}


def test_in_flight_data_is_replayed_before_new_input_and_the_output_is_exactly_once(crash, crashed_run):
    result, committed = crashed_run
    assert crash.output_topic(result).committed_values() == committed
    observations = crash.observations(result)
    assert all(observations.values()), "\n".join(o.explain() for o in observations.values())
    assert all(ok for _, ok, _ in crash.check(result))
    replayed = result.trace.of_type(ChannelStateReplayed)
    assert sum(e.records for e in replayed) > 0
    # Replay comes first: no buffer of the new attempt is consumed by a counting task before its replay ended.
    from sim.trace import BufferConsumed
    restart = result.trace.of_type(JobRestored)[0].t_us
    for task in ("count->sink[0]", "count->sink[1]"):
        done = max(e.t_us for e in replayed if e.task == task)
        assert not [e for e in result.trace.of_type(BufferConsumed) if e.task == task and restart <= e.t_us < done]
    # More was written than committed: the replayed records' first writes were never committed.
    assert len(result.outputs["sink"]) > len(committed) == crash.RECORDS


def test_same_seed_and_plan_give_the_same_digest(crash, crashed_run):
    assert crash.build(3, topic=Topic("counts", 2)).run().digest == crashed_run[0].digest


@pytest.fixture(scope="module")
def savepoint(rescale, tmp_path_factory):
    topic = rescale.clicks_topic()
    first = rescale.build(5, savepoint_dir=tmp_path_factory.mktemp("savepoints"), topic=topic).run()
    return first, topic


def test_stop_with_savepoint_stops_the_sources_at_the_barrier(rescale, savepoint):
    first, _ = savepoint
    assert first.status == "FINISHED" and len(first.savepoints) == 1
    assert Path(first.savepoints[0]).name == "savepoint-before-rescale"
    # Every click up to the savepoint's instant is counted, and none after it.
    assert sum(rescale.final_counts(first).values()) == rescale.STOP_AT_MS // rescale.INTERVAL_MS + 1


@pytest.mark.parametrize("parallelism", [3, 1])
def test_every_users_count_continues_exactly_at_another_parallelism(rescale, savepoint, parallelism):
    first, topic = savepoint
    result = rescale.restore(5, first.savepoints[0], topic, parallelism).run()
    assert result.status == "FINISHED"
    assert rescale.final_counts(result) == rescale.expected_counts()
    # Each count goes on from the savepoint: the first count the restored job emits for a user is one more.
    before, first_after = rescale.final_counts(first), {}
    for _, _, (user, count) in result.outputs["sink"]:
        first_after.setdefault(user, count)
    assert first_after == {user: count + 1 for user, count in before.items()}
    assert [e.kind for e in result.trace.of_type(JobRestored)] == ["savepoint"]
    counting = [s for s in result.execution_graph.subtasks if s.vertex.head.id == "count"]
    assert len(counting) == parallelism


def _tree(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() + str(p.stat().st_mtime_ns)
            for p in sorted(path.rglob("*")) if p.is_file()}


def test_a_missing_foreign_or_corrupt_savepoint_is_refused_and_left_untouched(rescale, savepoint, tmp_path):
    first, topic = savepoint
    env = rescale.job(topic, 3)
    with pytest.raises(SnapshotNotFoundError, match="no-such-savepoint"):
        Simulation(env, restore_from=tmp_path / "no-such-savepoint")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "_metadata.json").write_text('{"format": "something else"}')
    before = _tree(foreign)
    with pytest.raises(NotASnapshotError):
        Simulation(env, restore_from=foreign)
    assert _tree(foreign) == before
    import shutil
    corrupt = tmp_path / "corrupt"
    shutil.copytree(first.savepoints[0], corrupt)
    victim = next(p for p in sorted(corrupt.iterdir()) if p.name.startswith("count"))
    victim.write_bytes(victim.read_bytes()[:-5])
    before = _tree(corrupt)
    with pytest.raises(CorruptCheckpointError, match=victim.name):
        Simulation(env, restore_from=corrupt)
    assert _tree(corrupt) == before
