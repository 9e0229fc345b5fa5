"""The keyed state of BATCH execution: one key's state at a time, on the heap, dropped when the key ends.

Layer: `sim.state` (no SimPy). In BATCH mode a keyed task sees its input
sorted by key, so it never returns to a key it has finished. Flink uses
that: whatever state backend the job configured, a BATCH job keeps only the
current key's state, and drops it when the next key starts. BATCH takes no
checkpoints, so this backend refuses to snapshot.

Flink counterpart: `BatchExecutionKeyedStateBackend`.
Simplified: Flink drops the state when the current key changes; here the
runtime calls `key_finished()` when a key's input and timers are done.
"""

from __future__ import annotations

from sim.state.heap import HeapKeyedStateBackend
from sim.state.snapshot import KeyedStateSnapshot


class BatchKeyedStateBackend(HeapKeyedStateBackend):
    """Heap state that only ever holds the key being processed (the configured backend is ignored)."""

    def key_finished(self) -> None:
        """The current key's input ended and its timers fired: drop all its state."""
        self._reset()

    def snapshot(self, checkpoint_id: int, *, savepoint: bool = False) -> KeyedStateSnapshot:
        raise RuntimeError(f"{self.operator} runs in BATCH mode, which takes no checkpoints "
                           f"(checkpoint {checkpoint_id} asked for a snapshot)")
