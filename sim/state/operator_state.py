"""Operator (non-keyed) state: split and union list state, broadcast state, snapshots, redistribution on rescale.

Layer: `sim.state` (no SimPy). One `OperatorStateBackend` per operator
subtask holds named lists that are not scoped to a key (a source's offsets,
a sink's pending transactions). What matters for teaching is how the lists
move when parallelism changes, which the pure functions at the bottom
compute:

- even-split (`get_list_state`): the old subtasks' lists are concatenated in
  old subtask order and cut into contiguous chunks of ``N // p`` elements;
  the first ``N % p`` targets (counting from the start target) get one more.
  The start target rotates from one named state to the next (the next state
  starts at the first target that got no extra element). States are taken in
  sorted name order **[sim]** (Flink walks a hash map). Unchanged parallelism
  hands each subtask back exactly its own list.
- union (`get_union_list_state`): every new subtask gets the whole
  concatenated list, whatever the parallelism.
- broadcast (`get_broadcast_state`, a map): every subtask checkpoints its own
  copy. New subtask i reads old subtask i's copy, and when scaling up the
  extra subtasks read the old copies round robin (i modulo the old count).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from sim.api.state import ListState, ListStateDescriptor, MapStateDescriptor
from sim.state.broadcast_state import HeapBroadcastState
from sim.state.serde import canonical_json, decode, encode

SPLIT = "split"
UNION = "union"
BROADCAST = "broadcast"
FORMAT = "sim-operator-state"
VERSION = 1


class OperatorListState(ListState):
    """A list held by one operator subtask (not keyed): `get`, `add`, `add_all`, `update`, `clear`."""

    def __init__(self, backend: OperatorStateBackend, name: str, values: list[Any]):
        self._backend = backend
        self._name = name
        self._values = values

    def _check(self, values: list[Any]) -> list[Any]:
        if any(v is None for v in values):
            raise ValueError(f"cannot add None to operator list state {self._name!r} of {self._backend.operator}")
        return values

    def get(self) -> list[Any]:
        self._backend.accesses += 1
        return list(self._values)

    def add(self, value: Any) -> None:
        self.add_all((value,))

    def add_all(self, values: Iterable[Any]) -> None:
        self._backend.accesses += 1
        self._values.extend(self._check(list(values)))

    def update(self, values: Iterable[Any]) -> None:
        self._backend.accesses += 1
        self._values[:] = self._check(list(values))

    def clear(self) -> None:
        self._backend.accesses += 1
        self._values.clear()


@dataclass
class OperatorStateSnapshot:
    """The operator state of one subtask at one checkpoint.

    Attributes:
        checkpoint_id: The checkpoint.
        operator: The subtask label, e.g. "source[0]".
        states: Per state name, its mode ("split", "union" or "broadcast") and its encoded elements
            (for a broadcast state, `[key, value]` pairs in insertion order).
        size_bytes: Size of the canonical JSON of `states` (always a full snapshot).

    Flink counterpart: `OperatorStreamStateHandle` with its `StateMetaInfo` offsets.
    Simplified: elements are JSON values in the snapshot, not offsets into a stream.
    """

    checkpoint_id: int
    operator: str
    states: dict[str, tuple[str, list[Any]]] = field(default_factory=dict)
    size_bytes: int = 0

    @property
    def full_size_bytes(self) -> int:
        return self.size_bytes

    @property
    def checkpointed_size_bytes(self) -> int:
        return self.size_bytes

    def to_json(self) -> dict[str, Any]:
        """The snapshot as a JSON-able dict."""
        return {"format": FORMAT, "version": VERSION, "checkpoint_id": self.checkpoint_id,
                "operator": self.operator, "size_bytes": self.size_bytes,
                "states": {name: {"mode": mode, "values": values} for name, (mode, values) in sorted(self.states.items())}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OperatorStateSnapshot:
        """Rebuilds a snapshot from `to_json` output.

        Raises:
            ValueError: On another format or version, or a malformed field.
        """
        if not isinstance(data, dict) or (data.get("format"), data.get("version")) != (FORMAT, VERSION):
            found = (data.get("format"), data.get("version")) if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"operator state snapshot: expected format {FORMAT!r} version {VERSION}, found {found}")
        try:
            states = {str(n): (str(s["mode"]), list(s["values"])) for n, s in data["states"].items()}
            return cls(int(data["checkpoint_id"]), str(data["operator"]), states, int(data["size_bytes"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"operator state snapshot of {data.get('operator')!r}: malformed field: {exc!r}") from exc


class OperatorStateBackend:
    """The operator (non-keyed) list states of one operator subtask.

    Lifecycle: created → optionally `restore(old snapshots, subtask,
    parallelism)` → states used → `snapshot(checkpoint_id)` at each
    checkpoint (encoded at once, so independent of later changes).

    Flink counterpart: `DefaultOperatorStateBackend`,
    `RoundRobinOperatorStateRepartitioner`.
    Simplified: broadcast states are plain dicts (see `sim.state.broadcast_state`).
    """

    def __init__(self, operator: str):
        self.operator = operator
        self.accesses = 0
        self._states: dict[str, tuple[str, list[Any]]] = {}
        self._broadcast: dict[str, dict[Any, Any]] = {}

    def get_list_state(self, state_descriptor: ListStateDescriptor) -> ListState:
        """The even-split list state of this descriptor's name."""
        return self._handle(state_descriptor, SPLIT)

    def get_union_list_state(self, state_descriptor: ListStateDescriptor) -> ListState:
        """The union list state of this descriptor's name."""
        return self._handle(state_descriptor, UNION)

    def get_broadcast_state(self, state_descriptor: MapStateDescriptor) -> HeapBroadcastState:
        """The broadcast state (a map) of this descriptor's name, created empty on first use."""
        if not isinstance(state_descriptor, MapStateDescriptor):
            raise TypeError(f"broadcast state of {self.operator} needs a MapStateDescriptor, got {state_descriptor!r}")
        name = state_descriptor.name
        if name in self._states:
            raise ValueError(f"operator state {name!r} of {self.operator} is {self._states[name][0]} list state, "
                             f"not broadcast state")
        return HeapBroadcastState(self, name, self._broadcast.setdefault(name, {}))

    def _handle(self, descriptor: ListStateDescriptor, mode: str) -> ListState:
        if not isinstance(descriptor, ListStateDescriptor):
            raise TypeError(f"operator state of {self.operator} needs a ListStateDescriptor, got {descriptor!r}")
        if descriptor.name in self._broadcast:
            raise ValueError(f"operator state {descriptor.name!r} of {self.operator} is broadcast state, "
                             f"not {mode} list state")
        known_mode, values = self._states.setdefault(descriptor.name, (mode, []))
        if known_mode != mode:
            raise ValueError(f"operator state {descriptor.name!r} of {self.operator} is {known_mode} list state, "
                             f"not {mode} list state")
        return OperatorListState(self, descriptor.name, values)

    def snapshot(self, checkpoint_id: int) -> OperatorStateSnapshot:
        """Encodes every list now.

        Raises:
            TypeError: If an element cannot be encoded (names the state).
        """
        states = {}
        for name, (mode, values) in sorted(self._states.items()):
            context = f"operator state {name!r} of {self.operator}"
            states[name] = (mode, [encode(v, context) for v in values])
        for name, entries in sorted(self._broadcast.items()):
            context = f"broadcast state {name!r} of {self.operator}"
            states[name] = (BROADCAST, [[encode(k, context), encode(v, context)] for k, v in entries.items()])
        snap = OperatorStateSnapshot(checkpoint_id, self.operator, states)
        snap.size_bytes = len(canonical_json(snap.to_json()["states"]))
        return snap

    def restore(self, snapshots: Sequence[OperatorStateSnapshot | None], subtask: int, parallelism: int) -> None:
        """Replaces all lists with this subtask's share of the old subtasks' snapshots.

        Args:
            snapshots: One per old subtask, in old subtask order (None where a subtask had none).
            subtask: This subtask's new index.
            parallelism: The new parallelism.
        """
        if not 0 <= subtask < parallelism:
            raise ValueError(f"restore of {self.operator}: subtask must be in [0, {parallelism}), got {subtask}")
        share = redistribute_operator_state(snapshots, parallelism)[subtask]
        self._states.clear()
        self._broadcast.clear()
        for name, (mode, values) in share.items():
            if mode == BROADCAST:
                self._broadcast[name] = {decode(k): decode(v) for k, v in values}
            else:
                self._states[name] = (mode, [decode(v) for v in values])

    def dispose(self) -> None:
        self._states.clear()
        self._broadcast.clear()


