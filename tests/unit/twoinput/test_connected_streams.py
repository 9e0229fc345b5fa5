"""ConnectedStreams: CoMap and CoFlatMap results, keyed state shared by both inputs, and API errors."""

from __future__ import annotations

from collections import Counter

import pytest

from sim import Simulation
from sim.api import (
    BroadcastStream, CoFlatMapFunction, CoMapFunction, ConnectedStreams, CoProcessFunction, DataStream,
    KeyedCoProcessFunction, MapStateDescriptor, ProcessFunction, StreamExecutionEnvironment, ValueStateDescriptor,
)

from tests.unit.twoinput.jobs import environment


class Tag(CoMapFunction):
    def map1(self, value):
        return "number", value * 10

    def map2(self, value):
        return "word", value.upper()


class Split(CoFlatMapFunction):
    def flat_map1(self, line):
        yield from line.split()

    def flat_map2(self, count):
        for _ in range(count):
            yield "#"


def _run(env, seed=3):
    result = Simulation(env, seed=seed).run()
    assert result.status == "FINISHED", result.failure
    return result


def test_co_map_sends_each_input_through_its_own_method():
    env = environment(3)
    numbers = env.from_collection([1, 2, 3, 4])
    words = env.from_collection(["a", "b"])
    numbers.connect(words).map(Tag()).add_sink(lambda v: None).name("out")
    result = _run(env)
    assert Counter(result.values("out")) == Counter(
        [("number", 10), ("number", 20), ("number", 30), ("number", 40), ("word", "A"), ("word", "B")])
    # Four inputs from one side, two from the other: one output each, on every subtask's count.
    co_map = [m for task, m in result.metrics.items() if task.startswith("co_map")]
    assert sum(m.records_in for m in co_map) == 6


def test_co_flat_map_yields_any_number_per_input():
    env = environment(2)
    lines = env.from_collection(["to be", "or not to be"])
    counts = env.from_collection([0, 3])
    lines.connect(counts).flat_map(Split()).add_sink(lambda v: None).name("out")
    result = _run(env)
    assert Counter(result.values("out")) == Counter(["to", "be", "or", "not", "to", "be", "#", "#", "#"])
    assert sum(m.records_out for t, m in result.metrics.items() if t.startswith("co_flat_map")) == 9


class CountBoth(CoMapFunction):
    """One counter per key, advanced by records of either input."""

    def open(self, runtime_context):
        self.seen = runtime_context.get_state(ValueStateDescriptor("seen"))

    def _count(self, key):
        self.seen.update((self.seen.value() or 0) + 1)
        return key, self.seen.value()

    def map1(self, value):
        return self._count(value[0])

    def map2(self, value):
        return self._count(value)


def test_connected_keyed_streams_share_keyed_state_across_inputs():
    """Records with equal keys meet in one subtask, whichever input they come from, and see one counter."""
    env = environment(3)
    left = env.from_collection([("k1", 0), ("k2", 0), ("k1", 0)])
    right = env.from_collection(["k1", "k3", "k2"])
    left.connect(right).key_by(lambda v: v[0], lambda v: v).map(CountBoth()).add_sink(lambda v: None).name("out")
    result = _run(env)
    final = {}
    for key, count in result.values("out"):
        final[key] = max(final.get(key, 0), count)
    assert final == {"k1": 3, "k2": 2, "k3": 1}
    owners = {}
    for record in result.outputs["out"]:
        owners.setdefault(record.value[0], set()).add(record.subtask)
    assert all(len(subtasks) == 1 for subtasks in owners.values())


def test_each_input_keeps_its_own_partitioning():
    """Input 1 keyed, input 2 broadcast: every subtask sees every record of input 2."""
    class Mark(CoFlatMapFunction):
        def flat_map1(self, value):
            return []

        def flat_map2(self, value):
            yield value

    env = environment(3)
    env.from_collection([1]).connect(env.from_collection(["x"]).broadcast()).flat_map(Mark()) \
        .add_sink(lambda v: None).name("out")
    result = _run(env)
    assert sorted(r.subtask for r in result.outputs["out"]) == [0, 1, 2]


def test_api_checks_the_function_and_the_keys():
    env = StreamExecutionEnvironment.get_execution_environment()
    a, b = env.from_collection([1]), env.from_collection([2])
    connected = a.connect(b)
    assert isinstance(connected, ConnectedStreams) and not connected.is_keyed
    with pytest.raises(TypeError, match="map on connected streams needs a CoMapFunction"):
        connected.map(lambda v: v)
    with pytest.raises(TypeError, match="KeyedCoProcessFunction needs both connected streams keyed"):
        connected.process(KeyedCoProcessFunction())
    with pytest.raises(TypeError, match="needs a CoProcessFunction"):
        connected.process(ProcessFunction())
    assert connected.key_by(lambda v: v, lambda v: v).is_keyed
    assert a.key_by(lambda v: v).connect(b.key_by(lambda v: v)).is_keyed
    other = StreamExecutionEnvironment.get_execution_environment().from_collection([3])
    with pytest.raises(ValueError, match="same StreamExecutionEnvironment"):
        a.connect(other).process(CoProcessFunction())


def test_broadcast_without_descriptors_is_still_a_partitioning():
    env = StreamExecutionEnvironment.get_execution_environment()
    stream = env.from_collection([1])
    assert isinstance(stream.broadcast(), DataStream)
    assert isinstance(stream.broadcast(MapStateDescriptor("rules")), BroadcastStream)


def test_a_co_process_function_gets_time_but_no_timers_on_unkeyed_inputs():
    class Stamps(CoProcessFunction):
        def process_element1(self, value, ctx):
            yield value, ctx.timestamp(), ctx.timer_service().current_processing_time() >= 0

        def process_element2(self, value, ctx):
            ctx.timer_service().register_event_time_timer(5)

    env = environment()
    env.from_collection(["a"]).connect(env.from_collection(["b"])).process(Stamps()).add_sink(lambda v: None)
    result = Simulation(env).run()
    assert result.status == "FAILED"
    assert result.failure.operator == "co_process[0]"
    assert "only supported on a keyed stream" in result.failure.error
