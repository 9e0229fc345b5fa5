"""A user function that raises fails its subtask, and the failure says where, on what, and why.

`result.failure` names the operator's subtask (`map[1]`), the record (stable
repr, or None outside record processing such as `open()`), the error, and a
portable traceback reaching into the user's code; the trace has a TaskFailed
event, and `env.execute()` raises `JobExecutionError`.
"""

from __future__ import annotations

import pytest

from sim import JobExecutionError, Simulation, TraceLevel
from sim.api import (
    FlatMapFunction, KeyedProcessFunction, MapFunction, ProcessFunction, StreamExecutionEnvironment,
)
from sim.trace import JobFinished, RecordSent, TaskFailed, TaskFinished


def explode_at_seven(value):
    if value == 7:
        raise ValueError(f"cannot handle {value}")
    return value * 10


def _env(parallelism: int = 2) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    return env


def test_map_failure_names_subtask_record_and_user_line() -> None:
    """Sequence 1..10 at p=2: reader 1 reads 6..10, so 7 fails map[1] (one chain: source -> map -> sink)."""
    env = _env(2)
    env.from_sequence(1, 10).map(explode_at_seven).add_sink(lambda v: None)
    result = Simulation(env, seed=1).run()
    assert result.status == "FAILED"
    failure = result.failure
    assert failure.task == "source->map->sink[1]"
    assert failure.operator == "map[1]"
    assert failure.record == "7"
    assert failure.error == "ValueError: cannot handle 7"
    assert "test_user_errors.py" in failure.traceback
    assert "in explode_at_seven" in failure.traceback
    assert 'raise ValueError(f"cannot handle {value}")' in failure.traceback
    assert failure.traceback.rstrip().endswith("ValueError: cannot handle 7")
    assert str(failure).startswith("map[1] failed on record 7: ValueError: cannot handle 7")


def test_failure_is_in_the_trace_and_ends_the_job() -> None:
    """TaskFailed carries the same facts; JobFinished says FAILED; the failed subtask never finishes."""
    env = _env(2)
    env.from_sequence(1, 10).map(explode_at_seven).add_sink(lambda v: None)
    result = Simulation(env, seed=1).run()
    (failed,) = result.trace.of_type(TaskFailed)
    assert (failed.task, failed.operator, failed.record, failed.error) == (
        "source->map->sink[1]", "map[1]", "7", "ValueError: cannot handle 7")
    assert failed.traceback == result.failure.traceback
    assert result.trace.of_type(JobFinished)[-1].status == "FAILED"
    assert "source->map->sink[1]" not in {e.task for e in result.trace.of_type(TaskFinished)}


def test_failure_after_rebalance_hits_the_subtask_the_record_was_routed_to() -> None:
    """Behind a rebalance, the failing subtask is the consumer of the channel the record was sent on."""
    env = _env(2)
    env.from_collection([3, 5, 7, 9]).map(explode_at_seven).add_sink(lambda v: None)
    result = Simulation(env, seed=4, trace_level=TraceLevel.RECORDS).run()
    (sent,) = [e for e in result.trace.of_type(RecordSent) if e.task == "source[0]" and e.value == "7"]
    consumer = sent.channel.split("->", 1)[1]
    assert result.failure.task == consumer
    assert result.failure.operator == consumer.replace("->sink", "")
    # the same seed routes the same way
    again = Simulation(env, seed=4).run()
    assert again.failure.operator == result.failure.operator


def test_execute_raises_job_execution_error_naming_the_operator() -> None:
    """env.execute() of a failing job raises sim.JobExecutionError with the operator and record in its message."""
    env = _env(2)
    env.from_sequence(1, 10).map(explode_at_seven).add_sink(lambda v: None)
    with pytest.raises(JobExecutionError) as info:
        env.execute("failing")
    assert "map[1] failed on record 7: ValueError: cannot handle 7" in str(info.value)
    assert info.value.failure.operator == "map[1]"


class _FailingOpen(MapFunction):
    def open(self, runtime_context):
        raise RuntimeError(f"no connection for subtask {runtime_context.get_index_of_this_subtask()}")

    def map(self, value):
        return value


