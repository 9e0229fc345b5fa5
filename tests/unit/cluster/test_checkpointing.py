"""Checkpoints on the simulated cluster: coordinator rules, files on disk, incremental sizes, errors."""

import json

import pytest

from sim import ClusterSpec, CostModel, LinkSpec, Simulation, StorageSpec, TraceLevel
from sim.api import (
    CheckpointingMode, EmbeddedRocksDBStateBackend, NumberSequenceSource, RestartStrategies,
    StreamExecutionEnvironment,
)
from sim.state.storage import CorruptCheckpointError, latest_valid_checkpoint, load_checkpoint
from sim.trace import CheckpointAborted, CheckpointCompleted, CheckpointTriggered


def _env(records=60_000, keys=100, p=2, interval_ms=10):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(p)
    env.enable_checkpointing(interval_ms)
    env.from_source(NumberSequenceSource(0, records - 1)).map(lambda i: (i % keys, 1)) \
        .key_by(lambda t: t[0]).sum(1).name("count").add_sink(lambda v: None)
    return env


def _run(env, cluster=None, **kwargs):
    cluster = cluster or ClusterSpec(task_managers=2, slots_per_task_manager=1, cores_per_task_manager=1)
    return Simulation(env, cluster=cluster, seed=1, trace_level=TraceLevel.CHECKPOINTS, **kwargs).run()


def test_checkpoints_complete_with_every_subtask_acknowledged():
    result = _run(_env())
    done = [c for c in result.checkpoints if c.status == "COMPLETED"]
    assert len(done) >= 5
    for c in done:
        assert c.acknowledged == c.total_subtasks == 4
        assert c.end_to_end_us == c.latest_ack_us - c.trigger_us > 0
        assert c.checkpointed_bytes > 0 and c.full_bytes >= c.checkpointed_bytes
    ids = [e.checkpoint_id for e in result.trace.of_type(CheckpointCompleted)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_min_pause_separates_completion_and_next_trigger():
    """Min pause is measured from the completion of one checkpoint to the next trigger."""
    env = _env()
    env.get_checkpoint_config().set_min_pause_between_checkpoints(15)
    result = _run(env)
    completions = {e.checkpoint_id: e.t_us for e in result.trace.of_type(CheckpointCompleted)}
    triggers = {e.checkpoint_id: e.t_us for e in result.trace.of_type(CheckpointTriggered)}
    assert len(completions) >= 2
    for cid, done in completions.items():
        if cid + 1 in triggers:
            assert triggers[cid + 1] - done >= 15_000


def test_at_most_max_concurrent_checkpoints_are_pending():
    env = _env()
    env.get_checkpoint_config().set_max_concurrent_checkpoints(2)
    env.get_checkpoint_config().set_checkpoint_interval(2)
    result = _run(env)
    pending, peak = set(), 0
    for e in result.trace:
        if isinstance(e, CheckpointTriggered):
            pending.add(e.checkpoint_id)
            peak = max(peak, len(pending))
        elif isinstance(e, (CheckpointCompleted, CheckpointAborted)):
            pending.discard(e.checkpoint_id)
    assert peak == 2


def test_an_expired_checkpoint_fails_the_job_when_no_failure_is_tolerated():
    """A storage link so slow that uploads outlast the timeout: EXPIRED, then the job fails (tolerable = 0)."""
    env = _env()
    env.set_restart_strategy(RestartStrategies.no_restart())
    env.get_checkpoint_config().set_checkpoint_timeout(5)
    cluster = ClusterSpec(task_managers=2, slots_per_task_manager=1, cores_per_task_manager=1,
                          checkpoint_storage=StorageSpec(latency_us=50_000))
    result = _run(env, cluster)
    aborted = result.trace.of_type(CheckpointAborted)
    assert aborted[0].reason == "EXPIRED"
    assert result.status == "FAILED"
    assert "checkpoint 1 failed (EXPIRED)" in result.failure.error


def test_tolerated_expiries_let_the_job_finish():
    env = _env()
    config = env.get_checkpoint_config().set_checkpoint_timeout(5)
    config.set_tolerable_checkpoint_failure_number(1_000)
    cluster = ClusterSpec(task_managers=2, slots_per_task_manager=1, cores_per_task_manager=1,
                          checkpoint_storage=StorageSpec(latency_us=50_000))
    result = _run(env, cluster)
    assert result.status == "FINISHED"
    assert {c.failure_reason for c in result.checkpoints if c.status == "FAILED"} >= {"EXPIRED"}


def test_checkpoint_files_are_written_loadable_and_json(tmp_path):
    """Completed checkpoints are real directories that load and verify; no pickle, only JSON."""
    result = _run(_env(), checkpoint_dir=str(tmp_path))
    done = [c for c in result.completed_checkpoints]
    assert done and all(c.path for c in done)
    loaded = load_checkpoint(done[-1].path)
    assert loaded.checkpoint_id == done[-1].checkpoint_id
    for path in (tmp_path / f"chk-{done[-1].checkpoint_id}").iterdir():
        json.loads(path.read_text(encoding="utf-8"))
        assert b"\x80\x04" not in path.read_bytes()  # no pickle protocol header
    assert not list(tmp_path.glob("*.inprogress"))


def test_a_truncated_or_altered_file_is_detected_naming_the_file(tmp_path):
    result = _run(_env(), checkpoint_dir=str(tmp_path))
    last, previous = result.completed_checkpoints[-1], result.completed_checkpoints[-2]
    victim = sorted(p for p in (tmp_path / f"chk-{last.checkpoint_id}").iterdir() if p.name != "_metadata.json")[0]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptCheckpointError, match=victim.name):
        load_checkpoint(last.path)
    victim.write_bytes(data[:-2] + (b"0" if data[-2:-1] != b"0" else b"1") + data[-1:])
    with pytest.raises(CorruptCheckpointError, match=victim.name):
        load_checkpoint(last.path)
    found, skipped = latest_valid_checkpoint(tmp_path)
    assert found.checkpoint_id == previous.checkpoint_id
    assert skipped[0].checkpoint_id == last.checkpoint_id and victim.name in skipped[0].reason


