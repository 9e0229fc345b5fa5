"""The trace of one run: an ordered list of events, its JSON-lines form and its digest.

The trace is the single source of truth for checkers, pictures and statistics.
It never reads a clock: every event carries its own virtual time. Serialisation
uses sorted keys and fixed separators so that the same run always gives the same
bytes and so the same sha256 digest.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from sim.kernel.files import write_text_atomic
from sim.trace.events import TraceEvent, TraceLevel, event_from_dict

E = TypeVar("E", bound=TraceEvent)


def _line(event: TraceEvent) -> str:
    return json.dumps(event.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Trace:
    """Events in the order they happened, filtered by a `TraceLevel`.

    Producers check `trace.buffers` / `trace.records` (plain bools) before
    building an event, so a light run pays nothing for events it does not keep.
    """

    def __init__(self, level: TraceLevel = TraceLevel.BUFFERS, events: Iterable[TraceEvent] = ()):
        self.level = TraceLevel(level)
        self.events: list[TraceEvent] = list(events)
        self.checkpoints = self.level >= TraceLevel.CHECKPOINTS
        self.buffers = self.level >= TraceLevel.BUFFERS
        self.records = self.level >= TraceLevel.RECORDS

    def emit(self, event: TraceEvent) -> None:
        """Append `event` if its level is recorded."""
        if event.level <= self.level:
            self.events.append(event)

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self.events)

    def of_type(self, *types: type[E]) -> list[E]:
        """The events that are instances of any of `types`, in trace order."""
        return [e for e in self.events if isinstance(e, types)]

    def lines(self) -> Iterator[str]:
        """One JSON object per event, keys sorted, no trailing newline."""
        return (_line(e) for e in self.events)

    def digest(self) -> str:
        """sha256 over the JSON-lines form: equal digests mean identical traces."""
        h = hashlib.sha256()
        for line in self.lines():
            h.update(line.encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()

    def write_jsonl(self, path: str | os.PathLike) -> Path:
        """Write the trace atomically (temp file, then rename) and return the path."""
        return write_text_atomic(path, (line + "\n" for line in self.lines()))

    @classmethod
    def read_jsonl(cls, path: str | os.PathLike) -> Trace:
        """Load a trace written by `write_jsonl`.

        Raises:
            ValueError: the file is not UTF-8 text, or a line is not JSON or not a
                known event; names the file (and the line).
        """
        try:
            events = _read_events(path)
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not a trace: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        level = max((e.level for e in events), default=TraceLevel.JOB)
        return cls(level=level, events=events)


def _read_events(path: str | os.PathLike) -> list[TraceEvent]:
    events: list[TraceEvent] = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                events.append(event_from_dict(json.loads(line)))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a trace event: {exc}") from None
    return events
