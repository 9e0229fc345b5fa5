"""The jobs the restore tests snapshot and restore, and the ways they take their snapshots."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sim import ClusterSpec, Simulation, TraceLevel
from sim.api import NumberSequenceSource, StreamExecutionEnvironment
from sim.graph.execution_graph import ExecutionGraph
from sim.state.storage import LoadedCheckpoint, latest_valid_checkpoint

RECORDS, KEYS = 60_000, 50


def counting(parallelism: int, checkpoint_ms: int | None = 10, records: int = RECORDS,
             max_parallelism: int | None = None) -> StreamExecutionEnvironment:
    """Numbers 0..records-1 counted per key `n % KEYS`: source (uid numbers) -> map -> key_by -> sum (uid counts)."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    if max_parallelism is not None:
        env.set_max_parallelism(max_parallelism)
    if checkpoint_ms is not None:
        env.enable_checkpointing(checkpoint_ms)
    env.from_source(NumberSequenceSource(0, records - 1)).uid("numbers").map(lambda i: (i % KEYS, 1)) \
        .key_by(lambda t: t[0]).sum(1).uid("counts").name("counts").add_sink(lambda v: None).name("sink")
    return env


def checkpoint_files(env: StreamExecutionEnvironment, root: Path, until_ms: int = 30) -> LoadedCheckpoint:
    """Run `env` on two TaskManagers until `until_ms`, writing checkpoints under `root`; the latest one, loaded."""
    cluster = ClusterSpec(task_managers=2, slots_per_task_manager=1, cores_per_task_manager=1)
    result = Simulation(env, cluster=cluster, seed=1, trace_level=TraceLevel.CHECKPOINTS,
                        checkpoint_dir=str(root)).run(until_ms=until_ms)
    assert result.status == "RUNNING", result.failure
    checkpoint, skipped = latest_valid_checkpoint(root)
    assert checkpoint is not None and not skipped
    return checkpoint


def operator_metadata(eg: ExecutionGraph) -> dict[str, Any]:
    """What the coordinator records of the job in a checkpoint's metadata: each state id's (max) parallelism."""
    return {"operators": {n.state_id: {"parallelism": n.parallelism, "max_parallelism": n.max_parallelism}
                          for n in eg.job_graph.stream_graph.nodes}}


def read_before(checkpoint: LoadedCheckpoint, parallelism: int, records: int = RECORDS) -> list[int]:
    """The numbers the old sources had read at the checkpoint (from their recorded positions)."""
    read = []
    for i, state in enumerate(checkpoint.operator_states("numbers")):
        start = i * records // parallelism
        read += range(start, state["reader"]["position"])
    return read


def counts_of(numbers: list[int]) -> Counter:
    return Counter(n % KEYS for n in numbers)
