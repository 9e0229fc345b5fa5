"""Invalid jobs fail early with errors that name the operator and say what was expected.

Build-time problems raise `JobBuildError` (or ValueError from the API call
itself); a problem only visible while records flow (a None key) fails the run,
and `result.failure` names the subtask's operator.
"""

from __future__ import annotations

import pytest

from sim import ClusterSpec, ClusterTooSmallError, JobBuildError, JobExecutionError, Simulation
from sim.api import StreamExecutionEnvironment
from sim.graph import build_stream_graph
from sim.trace import TaskFailed


def _env(parallelism: int = 2) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    return env


def test_forward_between_different_parallelisms_names_both_operators() -> None:
    """forward() from p=1 to p=2 is rejected at build time, naming both operators and both parallelisms."""
    env = _env(2)
    env.from_collection([1, 2]).forward().map(lambda v: v).print()
    with pytest.raises(JobBuildError) as info:
        Simulation(env)
    message = str(info.value)
    assert "forward() from source (parallelism 1) to map (parallelism 2)" in message
    assert "rebalance()" in message


def test_forward_error_uses_the_readable_id_of_a_named_operator() -> None:
    """A named operator appears under its derived id (`My Map` -> `my_map`)."""
    env = _env(4)
    env.from_sequence(1, 3).map(lambda v: v).name("My Map").forward().print().set_parallelism(2)
    with pytest.raises(JobBuildError, match=r"forward\(\) from my_map \(parallelism 4\) to print \(parallelism 2\)"):
        build_stream_graph(env)


def test_parallelism_above_max_parallelism() -> None:
    """env max parallelism 4 with parallelism 8: the first operator is named with both numbers."""
    env = _env(8)
    env.set_max_parallelism(4)
    env.from_sequence(1, 10).map(lambda v: v).print()
    with pytest.raises(JobBuildError, match=r"operator 'source' must not exceed its max_parallelism 4, got 8"):
        Simulation(env)


def test_operator_max_parallelism_below_its_parallelism() -> None:
    """An operator's own max parallelism below its parallelism names that operator."""
    env = _env(4)
    env.from_sequence(1, 10).map(lambda v: v).set_max_parallelism(2).print()
    with pytest.raises(JobBuildError, match=r"operator 'map' must not exceed its max_parallelism 2, got 4"):
        build_stream_graph(env)


@pytest.mark.parametrize("bad", [0, -3, 40_000, 2.0])
def test_operator_max_parallelism_out_of_range_is_rejected(bad) -> None:
    """An operator's max parallelism must be an int in 1..32768, checked at the call (as Flink's
    Transformation.setMaxParallelism); 0 used to be silently treated as "unset"."""
    env = _env(2)
    ds = env.from_sequence(1, 10).map(lambda v: v)
    with pytest.raises(ValueError, match=r"max parallelism of 'Map' must be an int in 1\.\.32768, got"):
        ds.set_max_parallelism(bad)


@pytest.mark.parametrize("bad", [0, 40_000, "8"])
def test_env_max_parallelism_out_of_range_is_rejected(bad) -> None:
    """env.set_max_parallelism validates 1..32768 at once."""
    with pytest.raises(ValueError, match=r"max parallelism must be an int in 1\.\.32768"):
        _env().set_max_parallelism(bad)


def test_set_parallelism_on_a_non_parallel_source() -> None:
    """from_collection is non-parallel: set_parallelism(2) fails at once, naming it; set_parallelism(1) is fine."""
    env = _env(2)
    ds = env.from_collection([1, 2, 3])
    message = r"'Collection Source' is a non-parallel operator: its parallelism must be 1, got 2"
    with pytest.raises(ValueError, match=message):
        ds.set_parallelism(2)
    ds.set_parallelism(1)


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_set_parallelism_must_be_positive(bad) -> None:
    """Parallelism must be a positive int, for the environment and for an operator."""
    env = _env()
    with pytest.raises(ValueError, match="positive int"):
        env.set_parallelism(bad)
    with pytest.raises(ValueError, match=r"parallelism of 'Map' must be a positive int"):
        env.from_sequence(1, 2).map(lambda v: v).set_parallelism(bad)


def test_settings_on_a_partition_are_rejected() -> None:
    """rebalance() is not an operator: set_parallelism on it says so."""
    env = _env()
    with pytest.raises(ValueError, match=r"set_parallelism\(\) applies to an operator, not to a partition"):
        env.from_sequence(1, 3).rebalance().set_parallelism(2)


def test_empty_job_without_sinks() -> None:
    """A job with no sink has nothing to run; the error says how to add one."""
    env = _env()
    env.from_collection([1, 2]).map(lambda v: v)
    with pytest.raises(JobBuildError, match="the job has no sinks"):
        Simulation(env)
    with pytest.raises(JobBuildError, match="print\\(\\)"):
        env.execute()


def test_cluster_too_small_names_the_slots() -> None:
    """A job needing 3 slots on a 2-slot cluster raises ClusterTooSmallError with both numbers."""
    env = _env(2)
    env.from_sequence(1, 10).map(lambda v: v).set_parallelism(3).print()
    with pytest.raises(ClusterTooSmallError) as info:
        Simulation(env, cluster=ClusterSpec(task_managers=1, slots_per_task_manager=2)).run()
    message = str(info.value)
    assert "needs 3 task slots" in message
    assert "group 'default' needs 3" in message
    assert "the cluster has 2 (1 task managers x 2 slots)" in message


def test_cluster_too_small_counts_slot_sharing_groups_separately() -> None:
    """Two slot-sharing groups of parallelism 2 need 4 slots."""
    env = _env(2)
    env.from_sequence(1, 10).map(lambda v: v).slot_sharing_group("other").print()
    message = r"needs 4 task slots \(group 'default' needs 2, group 'other' needs 2\)"
    with pytest.raises(ClusterTooSmallError, match=message):
        Simulation(env, cluster=ClusterSpec(task_managers=1, slots_per_task_manager=3)).run()


def test_none_key_fails_the_run_naming_the_producer() -> None:
    """A key selector returning None fails the producing subtask (map[0]) while routing; the key must not be None."""
    env = _env(2)
    env.from_collection([("a", 1), (None, 2)]).map(lambda t: t).set_parallelism(1) \
        .key_by(lambda t: t[0]).sum(1).print()
    result = Simulation(env, seed=3).run()
    assert result.status == "FAILED"
    failure = result.failure
    assert failure.operator == "map[0]"
    assert failure.task == "source->map[0]"
    assert failure.record == "(None, 2)"
    assert "key selector returned None" in failure.error
    assert "keys must not be None" in failure.error
    assert "while routing a record from map[0] to sum" in failure.traceback
    assert [e.operator for e in result.trace.of_type(TaskFailed)] == ["map[0]"]
    # the step that routed ("a", 1) failed before its buffer was published: nothing reached the sink
    assert result.values("print") == []


def test_none_key_through_execute_raises_job_execution_error() -> None:
    """env.execute() turns the failure into JobExecutionError naming the operator."""
    env = _env(1)
    env.from_collection([1, 2]).key_by(lambda v: None).sum().print()
    with pytest.raises(JobExecutionError, match=r"source\[0\] failed on record 1: KeySelectionError"):
        env.execute()
