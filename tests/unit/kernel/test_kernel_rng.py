"""Tests for sim.kernel.rng and hash-seed independence of the kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sim.kernel import RngStreams


def _draws(streams: RngStreams, name: str, count: int = 5) -> list[float]:
    rng = streams.stream(name)
    return [rng.random() for _ in range(count)]


def test_same_seed_and_name_give_same_sequence() -> None:
    assert _draws(RngStreams(7), "net") == _draws(RngStreams(7), "net")


def test_different_names_and_seeds_differ() -> None:
    assert _draws(RngStreams(7), "net") != _draws(RngStreams(7), "source")
    assert _draws(RngStreams(7), "net") != _draws(RngStreams(8), "net")


def test_stream_is_cached_and_draws_continue() -> None:
    streams = RngStreams(3)
    first = streams.stream("a")
    assert streams.stream("a") is first
    continued = _draws(streams, "a", 2) + _draws(streams, "a", 2)
    assert continued == _draws(RngStreams(3), "a", 4)


def test_creating_other_stream_first_does_not_change_draws() -> None:
    plain = RngStreams(11)
    expected = _draws(plain, "a")
    other_first = RngStreams(11)
    _draws(other_first, "b", 100)
    assert _draws(other_first, "a") == expected


def test_seed_property_and_matches_documented_derivation() -> None:
    import hashlib
    import random

    streams = RngStreams(5)
    assert streams.seed == 5
    digest = hashlib.sha256(b"5:x").digest()
    reference = random.Random(int.from_bytes(digest[:8], "big"))
    assert streams.stream("x").random() == reference.random()


def test_bad_seed_and_name_rejected() -> None:
    with pytest.raises(TypeError, match="seed must be an int"):
        RngStreams("1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="stream name must be a str"):
        RngStreams(1).stream(3)  # type: ignore[arg-type]


_CHILD = """
import json
from sim.kernel import RngStreams, assign_to_key_group, stable_repr
s = RngStreams(42)
print(json.dumps({
    "a": [s.stream("a").random() for _ in range(3)],
    "b": [s.stream("b").randint(0, 10**9) for _ in range(3)],
    "repr": stable_repr({"x", "y", "z"}),
    "nested": stable_repr({"k": frozenset({"q", "p"}), "t": ({3, 1, 2},)}),
    "kg": assign_to_key_group("user-1", 128),
}))
"""


def _run_child(hash_seed: str) -> dict:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    )
    return json.loads(done.stdout)


def test_outputs_independent_of_python_hash_seed() -> None:
    first, second = _run_child("1"), _run_child("2")
    assert first == second
    assert first["repr"] == "{'x', 'y', 'z'}"
    assert first["kg"] == 121
