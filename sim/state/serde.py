"""Lossless, tagged JSON encoding of state values: no pickle, no eval, no code on load.

Layer: `sim.state` (no SimPy). Every state value that leaves the heap (into
the RocksDB backend, a snapshot, or a checkpoint file) goes through here, so
loading a checkpoint can never run code from the file: it only builds plain
Python values and calls the `from_json` of types the program registered
itself.

The encoded form is JSON-able. Plain JSON values stand for themselves, and
every JSON object is a one-entry *tag*:

=====================  =====================================================
Python value           encoded form
=====================  =====================================================
None, bool, str        itself
int (any size)         itself (a JSON integer)
float, finite          itself (`repr` digits, so it round-trips exactly)
float nan / inf / -inf ``{"f": "nan"}``, ``{"f": "inf"}``, ``{"f": "-inf"}``
bytes                  ``{"b": "<base64>"}``
list                   a JSON array of encoded elements
tuple                  ``{"t": [...]}``
dict                   ``{"d": [[k, v], ...]}`` (any keys; insertion order)
set / frozenset        ``{"s": [...]}`` / ``{"z": [...]}``, sorted by the
                       elements' canonical JSON (so independent of
                       PYTHONHASHSEED)
registered user type   ``{"u": ["<name>", <encoded to_json(value)>]}``
=====================  =====================================================

Only the exact types above are encoded (a subclass such as a named tuple or
an IntEnum is not a tuple or an int here): anything else must be registered
with `register_type(cls, name, to_json, from_json)`. The registry is a module
global keyed by name (one name per class, one class per name); a checkpoint
refers to the name, so keep names stable across program versions.

`dumps` writes the canonical bytes: compact, sorted object keys (only tags and
fixed-field records are objects, so no user order is lost), ASCII only (lone
surrogates survive as `\\ud800` escapes). Equal values give equal bytes in
every process.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any, Callable

_USER_TYPES_BY_NAME: dict[str, tuple[type, Callable[[Any], Any], Callable[[Any], Any]]] = {}
_USER_TYPES_BY_CLASS: dict[type, str] = {}


def register_type(cls: type, name: str, to_json: Callable[[Any], Any], from_json: Callable[[Any], Any]) -> None:
    """Makes a user type encodable under a stable name.

    `to_json(value)` must return something `encode` can encode (plain values,
    containers, other registered types); `from_json(data)` receives that
    value decoded and must rebuild the object. Registering the same class
    under the same name again replaces its functions.

    Args:
        cls: The exact class to encode (subclasses need their own entry).
        name: The name written into encoded data.
        to_json: Object to encodable value.
        from_json: Decoded value to object.

    Raises:
        ValueError: If the name is taken by another class, or the class is
            registered under another name.
        TypeError: If `cls` is not a class or a function is not callable.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_type needs a class, got {cls!r}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"register_type needs a non-empty string name for {cls.__qualname__}, got {name!r}")
    if not callable(to_json) or not callable(from_json):
        raise TypeError(f"register_type({cls.__qualname__}, {name!r}) needs callable to_json and from_json")
    known = _USER_TYPES_BY_NAME.get(name)
    if known is not None and known[0] is not cls:
        raise ValueError(f"serde type name {name!r} is taken by {known[0].__qualname__}, "
                         f"cannot register {cls.__qualname__} under it")
    old_name = _USER_TYPES_BY_CLASS.get(cls)
    if old_name is not None and old_name != name:
        raise ValueError(f"{cls.__qualname__} is registered as {old_name!r}, cannot register it again as {name!r}")
    _USER_TYPES_BY_NAME[name] = (cls, to_json, from_json)
    _USER_TYPES_BY_CLASS[cls] = name


def unregister_type(name: str) -> None:
    """Forgets a registered type (tests use this to stay independent)."""
    entry = _USER_TYPES_BY_NAME.pop(name, None)
    if entry is not None:
        _USER_TYPES_BY_CLASS.pop(entry[0], None)


