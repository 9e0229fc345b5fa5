"""StreamGraph: the job's operators and the edges between them, virtual nodes resolved.

Layer: `sim.graph`, above `sim.api` and below the runtime; pure data, no SimPy.
Partition, union and side-output transformations are not operators: they become
attributes of the edges (partitioner, side-output tag). Parallelism and max
parallelism are resolved here, and the default partitioner chosen: FORWARD
between equal parallelisms, REBALANCE otherwise. So is the runtime mode:
AUTOMATIC becomes BATCH when every source is bounded, and BATCH with an
unbounded source is refused.

Flink counterpart: `StreamGraph`, `StreamGraphGenerator`, `StreamNode`, `StreamEdge`.
Simplified: no iterations, no co-location groups.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx

from sim.api.execution_mode import RuntimeExecutionMode
from sim.api.functions import OutputTag
from sim.api.transformations import (
    ChainingStrategy, OperatorSpec, PartitionerKind, PartitionerSpec, Transformation,
)
from sim.kernel.hashing import check_max_parallelism, default_max_parallelism

if TYPE_CHECKING:
    from sim.api.environment import StreamExecutionEnvironment

DEFAULT_SLOT_SHARING_GROUP = "default"

_DEFAULT_IDS = {"keyed_process": "process", "flat_map": "flat_map", "keyed_co_process": "co_process"}


class JobBuildError(ValueError):
    """The job cannot run as written; the message names the operator and the fix."""


@dataclass
class StreamNode:
    """One operator: readable `id` (unique, e.g. "map" or "map_2"), settings resolved."""

    id: str
    name: str
    kind: str
    operator: OperatorSpec
    parallelism: int
    max_parallelism: int
    chaining: ChainingStrategy
    slot_sharing_group: str
    uid: str | None
    keyed: PartitionerSpec | None
    transformation_id: int
    keyed2: PartitionerSpec | None = None

    @property
    def state_id(self) -> str:
        """What this operator's state is filed under in a snapshot: its `uid` if set, else its `id`.

        A savepoint matches state to operators by this, as Flink matches by
        operator id: set `uid()` so that state survives a change of topology
        that would change the generated ids.
        """
        return self.uid if self.uid is not None else self.id

    @property
    def is_two_input(self) -> bool:
        """A two-input operator: records of input 1 and input 2 reach different methods."""
        return self.kind == "two_input"


@dataclass(frozen=True)
class StreamEdge:
    """A data path between two operators, with its partitioner and optional side-output tag.

    `type_number` says which input of the target the edge feeds: 0 for a
    one-input operator, 1 or 2 for a two-input operator (Flink's typeNumber).
    """

    source: str
    target: str
    partitioner: PartitionerSpec
    side_output: OutputTag | None
    index: int
    type_number: int = 0

    @property
    def label(self) -> str:
        tag = f" [{self.side_output.tag_id}]" if self.side_output else ""
        return f"{self.partitioner.kind.value.upper()}{tag}"


TIME_AWARE_KINDS = frozenset({"timestamps", "window", "keyed_process", "process", "co_process",
                              "keyed_co_process", "broadcast_process", "interval_join"})
"""Operator kinds that read timestamps, watermarks or timers."""


def _slug(text: str) -> str:
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    return slug or "op"


class StreamGraph:
    """Operators as nodes of a networkx MultiDiGraph; edge data holds a `StreamEdge`."""

    def __init__(self, job_name: str, chaining: bool, buffer_timeout_ms: int,
                 auto_watermark_interval_ms: int = 200,
                 runtime_mode: RuntimeExecutionMode = RuntimeExecutionMode.STREAMING,
                 requested_mode: RuntimeExecutionMode | None = None):
        self.job_name = job_name
        self.chaining = chaining
        self.buffer_timeout_ms = buffer_timeout_ms
        self.auto_watermark_interval_ms = auto_watermark_interval_ms
        self.runtime_mode = runtime_mode
        """STREAMING or BATCH (AUTOMATIC is resolved by `build_stream_graph`)."""
        self.requested_mode = requested_mode or runtime_mode
        """What the environment asked for (AUTOMATIC stays AUTOMATIC here)."""
        self.graph = nx.MultiDiGraph()

    @property
    def batch(self) -> bool:
        """Whether the job runs in BATCH mode: stages, sorted keyed input, no checkpoints."""
        return self.runtime_mode is RuntimeExecutionMode.BATCH

    @property
    def event_time(self) -> bool:
        """Whether records carry timestamps and watermarks flow: some operator can see event time.

        True if a source has a watermark strategy or an operator assigns
        timestamps, keeps timers or windows. Other jobs pay nothing for event time.
        """
        return any(n.kind in TIME_AWARE_KINDS or n.operator.options.get("watermark_strategy") is not None
                   for n in self.nodes)

    @property
    def nodes(self) -> list[StreamNode]:
        """Operators in the order they were defined."""
        return [self.graph.nodes[n]["node"] for n in self.graph.nodes]

    def node(self, node_id: str) -> StreamNode:
        return self.graph.nodes[node_id]["node"]

    def in_edges(self, node_id: str) -> list[StreamEdge]:
        return sorted((d["edge"] for _, _, d in self.graph.in_edges(node_id, data=True)), key=lambda e: e.index)

    def out_edges(self, node_id: str) -> list[StreamEdge]:
        return sorted((d["edge"] for _, _, d in self.graph.out_edges(node_id, data=True)), key=lambda e: e.index)

    @property
    def edges(self) -> list[StreamEdge]:
        return sorted((d["edge"] for _, _, d in self.graph.edges(data=True)), key=lambda e: e.index)

    def to_json(self) -> str:
        """The plan in the shape of Flink's `getExecutionPlan()` JSON."""
        pact = {"source": "Data Source", "sink": "Data Sink"}
        nodes = []
        for n in self.nodes:
            preds = [{"id": e.source, "ship_strategy": e.partitioner.kind.value.upper(),
                      "side": "first" if e.type_number == 1 else "second"} for e in self.in_edges(n.id)]
            entry = {"id": n.id, "type": n.name, "pact": pact.get(n.kind, "Operator"), "contents": n.name,
                     "parallelism": n.parallelism}
            if preds:
                entry["predecessors"] = preds
            nodes.append(entry)
        return json.dumps({"nodes": nodes}, indent=2)


_Input = tuple[Transformation, PartitionerSpec | None, OutputTag | None]


def _physical_inputs(t: Transformation, partitioner: PartitionerSpec | None = None,
                     tag: OutputTag | None = None) -> list[_Input]:
    """Walk up through virtual nodes; the partitioner nearest the consumer wins."""
    out = []
    for upstream in t.inputs:
        out += _resolve_input(upstream, partitioner, tag)
    return out


def _resolve_input(upstream: Transformation, partitioner: PartitionerSpec | None,
                   tag: OutputTag | None) -> list[_Input]:
    if upstream.kind == "partition":
        return _physical_inputs(upstream, partitioner or upstream.partitioner, tag)
    if upstream.kind == "union":
        return _physical_inputs(upstream, partitioner, tag)
    if upstream.kind == "side_output":
        return _physical_inputs(upstream, partitioner, upstream.side_output)
    return [(upstream, partitioner, tag)]


def _numbered_inputs(t: Transformation) -> list[tuple[int, _Input]]:
    """Each physical input with the input number it feeds: 0 for one input; 1 and 2 for a two-input operator."""
    if t.kind != "two_input":
        return [(0, physical) for physical in _physical_inputs(t)]
    return [(number, physical) for number, upstream in enumerate(t.inputs, start=1)
            for physical in _resolve_input(upstream, None, None)]


def _reachable(env: StreamExecutionEnvironment) -> list[Transformation]:
    """Every physical transformation that feeds a sink, in definition order."""
    seen: dict[int, Transformation] = {}
    stack = [t for t in env.transformations if t.kind == "sink"]
    while stack:
        t = stack.pop()
        if t.id in seen:
            continue
        seen[t.id] = t
        stack.extend(up for up, _, _ in _physical_inputs(t))
    return [seen[i] for i in sorted(seen)]


def build_stream_graph(env: StreamExecutionEnvironment, job_name: str = "job") -> StreamGraph:
    """Resolve the environment's transformations into a StreamGraph.

    Raises:
        JobBuildError: no sinks, a forward edge between different parallelisms,
            an invalid (max) parallelism, BATCH mode with an unbounded
            source, or two operators with the same uid; the message names
            the operator(s).
    """
    transformations = _reachable(env)
    if not transformations:
        raise JobBuildError("the job has no sinks: add print(), add_sink(), sink_to() or execute_and_collect()")
    requested = env.get_runtime_mode()
    sg = StreamGraph(job_name, env.is_chaining_enabled(), env.get_buffer_timeout(),
                     env.get_config().get_auto_watermark_interval(), requested_mode=requested)
    ids: dict[int, str] = {}
    used: dict[str, int] = {}
    for t in transformations:
        ids[t.id] = _unique_id(t, used)
        sg.graph.add_node(ids[t.id], node=_make_node(env, t, ids[t.id], ids, sg))
    index = 0
    for t in transformations:
        for type_number, (upstream, partitioner, tag) in _numbered_inputs(t):
            edge = _make_edge(sg.node(ids[upstream.id]), sg.node(ids[t.id]), partitioner, tag, index, type_number)
            sg.graph.add_edge(edge.source, edge.target, edge=edge)
            index += 1
    sg.runtime_mode = _resolve_runtime_mode(requested, sg.nodes)
    _check_state_ids(sg.nodes)
    return sg


def _check_state_ids(nodes: list[StreamNode]) -> None:
    """Every operator's state id must be unique, so that state in a snapshot names one operator.

    Raises:
        JobBuildError: Two operators share a uid, or a uid equals another operator's generated id.
    """
    owner: dict[str, StreamNode] = {}
    for node in nodes:
        other = owner.setdefault(node.state_id, node)
        if other is node:
            continue
        if other.uid is not None and node.uid is not None:
            clash = f"operators {other.id} ({other.name!r}) and {node.id} ({node.name!r}) both have uid {node.uid!r}"
        else:
            named, generated = (node, other) if node.uid is not None else (other, node)
            clash = (f"uid {named.uid!r} of operator {named.id} ({named.name!r}) is the generated id of operator "
                     f"{generated.id} ({generated.name!r})")
        raise JobBuildError(f"{clash}: expected every operator's uid to be unique, because a savepoint matches "
                            f"state to operators by uid; give one of them another uid()")


def _resolve_runtime_mode(requested: RuntimeExecutionMode, nodes: list[StreamNode]) -> RuntimeExecutionMode:
    """AUTOMATIC: BATCH if every source is bounded. BATCH: every source must be.

    Raises:
        JobBuildError: BATCH was asked for and a source is unbounded (named, first in definition order).
    """
    unbounded = [n for n in nodes if n.kind == "source" and not getattr(n.operator.function, "bounded", False)]
    if requested is RuntimeExecutionMode.AUTOMATIC:
        return RuntimeExecutionMode.STREAMING if unbounded else RuntimeExecutionMode.BATCH
    if requested is RuntimeExecutionMode.BATCH and unbounded:
        source = unbounded[0]
        raise JobBuildError(
            f"runtime mode BATCH needs bounded sources, but source {source.id} {source.name!r} "
            f"({type(source.operator.function).__name__}) is unbounded: declare `bounded = True` on a source "
            f"whose readers finish, or run with RuntimeExecutionMode.STREAMING or AUTOMATIC")
    return requested


def _unique_id(t: Transformation, used: dict[str, int]) -> str:
    spec = t.operator
    base = _slug(t.name) if spec.options.get("named") else _DEFAULT_IDS.get(spec.kind, spec.kind)
    used[base] = used.get(base, 0) + 1
    return base if used[base] == 1 else f"{base}_{used[base]}"


def _make_node(env: StreamExecutionEnvironment, t: Transformation, node_id: str, ids: dict[int, str],
               sg: StreamGraph) -> StreamNode:
    parallelism = t.parallelism or env.get_parallelism()
    if t.parallelism_fixed:
        parallelism = 1
    max_p = t.max_parallelism or env.get_max_parallelism() or default_max_parallelism(parallelism)
    try:
        check_max_parallelism(max_p, parallelism, node_id)
    except ValueError as exc:
        raise JobBuildError(str(exc)) from None
    group = t.slot_sharing_group
    if group is None:
        ups = {sg.node(ids[u.id]).slot_sharing_group for u, _, _ in _physical_inputs(t)}
        group = ups.pop() if len(ups) == 1 else DEFAULT_SLOT_SHARING_GROUP
    return StreamNode(node_id, t.name, t.kind, t.operator, parallelism, max_p, t.chaining, group, t.uid, t.keyed, t.id,
                      t.keyed2)


def _make_edge(up: StreamNode, down: StreamNode, partitioner: PartitionerSpec | None, tag: OutputTag | None,
               index: int, type_number: int = 0) -> StreamEdge:
    if partitioner is None:
        kind = PartitionerKind.FORWARD if up.parallelism == down.parallelism else PartitionerKind.REBALANCE
        partitioner = PartitionerSpec(kind)
    elif partitioner.kind is PartitionerKind.FORWARD and up.parallelism != down.parallelism:
        raise JobBuildError(
            f"forward() from {up.id} (parallelism {up.parallelism}) to {down.id} (parallelism "
            f"{down.parallelism}): forward keeps one-to-one channels and needs equal parallelism; "
            f"use rebalance(), rescale(), shuffle(), broadcast() or global_() instead"
        )
    return StreamEdge(up.id, down.id, partitioner, tag, index, type_number)