def test_failing_open_reports_without_a_record() -> None:
    """An exception in open() fails the subtask with record None and no 'on record' in the message."""
    env = _env(1)
    env.from_collection([1, 2]).map(_FailingOpen()).add_sink(lambda v: None)
    result = Simulation(env).run()
    assert result.status == "FAILED"
    failure = result.failure
    assert failure.operator == "map[0]"
    assert failure.record is None
    assert failure.error == "RuntimeError: no connection for subtask 0"
    assert "in open" in failure.traceback
    assert str(failure).startswith("map[0] failed: RuntimeError")
    (failed,) = result.trace.of_type(TaskFailed)
    assert failed.record is None
    assert result.values("sink") == []


class _FailingClose(MapFunction):
    def map(self, value):
        return value

    def close(self):
        raise OSError("flush failed")


def test_failing_close_reports_without_a_record() -> None:
    """An exception in close() at end of input fails the subtask, with no record."""
    env = _env(1)
    env.from_collection([1, 2]).map(_FailingClose()).add_sink(lambda v: None)
    result = Simulation(env).run()
    assert result.status == "FAILED"
    assert (result.failure.operator, result.failure.record, result.failure.error) == (
        "map[0]", None, "OSError: flush failed")


class _Splitter(FlatMapFunction):
    def flat_map(self, value):
        for word in value.split():
            if word == "bad":
                raise KeyError(word)
            yield word


class _KeyedBoom(KeyedProcessFunction):
    def process_element(self, value, ctx):
        if ctx.get_current_key() == "b":
            raise ZeroDivisionError("key b")
        yield value


class _ProcessBoom(ProcessFunction):
    def process_element(self, value, ctx):
        yield value
        raise ArithmeticError("after the first output")


def _only(env):
    return Simulation(env, seed=2).run()


@pytest.mark.parametrize(("build", "operator", "record", "error"), [
    (lambda env: env.from_collection(["ok", "a bad line"]).flat_map(_Splitter()),
     "flat_map[0]", "'a bad line'", "KeyError: 'bad'"),
    (lambda env: env.from_collection([1, 0]).filter(lambda v: 1 / v),
     "filter[0]", "0", "ZeroDivisionError: division by zero"),
    (lambda env: env.from_collection(["a", "b"]).key_by(lambda v: v).process(_KeyedBoom()),
     "process[0]", "'b'", "ZeroDivisionError: key b"),
    (lambda env: env.from_collection([1]).process(_ProcessBoom()),
     "process[0]", "1", "ArithmeticError: after the first output"),
    (lambda env: env.from_collection([(1, "x"), (1, "y")]).key_by(lambda t: t[0]).reduce(lambda a, b: a[1] + b),
     "reduce[0]", "(1, 'y')", "TypeError: can only concatenate str (not \"tuple\") to str"),
    (lambda env: env.from_collection([{"k": 1}, {}]).key_by(lambda d: d["k"]).map(lambda d: d),
     "source[0]", "{}", "KeyError: 'k'"),
])
def test_every_operator_kind_reports_its_failure(build, operator, record, error) -> None:
    """Each operator kind wraps a user exception with its own subtask label and the input record."""
    env = _env(1)
    build(env).add_sink(lambda v: None)
    failure = _only(env).failure
    assert (failure.operator, failure.record, failure.error) == (operator, record, error)


def test_failing_sink_function() -> None:
    """A raising sink callable fails the sink subtask on that record."""
    env = _env(1)

    def sink(value):
        if value == 2:
            raise RuntimeError("disk full")

    env.from_collection([1, 2, 3]).add_sink(sink)
    result = Simulation(env).run()
    assert (result.failure.operator, result.failure.record, result.failure.error) == (
        "sink[0]", "2", "RuntimeError: disk full")


def test_failure_in_a_chained_successor_is_attributed_to_the_successor() -> None:
    """In source -> map -> map_2, an error in map_2 names map_2, not the operators that called it."""
    env = _env(1)
    env.from_collection([1, 7]).map(lambda v: v).map(explode_at_seven).add_sink(lambda v: None)
    result = Simulation(env).run()
    assert result.failure.task == "source->map->map_2->sink[0]"
    assert result.failure.operator == "map_2[0]"


def test_execute_and_collect_of_a_failing_job_raises() -> None:
    """execute_and_collect raises JobExecutionError too, and leaves the environment without its collect sink."""
    env = _env(1)
    ds = env.from_collection([6, 7, 8]).map(explode_at_seven)
    with pytest.raises(JobExecutionError, match=r"map\[0\] failed on record 7"):
        ds.execute_and_collect()
    assert [t.kind for t in env.transformations if t.kind == "sink"] == []
