"""Tests for sim.kernel.hashing: Java hash codes and Flink key groups."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.kernel import (
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


def _signed32(value: int) -> int:
    value %= 1 << 32
    return value - (1 << 32) if value >= 1 << 31 else value


def _slow_java_string_hash(text: str) -> int:
    """Reference: sum(unit * 31**(n-1-i)) over UTF-16 units, mod 2**32."""
    raw = text.encode("utf-16-le", "surrogatepass")
    units = [raw[i] | (raw[i + 1] << 8) for i in range(0, len(raw), 2)]
    n = len(units)
    return _signed32(sum(u * pow(31, n - 1 - i) for i, u in enumerate(units)))


VECTORS = [
    (0, 0, 593689054, 94),
    (1, 1, 68075478, 86),
    (42, 42, 1134849565, 29),
    ("a", 97, 1455541201, 81),
    ("hello", 99162322, 1715862179, 35),
    ("user-1", -836031825, 1662039673, 121),
]


@pytest.mark.parametrize(("key", "java", "murmur", "group"), VECTORS)
def test_flink_vectors(key: object, java: int, murmur: int, group: int) -> None:
    assert java_hash_code(key) == java
    assert murmur_hash(java) == murmur
    assert assign_to_key_group(key, 128) == group


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", 0),
        ("hello", 99162322),
        ("user-1", -836031825),
        (True, 1231),
        (False, 1237),
        (1.0, 1072693248),
        (0.0, 0),
        (-0.0, -2147483648),
        ("😀", 55357 * 31 + 56832),
        (-1, -1),
        (2**31 - 1, 2**31 - 1),
        (-(2**31), -(2**31)),
    ],
)
def test_java_hash_code_known_values(value: object, expected: int) -> None:
    assert java_hash_code(value) == expected


def test_long_hash_folds_high_and_low_words() -> None:
    assert java_hash_code(2**40) == _signed32(2**40 ^ (2**40 >> 32))
    assert java_hash_code(2**40) == 256
    # Long.hashCode(-2**40): bits 0xFFFFFF0000000000 fold to 0xFFFFFF00.
    assert java_hash_code(-(2**40)) == _signed32(0xFFFFFF00)
    assert java_hash_code(2**63 - 1) == _signed32(0x7FFFFFFF ^ 0xFFFFFFFF)


def test_int_beyond_long_raises() -> None:
    with pytest.raises(ValueError, match=str(2**63)):
        java_hash_code(2**63)


def test_nan_uses_canonical_bits() -> None:
    assert java_hash_code(float("nan")) == _signed32(0x7FF80000)
    assert java_hash_code(-float("nan")) == _signed32(0x7FF80000)


@pytest.mark.parametrize(
    "text",
    ["the quick brown fox", "x" * 200, "héllo wörld", "ab😀cd𝄞", "\ud83d"],
)
def test_string_hash_matches_slow_reference(text: str) -> None:
    assert java_hash_code(text) == _slow_java_string_hash(text)


def test_the_quick_brown_fox_wraps_around() -> None:
    code = java_hash_code("the quick brown fox")
    assert code == _slow_java_string_hash("the quick brown fox")
    assert -(2**31) <= code < 2**31


def test_tuple_uses_flink_tuple_semantics() -> None:
    assert java_hash_code(("a", 1)) == 31 * 97 + 1
    assert java_hash_code(("a", None)) == 31 * 97
    assert java_hash_code(()) == 0


def test_list_uses_java_list_semantics() -> None:
    assert java_hash_code(["a", 1]) == (31 * (31 * 1 + 97)) + 1
    assert java_hash_code([]) == 1
    assert java_hash_code([None]) == 31


def test_nested_sequences_wrap_to_32_bits() -> None:
    code = java_hash_code((("user-1", 2**40), ["hello", 1.0, True]))
    inner_t = _signed32(31 * -836031825 + 256)
    inner_l = _signed32(31 * (31 * (31 + 99162322) + 1072693248) + 1231)
    assert code == _signed32(31 * inner_t + inner_l)


def test_none_key_raises_value_error() -> None:
    with pytest.raises(ValueError, match="must not be None"):
        java_hash_code(None)
    with pytest.raises(ValueError):
        assign_to_key_group(None, 128)


def test_unsupported_type_raises_type_error() -> None:
    with pytest.raises(TypeError, match="java_hash_code"):
        java_hash_code(b"bytes")
    with pytest.raises(TypeError, match="dict"):
        java_hash_code({"a": 1})


class _CustomKey:
    def __init__(self, code: int) -> None:
        self.code = code

    def java_hash_code(self) -> int:
        return self.code


def test_custom_key_type_with_java_hash_code() -> None:
    assert java_hash_code(_CustomKey(42)) == 42
    assert assign_to_key_group(_CustomKey(42), 128) == 29
    assert java_hash_code((_CustomKey(1), 2)) == 33


def test_custom_key_returning_bad_value_is_rejected() -> None:
    with pytest.raises(ValueError, match="32-bit"):
        java_hash_code(_CustomKey(2**31))
    with pytest.raises(TypeError, match="must return an int"):
        java_hash_code(_CustomKey("7"))  # type: ignore[arg-type]


def test_murmur_hash_is_non_negative_and_uses_low_32_bits() -> None:
    for code in (-(2**31), -1, 0, 1, 2**31 - 1, 123456789):
        result = murmur_hash(code)
        assert 0 <= result < 2**31
        assert murmur_hash(code + 2**32) == result


def test_key_group_ranges_for_three_operators() -> None:
    ranges = [key_group_range_for_operator(128, 3, i) for i in range(3)]
    assert ranges == [KeyGroupRange(0, 42), KeyGroupRange(43, 85),
                      KeyGroupRange(86, 127)]
    assert str(ranges[0]) == "KeyGroupRange[0, 42]"
    assert len(ranges[0]) == 43
    assert list(ranges[2])[0] == 86 and list(ranges[2])[-1] == 127
    assert 42 in ranges[0] and 43 not in ranges[0]
    assert KeyGroupRange.key_group_range_for_operator(128, 3, 1) == ranges[1]


@pytest.mark.parametrize(
    ("max_p", "p"),
    [(128, 1), (128, 3), (128, 7), (128, 128), (256, 100), (10, 3),
     (32768, 999), (5, 5), (1, 1)],
)
def test_every_key_group_maps_back_to_owning_range(max_p: int, p: int) -> None:
    ranges = [key_group_range_for_operator(max_p, p, i) for i in range(p)]
    assert sum(len(r) for r in ranges) == max_p
    for group in range(max_p):
        index = compute_operator_index_for_key_group(max_p, p, group)
        assert group in ranges[index]
        assert [i for i, r in enumerate(ranges) if group in r] == [index]


def test_key_group_range_rejects_bad_index() -> None:
    with pytest.raises(ValueError, match="operator_index"):
        key_group_range_for_operator(128, 3, 3)


@pytest.mark.parametrize(
    ("p", "expected"),
    [(1, 128), (85, 128), (86, 256), (170, 256), (171, 256), (172, 512),
     (30000, 32768)],
)
def test_default_max_parallelism(p: int, expected: int) -> None:
    # 171 + 171 // 2 == 256, already a power of two, so 171 -> 256 as in Flink.
    assert default_max_parallelism(p) == expected


def test_default_max_parallelism_rejects_zero() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        default_max_parallelism(0)


@pytest.mark.parametrize(
    ("max_p", "p", "fragment"),
    [(0, 1, "max_parallelism"), (32769, 1, "max_parallelism"),
     (128, 0, "at least 1"), (4, 5, "must not exceed")],
)
def test_check_max_parallelism_names_operator(
    max_p: int, p: int, fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment) as info:
        check_max_parallelism(max_p, p, "window-agg")
    assert "window-agg" in str(info.value)


def test_check_max_parallelism_accepts_valid() -> None:
    check_max_parallelism(128, 128, "op")
    check_max_parallelism(32768, 1, "op")


def test_key_group_cache_matches_direct_and_skips_bool_float() -> None:
    cache = KeyGroupCache(128)
    assert cache.max_parallelism == 128
    assert cache.key_group(1) == assign_to_key_group(1, 128)
    assert cache.key_group(True) == assign_to_key_group(True, 128)
    assert cache.key_group(1.0) == assign_to_key_group(1.0, 128)
    assert cache.key_group(True) != cache.key_group(1)
    assert cache.key_group("user-1") == 121
    assert cache.key_group(("a", 1)) == assign_to_key_group(("a", 1), 128)
    assert len(cache) == 2


def test_key_group_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(KeyGroupCache, "MAX_ENTRIES", 4)
    cache = KeyGroupCache(128)
    for key in range(10):
        assert cache.key_group(key) == assign_to_key_group(key, 128)
        assert len(cache) <= 4


@given(
    key=st.one_of(st.integers(-(2**31), 2**31 - 1), st.text()),
    max_p=st.integers(1, 32768),
    data=st.data(),
)
def test_routing_properties(key: object, max_p: int, data: st.DataObject) -> None:
    p = data.draw(st.integers(1, max_p))
    group = assign_to_key_group(key, max_p)
    assert 0 <= group < max_p
    index = assign_key_to_parallel_operator(key, max_p, p)
    assert 0 <= index < p
    assert group in key_group_range_for_operator(max_p, p, index)
    assert KeyGroupCache(max_p).key_group(key) == group


@given(st.text())
def test_string_hash_property_matches_reference(text: str) -> None:
    assert java_hash_code(text) == _slow_java_string_hash(text)


@given(st.integers(-(2**63), 2**63 - 1))
def test_int_hash_is_signed_32(value: int) -> None:
    assert -(2**31) <= java_hash_code(value) < 2**31
