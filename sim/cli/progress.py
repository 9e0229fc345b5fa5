"""A one-line progress bar on a terminal, and silence anywhere else (a log, a pipe, CI).

Layer: `sim.cli`. Redrawn in place with a carriage return, only when the
shown percentage or failure count changes, so that even a long exploration
writes at most about a hundred short updates. Counts only: no wall clock,
no rate or time estimate.
"""

from __future__ import annotations

from typing import TextIO


class ProgressBar:
    """`bar(done, total, failing)` after each step; `bar.close()` clears the line before other output."""

    def __init__(self, stream: TextIO, what: str = "seeds", width: int = 30):
        self.stream = stream
        self.what = what
        self.width = width
        self.enabled = stream.isatty()
        self._shown: tuple[int, int] | None = None
        self._length = 0

    def __call__(self, done: int, total: int, failing: int) -> None:
        if not self.enabled or total <= 0:
            return
        key = (done * 100 // total, failing)
        if key == self._shown:
            return
        self._shown = key
        filled = done * self.width // total
        line = (f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} {self.what}, "
                f"{failing} failing")
        self.stream.write("\r" + line.ljust(self._length))
        self.stream.flush()
        self._length = len(line)

    def close(self) -> None:
        """Erase the bar, if one was drawn, so that what follows starts on a clean line."""
        if self.enabled and self._length:
            self.stream.write("\r" + " " * self._length + "\r")
            self.stream.flush()
            self._length = 0
