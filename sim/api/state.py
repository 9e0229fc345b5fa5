"""State descriptors, the state interfaces functions see, and `AggregateFunction` (PyFlink's names).

Layer: `sim.api`. Descriptors are plain data naming a piece of state and how
it combines values; the abstract state classes here are what a user function
holds. `sim.state` implements them per backend. Nothing here stores state,
knows about keys or key groups, or imports SimPy.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

from sim.api.functions import Function, ReduceFunction
from sim.api.typeinfo import TypeInformation


class StateDescriptor:
    """Names a piece of state; two descriptors with the same name share it.

    Attributes:
        name: The state's name, unique within one operator.
        type_info: The declared type (informational, as in PyFlink).
        kind: "value", "list", "map", "reducing" or "aggregating".
    """

    kind = "state"

    def __init__(self, name: str, type_info: TypeInformation | None = None):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a state descriptor needs a non-empty string name, got {name!r}")
        self.name = name
        self.type_info = type_info

    def get_name(self) -> str:
        """The state's name (PyFlink's accessor)."""
        return self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class ValueStateDescriptor(StateDescriptor):
    """One value per key: `ValueStateDescriptor("count", Types.LONG())`."""

    kind = "value"

    def __init__(self, name: str, value_type_info: TypeInformation | None = None):
        super().__init__(name, value_type_info)


class ListStateDescriptor(StateDescriptor):
    """A list of values per key: `ListStateDescriptor("seen", Types.STRING())`."""

    kind = "list"

    def __init__(self, name: str, elem_type_info: TypeInformation | None = None):
        super().__init__(name, elem_type_info)
        self.elem_type_info = elem_type_info


class MapStateDescriptor(StateDescriptor):
    """A map per key: `MapStateDescriptor("last", Types.STRING(), Types.LONG())`."""

    kind = "map"

    def __init__(self, name: str, key_type_info: TypeInformation | None = None,
                 value_type_info: TypeInformation | None = None):
        super().__init__(name, value_type_info)
        self.key_type_info = key_type_info
        self.value_type_info = value_type_info


class ReducingStateDescriptor(StateDescriptor):
    """One value per key, combined with each added value by a reduce function.

    Args:
        name: The state's name.
        reduce_function: A `ReduceFunction` or a plain callable `(a, b) -> c`.
        type_info: The value type (informational).
    """

    kind = "reducing"

    def __init__(self, name: str, reduce_function: ReduceFunction | Callable[[Any, Any], Any],
                 type_info: TypeInformation | None = None):
        super().__init__(name, type_info)
        if isinstance(reduce_function, ReduceFunction):
            self.reduce: Callable[[Any, Any], Any] = reduce_function.reduce
        elif callable(reduce_function):
            self.reduce = reduce_function
        else:
            raise TypeError(f"reducing state {name!r} needs a ReduceFunction or a callable, "
                            f"got {type(reduce_function).__name__}")
        self.reduce_function = reduce_function


class AggregateFunction(Function):
    """Folds values into an accumulator and reads a result from it (PyFlink's AggregateFunction).

    `add` returns the new accumulator (it may update the given one in place
    and return it).
    """

    def create_accumulator(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement create_accumulator()")

    def add(self, value: Any, accumulator: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement add(value, accumulator)")

    def get_result(self, accumulator: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement get_result(accumulator)")

    def merge(self, acc_a: Any, acc_b: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement merge(acc_a, acc_b)")


class AggregatingStateDescriptor(StateDescriptor):
    """One accumulator per key, folded by an `AggregateFunction`; `get()` returns its result."""

    kind = "aggregating"

    def __init__(self, name: str, agg_function: AggregateFunction,
                 state_type_info: TypeInformation | None = None):
        super().__init__(name, state_type_info)
        if not isinstance(agg_function, AggregateFunction):
            raise TypeError(f"aggregating state {name!r} needs an AggregateFunction, "
                            f"got {type(agg_function).__name__}")
        self.agg_function = agg_function


class State:
    """Base of every state handle: `clear()` removes the current key's state."""

    def clear(self) -> None:
        raise NotImplementedError


class ValueState(State):
    """One value per key: `value()`, `update(v)`, `clear()`; `update(None)` clears."""

    def value(self) -> Any:
        raise NotImplementedError

    def update(self, value: Any) -> None:
        raise NotImplementedError


class ListState(State):
    """A list per key: `get()` (empty when unset), `add`, `add_all`, `update(list)`, `clear()`."""

    def get(self) -> Iterable[Any]:
        raise NotImplementedError

    def add(self, value: Any) -> None:
        raise NotImplementedError

    def add_all(self, values: Iterable[Any]) -> None:
        raise NotImplementedError

    def update(self, values: Iterable[Any]) -> None:
        raise NotImplementedError


class _MapReads(State):
    """The reads every map-shaped state offers: `get`, `contains`, `keys/values/items`, `is_empty`, iteration."""

    def get(self, key: Any) -> Any:
        raise NotImplementedError

    def contains(self, key: Any) -> bool:
        raise NotImplementedError

    def keys(self) -> Iterable[Any]:
        raise NotImplementedError

    def values(self) -> Iterable[Any]:
        raise NotImplementedError

    def items(self) -> Iterable[tuple[Any, Any]]:
        raise NotImplementedError

    def is_empty(self) -> bool:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())


class MapState(_MapReads):
    """A map per key: `get/put/put_all/remove/contains`, `keys/values/items`, `is_empty`, iteration over keys."""

    def put(self, key: Any, value: Any) -> None:
        raise NotImplementedError

    def put_all(self, entries: dict[Any, Any]) -> None:
        raise NotImplementedError

    def remove(self, key: Any) -> None:
        raise NotImplementedError


class ReducingState(State):
    """One value per key: `add(v)` combines at once with the reduce function; `get()`."""

    def get(self) -> Any:
        raise NotImplementedError

    def add(self, value: Any) -> None:
        raise NotImplementedError


class AggregatingState(State):
    """One accumulator per key: `add(v)` folds it in; `get()` is the function's result."""

    def get(self) -> Any:
        raise NotImplementedError

    def add(self, value: Any) -> None:
        raise NotImplementedError


class ReadOnlyBroadcastState(_MapReads):
    """A broadcast state as the non-broadcast side sees it: `get`, `contains`, `keys/values/items`, `is_empty`.

    Every subtask holds its own copy, changed only by broadcast elements, so
    reading it on the other side is deterministic per subtask.
    """


class BroadcastState(ReadOnlyBroadcastState, MapState):
    """A broadcast state as the broadcast side sees it: a map, so also `put`, `put_all`, `remove` and `clear`."""
