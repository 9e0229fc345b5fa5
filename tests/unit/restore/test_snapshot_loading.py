"""Loading what a restore starts from: savepoint directories (and why one fails), and checkpoints kept in memory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sim.state.savepoint import NotASnapshotError, SnapshotNotFoundError, load_savepoint
from sim.state.storage import CheckpointWriter, CorruptCheckpointError, LoadedCheckpoint, load_checkpoint

from tests.unit.restore.harness import TaskHarness
from tests.unit.restore.jobs import counting, operator_metadata


def _payloads() -> tuple[dict[str, dict], dict]:
    """The payloads of the counting job (parallelism 2) after one source step, and its operator metadata."""
    harness = TaskHarness(counting(2), source_batch_records=100)
    harness.open()
    harness.read(steps=1)
    payloads = harness.snapshot(4)
    harness.dispose()
    return payloads, operator_metadata(harness.eg)


def _write(root: Path, payloads: dict[str, dict], metadata: dict, kind: str = "savepoint") -> Path:
    writer = CheckpointWriter(root)
    handles = [writer.write_subtask(4, p["task"], p["subtask"], p) for p in payloads.values()]
    return writer.finalize(4, kind, {"name": "before-upgrade", **metadata}, handles)


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file and directory under `root` with its bytes (files) and mtime: what loading must not change."""
    out = {}
    for path in sorted(root.rglob("*")):
        out[str(path.relative_to(root))] = (path.read_bytes() if path.is_file() else b"", path.stat().st_mtime_ns)
    return out


def test_a_savepoint_loads_with_its_state_decoded_as_the_operators_returned_it(tmp_path):
    payloads, metadata = _payloads()
    path = _write(tmp_path, payloads, metadata)
    assert path.name == "savepoint-before-upgrade"
    loaded = load_savepoint(path)
    assert (loaded.kind, loaded.checkpoint_id, loaded.path) == ("savepoint", 4, str(path))
    assert loaded.operator_ids() == ["counts", "numbers"]
    assert loaded.operator_states("numbers") == [{"reader": {"position": 100}}, {"reader": {"position": 30_100}}]


def test_operator_state_of_any_encodable_shape_survives_the_file(tmp_path):
    """Int dict keys and tuples would not survive plain JSON: operator state is written in the tagged encoding."""
    state = {"reader": {"offsets": {0: 5, 3: 7}}, "timers": {"event_time": [(12, 1000, ("k", 1), None)]}}
    payload = {"task": "a[0]", "subtask": 0, "operators": {"a": {"keyed": None, "operator": state}}}
    writer = CheckpointWriter(tmp_path)
    path = writer.finalize(1, "checkpoint", {}, [writer.write_subtask(1, "a[0]", 0, payload)])
    assert load_checkpoint(path).operator_states("a") == [state]


def test_a_checkpoint_kept_in_memory_is_shaped_as_one_loaded_from_files(tmp_path):
    payloads, metadata = _payloads()
    from_files = load_checkpoint(_write(tmp_path, payloads, metadata, kind="checkpoint"))
    in_memory = LoadedCheckpoint.from_payloads(4, "checkpoint", {"name": "before-upgrade", **metadata}, payloads, [])
    assert in_memory.subtasks == from_files.subtasks
    assert in_memory.metadata["metadata"] == from_files.metadata["metadata"]
    assert in_memory.path is None and in_memory.builds_on == ()
    for op in ("numbers", "counts"):
        assert in_memory.operator_states(op) == from_files.operator_states(op)
        assert [s.to_json() for s in in_memory.restore_snapshots(op)] == \
            [s.to_json() for s in from_files.restore_snapshots(op)]


def test_a_checkpoint_kept_in_memory_is_a_copy_of_the_payloads():
    state = {"reader": {"position": 3}}
    payloads = {"a[0]": {"task": "a[0]", "subtask": 0, "operators": {"a": {"keyed": None, "operator": state}}}}
    loaded = LoadedCheckpoint.from_payloads(1, "checkpoint", {}, payloads)
    state["reader"]["position"] = 99
    assert loaded.operator_states("a") == [{"reader": {"position": 3}}]


