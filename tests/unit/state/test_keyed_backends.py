"""One test suite for both keyed state backends (hashmap and rocksdb): same API, same semantics."""

import json

import pytest

from sim.api.functions import ReduceFunction
from sim.api.state import (
    AggregateFunction, AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor,
    ValueStateDescriptor,
)
from sim.kernel.hashing import assign_key_to_parallel_operator, assign_to_key_group, key_group_range_for_operator
from sim.state import serde
from sim.state.backend import create_keyed_backend
from sim.state.heap import HeapKeyedStateBackend
from sim.state.snapshot import KeyedStateSnapshot

MAX_P = 128


class Sum(ReduceFunction):
    def reduce(self, value1, value2):
        return value1 + value2


class Average(AggregateFunction):
    def create_accumulator(self):
        return (0, 0)

    def add(self, value, accumulator):
        return (accumulator[0] + value, accumulator[1] + 1)

    def get_result(self, accumulator):
        return accumulator[0] / accumulator[1]

    def merge(self, acc_a, acc_b):
        return (acc_a[0] + acc_b[0], acc_a[1] + acc_b[1])


COUNT = ValueStateDescriptor("count")
SEEN = ListStateDescriptor("seen")
LAST = MapStateDescriptor("last")
TOTAL = ReducingStateDescriptor("total", Sum())
AVG = AggregatingStateDescriptor("avg", Average())


@pytest.fixture(params=["hashmap", "rocksdb"])
def make_backend(request, tmp_path):
    """Builds backends of the parametrised kind: make(subtask, parallelism, kind=..., **options)."""
    created = []

    def make(subtask=0, parallelism=1, kind=None, **options):
        key_groups = key_group_range_for_operator(MAX_P, parallelism, subtask)
        backend = create_keyed_backend(kind or request.param, f"sum[{subtask}]", subtask, MAX_P, key_groups,
                                       workdir=str(tmp_path / "rocks"), **options)
        created.append(backend)
        return backend

    make.kind = request.param
    yield make
    for backend in created:
        backend.dispose()


def keys_of_subtask(subtask, parallelism, count):
    """The first `count` int keys that Flink routes to `subtask`."""
    keys = (k for k in range(100_000) if assign_key_to_parallel_operator(k, MAX_P, parallelism) == subtask)
    return [next(keys) for _ in range(count)]


def fill(backend, keys):
    """Puts something in every state kind for every key."""
    count, seen, last = backend.get_state(COUNT), backend.get_list_state(SEEN), backend.get_map_state(LAST)
    total, avg = backend.get_reducing_state(TOTAL), backend.get_aggregating_state(AVG)
    for key in keys:
        backend.current_key = key
        count.update([key, 10])
        seen.add_all([key, (key, "x")])
        last.put_all({"a": key, ("t", 1): [key]})
        total.add(1)
        total.add(2)
        avg.add(1)
        avg.add(4)


def round_trip(snapshot):
    """The snapshot as it comes back from a file."""
    return KeyedStateSnapshot.from_json(json.loads(json.dumps(snapshot.to_json())))


def test_value_state_is_scoped_to_the_current_key(make_backend):
    backend = make_backend()
    state = backend.get_state(COUNT)
    backend.current_key = "a"
    assert state.value() is None
    state.update(1)
    backend.current_key = "b"
    assert state.value() is None
    state.update(2)
    backend.current_key = "a"
    assert state.value() == 1
    state.clear()
    assert state.value() is None
    backend.current_key = "b"
    assert state.value() == 2
    state.update(None)
    assert state.value() is None and backend.entries() == []


def test_list_state(make_backend):
    backend = make_backend()
    state = backend.get_list_state(SEEN)
    backend.current_key = "k"
    assert list(state.get()) == []
    state.add(1)
    state.add_all([2, (3, 4)])
    state.add_all([])
    assert list(state.get()) == [1, 2, (3, 4)]
    got = state.get()
    got.append("not stored")
    assert list(state.get()) == [1, 2, (3, 4)]
    backend.current_key = "other"
    assert list(state.get()) == []
    backend.current_key = "k"
    state.update(["x"])
    assert list(state.get()) == ["x"]
    state.update([])
    assert list(state.get()) == [] and backend.entries() == []
    state.add("y")
    state.clear()
    assert list(state.get()) == []
    with pytest.raises(ValueError, match="None"):
        state.add(None)


