"""The rocksdb backend's row layout and its state handles: every access is a serialized row read or write.

Layer: `sim.state` (no SimPy). The handles hold no state of their own: each
call builds the row key of the current key (through the backend, which
caches the serialized key) and reads or writes bytes through the backend,
which counts the access and tracks the change for incremental snapshots.
See `sim.state.rocks` for the row layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from sim.api.state import AggregatingState, ListState, MapState, ReducingState, StateDescriptor, ValueState
from sim.state.backend import NO_VALUE, merging_rule
from sim.state.serde import dumps, loads, parse_json

if TYPE_CHECKING:
    from sim.state.rocks import RocksDBKeyedStateBackend

def row_key(group: int, name: str, key_bytes: bytes, user_key_bytes: bytes = b"") -> bytes:
    """Builds a row key from its parts (see the module docstring)."""
    name_bytes = name.encode("utf-8")
    return (group.to_bytes(2, "big") + len(name_bytes).to_bytes(2, "big") + name_bytes
            + len(key_bytes).to_bytes(4, "big") + key_bytes + user_key_bytes)


def split_row_key(row: bytes) -> tuple[int, str, bytes, bytes]:
    """(key group, state name, key bytes, map-key bytes or b"") of a row key."""
    name_end = 4 + int.from_bytes(row[2:4], "big")
    key_end = name_end + 4 + int.from_bytes(row[name_end:name_end + 4], "big")
    return int.from_bytes(row[:2], "big"), row[4:name_end].decode("utf-8"), row[name_end + 4:key_end], row[key_end:]


def row_json(row: bytes, value: bytes | None) -> tuple[int, list[Any]]:
    """The key group and canonical snapshot row (a tombstone when `value` is None) of a stored row."""
    group, name, key_bytes, user_key_bytes = split_row_key(row)
    out = [name, parse_json(key_bytes)]
    if user_key_bytes:
        out.append(parse_json(user_key_bytes))
    if value is not None:
        out.append(parse_json(value))
    return group, out


class _RocksState:
    """Common part of the handles: builds the current key's row key for one state name."""

    __slots__ = ("_backend", "_name", "_name_part", "_context")

    def __init__(self, backend: RocksDBKeyedStateBackend, descriptor: StateDescriptor):
        name_bytes = descriptor.name.encode("utf-8")
        if len(name_bytes) > 0xFFFF:
            raise ValueError(f"state name of {backend.operator} must be at most 65535 UTF-8 bytes, "
                             f"got {len(name_bytes)}")
        self._backend = backend
        self._name = descriptor.name
        self._name_part = len(name_bytes).to_bytes(2, "big") + name_bytes
        self._context = f"state {descriptor.name!r} of {backend.operator}"

    def _read(self, missing: Any = None) -> Any:
        """The current key's decoded value, or `missing` when there is none."""
        data = self._backend._get(self._row())
        return missing if data is None else loads(data)

    def _row(self) -> bytes:
        return self._backend._row_prefix(self._name, self._name_part)

    def clear(self) -> None:
        self._backend._delete(self._row())


class RocksValueState(_RocksState, ValueState):
    """One serialized value per key; `update(None)` clears it."""

    __slots__ = ()

    def value(self) -> Any:
        return self._read()

    def update(self, value: Any) -> None:
        if value is None:
            self.clear()
        else:
            self._backend._put(self._row(), dumps(value, self._context))


class RocksListState(_RocksState, ListState):
    """One row per key holding the encoded list; `get()` decodes a new list."""

    __slots__ = ()

    def get(self) -> list[Any]:
        return self._read([])

    def add(self, value: Any) -> None:
        self.add_all((value,))

    def add_all(self, values: Iterable[Any]) -> None:
        values = list(values)
        if any(v is None for v in values):
            raise ValueError(f"cannot add None to list {self._context}")
        if not values:
            return
        row, backend = self._row(), self._backend
        tail = b",".join(dumps(v, self._context) for v in values)
        data = backend._get(row)
        # Canonical JSON of a list is "[" + ",".join(elements) + "]": append without decoding.
        backend._put(row, b"[" + tail + b"]" if data is None else data[:-1] + b"," + tail + b"]")

    def update(self, values: Iterable[Any]) -> None:
        values = list(values)
        if any(v is None for v in values):
            raise ValueError(f"cannot update list {self._context} with None")
        if values:
            self._backend._put(self._row(), dumps(values, self._context))
        else:
            self.clear()


class RocksMapState(_RocksState, MapState):
    """One row per map entry, under the prefix of (key group, state, key)."""

    __slots__ = ()

    def _entry(self, key: Any) -> bytes:
        return self._row() + dumps(key, f"a map key of {self._context}")

    def get(self, key: Any) -> Any:
        data = self._backend._get(self._entry(key))
        return None if data is None else loads(data)

    def contains(self, key: Any) -> bool:
        return self._backend._get(self._entry(key)) is not None

    def put(self, key: Any, value: Any) -> None:
        self._backend._put(self._entry(key), dumps(value, self._context))

    def put_all(self, entries: dict[Any, Any]) -> None:
        for key, value in dict(entries).items():
            self.put(key, value)

    def remove(self, key: Any) -> None:
        self._backend._delete(self._entry(key))

    def _rows(self) -> list[tuple[bytes, bytes]]:
        prefix = self._row()
        rows = [(row[len(prefix):], value) for row, value in self._backend._scan(prefix) if len(row) > len(prefix)]
        self._backend.accesses += max(1, len(rows))
        return rows

    def keys(self) -> list[Any]:
        return [loads(k) for k, _ in self._rows()]

    def values(self) -> list[Any]:
        return [loads(v) for _, v in self._rows()]

    def items(self) -> list[tuple[Any, Any]]:
        return [(loads(k), loads(v)) for k, v in self._rows()]

    def is_empty(self) -> bool:
        return not self._rows()

    def clear(self) -> None:
        prefix = self._row()
        for row, _ in list(self._backend._scan(prefix)):
            self._backend._delete(row)


class _RocksMergingState(_RocksState):
    """A serialized value per key that each added value is folded into (`merging_rule`); `add(None)` clears."""

    __slots__ = ("_merge",)

    def __init__(self, backend: RocksDBKeyedStateBackend, descriptor: Any):
        super().__init__(backend, descriptor)
        self._merge = merging_rule(descriptor)

    def add(self, value: Any) -> None:
        if value is None:
            self.clear()
            return
        row = self._row()
        data = self._backend._get(row)
        new = self._merge(NO_VALUE if data is None else loads(data), value)
        self._backend._put(row, dumps(new, self._context))


class RocksReducingState(_RocksMergingState, ReducingState):
    """A serialized value per key, combined with each added value."""

    __slots__ = ()

    def get(self) -> Any:
        return self._read()


class RocksAggregatingState(_RocksMergingState, AggregatingState):
    """A serialized accumulator per key; `get()` decodes it and returns the function's result."""

    __slots__ = ("_fn",)

    def __init__(self, backend: RocksDBKeyedStateBackend, descriptor: Any):
        super().__init__(backend, descriptor)
        self._fn = descriptor.agg_function

    def get(self) -> Any:
        acc = self._read(NO_VALUE)
        return None if acc is NO_VALUE else self._fn.get_result(acc)


HANDLES: dict[str, type] = {
    "value": RocksValueState, "list": RocksListState, "map": RocksMapState,
    "reducing": RocksReducingState, "aggregating": RocksAggregatingState,
}
