"""Checkpoint files: write, finalize, load with verification, corruption reported naming the file, no pickle."""

import json
import os
import pickle

import pytest

from sim.api.state import ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor
from sim.kernel.hashing import key_group_range_for_operator
from sim.state import serde
from sim.state.backend import create_keyed_backend
from sim.state.operator_state import OperatorStateBackend, OperatorStateSnapshot
from sim.state.serde import canonical_json
from sim.state.storage import (
    CheckpointWriter, CorruptCheckpointError, latest_valid_checkpoint, load_checkpoint, load_checkpoint_chain,
)

COUNT = ValueStateDescriptor("count")


def keyed_snapshot(tmp_path, kind, checkpoint_id, values, subtask=0):
    backend = create_keyed_backend(kind, f"sum[{subtask}]", subtask, 128, None, workdir=str(tmp_path / "db"))
    state = backend.get_state(COUNT)
    for key, value in values.items():
        backend.current_key = key
        state.update(value)
    snapshot = backend.snapshot(checkpoint_id)
    backend.dispose()
    return snapshot


def write_checkpoint(root, checkpoint_id, values, tmp_path, kind="checkpoint", metadata=None):
    """A two-subtask checkpoint: keyed state in both, operator state and channel state in subtask 0."""
    writer = CheckpointWriter(root)
    source = OperatorStateBackend("src[0]")
    source.get_list_state(ListStateDescriptor("offsets")).add_all([10, 20])
    handles = []
    for subtask in range(2):
        snap = keyed_snapshot(tmp_path, "hashmap", checkpoint_id, {f"k{subtask}": values[subtask]}, subtask)
        payload = {"operators": {"sum": {"keyed": snap.to_json(), "operator": None}}}
        if subtask == 0:
            payload["operators"]["src"] = {"keyed": None, "operator": source.snapshot(checkpoint_id).to_json()}
            payload["channel_state"] = {"input": {"0": [serde.encode([1, (2, 3)])]}, "output": {}}
        handles.append(writer.write_subtask(checkpoint_id, "src -> sum", subtask, payload))
    meta = {"job": "word count", "trigger_us": 1000 * checkpoint_id, **(metadata or {})}
    return writer.finalize(checkpoint_id, kind, meta, handles)


def test_write_finalize_load_round_trip(tmp_path):
    root = tmp_path / "checkpoints"
    path = write_checkpoint(root, 7, ["a", "b"], tmp_path)
    assert path == root / "chk-7" and sorted(os.listdir(path)) == ["_metadata.json", "src_-_sum-0.json",
                                                                   "src_-_sum-1.json"]
    loaded = load_checkpoint(path)
    assert (loaded.checkpoint_id, loaded.kind, loaded.job, loaded.trigger_us) == (7, "checkpoint", "word count", 7000)
    assert loaded.operator_ids() == ["src", "sum"]
    assert [s.operator for s in loaded.keyed_snapshots("sum")] == ["sum[0]", "sum[1]"]
    assert loaded.channel_state("src -> sum", 0)["input"]["0"] == [[1, {"t": [2, 3]}]]
    source = OperatorStateBackend("src[0]")
    source.restore([OperatorStateSnapshot.from_json(s) if s else None for s in loaded.operator_states("src")], 0, 1)
    assert source.get_list_state(ListStateDescriptor("offsets")).get() == [10, 20]
    restored = create_keyed_backend("rocksdb", "sum[0]", 0, 128, key_group_range_for_operator(128, 1, 0),
                                    workdir=str(tmp_path / "db"))
    restored.restore(loaded.restore_snapshots("sum"))
    assert restored.entries() == [("count", "k0", "a"), ("count", "k1", "b")]
    restored.dispose()
    assert not list(root.glob("**/*.tmp")) and not list(root.glob("*.inprogress"))