def test_map_state(make_backend):
    backend = make_backend()
    state = backend.get_map_state(LAST)
    backend.current_key = 7
    assert state.is_empty() and state.get("a") is None and not state.contains("a")
    state.put("a", 1)
    state.put_all({("t", 2): [1, 2], "none": None})
    assert state.get("a") == 1 and state.get(("t", 2)) == [1, 2]
    assert state.contains("none") and state.get("none") is None
    assert sorted(map(repr, state.keys())) == sorted(map(repr, ["a", ("t", 2), "none"]))
    assert sorted(map(repr, list(state))) == sorted(map(repr, state.keys()))
    assert dict(state.items()) == {"a": 1, ("t", 2): [1, 2], "none": None}
    assert sorted(map(repr, state.values())) == sorted(map(repr, [1, [1, 2], None]))
    backend.current_key = 8
    assert state.is_empty() and list(state.items()) == []
    backend.current_key = 7
    state.remove("a")
    state.remove("missing")
    assert not state.contains("a") and not state.is_empty()
    state.clear()
    assert state.is_empty() and backend.entries() == []


def test_reducing_state_combines_at_once(make_backend):
    backend = make_backend()
    with_class = backend.get_reducing_state(TOTAL)
    with_callable = backend.get_reducing_state(ReducingStateDescriptor("longest", lambda a, b: max(a, b, key=len)))
    backend.current_key = "k"
    assert with_class.get() is None
    for v in (1, 2, 3):
        with_class.add(v)
    for word in ("ab", "abcd", "abc"):
        with_callable.add(word)
    assert with_class.get() == 6 and with_callable.get() == "abcd"
    backend.current_key = "other"
    assert with_class.get() is None
    backend.current_key = "k"
    with_class.clear()
    assert with_class.get() is None


def test_aggregating_state_folds_into_an_accumulator(make_backend):
    backend = make_backend()
    state = backend.get_aggregating_state(AVG)
    backend.current_key = "k"
    assert state.get() is None
    state.add(1)
    state.add(4)
    assert state.get() == 2.5
    assert backend.entries() == [("avg", "k", (5, 2))]
    state.clear()
    assert state.get() is None


def test_same_name_shares_data_and_another_kind_fails(make_backend):
    backend = make_backend()
    first, second = backend.get_state(COUNT), backend.get_state(ValueStateDescriptor("count"))
    backend.current_key = "k"
    first.update(5)
    assert second.value() == 5
    with pytest.raises(ValueError, match=r"state 'count' of sum\[0\] is value state, not list state"):
        backend.get_list_state(ListStateDescriptor("count"))
    with pytest.raises(TypeError, match="needs a map state descriptor"):
        backend.get_map_state(COUNT)


def test_accesses_count_reads_and_writes(make_backend):
    backend = make_backend()
    state, total = backend.get_state(COUNT), backend.get_reducing_state(TOTAL)
    backend.current_key = "k"
    state.update(1)
    state.value()
    total.add(1)
    assert backend.accesses == 4


def test_raw_tables_only_on_the_heap(make_backend):
    backend = make_backend()
    if not backend.supports_tables:
        with pytest.raises(NotImplementedError, match="no raw tables"):
            backend.table("_reduce", "value")
        return
    table = backend.table("_reduce", "value")
    table["k"] = 3
    backend.current_key = "k"
    assert backend.get_state(ValueStateDescriptor("_reduce")).value() == 3


def test_heap_backend_defaults_cover_every_key_group():
    backend = HeapKeyedStateBackend("sum[0]")
    assert (backend.max_parallelism, backend.key_group_range.start, backend.key_group_range.end) == (128, 0, 127)


def test_snapshot_is_independent_of_later_updates(make_backend):
    backend = make_backend()
    fill(backend, [1, 2, 3])
    blob = backend.get_state(ValueStateDescriptor("blob"))
    backend.current_key = 1
    blob.update({"inner": [1]})
    snapshot = backend.snapshot(1)
    frozen = json.dumps(snapshot.to_json())
    blob.value()["inner"].append(2)  # in-place mutation of a heap object after the snapshot
    backend.get_list_state(SEEN).add("later")
    backend.get_map_state(LAST).put("later", 1)
    backend.get_state(COUNT).update(-1)
    backend.current_key = 2
    backend.get_map_state(LAST).clear()
    assert json.dumps(snapshot.to_json()) == frozen


