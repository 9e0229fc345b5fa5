"""The cost model: what work costs in virtual time, in one documented place.

Layer: `sim.runtime` (pure data). The runtime counts what it did (records per
operator, bytes in and out); the task thread turns the counts into CPU time
with these prices. Every price is an integer with its unit in its name; CPU
prices are nanoseconds so that sub-microsecond costs add up without drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class CostModel:
    """Prices of work. Override per operator id with `operator_cpu_ns={"map": 5_000}`.

    Attributes:
        record_cpu_ns: CPU per record per operator (the user function and the call around it).
        operator_cpu_ns: per-operator overrides of `record_cpu_ns`, by operator id.
        serialize_ns_per_byte: CPU to serialise output records, per byte.
        deserialize_ns_per_byte: CPU to deserialise input records, per byte.
        record_size_bytes: estimated serialised size of one record.
        operator_record_size_bytes: per-operator overrides of the size of its output records.
        step_overhead_ns: fixed CPU per mailbox step (one buffer or one source batch).
        source_batch_records: records a source reads per step.
        sort_ns_per_record: CPU per record to sort a keyed input by key (BATCH mode only).
        state_access_ns: CPU per keyed-state read or write, by backend ("hashmap", "rocksdb"):
            the heap backend touches objects, RocksDB serialises keys and values every time.
        snapshot_sync_fixed_ns: fixed CPU of a snapshot's synchronous part, by backend
            (RocksDB flushes its memtable and hard-links files).
        snapshot_sync_ns_per_byte: synchronous CPU per byte of state, by backend
            (the heap backend's copy-on-write view).
        snapshot_async_ns_per_byte: asynchronous CPU per byte written, by backend (the heap
            backend serialises every object; RocksDB's files are already bytes).
    """

    record_cpu_ns: int = 1_000
    operator_cpu_ns: Mapping[str, int] = field(default_factory=dict)
    serialize_ns_per_byte: int = 1
    deserialize_ns_per_byte: int = 1
    record_size_bytes: int = 64
    operator_record_size_bytes: Mapping[str, int] = field(default_factory=dict)
    step_overhead_ns: int = 2_000
    source_batch_records: int = 512
    sort_ns_per_record: int = 500
    state_access_ns: Mapping[str, int] = field(default_factory=lambda: {"hashmap": 100, "rocksdb": 2_500})
    snapshot_sync_fixed_ns: Mapping[str, int] = field(
        default_factory=lambda: {"hashmap": 20_000, "rocksdb": 400_000})
    snapshot_sync_ns_per_byte: Mapping[str, int] = field(default_factory=lambda: {"hashmap": 2, "rocksdb": 0})
    snapshot_async_ns_per_byte: Mapping[str, int] = field(default_factory=lambda: {"hashmap": 10, "rocksdb": 1})

    def __post_init__(self) -> None:
        for name in ("record_cpu_ns", "serialize_ns_per_byte", "deserialize_ns_per_byte", "step_overhead_ns",
                     "sort_ns_per_record"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"CostModel.{name} must be a non-negative int, got {value!r}")
        for name in ("record_size_bytes", "source_batch_records"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ValueError(f"CostModel.{name} must be a positive int, got {value!r}")
        for name in ("state_access_ns", "snapshot_sync_fixed_ns", "snapshot_sync_ns_per_byte",
                     "snapshot_async_ns_per_byte"):
            prices = getattr(self, name)
            for backend in ("hashmap", "rocksdb"):
                if type(prices.get(backend)) is not int or prices[backend] < 0:
                    raise ValueError(f"CostModel.{name} needs a non-negative int for backend {backend!r}, "
                                     f"got {prices.get(backend)!r}")
        for op, value in {**self.operator_cpu_ns, **self.operator_record_size_bytes}.items():
            if type(value) is not int or value < 0:
                raise ValueError(f"CostModel override for operator {op!r} must be a non-negative int, got {value!r}")

    def cpu_ns(self, operator_id: str) -> int:
        """CPU per record of `operator_id`."""
        return self.operator_cpu_ns.get(operator_id, self.record_cpu_ns)

    def snapshot_sync_ns(self, backend: str, state_bytes: int) -> int:
        """CPU of the synchronous part of a snapshot of `state_bytes` on `backend`."""
        return self.snapshot_sync_fixed_ns[backend] + state_bytes * self.snapshot_sync_ns_per_byte[backend]

    def record_size(self, operator_id: str) -> int:
        """Serialised size of the records `operator_id` emits."""
        return self.operator_record_size_bytes.get(operator_id, self.record_size_bytes)
