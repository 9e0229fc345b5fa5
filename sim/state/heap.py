"""The heap (`hashmap`) keyed-state backend: Python objects in flat dicts, full snapshots.

Layer: `sim.state` (no SimPy). Each state name has one flat dict, key →
value, read and written under the backend's `current_key`; the runtime may
also use a raw dict directly (`table()`) on its hot path. Key groups are not
tracked per access: they are derived from the keys when a snapshot is taken.
This module must not keep references from a snapshot into live state: a
snapshot is encoded on the spot.

What a dict holds per key: value and reducing state the value, list state a
Python list, map state a Python dict, aggregating state the accumulator.
Emptied lists and maps are removed, so "no state" has one representation.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from sim.api.state import (
    AggregatingState, ListState, MapState, ReducingState, State, StateDescriptor, ValueState,
)
from sim.kernel.hashing import KeyGroupRange
from sim.state.backend import NO_VALUE, KeyedStateBackend, merging_rule
from sim.state.serde import canonical_json, decode, dumps, encode
from sim.state.snapshot import KeyedStateSnapshot, KeyGroupData


class _HeapState:
    """Common fields of the heap state handles: the backend, the table, the descriptor."""

    __slots__ = ("_backend", "_table", "_name")

    def __init__(self, backend: HeapKeyedStateBackend, descriptor: StateDescriptor, table: dict[Any, Any]):
        self._backend = backend
        self._table = table
        self._name = descriptor.name

    def clear(self) -> None:
        backend = self._backend
        backend.accesses += 1
        self._table.pop(backend.current_key, None)

    def _no_none(self, what: str) -> ValueError:
        return ValueError(f"cannot {what} None in list state {self._name!r} of {self._backend.operator}")


class HeapValueState(_HeapState, ValueState):
    """One value per key; `update(None)` clears it (as in Flink)."""

    __slots__ = ()

    def value(self) -> Any:
        backend = self._backend
        backend.accesses += 1
        return self._table.get(backend.current_key)

    def update(self, value: Any) -> None:
        backend = self._backend
        backend.accesses += 1
        if value is None:
            self._table.pop(backend.current_key, None)
        else:
            self._table[backend.current_key] = value


class HeapListState(_HeapState, ListState):
    """A list per key. `get()` returns a new list (changing it does not change the state)."""

    __slots__ = ()

    def get(self) -> list[Any]:
        backend = self._backend
        backend.accesses += 1
        return list(self._table.get(backend.current_key, ()))

    def add(self, value: Any) -> None:
        if value is None:
            raise self._no_none("add")
        backend = self._backend
        backend.accesses += 1
        values = self._table.get(backend.current_key)
        if values is None:
            self._table[backend.current_key] = [value]
        else:
            values.append(value)

    def add_all(self, values: Iterable[Any]) -> None:
        values = list(values)
        if any(v is None for v in values):
            raise self._no_none("add_all with")
        if values:
            backend = self._backend
            backend.accesses += 1
            self._table.setdefault(backend.current_key, []).extend(values)

    def update(self, values: Iterable[Any]) -> None:
        values = list(values)
        if any(v is None for v in values):
            raise self._no_none("update with")
        backend = self._backend
        backend.accesses += 1
        if values:
            self._table[backend.current_key] = values
        else:
            self._table.pop(backend.current_key, None)


class HeapMapState(_HeapState, MapState):
    """A dict per key. `keys()`, `values()`, `items()` return new lists."""

    __slots__ = ()

    def _map(self) -> dict[Any, Any] | None:
        backend = self._backend
        backend.accesses += 1
        return self._table.get(backend.current_key)

    def get(self, key: Any) -> Any:
        entries = self._map()
        return None if entries is None else entries.get(key)

    def contains(self, key: Any) -> bool:
        entries = self._map()
        return entries is not None and key in entries

    def put(self, key: Any, value: Any) -> None:
        entries = self._map()
        if entries is None:
            self._table[self._backend.current_key] = {key: value}
        else:
            entries[key] = value

    def put_all(self, entries: dict[Any, Any]) -> None:
        for key, value in dict(entries).items():
            self.put(key, value)

    def remove(self, key: Any) -> None:
        entries = self._map()
        if entries is not None:
            entries.pop(key, None)
            if not entries:
                del self._table[self._backend.current_key]

    def keys(self) -> list[Any]:
        return [k for k, _ in self.items()]

    def values(self) -> list[Any]:
        return [v for _, v in self.items()]

    def items(self) -> list[tuple[Any, Any]]:
        entries = self._map()
        if not entries:
            return []
        self._backend.accesses += len(entries) - 1
        return list(entries.items())

    def is_empty(self) -> bool:
        return not self._map()


class _HeapMergingState(_HeapState):
    """A state that folds each added value into one per key (`merging_rule`); `add(None)` clears (as in Flink)."""

    __slots__ = ("_merge",)

    def __init__(self, backend: HeapKeyedStateBackend, descriptor: Any, table: dict[Any, Any]):
        super().__init__(backend, descriptor, table)
        self._merge = merging_rule(descriptor)

    def add(self, value: Any) -> None:
        if value is None:
            self.clear()
            return
        backend = self._backend
        backend.accesses += 2
        key = backend.current_key
        self._table[key] = self._merge(self._table.get(key, NO_VALUE), value)


class HeapReducingState(_HeapMergingState, ReducingState):
    """A value per key combined with each added value at once."""

    __slots__ = ()

    def get(self) -> Any:
        backend = self._backend
        backend.accesses += 1
        return self._table.get(backend.current_key)


class HeapAggregatingState(_HeapMergingState, AggregatingState):
    """An accumulator per key; `get()` is the function's result (None when unset)."""

    __slots__ = ("_fn",)

    def __init__(self, backend: HeapKeyedStateBackend, descriptor: Any, table: dict[Any, Any]):
        super().__init__(backend, descriptor, table)
        self._fn = descriptor.agg_function

    def get(self) -> Any:
        backend = self._backend
        backend.accesses += 1
        acc = self._table.get(backend.current_key, NO_VALUE)
        return None if acc is NO_VALUE else self._fn.get_result(acc)