def test_snapshot_rows_are_grouped_by_key_group_within_the_range(make_backend):
    backend = make_backend(subtask=1, parallelism=3)
    keys = keys_of_subtask(1, 3, 40)
    fill(backend, keys)
    snapshot = backend.snapshot(3)
    own = key_group_range_for_operator(MAX_P, 3, 1)
    assert snapshot.key_group_range == own and snapshot.max_parallelism == MAX_P
    assert snapshot.full_size_bytes == snapshot.checkpointed_size_bytes > 0
    assert set(snapshot.state_names) == {"count", "seen", "last", "total", "avg"}
    seen_keys = set()
    for group, data in snapshot.key_groups.items():
        assert group in own and data.rows and not data.deleted
        for row in data.rows:
            key = serde.decode(row[1])
            assert assign_to_key_group(key, MAX_P) == group
            seen_keys.add(key)
    assert seen_keys == set(keys)


def test_a_key_outside_the_range_is_a_routing_error(make_backend):
    backend = make_backend(subtask=0, parallelism=2)
    stranger = keys_of_subtask(1, 2, 1)[0]
    with pytest.raises(ValueError, match=rf"key {stranger} of state 'count' in sum\[0\] is in key group \d+, "
                                         r"outside sum\[0\]'s KeyGroupRange\[0, 63\]"):
        backend.current_key = stranger
        backend.get_state(COUNT).update(1)
        backend.snapshot(1)


def test_restore_round_trip(make_backend):
    source = make_backend()
    fill(source, ["a", "b", 3, (4, "x")])
    target = make_backend()
    target.restore([round_trip(source.snapshot(5))])
    assert target.entries() == source.entries()
    assert target.keys("count") == source.keys("count")
    target.current_key = 3
    assert target.get_state(COUNT).value() == [3, 10]
    assert target.get_reducing_state(TOTAL).get() == 3
    assert target.get_aggregating_state(AVG).get() == 2.5
    assert dict(target.get_map_state(LAST).items()) == {"a": 3, ("t", 1): [3]}


@pytest.mark.parametrize("other", ["hashmap", "rocksdb"])
def test_restore_into_the_other_backend(make_backend, other):
    """Snapshots use one canonical row format, so either backend restores the other's."""
    source = make_backend()
    fill(source, list(range(30)))
    target = make_backend(kind=other)
    target.restore([round_trip(source.snapshot(1))])
    assert target.entries() == source.entries()


def test_rescaling_two_subtasks_into_three(make_backend):
    """Every key lands in exactly the new subtask whose key-group range owns it, and nothing is lost."""
    old = [make_backend(subtask=i, parallelism=2) for i in range(2)]
    for i, backend in enumerate(old):
        fill(backend, keys_of_subtask(i, 2, 60))
    snapshots = [round_trip(b.snapshot(9)) for b in old]
    new = [make_backend(subtask=i, parallelism=3) for i in range(3)]
    for backend in new:
        backend.restore(snapshots)
    before = sorted((json.dumps(serde.encode(e)) for b in old for e in b.entries()))
    after = sorted((json.dumps(serde.encode(e)) for b in new for e in b.entries()))
    assert after == before
    for i, backend in enumerate(new):
        for key in backend.keys():
            assert assign_key_to_parallel_operator(key, MAX_P, 3) == i
        assert backend.keys()  # every new subtask got some keys


def test_restore_rejects_another_max_parallelism(make_backend):
    snapshot = make_backend().snapshot(1)
    snapshot.max_parallelism = 256
    with pytest.raises(ValueError, match="max parallelism must stay the same, expected 128, found 256"):
        make_backend().restore([snapshot])


def test_a_value_that_cannot_be_encoded_names_its_state(make_backend):
    class Opaque:
        pass

    backend = make_backend()
    backend.current_key = "k"
    with pytest.raises(TypeError, match=r"Opaque in state 'blob' of sum\[0\].*register_type"):
        backend.get_state(ValueStateDescriptor("blob")).update(Opaque())
        backend.snapshot(1)


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    def __hash__(self):
        return hash((self.x, self.y))


@pytest.fixture
def registered_point():
    serde.register_type(Point, "test.Point", lambda p: (p.x, p.y), lambda t: Point(*t))
    yield
    serde.unregister_type("test.Point")


def test_a_registered_user_type_round_trips(make_backend, registered_point):
    source = make_backend()
    source.current_key = "k"
    source.get_state(ValueStateDescriptor("where")).update(Point(1, 2))
    source.get_map_state(LAST).put(Point(0, 0), [Point(3, 4)])
    target = make_backend()
    target.restore([round_trip(source.snapshot(1))])
    target.current_key = "k"
    assert target.get_state(ValueStateDescriptor("where")).value() == Point(1, 2)
    assert target.get_map_state(LAST).get(Point(0, 0)) == [Point(3, 4)]
