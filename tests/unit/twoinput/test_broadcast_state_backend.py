"""Broadcast state in the operator state backend: handles, snapshots, and redistribution on restore."""

from __future__ import annotations

import pytest

from sim.api import ListStateDescriptor, MapStateDescriptor
from sim.state.broadcast_state import ReadOnlyBroadcastStateView
from sim.state.operator_state import OperatorStateBackend, OperatorStateSnapshot

RULES = MapStateDescriptor("rules")


def test_broadcast_state_round_trips_and_scales_round_robin():
    """Restore: same or lower parallelism reads its own copy; scaling up, extra subtasks read copies i % old."""
    snapshots = []
    for subtask, threshold in enumerate((10, 20)):
        backend = OperatorStateBackend(f"alerts[{subtask}]")
        backend.get_broadcast_state(RULES).put_all({"cpu": threshold, ("disk", 1): [threshold]})
        snapshots.append(OperatorStateSnapshot.from_json(backend.snapshot(4).to_json()))

    def restored(subtask, parallelism):
        backend = OperatorStateBackend(f"alerts[{subtask}]")
        backend.restore(snapshots, subtask, parallelism)
        return dict(backend.get_broadcast_state(RULES).items())

    assert restored(0, 2) == {"cpu": 10, ("disk", 1): [10]}
    assert restored(1, 2) == {"cpu": 20, ("disk", 1): [20]}
    assert [restored(i, 3)["cpu"] for i in range(3)] == [10, 20, 10]
    assert restored(0, 1)["cpu"] == 10


def test_one_name_is_either_broadcast_state_or_list_state():
    backend = OperatorStateBackend("alerts[0]")
    backend.get_broadcast_state(RULES)
    with pytest.raises(ValueError, match="'rules' of alerts\\[0\\] is broadcast state, not split list state"):
        backend.get_list_state(ListStateDescriptor("rules"))
    backend.get_union_list_state(ListStateDescriptor("offsets"))
    with pytest.raises(ValueError, match="is union list state, not broadcast state"):
        backend.get_broadcast_state(MapStateDescriptor("offsets"))


def test_the_read_only_view_reads_and_refuses_writes():
    backend = OperatorStateBackend("alerts[1]")
    state = backend.get_broadcast_state(RULES)
    state.put("cpu", 80)
    view = ReadOnlyBroadcastStateView(state)
    assert (view.get("cpu"), view.contains("disk"), list(view), view.items(), view.is_empty()) == \
        (80, False, ["cpu"], [("cpu", 80)], False)
    for write in (lambda: view.put("cpu", 1), lambda: view.remove("cpu"), view.clear, lambda: view.put_all({})):
        with pytest.raises(RuntimeError, match="broadcast state 'rules' of alerts\\[1\\] is read-only"):
            write()
    assert state.get("cpu") == 80
    assert backend.accesses > 0
