"""The trace-event catalogue as Markdown, generated from the event classes themselves.

Layer: `sim.trace`. `docs/reference/trace-events.md` is this function's output;
a test keeps the two equal.
"""

from __future__ import annotations

import dataclasses
import inspect

from sim.trace.events import EVENT_TYPES, TraceLevel


def _type_name(annotation: object) -> str:
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))


def catalogue_markdown() -> str:
    """One section per level, one table row per field of each event."""
    lines = [
        "# Trace events",
        "",
        "Generated from `sim/trace/events.py` by `python docs/generate.py`; do not edit by hand.",
        "",
        "Every event has `t_us`, the virtual time in microseconds, and is written as one JSON",
        "object per line with its class name under `type` and keys in sorted order. A run",
        "records the events of its trace level and every level below it.",
        "",
    ]
    for level in TraceLevel:
        lines += [f"## Level {level.name}", ""]
        for name, cls in EVENT_TYPES.items():
            if cls.level is not level:
                continue
            lines += [f"### {name}", "", inspect.cleandoc(cls.__doc__ or ""), "", "| field | type |", "|---|---|"]
            lines += [f"| `{f.name}` | `{_type_name(f.type)}` |" for f in dataclasses.fields(cls)]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
