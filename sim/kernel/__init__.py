"""The lowest layer: virtual time, named random streams, stable hashing, atomic file writes.

Imports nothing from the rest of sim. Everything above it takes time, random
draws and key routing from here, so it must stay free of wall-clock reads,
the global ``random`` generator and Python's salted ``hash()``.
"""

from sim.kernel.clock import (
    US_PER_MS,
    US_PER_S,
    SimTime,
    ms_to_us,
    ns_to_us_carry,
    require_time_us,
    us_to_ms,
)
from sim.kernel.hashing import (
    DEFAULT_LOWER_BOUND_MAX_PARALLELISM,
    UPPER_BOUND_MAX_PARALLELISM,
    KeyGroupCache,
    KeyGroupRange,
    assign_key_to_parallel_operator,
    assign_to_key_group,
    check_max_parallelism,
    compute_operator_index_for_key_group,
    default_max_parallelism,
    java_hash_code,
    key_group_range_for_operator,
    murmur_hash,
)
from sim.kernel.rng import RngStreams
from sim.kernel.stable import stable_digest, stable_repr

__all__ = [
    "DEFAULT_LOWER_BOUND_MAX_PARALLELISM",
    "UPPER_BOUND_MAX_PARALLELISM",
    "US_PER_MS",
    "US_PER_S",
    "KeyGroupCache",
    "KeyGroupRange",
    "RngStreams",
    "SimTime",
    "assign_key_to_parallel_operator",
    "assign_to_key_group",
    "check_max_parallelism",
    "compute_operator_index_for_key_group",
    "default_max_parallelism",
    "java_hash_code",
    "key_group_range_for_operator",
    "ms_to_us",
    "murmur_hash",
    "ns_to_us_carry",
    "require_time_us",
    "stable_digest",
    "stable_repr",
    "us_to_ms",
]
