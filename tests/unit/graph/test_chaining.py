"""Tests for operator chaining (sim.graph.job_graph): which edges become one task.

Flink chains an edge only if the target has exactly one input, chaining is on,
both sides share a slot-sharing group, the partitioner is FORWARD, the
parallelisms are equal, the upstream is not NEVER and the downstream is ALWAYS
(flink-facts.md §1, StreamingJobGraphGenerator.isChainable).
"""

from __future__ import annotations

import pytest

from sim.api import StreamExecutionEnvironment
from sim.graph import build_execution_graph, build_job_graph, build_stream_graph, is_chainable


def _env(parallelism: int = 2) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    return env


def _vertices(env: StreamExecutionEnvironment) -> list[str]:
    return [v.id for v in build_job_graph(build_stream_graph(env)).vertices]


def _exchanges(env: StreamExecutionEnvironment) -> list[tuple[str, str, str]]:
    jg = build_job_graph(build_stream_graph(env))
    return [(e.source, e.target, e.stream_edge.partitioner.kind.value) for e in jg.edges]


def _chainable(env: StreamExecutionEnvironment) -> dict[tuple[str, str], bool]:
    sg = build_stream_graph(env)
    return {(e.source, e.target): is_chainable(sg, e) for e in sg.edges}


def _noop(value):
    return value


def test_forward_with_equal_parallelism_chains() -> None:
    """source -> map -> print at one parallelism is a single task."""
    env = _env(2)
    env.from_sequence(1, 4).map(_noop).print()
    assert _vertices(env) == ["source->map->print"]
    assert _exchanges(env) == []
    assert set(_chainable(env).values()) == {True}


def test_word_count_chains_as_in_the_brief() -> None:
    """from_collection (p=1) | flat_map -> map (p=2) | key_by | sum -> print."""
    env = _env(2)
    env.from_collection(["a b", "b"]).flat_map(str.split).map(lambda w: (w, 1)) \
        .key_by(lambda t: t[0]).sum(1).print()
    assert _vertices(env) == ["source", "flat_map->map", "sum->print"]
    assert _exchanges(env) == [("source", "flat_map->map", "rebalance"), ("flat_map->map", "sum->print", "hash")]


def test_parallelism_one_chains_the_source_too() -> None:
    """With p=1 everywhere the source heads the chain up to the key_by."""
    env = _env(1)
    env.from_collection(["a b"]).flat_map(str.split).map(lambda w: (w, 1)).key_by(lambda t: t[0]).sum(1).print()
    assert _vertices(env) == ["source->flat_map->map", "sum->print"]


def test_different_parallelism_breaks_the_chain() -> None:
    """A parallelism change gets a REBALANCE edge by default and is not chained."""
    env = _env(2)
    env.from_sequence(1, 4).map(_noop).set_parallelism(3).print()
    assert _vertices(env) == ["source", "map", "print"]
    assert _exchanges(env) == [("source", "map", "rebalance"), ("map", "print", "rebalance")]
    assert _chainable(env) == {("source", "map"): False, ("map", "print"): False}


@pytest.mark.parametrize("repartition", ["rebalance", "rescale", "shuffle", "broadcast", "global_"])
def test_explicit_partitioner_breaks_the_chain_at_equal_parallelism(repartition: str) -> None:
    """Only FORWARD chains: any explicit repartitioning makes a network exchange, even at equal parallelism."""
    env = _env(2)
    getattr(env.from_sequence(1, 4).map(_noop), repartition)().map(_noop).print()
    assert _vertices(env) == ["source->map", "map_2->print"]
    assert _exchanges(env) == [("source->map", "map_2->print", repartition.rstrip("_"))]


def test_key_by_breaks_the_chain() -> None:
    """A HASH edge is an exchange; the keyed operator chains with what follows it."""
    env = _env(2)
    env.from_sequence(1, 4).map(lambda v: (v % 2, v)).key_by(lambda t: t[0]).sum(1).map(_noop).print()
    assert _vertices(env) == ["source->map", "sum->map_2->print"]


