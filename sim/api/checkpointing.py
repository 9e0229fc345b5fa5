"""Checkpointing and state-backend settings with PyFlink's names.

Layer: `sim.api` (plain data; no SimPy). `env.enable_checkpointing(interval_ms,
mode)` turns periodic checkpoints on; `env.get_checkpoint_config()` refines
them; `env.set_state_backend(...)` picks where keyed state lives. The
JobManager's checkpoint coordinator in the simulated world reads these.

Flink counterpart: `CheckpointConfig`, `CheckpointingMode`,
`HashMapStateBackend`, `EmbeddedRocksDBStateBackend` (pyflink.datastream).
Defaults are Flink's: EXACTLY_ONCE, timeout 10 min, min pause 0, one
concurrent checkpoint, no tolerated failures, aligned, no aligned timeout.
"""

from __future__ import annotations

from enum import Enum
from datetime import timedelta
from typing import Any


class CheckpointingMode(Enum):
    """EXACTLY_ONCE aligns barriers (or persists in-flight data); AT_LEAST_ONCE only counts them."""

    EXACTLY_ONCE = "EXACTLY_ONCE"
    AT_LEAST_ONCE = "AT_LEAST_ONCE"


def duration_ms(value: Any, what: str) -> int:
    """Milliseconds from an int, a `timedelta`, or a `Duration`-like object with `to_milliseconds()`."""
    if isinstance(value, timedelta):
        value = int(value.total_seconds() * 1000)
    elif hasattr(value, "to_milliseconds"):
        value = value.to_milliseconds()
    if type(value) is not int or value < 0:
        raise ValueError(f"{what} must be a non-negative int of milliseconds (or a Duration), got {value!r}")
    return value


class CheckpointConfig:
    """How and how often checkpoints are taken."""

    def __init__(self) -> None:
        self.interval_ms = -1
        self.mode = CheckpointingMode.EXACTLY_ONCE
        self.timeout_ms = 10 * 60 * 1000
        self.min_pause_ms = 0
        self.max_concurrent = 1
        self.tolerable_failures = 0
        self.unaligned = False
        self.aligned_timeout_ms = 0
        self.storage_dir: str | None = None

    def is_checkpointing_enabled(self) -> bool:
        return self.interval_ms > 0

    def set_checkpoint_interval(self, checkpoint_interval: int) -> CheckpointConfig:
        if type(checkpoint_interval) is not int or checkpoint_interval < 1:
            raise ValueError(f"checkpoint interval must be a positive int of milliseconds, got {checkpoint_interval!r}")
        self.interval_ms = checkpoint_interval
        return self

    def get_checkpoint_interval(self) -> int:
        return self.interval_ms

    def set_checkpointing_mode(self, checkpointing_mode: CheckpointingMode) -> CheckpointConfig:
        if not isinstance(checkpointing_mode, CheckpointingMode):
            raise TypeError(f"checkpointing mode must be a CheckpointingMode, got {checkpointing_mode!r}")
        self.mode = checkpointing_mode
        return self

    def get_checkpointing_mode(self) -> CheckpointingMode:
        return self.mode

    def set_checkpoint_timeout(self, checkpoint_timeout: int) -> CheckpointConfig:
        self.timeout_ms = duration_ms(checkpoint_timeout, "checkpoint timeout")
        return self

    def get_checkpoint_timeout(self) -> int:
        return self.timeout_ms

    def set_min_pause_between_checkpoints(self, min_pause_between_checkpoints: int) -> CheckpointConfig:
        self.min_pause_ms = duration_ms(min_pause_between_checkpoints, "min pause between checkpoints")
        return self

    def get_min_pause_between_checkpoints(self) -> int:
        return self.min_pause_ms

    def set_max_concurrent_checkpoints(self, max_concurrent_checkpoints: int) -> CheckpointConfig:
        if type(max_concurrent_checkpoints) is not int or max_concurrent_checkpoints < 1:
            raise ValueError(f"max concurrent checkpoints must be a positive int, got {max_concurrent_checkpoints!r}")
        self.max_concurrent = max_concurrent_checkpoints
        return self

    def get_max_concurrent_checkpoints(self) -> int:
        return self.max_concurrent

    def set_tolerable_checkpoint_failure_number(self, tolerable_checkpoint_failure_number: int) -> CheckpointConfig:
        if type(tolerable_checkpoint_failure_number) is not int or tolerable_checkpoint_failure_number < 0:
            raise ValueError(f"tolerable checkpoint failures must be an int >= 0, "
                             f"got {tolerable_checkpoint_failure_number!r}")
        self.tolerable_failures = tolerable_checkpoint_failure_number
        return self

    def get_tolerable_checkpoint_failure_number(self) -> int:
        return self.tolerable_failures

    def enable_unaligned_checkpoints(self, enabled: bool = True) -> CheckpointConfig:
        self.unaligned = bool(enabled)
        return self

    def disable_unaligned_checkpoints(self) -> CheckpointConfig:
        self.unaligned = False
        return self

    def is_unaligned_checkpoints_enabled(self) -> bool:
        return self.unaligned

    def set_aligned_checkpoint_timeout(self, alignment_timeout: Any) -> CheckpointConfig:
        """With unaligned checkpoints on: start aligned, switch to unaligned this long after the trigger."""
        self.aligned_timeout_ms = duration_ms(alignment_timeout, "aligned checkpoint timeout")
        return self

    set_alignment_timeout = set_aligned_checkpoint_timeout

    def get_aligned_checkpoint_timeout(self) -> int:
        return self.aligned_timeout_ms

    get_alignment_timeout = get_aligned_checkpoint_timeout

    def set_checkpoint_storage_dir(self, checkpoint_path: str) -> CheckpointConfig:
        """Write completed checkpoints as files under this directory."""
        self.storage_dir = str(checkpoint_path)
        return self

    def get_checkpoint_storage_dir(self) -> str | None:
        return self.storage_dir

    def validate(self) -> None:
        """Flink's rules: unaligned needs EXACTLY_ONCE and one concurrent checkpoint."""
        if self.unaligned and self.mode is not CheckpointingMode.EXACTLY_ONCE:
            raise ValueError("unaligned checkpoints need CheckpointingMode.EXACTLY_ONCE")
        if self.unaligned and self.max_concurrent != 1:
            raise ValueError(f"unaligned checkpoints need max concurrent checkpoints = 1, got {self.max_concurrent}")


class StateBackend:
    """Where keyed state lives; `kind` is "hashmap" or "rocksdb"."""

    kind = "hashmap"
    incremental = False


class HashMapStateBackend(StateBackend):
    """Keyed state as objects on the heap; every checkpoint is a full snapshot (Flink's default)."""

    kind = "hashmap"


class EmbeddedRocksDBStateBackend(StateBackend):
    """Keyed state serialised in an embedded RocksDB on local disk; incremental checkpoints optional."""

    kind = "rocksdb"

    def __init__(self, enable_incremental_checkpointing: bool = False):
        self.incremental = bool(enable_incremental_checkpointing)

    def is_incremental_checkpointing_enabled(self) -> bool:
        return self.incremental
