"""Checkpoint marks drawn on subtask lanes: barrier arrows, blocked channels, snapshots, alignment timeouts.

Layer: `sim.viz`. Draws what `sim.viz.barriers` read from the trace onto an
axes whose lanes sit at y = 0, 1, ... (first lane at the top, y grows
downwards), as the space-time diagram and the timelines lay them out. Each
drawn artist carries a gid (`barrier:<id>:<channel>`, `blocked:<task>:<channel>`,
`snapshots`, `alignment-timeouts`) so tests can check content, not pixels.
"""

from __future__ import annotations

from matplotlib import patheffects
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle

from sim.viz.barriers import Barrier, BlockedSpan, Outcome, SnapshotMark, merged_intervals, stack_slots
from sim.viz.style import (
    ALIGNING_COLOR, CHECKPOINT_COLORS, SNAPSHOT_COLOR, TIMEOUT_COLOR, checkpoint_color, ms,
)

HATCH = "////"
ALIGNING_LABEL = "channel blocked (aligning)"
SNAPSHOT_LABEL = "snapshot taken (black bar: sync part)"
TIMEOUT_LABEL = "alignment timed out \u2192 unaligned"
_HALO = [patheffects.withStroke(linewidth=4.2, foreground="white")]


def barrier_arrow(barrier: Barrier, rows: dict[str, int]) -> FancyArrowPatch:
    """A bold arrow in the checkpoint's colour: solid if aligned, dotted for a priority (unaligned) barrier."""
    arrow = FancyArrowPatch((ms(barrier.sent_us), rows[barrier.producer]),
                            (ms(barrier.received_us), rows[barrier.consumer]),
                            arrowstyle="-|>", mutation_scale=13, linewidth=2.2,
                            linestyle=":" if barrier.priority else "-",
                            color=checkpoint_color(barrier.checkpoint_id), shrinkA=0, shrinkB=0, zorder=5,
                            path_effects=_HALO)
    arrow.set_gid(f"barrier:{barrier.checkpoint_id}:{barrier.channel}")
    return arrow


def draw_barriers(ax, barriers: list[Barrier], rows: dict[str, int]) -> None:
    """Draw every barrier whose two subtasks have a lane (barriers are never sampled away)."""
    for barrier in barriers:
        if barrier.producer in rows and barrier.consumer in rows:
            ax.add_patch(barrier_arrow(barrier, rows))


def _strip(ax, task: str, channel: str, start_us: int, end_us: int, y: float, height: float) -> None:
    strip = Rectangle((ms(start_us), y), ms(end_us - start_us), height, facecolor=ALIGNING_COLOR, alpha=0.35,
                      edgecolor=ALIGNING_COLOR, hatch=HATCH, linewidth=0.6, zorder=2.5)
    strip.set_gid(f"blocked:{task}:{channel}")
    ax.add_patch(strip)


def draw_blocked_spans(ax, rows: dict[str, int], spans: dict[str, list[BlockedSpan]],
                       band: tuple[float, float] = (0.06, 0.42)) -> int:
    """Draw each blocked channel as a hatched strip just below its consumer's lane.

    Strips of one lane that overlap in time are stacked in rows inside `band`
    (offsets below the lane line), so every blocked channel stays visible.

    Returns:
        The number of strips drawn.
    """
    drawn = 0
    for task, task_spans in spans.items():
        if task not in rows or not task_spans:
            continue
        slots = stack_slots([(s[0], s[1]) for s in task_spans])
        pitch = (band[1] - band[0]) / (max(slots) + 1)
        for (start, end, channel, _), slot in zip(task_spans, slots):
            _strip(ax, task, channel, start, end, rows[task] + band[0] + slot * pitch, pitch * 0.85)
            drawn += 1
    return drawn


def draw_aligning_bands(ax, rows: dict[str, int], spans: dict[str, list[BlockedSpan]],
                        band: tuple[float, float]) -> bool:
    """Draw one hatched band per subtask where any of its input channels was blocked (the union)."""
    drawn = False
    for task, task_spans in spans.items():
        if task in rows:
            for start, end in merged_intervals((s[0], s[1]) for s in task_spans):
                _strip(ax, task, "*", start, end, rows[task] + band[0], band[1] - band[0])
                drawn = True
    return drawn


