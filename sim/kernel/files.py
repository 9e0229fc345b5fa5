"""Writing an output file atomically: a temp file beside it, then a rename.

Layer: `sim.kernel`. For the files a run writes for people and tools (trace,
exports, report): a reader never sees half a file, and an interrupted write
leaves the previous file in place.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def write_text_atomic(path: str | os.PathLike, chunks: Iterable[str]) -> Path:
    """Write `chunks` one after another as UTF-8 to `path.tmp`, then rename it to `path`.

    Args:
        path: the file to write (its folder must exist).
        chunks: the text, in pieces (a generator keeps a large file out of memory).

    Returns:
        `path` as a `Path`.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(chunk)
    os.replace(tmp, path)
    return path
