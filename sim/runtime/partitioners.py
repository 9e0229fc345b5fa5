"""Channel selection for every Flink partitioner, exactly as Flink routes records.

Layer: `sim.runtime` (no SimPy). `make_selector` returns a function
`value -> channel index` over the producer's `n` channels of one edge (for
rescale, only its pointwise group), or None for broadcast (every channel).

Flink counterpart: ForwardPartitioner, RebalancePartitioner,
RescalePartitioner, ShufflePartitioner, BroadcastPartitioner,
GlobalPartitioner, KeyGroupStreamPartitioner, CustomPartitionerWrapper.
Simplified: where Flink draws from `java.util.Random` (rebalance's start,
shuffle) the draws come from a named, seeded stream
`partitioner.<kind>.<producer subtask>.<edge index>` instead.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from sim.api.transformations import PartitionerKind, PartitionerSpec
from sim.kernel.hashing import KeyGroupCache

Selector = Callable[[Any], int]


class KeySelectionError(ValueError):
    """A key selector failed or returned an unusable key while routing a record."""


def rebalance_selector(n: int, rng: random.Random) -> Selector:
    """Round robin from a random start: the first record goes to `(start + 1) % n`."""
    state = [rng.randrange(n)]

    def select(value: Any) -> int:
        nxt = state[0] + 1
        if nxt >= n:
            nxt = 0
        state[0] = nxt
        return nxt

    return select


def rescale_selector(n: int) -> Selector:
    """Round robin over the pointwise group, starting at local channel 0."""
    state = [-1]

    def select(value: Any) -> int:
        nxt = state[0] + 1
        if nxt >= n:
            nxt = 0
        state[0] = nxt
        return nxt

    return select


class KeyChannels:
    """Key -> channel for a keyBy exchange: `murmur(hashCode(key)) % maxP`, then `keyGroup * n // maxP`.

    `cache` memoises the channel of each `str` or exact `int` key (see
    `KeyGroupCache` for why only those types), so a repeated key costs one dict
    lookup; `compute` handles every other key and rejects None.
    """

    def __init__(self, n: int, max_parallelism: int, spec: PartitionerSpec):
        self.key_of = spec.key_selector
        hash_code = spec.key_type.java_hash if spec.key_type is not None else None
        self._key_group = KeyGroupCache(max_parallelism, hash_code).key_group
        self._n = n
        self._max_parallelism = max_parallelism
        self.cache: dict[Any, int] = {}

    def compute(self, key: Any, value: Any) -> int:
        if key is None:
            raise KeySelectionError(f"the key selector returned None for {value!r}; keys must not be None")
        channel = self._key_group(key) * self._n // self._max_parallelism
        if type(key) is str or type(key) is int:
            if len(self.cache) >= KeyGroupCache.MAX_ENTRIES:
                self.cache.clear()
            self.cache[key] = channel
        return channel

    def select(self, value: Any) -> int:
        key = self.key_of(value)
        channel = self.cache.get(key) if type(key) is str or type(key) is int else None
        return self.compute(key, value) if channel is None else channel


def custom_selector(n: int, spec: PartitionerSpec) -> Selector:
    key_of, partition = spec.key_selector, spec.partitioner

    def select(value: Any) -> int:
        channel = partition(key_of(value), n)
        if type(channel) is not int or not 0 <= channel < n:
            raise KeySelectionError(f"the custom partitioner returned {channel!r}; expected an int in 0..{n - 1}")
        return channel

    return select


def make_selector(spec: PartitionerSpec, n: int, max_parallelism: int, rng: random.Random) -> Selector | None:
    """The channel selector for one producer subtask on one edge (None: broadcast)."""
    kind = spec.kind
    if kind is PartitionerKind.BROADCAST:
        return None
    if kind in (PartitionerKind.FORWARD, PartitionerKind.GLOBAL):
        return lambda value: 0
    if n == 1 and kind in (PartitionerKind.REBALANCE, PartitionerKind.RESCALE, PartitionerKind.SHUFFLE):
        return lambda value: 0
    if kind is PartitionerKind.REBALANCE:
        return rebalance_selector(n, rng)
    if kind is PartitionerKind.RESCALE:
        return rescale_selector(n)
    if kind is PartitionerKind.SHUFFLE:
        return lambda value, _r=rng.randrange, _n=n: _r(_n)
    if kind is PartitionerKind.HASH:
        return KeyChannels(n, max_parallelism, spec).select
    return custom_selector(n, spec)
