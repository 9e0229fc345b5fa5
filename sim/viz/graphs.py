"""Pictures of the job's graphs: the JobGraph (chained tasks and exchanges) and the ExecutionGraph.

Layer: `sim.viz`. Reads only the graphs (`sim.graph`, pure data) and the
placements (plain values); never a live task. Columns come from networkx's
topological generations, so a source is always left of what it feeds; inside
a column, vertices follow their inputs (barycenter rule), ties broken by the
graph's definition order, so the same graph is always drawn the same way.

Layout is done in inches: the axes fill the figure and one data unit is one
inch, so boxes sized from their text (in points) never overlap whatever the
graph, and the figure grows with the graph instead of squeezing it.
"""

from __future__ import annotations

import os
import re

import networkx as nx
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

from sim.viz.style import lane_label, new_figure, partitioner_color, save_png, taskmanager_colors

_CHAR_IN = 0.068  # mean glyph width at 9 pt (DejaVu Sans), inches
_LINE_IN = 0.19  # line pitch at 9 pt, inches
_MAX_LINE_CHARS = 36
TITLE_IN = 0.6
_MARGIN_IN = 0.3
_UNPLACED = "unplaced"
_GAP_IN = 1.4  # between execution-graph columns
_LEGEND_IN = 0.75
_HEADER_IN = 0.3  # vertex name above its subtasks
_NODE_GAP_IN = 0.18
_GROUP_GAP_IN = 0.5


def count_label(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _columns(job_graph) -> list[list[str]]:
    """Vertex ids by topological generation, top to bottom.

    The first column is in definition order; each later vertex sits at the
    mean row of its inputs (the barycenter rule, which removes most edge
    crossings), ties broken by definition order.
    """
    order = {v.id: i for i, v in enumerate(job_graph.vertices)}
    row: dict[str, float] = {}
    columns = []
    for generation in nx.topological_generations(job_graph.graph):
        column = sorted(generation, key=lambda vid: (_barycenter(job_graph, vid, row), order[vid]))
        row.update((vid, i - (len(column) - 1) / 2) for i, vid in enumerate(column))
        columns.append(column)
    return columns


def _barycenter(job_graph, vertex_id: str, row: dict[str, float]) -> float:
    """Mean row of a vertex's inputs (rows centred on 0); -1 for a vertex without inputs."""
    inputs = [row[e.source] for e in job_graph.in_edges(vertex_id)]
    return sum(inputs) / len(inputs) if inputs else -1.0


def _short(text: str, limit: int = _MAX_LINE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _operator_line(op) -> str:
    """`Flat Map`, `Keyed Aggregation (sum)`, `Source: Collection Source`: name, and id if it differs."""
    prefix = {"source": "Source: ", "sink": "Sink: "}.get(op.kind, "")
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", op.name).strip("_").lower()
    suffix = "" if slug == op.id else f" ({op.id})"
    return _short(f"{prefix}{op.name}{suffix}")


def vertex_text(vertex) -> str:
    """The text in a job-graph box: one line per chained operator, then `p=N`."""
    return "\n".join([_operator_line(op) for op in vertex.operators] + [f"p={vertex.parallelism}"])


def _text_size_in(text: str) -> tuple[float, float]:
    lines = text.split("\n")
    return max(len(line) for line in lines) * _CHAR_IN + 0.4, len(lines) * _LINE_IN + 0.3


def _canvas(width_in: float, height_in: float):
    """A figure whose single, axis-free axes measure data in inches."""
    fig = new_figure(width_in, height_in, constrained=False)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width_in)
    ax.set_ylim(0, height_in)
    ax.set_axis_off()
    return fig, ax


def _box(ax, center: tuple[float, float], size: tuple[float, float], text: str, facecolor: str,
         fontsize: float = 9) -> FancyBboxPatch:
    (x, y), (w, h) = center, size
    patch = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.08",
                           facecolor=facecolor, edgecolor="#333333", linewidth=1.0, zorder=3)
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, linespacing=1.35, zorder=4)
    return patch


