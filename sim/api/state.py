"""Keyed state descriptors and the state interfaces functions see (PyFlink's names).

Layer: `sim.api`. Descriptors are plain data; `sim.state` implements the states.
"""

from __future__ import annotations

from typing import Any

from sim.api.typeinfo import TypeInformation


class StateDescriptor:
    """Names a piece of keyed state; two descriptors with the same name share it."""

    kind = "state"

    def __init__(self, name: str, type_info: TypeInformation | None = None):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a state descriptor needs a non-empty string name, got {name!r}")
        self.name = name
        self.type_info = type_info

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class ValueStateDescriptor(StateDescriptor):
    """One value per key: `ValueStateDescriptor("count", Types.LONG())`."""

    kind = "value"

    def __init__(self, name: str, value_type_info: TypeInformation | None = None):
        super().__init__(name, value_type_info)


class ValueState:
    """One value per key: `value()`, `update(v)`, `clear()`."""

    def value(self) -> Any:
        raise NotImplementedError

    def update(self, value: Any) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError
