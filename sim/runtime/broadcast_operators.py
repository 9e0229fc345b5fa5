"""The broadcast state pattern: a stream of rules broadcast to every subtask, applied to another stream.

Layer: `sim.runtime` (no SimPy). Input 1 is the non-broadcast stream (keyed
or not), input 2 the broadcast stream; every subtask receives every element
of input 2. Each subtask keeps its own copy of the broadcast states named in
`broadcast(descriptor, ...)`, registered empty at `open()`:
`process_broadcast_element` may change them, `process_element` (and
`on_timer`) only read them. Every subtask checkpoints its copy as operator
state, next to the timers of a keyed operator.

The copies stay equal only if the function changes them deterministically
from broadcast elements alone; Flink cannot check that and neither does this.
Broadcast elements from different upstream subtasks may reach two subtasks
in different orders (as in Flink), so equal copies also need order-independent
updates.

Flink counterpart: `CoBroadcastWithNonKeyedOperator`, `CoBroadcastWithKeyedOperator`.
Simplified: no `applyToKeyedState` on the broadcast side (PyFlink has none
either); on a keyed stream the broadcast side runs with no current key, so
touching keyed state there fails instead of reading a stale key's state.
"""

from __future__ import annotations

from typing import Any, Callable

from sim.api.functions import BaseBroadcastProcessFunction, KeyedBroadcastProcessFunction
from sim.api.state import StateDescriptor
from sim.runtime.timed_operators import KeyedProcessOperator, KeyedTimerService
from sim.runtime.two_input_operators import TwoInputOperator
from sim.state.broadcast_state import HeapBroadcastState, ReadOnlyBroadcastStateView
from sim.state.operator_state import OperatorStateBackend, OperatorStateSnapshot, snapshots_in


class BroadcastProcessOperator(TwoInputOperator):
    """Runs a BroadcastProcessFunction; holds this subtask's broadcast states."""

    _restored_copies: tuple[list[OperatorStateSnapshot | None], int, int] | None = None

    def restore_operator_state(self, states: list[dict | None], subtask: int, parallelism: int) -> None:
        """Keep the old copies of the broadcast states (and, keyed, the timers); `open()` takes this subtask's.

        New subtask i reads old copy i, or i modulo the old parallelism when scaling up (flink-facts §7).
        """
        super().restore_operator_state(states, subtask, parallelism)
        self._restored_copies = (snapshots_in(states, "operator_state"), subtask, parallelism)

    def open(self) -> None:
        self.operator_state = OperatorStateBackend(self.label)
        if self._restored_copies is not None:
            self.operator_state.restore(*self._restored_copies)
        self._states: dict[str, tuple[HeapBroadcastState, ReadOnlyBroadcastStateView]] = {}
        for descriptor in self.node.operator.options["descriptors"]:
            state = self.operator_state.get_broadcast_state(descriptor)
            self._states[descriptor.name] = (state, ReadOnlyBroadcastStateView(state))
        super().open()

    def broadcast_state(self, descriptor: StateDescriptor, writable: bool) -> Any:
        """The state named by `descriptor`: writable on the broadcast side, a read-only view elsewhere.

        Raises:
            ValueError: The descriptor was not given to `broadcast(...)`.
        """
        name = getattr(descriptor, "name", descriptor)
        handles = self._states.get(name)
        if handles is None:
            raise ValueError(f"{self.label} has no broadcast state {name!r}: its broadcast states are "
                             f"{sorted(self._states)}; pass the MapStateDescriptor to broadcast(...)")
        return handles[0] if writable else handles[1]

    def _prepare(self) -> None:
        self._count_emitted()
        self._read_only_ctx = BaseBroadcastProcessFunction.ReadOnlyContext(self)
        self._broadcast_ctx = BaseBroadcastProcessFunction.Context(self)

    def _make_process_for(self, input_number: int) -> Callable[[Any], None]:
        if input_number == 1:
            fn, ctx = self.function.process_element, self._read_only_ctx
            return self._path(lambda value: fn(value, ctx), 1, self._emit_all, ctx)
        fn, ctx = self.function.process_broadcast_element, self._broadcast_ctx
        return self._path(lambda value: fn(value, ctx), 2, self._emit_all)

    def snapshot_operator_state(self, checkpoint_id: int) -> dict | None:
        state = super().snapshot_operator_state(checkpoint_id) or {}
        state["operator_state"] = self.operator_state.snapshot(checkpoint_id).to_json()
        return state

    def fast_state_accesses(self) -> int:
        """Broadcast state reads and writes (kept beside the keyed backend, priced like state accesses)."""
        return super().fast_state_accesses() + self.operator_state.accesses


class KeyedBroadcastProcessOperator(BroadcastProcessOperator, KeyedProcessOperator):
    """Runs a KeyedBroadcastProcessFunction: the keyed side has the current key, keyed state and timers."""

    def _prepare(self) -> None:
        self._count_emitted()
        service = KeyedTimerService(self)
        self._read_only_ctx = KeyedBroadcastProcessFunction.ReadOnlyContext(self, service)
        self._timer_ctx = KeyedBroadcastProcessFunction.OnTimerContext(self, service)
        self._broadcast_ctx = KeyedBroadcastProcessFunction.Context(self)

    def _make_process_for(self, input_number: int) -> Callable[[Any], None]:
        if input_number == 1:
            return super()._make_process_for(1)
        fn, ctx, backend = self.function.process_broadcast_element, self._broadcast_ctx, self.backend

        def call(value: Any) -> Any:
            backend.current_key = None
            return fn(value, ctx)

        return self._path(call, 2, self._emit_all)
