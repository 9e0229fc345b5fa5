"""Checkpoint statistics as pictures: durations and sizes per checkpoint, and the web UI's history table.

Layer: `sim.viz`. Reads only the trace, through `sim.trace.checkpoint_stats`
(the fields of Flink's web UI) and `sim.viz.barriers.checkpoint_outcomes` (the
completion or abort time, which the statistics do not keep).

Flink counterpart: the Checkpoints tab of the web UI (overview counters,
history table, per-checkpoint alignment, sync and async durations and sizes).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.trace.checkpoint_stats import CheckpointStats, checkpoint_counts, checkpoint_stats
from sim.viz.barriers import checkpoint_outcomes
from sim.viz.style import FAILED_CHECKPOINT_COLOR, new_figure, save_png

if TYPE_CHECKING:
    from sim.scenario.result import RunResult

CHECKPOINT_TABLE_COLUMNS = ["ID", "Status", "Acknowledged", "Trigger time", "End to end", "Checkpointed size",
                            "Processed in-flight", "Persisted in-flight", "Unaligned"]
_DURATIONS = [("end to end", "#7F7F7F"), ("max alignment", "#E08E0B"), ("max sync", "#111111"),
              ("max async", "#2CA02C")]
_SIZES = [("checkpointed size", "#4C72B0"), ("persisted in-flight data", "#D62728")]
_TABLE_HEADERS = ["ID", "Status", "Acknowledged", "Trigger\ntime", "End to end", "Checkpointed\nsize",
                  "Processed\nin-flight", "Persisted\nin-flight", "Unaligned"]
_COLUMN_WIDTHS = [0.06, 0.14, 0.12, 0.11, 0.11, 0.12, 0.12, 0.12, 0.10]
_HEADER_IN, _ROW_IN = 0.42, 0.25
_STATUS_COLORS = {"COMPLETED": "#DFF0D8", "FAILED": "#F8D7DA", "IN_PROGRESS": "#D9EDF7"}
_WIDTH = 0.8


def format_bytes(size: int) -> str:
    """`0 B`, `512 B`, `1.9 KiB`, `432.0 KiB`, `1.20 MiB`: a byte count as the web UI shows it."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.2f} MiB"


def format_ms(t_us: int | None) -> str:
    """`12.3 ms` (virtual time, one decimal), or `-` when there is no time."""
    return "-" if t_us is None else f"{t_us / 1000:.1f} ms"


def _end_to_end_us(stats: CheckpointStats, end_us: int | None) -> int | None:
    """Until the last acknowledgement; a failed checkpoint until it was aborted (as the web UI does)."""
    if stats.status == "FAILED" and end_us is not None:
        return end_us - stats.trigger_us
    return stats.end_to_end_us


def checkpoint_table(result: RunResult) -> list[list[str]]:
    """The web UI's checkpoint history, one row of strings per triggered checkpoint, in id order.

    Columns (`CHECKPOINT_TABLE_COLUMNS`): id, status ("COMPLETED", "FAILED" or
    "IN_PROGRESS"), acknowledged/total subtasks, trigger time, end-to-end
    duration, checkpointed size, processed in-flight data, persisted in-flight
    data, unaligned ("yes"/"no"). Times are in ms of virtual time; a failed
    checkpoint's end to end runs until it was aborted.
    """
    ends = checkpoint_outcomes(result.trace)
    return [[str(s.checkpoint_id), s.status, f"{s.acknowledged}/{s.total_subtasks}", format_ms(s.trigger_us),
             format_ms(_end_to_end_us(s, ends[s.checkpoint_id].end_us)), format_bytes(s.checkpointed_bytes),
             format_bytes(s.processed_in_flight_bytes), format_bytes(s.persisted_in_flight_bytes),
             "yes" if s.unaligned else "no"]
            for s in checkpoint_stats(result.trace)]


def _title(result: RunResult, what: str, stats: list[CheckpointStats]) -> str:
    counts = checkpoint_counts(stats)
    text = (f"{what}: {result.job_name} (seed {result.seed}) \u2014 triggered {counts['triggered']}, "
            f"completed {counts['completed']}, failed {counts['failed']}")
    return text + (f", in progress {counts['in_progress']}" if counts["in_progress"] else "")


def _grouped_bars(ax, series: list[list[float]], styles: list[tuple[str, str]], hatches: list[str]) -> None:
    """One group per checkpoint (x = 0, 1, ...), one bar per series; a bar of height 0 is left out."""
    step = _WIDTH / len(series)
    for k, (values, (label, color)) in enumerate(zip(series, styles)):
        x = np.arange(len(values)) - _WIDTH / 2 + step * (k + 0.5)
        keep = [i for i, v in enumerate(values) if v > 0]
        bars = ax.bar(x[keep], [values[i] for i in keep], step * 0.92, color=color, label=label, zorder=3)
        for i, bar in zip(keep, bars):
            bar.set_hatch(hatches[i])
            bar.set_gid(f"{label}:{i}")


def _duration_panel(ax, stats: list[CheckpointStats], ends: dict) -> None:
    """Durations (ms, log scale: sync parts are thousands of times shorter than end to end)."""
    failed = [s.status == "FAILED" for s in stats]
    series = [[(_end_to_end_us(s, ends[s.checkpoint_id].end_us) or 0) / 1000 for s in stats],
              [s.max_alignment_us / 1000 for s in stats], [s.max_sync_us / 1000 for s in stats],
              [s.max_async_us / 1000 for s in stats]]
    _grouped_bars(ax, series, _DURATIONS, ["xx" if f else "" for f in failed])
    ax.set_yscale("log")
    positive = [v for values in series for v in values if v > 0] or [1.0]
    ax.set_ylim(min(positive) / 2, max(positive) * 8)
    ax.set_ylabel("duration (ms, log scale)")
    for i, s in enumerate(stats):
        if s.status == "FAILED":
            ax.text(i, 0.97, f"FAILED\n{s.failure_reason}", transform=ax.get_xaxis_transform(), ha="center",
                    va="top", fontsize=7, color=FAILED_CHECKPOINT_COLOR, fontweight="bold", zorder=5)


def _size_panel(ax, stats: list[CheckpointStats]) -> None:
    series = [[s.checkpointed_bytes / 1024 for s in stats], [s.persisted_in_flight_bytes / 1024 for s in stats]]
    _grouped_bars(ax, series, _SIZES, ["xx" if s.status == "FAILED" else "" for s in stats])
    ax.set_ylabel("size (KiB)")
    ax.set_ylim(0, max([v for values in series for v in values] + [1.0]) * 1.15)


