"""Checkpoint and savepoint files: a versioned JSON layout, atomic writes, verified loads.

Layer: `sim.state` (no SimPy, no clock: times are handed in). This module
writes what the runtime snapshotted and reads it back; loading never decodes
state values (that happens at restore, through `sim.state.serde`) and never
executes anything found in a file.

Format, version 1 (also in docs/reference/checkpoint-format.md)::

    <root>/
      chk-<id>/                       a completed checkpoint
        _metadata.json
        <task>-<subtask>.json         one per subtask state handle
      savepoint-<name>/               a completed savepoint (same contents)
      chk-<id>.inprogress/            being written, or abandoned: never loaded

A subtask file is canonical JSON (UTF-8, compact, sorted keys)::

    {"format": "sim-state", "version": 1, "checkpoint_id": 7,
     "task": "map -> sum", "subtask": 0,
     "operators": {"<operator id>": {"keyed": <KeyedStateSnapshot.to_json()> | null,
                                     "operator": <operator state, serde-encoded> | null}},
     "channel_state": {...}}

`_metadata.json` lists every file with its byte size and sha256, and ends
with `metadata_sha256`, the sha256 of the canonical JSON of the metadata
without that field::

    {"format": "sim-checkpoint", "version": 1, "kind": "checkpoint" | "savepoint",
     "checkpoint_id": 7, "job": <str or null>, "trigger_us": <int or null>,
     "metadata": {...what the coordinator passed...},
     "builds_on": [<checkpoint ids whose files incremental state needs>],
     "files": [{"name": "map_-_sum-0.json", "task": "map -> sum", "subtask": 0,
                "size_bytes": 1234, "sha256": "..."}],
     "metadata_sha256": "..."}

Atomicity: every file is written to a temporary name and moved into place
with `os.replace`; the whole `chk-<id>.inprogress/` directory is renamed to
`chk-<id>/` only after `_metadata.json` is in it. A reader therefore sees a
complete checkpoint or none.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from sim.state.serde import canonical_json, decode, encode, parse_json
from sim.state.snapshot import KeyedStateSnapshot

FILE_FORMAT = "sim-state"
METADATA_FORMAT = "sim-checkpoint"
VERSION = 1
METADATA_FILE = "_metadata.json"
KINDS = ("checkpoint", "savepoint")
_PAYLOAD_KEYS = {"task", "subtask", "checkpoint_id", "operators", "channel_state"}
_CHECKPOINT_DIR = re.compile(r"chk-(\d+)$")


class CheckpointDirInUseError(ValueError):
    """A checkpoint directory already holds checkpoints of another run: a new run would mix with them."""


class CorruptCheckpointError(ValueError):
    """A checkpoint on disk cannot be trusted: `path` is the file at fault, `reason` what is wrong."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"corrupt checkpoint file {self.path}: {reason}")


@dataclass(frozen=True)
class FileHandle:
    """A written subtask file: where it was written, its size and sha256.

    `path` is where the file was written (inside the in-progress directory);
    after `finalize` it lives under the same name in the final directory.
    """

    path: str
    size_bytes: int
    sha256: str
    task: str = ""
    subtask: int = 0
    builds_on: tuple[int, ...] = ()


@dataclass(frozen=True)
class SkippedCheckpoint:
    """A checkpoint `latest_valid_checkpoint` passed over, and why."""

    path: str
    checkpoint_id: int
    reason: str


