"""serde: lossless tagged JSON for state values, stable bytes, user types only when registered."""

import json
import math
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.state import serde
from tests.conftest import ROOT

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(), st.binary(max_size=20),
)
hashables = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5),
              st.binary(max_size=5)),
    lambda inner: st.one_of(st.tuples(inner, inner), st.frozensets(inner, max_size=3)),
    max_leaves=6,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(hashables, inner, max_size=4),
        st.sets(hashables, max_size=4),
        st.frozensets(hashables, max_size=4),
    ),
    max_leaves=20,
)


def same(a, b):
    """Equal including exact types, float sign and NaN, dict order; sets compared by canonical element bytes."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(same(ka, kb) and same(a[ka], b[kb]) for ka, kb in zip(a, b))
    if isinstance(a, (set, frozenset)):
        return sorted(map(serde.dumps, a)) == sorted(map(serde.dumps, b))
    return a == b


@given(values)
def test_encode_decode_is_lossless(value):
    """For every nested value, decode(encode(v)) is v, with the same types, and the encoding is plain JSON."""
    encoded = serde.encode(value)
    assert same(serde.decode(json.loads(json.dumps(encoded))), value)


@given(values)
def test_dumps_is_canonical_ascii_json(value):
    """dumps gives ASCII JSON without NaN, and loads(dumps(v)) re-dumps to the same bytes."""
    data = serde.dumps(value)
    data.decode("ascii")
    json.loads(data, parse_constant=lambda name: pytest.fail(f"{name} in {data!r}"))
    back = serde.loads(data)
    assert same(back, value) and serde.dumps(back) == data


def test_types_are_kept_apart():
    value = {1: (1, [1.0, True]), "1": b"1", (1,): frozenset({2, 1}), 2.5: {3, 4}, None: -0.0}
    back = serde.loads(serde.dumps(value))
    assert same(back, value)
    assert list(back) == [1, "1", (1,), 2.5, None]
    assert serde.encode((1, [2])) == {"t": [1, [2]]}
    assert serde.encode({"a": 1}) == {"d": [["a", 1]]}
    assert serde.encode(float("-inf")) == {"f": "-inf"}
    assert serde.encode(10**30) == 10**30


def test_set_order_does_not_depend_on_the_hash_seed():
    """Sets of strings iterate differently per PYTHONHASHSEED; their bytes do not."""
    code = "from sim.state import serde; print(serde.dumps({'alpha','beta','gamma','delta',('x',1)}).decode())"
    outputs = {
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={"PYTHONHASHSEED": seed}, check=True,
                       capture_output=True, text=True).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_an_unregistered_type_is_refused_with_how_to_register():
    class Sensor:
        pass

    with pytest.raises(TypeError) as failure:
        serde.encode([1, {"k": Sensor()}], "state 'readings' of map[2]")
    message = str(failure.value)
    assert "Sensor" in message and "state 'readings' of map[2]" in message and "register_type" in message


def test_subclasses_are_not_their_base_types():
    from collections import namedtuple

    Pair = namedtuple("Pair", "a b")
    with pytest.raises(TypeError, match="Pair"):
        serde.encode(Pair(1, 2))


class Money:
    def __init__(self, cents, currency):
        self.cents, self.currency = cents, currency


def test_registered_types_round_trip_and_names_are_unique():
    serde.register_type(Money, "test.Money", lambda m: (m.cents, m.currency), lambda t: Money(*t))
    try:
        back = serde.loads(serde.dumps({"price": Money(250, "EUR")}))
        assert (back["price"].cents, back["price"].currency) == (250, "EUR")
        assert serde.encode(Money(1, "X")) == {"u": ["test.Money", {"t": [1, "X"]}]}
        with pytest.raises(ValueError, match="taken by Money"):
            serde.register_type(dict, "test.Money", str, str)
        with pytest.raises(ValueError, match="registered as 'test.Money'"):
            serde.register_type(Money, "other", str, str)
    finally:
        serde.unregister_type("test.Money")
    with pytest.raises(ValueError, match="user type 'test.Money', which is not registered"):
        serde.decode({"u": ["test.Money", {"t": [1, "X"]}]})


@pytest.mark.parametrize("data, problem", [
    ({"q": 1}, "unknown tag 'q'"),
    ({"t": [1], "d": []}, "exactly one tag"),
    ({"f": "zero"}, "malformed 'f' payload"),
    ({"b": "%%%"}, "malformed 'b' payload"),
])
def test_decode_refuses_what_encode_never_writes(data, problem):
    with pytest.raises(ValueError, match=problem):
        serde.decode(data)


def test_loads_refuses_non_finite_json_constants():
    with pytest.raises(ValueError, match="NaN is not allowed"):
        serde.loads(b"[NaN]")