def test_metadata_lists_every_file_with_size_and_checksum(tmp_path):
    path = write_checkpoint(tmp_path, 3, [1, 2], tmp_path)
    meta = json.loads((path / "_metadata.json").read_bytes())
    assert [(f["name"], f["subtask"]) for f in meta["files"]] == [("src_-_sum-0.json", 0), ("src_-_sum-1.json", 1)]
    for entry in meta["files"]:
        assert entry["size_bytes"] == (path / entry["name"]).stat().st_size and len(entry["sha256"]) == 64
    assert (meta["format"], meta["version"], meta["kind"], meta["checkpoint_id"]) == ("sim-checkpoint", 1,
                                                                                       "checkpoint", 3)


def test_a_truncated_file_is_named(tmp_path):
    path = write_checkpoint(tmp_path, 1, [1, 2], tmp_path)
    victim = path / "src_-_sum-1.json"
    victim.write_bytes(victim.read_bytes()[:-10])
    with pytest.raises(CorruptCheckpointError, match="truncated: size mismatch") as failure:
        load_checkpoint(path)
    assert failure.value.path == str(victim)


def test_one_altered_byte_is_a_checksum_mismatch_naming_the_file(tmp_path):
    path = write_checkpoint(tmp_path, 1, [1, 2], tmp_path)
    victim = path / "src_-_sum-0.json"
    data = bytearray(victim.read_bytes())
    data[data.index(b"k0") + 1] = ord("9")
    victim.write_bytes(bytes(data))
    with pytest.raises(CorruptCheckpointError, match=r"src_-_sum-0.json: checksum mismatch"):
        load_checkpoint(path)


def test_altered_metadata_is_caught_by_its_own_checksum(tmp_path):
    path = write_checkpoint(tmp_path, 1, [1, 2], tmp_path)
    meta_path = path / "_metadata.json"
    meta = json.loads(meta_path.read_bytes())
    meta["job"] = "another job"
    meta_path.write_bytes(canonical_json(meta))
    with pytest.raises(CorruptCheckpointError, match=r"_metadata.json: checksum mismatch"):
        load_checkpoint(path)


@pytest.mark.parametrize("damage, problem", [
    (lambda p: (p / "src_-_sum-1.json").unlink(), r"src_-_sum-1.json: file is missing"),
    (lambda p: (p / "_metadata.json").unlink(), r"_metadata.json: _metadata.json is missing"),
    (lambda p: (p / "_metadata.json").write_bytes(b"\x80 not json"), r"_metadata.json: _metadata.json is not JSON"),
])
def test_missing_and_unreadable_files_are_named(tmp_path, damage, problem):
    path = write_checkpoint(tmp_path, 1, [1, 2], tmp_path)
    damage(path)
    with pytest.raises(CorruptCheckpointError, match=problem):
        load_checkpoint(path)


def test_a_wrong_format_version_is_refused(tmp_path):
    path = write_checkpoint(tmp_path, 1, [1, 2], tmp_path)
    meta_path = path / "_metadata.json"
    meta = json.loads(meta_path.read_bytes())
    meta["version"] = 2
    del meta["metadata_sha256"]
    meta["metadata_sha256"] = __import__("hashlib").sha256(canonical_json(meta)).hexdigest()
    meta_path.write_bytes(canonical_json(meta))
    with pytest.raises(CorruptCheckpointError, match=r"wrong format: expected \('sim-checkpoint', version 1\)"):
        load_checkpoint(path)


def test_latest_valid_checkpoint_skips_a_corrupt_newer_one(tmp_path):
    root = tmp_path / "checkpoints"
    write_checkpoint(root, 1, ["a", "b"], tmp_path)
    newer = write_checkpoint(root, 2, ["c", "d"], tmp_path)
    (newer / "src_-_sum-0.json").write_bytes(b"{}")
    CheckpointWriter(root).write_subtask(3, "src -> sum", 0, {"operators": {}})  # never finalized
    CheckpointWriter(root).write_subtask(4, "src -> sum", 0, {"operators": {}})
    CheckpointWriter(root).abort(4)
    assert sorted(os.listdir(root)) == ["chk-1", "chk-2", "chk-3.inprogress"]
    loaded, skipped = latest_valid_checkpoint(root)
    assert loaded.checkpoint_id == 1
    assert [(s.checkpoint_id, "truncated" in s.reason and "src_-_sum-0.json" in s.reason) for s in skipped] == [
        (2, True)]