def _connect(ax, ends: tuple[FancyBboxPatch, FancyBboxPatch], color: str, rad: float = 0.0,
             linestyle: str = "-", linewidth: float = 1.4, head: float = 14) -> FancyArrowPatch:
    """An arrow between two boxes, clipped at their borders."""
    a, b = ends
    arrow = FancyArrowPatch(_center(a), _center(b), patchA=a, patchB=b, arrowstyle="-|>", mutation_scale=head,
                            connectionstyle=f"arc3,rad={rad}", color=color, linestyle=linestyle,
                            linewidth=linewidth, shrinkA=1, shrinkB=1, zorder=2)
    ax.add_patch(arrow)
    return arrow


def _center(patch: FancyBboxPatch) -> tuple[float, float]:
    return patch.get_x() + patch.get_width() / 2, patch.get_y() + patch.get_height() / 2


def _column_x(widths: list[float], gap: float, width_in: float) -> list[float]:
    """Centres of columns of the given widths and gap, centred in a figure `width_in` wide."""
    xs, left = [], (width_in - sum(widths) - gap * (len(widths) - 1)) / 2
    for w in widths:
        xs.append(left + w / 2)
        left += w + gap
    return xs


def _stack_y(heights: list[float], gap: float, middle: float) -> list[float]:
    """Centres of boxes stacked top to bottom around `middle`."""
    total = sum(heights) + gap * (len(heights) - 1)
    ys, top = [], middle + total / 2
    for h in heights:
        ys.append(top - h / 2)
        top -= h + gap
    return ys


def _label_point(a: FancyBboxPatch, b: FancyBboxPatch, rad: float, along: float = 0.5) -> tuple[float, float]:
    """A point on the (curved) edge from box `a` to box `b`, `along` the way across the gap between them."""
    (xa, ya), (xb, yb) = _center(a), _center(b)
    x = a.get_x() + a.get_width() + along * (b.get_x() - a.get_x() - a.get_width())
    t = (x - xa) / (xb - xa) if xb != xa else 0.5
    # arc3 bends towards (dy, -dx) * rad at its middle; a quadratic Bezier reaches half of that.
    bend = 2 * t * (1 - t) * rad
    return x + bend * (yb - ya), ya + t * (yb - ya) - bend * (xb - xa)


def _place_label(ends: tuple[FancyBboxPatch, FancyBboxPatch], rad: float, label: str,
                 taken: list[tuple[float, float, float, float]]) -> tuple[float, float]:
    """The first point along the edge where its label overlaps no label placed before; records it."""
    w, h = len(label) * _CHAR_IN * 0.9 + 0.2, 0.3
    for along in (0.5, 0.3, 0.7, 0.15, 0.85):
        point = _label_point(*ends, rad, along)
        if all(abs(point[0] - x) >= (w + ow) / 2 or abs(point[1] - y) >= (h + oh) / 2 for x, y, ow, oh in taken):
            break
    taken.append((point[0], point[1], w, h))
    return point


