"""Keyed state: backends that store state per key for the subtask that owns the key.

Layer: below the runtime, above `sim.api` and `sim.kernel`; never imports SimPy.
"""

from sim.state.heap import HeapKeyedStateBackend

__all__ = ["HeapKeyedStateBackend"]