def test_disable_chaining_isolates_the_operator() -> None:
    """NEVER: the operator chains neither to its input nor to its output."""
    env = _env(2)
    env.from_sequence(1, 4).map(_noop).map(_noop).disable_chaining().map(_noop).print()
    assert _vertices(env) == ["source->map", "map_2", "map_3->print"]
    assert _exchanges(env) == [("source->map", "map_2", "forward"), ("map_2", "map_3->print", "forward")]


def test_start_new_chain_begins_a_chain_that_continues() -> None:
    """HEAD: the operator is not chained to its input but its successors chain to it."""
    env = _env(2)
    env.from_sequence(1, 4).map(_noop).map(_noop).start_new_chain().map(_noop).print()
    assert _vertices(env) == ["source->map", "map_2->map_3->print"]


def test_disable_operator_chaining_makes_every_operator_a_task() -> None:
    """env.disable_operator_chaining(): no edge is chained."""
    env = _env(2)
    env.disable_operator_chaining()
    env.from_sequence(1, 4).map(_noop).filter(bool).print()
    assert _vertices(env) == ["source", "map", "filter", "print"]
    assert set(_chainable(env).values()) == {False}


def test_different_slot_sharing_group_breaks_the_chain() -> None:
    """A new slot-sharing group starts a new task; the next operator inherits the group and chains."""
    env = _env(2)
    env.from_sequence(1, 4).map(_noop).map(_noop).slot_sharing_group("heavy").map(_noop).print()
    assert _vertices(env) == ["source->map", "map_2->map_3->print"]
    jg = build_job_graph(build_stream_graph(env))
    assert [v.slot_sharing_group for v in jg.vertices] == ["default", "heavy"]


def test_union_target_is_never_chained() -> None:
    """An operator with two inputs (a union) heads its own chain, even with FORWARD edges of equal parallelism."""
    env = _env(2)
    a = env.from_sequence(1, 4)
    b = env.from_sequence(5, 8)
    a.union(b).map(_noop).print()
    assert _vertices(env) == ["source", "source_2", "map->print"]
    assert _exchanges(env) == [("source", "map->print", "forward"), ("source_2", "map->print", "forward")]


def test_self_union_is_not_chained_and_keeps_both_edges() -> None:
    """ds.union(ds): two in-edges from the same producer; not chainable, and both edges become channels."""
    env = _env(2)
    a = env.from_sequence(1, 4)
    a.union(a).map(_noop).print()
    jg = build_job_graph(build_stream_graph(env))
    assert [v.id for v in jg.vertices] == ["source", "map->print"]
    assert len(jg.edges) == 2
    eg = build_execution_graph(jg)
    assert len(eg.channels) == 4
    assert len({ch.id for ch in eg.channels}) == 4


def test_branching_chain_is_one_task_with_both_branches() -> None:
    """One operator feeding two chainable operators: all in one task, head first, then depth first in edge order."""
    env = _env(2)
    m = env.from_sequence(1, 4).map(_noop)
    m.filter(bool).print()
    m.map(_noop).add_sink(_noop)
    jg = build_job_graph(build_stream_graph(env))
    assert [v.id for v in jg.vertices] == ["source->map->filter->print->map_2->sink"]
    (vertex,) = jg.vertices
    assert [(e.source, e.target) for e in vertex.chained_edges] == [
        ("source", "map"), ("map", "filter"), ("map", "map_2"), ("filter", "print"), ("map_2", "sink")]


def test_branch_with_one_unchainable_side() -> None:
    """Branches chain independently: the rebalanced branch becomes its own task."""
    env = _env(2)
    m = env.from_sequence(1, 4).map(_noop)
    m.filter(bool).print()
    m.rebalance().map(_noop).add_sink(_noop)
    assert _vertices(env) == ["source->map->filter->print", "map_2->sink"]


def test_chain_vertex_carries_head_settings_and_display_name() -> None:
    """A JobVertex takes the head's parallelism and names its operators like Flink's web UI."""
    env = _env(3)
    env.from_sequence(1, 4).map(_noop).print()
    (vertex,) = build_job_graph(build_stream_graph(env)).vertices
    assert vertex.parallelism == 3
    assert vertex.max_parallelism == 128
    assert vertex.name == "Source: Sequence Source -> Map -> Sink: Print to Std. Out"