@dataclass
class LoadedCheckpoint:
    """A verified checkpoint or savepoint: its metadata and every subtask file's JSON.

    `subtasks` holds each subtask file's JSON as it is on disk: keyed state
    as `KeyedStateSnapshot` JSON, operator state and channel state in the
    tagged value encoding of `sim.state.serde` (decoded by `operator_states`
    and at restore). `from_payloads` builds the same from the payloads a
    coordinator keeps in memory.

    Attributes:
        path: The checkpoint directory (None for one kept in memory).
        checkpoint_id: Its id.
        kind: "checkpoint" or "savepoint".
        job: The job name, if the writer was given one.
        trigger_us: The trigger time, if the writer was given one.
        metadata: The full `_metadata.json` content.
        builds_on: Checkpoints whose files the incremental state in this one needs.
        subtasks: Subtask file content per (task, subtask).
        bases: The loaded checkpoints named in `builds_on`.
    """

    path: str | None
    checkpoint_id: int
    kind: str
    job: str | None
    trigger_us: int | None
    metadata: dict[str, Any]
    builds_on: tuple[int, ...] = ()
    subtasks: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    bases: list[LoadedCheckpoint] = field(default_factory=list)

    @classmethod
    def from_payloads(cls, checkpoint_id: int, kind: str, metadata: dict[str, Any], payloads: dict[str, dict],
                      bases: Iterable[LoadedCheckpoint] = ()) -> LoadedCheckpoint:
        """A checkpoint kept in memory (no checkpoint directory), shaped exactly as one loaded from files.

        Each payload becomes the document its file would hold, keyed by
        (task, subtask) as files are; it is copied through canonical JSON, so
        later changes to live objects cannot reach it.

        Args:
            checkpoint_id: The checkpoint.
            kind: "checkpoint" or "savepoint".
            metadata: What the coordinator would pass to `CheckpointWriter.finalize`.
            payloads: Per subtask (any key, e.g. the subtask id), what `StreamTask.snapshot_state`
                returned, with `channel_state` if any; `task` defaults to the key, `subtask` is required.
            bases: The checkpoints incremental keyed state in these payloads builds on.

        Raises:
            ValueError: An unknown kind, a payload without `subtask` or with unknown keys, two payloads
                for one subtask, or a checkpoint named in `builds_on` missing from `bases`.
            TypeError: A payload that cannot be encoded.
        """
        if kind not in KINDS:
            raise ValueError(f"checkpoint {checkpoint_id}: kind must be one of {KINDS}, got {kind!r}")
        subtasks: dict[tuple[str, int], dict[str, Any]] = {}
        for name, payload in sorted(payloads.items()):
            task, subtask = payload.get("task", name), payload.get("subtask")
            if type(subtask) is not int:
                raise ValueError(f"checkpoint {checkpoint_id}: payload {name!r} needs an int subtask, got {subtask!r}")
            if (task, subtask) in subtasks:
                raise ValueError(f"checkpoint {checkpoint_id}: two payloads for task {task!r} subtask {subtask}")
            document = CheckpointWriter._subtask_document(checkpoint_id, task, subtask, payload)
            subtasks[(task, subtask)] = parse_json(canonical_json(document))
        bases = list(bases)
        builds_on = sorted({c for doc in subtasks.values() for c in incremental_bases(doc)})
        missing = sorted(set(builds_on) - {b.checkpoint_id for b in bases})
        if missing:
            raise ValueError(f"checkpoint {checkpoint_id}: its incremental state builds on checkpoints {builds_on}, "
                             f"but bases hold {sorted(b.checkpoint_id for b in bases)}: {missing} missing")
        document = _metadata_body(checkpoint_id, kind, metadata, builds_on, [])
        return cls(None, checkpoint_id, kind, document["job"], document["trigger_us"], document, tuple(builds_on),
                   subtasks, bases)

    def restore_snapshots(self, operator_id: str) -> list[KeyedStateSnapshot]:
        """The keyed snapshots of one operator here and in `bases`: what `KeyedStateBackend.restore` takes.

        `bases` is filled by `load_checkpoint_chain` / `latest_valid_checkpoint`.
        """
        return [snap for checkpoint in (*self.bases, self) for snap in checkpoint.keyed_snapshots(operator_id)]

    def operator_ids(self) -> list[str]:
        """Every operator id with state in this checkpoint, sorted."""
        return sorted({op for doc in self.subtasks.values() for op in doc["operators"]})

    def keyed_snapshots(self, operator_id: str) -> list[KeyedStateSnapshot]:
        """The keyed snapshots of one operator, in (task, subtask) order."""
        out = []
        for _, doc in sorted(self.subtasks.items()):
            entry = doc["operators"].get(operator_id)
            if entry is not None and entry.get("keyed") is not None:
                out.append(KeyedStateSnapshot.from_json(entry["keyed"]))
        return out

    def operator_states(self, operator_id: str) -> list[Any]:
        """The operator (non-keyed) state of one operator per subtask, decoded, in subtask order (None if absent).

        Each is what the operator's `snapshot_operator_state` returned in that subtask.

        Raises:
            ValueError: A value of a user type that is not registered (`sim.state.serde.register_type`).
        """
        found = {}
        for (_, subtask), doc in sorted(self.subtasks.items()):
            entry = doc["operators"].get(operator_id)
            if entry is not None:
                found[subtask] = decode(entry.get("operator"))
        return [found.get(i) for i in range(max(found) + 1)] if found else []

    def channel_state(self, task: str, subtask: int) -> dict[str, Any]:
        """The channel state section of one subtask file (empty if the subtask wrote none)."""
        doc = self.subtasks.get((task, subtask))
        return {} if doc is None else doc.get("channel_state", {})


