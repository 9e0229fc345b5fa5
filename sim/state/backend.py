"""`KeyedStateBackend`: the interface both keyed state backends share, and `create_keyed_backend`.

Layer: `sim.state` (no SimPy, no clock). A backend holds the keyed state of
one operator in one subtask, for the key groups that subtask owns. The
runtime sets `current_key` before each record; state handles read and write
under that key. Backends never decide routing: a key outside the backend's
key-group range is a routing bug and is reported as one.

Lifecycle: created (empty) → optionally `restore(snapshots)` → records
processed; at every checkpoint `snapshot(checkpoint_id)` (the synchronous
part: the result is independent of later updates) and later
`notify_checkpoint_complete(checkpoint_id)` → `dispose()`.

Access counting: `accesses` grows by one per state read and one per state
write made through a state handle (a read-modify-write such as
`ReducingState.add` counts two; iterating a map counts one per entry, at
least one). The cost model multiplies it by a per-backend price. The raw
`table()` fast path of the heap backend is not counted.
"""

from __future__ import annotations

from typing import Any, Callable

from sim.api.state import (
    AggregatingState, AggregatingStateDescriptor, ListState, ListStateDescriptor, MapState, MapStateDescriptor,
    ReducingState, ReducingStateDescriptor, State, StateDescriptor, ValueState, ValueStateDescriptor,
)
from sim.kernel.hashing import KeyGroupCache, KeyGroupRange, check_max_parallelism
from sim.state.serde import dumps
from sim.state.snapshot import KeyedStateSnapshot, KeyGroupData, restore_plan

STATE_KINDS = ("value", "list", "map", "reducing", "aggregating")

NO_VALUE = object()
"""What a merging state holds for a key that has none yet (None is a value a reduce may produce)."""


def merging_rule(descriptor: Any) -> Callable[[Any, Any], Any]:
    """`rule(current or NO_VALUE, added) -> new` for a reducing or aggregating state, whatever the backend.

    Reducing: the first value is kept as it is, later ones are reduced into it.
    Aggregating: a fresh accumulator is created for the first value, then `add` folds each one in.
    """
    if hasattr(descriptor, "agg_function"):
        fn = descriptor.agg_function
        return lambda current, value: fn.add(value, fn.create_accumulator() if current is NO_VALUE else current)
    reduce = descriptor.reduce
    return lambda current, value: value if current is NO_VALUE else reduce(current, value)
BACKEND_KINDS = ("hashmap", "rocksdb")