def encode(value: Any, context: str | None = None) -> Any:
    """Returns the tagged JSON-able form of `value` (see the module docstring).

    Args:
        value: The value to encode.
        context: What the value is, for error messages (e.g. "state 'count' of sum[1]").

    Raises:
        TypeError: If the value holds a type that is neither built in nor
            registered; the message names the type, the context and how to register it.
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    encoder = _ENCODERS.get(kind)
    if encoder is not None:
        return encoder(value, context)
    name = _USER_TYPES_BY_CLASS.get(kind)
    if name is not None:
        return {"u": [name, encode(_USER_TYPES_BY_NAME[name][1](value), context)]}
    where = f" in {context}" if context else ""
    raise TypeError(
        f"cannot encode a value of type {kind.__module__}.{kind.__qualname__}{where}: state is stored "
        f"without pickle, so register the type with sim.state.serde.register_type("
        f"{kind.__qualname__}, 'a-stable-name', to_json, from_json)"
    )


def _encode_float(value: float, context: str | None) -> Any:
    if math.isfinite(value):
        return value
    return {"f": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _encode_sorted(values: Any, context: str | None) -> list[Any]:
    encoded = [encode(e, context) for e in values]
    encoded.sort(key=canonical_json)
    return encoded


_ENCODERS: dict[type, Callable[[Any, str | None], Any]] = {
    float: _encode_float,
    bytes: lambda v, c: {"b": base64.b64encode(v).decode("ascii")},
    list: lambda v, c: [encode(e, c) for e in v],
    tuple: lambda v, c: {"t": [encode(e, c) for e in v]},
    dict: lambda v, c: {"d": [[encode(k, c), encode(x, c)] for k, x in v.items()]},
    set: lambda v, c: {"s": _encode_sorted(v, c)},
    frozenset: lambda v, c: {"z": _encode_sorted(v, c)},
}


def decode(data: Any) -> Any:
    """Rebuilds the value that `encode` turned into `data`.

    Raises:
        ValueError: If `data` is not a valid encoding (an unknown tag, a
            malformed payload, or a user type name nobody registered).
    """
    kind = type(data)
    if kind is list:
        return [decode(e) for e in data]
    if kind is dict:
        if len(data) != 1:
            raise ValueError(f"not a serde encoding: an object must have exactly one tag, got keys {sorted(data)}")
        ((tag, payload),) = data.items()
        decoder = _DECODERS.get(tag)
        if decoder is None:
            raise ValueError(f"not a serde encoding: unknown tag {tag!r}")
        try:
            return decoder(payload)
        except (TypeError, KeyError, IndexError, AttributeError, binascii.Error) as exc:
            raise ValueError(f"not a serde encoding: malformed {tag!r} payload {payload!r:.80}: {exc}") from exc
    if data is None or kind in (str, int, bool, float):
        return data
    raise ValueError(f"not a serde encoding: unexpected {kind.__name__} {data!r:.80}")


_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _decode_user(payload: list) -> Any:
    name, inner = payload
    entry = _USER_TYPES_BY_NAME.get(name)
    if entry is None:
        raise ValueError(f"state holds a value of user type {name!r}, which is not registered: call "
                         f"sim.state.serde.register_type(cls, {name!r}, to_json, from_json) before restoring")
    return entry[2](decode(inner))


def _decode_pairs(payload: list) -> dict:
    out = {}
    for k, v in payload:
        out[decode(k)] = decode(v)
    return out


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "f": lambda p: _FLOATS[p],
    "b": lambda p: base64.b64decode(p.encode("ascii"), validate=True),
    "t": lambda p: tuple(decode(e) for e in p),
    "d": _decode_pairs,
    "s": lambda p: {decode(e) for e in p},
    "z": lambda p: frozenset(decode(e) for e in p),
    "u": _decode_user,
}


def canonical_json(data: Any) -> bytes:
    """The canonical bytes of an already JSON-able value: compact, sorted keys, ASCII, no NaN."""
    return json.dumps(data, ensure_ascii=True, separators=(",", ":"), sort_keys=True, allow_nan=False).encode("ascii")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not canonical JSON: {name} is not allowed (non-finite floats are tagged)")


def parse_json(data: bytes | str) -> Any:
    """Parses JSON strictly (NaN/Infinity rejected); the inverse of `canonical_json`.

    Raises:
        ValueError: If `data` is not valid UTF-8 JSON.
    """
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return json.loads(data, parse_constant=_reject_constant)


def dumps(value: Any, context: str | None = None) -> bytes:
    """`encode` then `canonical_json`: the bytes the RocksDB backend stores for a value."""
    return canonical_json(encode(value, context))


def loads(data: bytes) -> Any:
    """The inverse of `dumps`."""
    return decode(parse_json(data))
