"""Java-compatible hash codes and Flink's key-group assignment formulas.

Part of ``sim.kernel``, the lowest layer of the simulator; it imports nothing
from the rest of ``sim``. It reproduces, bit for bit, how Flink routes a key:
``murmurHash(key.hashCode()) % maxParallelism`` picks the key group, and the
key group picks the parallel operator instance. Python's ``hash()`` must never
be used here: it is salted per process and differs from Java's ``hashCode()``.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Callable, Iterator

_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF
_INT_MIN = -(1 << 31)
_INT_MAX = (1 << 31) - 1
_LONG_MIN = -(1 << 63)
_LONG_MAX = (1 << 63) - 1
_CANONICAL_NAN_BITS = 0x7FF8000000000000

UPPER_BOUND_MAX_PARALLELISM = 1 << 15
"""Flink's largest allowed max parallelism (number of key groups): 32768."""

DEFAULT_LOWER_BOUND_MAX_PARALLELISM = 1 << 7
"""The smallest default max parallelism Flink picks: 128."""


def _to_int32(value: int) -> int:
    """Interprets the low 32 bits of ``value`` as a signed Java ``int``."""
    value &= _MASK32
    return value - (1 << 32) if value & 0x80000000 else value


def _fold_long(bits: int) -> int:
    """Java's ``(int)(bits ^ (bits >>> 32))`` on a 64-bit pattern."""
    bits &= _MASK64
    return _to_int32(bits ^ (bits >> 32))


def _hash_int(value: int) -> int:
    """Integer.hashCode inside signed 32-bit, else Long.hashCode."""
    if _INT_MIN <= value <= _INT_MAX:
        return value
    if not _LONG_MIN <= value <= _LONG_MAX:
        raise ValueError(
            f"int key must fit in a signed 64-bit Java long, got {value}"
        )
    return _fold_long(value)


def _hash_float(value: float) -> int:
    """Double.hashCode: fold of doubleToLongBits (NaN is canonicalised)."""
    if math.isnan(value):
        bits = _CANONICAL_NAN_BITS
    else:
        bits = int.from_bytes(struct.pack(">d", value), "big")
    return _fold_long(bits)


def _hash_str(value: str) -> int:
    """String.hashCode over UTF-16 code units with 32-bit wrap-around."""
    if value.isascii():
        units: bytes | tuple[int, ...] = value.encode("ascii")
    else:
        # surrogatepass keeps lone surrogates as the single unit Java sees;
        # characters outside the BMP become their two surrogate units.
        encoded = value.encode("utf-16-be", "surrogatepass")
        units = struct.unpack(f">{len(encoded) // 2}H", encoded)
    h = 0
    for unit in units:
        h = (31 * h + unit) & _MASK32
    return _to_int32(h)


def _hash_sequence(values: tuple | list, start: int) -> int:
    """``h = start; h = 31*h + hash(e)`` with ``None`` elements hashing to 0."""
    h = start
    for element in values:
        code = 0 if element is None else java_hash_code(element)
        h = (31 * h + code) & _MASK32
    return _to_int32(h)


def _hash_custom(value: object) -> int:
    """Calls a custom key type's ``java_hash_code()`` method and checks it."""
    method = getattr(value, "java_hash_code", None)
    if not callable(method):
        raise TypeError(
            "key must be a bool, int, float, str, tuple or list (or a custom "
            "type defining java_hash_code()), got "
            f"{type(value).__name__}: {value!r}"
        )
    code = method()
    if type(code) is bool or not isinstance(code, int):
        raise TypeError(
            f"{type(value).__name__}.java_hash_code() must return an int, "
            f"got {type(code).__name__}: {code!r}"
        )
    if not _INT_MIN <= code <= _INT_MAX:
        raise ValueError(
            f"{type(value).__name__}.java_hash_code() must return a signed "
            f"32-bit int, got {code}"
        )
    return code


def java_hash_code(value: object) -> int:
    """Returns the value's Java ``hashCode()`` as a signed 32-bit int.

    Mapping from Python to Java types:

    * ``bool``: ``Boolean.hashCode`` (1231 for True, 1237 for False).
    * ``int``: ``Integer.hashCode`` (the value) if it fits in signed 32 bits,
      otherwise ``Long.hashCode``; beyond signed 64 bits is an error.
    * ``float``: ``Double.hashCode`` (NaN uses the canonical bit pattern).
    * ``str``: ``String.hashCode`` over UTF-16 code units.
    * ``tuple``: Flink ``TupleN.hashCode``: ``h = 0; h = 31*h + hash(f)``.
    * ``list``: ``java.util.List.hashCode``: ``h = 1; h = 31*h + hash(e)``.
      Inside tuples and lists ``None`` hashes to 0, as Java's null does.
    * anything else: its ``java_hash_code()`` method, if it has one.

    Args:
        value: The key to hash.

    Returns:
        The hash code in ``[-2**31, 2**31)``.

    Raises:
        ValueError: If ``value`` is ``None`` (Flink rejects null keys) or an
            int outside the signed 64-bit range.
        TypeError: If the type is not supported.
    """
    if value is None:
        raise ValueError(
            "key must not be None: Flink rejects null keys, so key selectors "
            "must return a value"
        )
    if isinstance(value, bool):
        return 1231 if value else 1237
    if isinstance(value, int):
        return _hash_int(value)
    if isinstance(value, float):
        return _hash_float(value)
    if isinstance(value, str):
        return _hash_str(value)
    if isinstance(value, tuple):
        return _hash_sequence(value, 0)
    if isinstance(value, list):
        return _hash_sequence(value, 1)
    return _hash_custom(value)


