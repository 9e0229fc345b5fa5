"""Operator list state: even-split and union redistribution (flink-facts §7, §11), and its backend."""

import json

import pytest

from sim.api.state import ListStateDescriptor, ValueStateDescriptor
from sim.state.operator_state import (
    OperatorStateBackend, OperatorStateSnapshot, next_start_index, redistribute_even_split,
    redistribute_operator_state, redistribute_union,
)

OFFSETS = ListStateDescriptor("offsets")
PENDING = ListStateDescriptor("pending")


def test_even_split_cuts_contiguous_chunks_and_the_first_targets_get_the_extras():
    # N = 5, p = 3: chunks of 1, the first 5 % 3 = 2 targets get one more.
    assert redistribute_even_split([[1, 2, 3], [4, 5]], 3) == [[1, 2], [3, 4], [5]]
    assert redistribute_even_split([[1, 2, 3, 4, 5, 6, 7]], 3) == [[1, 2, 3], [4, 5], [6, 7]]


def test_even_split_starts_at_the_start_index():
    assert redistribute_even_split([[1, 2, 3], [4, 5]], 3, start_index=1) == [[5], [1, 2], [3, 4]]
    assert redistribute_even_split([[1, 2, 3], [4, 5]], 3, start_index=2) == [[3, 4], [5], [1, 2]]


def test_even_split_with_unchanged_parallelism_keeps_every_list_where_it_was():
    lists = [[1, 2, 3, 4], [], [5]]
    assert redistribute_even_split(lists, 3) == lists
    assert redistribute_even_split(lists, 3, start_index=2) == lists


def test_scale_two_to_three_and_three_to_one():
    assert redistribute_even_split([["a", "b"], ["c", "d"]], 3) == [["a", "b"], ["c"], ["d"]]
    assert redistribute_even_split([[1], [2, 3], [4]], 1) == [[1, 2, 3, 4]]
    assert redistribute_even_split([[], []], 3) == [[], [], []]


def test_union_gives_every_subtask_everything():
    assert redistribute_union([[1, 2], [3]], 3) == [[1, 2, 3]] * 3
    assert redistribute_union([[1, 2], [3]], 2) == [[1, 2, 3]] * 2
    assert redistribute_union([[1], [2], [3]], 1) == [[1, 2, 3]]


def test_the_start_target_rotates_across_named_states():
    # "a" (sorted first): 4 elements over 3 targets, the extra goes to target 0; "b" starts at target 1.
    assert next_start_index(4, 3, 0) == 1
    assert next_start_index(3, 3, 2) == 2  # no extras: the start stays
    old = [OperatorStateSnapshot(1, "src[0]", {"a": ("split", [1, 2]), "b": ("split", [10, 11])}),
           OperatorStateSnapshot(1, "src[1]", {"a": ("split", [3, 4]), "b": ("split", [12, 13]),
                                               "u": ("union", ["x"])})]
    shares = redistribute_operator_state(old, 3)
    assert [s["a"][1] for s in shares] == [[1, 2], [3], [4]]
    assert [s["b"][1] for s in shares] == [[13], [10, 11], [12]]
    assert [s["u"] for s in shares] == [("union", ["x"])] * 3


def test_backend_snapshot_and_restore_at_another_parallelism():
    old = [OperatorStateBackend(f"src[{i}]") for i in range(2)]
    for i, backend in enumerate(old):
        backend.get_list_state(OFFSETS).add_all([(i, partition) for partition in range(3)])
        backend.get_union_list_state(PENDING).add(f"txn-{i}")
    snapshots = [OperatorStateSnapshot.from_json(json.loads(json.dumps(b.snapshot(4).to_json()))) for b in old]
    new = [OperatorStateBackend(f"src[{i}]") for i in range(3)]
    for i, backend in enumerate(new):
        backend.restore(snapshots, i, 3)
    assert [b.get_list_state(OFFSETS).get() for b in new] == [[(0, 0), (0, 1)], [(0, 2), (1, 0)], [(1, 1), (1, 2)]]
    assert all(b.get_union_list_state(PENDING).get() == ["txn-0", "txn-1"] for b in new)


def test_backend_snapshot_is_independent_and_modes_do_not_mix():
    backend = OperatorStateBackend("src[0]")
    state = backend.get_list_state(OFFSETS)
    state.update([1, [2]])
    snapshot = backend.snapshot(1)
    frozen = json.dumps(snapshot.to_json())
    state.add(3)
    assert json.dumps(snapshot.to_json()) == frozen
    assert snapshot.full_size_bytes == snapshot.checkpointed_size_bytes > 0
    assert backend.get_list_state(ListStateDescriptor("offsets")).get() == [1, [2], 3]
    state.clear()
    assert state.get() == []
    with pytest.raises(ValueError, match=r"operator state 'offsets' of src\[0\] is split list state, not union"):
        backend.get_union_list_state(OFFSETS)
    with pytest.raises(TypeError, match="needs a ListStateDescriptor"):
        backend.get_list_state(ValueStateDescriptor("v"))
    with pytest.raises(ValueError, match="cannot add None"):
        state.add(None)


def test_restore_with_the_same_parallelism_returns_each_subtask_its_own_list():
    old = [OperatorStateBackend(f"src[{i}]") for i in range(2)]
    old[0].get_list_state(OFFSETS).add_all([1, 2, 3])
    old[1].get_list_state(OFFSETS).add(4)
    snapshots = [b.snapshot(1) for b in old]
    new = [OperatorStateBackend(f"src[{i}]") for i in range(2)]
    for i, backend in enumerate(new):
        backend.restore(snapshots, i, 2)
    assert [b.get_list_state(OFFSETS).get() for b in new] == [[1, 2, 3], [4]]
