"""Restoring a job from a checkpoint or savepoint: which subtask takes what, at the same or another parallelism.

Layer: `sim.runtime` (no SimPy, no clock). `plan_restore` matches the state
in a loaded snapshot to the operators of an execution graph, refuses what
cannot be restored there, and says per subtask what to restore;
`StreamTask.restore` applies that after the task is built and before it
opens. Nothing here reads or writes files.

The rules (flink-facts §7, §10, §11):

- **Matching.** State is matched to operators by state id: the `uid()` if
  set, else the generated id. State for an id the new job does not have
  fails the restore, unless `allow_non_restored_state` (then it is dropped,
  and the plan lists it). An unmatched entry that holds nothing is skipped,
  as Flink skips empty savepoint state. A new operator starts empty.
- **Keyed state.** Every subtask of an operator is handed all the old
  snapshots of that operator (incremental bases included); its backend keeps
  only the key groups in its own range. The max parallelism must not change.
- **Operator state.** Every subtask is handed each old subtask's operator
  state, in old subtask order, and takes its own share in
  `restore_operator_state`: split lists in even chunks, union lists whole,
  broadcast copies by index, timers and windows by key group, and a source's
  reader states through `Source.redistribute_reader_states`.
- **Channel state** (unaligned checkpoints). A channel's recovered input is
  what its consumer recorded on it, then what its producer recorded for it
  (the input side was sent first). Restored only into the same channels at
  the same parallelism.

Flink counterpart: `StateAssignmentOperation` (with
`RoundRobinOperatorStateRepartitioner` and `KeyGroupRangeAssignment`),
`Checkpoints.loadAndValidateCheckpoint`, `TaskStateSnapshot`.
Simplified: an unaligned checkpoint cannot be rescaled (Flink redistributes
channel state by key group on keyBy edges and by subpartition mapping on
the others); no operator coordinator state; reader states are redistributed
by the source, not as split lists in operator list state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from sim.graph.execution_graph import ExecutionGraph, Subtask
from sim.graph.stream_graph import StreamNode
from sim.kernel.hashing import KeyGroupRange, key_group_range_for_operator
from sim.runtime.elements import Buffer
from sim.runtime.source_operator import redistribute_readers
from sim.state import serde
from sim.state.snapshot import KeyedStateSnapshot
from sim.state.storage import LoadedCheckpoint


class RestoreError(ValueError):
    """A snapshot cannot be restored into this job; the message names the state, the snapshot and the fix."""


@dataclass
class OperatorRestore:
    """What one operator takes from a snapshot; shared, read only, by the operator's subtasks.

    Attributes:
        state_id: The operator's state id (uid, else generated id).
        keyed: Every old keyed snapshot of the operator, incremental bases included.
        operator_states: Per old subtask, in old order, what `snapshot_operator_state` returned (or None).
        old_parallelism: The operator's parallelism when the snapshot was taken.
        old_max_parallelism: Its max parallelism then (None if unknown and it had no keyed state).
    """

    state_id: str
    keyed: list[KeyedStateSnapshot]
    operator_states: list[Any]
    old_parallelism: int
    old_max_parallelism: int | None
    key_group_bytes: dict[int, int] = field(default_factory=dict)
    operator_state_bytes: int = 0


@dataclass
class TaskRestore:
    """What one subtask restores: its operators' state, and the in-flight input of its channels.

    Attributes:
        subtask: The subtask id, e.g. `sum[1]`.
        checkpoint_id: The snapshot restored.
        operators: Per state id of an operator of this subtask's chain that has state to restore.
        recovered_inputs: Per input channel id, the buffers to replay before new input (each the
            list of its records, or `[value, timestamp]` pairs in a job that uses event time).
        key_groups: Key groups with keyed state this subtask restores (summed over its operators).
        size_bytes: Bytes it restores: keyed rows of its key groups, plus the operator state it is handed.
    """

    subtask: str
    checkpoint_id: int
    operators: dict[str, OperatorRestore] = field(default_factory=dict)
    recovered_inputs: dict[str, list[list[Any]]] = field(default_factory=dict)
    key_groups: int = 0
    size_bytes: int = 0


@dataclass
class RestorePlan:
    """Every subtask's share of one snapshot (`tasks`, by subtask id) and the state ids left out (`dropped`)."""

    checkpoint_id: int
    kind: str
    path: str | None
    tasks: dict[str, TaskRestore]
    dropped: list[str] = field(default_factory=list)