def _rotl32(value: int, shift: int) -> int:
    """Rotates a 32-bit unsigned value left by ``shift`` bits."""
    return ((value << shift) | (value >> (32 - shift))) & _MASK32


def murmur_hash(code: int) -> int:
    """Flink's ``MathUtils.murmurHash(int)``: a non-negative scrambled int.

    One Murmur3 32-bit block round over ``code`` (seed 0, length 4) and the
    fmix32 finaliser, then made non-negative the way Flink does it.

    Args:
        code: A hash code; only its low 32 bits are used.

    Returns:
        A value in ``[0, 2**31)``.
    """
    c = code & _MASK32
    c = (c * 0xCC9E2D51) & _MASK32
    c = _rotl32(c, 15)
    c = (c * 0x1B873593) & _MASK32
    c = _rotl32(c, 13)
    c = (c * 5 + 0xE6546B64) & _MASK32
    c ^= 4
    c ^= c >> 16
    c = (c * 0x85EBCA6B) & _MASK32
    c ^= c >> 13
    c = (c * 0xC2B2AE35) & _MASK32
    c ^= c >> 16
    signed = _to_int32(c)
    if signed >= 0:
        return signed
    if signed == _INT_MIN:
        return 0
    return -signed


def assign_to_key_group(key: object, max_parallelism: int) -> int:
    """Returns the key group of ``key``: ``murmur(hashCode) % maxParallelism``.

    Args:
        key: The key (see :func:`java_hash_code` for supported types).
        max_parallelism: The number of key groups.

    Returns:
        A key group in ``[0, max_parallelism)``.
    """
    return murmur_hash(java_hash_code(key)) % max_parallelism


def compute_operator_index_for_key_group(
    max_parallelism: int, parallelism: int, key_group: int
) -> int:
    """Returns the parallel operator instance that owns ``key_group``.

    Args:
        max_parallelism: The number of key groups.
        parallelism: The number of parallel operator instances.
        key_group: A key group in ``[0, max_parallelism)``.

    Returns:
        ``key_group * parallelism // max_parallelism``.
    """
    return key_group * parallelism // max_parallelism


def assign_key_to_parallel_operator(
    key: object, max_parallelism: int, parallelism: int
) -> int:
    """Returns the parallel operator instance that processes ``key``.

    Args:
        key: The key (see :func:`java_hash_code` for supported types).
        max_parallelism: The number of key groups.
        parallelism: The number of parallel operator instances.

    Returns:
        An operator index in ``[0, parallelism)``.
    """
    key_group = assign_to_key_group(key, max_parallelism)
    return compute_operator_index_for_key_group(
        max_parallelism, parallelism, key_group
    )


@dataclass(frozen=True)
class KeyGroupRange:
    """An inclusive range of key groups ``[start, end]``.

    Attributes:
        start: The first key group in the range.
        end: The last key group in the range (inclusive).
    """

    start: int
    end: int

    def __contains__(self, key_group: object) -> bool:
        return isinstance(key_group, int) and self.start <= key_group <= self.end

    def __len__(self) -> int:
        return max(0, self.end - self.start + 1)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start, self.end + 1))

    def __str__(self) -> str:
        return f"KeyGroupRange[{self.start}, {self.end}]"

    @staticmethod
    def key_group_range_for_operator(
        max_parallelism: int, parallelism: int, operator_index: int
    ) -> KeyGroupRange:
        """Same as the module-level :func:`key_group_range_for_operator`."""
        return key_group_range_for_operator(
            max_parallelism, parallelism, operator_index
        )


def key_group_range_for_operator(
    max_parallelism: int, parallelism: int, operator_index: int
) -> KeyGroupRange:
    """Returns the key groups owned by one parallel operator instance.

    This is the inverse of :func:`compute_operator_index_for_key_group`: a
    key group lies in this range exactly when that function maps it here.

    Args:
        max_parallelism: The number of key groups.
        parallelism: The number of parallel operator instances.
        operator_index: The instance, in ``[0, parallelism)``.

    Returns:
        The instance's inclusive key-group range.

    Raises:
        ValueError: If the parallelism settings or the index are invalid.
    """
    check_max_parallelism(
        max_parallelism, parallelism, "key_group_range_for_operator"
    )
    if not 0 <= operator_index < parallelism:
        raise ValueError(
            f"operator_index must be in [0, {parallelism}), got {operator_index}"
        )
    start = (operator_index * max_parallelism + parallelism - 1) // parallelism
    end = ((operator_index + 1) * max_parallelism - 1) // parallelism
    return KeyGroupRange(start, end)


def _round_up_to_power_of_two(value: int) -> int:
    """Returns the smallest power of two >= ``value`` (1 for ``value <= 1``)."""
    if value <= 1:
        return 1
    return 1 << (value - 1).bit_length()


def default_max_parallelism(parallelism: int) -> int:
    """Returns the max parallelism Flink picks when none is configured.

    ``min(max(roundUpToPowerOfTwo(p + p // 2), 128), 32768)``.

    Args:
        parallelism: The operator's parallelism, at least 1.

    Returns:
        The default number of key groups.

    Raises:
        ValueError: If ``parallelism`` is below 1.
    """
    if parallelism < 1:
        raise ValueError(f"parallelism must be at least 1, got {parallelism}")
    rounded = _round_up_to_power_of_two(parallelism + parallelism // 2)
    return min(
        max(rounded, DEFAULT_LOWER_BOUND_MAX_PARALLELISM),
        UPPER_BOUND_MAX_PARALLELISM,
    )


def check_max_parallelism(
    max_parallelism: int, parallelism: int, operator: str
) -> None:
    """Validates an operator's parallelism against its max parallelism.

    Args:
        max_parallelism: The number of key groups, in ``[1, 32768]``.
        parallelism: The number of instances, in ``[1, max_parallelism]``.
        operator: The operator's name, used in error messages.

    Raises:
        ValueError: If either setting is out of range.
    """
    if not 1 <= max_parallelism <= UPPER_BOUND_MAX_PARALLELISM:
        raise ValueError(
            f"max_parallelism of operator {operator!r} must be in "
            f"[1, {UPPER_BOUND_MAX_PARALLELISM}], got {max_parallelism}"
        )
    if parallelism < 1:
        raise ValueError(
            f"parallelism of operator {operator!r} must be at least 1, "
            f"got {parallelism}"
        )
    if parallelism > max_parallelism:
        raise ValueError(
            f"parallelism of operator {operator!r} must not exceed its "
            f"max_parallelism {max_parallelism}, got {parallelism}"
        )


class KeyGroupCache:
    """Memoises key groups for one max parallelism on hot routing paths.

    Only keys whose type is exactly ``str`` or ``int`` are cached. ``bool``
    and ``float`` are excluded because ``1``, ``1.0`` and ``True`` are the
    same dict key in Python yet hash differently in Java; subclasses are
    excluded because they may override equality. Other keys are computed
    every time.

    The cache is cleared once it holds more than ``MAX_ENTRIES`` keys: a
    stream with unbounded distinct keys (ids, timestamps) would otherwise
    grow memory without limit, while the hot keys worth caching come back
    quickly after a clear. Clearing never changes any result.
    """

    MAX_ENTRIES = 1 << 20

    def __init__(self, max_parallelism: int, hash_code: Callable[[object], int] | None = None) -> None:
        """Creates an empty cache.

        Args:
            max_parallelism: The number of key groups, in ``[1, 32768]``.
            hash_code: The Java ``hashCode`` to use (a declared key type's);
                ``java_hash_code`` by default.

        Raises:
            ValueError: If ``max_parallelism`` is out of range.
        """
        check_max_parallelism(max_parallelism, 1, "KeyGroupCache")
        self._max_parallelism = max_parallelism
        self._hash_code = hash_code or java_hash_code
        self._cache: dict[str | int, int] = {}

    @property
    def max_parallelism(self) -> int:
        """The number of key groups this cache assigns into."""
        return self._max_parallelism

    def key_group(self, key: object) -> int:
        """Returns ``assign_to_key_group(key, max_parallelism)``, memoised.

        Args:
            key: The key (see :func:`java_hash_code` for supported types).

        Returns:
            A key group in ``[0, max_parallelism)``.
        """
        kind = type(key)
        if kind is not str and kind is not int:
            return self._compute(key)
        cache = self._cache
        group = cache.get(key)  # type: ignore[arg-type]
        if group is None:
            group = self._compute(key)
            if len(cache) >= self.MAX_ENTRIES:
                cache.clear()
            cache[key] = group  # type: ignore[index]
        return group

    def _compute(self, key: object) -> int:
        if key is None:
            raise ValueError("key must not be None: Flink rejects null keys")
        return murmur_hash(self._hash_code(key)) % self._max_parallelism

    def __len__(self) -> int:
        return len(self._cache)
