"""Loading a snapshot the user names (a savepoint, or a retained `chk-<id>`), with errors that say what was found.

Layer: `sim.state` (no SimPy). `load_savepoint` only reads: it never writes,
renames or deletes anything under the path it is given, also when it fails.
Verification is `sim.state.storage`'s (sizes, checksums, formats); this
module tells apart the three ways a path can fail before that:

- nothing there, or no `_metadata.json` and nothing that looks like a
  snapshot: `SnapshotNotFoundError`;
- something else there: a Flink savepoint (binary `_metadata`), a
  checkpoint root (pass one of its `chk-*` / `savepoint-*` directories), or
  a `_metadata.json` of another format or version: `NotASnapshotError`;
- a sim snapshot that is damaged: `CorruptCheckpointError`, naming the file.

Whether the state in it fits the job is decided at restore
(`sim.runtime.restore.plan_restore`): state of another job matches no
operator there and is refused.
"""

from __future__ import annotations

from pathlib import Path

from sim.state.serde import parse_json
from sim.state.storage import METADATA_FILE, METADATA_FORMAT, VERSION, LoadedCheckpoint, load_checkpoint_chain


class SnapshotNotFoundError(FileNotFoundError):
    """No snapshot at the path: it does not exist, or holds no `_metadata.json`."""


class NotASnapshotError(ValueError):
    """The path holds something other than a snapshot `sim` wrote (or one of another format version)."""


def load_savepoint(path: str | Path) -> LoadedCheckpoint:
    """Loads and verifies the snapshot in directory `path`, with the checkpoints its incremental state builds on.

    Args:
        path: A `savepoint-<name>` or `chk-<id>` directory.

    Raises:
        SnapshotNotFoundError: Nothing at `path`, or a directory without `_metadata.json`.
        NotASnapshotError: A file, a Flink savepoint, a checkpoint root, or metadata of another format.
        CorruptCheckpointError: A damaged snapshot (missing, truncated or altered file), naming the file.
    """
    directory = Path(path)
    expected = f"expected a directory holding {METADATA_FILE}"
    if not directory.exists():
        raise SnapshotNotFoundError(f"no savepoint at {directory}: {expected}, found nothing there")
    if not directory.is_dir():
        raise NotASnapshotError(f"no savepoint at {directory}: {expected}, found a file")
    metadata = directory / METADATA_FILE
    if not metadata.is_file():
        raise _without_metadata(directory, expected)
    _check_format(metadata)
    return load_checkpoint_chain(directory)


def _without_metadata(directory: Path, expected: str) -> Exception:
    """What a directory without `_metadata.json` is, as an error."""
    if (directory / "_metadata").is_file():
        return NotASnapshotError(f"savepoint {directory} is not a sim snapshot: {expected}, found _metadata "
                                 f"(a Flink savepoint?); sim restores only snapshots it wrote itself")
    inside = sorted(p.name for p in directory.iterdir()
                    if p.is_dir() and (p.name.startswith("chk-") or p.name.startswith("savepoint-"))
                    and not p.name.endswith(".inprogress"))
    if inside:
        shown = ", ".join(inside[:3]) + (", ..." if len(inside) > 3 else "")
        return NotASnapshotError(f"no savepoint at {directory}: {expected}, found a checkpoint directory holding "
                                 f"{shown}; pass one of those")
    return SnapshotNotFoundError(f"no savepoint at {directory}: {expected}, found none")


def _check_format(metadata: Path) -> None:
    """Refuses metadata that parses but is not sim's (another tool, or another format version).

    Metadata that does not parse is left to the verified load, which reports it as corrupt.
    """
    try:
        doc = parse_json(metadata.read_bytes())
    except (UnicodeDecodeError, ValueError):
        return
    found = (doc.get("format"), doc.get("version")) if isinstance(doc, dict) else type(doc).__name__
    if isinstance(doc, dict) and doc.get("format") == METADATA_FORMAT and doc.get("version") != VERSION:
        raise NotASnapshotError(f"savepoint {metadata.parent} was written in format version {doc.get('version')!r}; "
                                f"expected version {VERSION} (this sim reads only that)")
    if found != (METADATA_FORMAT, VERSION):
        raise NotASnapshotError(f"savepoint {metadata.parent} is not a sim snapshot: expected {METADATA_FILE} of "
                                f"format {METADATA_FORMAT!r} version {VERSION}, found {found}")
