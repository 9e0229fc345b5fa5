"""Scenario 13: the same keyed job on the heap backend and on RocksDB with incremental checkpoints.

The numbers chapter 7 states (`docs/07-state-backends.md`) are the ones asserted here.
"""

import pytest

from sim import FaultPlan, Simulation
from sim.api import RestartStrategies
from sim.scenario.loader import load_scenario
from sim.trace import JobRestored, SnapshotTaken
from tests.conftest import SCENARIOS


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(str(SCENARIOS / "13_state_backends.py")).module


@pytest.fixture(scope="module")
def runs(scenario):
    return {backend: scenario.build(1, backend=backend).run() for backend in scenario.BACKENDS}


def test_both_backends_count_every_product_exactly(scenario, runs):
    """The backend changes where state lives and what it costs, never the results."""
    for result in runs.values():
        assert result.status == "FINISHED"
        assert scenario.final_counts(result) == scenario.expected_counts()
    assert runs["hashmap"].values() == runs["rocksdb"].values()


def test_every_checkpoint_holds_the_counting_state(scenario, runs):
    """Sometimes-assertion: nine checkpoints completed on each backend, all while the counters ran."""
    for result in runs.values():
        assert [cid for cid, _, _ in scenario.sizes(result)] == list(range(1, 10))
        assert all(full > 140 * 1024 for _, _, full in scenario.sizes(result))
        assert {e.task for e in result.trace.of_type(SnapshotTaken)} >= {"count->sink[0]", "count->sink[1]"}


def test_the_heap_backend_writes_a_full_snapshot_every_time(scenario, runs):
    """Checkpointed size equals full size, about 149 KiB each time, though only 50 of 5,000 counts changed."""
    rows = scenario.sizes(runs["hashmap"])
    assert all(checkpointed == full for _, checkpointed, full in rows)
    assert {round(full / 1024) for _, _, full in rows} == {149}


def test_incremental_rocksdb_checkpoints_write_only_the_delta(scenario, runs):
    """The first checkpoint is full (about 159 KiB); each later one holds only the changed rows: about 1.5 KiB,
    under 1 % of the full size (Checkpointed Data Size vs Full Checkpoint Data Size)."""
    (first_id, first, first_full), *later = scenario.sizes(runs["rocksdb"])
    assert first_id == 1 and first == first_full and round(first_full / 1024) == 159
    assert len(later) == 8
    for _, checkpointed, full in later:
        assert checkpointed * 100 < full
        assert round(checkpointed / 1024, 1) == 1.5


def test_rocksdb_costs_about_three_times_the_cpu_per_record(scenario, runs):
    """Every state access serialises key and value: the counting subtasks are busy about 3 times as long
    (about 58 ms on the heap, about 177 ms on RocksDB, for the same 24,000 records)."""
    heap, rocks = (scenario.counting_busy_us(runs[b]) for b in ("hashmap", "rocksdb"))
    assert round(heap / 1000) == 58 and round(rocks / 1000) == 177
    assert 2.5 < rocks / heap < 3.5
    # Same input, same pace: the runs end within a few ms of each other; only the busy share differs.
    assert abs(runs["rocksdb"].end_time_us - runs["hashmap"].end_time_us) < 5_000


def test_the_snapshot_phases_differ_by_backend(runs):
    """Sync part: about 0.18 ms on the heap (a copy-on-write view of 5,000 counts), 0.4 ms on RocksDB (a flush,
    whatever the size). Async part: about 5.0 ms on the heap (every object serialised every time), 2.0 ms on
    RocksDB after its first, full checkpoint (2.5 ms)."""
    heap, rocks = runs["hashmap"].checkpoints, runs["rocksdb"].checkpoints
    assert {round(c.max_sync_us / 1000, 2) for c in heap} == {0.18}
    assert {round(c.max_async_us / 1000, 1) for c in heap} == {5.0}
    assert {c.max_sync_us for c in rocks} == {400}
    assert [round(c.max_async_us / 1000, 1) for c in rocks] == [2.5] + [2.0] * 8


def test_an_unknown_backend_is_refused(scenario):
    with pytest.raises(ValueError, match="backend must be one of"):
        scenario.build(1, backend="memory")


def _fail_at_450(scenario, checkpoint_dir):
    simulation = scenario.build(1)
    simulation.env.set_restart_strategy(RestartStrategies.fixed_delay_restart(1, 10))
    return Simulation(simulation.env, cluster=simulation.cluster, seed=1, checkpoint_dir=checkpoint_dir,
                      faults=FaultPlan().fail_task("count->sink[0]", at_ms=450)).run()


def test_the_first_checkpoint_after_a_restore_is_full_again(scenario, tmp_path):
    """NO_CLAIM: the restored job owns none of the files it started from, so its first checkpoint is full."""
    result = _fail_at_450(scenario, str(tmp_path))
    assert [e.checkpoint_id for e in result.trace.of_type(JobRestored)] == [4]
    full = [cid for cid, checkpointed, total in scenario.sizes(result) if checkpointed == total]
    assert full == [1, 5]
    assert scenario.final_counts(result) == scenario.expected_counts()


def test_a_failover_restores_an_incremental_chain_kept_in_memory(scenario):
    result = _fail_at_450(scenario, None)
    assert scenario.final_counts(result) == scenario.expected_counts()