# -- writing --------------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomically(path: Path, data: bytes, durable: bool) -> None:
    """Writes `data` to a temporary file beside `path`, then moves it into place."""
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "wb") as out:
        out.write(data)
        if durable:
            out.flush()
            os.fsync(out.fileno())
    os.replace(temp, path)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", name).strip("._") or "unnamed"


def subtask_file_name(task: str, subtask: int) -> str:
    """The file name of a subtask's state: the task name made filesystem-safe, then the index."""
    return f"{_safe_name(task)}-{subtask}.json"


class CheckpointWriter:
    """Writes checkpoint and savepoint directories under `root` (see the module docstring).

    Lifecycle per checkpoint: `write_subtask` for each acknowledging subtask
    (into `chk-<id>.inprogress/`), then `finalize` (metadata, then rename) or
    `abort` (the in-progress directory is removed).

    Args:
        root: The checkpoint directory (Flink's `execution.checkpointing.dir`).
        durable: fsync every file before renaming it (off by default: the
            simulator needs atomic visibility, not crash durability).

    Flink counterpart: `FsCheckpointStorageAccess`, `FsCheckpointMetadataOutputStream`.
    Simplified: one JSON file per subtask; incremental state is shared by
    checkpoint id, not by shared files.
    """

    def __init__(self, root: str | Path, durable: bool = False):
        self.root = Path(root)
        self.durable = durable

    @staticmethod
    def for_new_run(root: str | Path, durable: bool = False) -> CheckpointWriter:
        """A writer for a run that starts now; refuses a directory holding another run's checkpoints.

        Raises:
            CheckpointDirInUseError: `root` has `chk-*` entries, which the new run's would mix with.
        """
        root = Path(root)
        earlier = sorted(p.name for p in root.glob("chk-*")) if root.is_dir() else []
        if earlier:
            shown = ", ".join(earlier[:3]) + (", ..." if len(earlier) > 3 else "")
            raise CheckpointDirInUseError(
                f"checkpoint directory {root} already holds checkpoints of an earlier run ({shown}); "
                f"expected no chk-* entries: choose another directory or remove them")
        return CheckpointWriter(root, durable)

    @staticmethod
    def clear_earlier_run(root: str | Path) -> list[str]:
        """Removes the `chk-*` entries an earlier run left in `root` (savepoints stay); returns their names."""
        root = Path(root)
        removed = sorted(p.name for p in root.glob("chk-*")) if root.is_dir() else []
        for name in removed:
            shutil.rmtree(root / name)
        return removed

    def _in_progress(self, checkpoint_id: int) -> Path:
        return self.root / f"chk-{checkpoint_id}.inprogress"

    def write_subtask(self, checkpoint_id: int, task: str, subtask: int, payload: dict[str, Any]) -> FileHandle:
        """Writes one subtask's state file into the in-progress directory.

        Args:
            checkpoint_id: The checkpoint.
            task: The task name (a chain's name).
            subtask: The subtask index.
            payload: `operators` (op id → {"keyed": ..., "operator": ...}) and
                optionally `channel_state`; `task`/`subtask` may repeat the arguments.

        Raises:
            ValueError: On unknown payload keys, a task/subtask that contradicts
                the arguments, or a second file for the same subtask.
            TypeError: If the payload is not JSON-able.
        """
        document = self._subtask_document(checkpoint_id, task, subtask, payload)
        data = canonical_json(document)
        directory = self._in_progress(checkpoint_id)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / subtask_file_name(task, subtask)
        if path.exists():
            raise ValueError(f"checkpoint {checkpoint_id}: {path.name} was already written "
                             f"(task {task!r} subtask {subtask} twice, or two tasks with the same file name)")
        _write_atomically(path, data, self.durable)
        return FileHandle(str(path), len(data), _sha256(data), task, subtask, incremental_bases(document))

    @staticmethod
    def _subtask_document(checkpoint_id: int, task: str, subtask: int, payload: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(payload) - _PAYLOAD_KEYS)
        if unknown:
            raise ValueError(f"checkpoint {checkpoint_id}: payload of {task}[{subtask}] has unknown keys {unknown}, "
                             f"expected some of {sorted(_PAYLOAD_KEYS)}")
        given = {"task": task, "subtask": subtask, "checkpoint_id": checkpoint_id}
        for name, expected in given.items():
            if name in payload and payload[name] != expected:
                raise ValueError(f"checkpoint {checkpoint_id}: payload of {task}[{subtask}] says {name} "
                                 f"{payload[name]!r}, expected {expected!r}")
        operators = {op: {"keyed": entry.get("keyed"),
                          "operator": encode(entry.get("operator"), f"operator state of {op}[{subtask}]")}
                     for op, entry in payload.get("operators", {}).items()}
        return {"format": FILE_FORMAT, "version": VERSION, **given,
                "operators": operators, "channel_state": payload.get("channel_state", {})}

    def finalize(self, checkpoint_id: int, kind: str, metadata: dict[str, Any],
                 handles: Iterable[FileHandle]) -> Path:
        """Writes `_metadata.json` and renames the in-progress directory to its final name.

        Args:
            checkpoint_id: The checkpoint.
            kind: "checkpoint" (→ `chk-<id>`) or "savepoint" (→ `savepoint-<metadata["name"] or id>`).
            metadata: JSON-able facts to record; `job` and `trigger_us` are also lifted to the top level.
            handles: The files written for this checkpoint.

        Returns:
            The final directory.

        Raises:
            ValueError: On an unknown kind, a handle from another directory, or an existing target.
        """
        if kind not in KINDS:
            raise ValueError(f"checkpoint {checkpoint_id}: kind must be one of {KINDS}, got {kind!r}")
        directory = self._in_progress(checkpoint_id)
        directory.mkdir(parents=True, exist_ok=True)
        handles = sorted(handles, key=lambda h: (h.task, h.subtask))
        for handle in handles:
            if Path(handle.path).parent != directory:
                raise ValueError(f"checkpoint {checkpoint_id}: file {handle.path} is not in {directory}")
        if kind == "savepoint":
            target = self.root / f"savepoint-{_safe_name(str(metadata.get('name', checkpoint_id)))}"
        else:
            target = self.root / f"chk-{checkpoint_id}"
        if target.exists():
            raise ValueError(f"checkpoint {checkpoint_id}: {target} already exists")
        document = _metadata_document(checkpoint_id, kind, metadata, handles)
        _write_atomically(directory / METADATA_FILE, canonical_json(document), self.durable)
        os.rename(directory, target)
        return target

    def abort(self, checkpoint_id: int) -> None:
        """Removes the in-progress directory of `checkpoint_id` (nothing if there is none)."""
        shutil.rmtree(self._in_progress(checkpoint_id), ignore_errors=True)


