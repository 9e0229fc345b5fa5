"""Tests for ExecutionGraph wiring: pointwise and all-to-all channels between subtasks.

POINTWISE (forward, rescale), as Flink's EdgeManagerBuildUtil.connectPointwise,
with S producers and T consumers: S == T is i <-> i; S > T: consumer j reads
producers [j*S/T, (j+1)*S/T); S < T: producer i feeds consumers
[ceil(i*T/S), ceil((i+1)*T/S)). Every other partitioner is all-to-all.
"""

from __future__ import annotations

import math

import pytest

from sim import Simulation, TraceLevel
from sim.api import StreamExecutionEnvironment
from sim.graph import build_execution_graph, build_job_graph, build_stream_graph, pointwise_targets
from sim.trace import RecordSent

SHAPES = [(s, t) for s in range(1, 9) for t in range(1, 9)]


def _reference_targets(i: int, s: int, t: int) -> list[int]:
    """The fact sheet's formulas, written independently of the code under test."""
    if s == t:
        return [i]
    if s > t:
        return [j for j in range(t) if (j * s) // t <= i < ((j + 1) * s) // t]
    return list(range(math.ceil(i * t / s), math.ceil((i + 1) * t / s)))


@pytest.mark.parametrize(("s", "t", "expected"), [
    (3, 3, [[0], [1], [2]]),
    (4, 2, [[0], [0], [1], [1]]),
    (5, 2, [[0], [0], [1], [1], [1]]),
    (2, 4, [[0, 1], [2, 3]]),
    (2, 5, [[0, 1, 2], [3, 4]]),
    (3, 7, [[0, 1, 2], [3, 4], [5, 6]]),
    (7, 3, [[0], [0], [1], [1], [2], [2], [2]]),
    (1, 3, [[0, 1, 2]]),
    (3, 1, [[0], [0], [0]]),
])
def test_pointwise_targets_known_shapes(s: int, t: int, expected: list[list[int]]) -> None:
    """Explicit wiring tables for equal, fan-in and fan-out shapes."""
    assert [pointwise_targets(i, s, t) for i in range(s)] == expected


def test_pointwise_fan_in_reads_the_documented_producer_range() -> None:
    """S > T: consumer j's producers are exactly [j*S//T, (j+1)*S//T)."""
    for s, t in SHAPES:
        if s <= t:
            continue
        for j in range(t):
            producers = [i for i in range(s) if j in pointwise_targets(i, s, t)]
            assert producers == list(range(j * s // t, (j + 1) * s // t)), (s, t, j)


@pytest.mark.parametrize(("s", "t"), SHAPES)
def test_pointwise_groups_partition_the_consumers(s: int, t: int) -> None:
    """Every consumer has at least one producer; for S <= T each consumer has exactly one (the groups partition)."""
    targets = [pointwise_targets(i, s, t) for i in range(s)]
    assert targets == [_reference_targets(i, s, t) for i in range(s)]
    assert all(targets), "every producer feeds at least one consumer"
    producers_of = {j: [i for i in range(s) if j in targets[i]] for j in range(t)}
    assert all(producers_of.values()), "every consumer has at least one producer"
    if s <= t:
        assert sorted(j for group in targets for j in group) == list(range(t))
    else:
        assert all(len(group) == 1 for group in targets)
    # groups are contiguous ranges
    for group in targets:
        assert group == list(range(group[0], group[-1] + 1))


def _graph(s: int, t: int, how: str):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(s)
    up = env.from_sequence(1, 100)
    if how != "default":
        up = getattr(up, how)()
    up.map(lambda v: v).set_parallelism(t).add_sink(lambda v: None).set_parallelism(t)
    return build_execution_graph(build_job_graph(build_stream_graph(env)))


def _edges(eg, producer_vertex: str = "source") -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for sub in eg.subtasks_of(producer_vertex):
        (chans,) = sub.outputs.values()
        out[sub.index] = [int(ch.consumer.rsplit("[", 1)[1].rstrip("]")) for ch in chans]
    return out


@pytest.mark.parametrize(("s", "t"), [(3, 3), (4, 2), (5, 2), (2, 4), (2, 5), (3, 7)])
def test_rescale_channels_follow_pointwise_wiring(s: int, t: int) -> None:
    """A rescale edge in the ExecutionGraph has exactly the pointwise channels, numbered in consumer order."""
    eg = _graph(s, t, "rescale")
    assert _edges(eg) == {i: _reference_targets(i, s, t) for i in range(s)}
    for sub in eg.subtasks_of("source"):
        (chans,) = sub.outputs.values()
        assert [ch.subpartition for ch in chans] == list(range(len(chans)))
        expected = [f"source[{sub.index}]->map->sink[{j}]" for j in _reference_targets(sub.index, s, t)]
        assert [ch.id for ch in chans] == expected
    for sub in eg.subtasks_of("map->sink"):
        assert [ch.input_index for ch in sub.inputs] == list(range(len(sub.inputs)))
        assert sub.inputs, f"{sub.id} has no input"


ALL_TO_ALL = [(how, s, t) for how in ["default", "rebalance", "shuffle", "broadcast", "global_"]
              for s, t in [(2, 3), (4, 2), (3, 3)] if not (how == "default" and s == t)]  # default at s == t: forward


@pytest.mark.parametrize(("how", "s", "t"), ALL_TO_ALL)
def test_all_to_all_gives_s_times_t_channels(how: str, s: int, t: int) -> None:
    """Non-pointwise edges connect every producer to every consumer: S*T channels."""
    eg = _graph(s, t, how)
    assert len(eg.channels) == s * t  # map -> sink is chained
    assert _edges(eg) == {i: list(range(t)) for i in range(s)}
    for sub in eg.subtasks_of("map->sink"):
        assert [ch.producer for ch in sub.inputs] == [f"source[{i}]" for i in range(s)]


def test_forward_unchained_edge_is_one_to_one() -> None:
    """An unchained forward edge (S == T) gives S channels, i -> i."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(3)
    env.from_sequence(1, 9).map(lambda v: v).disable_chaining().add_sink(lambda v: None)
    eg = build_execution_graph(build_job_graph(build_stream_graph(env)))
    assert sorted(ch.id for ch in eg.channels) == sorted(
        [f"source[{i}]->map[{i}]" for i in range(3)] + [f"map[{i}]->sink[{i}]" for i in range(3)])


def test_subtask_ids_and_order() -> None:
    """Subtasks are `vertex[i]`, in vertex order then index order."""
    eg = _graph(2, 3, "rebalance")
    assert [s.id for s in eg.subtasks] == ["source[0]", "source[1]", "map->sink[0]", "map->sink[1]", "map->sink[2]"]


def test_self_union_delivers_every_record_twice() -> None:
    """ds.union(ds): two forward edges between the same subtasks become two channels (the second suffixed
    `#<edge>`), and each record arrives once per edge."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    ds = env.from_sequence(1, 6)
    ds.union(ds).map(lambda v: v).add_sink(lambda v: None)
    result = Simulation(env, trace_level=TraceLevel.RECORDS).run()
    assert sorted(result.values("sink")) == sorted(list(range(1, 7)) * 2)
    assert sorted({e.channel for e in result.trace.of_type(RecordSent)}) == [
        "source[0]->map->sink[0]", "source[0]->map->sink[0]#1", "source[1]->map->sink[1]", "source[1]->map->sink[1]#1"]
