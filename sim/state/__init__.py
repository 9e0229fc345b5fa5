"""Keyed and operator state: backends, snapshots per key group, redistribution, checkpoint files.

Layer: below the runtime, above `sim.api`, `sim.graph` and `sim.kernel`;
never imports SimPy, matplotlib, or the runtime, cluster and scenario layers.

Layout:
    serde           lossless tagged JSON for state values (no pickle)
    snapshot        KeyedStateSnapshot: rows per key group, full or incremental
    backend         KeyedStateBackend (the interface) and create_keyed_backend
    heap            the hashmap backend: objects in dicts, full snapshots
    rocks           the rocksdb backend: serialized rows, incremental snapshots
    operator_state  operator list/union state and its redistribution
    storage         checkpoint directories: format, atomic writes, verified loads
    savepoint       loading a snapshot the user names, with errors that say what was found
"""

from sim.state.backend import KeyedStateBackend, create_keyed_backend
from sim.state.heap import HeapKeyedStateBackend
from sim.state.operator_state import (
    OperatorStateBackend, OperatorStateSnapshot, redistribute_even_split, redistribute_operator_state,
    redistribute_union,
)
from sim.state.savepoint import NotASnapshotError, SnapshotNotFoundError, load_savepoint
from sim.state.snapshot import KeyedStateSnapshot
from sim.state.storage import (
    CheckpointWriter, CorruptCheckpointError, FileHandle, LoadedCheckpoint, latest_valid_checkpoint,
    load_checkpoint, load_checkpoint_chain,
)

__all__ = [
    "CheckpointWriter", "CorruptCheckpointError", "FileHandle", "HeapKeyedStateBackend", "KeyedStateBackend",
    "KeyedStateSnapshot", "LoadedCheckpoint", "NotASnapshotError", "OperatorStateBackend", "OperatorStateSnapshot",
    "SnapshotNotFoundError", "create_keyed_backend", "latest_valid_checkpoint", "load_checkpoint",
    "load_checkpoint_chain", "load_savepoint",
    "redistribute_even_split", "redistribute_operator_state", "redistribute_union",
]
