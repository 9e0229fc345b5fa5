"""The rocksdb backend's incremental snapshots: deltas since the last completed checkpoint, restored as chains."""

import json
import os

import pytest

from sim.api.state import ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor
from sim.kernel.hashing import KeyGroupRange
from sim.state.heap import HeapKeyedStateBackend
from sim.state.rocks import RocksDBKeyedStateBackend
from sim.state.rocks_states import row_key, split_row_key
from sim.state.snapshot import KeyedStateSnapshot

COUNT = ValueStateDescriptor("count")
TAGS = MapStateDescriptor("tags")


@pytest.fixture
def make(tmp_path):
    created = []

    def make(**options):
        backend = RocksDBKeyedStateBackend("sum[0]", 128, KeyGroupRange(0, 127), tmp_path, **options)
        created.append(backend)
        return backend

    yield make
    for backend in created:
        backend.dispose()


def put(backend, key, value):
    backend.current_key = key
    backend.get_state(COUNT).update(value)


def via_json(snapshot):
    return KeyedStateSnapshot.from_json(json.loads(json.dumps(snapshot.to_json())))


def test_a_job_like_sequence_checkpoints_only_the_delta(make):
    """1000 keys, checkpoint 1 completes, 10 keys change (one deleted, one new), checkpoint 2 is small."""
    live = make(incremental=True)
    for key in range(1000):
        put(live, key, key)
    first = live.snapshot(1)
    assert not first.incremental and first.builds_on == () and first.base_checkpoint_id is None
    live.notify_checkpoint_complete(1)
    for key in range(8):
        put(live, key, -key)
    put(live, 500, None)  # deleted
    put(live, 5000, "new")
    second = live.snapshot(2)
    assert second.incremental and second.builds_on == (1,) and second.base_checkpoint_id == 1
    assert second.checkpointed_size_bytes * 20 < second.full_size_bytes
    full = make(incremental=False)
    for name, key, value in live.entries():
        put(full, key, value)
    assert second.checkpointed_size_bytes * 20 < full.snapshot(2).checkpointed_size_bytes
    tombstones = [row for data in second.key_groups.values() for row in data.deleted]
    assert tombstones == [["count", 500]]
    restored = make()
    restored.restore([via_json(first), via_json(second)])
    assert restored.entries() == live.entries()
    assert 500 not in restored.keys() and 5000 in restored.keys()


def test_the_base_moves_only_when_a_checkpoint_completes(make):
    live = make(incremental=True)
    put(live, "a", 1)
    s1 = live.snapshot(1)
    live.notify_checkpoint_complete(1)
    put(live, "b", 2)
    s2 = live.snapshot(2)  # never completes
    put(live, "c", 3)
    s3 = live.snapshot(3)
    assert s3.builds_on == (1,)
    assert sorted(row[1] for d in s3.key_groups.values() for row in d.rows) == ["b", "c"]
    live.notify_checkpoint_complete(3)
    put(live, "a", 10)
    s4 = live.snapshot(4)
    assert s4.builds_on == (1, 3)
    assert [row[1:] for d in s4.key_groups.values() for row in d.rows] == [["a", 10]]
    restored = make()
    restored.restore([s1, s2, s3, s4])
    assert restored.entries() == live.entries()
    with pytest.raises(ValueError, match=r"checkpoint 4 of sum\[0\] builds on checkpoints \[1, 3\], but \[3\]"):
        make().restore([s1, s4])


def test_map_entries_are_rows_and_removals_are_tombstones(make):
    live = make(incremental=True)
    live.current_key = "k"
    tags = live.get_map_state(TAGS)
    tags.put_all({"x": 1, "y": 2, "z": 3})
    s1 = live.snapshot(1)
    assert sum(len(d.rows) for d in s1.key_groups.values()) == 3
    live.notify_checkpoint_complete(1)
    tags.remove("y")
    s2 = live.snapshot(2)
    assert [row for d in s2.key_groups.values() for row in d.deleted] == [["tags", "k", "y"]]
    restored = make()
    restored.restore([s1, s2])
    assert restored.entries() == [("tags", "k", {"x": 1, "z": 3})]
    on_heap = HeapKeyedStateBackend("sum[0]")
    on_heap.restore([via_json(s1), via_json(s2)])
    assert on_heap.entries() == restored.entries()


def test_first_snapshot_after_a_restore_is_full(make):
    live = make(incremental=True)
    put(live, "a", 1)
    s1 = live.snapshot(1)
    live.notify_checkpoint_complete(1)
    restored = make(incremental=True)
    restored.restore([s1])
    put(restored, "b", 2)
    assert restored.snapshot(2).builds_on == ()


def test_savepoints_are_full_and_leave_the_chain_alone(make):
    live = make(incremental=True)
    put(live, "a", 1)
    live.snapshot(1)
    live.notify_checkpoint_complete(1)
    put(live, "b", 2)
    savepoint = live.snapshot(2, savepoint=True)
    assert savepoint.builds_on == () and savepoint.checkpointed_size_bytes == savepoint.full_size_bytes
    live.notify_checkpoint_complete(2)
    s3 = live.snapshot(3)
    assert s3.builds_on == (1,)
    assert [row[1] for d in s3.key_groups.values() for row in d.rows] == ["b"]


def test_a_long_chain_is_cut_by_a_full_snapshot(make):
    live = make(incremental=True, max_chain_length=2)
    chains = []
    for cid in range(1, 6):
        put(live, cid, cid)
        chains.append(live.snapshot(cid).builds_on)
        live.notify_checkpoint_complete(cid)
    assert chains == [(), (1,), (1, 2), (), (4,)]


def test_without_incremental_every_snapshot_is_full(make):
    live = make(incremental=False)
    put(live, "a", 1)
    live.snapshot(1)
    live.notify_checkpoint_complete(1)
    put(live, "b", 2)
    s2 = live.snapshot(2)
    assert s2.builds_on == () and s2.checkpointed_size_bytes == s2.full_size_bytes


def test_row_keys_start_with_the_key_group_and_round_trip():
    row = row_key(77, "tags", b'"k"', b'"x"')
    assert row[:2] == (77).to_bytes(2, "big")
    assert split_row_key(row) == (77, "tags", b'"k"', b'"x"')


def test_stored_values_are_json_and_dispose_removes_the_database(make):
    live = make()
    live.current_key = "k"
    live.get_list_state(ListStateDescriptor("seen")).add_all([1, (2, 3)])
    live.get_list_state(ListStateDescriptor("seen")).add("x")
    stored = dict(live._db.items())
    assert [json.loads(v) for v in stored.values()] == [[1, {"t": [2, 3]}, "x"]]
    path = live.path
    assert path.is_dir() and path.name.startswith("sum[0]-")
    live.dispose()
    assert not os.path.exists(path)
    live.dispose()  # twice is fine
