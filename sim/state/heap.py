"""The heap keyed-state backend: state objects held in dicts, scoped to the current key.

Layer: `sim.state` (no SimPy). The runtime sets the current key before each
record; a `ValueState` reads and writes the table of its descriptor's name
under that key.

Flink counterpart: `HeapKeyedStateBackend` (the `hashmap` backend), `HeapValueState`.
Simplified: value state only; tables are keyed by key (the key group is
derived from the key when it is needed).
"""

from __future__ import annotations

from typing import Any

from sim.api.state import StateDescriptor, ValueState


class HeapValueState(ValueState):
    """The value of one descriptor for whatever key is current in the backend."""

    __slots__ = ("_backend", "_table")

    def __init__(self, backend: HeapKeyedStateBackend, table: dict[Any, Any]):
        self._backend = backend
        self._table = table

    def value(self) -> Any:
        return self._table.get(self._backend.current_key)

    def update(self, value: Any) -> None:
        if value is None:
            self._table.pop(self._backend.current_key, None)
        else:
            self._table[self._backend.current_key] = value

    def clear(self) -> None:
        self._table.pop(self._backend.current_key, None)


class HeapKeyedStateBackend:
    """Tables of keyed state for one operator in one subtask."""

    def __init__(self, operator: str):
        self.operator = operator
        self.current_key: Any = None
        self.tables: dict[str, dict[Any, Any]] = {}
        self._kinds: dict[str, str] = {}

    def table(self, name: str, kind: str = "value") -> dict[Any, Any]:
        """The raw table of a named state (created empty on first use)."""
        known = self._kinds.setdefault(name, kind)
        if known != kind:
            raise ValueError(f"state {name!r} of {self.operator} is {known} state, not {kind} state")
        return self.tables.setdefault(name, {})

    def get_state(self, descriptor: StateDescriptor) -> HeapValueState:
        if descriptor.kind != "value":
            raise TypeError(f"get_state of {self.operator} needs a ValueStateDescriptor, got {descriptor!r}")
        return HeapValueState(self, self.table(descriptor.name, "value"))