def _checkpoint_axis(ax, stats: list[CheckpointStats]) -> None:
    """Checkpoint ids on x (every k-th when there are many), failed ids in red; light grid."""
    every = max(1, -(-len(stats) // 40))
    ticks = list(range(0, len(stats), every))
    ax.set_xticks(ticks, labels=[str(stats[i].checkpoint_id) for i in ticks], fontsize=8)
    for tick, i in zip(ax.get_xticklabels(), ticks):
        tick.set_color(FAILED_CHECKPOINT_COLOR if stats[i].status == "FAILED" else "#222222")
    ax.set_xlim(-0.6, len(stats) - 0.4)
    ax.grid(axis="y", color="#E5E5E5", linewidth=0.6, zorder=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _legends(top, bottom, stats: list[CheckpointStats]) -> None:
    """Explicit legend entries (a bar's own hatch would leak into them), above each panel."""
    handles = [Patch(facecolor=color, label=label) for label, color in _DURATIONS]
    reasons = sorted({s.failure_reason or "?" for s in stats if s.status == "FAILED"})
    if reasons:
        handles.append(Patch(facecolor="white", edgecolor="#444444", hatch="xx",
                             label=f"failed checkpoint ({', '.join(reasons)})"))
    width_in = top.get_figure().get_figwidth()
    ncols = len(handles) if len(handles) <= 4 or width_in >= 12 else 3
    top.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.01), ncols=ncols, frameon=False,
               fontsize=9, borderaxespad=0)
    bottom.legend(handles=[Patch(facecolor=color, label=label) for label, color in _SIZES], loc="lower left",
                  bbox_to_anchor=(0, 1.01), ncols=2, frameon=False, fontsize=9, borderaxespad=0)


def draw_checkpoint_stats(result: RunResult, path: str | os.PathLike | None = None) -> Figure:
    """Draw per-checkpoint durations (top) and sizes (bottom), one group of bars per checkpoint.

    Top: end-to-end duration and the largest alignment, sync and async
    durations over the subtasks, in ms on a log scale. Bottom: checkpointed
    size and persisted in-flight data (unaligned channel state) in KiB. A
    failed checkpoint's bars are cross-hatched, its id is red and its reason
    is written above it (and in the legend). The title gives the web UI's counters.

    Args:
        result: the run; only its trace is read.
        path: where to save the PNG, if given.

    Returns:
        The figure (not registered with pyplot); its axes hold no bars if no
        checkpoint was triggered. Each bar's gid is `<series>:<index>`.
    """
    stats = checkpoint_stats(result.trace)
    fig = new_figure(max(8.0, min(0.45 * len(stats) + 3.0, 20.0)), 6.2)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    if stats:
        _duration_panel(top, stats, checkpoint_outcomes(result.trace))
        _size_panel(bottom, stats)
    for ax in (top, bottom):
        _checkpoint_axis(ax, stats)
    bottom.set_xlabel("checkpoint id")
    _legends(top, bottom, stats)
    fig.suptitle(_title(result, "Checkpoints", stats), fontsize=11)
    save_png(fig, path)
    return fig


def failure_note(stats: list[CheckpointStats]) -> str:
    """`failed: 1, 3 (EXPIRED); 7 (TASK_FAILED)`: failed ids grouped by reason, or ""."""
    by_reason: dict[str, list[str]] = {}
    for s in stats:
        if s.status == "FAILED":
            by_reason.setdefault(s.failure_reason or "?", []).append(str(s.checkpoint_id))
    return "; ".join(f"{', '.join(ids)} ({reason})" for reason, ids in sorted(by_reason.items()))


def _style_table(table) -> None:
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    for (row, col), cell in table.get_celld().items():
        if row == 0:
            cell.set_facecolor("#E8E8E8")
            cell.set_text_props(fontweight="bold")
        elif col == 1:
            cell.set_facecolor(_STATUS_COLORS.get(cell.get_text().get_text(), "white"))


def draw_checkpoint_table(result: RunResult, path: str | os.PathLike | None = None) -> Figure:
    """Render `checkpoint_table` as a table, status cells coloured, failed ids listed by reason below it.

    Args:
        result: the run; only its trace is read.
        path: where to save the PNG, if given.

    Returns:
        The figure (not registered with pyplot).
    """
    stats = checkpoint_stats(result.trace)
    rows = checkpoint_table(result) or [["-"] * len(CHECKPOINT_TABLE_COLUMNS)]
    note = failure_note(stats)
    table_in, note_in, title_in = _HEADER_IN + _ROW_IN * len(rows), 0.35 if note else 0.1, 0.45
    height = table_in + note_in + title_in
    fig = new_figure(11.0, height, constrained=False)
    ax = fig.add_axes((0.02, note_in / height, 0.96, table_in / height))
    ax.axis("off")
    table = ax.table(cellText=rows, colLabels=_TABLE_HEADERS, colWidths=_COLUMN_WIDTHS, cellLoc="center",
                     bbox=(0, 0, 1, 1))
    _style_table(table)
    header_share = _HEADER_IN / table_in
    for (row, _), cell in table.get_celld().items():
        cell.set_height(header_share if row == 0 else (1 - header_share) / len(rows))
    if note:
        fig.text(0.02, note_in / height / 2, f"failed: {note}", fontsize=9, color=FAILED_CHECKPOINT_COLOR,
                 va="center")
    fig.suptitle(_title(result, "Checkpoint history", stats), fontsize=11, y=1 - 0.12 / height, va="top")
    save_png(fig, path)
    return fig
