"""Jobs written as for PyFlink run unchanged on `sim.api` (only the imports differ).

Covers the DataStream tutorial shape (from_collection with type_info, map with
output_type, key_by, reduce, print, execute), class-based functions with keyed
ValueState and `yield`, side outputs, and execute_and_collect.

Printing: like Flink, a parallel print sink prefixes `subtask+1> `; the value
is printed with Python's `str()` (PyFlink prints Java-typed values in Java's
format, e.g. `(aaa,1)` for a TUPLE; that difference is documented as a
simplification of `output_type`).
"""

from __future__ import annotations

import ast
from collections import defaultdict

import pytest

from sim import Simulation
from sim.api import (
    CloseableIterator, KeyedProcessFunction, MapFunction, OutputTag, ProcessFunction, ReduceFunction,
    RuntimeContext, StreamExecutionEnvironment, Types, ValueStateDescriptor,
)
from sim.kernel import assign_key_to_parallel_operator


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


def test_tutorial_job_prints_the_rolling_reduce(capsys) -> None:
    """The PyFlink tutorial job: every key's running totals, in order per key, on the key's subtask."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    ds = env.from_collection(
        collection=[(1, "aaa|bb"), (2, "bb|a"), (3, "aaa|a")],
        type_info=Types.ROW([Types.INT(), Types.STRING()]))

    def split(s):
        for word in s[1].split("|"):
            yield word, s[0]

    ds = ds.flat_map(split, output_type=Types.TUPLE([Types.STRING(), Types.INT()])) \
        .map(lambda t: (t[0], t[1]), output_type=Types.TUPLE([Types.STRING(), Types.INT()])) \
        .key_by(lambda t: t[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
    ds.print()
    result = env.execute("tutorial")

    lines = _lines(capsys.readouterr().out)
    # flat_map runs at p=2 behind a rebalance, so one key's inputs may come from two senders and arrive in
    # either order (Flink orders only per sender/receiver pair); each key's lines are the running sums of
    # some order of its inputs, printed by the key's subtask.
    inputs = {"aaa": [1, 3], "bb": [1, 2], "a": [2, 3]}
    printed = defaultdict(list)
    for line in lines:
        prefix, _, text = line.partition("> ")
        key, total = ast.literal_eval(text)  # a printed tuple such as ('aaa', 4)
        assert int(prefix) == assign_key_to_parallel_operator(key, 128, 2) + 1, line
        printed[key].append(total)
    assert set(printed) == set(inputs)
    for key, values in inputs.items():
        orders = [values, values[::-1]]
        assert printed[key] in [[sum(order[:i + 1]) for i in range(len(order))] for order in orders], key
    assert len(lines) == 6
    assert result.get_job_execution_result() is result
    assert result.result.job_name == "tutorial"
    assert result.get_net_runtime() >= 0


def test_word_count_at_parallelism_one_prints_without_prefix(capsys) -> None:
    """The tutorial's word count with set_parallelism(1): lines carry no `n> ` prefix and keep input order."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    ds = env.from_collection(["to be or", "not to be"])

    def split(line):
        yield from line.split()

    ds.flat_map(split) \
        .map(lambda i: (i, 1), output_type=Types.TUPLE([Types.STRING(), Types.INT()])) \
        .key_by(lambda i: i[0]) \
        .reduce(lambda i, j: (i[0], i[1] + j[1])) \
        .print()
    env.execute()
    assert _lines(capsys.readouterr().out) == [
        "('to', 1)", "('be', 1)", "('or', 1)", "('not', 1)", "('to', 2)", "('be', 2)"]


@pytest.mark.parametrize(("identifier", "parallelism", "expected"), [
    (None, 1, ["7"]),
    (None, 2, ["1> 7", "2> 8"]),
    ("out", 1, ["out> 7"]),  # was "out: 7" before the fix
    ("out", 2, ["out:1> 7", "out:2> 8"]),
])
def test_print_prefixes_follow_flinks_print_sink(capsys, identifier, parallelism, expected) -> None:
    """Flink's PrintSinkOutputWriter: `id:n> ` when parallel, `id> ` at p=1, `n> ` or nothing without an id."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    # one record per print subtask: rescale from a p=1 source visits subtasks 0, 1, ... in order
    env.from_collection([7, 8][:parallelism]).rescale().print(identifier)
    env.execute()
    assert sorted(_lines(capsys.readouterr().out)) == expected


class Doubler(MapFunction):
    def open(self, runtime_context: RuntimeContext):
        self.subtask = runtime_context.get_index_of_this_subtask()

    def map(self, value):
        return value[0], value[1] * 2


class CountPerKey(KeyedProcessFunction):
    """Counts records per key in ValueState and yields (key, count, sum)."""

    def open(self, runtime_context: RuntimeContext):
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))
        self.total = runtime_context.get_state(ValueStateDescriptor("total", Types.LONG()))

    def process_element(self, value, ctx: KeyedProcessFunction.Context):
        count = (self.count.value() or 0) + 1
        total = (self.total.value() or 0) + value[1]
        self.count.update(count)
        self.total.update(total)
        yield ctx.get_current_key(), count, total


def _count_per_key(parallelism: int) -> dict[str, list[tuple]]:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    data = [("x", 1), ("y", 10), ("x", 2), ("z", 5), ("y", 20), ("x", 3)]
    env.from_collection(data).map(Doubler()).key_by(lambda t: t[0]).process(CountPerKey()).add_sink(lambda v: None)
    result = Simulation(env, seed=5).run()
    assert result.status == "FINISHED"
    per_key = defaultdict(list)
    for record in result.outputs["sink"]:
        per_key[record.value[0]].append(record.value)
        assert record.subtask == assign_key_to_parallel_operator(record.value[0], 128, parallelism)
    return dict(per_key)


COUNTS = {"x": [("x", 1, 2), ("x", 2, 6), ("x", 3, 12)], "y": [("y", 1, 20), ("y", 2, 60)], "z": [("z", 1, 10)]}


def test_class_based_keyed_state_job() -> None:
    """MapFunction then KeyedProcessFunction with two ValueStates: per-key counts and sums, scoped by key."""
    assert _count_per_key(1) == COUNTS


def test_class_based_keyed_state_job_in_parallel() -> None:
    """At p=3 each subtask has its own function instance, so per-key state stays per key.

    A key's records reach its subtask through different map subtasks (rebalance),
    and Flink keeps order only per sender-receiver pair, so the running sums may
    come in another order; the counts still run 1..n and the final totals match.
    """
    got = _count_per_key(3)
    assert sorted(got) == sorted(COUNTS)
    for key, expected in COUNTS.items():
        assert [count for _, count, _ in got[key]] == list(range(1, len(expected) + 1))
        assert got[key][-1][2] == expected[-1][2]


class SubtaskIndex(MapFunction):
    def open(self, runtime_context: RuntimeContext):
        self.index = runtime_context.get_index_of_this_subtask()

    def map(self, value):
        return self.index


def test_each_subtask_has_its_own_function_instance() -> None:
    """A value stored in open() is the subtask's own: map returns the index of the subtask that ran it."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(3)
    env.from_collection(list(range(9))).map(SubtaskIndex()).add_sink(lambda v: None)
    records = Simulation(env, seed=1).run().outputs["sink"]
    assert {r.value for r in records} == {0, 1, 2}
    assert all(r.value == r.subtask for r in records)


