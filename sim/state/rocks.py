"""The `rocksdb` keyed-state backend: serialized rows in a real embedded RocksDB, incremental snapshots.

Layer: `sim.state` (no SimPy). Every state read and write goes through
`sim.state.serde` and a real `rocksdict.Rdict` (raw mode, bytes keys), which
is this backend's real cost compared with the heap. It must not keep Python
objects of the user's between calls: what is stored is bytes.

Row layout (all integers big-endian)::

    row key   = key group (2 bytes)
              + len(state name) (2 bytes) + state name (UTF-8)
              + len(key) (4 bytes) + serde.dumps(key)
              [+ serde.dumps(map key)]          # map state: one row per entry
    row value = serde.dumps(value)

The key group comes first, so a snapshot reads its key groups with one
prefix seek each, and a rescaled restore keeps whole key groups. The length
prefixes make "state, key" prefixes unambiguous for map iteration. A list
state is one row per key holding the whole encoded list; `add` appends to the
stored JSON text without decoding it (Flink would use a merge operator).

Incremental checkpoints: the backend remembers which rows changed (put or
deleted) since the last *completed* checkpoint. A snapshot then holds only
those rows (tombstones for deleted ones) and names the checkpoints it builds
on; `notify_checkpoint_complete` moves the base. The first snapshot, the first
after a restore (Flink's NO_CLAIM mode), savepoints, and a snapshot whose
chain would exceed `max_chain_length` are full.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from rocksdict import Options, Rdict, WriteOptions

from sim.api.state import State, StateDescriptor
from sim.kernel.hashing import KeyGroupRange
from sim.state.backend import KeyedStateBackend
from sim.state.rocks_states import HANDLES, row_json, row_key, split_row_key
from sim.state.serde import canonical_json, dumps, loads
from sim.state.snapshot import KeyedStateSnapshot, KeyGroupData

_UNSET = object()


class RocksDBKeyedStateBackend(KeyedStateBackend):
    """Keyed state of one operator subtask as serialized rows in an embedded RocksDB.

    The database lives in `<workdir>/<operator>-<random suffix>/db` (a fresh
    temporary directory when `workdir` is None) and is deleted by `dispose()`.
    The write-ahead log is off: a lost backend is rebuilt from a checkpoint.

    Args:
        operator: The subtask label, e.g. "sum[1]".
        max_parallelism: The number of key groups.
        key_group_range: The key groups this subtask owns (None: all).
        workdir: The directory for the database.
        incremental: Snapshot deltas against the last completed checkpoint
            (Flink's default is False).
        max_chain_length: A delta may build on at most this many checkpoints;
            beyond that the snapshot is full.
        hash_code: The Java hashCode of the declared key type, if any.

    Flink counterpart: `RocksDBKeyedStateBackend` (EmbeddedRocksDBStateBackend)
    and `RocksIncrementalSnapshotStrategy`.
    Simplified: one column family for all states; a delta is a set of rows,
    not shared SST files; list state is one row per key; the sync part reads
    the rows instead of taking a native RocksDB checkpoint.
    """

    kind = "rocksdb"

    def __init__(self, operator: str, max_parallelism: int = 128, key_group_range: KeyGroupRange | None = None,
                 workdir: str | Path | None = None, *, incremental: bool = False, max_chain_length: int = 10,
                 hash_code: Callable[[object], int] | None = None):
        super().__init__(operator, max_parallelism, key_group_range, hash_code=hash_code)
        if max_chain_length < 1:
            raise ValueError(f"max_chain_length of {operator} must be at least 1, got {max_chain_length}")
        self.incremental = incremental
        self.max_chain_length = max_chain_length
        self._own_workdir = workdir is None
        self._workdir = Path(tempfile.mkdtemp(prefix="sim-rocksdb-")) if workdir is None else Path(workdir)
        self._workdir.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9._\[\]-]", "_", operator)
        self.path = Path(tempfile.mkdtemp(prefix=f"{safe}-", dir=self._workdir))
        self._options = Options(raw_mode=True)
        self._db: Rdict | None = Rdict(str(self.path / "db"), self._options)
        write_options = WriteOptions()
        write_options.disable_wal = True
        self._db.set_write_options(write_options)
        self._cached_key: Any = _UNSET
        self._cached_group = b""
        self._cached_key_part = b""
        self._forget_checkpoints()

    def _forget_checkpoints(self) -> None:
        self._dirty: dict[bytes, None] = {}
        self._segments: list[tuple[int, dict[bytes, None]]] = []
        self._pending: dict[int, tuple[int, ...]] = {}
        self._base: tuple[int, ...] | None = None

    # -- row access (used by the handles) -----------------------------------------------------------

    def _row_prefix(self, name: str, name_part: bytes) -> bytes:
        key = self.current_key
        if key is not self._cached_key:
            group = self.key_group_checked(key, name)
            data = dumps(key, f"the key of state {name!r} of {self.operator}")
            self._cached_group = group.to_bytes(2, "big")
            self._cached_key_part = len(data).to_bytes(4, "big") + data
            self._cached_key = key
        return self._cached_group + name_part + self._cached_key_part

    def _get(self, row: bytes) -> bytes | None:
        self.accesses += 1
        return self._db.get(row)

    def _put(self, row: bytes, value: bytes) -> None:
        self.accesses += 1
        self._db[row] = value
        self._dirty[row] = None

    def _delete(self, row: bytes) -> None:
        self.accesses += 1
        self._db.delete(row)
        self._dirty[row] = None

    def _scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Rows whose key starts with `prefix`, in byte order (one seek)."""
        it = self._db.iter()
        it.seek(prefix)
        while it.valid():
            row = it.key()
            if not row.startswith(prefix):
                break
            yield row, it.value()
            it.next()

    def _scan_range(self) -> Iterator[tuple[bytes, bytes]]:
        """Every row of this backend's key groups, one prefix seek per key group."""
        for group in self.key_group_range:
            yield from self._scan(group.to_bytes(2, "big"))

    def _create_state(self, descriptor: StateDescriptor) -> State:
        return HANDLES[descriptor.kind](self, descriptor)

    # -- inspection ---------------------------------------------------------------------------------

    def entries(self) -> list[tuple[str, Any, Any]]:
        found: dict[tuple[str, bytes], Any] = {}
        for row, value in self._scan_range():
            _, name, key_bytes, user_key_bytes = split_row_key(row)
            if user_key_bytes:
                found.setdefault((name, key_bytes), {})[loads(user_key_bytes)] = loads(value)
            else:
                found[(name, key_bytes)] = loads(value)
        return [(name, loads(key_bytes), found[(name, key_bytes)]) for name, key_bytes in sorted(found)]

    # -- snapshots ----------------------------------------------------------------------------------

    def snapshot(self, checkpoint_id: int, *, savepoint: bool = False) -> KeyedStateSnapshot:
        """Reads the rows for checkpoint `checkpoint_id` now: a delta when possible, else all rows.

        Args:
            checkpoint_id: The checkpoint (or savepoint) id.
            savepoint: Take a full snapshot that never becomes an incremental base.
        """
        if not savepoint:
            self._segments.append((checkpoint_id, self._dirty))
            self._dirty = {}
        base = None if savepoint or not self.incremental else self._base
        if base is not None and len(base) > self.max_chain_length:
            base = None
        if base is None:
            groups, full_size = self._rows_of(self._scan_range())
            checkpointed, builds_on = full_size, ()
        else:
            changed = sorted(set().union(*(segment for _, segment in self._segments)))
            groups, checkpointed = self._rows_of((row, self._db.get(row)) for row in changed)
            full_size = sum(len(row) + len(value) for row, value in self._scan_range())
            builds_on = base
        if self.incremental and not savepoint:
            self._pending[checkpoint_id] = builds_on
        elif not self.incremental:
            self._segments.clear()
        return KeyedStateSnapshot(
            checkpoint_id=checkpoint_id, operator=self.operator, backend=self.kind,
            key_group_range=self.key_group_range, max_parallelism=self.max_parallelism,
            incremental=bool(builds_on), builds_on=builds_on, key_groups=groups,
            state_kinds=dict(self._kinds), full_size_bytes=full_size, checkpointed_size_bytes=checkpointed,
        )

    @staticmethod
    def _rows_of(rows: Iterable[tuple[bytes, bytes | None]]) -> tuple[dict[int, KeyGroupData], int]:
        """Snapshot rows (tombstones for None values) per key group, and their stored size in bytes."""
        groups: dict[int, KeyGroupData] = {}
        size = 0
        for row, value in rows:
            group, data = row_json(row, value)
            target = groups.setdefault(group, KeyGroupData())
            if value is None:
                target.deleted.append(data)
                size += len(row)
            else:
                target.rows.append(data)
                size += len(row) + len(value)
        return groups, size

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Makes `checkpoint_id` the incremental base (ignored for unknown or older ids)."""
        builds_on = self._pending.get(checkpoint_id)
        if builds_on is None:
            return
        self._base = builds_on + (checkpoint_id,)
        self._segments = [(c, segment) for c, segment in self._segments if c > checkpoint_id]
        self._pending = {c: b for c, b in self._pending.items() if c > checkpoint_id}

    # -- restore and disposal -----------------------------------------------------------------------

    def _reset(self) -> None:
        self._db.delete_range(b"", b"\xff")

    def _apply_key_group(self, group: int, data: KeyGroupData) -> None:
        for row in data.deleted:
            self._db.delete(_row_key_of(group, row, len(row) == 3))
        for row in data.rows:
            self._db[_row_key_of(group, row, len(row) == 4)] = canonical_json(row[-1])

    def _restored(self) -> None:
        self._forget_checkpoints()

    def dispose(self) -> None:
        """Closes and deletes the database (and the temporary workdir it created)."""
        if self._db is None:
            return
        self._db.close()
        self._db = None
        Rdict.destroy(str(self.path / "db"), self._options)
        shutil.rmtree(self.path, ignore_errors=True)
        if self._own_workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)


def _row_key_of(group: int, row: list[Any], is_map: bool) -> bytes:
    """The row key of a canonical snapshot row (or tombstone)."""
    return row_key(group, row[0], canonical_json(row[1]), canonical_json(row[2]) if is_map else b"")

