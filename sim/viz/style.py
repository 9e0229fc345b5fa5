"""The shared look of every picture: lane order and labels, colours, figure creation and PNG output.

Layer: `sim.viz`, the only package that imports matplotlib. Figures are built
with `matplotlib.figure.Figure` directly, never through `pyplot`, so nothing
depends on a display or on global backend state, and a figure is freed as soon
as it is no longer referenced. This module must not read live runtime objects:
only the execution graph's ids and plain values.

One module rather than several, because every picture must agree on the same
things (a subtask's lane and label, a state's colour) and they change together.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from matplotlib.figure import Figure

DPI = 120

# States of a subtask lane (timeline and space-time diagram).
BUSY_COLOR = "#4C72B0"
BACKPRESSURED_COLOR = "#D62728"
ALIVE_COLOR = "#B0B0B0"
FAILED_COLOR = "#111111"

# Partitioners, by `PartitionerKind.value`; fixed so every picture agrees.
PARTITIONER_COLORS = {
    "forward": "#2CA02C",
    "rebalance": "#FF7F0E",
    "rescale": "#9467BD",
    "shuffle": "#8C564B",
    "broadcast": "#E377C2",
    "global": "#7F7F7F",
    "hash": "#1F77B4",
    "custom": "#17BECF",
}
EVENT_COLOR = "#222222"

# Checkpoints: barriers take their checkpoint's colour, cycling through this palette
# (saturated hues, drawn thick with a white halo so they stand out from buffer arrows).
CHECKPOINT_COLORS = ["#E6194B", "#3CB44B", "#911EB4", "#008080", "#F032E6", "#9A6324"]
ALIGNING_COLOR = "#E08E0B"  # hatch of a blocked channel (the consumer is aligning)
SNAPSHOT_COLOR = "#000000"
TIMEOUT_COLOR = "#FFD700"
FAILED_CHECKPOINT_COLOR = "#C62828"

# TaskManagers, in natural order (tm-0, tm-1, ..., tm-10).
TASKMANAGER_COLORS = ["#AEC7E8", "#FFBB78", "#98DF8A", "#FF9896", "#C5B0D5",
                      "#C49C94", "#F7B6D2", "#DBDB8D", "#9EDAE5", "#C7C7C7"]

MAX_LABEL_CHARS = 30
ELLIPSIS = "\u2026"
_INDEX = re.compile(r"^(?P<vertex>.*?)(?P<index>\[\d+\])$")


def _clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[:max(limit - 1, 1)] + ELLIPSIS


def lane_label(subtask_id: str, max_chars: int = MAX_LABEL_CHARS) -> str:
    """A readable label for a subtask: a long operator chain keeps its first and last operator.

    `sum->sink[1]` stays as it is; `source->flat_map->filter->map->sink[3]`
    becomes `source->…->sink[3]`; an over-long operator name is clipped
    (`tokenize_sentenc…->…->filter[0]`). The `[index]` suffix is always kept,
    so a label still names one subtask of its vertex.

    Args:
        subtask_id: the execution-graph id, `vertex[index]` (a vertex id alone works too).
        max_chars: the longest label wanted.

    Returns:
        The label, at most `max_chars` characters unless the index alone is longer.
    """
    if len(subtask_id) <= max_chars:
        return subtask_id
    match = _INDEX.match(subtask_id)
    vertex, index = (match["vertex"], match["index"]) if match else (subtask_id, "")
    operators = vertex.split("->")
    room = max(max_chars - len(index), 8)
    if len(operators) == 1:
        return _clip(vertex, room) + index
    first, last = operators[0], operators[-1]
    joint = "->" if len(operators) == 2 else f"->{ELLIPSIS}->"
    room -= len(joint)
    # The last operator gets up to half the room; the first takes the rest.
    last = _clip(last, max(room // 2, room - len(first)))
    first = _clip(first, room - len(last))
    return f"{first}{joint}{last}{index}"


def lane_order(execution_graph, subtasks: Iterable[str] | None = None) -> list[str]:
    """Subtask ids in execution-graph order (vertex, then index), optionally only `subtasks`.

    Raises:
        ValueError: `subtasks` names a subtask that is not in the graph.
    """
    order = [s.id for s in execution_graph.subtasks]
    if subtasks is None:
        return order
    wanted = list(subtasks)
    unknown = sorted(set(wanted) - set(order))
    if unknown:
        raise ValueError(f"no subtasks {unknown} in this job; expected some of {order}")
    chosen = set(wanted)
    return [s for s in order if s in chosen]


def _tm_number(name: str) -> tuple[int, str]:
    digits = re.findall(r"\d+", name)
    return (int(digits[-1]) if digits else -1, name)


def taskmanager_colors(taskmanagers: Iterable[str]) -> dict[str, str]:
    """A fill colour per TaskManager, in natural name order (tm-2 before tm-10)."""
    names = sorted(set(taskmanagers), key=_tm_number)
    return {tm: TASKMANAGER_COLORS[i % len(TASKMANAGER_COLORS)] for i, tm in enumerate(names)}


def partitioner_color(kind: str) -> str:
    """The colour of an edge or buffer arrow for a partitioner kind ("hash", ...)."""
    return PARTITIONER_COLORS.get(kind, "#555555")


def checkpoint_color(checkpoint_id: int) -> str:
    """The colour of checkpoint `checkpoint_id`'s barriers and marks (the palette cycles)."""
    return CHECKPOINT_COLORS[(checkpoint_id - 1) % len(CHECKPOINT_COLORS)]


def lanes_height_in(lanes: int) -> float:
    """Figure height in inches for a picture with one lane per subtask."""
    return max(3.0, 0.42 * lanes + 1.8)


def new_figure(width_in: float, height_in: float, constrained: bool = True) -> Figure:
    """A fresh figure not registered with pyplot (freed when dropped)."""
    layout = "constrained" if constrained else None
    return Figure(figsize=(width_in, height_in), dpi=DPI, layout=layout)


def save_png(fig: Figure, path: str | os.PathLike | None) -> Path | None:
    """Write `fig` as PNG at `DPI` if `path` is given; returns the path written.

    The metadata names no software version, so the bytes depend only on the
    picture (and matplotlib's renderer).
    """
    if path is None:
        return None
    path = Path(path)
    fig.savefig(path, dpi=DPI, format="png", metadata={"Software": None})
    return path


def ms(t_us: int) -> float:
    """Virtual microseconds as milliseconds, for axes."""
    return t_us / 1000.0