def test_a_checkpoint_kept_in_memory_needs_the_bases_its_incremental_state_builds_on():
    keyed = {"builds_on": [2, 3]}
    payloads = {"a[0]": {"subtask": 0, "operators": {"a": {"keyed": keyed, "operator": None}}}}
    with pytest.raises(ValueError, match=r"checkpoint 4: its incremental state builds on checkpoints \[2, 3\], "
                                         r"but bases hold \[\]: \[2, 3\] missing"):
        LoadedCheckpoint.from_payloads(4, "checkpoint", {}, payloads)
    with pytest.raises(ValueError, match=r"payload 'a\[0\]' needs an int subtask, got None"):
        LoadedCheckpoint.from_payloads(4, "checkpoint", {}, {"a[0]": {"operators": {}}})


def _flink_savepoint(root: Path) -> Path:
    (root / "flink").mkdir()
    (root / "flink" / "_metadata").write_bytes(b"\x00\x00\x13\x88binary")
    return root / "flink"


def _checkpoint_root(root: Path) -> Path:
    payloads, metadata = _payloads()
    _write(root / "runs", payloads, metadata)
    return root / "runs"


def _other_json(root: Path) -> Path:
    (root / "other").mkdir()
    (root / "other" / "_metadata.json").write_text(json.dumps({"format": "something-else", "version": 3}))
    return root / "other"


def _later_version(root: Path) -> Path:
    (root / "later").mkdir()
    (root / "later" / "_metadata.json").write_text(json.dumps({"format": "sim-checkpoint", "version": 2}))
    return root / "later"


@pytest.mark.parametrize("make, error, message", [
    (lambda root: root / "nowhere", SnapshotNotFoundError,
     r"no savepoint at .*nowhere: expected a directory holding _metadata.json, found nothing there"),
    (lambda root: (root / "empty").mkdir() or root / "empty", SnapshotNotFoundError,
     r"no savepoint at .*empty: expected a directory holding _metadata.json, found none"),
    (lambda root: (root / "file").write_text("x") and root / "file", NotASnapshotError, r"found a file"),
    (_flink_savepoint, NotASnapshotError, r"found _metadata \(a Flink savepoint\?\)"),
    (_checkpoint_root, NotASnapshotError, r"found a checkpoint directory holding savepoint-before-upgrade; "
                                          r"pass one of those"),
    (_other_json, NotASnapshotError, r"is not a sim snapshot: expected _metadata.json of format 'sim-checkpoint' "
                                     r"version 1, found \('something-else', 3\)"),
    (_later_version, NotASnapshotError, r"was written in format version 2; expected version 1"),
])
def test_a_path_that_holds_no_sim_snapshot_is_refused_saying_what_was_found(tmp_path, make, error, message):
    path = make(tmp_path)
    before = _tree(tmp_path)
    with pytest.raises(error, match=message):
        load_savepoint(path)
    assert _tree(tmp_path) == before


def _truncate(path: Path) -> Path:
    victim = sorted(p for p in path.iterdir() if p.name != "_metadata.json")[0]
    victim.write_bytes(victim.read_bytes()[:-20])
    return victim


def _alter_metadata(path: Path) -> Path:
    victim = path / "_metadata.json"
    victim.write_bytes(victim.read_bytes().replace(b'"before-upgrade"', b'"before-upgradE"'))
    return victim


def _cut_metadata(path: Path) -> Path:
    victim = path / "_metadata.json"
    victim.write_bytes(victim.read_bytes()[:40])
    return victim


@pytest.mark.parametrize("damage, reason", [(_truncate, "truncated"), (_alter_metadata, "checksum mismatch"),
                                            (_cut_metadata, "is not JSON")])
def test_a_damaged_savepoint_is_reported_as_corrupt_naming_the_file_and_left_as_it_is(tmp_path, damage, reason):
    payloads, metadata = _payloads()
    path = _write(tmp_path, payloads, metadata)
    victim = damage(path)
    os.utime(victim, ns=(1_000_000_000, 1_000_000_000))
    before = _tree(tmp_path)
    with pytest.raises(CorruptCheckpointError, match=reason) as info:
        load_savepoint(path)
    assert info.value.path == str(victim)
    assert _tree(tmp_path) == before