def incremental_bases(document: dict[str, Any]) -> tuple[int, ...]:
    """The checkpoints the incremental keyed state in one subtask document (or payload) builds on, ascending."""
    return tuple(sorted({c for op in document["operators"].values()
                         for c in ((op.get("keyed") or {}).get("builds_on") or ())}))


def _metadata_body(checkpoint_id: int, kind: str, metadata: dict[str, Any], builds_on: list[int],
                   files: list[dict[str, Any]]) -> dict[str, Any]:
    """The content of `_metadata.json` without its checksum."""
    return {
        "format": METADATA_FORMAT, "version": VERSION, "kind": kind, "checkpoint_id": checkpoint_id,
        "job": metadata.get("job"), "trigger_us": metadata.get("trigger_us"), "metadata": dict(metadata),
        "builds_on": builds_on, "files": files,
    }


def _metadata_document(checkpoint_id: int, kind: str, metadata: dict[str, Any],
                       handles: list[FileHandle]) -> dict[str, Any]:
    """The content of `_metadata.json`, ending with the sha256 of everything before it."""
    files = [{"name": Path(h.path).name, "task": h.task, "subtask": h.subtask,
              "size_bytes": h.size_bytes, "sha256": h.sha256} for h in handles]
    document = _metadata_body(checkpoint_id, kind, metadata, sorted({c for h in handles for c in h.builds_on}), files)
    document["metadata_sha256"] = _sha256(canonical_json(document))
    return document


# -- reading --------------------------------------------------------------------------------------


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise CorruptCheckpointError(path, f"{what} is missing")
    try:
        return parse_json(path.read_bytes())
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptCheckpointError(path, f"{what} is not JSON: {exc}") from exc


def _check_format(path: Path, doc: Any, expected: str) -> None:
    found = (doc.get("format"), doc.get("version")) if isinstance(doc, dict) else type(doc).__name__
    if found != (expected, VERSION):
        raise CorruptCheckpointError(path, f"wrong format: expected ({expected!r}, version {VERSION}), found {found}")


