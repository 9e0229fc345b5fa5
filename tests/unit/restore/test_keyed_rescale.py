"""Keyed state and source positions restored from checkpoint files, at the old parallelism and rescaled.

The job counts numbers per key. A run writes checkpoints; the latest is
restored into the same job at parallelism 3, 1 and 2 (it ran at 2). Each
key's count must come back in the subtask that owns its key group, and the
restored job, read to its end, must count every number exactly once.
"""

from __future__ import annotations

import pytest

from sim.api import EmbeddedRocksDBStateBackend
from sim.kernel.hashing import assign_key_to_parallel_operator, assign_to_key_group
from sim.runtime.restore import plan_restore

from tests.unit.restore.harness import TaskHarness
from tests.unit.restore.jobs import KEYS, RECORDS, checkpoint_files, counting, counts_of, read_before


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return checkpoint_files(counting(2), tmp_path_factory.mktemp("checkpoints"))


def _restored(checkpoint, parallelism, records=RECORDS):
    harness = TaskHarness(counting(parallelism, records=records))
    harness.restore(plan_restore(checkpoint, harness.eg))
    harness.open()
    return harness


@pytest.mark.parametrize("parallelism", [3, 1, 2])
def test_every_keys_count_comes_back_in_the_subtask_owning_its_key_group(checkpoint, parallelism):
    """A (key, 0) record through each restored `counts` subtask emits the key's count at the checkpoint."""
    expected = counts_of(read_before(checkpoint, 2))
    assert 0 < sum(expected.values()) < RECORDS  # the checkpoint was taken mid-way
    harness = _restored(checkpoint, parallelism)
    for task in harness.of("counts"):
        mine = [k for k in range(KEYS) if assign_key_to_parallel_operator(k, 128, parallelism) == task.subtask.index]
        harness.process(task, [(k, 0) for k in mine])
    written = harness.written()
    assert len(written) == KEYS
    assert all(assign_key_to_parallel_operator(key, 128, parallelism) == subtask for subtask, (key, _) in written)
    assert {key: count for _, (key, count) in written} == dict(expected)
    harness.dispose()


@pytest.mark.parametrize("parallelism", [3, 1, 2])
def test_the_restored_job_counts_every_number_exactly_once(checkpoint, parallelism):
    """Restored counts plus what the restored sources read from their positions: each key counted RECORDS/KEYS times."""
    harness = _restored(checkpoint, parallelism)
    harness.finish()
    last = {}
    for subtask, (key, count) in harness.written():
        assert assign_key_to_parallel_operator(key, 128, parallelism) == subtask
        last[key] = count
    assert last == {k: RECORDS // KEYS for k in range(KEYS)}
    harness.dispose()


@pytest.mark.parametrize("parallelism", [3, 1])
def test_rescaled_sources_read_exactly_the_numbers_not_read_before(checkpoint, parallelism):
    harness = _restored(checkpoint, parallelism)
    read = []
    for task in harness.of("source"):
        while True:
            poll = task.head.emit_batch(10_000)
            read += poll.records
            if poll.finished:
                break
    before = read_before(checkpoint, 2)
    assert sorted(read + before) == list(range(RECORDS))
    harness.dispose()


def test_the_plan_counts_the_key_groups_and_bytes_each_subtask_restores(checkpoint):
    harness = TaskHarness(counting(3))
    plan = plan_restore(checkpoint, harness.eg)
    assert (plan.checkpoint_id, plan.kind, plan.path) == (checkpoint.checkpoint_id, "checkpoint", checkpoint.path)
    groups = {assign_to_key_group(k, 128) for k in range(KEYS)}
    for task in harness.of("counts"):
        entry = plan.tasks[task.id]
        mine = {g for g in groups if g in task.keyed_backends()[0].key_group_range}
        assert list(entry.operators) == ["counts"] and entry.key_groups == len(mine) > 0
        assert entry.size_bytes > 0
    for task in harness.of("source"):
        entry = plan.tasks[task.id]
        assert list(entry.operators) == ["numbers"] and entry.key_groups == 0 and entry.size_bytes > 0


@pytest.mark.parametrize("parallelism", [3, 1])
def test_an_incremental_rocksdb_checkpoint_restores_with_the_checkpoints_it_builds_on(tmp_path, parallelism):
    """The latest checkpoint holds only deltas over an earlier one: both are applied (here into heap backends)."""
    env = counting(2, records=200_000)
    env.set_state_backend(EmbeddedRocksDBStateBackend(True))
    checkpoint = checkpoint_files(env, tmp_path, until_ms=80)
    assert checkpoint.builds_on and [b.checkpoint_id for b in checkpoint.bases] == list(checkpoint.builds_on)
    harness = _restored(checkpoint, parallelism, records=200_000)
    harness.finish()
    assert {key: count for _, (key, count) in harness.written()} == {k: 200_000 // KEYS for k in range(KEYS)}
    harness.dispose()
