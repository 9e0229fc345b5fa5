"""Broadcast state: one map per name in every subtask of an operator, written only by broadcast elements.

Layer: `sim.state` (no SimPy). The `OperatorStateBackend` of an operator
subtask owns the maps (`get_broadcast_state`); this module holds the handles
a function sees. The broadcast side gets a `HeapBroadcastState` it may change;
the other side gets a `ReadOnlyBroadcastStateView` of the same map, whose
mutators fail with a message naming the state and the operator. Entries keep
their insertion order, so iterating is deterministic.

Flink counterpart: `HeapBroadcastState`, `ReadOnlyBroadcastState` (held by
`DefaultOperatorStateBackend`).
Simplified: the map is a Python dict; keys must be hashable, and values are
encoded only when a snapshot is taken.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from sim.api.state import BroadcastState, ReadOnlyBroadcastState


class HeapBroadcastState(BroadcastState):
    """The writable handle of one broadcast state (a dict kept by the operator state backend).

    Every call counts one state access on `owner.accesses` (iterating counts
    one per entry, at least one), as keyed state handles do.
    """

    def __init__(self, owner: Any, name: str, entries: dict[Any, Any]):
        self._owner = owner
        self._name = name
        self._entries = entries

    def _touch(self, count: int = 1) -> None:
        self._owner.accesses += max(1, count)

    def get(self, key: Any) -> Any:
        self._touch()
        return self._entries.get(key)

    def contains(self, key: Any) -> bool:
        self._touch()
        return key in self._entries

    def keys(self) -> Iterable[Any]:
        self._touch(len(self._entries))
        return list(self._entries)

    def values(self) -> Iterable[Any]:
        self._touch(len(self._entries))
        return list(self._entries.values())

    def items(self) -> Iterable[tuple[Any, Any]]:
        self._touch(len(self._entries))
        return list(self._entries.items())

    def is_empty(self) -> bool:
        self._touch()
        return not self._entries

    def put(self, key: Any, value: Any) -> None:
        self._touch()
        self._entries[key] = value

    def put_all(self, entries: dict[Any, Any]) -> None:
        self._touch(len(entries))
        self._entries.update(entries)

    def remove(self, key: Any) -> None:
        self._touch()
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._touch()
        self._entries.clear()

    def __repr__(self) -> str:
        return f"BroadcastState({self._name!r} of {self._owner.operator}, {len(self._entries)} entries)"


class ReadOnlyBroadcastStateView(ReadOnlyBroadcastState):
    """What `process_element` sees of a broadcast state: the reads of `HeapBroadcastState`, and no writes.

    Only broadcast elements reach every subtask, so only they may change the
    state; a change from the other side would make the subtasks' copies differ.
    """

    def __init__(self, state: HeapBroadcastState):
        self._state = state

    def get(self, key: Any) -> Any:
        return self._state.get(key)

    def contains(self, key: Any) -> bool:
        return self._state.contains(key)

    def keys(self) -> Iterable[Any]:
        return self._state.keys()

    def values(self) -> Iterable[Any]:
        return self._state.values()

    def items(self) -> Iterable[tuple[Any, Any]]:
        return self._state.items()

    def is_empty(self) -> bool:
        return self._state.is_empty()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._state.keys())

    def _read_only(self, *args: Any) -> None:
        state = self._state
        raise RuntimeError(f"broadcast state {state._name!r} of {state._owner.operator} is read-only here: only "
                           f"process_broadcast_element may change it, so that every subtask keeps the same copy")

    put = put_all = remove = clear = _read_only

    def __repr__(self) -> str:
        return f"ReadOnly{self._state!r}"