def _load_metadata(directory: Path) -> dict[str, Any]:
    path = directory / METADATA_FILE
    doc = _read_json(path, METADATA_FILE)
    _check_format(path, doc, METADATA_FORMAT)
    claimed = doc.get("metadata_sha256")
    actual = _sha256(canonical_json({k: v for k, v in doc.items() if k != "metadata_sha256"}))
    if claimed != actual:
        raise CorruptCheckpointError(path, f"checksum mismatch: metadata_sha256 says {claimed}, content hashes "
                                           f"to {actual} (the metadata was altered)")
    return doc


def _load_subtask_file(directory: Path, entry: dict[str, Any], checkpoint_id: int) -> dict[str, Any]:
    """Verifies one listed file (name, size, sha256, format) and returns its JSON."""
    name = entry["name"]
    if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
        raise CorruptCheckpointError(directory / METADATA_FILE, f"lists an invalid file name {name!r}")
    path = directory / name
    if not path.is_file():
        raise CorruptCheckpointError(path, "file is missing (listed in _metadata.json)")
    data = path.read_bytes()
    if len(data) != entry["size_bytes"]:
        state = "truncated" if len(data) < entry["size_bytes"] else "too long"
        raise CorruptCheckpointError(path, f"{state}: size mismatch, _metadata.json says {entry['size_bytes']} "
                                           f"bytes, found {len(data)}")
    digest = _sha256(data)
    if digest != entry["sha256"]:
        raise CorruptCheckpointError(path, f"checksum mismatch: _metadata.json says sha256 {entry['sha256']}, "
                                           f"found {digest} (the file was altered)")
    try:
        doc = parse_json(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptCheckpointError(path, f"file is not JSON: {exc}") from exc
    _check_format(path, doc, FILE_FORMAT)
    found = (doc.get("checkpoint_id"), doc.get("task"), doc.get("subtask"))
    if found != (checkpoint_id, entry["task"], entry["subtask"]):
        raise CorruptCheckpointError(path, f"expected checkpoint {checkpoint_id} task {entry['task']!r} subtask "
                                           f"{entry['subtask']}, found {found}")
    return doc


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """Loads and verifies one checkpoint or savepoint directory.

    Raises:
        CorruptCheckpointError: Naming the file at fault: missing, not JSON,
            wrong format or version, truncated (size mismatch), altered
            (checksum mismatch), or the metadata itself altered.
    """
    directory = Path(path)
    doc = _load_metadata(directory)
    try:
        checkpoint_id = int(doc["checkpoint_id"])
        subtasks = {}
        for entry in doc["files"]:
            file_doc = _load_subtask_file(directory, entry, checkpoint_id)
            subtasks[(file_doc["task"], file_doc["subtask"])] = file_doc
        return LoadedCheckpoint(str(directory), checkpoint_id, doc["kind"], doc.get("job"), doc.get("trigger_us"),
                                doc, tuple(int(c) for c in doc.get("builds_on", ())), subtasks)
    except (KeyError, TypeError) as exc:
        raise CorruptCheckpointError(directory / METADATA_FILE, f"missing or malformed field: {exc!r}") from exc


def load_checkpoint_chain(path: str | Path) -> LoadedCheckpoint:
    """Loads a checkpoint and every checkpoint it builds on (siblings `chk-<id>`, into `bases`).

    Raises:
        CorruptCheckpointError: If the checkpoint or one of its bases is missing or corrupt.
    """
    head = load_checkpoint(path)
    for base in head.builds_on:
        try:
            head.bases.append(load_checkpoint(Path(path).parent / f"chk-{base}"))
        except CorruptCheckpointError as exc:
            raise CorruptCheckpointError(exc.path, f"{exc.reason} (checkpoint {head.checkpoint_id} builds on "
                                                   f"checkpoint {base})") from exc
    return head


def checkpoint_ids(root: str | Path) -> list[int]:
    """Ids of the completed `chk-<id>` directories under `root`, ascending (in-progress ones excluded)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = (_CHECKPOINT_DIR.match(p.name) for p in root.iterdir() if p.is_dir())
    return sorted(int(m.group(1)) for m in found if m)


def latest_valid_checkpoint(root: str | Path) -> tuple[LoadedCheckpoint | None, list[SkippedCheckpoint]]:
    """The newest `chk-<id>` that loads and whose bases load, and the newer ones skipped with reasons.

    Savepoints and in-progress directories are never returned.
    """
    root = Path(root)
    skipped: list[SkippedCheckpoint] = []
    for checkpoint_id in reversed(checkpoint_ids(root)):
        path = root / f"chk-{checkpoint_id}"
        try:
            return load_checkpoint_chain(path), skipped
        except CorruptCheckpointError as exc:
            skipped.append(SkippedCheckpoint(str(path), checkpoint_id, str(exc)))
    return None, skipped
