"""Tests for sim.kernel.stable: deterministic repr and digests."""

from __future__ import annotations

import hashlib
from collections import namedtuple

from sim.kernel import stable_digest, stable_repr


def test_set_of_strings_is_sorted() -> None:
    assert stable_repr({"z", "x", "y"}) == "{'x', 'y', 'z'}"
    assert stable_repr(frozenset({"b", "a"})) == "frozenset({'a', 'b'})"
    assert stable_repr(set()) == "set()"
    assert stable_repr(frozenset()) == "frozenset()"


def test_nested_structures_recurse() -> None:
    value = {"k": [({"b", "a"},), {"q": frozenset({2, 1})}], 3: (1,)}
    assert stable_repr(value) == (
        "{'k': [({'a', 'b'},), {'q': frozenset({1, 2})}], 3: (1,)}"
    )


def test_plain_values_match_repr() -> None:
    for value in [1, 1.5, "s", None, True, (1, "a"), [1, [2]], {"a": 1}, ()]:
        assert stable_repr(value) == repr(value)


def test_set_of_tuples_sorted_by_stable_repr() -> None:
    assert stable_repr({("b", 1), ("a", 2)}) == "{('a', 2), ('b', 1)}"


def test_named_tuple_recurses_into_fields() -> None:
    point = namedtuple("Point", ["x", "tags"])
    assert stable_repr(point(1, {"b", "a"})) == "Point(x=1, tags={'a', 'b'})"


def test_stable_digest_is_sha256_hex() -> None:
    assert stable_digest(b"abc") == hashlib.sha256(b"abc").hexdigest()
    assert len(stable_digest(b"")) == 64
