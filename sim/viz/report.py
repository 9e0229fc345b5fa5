"""A run's report as one self-contained HTML page: summary, checkpoint statistics and every figure.

Layer: `sim.viz`. Reads only the run's trace (through `sim.trace.checkpoint_stats`
and `sim.viz.checkpoints`), its summary text and the PNG files already drawn;
never a live runtime object. The page needs nothing else: figures are embedded
as base64 `data:` URIs, the style sheet is inline, and there is no script (the
per-subtask tables fold with `<details>`). Everything taken from the run (job
name, subtask ids, summary, failure reasons, file names) is HTML-escaped.

The same run and the same PNG bytes give the same page, byte for byte: the page
holds no generation time and no path.

Flink counterpart: the Checkpoints tab of the web UI (overview counters, the
history table, and the per-subtask table of one checkpoint).
Simplified: no live refresh; sizes are this simulator's serialised bytes.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from sim.kernel.files import write_text_atomic
from sim.trace.checkpoint_stats import CheckpointStats, checkpoint_counts, checkpoint_stats
from sim.viz.checkpoints import CHECKPOINT_TABLE_COLUMNS, checkpoint_table, failure_note, format_bytes, format_ms
from sim.viz.figures import FIGURE_CAPTIONS

if TYPE_CHECKING:
    from sim.scenario.result import RunResult

REPORT_NAME = "report.html"
SUBTASK_COLUMNS = ["Subtask", "Acknowledged", "End to end", "Checkpointed size", "Sync duration",
                   "Async duration", "Alignment duration", "Start delay", "Processed in-flight",
                   "Persisted in-flight", "Unaligned"]

_STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.meta { color: #555; margin-top: 0; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #e8e8e8; }
td:first-child, th:first-child { text-align: left; }
td.status { text-align: left; }
tr.COMPLETED td.status { background: #dff0d8; }
tr.FAILED td.status { background: #f8d7da; }
tr.IN_PROGRESS td.status { background: #d9edf7; }
.failed { color: #c62828; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; }
details { margin: 0.3em 0; }
"""


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], row_classes: Sequence[str] = ()) -> str:
    """An HTML table of escaped strings; the second column of a row is its status cell."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cells = "".join(f'<td class="status">{escape(v)}</td>' if k == 1 and row_classes else f"<td>{escape(v)}</td>"
                        for k, v in enumerate(row))
        css = f' class="{escape(row_classes[i])}"' if row_classes else ""
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table>\n<tr>{head}</tr>\n" + "\n".join(body) + "\n</table>"


def _subtask_rows(stats: CheckpointStats) -> list[list[str]]:
    """The web UI's subtask table of one checkpoint, in acknowledgement order."""
    return [[s.task, format_ms(s.ack_us), format_ms(s.ack_us - stats.trigger_us), format_bytes(s.checkpointed_bytes),
             format_ms(s.sync_us), format_ms(s.async_us), format_ms(s.alignment_us), format_ms(s.start_delay_us),
             format_bytes(s.processed_in_flight_bytes), format_bytes(s.persisted_in_flight_bytes),
             "yes" if s.unaligned else "no"] for s in stats.subtasks]


def _checkpoint_section(result: RunResult) -> str:
    """Counters, the history table, failed ids by reason, and one folded subtask table per checkpoint."""
    stats = checkpoint_stats(result.trace)
    if not stats:
        return "<h2>Checkpoints</h2>\n<p>No checkpoint was triggered.</p>"
    counts = checkpoint_counts(stats)
    parts = ["<h2>Checkpoints</h2>",
             "<p>" + escape(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items())) + "</p>",
             _table(CHECKPOINT_TABLE_COLUMNS, checkpoint_table(result), [s.status for s in stats])]
    note = failure_note(stats)
    if note:
        parts.append(f'<p class="failed">failed: {escape(note)}</p>')
    for s in stats:
        parts.append(f"<details><summary>checkpoint {s.checkpoint_id}: {escape(s.status)}, "
                     f"{s.acknowledged}/{s.total_subtasks} subtasks acknowledged</summary>\n"
                     f"{_table(SUBTASK_COLUMNS, _subtask_rows(s))}\n</details>")
    return "\n".join(parts)


def _figure(path: Path) -> str:
    """One PNG as an inline `data:` image with its caption."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = escape(FIGURE_CAPTIONS.get(path.name, path.name))
    return (f'<figure id="{escape(path.stem)}">\n<img src="data:image/png;base64,{data}" alt="{caption}">\n'
            f"<figcaption>{caption} ({escape(path.name)})</figcaption>\n</figure>")


def _figure_section(figures: Sequence[Path]) -> str:
    if not figures:
        return "<h2>Figures</h2>\n<p>No figures were drawn for this run.</p>"
    return "<h2>Figures</h2>\n" + "\n".join(_figure(Path(p)) for p in figures)


def report_html(result: RunResult, figures: Sequence[str | os.PathLike] = (), summary: str | None = None) -> str:
    """The report page of a run.

    Args:
        result: the run; its name, seed, status, end time, digest and trace are read.
        figures: PNG files to embed, in order (as `write_figures` returns them).
        summary: the text under "Summary" (default: `result.summary()`).

    Returns:
        A complete HTML5 document.

    Raises:
        OSError: a figure file cannot be read.
    """
    title = f"{result.job_name} (seed {result.seed}): {result.status}"
    text = result.summary() if summary is None else summary
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{escape(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{result.end_time_us / 1000:.3f} ms of virtual time, {len(result.trace)} trace events, '
        f"trace digest <code>{escape(result.digest)}</code></p>",
        "<h2>Summary</h2>", f"<pre>{escape(text)}</pre>",
        _checkpoint_section(result),
        _figure_section([Path(p) for p in figures]),
        "</body>", "</html>", ""])


def write_report(result: RunResult, out_dir: str | os.PathLike, figures: Sequence[str | os.PathLike] = (),
                 summary: str | None = None) -> Path:
    """Write `report_html(...)` as `report.html` in `out_dir` (atomically) and return its path."""
    return write_text_atomic(Path(out_dir) / REPORT_NAME, [report_html(result, figures, summary)])


def _inline_png(figure) -> str:
    """A matplotlib figure as an inline `data:` image (the figure is not kept)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    figure.clear()
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" style="max-width:100%">'


def checkpoints_html(result: RunResult) -> str:
    """The checkpoint counters, history table and per-subtask tables, as in the report (for Jupyter)."""
    return f"<style>{_STYLE}</style>\n{_checkpoint_section(result)}"


def notebook_html(result: RunResult) -> str:
    """How a run shows itself in Jupyter: status, summary, the job graph, the timelines and the checkpoints."""
    from sim.viz.graphs import draw_job_graph
    from sim.viz.timeline import draw_timelines
    title = f"{result.job_name} (seed {result.seed}): {result.status}"
    parts = [f"<div><style>{_STYLE}</style>", f"<h3>{escape(title)}</h3>",
             f"<details><summary>summary</summary><pre>{escape(result.summary())}</pre></details>",
             _inline_png(draw_job_graph(result.job_graph)), _inline_png(draw_timelines(result))]
    if checkpoint_stats(result.trace):
        parts.append(_checkpoint_section(result))
    parts.append("</div>")
    return "\n".join(parts)