def plan_restore(checkpoint: LoadedCheckpoint, eg: ExecutionGraph,
                 allow_non_restored_state: bool = False) -> RestorePlan:
    """What each subtask of `eg` restores from `checkpoint` (see the module docstring).

    Args:
        checkpoint: A loaded checkpoint or savepoint (`load_savepoint`, `latest_valid_checkpoint`,
            `LoadedCheckpoint.from_payloads`), with its incremental bases.
        eg: The execution graph of the job to restore, at its (possibly new) parallelism.
        allow_non_restored_state: Drop state that matches no operator instead of failing.

    Raises:
        RestoreError: State matching no operator; keyed state for an operator that is not keyed or
            has another max parallelism; a source that cannot be rescaled; channel state for a channel
            the job does not have, or at another parallelism.
    """
    nodes = {n.state_id: n for n in eg.job_graph.stream_graph.nodes}
    dropped = _unmatched(checkpoint, nodes, allow_non_restored_state)
    restores = {sid: _operator_restore(checkpoint, eg, nodes[sid]) for sid in checkpoint.operator_ids() if sid in nodes}
    inputs = _recovered_inputs(checkpoint, eg)
    tasks = {}
    for s in eg.subtasks:
        task = TaskRestore(s.id, checkpoint.checkpoint_id, recovered_inputs=inputs.get(s.id, {}))
        for node in s.vertex.operators:
            entry = restores.get(node.state_id)
            if entry is not None:
                task.operators[node.state_id] = entry
                _count(task, entry, key_group_range_for_operator(node.max_parallelism, node.parallelism, s.index))
        tasks[s.id] = task
    return RestorePlan(checkpoint.checkpoint_id, checkpoint.kind, checkpoint.path, tasks, dropped)


def describe(checkpoint: LoadedCheckpoint) -> str:
    """`checkpoint 7 (<path>)` or `savepoint 'name' (<path>)`, for messages."""
    where = "kept in memory" if checkpoint.path is None else checkpoint.path
    if checkpoint.kind != "savepoint":
        return f"checkpoint {checkpoint.checkpoint_id} ({where})"
    name = checkpoint.metadata.get("metadata", {}).get("name", checkpoint.checkpoint_id)
    return f"savepoint {str(name)!r} ({where})"


# -- matching -------------------------------------------------------------------------------------


def _unmatched(checkpoint: LoadedCheckpoint, nodes: dict[str, StreamNode], allow: bool) -> list[str]:
    """State ids with state that no operator has; fails unless `allow`."""
    unmatched = [sid for sid in checkpoint.operator_ids() if sid not in nodes and _holds_state(checkpoint, sid)]
    if unmatched and not allow:
        raise RestoreError(
            f"{describe(checkpoint)} holds state for operator id(s) {unmatched} that the job does not have "
            f"(its operators are {sorted(nodes)}); expected every state to match an operator by uid, or by "
            f"generated id where no uid is set: give the operators the uid() they had, or restore with "
            f"allow_non_restored_state=True to drop that state")
    return unmatched


def _holds_state(checkpoint: LoadedCheckpoint, state_id: str) -> bool:
    """Whether any subtask file has keyed rows or operator state for `state_id` (Flink's `hasState`)."""
    for doc in checkpoint.subtasks.values():
        entry = doc["operators"].get(state_id)
        if entry is None:
            continue
        if entry.get("operator") is not None or (entry.get("keyed") or {}).get("key_groups"):
            return True
    return False


def _operator_restore(checkpoint: LoadedCheckpoint, eg: ExecutionGraph, node: StreamNode) -> OperatorRestore:
    """The state one operator of the new job takes from `checkpoint`, checked against the operator."""
    sid = node.state_id
    keyed = checkpoint.restore_snapshots(sid)
    parallelism, max_parallelism = _old_parallelism(checkpoint, eg, node, keyed)
    states = checkpoint.operator_states(sid)
    states += [None] * (parallelism - len(states))
    if keyed and node.keyed is None:
        raise RestoreError(f"{describe(checkpoint)} holds keyed state for operator {sid!r}, but operator {node.id} "
                           f"of the job is not keyed: expected a keyed operator under that uid")
    if keyed and max_parallelism != node.max_parallelism:
        raise RestoreError(
            f"cannot restore operator {node.id} (state id {sid!r}) from {describe(checkpoint)}: its keyed state "
            f"was taken with max parallelism {max_parallelism}, the job has {node.max_parallelism}; the max "
            f"parallelism must stay the same (it fixes the key groups): set_max_parallelism({max_parallelism})")
    if node.kind == "source" and any(s is not None for s in states):
        try:
            redistribute_readers(node.operator.function, states, node.parallelism)
        except ValueError as exc:
            raise RestoreError(f"cannot restore source {node.id} from {describe(checkpoint)}: {exc}") from exc
    entry = OperatorRestore(sid, keyed, states, parallelism, max_parallelism)
    for snap in keyed:
        for group, data in snap.key_groups.items():
            size = len(serde.canonical_json([data.rows, data.deleted]))
            entry.key_group_bytes[group] = entry.key_group_bytes.get(group, 0) + size
    entry.operator_state_bytes = sum(len(serde.dumps(s)) for s in states if s is not None)
    return entry


