"""Stages of a BATCH job: tasks joined by pipelined exchanges, separated by blocking ones.

Layer: `sim.graph` (pure data, no SimPy). In BATCH mode a redistributing
exchange (every partitioner but FORWARD) is blocking: its producers write
their whole output before any consumer reads it. The tasks that forward
exchanges join run together as one stage, and a stage starts only once
every stage it reads from has finished.

Numbering: stages are numbered in a topological order of the stages they
read from; among stages that are ready together, the one holding the
earliest-defined task comes first. So the numbering is a function of the
job alone.

Flink counterpart: pipelined regions (`PipelinedRegionComputeUtil`,
`SchedulingPipelinedRegion`) over `ResultPartitionType.BLOCKING` exchanges.
Simplified: stages are computed over job vertices, not per subtask as
Flink's regions are, so a stage waits for every subtask of the stages
before it. An unchained forward exchange stays pipelined: Flink's default
`execution.batch-shuffle-mode` (ALL_EXCHANGES_BLOCKING) makes it blocking
too, sim keeps forward-connected tasks in one stage. Stages that would wait
on each other in a cycle are merged into one, as Flink merges regions; the
exchanges inside a stage are pipelined.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx


@dataclass(frozen=True)
class Stage:
    """One stage: its number, its tasks (job vertex ids, in definition order), the stages it reads from."""

    index: int
    vertices: tuple[str, ...]
    upstream: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"stage {self.index}"


def compute_stages(vertices: list[str], exchanges: list[tuple[str, str, bool]]) -> list[Stage]:
    """Group job vertices into stages.

    Args:
        vertices: job vertex ids in definition order.
        exchanges: one (source vertex, target vertex, is_forward) per network exchange.

    Returns:
        The stages in their numbered order.
    """
    order = {v: i for i, v in enumerate(vertices)}
    g = nx.DiGraph()
    g.add_nodes_from(vertices)
    for source, target, forward in exchanges:
        g.add_edge(source, target)
        if forward:
            g.add_edge(target, source)  # a pipelined pair must run together: make it one component
    condensed = nx.condensation(g)
    members = {c: sorted(condensed.nodes[c]["members"], key=order.__getitem__) for c in condensed.nodes}
    ranked = nx.lexicographical_topological_sort(condensed, key=lambda c: order[members[c][0]])
    number = {c: i for i, c in enumerate(ranked)}
    stages = []
    for c in sorted(number, key=number.__getitem__):
        upstream = sorted(number[p] for p in condensed.predecessors(c))
        stages.append(Stage(number[c], tuple(members[c]), tuple(upstream)))
    return stages


def stage_of(stages: list[Stage]) -> dict[str, int]:
    """Each job vertex id's stage number."""
    return {v: s.index for s in stages for v in s.vertices}
