"""JobGraph: operators chained into tasks by Flink's chaining rules.

Layer: `sim.graph` (pure data). A chain is a tree of operators joined by
chainable edges; it runs as one task in one thread, passing records by function
call. Every other edge becomes a `JobEdge`, a network exchange. In BATCH
mode the job is also cut into stages (`sim.graph.stages`), and an exchange
between two stages is blocking.

Flink counterpart: `StreamingJobGraphGenerator` (`isChainable`,
`determineResultPartitionType`), `JobVertex`, `JobEdge`.
Simplified: HEAD_WITH_SOURCES is treated as HEAD.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import networkx as nx

from sim.api.transformations import ChainingStrategy, PartitionerKind
from sim.graph.stages import Stage, compute_stages, stage_of
from sim.graph.stream_graph import StreamEdge, StreamGraph, StreamNode


def is_chainable(sg: StreamGraph, edge: StreamEdge) -> bool:
    """Flink's rule: may `edge.target` run in the same task as `edge.source`?

    All must hold: the target has exactly one input edge and is not a
    two-input operator (Flink never chains one to its inputs); chaining is
    enabled; both are in the same slot-sharing group; the partitioner is
    FORWARD; the parallelisms are equal; the source does not say NEVER; the
    target says ALWAYS (HEAD and NEVER start a new chain).
    """
    up, down = sg.node(edge.source), sg.node(edge.target)
    return (
        len(sg.in_edges(down.id)) == 1
        and not down.is_two_input
        and sg.chaining
        and up.slot_sharing_group == down.slot_sharing_group
        and edge.partitioner.kind is PartitionerKind.FORWARD
        and up.parallelism == down.parallelism
        and up.chaining is not ChainingStrategy.NEVER
        and down.chaining is ChainingStrategy.ALWAYS
    )


@dataclass
class JobVertex:
    """A task: a chain of operators (head first, then depth-first in edge order)."""

    id: str
    name: str
    operators: list[StreamNode]
    chained_edges: list[StreamEdge]
    parallelism: int
    max_parallelism: int
    slot_sharing_group: str

    @property
    def head(self) -> StreamNode:
        return self.operators[0]

    @property
    def is_source(self) -> bool:
        return self.head.kind == "source"


@dataclass(frozen=True)
class JobEdge:
    """A network exchange between two tasks, carrying one StreamEdge.

    `blocking` (BATCH mode, between two stages): the producers write their
    whole output before the consumers start reading; otherwise pipelined.
    """

    source: str
    target: str
    stream_edge: StreamEdge
    blocking: bool = False

    @property
    def pointwise(self) -> bool:
        return self.stream_edge.partitioner.kind.is_pointwise


@dataclass
class JobGraph:
    """Tasks and exchanges; `graph` is a networkx MultiDiGraph over vertex ids."""

    stream_graph: StreamGraph
    vertices: list[JobVertex] = field(default_factory=list)
    edges: list[JobEdge] = field(default_factory=list)
    graph: nx.MultiDiGraph = field(default_factory=nx.MultiDiGraph)
    stages: list[Stage] = field(default_factory=list)
    """BATCH mode: the stages, in the order they may start (empty in STREAMING)."""

    def vertex(self, vertex_id: str) -> JobVertex:
        return self.graph.nodes[vertex_id]["vertex"]

    def vertex_of_operator(self, operator_id: str) -> JobVertex:
        return self._op_index[operator_id]

    def in_edges(self, vertex_id: str) -> list[JobEdge]:
        return [e for e in self.edges if e.target == vertex_id]

    def out_edges(self, vertex_id: str) -> list[JobEdge]:
        return [e for e in self.edges if e.source == vertex_id]


def _display_name(ops: list[StreamNode]) -> str:
    names = [f"Source: {op.name}" if op.kind == "source" else f"Sink: {op.name}" if op.kind == "sink" else op.name
             for op in ops]
    return " -> ".join(names)


def build_job_graph(sg: StreamGraph) -> JobGraph:
    """Chain the StreamGraph into tasks (in operator-definition order of chain heads)."""
    jg = JobGraph(sg)
    chained = {(e.source, e.target, e.index) for e in sg.edges if is_chainable(sg, e)}
    heads = [n for n in sg.nodes if not any((e.source, e.target, e.index) in chained for e in sg.in_edges(n.id))]
    op_index: dict[str, JobVertex] = {}
    for head in heads:
        ops, edges = [], []
        stack = [head]
        while stack:
            op = stack.pop()
            ops.append(op)
            nxt = [e for e in sg.out_edges(op.id) if (e.source, e.target, e.index) in chained]
            edges += nxt
            stack.extend(sg.node(e.target) for e in reversed(nxt))
        vid = "->".join(op.id for op in ops)
        v = JobVertex(vid, _display_name(ops), ops, edges, head.parallelism, head.max_parallelism,
                      head.slot_sharing_group)
        jg.vertices.append(v)
        jg.graph.add_node(vid, vertex=v)
        for op in ops:
            op_index[op.id] = v
    jg._op_index = op_index
    jg.edges = [JobEdge(op_index[e.source].id, op_index[e.target].id, e) for e in sg.edges
                if (e.source, e.target, e.index) not in chained]
    if sg.batch:
        _cut_into_stages(jg)
    for je in jg.edges:
        jg.graph.add_edge(je.source, je.target, edge=je)
    return jg


def _cut_into_stages(jg: JobGraph) -> None:
    """BATCH: compute the stages and make every exchange between two stages blocking."""
    exchanges = [(e.source, e.target, e.stream_edge.partitioner.kind is PartitionerKind.FORWARD) for e in jg.edges]
    jg.stages = compute_stages([v.id for v in jg.vertices], exchanges)
    stage = stage_of(jg.stages)
    jg.edges = [replace(e, blocking=stage[e.source] != stage[e.target]) for e in jg.edges]
