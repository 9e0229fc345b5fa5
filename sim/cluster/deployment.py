"""Scheduling: which TaskManager slot each subtask runs in.

Layer: `sim.cluster` (pure logic). With slot sharing, subtask i of every task
in one slot-sharing group shares the group's i-th slot, so a group needs as
many slots as its largest parallelism. Slots are filled TaskManager by
TaskManager (tm-0's slots first), groups in order of first appearance.

Flink counterpart: `SlotSharingGroup`, the default slot selection
(`cluster.evenly-spread-out-slots: false`).
Simplified: all slots are requested up front; no slot request timeout.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.cluster.spec import ClusterSpec
from sim.graph.execution_graph import ExecutionGraph


class ClusterTooSmallError(ValueError):
    """The job needs more task slots than the cluster has."""


@dataclass(frozen=True)
class Placement:
    """Where one subtask runs."""

    subtask: str
    taskmanager: str
    slot: int


def slots_needed(eg: ExecutionGraph) -> dict[str, int]:
    """Slots each slot-sharing group needs, in order of first appearance."""
    need: dict[str, int] = {}
    for v in eg.job_graph.vertices:
        need[v.slot_sharing_group] = max(need.get(v.slot_sharing_group, 0), v.parallelism)
    return need


def place(eg: ExecutionGraph, cluster: ClusterSpec, taskmanagers: list[str] | None = None) -> dict[str, Placement]:
    """Assign every subtask a (TaskManager, slot), on `taskmanagers` (default: all of the cluster's, in order).

    After a TaskManager is lost, a restart places the job on the ones that are left.

    Raises:
        ClusterTooSmallError: naming the groups and the slots they need.
    """
    tms = cluster.taskmanager_names if taskmanagers is None else list(taskmanagers)
    need = slots_needed(eg)
    total = sum(need.values())
    if total > len(tms) * cluster.slots_per_task_manager:
        groups = ", ".join(f"group {g!r} needs {n}" for g, n in need.items())
        raise ClusterTooSmallError(
            f"the job needs {total} task slots ({groups}) but the cluster has "
            f"{len(tms) * cluster.slots_per_task_manager} "
            f"({len(tms)} task managers x {cluster.slots_per_task_manager} slots)"
        )
    offset, base = 0, {}
    for group, n in need.items():
        base[group] = offset
        offset += n
    placements = {}
    for s in eg.subtasks:
        global_slot = base[s.vertex.slot_sharing_group] + s.index
        tm = global_slot // cluster.slots_per_task_manager
        placements[s.id] = Placement(s.id, tms[tm], global_slot % cluster.slots_per_task_manager)
    return placements