_HANDLES: dict[str, type] = {
    "value": HeapValueState, "list": HeapListState, "map": HeapMapState,
    "reducing": HeapReducingState, "aggregating": HeapAggregatingState,
}


class HeapKeyedStateBackend(KeyedStateBackend):
    """Keyed state of one operator subtask as Python objects in dicts.

    `tables[name]` maps key → value (see the module docstring for what a
    value is per state kind). `snapshot()` is always full and encodes every
    value right away, so a snapshot never shares objects with live state,
    and a value that cannot be encoded fails the snapshot naming its state.

    Flink counterpart: `HeapKeyedStateBackend` (the `hashmap` state backend)
    with `HeapValueState`, `HeapListState`, `HeapMapState`,
    `HeapReducingState`, `HeapAggregatingState`.
    Simplified: one dict per state instead of per-key-group `StateTable`s;
    no copy-on-write snapshots (the sync part copies by encoding).
    """

    kind = "hashmap"
    supports_tables = True

    def __init__(self, operator: str, max_parallelism: int = 128, key_group_range: KeyGroupRange | None = None,
                 *, hash_code: Callable[[object], int] | None = None):
        super().__init__(operator, max_parallelism, key_group_range, hash_code=hash_code)
        self.tables: dict[str, dict[Any, Any]] = {}

    def table(self, name: str, kind: str = "value") -> dict[Any, Any]:
        """The raw key → value dict of a state (created empty on first use); the runtime's fast path."""
        self._register(name, kind)
        table = self.tables.get(name)
        if table is None:
            table = self.tables[name] = {}
        return table

    def _create_state(self, descriptor: StateDescriptor) -> State:
        return _HANDLES[descriptor.kind](self, descriptor, self.table(descriptor.name, descriptor.kind))

    def entries(self) -> list[tuple[str, Any, Any]]:
        out = []
        for name in sorted(self.tables):
            rows = sorted(((dumps(key), key, value) for key, value in self.tables[name].items()), key=_first)
            out += [(name, key, value) for _, key, value in rows]
        return out

    def snapshot(self, checkpoint_id: int, *, savepoint: bool = False) -> KeyedStateSnapshot:
        """A full snapshot, encoded now (later updates cannot reach it); `savepoint` changes nothing here.

        Raises:
            TypeError: If a key or value cannot be encoded (names the state).
            ValueError: If a key lies outside this backend's key groups.
        """
        groups: dict[int, KeyGroupData] = {}
        size = 0
        for name in sorted(self.tables):
            is_map = self._kinds[name] == "map"
            context = f"state {name!r} of {self.operator}"
            for key, value in self.tables[name].items():
                group = self.key_group_checked(key, name)
                rows = _encode_rows(name, key, value, is_map, context)
                size += sum(len(canonical_json(row)) for row in rows)
                groups.setdefault(group, KeyGroupData()).rows.extend(rows)
        return KeyedStateSnapshot(
            checkpoint_id=checkpoint_id, operator=self.operator, backend=self.kind,
            key_group_range=self.key_group_range, max_parallelism=self.max_parallelism,
            key_groups=groups, state_kinds=dict(self._kinds),
            full_size_bytes=size, checkpointed_size_bytes=size,
        )

    def _reset(self) -> None:
        # Cleared in place: operators and state handles keep references to these dicts.
        for table in self.tables.values():
            table.clear()

    def _apply_key_group(self, group: int, data: KeyGroupData) -> None:
        for row in data.deleted:
            table = self.table(row[0], self._kinds.get(row[0], "value"))
            key = decode(row[1])
            if len(row) == 3:
                entries = table.get(key)
                if entries is not None:
                    entries.pop(decode(row[2]), None)
                    if not entries:
                        del table[key]
            else:
                table.pop(key, None)
        for row in data.rows:
            table = self.table(row[0], self._kinds.get(row[0], "value"))
            if len(row) == 4:
                table.setdefault(decode(row[1]), {})[decode(row[2])] = decode(row[3])
            else:
                table[decode(row[1])] = decode(row[2])

    def dispose(self) -> None:
        self.tables.clear()


def _encode_rows(name: str, key: Any, value: Any, is_map: bool, context: str) -> list[list[Any]]:
    """The canonical snapshot rows of one key of one state."""
    key_data = encode(key, f"the key of {context}")
    if is_map:
        return [[name, key_data, encode(k, f"a map key of {context}"), encode(v, context)] for k, v in value.items()]
    return [[name, key_data, encode(value, context)]]


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]