def snapshots_in(states: Sequence[dict[str, Any] | None], key: str) -> list[OperatorStateSnapshot | None]:
    """The `OperatorStateSnapshot` an operator kept under `key` in each old subtask's operator state.

    For an operator's `restore_operator_state(states, ...)` when its
    `snapshot_operator_state` returned `{key: backend.snapshot(id).to_json(), ...}`:
    the result goes to `OperatorStateBackend.restore` with the new subtask and parallelism.
    """
    return [OperatorStateSnapshot.from_json(s[key]) if s is not None and key in s else None for s in states]


def redistribute_even_split(per_subtask_lists: Sequence[Sequence[Any]], new_parallelism: int,
                            start_index: int = 0) -> list[list[Any]]:
    """Even-split redistribution of one list state (see the module docstring).

    Args:
        per_subtask_lists: The old subtasks' lists, in old subtask order.
        new_parallelism: The number of new subtasks.
        start_index: The new subtask that receives the first chunk.

    Returns:
        One list per new subtask.
    """
    _check_parallelism(new_parallelism)
    if len(per_subtask_lists) == new_parallelism:
        return [list(values) for values in per_subtask_lists]
    items = [v for values in per_subtask_lists for v in values]
    base, extra = divmod(len(items), new_parallelism)
    out: list[list[Any]] = [[] for _ in range(new_parallelism)]
    position = 0
    for i in range(new_parallelism):
        count = base + (1 if i < extra else 0)
        out[(start_index + i) % new_parallelism] = items[position:position + count]
        position += count
    return out