def test_latest_valid_checkpoint_of_nothing(tmp_path):
    assert latest_valid_checkpoint(tmp_path / "none") == (None, [])


def test_an_incremental_checkpoint_needs_its_base(tmp_path):
    root = tmp_path / "checkpoints"
    live = create_keyed_backend("rocksdb", "sum[0]", 0, 128, None, workdir=str(tmp_path / "db"), incremental=True)
    writer = CheckpointWriter(root)
    for cid, value in ((1, "first"), (2, "second")):
        live.current_key = cid
        live.get_state(COUNT).update(value)
        handle = writer.write_subtask(cid, "sum", 0, {"operators": {"sum": {"keyed": live.snapshot(cid).to_json(),
                                                                            "operator": None}}})
        writer.finalize(cid, "checkpoint", {"trigger_us": cid}, [handle])
        live.notify_checkpoint_complete(cid)
    chain = load_checkpoint_chain(root / "chk-2")
    assert chain.builds_on == (1,) and [b.checkpoint_id for b in chain.bases] == [1]
    restored = create_keyed_backend("hashmap", "sum[0]", 0, 128, None)
    restored.restore(chain.restore_snapshots("sum"))
    assert restored.entries() == live.entries()
    live.dispose()
    base_file = root / "chk-1" / "sum-0.json"
    base_file.write_bytes(base_file.read_bytes()[:-1])
    loaded, skipped = latest_valid_checkpoint(root)
    assert loaded is None
    assert "checkpoint 2 builds on checkpoint 1" in skipped[0].reason and "chk-1/sum-0.json" in skipped[0].reason


def test_savepoints_get_their_own_directory(tmp_path):
    path = write_checkpoint(tmp_path, 5, [1, 2], tmp_path, kind="savepoint", metadata={"name": "before upgrade"})
    assert path.name == "savepoint-before_upgrade"
    assert load_checkpoint(path).kind == "savepoint"
    assert latest_valid_checkpoint(tmp_path) == (None, [])


def test_writer_refuses_duplicates_and_unknown_payload_keys(tmp_path):
    writer = CheckpointWriter(tmp_path)
    writer.write_subtask(1, "map", 0, {"task": "map", "subtask": 0, "operators": {}})
    with pytest.raises(ValueError, match="already written"):
        writer.write_subtask(1, "map", 0, {"operators": {}})
    with pytest.raises(ValueError, match=r"unknown keys \['extra'\]"):
        writer.write_subtask(1, "map", 1, {"extra": 1})
    with pytest.raises(ValueError, match="says subtask 3, expected 2"):
        writer.write_subtask(1, "map", 2, {"subtask": 3})


def test_a_full_write_and_load_cycle_never_pickles(tmp_path, monkeypatch):
    """State goes to disk and back with pickle disabled, and every file written is UTF-8 JSON."""
    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("dumps", "loads", "dump", "load", "Pickler", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    root = tmp_path / "checkpoints"
    for kind in ("hashmap", "rocksdb"):
        backend = create_keyed_backend(kind, "agg[0]", 0, 128, None, workdir=str(tmp_path / "db"))
        backend.current_key = ("user", 1)
        backend.get_map_state(MapStateDescriptor("seen")).put(b"\x00\x80", {1.5: {"nested", "set"}})
        writer = CheckpointWriter(root / kind)
        handle = writer.write_subtask(1, "agg", 0, {"operators": {"agg": {"keyed": backend.snapshot(1).to_json(),
                                                                          "operator": None}}})
        path = writer.finalize(1, "checkpoint", {"trigger_us": 0}, [handle])
        restored = create_keyed_backend(kind, "agg[0]", 0, 128, None, workdir=str(tmp_path / "db"))
        restored.restore(load_checkpoint(path).restore_snapshots("agg"))
        assert restored.entries() == backend.entries()
        for file in path.iterdir():
            data = file.read_bytes()
            json.loads(data.decode("utf-8"))
            assert data.isascii() and b"\x80\x04" not in data and b"\x80\x05" not in data
        backend.dispose()
        restored.dispose()
