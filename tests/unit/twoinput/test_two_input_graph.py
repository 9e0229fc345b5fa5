"""The graphs of a two-input operator: each edge knows which input it feeds, and the operator heads a chain."""

from __future__ import annotations

from sim.api import DataStream, StreamExecutionEnvironment
from sim.api.transformations import OperatorSpec, Transformation
from sim.graph import build_execution_graph, build_job_graph, build_stream_graph


def _two_input(first: DataStream, second: DataStream) -> DataStream:
    """A two-input transformation appended by hand, as the connect() API builds it."""
    t = Transformation(kind="two_input", name="Co-Map", inputs=[first._t, second._t],
                       operator=OperatorSpec("co_map", None))
    first._env.transformations.append(t)
    return DataStream(first._env, t)


def _job():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    one = env.from_sequence(1, 10).map(lambda v: v).name("one")
    two_a = env.from_sequence(1, 10).map(lambda v: v).name("two_a")
    two_b = env.from_sequence(1, 10).map(lambda v: v).name("two_b")
    joined = _two_input(one, two_a.union(two_b).key_by(lambda v: v))
    joined.map(lambda v: v).name("after").add_sink(lambda v: None).name("out")
    return env


def test_edges_are_numbered_by_the_input_they_feed():
    """Input 1 edges have type_number 1; both edges of the union on input 2 have 2; one-input edges 0."""
    sg = build_stream_graph(_job())
    assert [(e.source, e.type_number, e.partitioner.kind.value) for e in sg.in_edges("co_map")] == [
        ("one", 1, "forward"), ("two_a", 2, "hash"), ("two_b", 2, "hash")]
    assert {e.type_number for e in sg.edges if e.target != "co_map"} == {0}
    plan = build_stream_graph(_job()).to_json()
    assert '"side": "first"' in plan and '"side": "second"' in plan


def test_a_two_input_operator_heads_its_chain_even_over_a_forward_edge():
    """`one -> co_map` is FORWARD at equal parallelism, yet not chained; what follows co_map is."""
    jg = build_job_graph(build_stream_graph(_job()))
    assert [v.id for v in jg.vertices] == ["source->one", "source_2->two_a", "source_3->two_b", "co_map->after->out"]
    eg = build_execution_graph(jg)
    consumer = eg.subtask("co_map->after->out[0]")
    numbers = [jg.edges[ch.edge_index].stream_edge.type_number for ch in consumer.inputs]
    assert numbers == [1, 2, 2, 2, 2]
