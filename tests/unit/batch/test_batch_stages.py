"""BATCH stages in the world: blocking exchanges, stages one after another, no checkpoints."""

from __future__ import annotations

from collections import Counter

from sim import ClusterSpec, Simulation
from sim.api import EmbeddedRocksDBStateBackend, RuntimeExecutionMode, StreamExecutionEnvironment
from sim.trace import (
    BackpressureStarted, BarrierSent, BatchExecutionPlanned, BufferConsumed, CheckpointTriggered,
    ExchangeMaterialized, StageFinished, StageStarted, TaskDeployed,
)

KEYS = 7
RECORDS = 3000


def _job(mode: RuntimeExecutionMode | None = RuntimeExecutionMode.BATCH, checkpoint_ms: int | None = None,
         seed: int = 5):
    """source->map | rebalance | map_2 | keyBy | sum->sink, at parallelism 2 on two TaskManagers.

    `mode` None leaves the environment's default.
    """
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    if mode is not None:
        env.set_runtime_mode(mode)
    if checkpoint_ms is not None:
        env.enable_checkpointing(checkpoint_ms)
    (env.from_sequence(1, RECORDS).map(lambda i: i).rebalance().map(lambda i: (i % KEYS, 1))
        .key_by(lambda t: t[0]).sum(1).add_sink(lambda v: None))
    return Simulation(env, cluster=ClusterSpec(task_managers=2, slots_per_task_manager=1), seed=seed).run()


def _task_of(event) -> str | None:
    return getattr(event, "task", None)


def test_each_stage_runs_only_after_the_stage_before_it_finished() -> None:
    result = _job()
    assert result.status == "FINISHED", result.failure
    events = list(result.trace)
    started = {e.stage: i for i, e in enumerate(events) if isinstance(e, StageStarted)}
    finished = {e.stage: i for i, e in enumerate(events) if isinstance(e, StageFinished)}
    assert list(started) == list(finished) == [0, 1, 2]
    tasks = {e.stage: e.tasks for e in events if isinstance(e, StageStarted)}
    assert tasks == {0: ["source->map[0]", "source->map[1]"], 1: ["map_2[0]", "map_2[1]"],
                     2: ["sum->sink[0]", "sum->sink[1]"]}
    for stage in (1, 2):
        assert finished[stage - 1] < started[stage]
        assert events[started[stage]].t_us > events[finished[stage - 1]].t_us  # deployment takes time
    stage_of_task = {task: stage for stage, names in tasks.items() for task in names}
    for i, event in enumerate(events):
        stage = stage_of_task.get(_task_of(event))
        if stage is not None:  # every step, deployment and end of a task lies inside its stage
            assert started[stage] < i <= finished[stage], event
    # The sums are complete: one final value per key.
    assert sorted(result.values()) == sorted(Counter(i % KEYS for i in range(1, RECORDS + 1)).items())


def test_blocking_exchanges_hold_everything_and_producers_never_wait() -> None:
    result = _job()
    materialized = result.trace.of_type(ExchangeMaterialized)
    assert [(e.producer, e.consumer) for e in materialized] == [("source->map", "map_2"), ("map_2", "sum->sink")]
    consumed = Counter(e.task.split("[")[0] for e in result.trace.of_type(BufferConsumed))
    assert [e.buffers for e in materialized] == [consumed["map_2"], consumed["sum->sink"]]
    assert all(e.buffers > 0 and e.size_bytes > 0 for e in materialized)
    # A blocking partition has no pool limit: the tasks writing one are never backpressured.
    assert not [e for e in result.trace.of_type(BackpressureStarted) if not e.task.startswith("sum->sink")]


def test_tasks_are_deployed_with_their_stage() -> None:
    result = _job()
    deployed = {e.task: e.t_us for e in result.trace.of_type(TaskDeployed)}
    starts = {e.stage: e.t_us for e in result.trace.of_type(StageStarted)}
    assert deployed["source->map[0]"] == starts[0] == 0
    assert deployed["sum->sink[1]"] == starts[2] > 0


def test_batch_takes_no_checkpoints_and_says_so() -> None:
    result = _job(checkpoint_ms=1)
    assert not result.trace.of_type(CheckpointTriggered) and not result.trace.of_type(BarrierSent)
    assert result.completed_checkpoints == [] and result.checkpoints == []
    [plan] = result.trace.of_type(BatchExecutionPlanned)
    assert (plan.requested_mode, plan.stages) == ("BATCH", 3)
    assert plan.checkpointing == "ignored (interval 1 ms configured)"
    assert "runtime mode BATCH (asked for BATCH): 3 stage(s)" in result.summary()
    assert "checkpointing ignored (interval 1 ms configured)" in result.summary()


def test_the_streaming_run_of_the_same_job_does_checkpoint() -> None:
    """The contrast, so the test above is not empty: STREAMING triggers checkpoints in this job."""
    result = _job(RuntimeExecutionMode.STREAMING, checkpoint_ms=1)
    assert result.trace.of_type(CheckpointTriggered)
    assert not result.trace.of_type(StageStarted) and not result.trace.of_type(BatchExecutionPlanned)


def test_the_configured_state_backend_is_ignored() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_runtime_mode(RuntimeExecutionMode.BATCH).set_state_backend(EmbeddedRocksDBStateBackend())
    env.from_collection([("x", 1), ("y", 2), ("x", 3)]).key_by(lambda t: t[0]).sum(1).add_sink(lambda v: None)
    assert sorted(Simulation(env).run().values()) == [("x", 4), ("y", 2)]


def test_batch_runs_are_deterministic() -> None:
    first, second = _job(seed=11), _job(seed=11)
    assert first.digest == second.digest


def test_explicit_streaming_is_the_default() -> None:
    assert _job(RuntimeExecutionMode.STREAMING).digest == _job(None).digest