class StatefulMap(MapFunction):
    """A map on a keyed stream may use keyed state too."""

    def open(self, runtime_context: RuntimeContext):
        self.seen = runtime_context.get_state(ValueStateDescriptor("seen"))

    def map(self, value):
        previous = self.seen.value()
        self.seen.update(value)
        return value, previous


def test_keyed_map_function_state_and_clear() -> None:
    """A MapFunction after key_by reads and writes the current key's ValueState."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection(["a1", "b1", "a2", "a3", "b2"]).key_by(lambda s: s[0]).map(StatefulMap()) \
        .add_sink(lambda v: None)
    assert Simulation(env).run().values("sink") == [
        ("a1", None), ("b1", None), ("a2", "a1"), ("a3", "a2"), ("b2", "b1")]


def test_state_outside_a_keyed_stream_fails_clearly() -> None:
    """get_state in a non-keyed operator fails the subtask saying keyed state needs key_by()."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([1]).map(StatefulMap()).add_sink(lambda v: None)
    failure = Simulation(env).run().failure
    assert failure.operator == "map[0]"
    assert failure.record is None
    assert "keyed state needs key_by()" in failure.error


class SumReducer(ReduceFunction):
    def reduce(self, value1, value2):
        return value1[0], value1[1] + value2[1]


def test_reduce_function_class() -> None:
    """A ReduceFunction object works like the lambda."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([("k", 1), ("k", 2), ("j", 4), ("k", 3)]).key_by(lambda t: t[0]).reduce(SumReducer()) \
        .add_sink(lambda v: None)
    assert Simulation(env).run().values("sink") == [("k", 1), ("k", 3), ("j", 4), ("k", 6)]


ODD = OutputTag("odd", Types.INT())


class SplitOddEven(ProcessFunction):
    def process_element(self, value, ctx: ProcessFunction.Context):
        if value % 2:
            yield ODD, value * 100
        else:
            yield value


def test_process_function_side_output() -> None:
    """`yield tag, value` goes to get_side_output(tag); other values go to the main output."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    main = env.from_collection(list(range(8))).process(SplitOddEven(), output_type=Types.INT())
    main.add_sink(lambda v: None).name("evens")
    main.get_side_output(ODD).map(lambda v: v + 1).add_sink(lambda v: None).name("odds")
    result = Simulation(env, seed=2).run()
    assert sorted(result.values("evens")) == [0, 2, 4, 6]
    assert sorted(result.values("odds")) == [101, 301, 501, 701]


def test_unconsumed_side_output_is_dropped() -> None:
    """A side output nobody reads is discarded; the main output is unaffected."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection(list(range(6))).process(SplitOddEven()).add_sink(lambda v: None)
    assert Simulation(env).run().values("sink") == [0, 2, 4]


def test_execute_and_collect_as_context_manager() -> None:
    """`with ds.execute_and_collect() as results:` iterates every record of the stream."""
    env = StreamExecutionEnvironment.get_execution_environment()
    ds = env.from_collection([3, 1, 2]).map(lambda v: v * v)
    with ds.execute_and_collect() as results:
        assert isinstance(results, CloseableIterator)
        collected = list(results)
    assert collected == [9, 1, 4]


def test_execute_and_collect_with_limit() -> None:
    """execute_and_collect(limit=n) returns the first n records as a list."""
    env = StreamExecutionEnvironment.get_execution_environment()
    ds = env.from_collection(list(range(10))).map(lambda v: v + 1)
    assert ds.execute_and_collect(limit=3) == [1, 2, 3]


def test_execute_and_collect_leaves_the_job_reusable() -> None:
    """The collect sink is removed after the run, so collecting twice works; close() ends the iteration."""
    env = StreamExecutionEnvironment.get_execution_environment()
    ds = env.from_collection(["a", "b"]).map(str.upper)
    first = ds.execute_and_collect()
    assert next(first) == "A"
    first.close()
    assert list(first) == []
    assert list(ds.execute_and_collect("again")) == ["A", "B"]
    assert not [t for t in env.transformations if t.kind == "sink"]