def _old_parallelism(checkpoint: LoadedCheckpoint, eg: ExecutionGraph, node: StreamNode,
                     keyed: list[KeyedStateSnapshot]) -> tuple[int, int | None]:
    """(parallelism, max parallelism) of an operator when the snapshot was taken.

    From the coordinator's metadata (`metadata.operators[state id]`) if it
    wrote them. Otherwise: the number of subtask files of the task that held
    the operator's state (or of the task of that name, if it held none), and
    the max parallelism its keyed snapshots name.
    """
    known = checkpoint.metadata.get("metadata", {}).get("operators", {}).get(node.state_id)
    max_parallelism = keyed[0].max_parallelism if keyed else None
    if known is not None:
        return int(known["parallelism"]), known.get("max_parallelism", max_parallelism)
    tasks = {_vertex_of(task) for (task, _), doc in checkpoint.subtasks.items() if node.state_id in doc["operators"]}
    tasks = tasks or {eg.job_graph.vertex_of_operator(node.id).id}
    indexes = [i for task, i in checkpoint.subtasks if _vertex_of(task) in tasks]
    return (max(indexes) + 1 if indexes else node.parallelism), max_parallelism


def _vertex_of(task: str) -> str:
    """The task (job vertex) of a subtask id `vertex[i]`."""
    return task.rsplit("[", 1)[0]


def _count(task: TaskRestore, entry: OperatorRestore, key_groups: KeyGroupRange) -> None:
    """Add what `entry` restores in a subtask owning `key_groups` to the task's key groups and bytes."""
    mine = [size for group, size in entry.key_group_bytes.items() if group in key_groups]
    task.key_groups += len(mine)
    task.size_bytes += sum(mine) + entry.operator_state_bytes


# -- channel state --------------------------------------------------------------------------------


def _recovered_inputs(checkpoint: LoadedCheckpoint, eg: ExecutionGraph) -> dict[str, dict[str, list[list[Any]]]]:
    """Per consumer subtask and input channel: its recorded input buffers, then its producer's recorded output.

    Raises:
        RestoreError: A channel with state that the job does not have, or whose ends changed parallelism.
    """
    channels = {ch.id: ch for ch in eg.channels}
    recorded: dict[str, list[list[Any]]] = {}
    for side in ("input", "output"):
        for (task, index), _ in sorted(checkpoint.subtasks.items()):
            for channel, buffers in sorted(checkpoint.channel_state(task, index).get(side, {}).items()):
                if buffers:
                    _check_channel(checkpoint, eg, channels.get(channel), channel)
                    recorded.setdefault(channel, []).extend(serde.decode(b) for b in buffers)
    out: dict[str, dict[str, list[list[Any]]]] = {}
    for channel, buffers in recorded.items():
        out.setdefault(channels[channel].consumer, {})[channel] = buffers
    return out


def _check_channel(checkpoint: LoadedCheckpoint, eg: ExecutionGraph, channel: Any, channel_id: str) -> None:
    unaligned = f"{describe(checkpoint)} holds in-flight data of channel {channel_id!r} (an unaligned checkpoint)"
    if channel is None:
        raise RestoreError(f"{unaligned}, but the job has no such channel: expected the same tasks and "
                           f"parallelism; restore from an aligned checkpoint or a savepoint to change the job")
    for end in (channel.producer, channel.consumer):
        vertex = eg.subtask(end).vertex
        old = _old_parallelism(checkpoint, eg, vertex.head, [])[0]
        if old != vertex.parallelism:
            raise RestoreError(
                f"{unaligned}, and task {vertex.id} had parallelism {old}, now {vertex.parallelism}: an unaligned "
                f"checkpoint cannot be rescaled here (Flink would redistribute the in-flight data by key "
                f"group); restore at parallelism {old}, or from an aligned checkpoint or a savepoint")


def recovered_buffers(restore: TaskRestore, subtask: Subtask, eg: ExecutionGraph,
                      record_size: Callable[[str], int], timestamped: bool) -> list[tuple[int, Buffer]]:
    """The recovered input of one subtask as `(input channel index, Buffer)`, in channel then recorded order.

    A buffer's size is its records times the record size of the operator
    that wrote them; in a job that uses event time each record gets its
    timestamp back (watermarks were never recorded). Buffers are numbered
    from 0 per channel and have reason "recovered".
    """
    out = []
    for channel in subtask.inputs:
        size = record_size(eg.job_graph.edges[channel.edge_index].stream_edge.source)
        for seq, records in enumerate(restore.recovered_inputs.get(channel.id, ())):
            if timestamped:
                values, timestamps = [r[0] for r in records], [r[1] for r in records]
            else:
                values, timestamps = list(records), None
            out.append((channel.input_index, Buffer(channel.id, seq, values, len(values) * size, "recovered",
                                                    timestamps)))
    return out
