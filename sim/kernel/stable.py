"""Representations and digests that do not depend on PYTHONHASHSEED.

Part of ``sim.kernel``, the lowest layer of the simulator; it imports nothing
from the rest of ``sim``. Anything written to a trace must look the same in
every run, so it must not rely on set iteration order or on ``hash()``.
"""

from __future__ import annotations

import hashlib


def stable_repr(value: object) -> str:
    """Returns ``repr(value)`` made independent of PYTHONHASHSEED.

    Sets and frozensets print their elements sorted by their own stable
    representation; dicts keep insertion order (already deterministic) but
    their keys and values are rendered recursively; tuples and lists recurse.
    Every other value uses plain ``repr()``.

    Args:
        value: The value to render.

    Returns:
        A deterministic string representation.
    """
    if isinstance(value, (set, frozenset)):
        return _repr_set(value)
    if isinstance(value, dict):
        items = ", ".join(
            f"{stable_repr(k)}: {stable_repr(v)}" for k, v in value.items()
        )
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ", ".join(stable_repr(e) for e in value) + "]"
    if isinstance(value, tuple):
        return _repr_tuple(value)
    return repr(value)


def _repr_set(value: set | frozenset) -> str:
    """Renders a set or frozenset with sorted element representations."""
    parts = sorted(stable_repr(e) for e in value)
    if isinstance(value, frozenset):
        return "frozenset({" + ", ".join(parts) + "})" if parts else "frozenset()"
    return "{" + ", ".join(parts) + "}" if parts else "set()"


def _repr_tuple(value: tuple) -> str:
    """Renders a tuple (or named tuple), keeping the one-element trailing comma."""
    fields = getattr(value, "_fields", None)
    if type(value) is not tuple and isinstance(fields, tuple):
        # A named tuple: mirror its repr, recursing into the field values.
        parts = ", ".join(
            f"{name}={stable_repr(v)}" for name, v in zip(fields, value)
        )
        return f"{type(value).__name__}({parts})"
    if len(value) == 1:
        return "(" + stable_repr(value[0]) + ",)"
    return "(" + ", ".join(stable_repr(e) for e in value) + ")"


def stable_digest(data: bytes) -> str:
    """Returns the SHA-256 hex digest of ``data``.

    Args:
        data: The bytes to digest.

    Returns:
        64 lower-case hex characters.
    """
    return hashlib.sha256(data).hexdigest()