class KeyedStateBackend:
    """Keyed state of one operator subtask, scoped to `current_key`.

    Attributes:
        operator: The subtask label, e.g. "sum[1]".
        max_parallelism: The number of key groups.
        key_group_range: The key groups this subtask owns.
        current_key: The key of the record being processed (a plain attribute, set by the runtime).
        accesses: State reads plus writes made through state handles so far.
        supports_tables: Whether `table()` works (heap only).

    Flink counterpart: `AbstractKeyedStateBackend`.
    Simplified: no namespaces (windows will add them), no TTL, no timers.
    """

    kind = "abstract"
    supports_tables = False
    """Whether `table()` hands out raw dicts (the runtime's fast path)."""

    def __init__(self, operator: str, max_parallelism: int = 128, key_group_range: KeyGroupRange | None = None,
                 *, hash_code: Callable[[object], int] | None = None):
        check_max_parallelism(max_parallelism, 1, operator)
        if key_group_range is None:
            key_group_range = KeyGroupRange(0, max_parallelism - 1)
        if not 0 <= key_group_range.start <= key_group_range.end < max_parallelism:
            raise ValueError(f"key-group range of {operator} must lie in [0, {max_parallelism - 1}], "
                             f"got {key_group_range}")
        self.operator = operator
        self.max_parallelism = max_parallelism
        self.key_group_range = key_group_range
        self.subtask: int | None = None
        self.current_key: Any = None
        self.accesses = 0
        self._kinds: dict[str, str] = {}
        self._key_group = KeyGroupCache(max_parallelism, hash_code).key_group
        self.key_group_of: Callable[[Any], int] = self._key_group
        """The key group of a key (Flink's murmur of the key's Java hashCode, modulo max parallelism)."""

    # -- state handles ------------------------------------------------------------------------------

    def get_state(self, state_descriptor: ValueStateDescriptor) -> ValueState:
        """The `ValueState` of this descriptor's name (created on first use)."""
        return self._handle(state_descriptor, "value", "get_state")

    def get_list_state(self, state_descriptor: ListStateDescriptor) -> ListState:
        """The `ListState` of this descriptor's name."""
        return self._handle(state_descriptor, "list", "get_list_state")

    def get_map_state(self, state_descriptor: MapStateDescriptor) -> MapState:
        """The `MapState` of this descriptor's name."""
        return self._handle(state_descriptor, "map", "get_map_state")

    def get_reducing_state(self, state_descriptor: ReducingStateDescriptor) -> ReducingState:
        """The `ReducingState` of this descriptor's name."""
        return self._handle(state_descriptor, "reducing", "get_reducing_state")

    def get_aggregating_state(self, state_descriptor: AggregatingStateDescriptor) -> AggregatingState:
        """The `AggregatingState` of this descriptor's name."""
        return self._handle(state_descriptor, "aggregating", "get_aggregating_state")

    def _handle(self, descriptor: StateDescriptor, kind: str, method: str) -> Any:
        if not isinstance(descriptor, StateDescriptor) or descriptor.kind != kind:
            raise TypeError(f"{method} of {self.operator} needs a {kind} state descriptor, got {descriptor!r}")
        self._register(descriptor.name, kind)
        return self._create_state(descriptor)

    def _register(self, name: str, kind: str) -> None:
        """Records the kind of a state name; one name has one kind for the backend's life."""
        if kind not in STATE_KINDS:
            raise ValueError(f"state {name!r} of {self.operator}: unknown state kind {kind!r}, "
                             f"expected one of {STATE_KINDS}")
        known = self._kinds.setdefault(name, kind)
        if known != kind:
            raise ValueError(f"state {name!r} of {self.operator} is {known} state, not {kind} state")

    def _create_state(self, descriptor: StateDescriptor) -> State:
        raise NotImplementedError

    # -- key groups ---------------------------------------------------------------------------------

    def key_group_checked(self, key: Any, name: str) -> int:
        """The key group of `key`, which must be in this backend's range.

        Raises:
            ValueError: If `key` is None or belongs to another subtask's key groups.
        """
        if key is None:
            raise ValueError(f"state {name!r} of {self.operator} was used with no current key (key is None)")
        group = self._key_group(key)
        if not self.key_group_range.start <= group <= self.key_group_range.end:
            raise ValueError(
                f"key {key!r} of state {name!r} in {self.operator} is in key group {group}, outside "
                f"{self.operator}'s {self.key_group_range} (max parallelism {self.max_parallelism}): "
                f"a record was routed to the wrong subtask")
        return group

    # -- inspection, snapshots, restore -------------------------------------------------------------

    @property
    def state_kinds(self) -> dict[str, str]:
        """Kind of every state name registered so far (a copy)."""
        return dict(self._kinds)

    def table(self, name: str, kind: str = "value") -> dict[Any, Any]:
        """The raw key → value dict of a state (heap backend only)."""
        raise NotImplementedError(f"the {self.kind} backend of {self.operator} has no raw tables "
                                  f"(state {name!r}): use a state handle")

    def keys(self, name: str | None = None) -> list[Any]:
        """Keys that have state (in state `name`, or in any), in canonical-bytes order."""
        found = {dumps(key): key for state, key, _ in self.entries() if name is None or state == name}
        return [found[data] for data in sorted(found)]

    def entries(self) -> list[tuple[str, Any, Any]]:
        """Every (state name, key, value), sorted by name then canonical key bytes.

        A map state's value is a dict of its entries; a list state's a list.
        """
        raise NotImplementedError

    def snapshot(self, checkpoint_id: int, *, savepoint: bool = False) -> KeyedStateSnapshot:
        """The synchronous snapshot: an independent copy of the state now.

        Args:
            checkpoint_id: The checkpoint (or savepoint) id.
            savepoint: A full snapshot that never becomes an incremental base.
        """
        raise NotImplementedError

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Checkpoint `checkpoint_id` completed (all subtasks acknowledged)."""

    def restore(self, snapshots: list[KeyedStateSnapshot]) -> None:
        """Replaces all state with the key groups of this range found in `snapshots`.

        `snapshots` may come from other subtasks (rescaling) and may include
        the bases of incremental snapshots; see `snapshot.restore_plan`.

        Raises:
            ValueError: On a max-parallelism change, an incomplete chain, or a
                state name whose kind differs from one already registered.
        """
        plan = restore_plan(list(snapshots), self.operator, self.max_parallelism)
        self._reset()
        for snap in plan:
            for name, kind in sorted(snap.state_kinds.items()):
                self._register(name, kind)
        for snap in plan:
            for group, data in sorted(snap.key_groups.items()):
                if self.key_group_range.start <= group <= self.key_group_range.end:
                    self._apply_key_group(group, data)
        self._restored()

    def _reset(self) -> None:
        """Drops all state (before a restore)."""
        raise NotImplementedError

    def _apply_key_group(self, group: int, data: KeyGroupData) -> None:
        """Applies one key group's tombstones, then its rows."""
        raise NotImplementedError

    def _restored(self) -> None:
        """Hook after a restore."""

    def dispose(self) -> None:
        """Releases everything the backend holds."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.operator!r}, {self.key_group_range})"


def create_keyed_backend(kind: str, operator: str, subtask: int, max_parallelism: int,
                         key_group_range: KeyGroupRange | None, workdir: str | None = None, *,
                         incremental: bool = False, max_chain_length: int = 10,
                         hash_code: Callable[[object], int] | None = None) -> KeyedStateBackend:
    """Creates the keyed state backend of one operator subtask.

    Args:
        kind: "hashmap" (heap, always full snapshots) or "rocksdb" (on disk, optionally incremental).
        operator: The subtask label used in messages and snapshots, e.g. "sum[1]".
        subtask: The subtask index (kept as the backend's `subtask`).
        max_parallelism: The operator's number of key groups.
        key_group_range: The key groups the subtask owns (None: all).
        workdir: Where the rocksdb backend keeps its database (a temporary directory when None).
        incremental: rocksdb only (ignored by hashmap, as in Flink): snapshot deltas.
        max_chain_length: rocksdb only: how many checkpoints a delta may build on.
        hash_code: The Java hashCode of the declared key type (default: by Python type).

    Raises:
        ValueError: If `kind` is unknown.
    """
    if kind == "hashmap":
        from sim.state.heap import HeapKeyedStateBackend

        backend: KeyedStateBackend = HeapKeyedStateBackend(operator, max_parallelism, key_group_range,
                                                           hash_code=hash_code)
    elif kind == "rocksdb":
        from sim.state.rocks import RocksDBKeyedStateBackend

        backend = RocksDBKeyedStateBackend(operator, max_parallelism, key_group_range, workdir,
                                           incremental=incremental, max_chain_length=max_chain_length,
                                           hash_code=hash_code)
    else:
        raise ValueError(f"keyed state backend of {operator} must be one of {BACKEND_KINDS}, got {kind!r}")
    backend.subtask = subtask
    return backend