def next_start_index(total: int, new_parallelism: int, start_index: int) -> int:
    """Where the next named state's even split starts: the first target that got no extra element."""
    _check_parallelism(new_parallelism)
    return (start_index + total % new_parallelism) % new_parallelism


def redistribute_union(per_subtask_lists: Sequence[Sequence[Any]], new_parallelism: int) -> list[list[Any]]:
    """Union redistribution: every new subtask gets the whole concatenated list (old subtask order)."""
    _check_parallelism(new_parallelism)
    items = [v for values in per_subtask_lists for v in values]
    return [list(items) for _ in range(new_parallelism)]


def redistribute_broadcast(per_subtask_copies: Sequence[Sequence[Any]], new_parallelism: int) -> list[list[Any]]:
    """Broadcast redistribution: new subtask i reads old copy i, or i modulo the old count when scaling up."""
    _check_parallelism(new_parallelism)
    if not per_subtask_copies:
        return [[] for _ in range(new_parallelism)]
    return [list(per_subtask_copies[i % len(per_subtask_copies)]) for i in range(new_parallelism)]


def redistribute_operator_state(snapshots: Sequence[OperatorStateSnapshot | None],
                                new_parallelism: int) -> list[dict[str, tuple[str, list[Any]]]]:
    """Each new subtask's share of every named operator state, from the old subtasks' snapshots.

    Raises:
        ValueError: If one state name has different modes in different snapshots.
    """
    _check_parallelism(new_parallelism)
    modes: dict[str, str] = {}
    for snap in snapshots:
        for name, (mode, _) in (snap.states.items() if snap is not None else ()):
            if modes.setdefault(name, mode) != mode:
                raise ValueError(f"operator state {name!r} of {snap.operator} is {mode} state in checkpoint "
                                 f"{snap.checkpoint_id}, but {modes[name]} state in another subtask")
    shares: list[dict[str, tuple[str, list[Any]]]] = [{} for _ in range(new_parallelism)]
    start = 0
    for name in sorted(modes):
        lists = [list(snap.states[name][1]) if snap is not None and name in snap.states else [] for snap in snapshots]
        if modes[name] == UNION:
            parts = redistribute_union(lists, new_parallelism)
        elif modes[name] == BROADCAST:
            parts = redistribute_broadcast(lists, new_parallelism)
        else:
            parts = redistribute_even_split(lists, new_parallelism, start)
            start = next_start_index(sum(len(values) for values in lists), new_parallelism, start)
        for i, part in enumerate(parts):
            shares[i][name] = (modes[name], part)
    return shares


def _check_parallelism(new_parallelism: int) -> None:
    if new_parallelism < 1:
        raise ValueError(f"new parallelism must be at least 1, got {new_parallelism}")
