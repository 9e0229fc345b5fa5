"""`KeyedStateSnapshot`: the keyed state of one operator subtask at one checkpoint, as JSON-able rows.

Layer: `sim.state` (no SimPy). A snapshot is plain data: it holds no
reference to a backend and no Python object of the user's, only encoded
values (`sim.state.serde`), so it can be written to a file, read back and
restored into either backend, at another parallelism.

Rows are grouped per key group. Both backends produce the same row shapes
(the *canonical* form, so a snapshot can be restored into the other backend):

- ``[state, key, value]`` for value, list (the whole list), reducing and
  aggregating (the accumulator) state;
- ``[state, key, user_key, value]`` for one entry of a map state.

An incremental snapshot (RocksDB) holds only the rows changed since its base
checkpoint, plus *tombstones* for rows deleted since then (``[state, key]``
or ``[state, key, user_key]``). Restoring it needs the whole chain it builds
on: `builds_on` lists those checkpoints, oldest (a full snapshot) first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim.kernel.hashing import KeyGroupRange

FORMAT = "sim-keyed-state"
VERSION = 1


@dataclass
class KeyGroupData:
    """The rows of one key group in a snapshot: live rows, and tombstones in a delta."""

    rows: list[list[Any]] = field(default_factory=list)
    deleted: list[list[Any]] = field(default_factory=list)


@dataclass
class KeyedStateSnapshot:
    """The keyed state of one operator subtask at one checkpoint.

    Attributes:
        checkpoint_id: The checkpoint (or savepoint) it belongs to.
        operator: The subtask label, e.g. "sum[1]".
        backend: "hashmap" or "rocksdb".
        key_group_range: The key groups the snapshotting subtask owned.
        max_parallelism: The number of key groups (fixed for the operator's life).
        incremental: True when `key_groups` is a delta over `builds_on`.
        builds_on: Earlier checkpoints this one needs, oldest first (empty when full).
        key_groups: Rows per key group (only groups that have rows or tombstones).
        state_kinds: Kind of every state name ("value", "list", "map", ...).
        full_size_bytes: Size of all the state this snapshot stands for.
        checkpointed_size_bytes: Size written for this checkpoint (the delta when incremental).

    Flink counterpart: `KeyGroupsStateHandle` / `IncrementalRemoteKeyedStateHandle`.
    Simplified: rows of JSON instead of serialized key-group streams or SST
    files; shared state is referenced by checkpoint id, not by file.
    """

    checkpoint_id: int
    operator: str
    backend: str
    key_group_range: KeyGroupRange
    max_parallelism: int
    incremental: bool = False
    builds_on: tuple[int, ...] = ()
    key_groups: dict[int, KeyGroupData] = field(default_factory=dict)
    state_kinds: dict[str, str] = field(default_factory=dict)
    full_size_bytes: int = 0
    checkpointed_size_bytes: int = 0

    @property
    def base_checkpoint_id(self) -> int | None:
        """The checkpoint this delta applies on top of (None for a full snapshot)."""
        return self.builds_on[-1] if self.builds_on else None

    @property
    def state_names(self) -> list[str]:
        """The state names, sorted."""
        return sorted(self.state_kinds)

    def to_json(self) -> dict[str, Any]:
        """The snapshot as a JSON-able dict (key groups in ascending order)."""
        return {
            "format": FORMAT, "version": VERSION,
            "checkpoint_id": self.checkpoint_id, "operator": self.operator, "backend": self.backend,
            "key_group_range": [self.key_group_range.start, self.key_group_range.end],
            "max_parallelism": self.max_parallelism,
            "incremental": self.incremental, "builds_on": list(self.builds_on),
            "state_kinds": dict(sorted(self.state_kinds.items())),
            "full_size_bytes": self.full_size_bytes, "checkpointed_size_bytes": self.checkpointed_size_bytes,
            "key_groups": [
                {"key_group": kg, "rows": data.rows, "deleted": data.deleted}
                for kg, data in sorted(self.key_groups.items())
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyedStateSnapshot:
        """Rebuilds a snapshot from `to_json` output.

        Raises:
            ValueError: If the format or version is not this module's, or a field is missing.
        """
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
            found = (data.get("format"), data.get("version")) if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"keyed state snapshot: expected format {FORMAT!r} version {VERSION}, found {found}")
        try:
            start, end = data["key_group_range"]
            groups = {int(g["key_group"]): KeyGroupData(list(g["rows"]), list(g["deleted"]))
                      for g in data["key_groups"]}
            return cls(
                checkpoint_id=int(data["checkpoint_id"]), operator=str(data["operator"]),
                backend=str(data["backend"]), key_group_range=KeyGroupRange(int(start), int(end)),
                max_parallelism=int(data["max_parallelism"]), incremental=bool(data["incremental"]),
                builds_on=tuple(int(c) for c in data["builds_on"]), key_groups=groups,
                state_kinds={str(k): str(v) for k, v in data["state_kinds"].items()},
                full_size_bytes=int(data["full_size_bytes"]),
                checkpointed_size_bytes=int(data["checkpointed_size_bytes"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"keyed state snapshot of {data.get('operator')!r}: malformed field: {exc!r}") from exc


def restore_plan(snapshots: list[KeyedStateSnapshot], operator: str,
                 max_parallelism: int) -> list[KeyedStateSnapshot]:
    """Orders the snapshots a backend must apply, in order, to rebuild its state.

    Snapshots come from one or more old subtasks (told apart by their key-group
    range and label). For each old subtask the newest snapshot is the target; it and the
    checkpoints it builds on are applied oldest first. Snapshots outside those
    chains are ignored.

    Args:
        snapshots: What the checkpoint (and its bases) hold for this operator.
        operator: The restoring backend's label, for error messages.
        max_parallelism: The restoring backend's number of key groups.

    Returns:
        The snapshots to apply, in order.

    Raises:
        ValueError: If a snapshot has another max parallelism, or a chain is incomplete.
    """
    by_origin: dict[tuple[int, int, str], dict[int, KeyedStateSnapshot]] = {}
    for snap in snapshots:
        if snap.max_parallelism != max_parallelism:
            raise ValueError(
                f"cannot restore {operator} from checkpoint {snap.checkpoint_id} of {snap.operator}: max parallelism "
                f"must stay the same, expected {max_parallelism}, found {snap.max_parallelism}")
        origin = (snap.key_group_range.start, snap.key_group_range.end, snap.operator)
        by_origin.setdefault(origin, {})[snap.checkpoint_id] = snap
    plan: list[KeyedStateSnapshot] = []
    for origin in sorted(by_origin):
        chain = by_origin[origin]
        target = chain[max(chain)]
        missing = [c for c in target.builds_on if c not in chain]
        if missing:
            raise ValueError(
                f"cannot restore {operator}: checkpoint {target.checkpoint_id} of {target.operator} builds on "
                f"checkpoints {list(target.builds_on)}, but {missing} were not given")
        plan.extend(chain[c] for c in target.builds_on)
        plan.append(target)
    return plan
