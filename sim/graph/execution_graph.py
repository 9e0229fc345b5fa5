"""ExecutionGraph: every subtask and every channel between subtasks.

Layer: `sim.graph` (pure data). Each JobVertex becomes `parallelism` subtasks
named `vertex[i]`; each JobEdge becomes channels, wired all-to-all or pointwise
exactly as Flink wires them. A producer's channels on one edge are its
subpartitions, numbered in consumer order: that number is what a partitioner
returns.

Flink counterpart: `ExecutionGraph`, `ExecutionVertex`, `EdgeManagerBuildUtil`
(`connectAllToAll`, `connectPointwise`), result partitions and input channels.
Simplified: one result partition per (producer subtask, edge).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from sim.graph.job_graph import JobEdge, JobGraph, JobVertex


def pointwise_targets(producer: int, producers: int, consumers: int) -> list[int]:
    """Consumers of `producer` on a pointwise edge, as `EdgeManagerBuildUtil.connectPointwise`.

    Equal counts: i -> i. More producers than consumers: consumer j reads
    producers [j*S/T, (j+1)*S/T). Fewer: producer i feeds consumers
    [ceil(i*T/S), ceil((i+1)*T/S)).
    """
    s, t = producers, consumers
    if s == t:
        return [producer]
    if s > t:
        return [j for j in range(t) if j * s // t <= producer < (j + 1) * s // t]
    lo = (producer * t + s - 1) // s
    hi = ((producer + 1) * t + s - 1) // s
    return list(range(lo, hi))


@dataclass(frozen=True)
class Channel:
    """One producer subtask to one consumer subtask on one edge.

    `subpartition` is its index among the producer's channels of this edge;
    `input_index` its index among the consumer's input channels (all edges).
    """

    id: str
    edge_index: int
    producer: str
    consumer: str
    subpartition: int
    input_index: int


@dataclass
class Subtask:
    """One parallel instance of a JobVertex: `id` is `vertex[index]`."""

    id: str
    vertex: JobVertex
    index: int
    outputs: dict[int, list[Channel]] = field(default_factory=dict)
    inputs: list[Channel] = field(default_factory=list)


@dataclass
class ExecutionGraph:
    """Subtasks (in vertex then index order) and channels; `graph` is a networkx view."""

    job_graph: JobGraph
    subtasks: list[Subtask] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    graph: nx.MultiDiGraph = field(default_factory=nx.MultiDiGraph)

    def subtask(self, subtask_id: str) -> Subtask:
        return self.graph.nodes[subtask_id]["subtask"]

    def subtasks_of(self, vertex_id: str) -> list[Subtask]:
        return [s for s in self.subtasks if s.vertex.id == vertex_id]


def _consumers_of(edge: JobEdge, producer: int, producers: int, consumers: int) -> list[int]:
    if edge.pointwise:
        return pointwise_targets(producer, producers, consumers)
    return list(range(consumers))


def build_execution_graph(jg: JobGraph) -> ExecutionGraph:
    """Expand the JobGraph into subtasks and channels."""
    eg = ExecutionGraph(jg)
    by_vertex: dict[str, list[Subtask]] = {}
    for v in jg.vertices:
        subs = [Subtask(f"{v.id}[{i}]", v, i) for i in range(v.parallelism)]
        by_vertex[v.id] = subs
        for s in subs:
            eg.subtasks.append(s)
            eg.graph.add_node(s.id, subtask=s)
    for edge_index, edge in enumerate(jg.edges):
        producers, consumers = by_vertex[edge.source], by_vertex[edge.target]
        for p in producers:
            targets = _consumers_of(edge, p.index, len(producers), len(consumers))
            chans = []
            for sub, c in enumerate(targets):
                consumer = consumers[c]
                name = f"{p.id}->{consumer.id}"
                if any(ch.id == name for ch in consumer.inputs):
                    name = f"{name}#{edge_index}"
                ch = Channel(name, edge_index, p.id, consumer.id, sub, len(consumer.inputs))
                consumer.inputs.append(ch)
                chans.append(ch)
                eg.channels.append(ch)
                eg.graph.add_edge(p.id, consumer.id, channel=ch)
            p.outputs[edge_index] = chans
    return eg