def _few_keys_change(incremental: bool) -> list[tuple[int, int]]:
    """5,000 keys written at the start, then only 10 hot keys: (checkpointed, full) bytes per checkpoint."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.enable_checkpointing(5)
    env.set_state_backend(EmbeddedRocksDBStateBackend(incremental))
    env.from_source(NumberSequenceSource(0, 30_000)).map(lambda i: (i if i < 5_000 else i % 10, 1)) \
        .key_by(lambda t: t[0]).sum(1).name("count").add_sink(lambda v: None)
    result = _run(env, ClusterSpec(slots_per_task_manager=1, cores_per_task_manager=1))
    return [(c.checkpointed_bytes, c.full_bytes) for c in result.checkpoints if c.status == "COMPLETED"]


def test_incremental_rocksdb_checkpoints_report_only_the_delta():
    """Few keys change between checkpoints: incremental checkpointed size is far below a full one."""
    full, incremental = _few_keys_change(False), _few_keys_change(True)
    assert all(checkpointed == total for checkpointed, total in full)
    after_load = [(c, t) for c, t in incremental if t == incremental[-1][1]]  # all 5,000 keys exist
    assert len(after_load) >= 3
    small = [checkpointed * 20 < total for checkpointed, total in after_load[1:]]
    # A chain of more than 10 deltas starts again with a full snapshot (the backend's max_chain_length).
    assert small.count(False) <= len(small) // 10 + 1 and small.count(True) >= 3


def test_unaligned_needs_exactly_once():
    env = _env()
    env.get_checkpoint_config().set_checkpointing_mode(CheckpointingMode.AT_LEAST_ONCE)
    env.get_checkpoint_config().enable_unaligned_checkpoints()
    with pytest.raises(ValueError, match="unaligned checkpoints need CheckpointingMode.EXACTLY_ONCE"):
        Simulation(env)


def test_rocksdb_and_hashmap_give_the_same_results_and_rocksdb_costs_more_time():
    """The backend changes where state lives and what it costs in virtual time, never the results."""
    runs = {}
    for backend in ("hashmap", "rocksdb"):
        env = _env(records=20_000)
        if backend == "rocksdb":
            env.set_state_backend(EmbeddedRocksDBStateBackend())
        runs[backend] = _run(env)
    assert sorted(runs["hashmap"].values("sink")) == sorted(runs["rocksdb"].values("sink"))
    busy = {b: r.metrics["count->sink[0]"].busy_us for b, r in runs.items()}
    assert busy["rocksdb"] > busy["hashmap"]


class _Point:
    def __init__(self, x):
        self.x = x


def test_state_that_cannot_be_serialised_fails_the_task_naming_state_and_fix():
    """A synchronous snapshot failure fails the task (as in Flink), with an error naming the state and the fix."""
    from sim.api import KeyedProcessFunction, ValueStateDescriptor

    class Keep(KeyedProcessFunction):
        def open(self, runtime_context):
            self.state = runtime_context.get_state(ValueStateDescriptor("last_point"))

        def process_element(self, value, ctx):
            self.state.update(_Point(value))
            yield value

    env = StreamExecutionEnvironment.get_execution_environment()
    env.enable_checkpointing(5)
    env.from_source(NumberSequenceSource(0, 20_000)).key_by(lambda v: v % 10).process(Keep()).add_sink(lambda v: None)
    result = Simulation(env).run()
    assert result.status == "FAILED"
    assert result.failure.operator == "process[0]"
    assert "state 'last_point'" in result.failure.error and "register_type" in result.failure.error


def test_a_failing_checkpoint_write_declines_the_checkpoint(tmp_path):
    """An I/O error in the asynchronous part declines that checkpoint (ASYNC_PHASE_FAILED), counted as a failure."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the checkpoint directory should be")
    env = _env()
    env.get_checkpoint_config().set_tolerable_checkpoint_failure_number(1_000)
    result = _run(env, checkpoint_dir=str(blocker / "checkpoints"))
    assert result.status == "FINISHED"
    reasons = {c.failure_reason for c in result.checkpoints if c.status == "FAILED"}
    assert "ASYNC_PHASE_FAILED" in reasons