def draw_checkpoint_bounds(ax, checkpoint_id: int, outcome: Outcome, label_y: float) -> None:
    """Dashed lines at a checkpoint's trigger and end, each named at `label_y` (a free strip above the lanes)."""
    color = checkpoint_color(checkpoint_id)
    ax.axvline(ms(outcome.trigger_us), color=color, linestyle="--", linewidth=1.1, zorder=1.5)
    ax.text(ms(outcome.trigger_us), label_y, f" checkpoint {checkpoint_id} triggered", ha="left", va="center",
            fontsize=8.5, color="#222222", zorder=8)
    if outcome.end_us is not None:
        ended = "completed" if outcome.status == "COMPLETED" else f"failed ({outcome.reason})"
        ax.axvline(ms(outcome.end_us), color=color, linestyle="--", linewidth=1.1, zorder=1.5)
        ax.text(ms(outcome.end_us), label_y, f"checkpoint {checkpoint_id} {ended} ", ha="right", va="center",
                fontsize=8.5, color="#222222", zorder=8)


def draw_snapshots(ax, rows: dict[str, int], marks: list[SnapshotMark], height: float = 0.5,
                   size: float = 42) -> bool:
    """A short black bar for each synchronous snapshot part and a diamond in the checkpoint's colour at its end."""
    shown = [m for m in marks if m.task in rows]
    for mark in shown:
        y = rows[mark.task]
        ax.broken_barh([(ms(mark.start_us), ms(mark.end_us - mark.start_us))], (y - height / 2, height),
                       facecolors=SNAPSHOT_COLOR, edgecolors=SNAPSHOT_COLOR, linewidth=0.6, zorder=4)
    if shown:
        points = ax.scatter([ms(m.end_us) for m in shown], [rows[m.task] for m in shown], marker="D", s=size,
                            c=[checkpoint_color(m.checkpoint_id) for m in shown], edgecolors=SNAPSHOT_COLOR,
                            linewidths=0.9, zorder=6)
        points.set_gid("snapshots")
    return bool(shown)


def draw_timeouts(ax, rows: dict[str, int], timeouts: list[tuple[int, str, int]], lift: float = 0.3) -> bool:
    """A gold star where a subtask's alignment timed out and it switched the checkpoint to unaligned.

    The star sits `lift` above the lane line, clear of the snapshot diamond that usually follows at once.
    """
    shown = [(t, task) for t, task, _ in timeouts if task in rows]
    if shown:
        points = ax.scatter([ms(t) for t, _ in shown], [rows[task] - lift for _, task in shown], marker="*", s=170,
                            color=TIMEOUT_COLOR, edgecolors="black", linewidths=0.8, zorder=7)
        points.set_gid("alignment-timeouts")
    return bool(shown)


def barrier_handles(barriers: list[Barrier]) -> list:
    """Legend entries: one per checkpoint shown ("barrier n"), or one note when the colours repeat; the kinds."""
    ids = sorted({b.checkpoint_id for b in barriers})
    if len(ids) <= len(CHECKPOINT_COLORS):
        handles = [Line2D([], [], color=checkpoint_color(cid), linewidth=2.2, label=f"barrier {cid}")
                   for cid in ids]
    else:
        handles = [Line2D([], [], color=CHECKPOINT_COLORS[0], linewidth=2.2,
                          label=f"barriers {ids[0]}-{ids[-1]} (colours repeat every {len(CHECKPOINT_COLORS)})")]
    kinds = {b.priority for b in barriers}
    if True in kinds:
        handles.append(Line2D([], [], color="#333333", linewidth=2.2, linestyle=":",
                              label="priority barrier (unaligned)"))
    if False in kinds and True in kinds:
        handles.append(Line2D([], [], color="#333333", linewidth=2.2, label="aligned barrier"))
    return handles


def mark_handles(blocked: bool, snapshots: bool, timeouts: bool) -> list:
    """Legend entries for the lane marks that were drawn."""
    handles = []
    if blocked:
        handles.append(Patch(facecolor=ALIGNING_COLOR, alpha=0.35, edgecolor=ALIGNING_COLOR, hatch=HATCH,
                             label=ALIGNING_LABEL))
    if snapshots:
        handles.append(Line2D([], [], color="white", marker="D", markerfacecolor="#BBBBBB",
                              markeredgecolor=SNAPSHOT_COLOR, markersize=6, linestyle="", label=SNAPSHOT_LABEL))
    if timeouts:
        handles.append(Line2D([], [], marker="*", markersize=12, markerfacecolor=TIMEOUT_COLOR,
                              markeredgecolor="black", linestyle="", label=TIMEOUT_LABEL))
    return handles
