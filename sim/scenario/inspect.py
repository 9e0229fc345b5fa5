"""Reading a completed checkpoint back: its keyed state and its source positions.

Layer: `sim.scenario`. For tests, notebooks and checkers that ask "what did
checkpoint 7 capture?". Keyed state is rebuilt with the state layer's own
restore (so incremental chains are applied as a recovery would apply them).
"""

from __future__ import annotations

from typing import Any

from sim.cluster.coordinator import CompletedCheckpoint
from sim.kernel.hashing import KeyGroupRange
from sim.state.heap import HeapKeyedStateBackend
from sim.state.snapshot import KeyedStateSnapshot


def _keyed_snapshots(checkpoint: CompletedCheckpoint, operator_id: str) -> list[KeyedStateSnapshot]:
    out = []
    for _, payload in sorted(checkpoint.payloads.items()):
        data = payload.get("operators", {}).get(operator_id)
        if data is not None and data.get("keyed") is not None:
            out.append(KeyedStateSnapshot.from_json(data["keyed"]))
    return out


def keyed_state(checkpoints: list[CompletedCheckpoint], checkpoint_id: int, operator_id: str) -> dict[Any, dict]:
    """Key -> {state name: value} of `operator_id` as checkpoint `checkpoint_id` captured it.

    `checkpoints` are the run's completed checkpoints (earlier ones supply the
    bases of incremental snapshots). Subtasks that had finished acknowledge with
    no state (Flink does not restore finished operators), so their keys are
    absent; `CompletedCheckpoint.finished_tasks` names them. A checkpoint in
    which every subtask of the operator had finished gives an empty dict.

    Raises:
        KeyError: no completed checkpoint has that id.
    """
    chain = [c for c in checkpoints if c.checkpoint_id <= checkpoint_id]
    if not chain or chain[-1].checkpoint_id != checkpoint_id:
        raise KeyError(f"checkpoint {checkpoint_id} is not among the completed checkpoints "
                       f"{[c.checkpoint_id for c in checkpoints]}")
    snapshots = [s for c in chain for s in _keyed_snapshots(c, operator_id)]
    if not any(s.checkpoint_id == checkpoint_id for s in snapshots):
        return {}
    max_p = snapshots[0].max_parallelism
    backend = HeapKeyedStateBackend(f"{operator_id}[inspect]", max_p, KeyGroupRange(0, max_p - 1))
    backend.restore(snapshots)
    state: dict[Any, dict] = {}
    for name, key, value in backend.entries():
        state.setdefault(key, {})[name] = value
    backend.dispose()
    return state


def source_positions(checkpoint: CompletedCheckpoint, operator_id: str = "source") -> dict[int, Any]:
    """Subtask index -> the source reader's recorded state (e.g. {"position": n}) in this checkpoint."""
    positions = {}
    for _, payload in sorted(checkpoint.payloads.items()):
        data = payload.get("operators", {}).get(operator_id)
        if data is not None and data.get("operator") is not None:
            positions[payload["subtask"]] = data["operator"]["reader"]
    return positions