def _edge_rads(edges: list, column_of: dict[str, int]) -> list[float]:
    """Curvature per edge: parallel edges fan out, edges skipping columns bow around them."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, e in enumerate(edges):
        groups.setdefault((e.source, e.target), []).append(i)
    rads = [0.0] * len(edges)
    for (source, target), members in groups.items():
        skip = 0.25 if column_of[target] - column_of[source] > 1 else 0.0
        for j, i in enumerate(members):
            rads[i] = skip + 0.3 * (j - (len(members) - 1) / 2)
    return rads


def draw_job_graph(job_graph, path: str | os.PathLike | None = None) -> Figure:
    """Draw the JobGraph: a box per task (its chained operators and `p=N`), edges labelled by partitioner.

    Columns are topological generations, left to right; edge labels are
    Flink's ship strategies (HASH, FORWARD, REBALANCE, ...).

    Args:
        job_graph: a `sim.graph.JobGraph`.
        path: where to save the PNG, if given.

    Returns:
        The figure (not registered with pyplot).
    """
    columns = _columns(job_graph)
    texts = {v.id: vertex_text(v) for v in job_graph.vertices}
    sizes = {vid: _text_size_in(text) for vid, text in texts.items()}
    labels = [e.stream_edge.label for e in job_graph.edges]
    gap = max([len(label) * _CHAR_IN * 0.9 + 0.8 for label in labels] + [1.0])
    widths = [max(sizes[vid][0] for vid in col) for col in columns]
    heights = [sum(sizes[vid][1] for vid in col) + 0.6 * (len(col) - 1) for col in columns]
    width_in = max(5.0, sum(widths) + gap * (len(columns) - 1) + 2 * _MARGIN_IN)
    height_in = max(heights, default=1.0) + TITLE_IN + 2 * _MARGIN_IN
    fig, ax = _canvas(width_in, height_in)
    boxes = {}
    for x, col in zip(_column_x(widths, gap, width_in), columns):
        for vid, y in zip(col, _stack_y([sizes[vid][1] for vid in col], 0.6, _MARGIN_IN + max(heights) / 2)):
            boxes[vid] = _box(ax, (x, y), sizes[vid], texts[vid], "#EAF2FB")
    column_of = {vid: i for i, col in enumerate(columns) for vid in col}
    taken: list[tuple[float, float, float, float]] = []
    for edge, rad, label in zip(job_graph.edges, _edge_rads(job_graph.edges, column_of), labels):
        color = partitioner_color(edge.stream_edge.partitioner.kind.value)
        ends = (boxes[edge.source], boxes[edge.target])
        _connect(ax, ends, color, rad)
        ax.text(*_place_label(ends, rad, label, taken), label, ha="center", va="center", fontsize=8, color=color,
                fontweight="bold", zorder=5,
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": color, "linewidth": 0.6})
    title = (f"Job graph: {job_graph.stream_graph.job_name}: {count_label(len(job_graph.vertices), 'task')}, "
             f"{count_label(len(job_graph.edges), 'exchange')}")
    ax.text(width_in / 2, height_in - TITLE_IN / 2, title, ha="center", va="center", fontsize=11)
    save_png(fig, path)
    return fig


def _subtask_text(subtask_id: str, placement) -> str:
    where = f"{placement.taskmanager} / slot {placement.slot}" if placement is not None else _UNPLACED
    return f"{lane_label(subtask_id)}\n{where}"


def _execution_columns(execution_graph) -> list[list[list[str]]]:
    """Per column, per vertex, its subtask ids."""
    return [[[s.id for s in execution_graph.subtasks_of(vid)] for vid in col]
            for col in _columns(execution_graph.job_graph)]


def _execution_legend(ax, tm_colors: dict[str, str], kinds: list[str], local: bool, remote: bool) -> None:
    handles = [Patch(facecolor=color, edgecolor="#333333", label=tm) for tm, color in tm_colors.items()]
    if local:
        handles.append(Line2D([], [], color="#555555", linewidth=1.2, label="local channel (same TM)"))
    if remote:
        handles.append(Line2D([], [], color="#555555", linewidth=1.2, linestyle="--", label="remote channel"))
    handles += [Line2D([], [], color=partitioner_color(k), linewidth=2, label=k.upper()) for k in kinds]
    ncols = len(handles) if len(handles) <= 7 else 5
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=ncols, frameon=False, fontsize=8)


def _node_size(texts: list[str]) -> tuple[float, float]:
    return max(_text_size_in(t)[0] for t in texts), 2 * _LINE_IN + 0.25


def _group_heights(columns: list[list[list[str]]], box_h: float) -> list[list[float]]:
    """Height of each vertex group (its header and its stacked subtasks), per column."""
    return [[_HEADER_IN + len(g) * box_h + _NODE_GAP_IN * (len(g) - 1) for g in col] for col in columns]


def _place_subtasks(ax, execution_graph, placements, tm_colors, width_in: float) -> dict[str, FancyBboxPatch]:
    """Draw every subtask box, columns by generation, grouped by vertex; returns the boxes."""
    columns = _execution_columns(execution_graph)
    texts = {s.id: _subtask_text(s.id, placements.get(s.id)) for s in execution_graph.subtasks}
    size = _node_size(list(texts.values()))
    heights = _group_heights(columns, size[1])
    middle = _MARGIN_IN + _LEGEND_IN + max(_stacked(h) for h in heights) / 2
    boxes = {}
    for x, col, col_heights in zip(_column_x([size[0]] * len(columns), _GAP_IN, width_in), columns, heights):
        for group, y_group, h in zip(col, _stack_y(col_heights, _GROUP_GAP_IN, middle), col_heights):
            top = y_group + h / 2
            ys = _stack_y([size[1]] * len(group), _NODE_GAP_IN, y_group - _HEADER_IN / 2)
            for sid, y in zip(group, ys):
                placement = placements.get(sid)
                color = tm_colors[placement.taskmanager] if placement else "#EEEEEE"
                boxes[sid] = _box(ax, (x, y), size, texts[sid], color, fontsize=8.5)
            head = lane_label(group[0].rsplit("[", 1)[0], 40)
            ax.text(x, top - _HEADER_IN / 2, head, ha="center", va="center", fontsize=8, color="#555555",
                    style="italic")
    return boxes


def _stacked(heights: list[float]) -> float:
    return sum(heights) + _GROUP_GAP_IN * (len(heights) - 1)


def _execution_size(execution_graph, placements, min_width_in: float = 7.0) -> tuple[float, float]:
    """Figure size in inches: columns side by side, the tallest column, title and legend."""
    columns = _execution_columns(execution_graph)
    box_w, box_h = _node_size([_subtask_text(s.id, placements.get(s.id)) for s in execution_graph.subtasks])
    tallest = max(_stacked(h) for h in _group_heights(columns, box_h))
    width = max(min_width_in, len(columns) * box_w + _GAP_IN * (len(columns) - 1) + 2 * _MARGIN_IN)
    return width, tallest + TITLE_IN + _LEGEND_IN + 2 * _MARGIN_IN


def execution_graph_canvas(execution_graph, placements, min_width_in: float = 7.0,
                           title_in: float = TITLE_IN) -> tuple[Figure, object, dict, dict]:
    """The execution-graph picture without its title: subtask boxes and channel arrows.

    Shared by `draw_execution_graph` and the barrier animation, so both lay
    the graph out the same way; the animation asks for a wider figure and a
    taller title strip (`min_width_in`, `title_in`, inches).

    Returns:
        The figure, its axes (one data unit is one inch, y up), the subtask
        boxes by subtask id, and the channel arrows by channel id (each with
        the gid `channel:<id>`).
    """
    placements = placements or {}
    tm_colors = taskmanager_colors(p.taskmanager for p in placements.values())
    width_in, height_in = _execution_size(execution_graph, placements, min_width_in)
    fig, ax = _canvas(width_in, height_in + title_in - TITLE_IN)
    boxes = _place_subtasks(ax, execution_graph, placements, tm_colors, width_in)
    edges = execution_graph.job_graph.edges
    arrows = {}
    for channel in execution_graph.channels:
        a, b = placements.get(channel.producer), placements.get(channel.consumer)
        local = a is not None and b is not None and a.taskmanager == b.taskmanager
        kind = edges[channel.edge_index].stream_edge.partitioner.kind.value
        arrows[channel.id] = _connect(ax, (boxes[channel.producer], boxes[channel.consumer]),
                                      partitioner_color(kind), linestyle="-" if local else "--", linewidth=1.0,
                                      head=9)
        arrows[channel.id].set_gid(f"channel:{channel.id}")
    remote = sum(arrow.get_linestyle() != "-" for arrow in arrows.values())
    kinds = sorted({e.stream_edge.partitioner.kind.value for e in edges})
    _execution_legend(ax, tm_colors, kinds, remote < len(arrows), remote > 0)
    return fig, ax, boxes, arrows


def draw_execution_graph(execution_graph, placements, path: str | os.PathLike | None = None) -> Figure:
    """Draw the ExecutionGraph: subtasks in columns by vertex, coloured by TaskManager, channels as arrows.

    A channel between two subtasks on the same TaskManager is solid (local);
    between TaskManagers it is dashed (remote). Channel colours are the edge's
    partitioner.

    Args:
        execution_graph: a `sim.graph.ExecutionGraph`.
        placements: subtask id -> placement (`.taskmanager`, `.slot`); missing
            subtasks are drawn grey as "unplaced".
        path: where to save the PNG, if given.

    Returns:
        The figure (not registered with pyplot).
    """
    fig, ax, _, arrows = execution_graph_canvas(execution_graph, placements)
    remote = sum(arrow.get_linestyle() != "-" for arrow in arrows.values())
    taskmanagers = len({p.taskmanager for p in (placements or {}).values()})
    width_in, height_in = fig.get_size_inches()
    ax.text(width_in / 2, height_in - TITLE_IN / 2,
            f"Execution graph: {count_label(len(execution_graph.subtasks), 'subtask')} on "
            f"{count_label(taskmanagers, 'TaskManager')}, {count_label(len(execution_graph.channels), 'channel')} "
            f"({remote} remote)", ha="center", va="center", fontsize=11)
    save_png(fig, path)
    return fig
