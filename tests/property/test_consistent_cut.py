"""Aligned exactly-once checkpoints are consistent cuts, for random keyed jobs.

Property: for every completed checkpoint, the keyed state it captured equals the
state of a reference computation that processed exactly the records before each
source subtask's recorded position (all records of a source that had finished).
"""

from collections import Counter

from hypothesis import given, settings, target
from hypothesis import strategies as st

from sim import ClusterSpec, CostModel, LinkSpec, Simulation, TraceLevel
from sim.kernel.hashing import assign_key_to_parallel_operator
from sim.api import (
    EmbeddedRocksDBStateBackend, KeyedProcessFunction, NumberSequenceSource, StreamExecutionEnvironment,
    ValueStateDescriptor,
)
from sim.scenario.inspect import keyed_state, source_positions


class CountPerKey(KeyedProcessFunction):
    def open(self, runtime_context):
        self.count = runtime_context.get_state(ValueStateDescriptor("count"))

    def process_element(self, value, ctx):
        self.count.update((self.count.value() or 0) + value[1])
        yield value[0], self.count.value()


def _job(p: int, records: int, keys: int, operator: str, backend: str, interval_ms: int, latency_us: int,
         seed: int) -> Simulation:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(p)
    env.enable_checkpointing(interval_ms)
    if backend != "hashmap":
        env.set_state_backend(EmbeddedRocksDBStateBackend(backend == "rocksdb-incremental"))
    keyed = env.from_source(NumberSequenceSource(0, records - 1)).map(lambda i: (i * 7919 % keys, 1)) \
        .key_by(lambda t: t[0])
    counted = keyed.sum(1).name("count") if operator == "sum" else keyed.process(CountPerKey()).name("count")
    counted.add_sink(lambda v: None)
    cluster = ClusterSpec(task_managers=p, slots_per_task_manager=1, cores_per_task_manager=1,
                          link=LinkSpec(latency_us=latency_us, jitter_us=latency_us // 2),
                          costs=CostModel(record_cpu_ns=3_000))
    return Simulation(env, cluster=cluster, seed=seed, trace_level=TraceLevel.JOB)


def _expected(positions: dict, p: int, records: int, keys: int) -> Counter:
    """Counts per key of the records before each source subtask's position (NumberSequenceSource splits)."""
    counts = Counter()
    for i in range(p):
        lo, hi = i * records // p, (i + 1) * records // p
        end = positions[i]["position"] if i in positions else hi
        for v in range(lo, end):
            counts[v * 7919 % keys] += 1
    return counts


def _live(counts: Counter, checkpoint, p: int) -> Counter:
    """Leave out keys owned by counting subtasks that had finished (they acknowledge with no state)."""
    finished = {int(t.rsplit("[", 1)[1][:-1]) for t in checkpoint.finished_tasks if t.startswith("count")}
    return Counter({k: n for k, n in counts.items() if assign_key_to_parallel_operator(k, 128, p) not in finished})


def _captured(result, checkpoint_id: int, operator: str) -> Counter:
    state = keyed_state(result.completed_checkpoints, checkpoint_id, "count")
    if operator == "sum":
        return Counter({k: v["_reduce"][1] for k, v in state.items()})
    return Counter({k: v["count"] for k, v in state.items()})


@settings(max_examples=12)
@given(p=st.integers(1, 3), records=st.integers(2_000, 12_000), keys=st.integers(1, 50),
       operator=st.sampled_from(["sum", "process"]),
       backend=st.sampled_from(["hashmap", "rocksdb", "rocksdb-incremental"]),
       interval_ms=st.sampled_from([3, 7, 15]), latency_us=st.sampled_from([0, 300, 4_000]),
       seed=st.integers(0, 1_000))
def test_every_completed_aligned_checkpoint_is_a_consistent_cut(p, records, keys, operator, backend, interval_ms,
                                                                 latency_us, seed):
    """State in each completed checkpoint == reference state of the records before the recorded positions."""
    result = _job(p, records, keys, operator, backend, interval_ms, latency_us, seed).run()
    assert result.status == "FINISHED"
    target(float(len(result.completed_checkpoints)))
    for checkpoint in result.completed_checkpoints:
        expected = _live(_expected(source_positions(checkpoint), p, records, keys), checkpoint, p)
        assert _captured(result, checkpoint.checkpoint_id, operator) == expected, checkpoint.checkpoint_id


def test_a_checkpoint_whose_sources_finished_before_their_trigger_holds_only_finished_tasks():
    """Regression (found by Hypothesis): every source finished between trigger and RPC arrival.

    The checkpoint completes with every task acknowledged as finished and no keyed
    state, which Flink treats as finished operators, not lost state.
    """
    result = _job(3, 4668, 15, "sum", "rocksdb", 15, 0, 0).run()
    checkpoint = result.completed_checkpoints[0]
    assert {t for t in checkpoint.finished_tasks if t.startswith("count")} == {f"count->sink[{i}]" for i in range(3)}
    assert keyed_state(result.completed_checkpoints, checkpoint.checkpoint_id, "count") == {}


def test_a_fixed_case_completes_several_checkpoints_and_each_is_a_cut():
    """Guard against a vacuous property: this configuration completes checkpoints, all consistent."""
    result = _job(3, 40_000, 40, "process", "rocksdb-incremental", 3, 4_000, 11).run()
    assert len(result.completed_checkpoints) >= 3
    for checkpoint in result.completed_checkpoints:
        expected = _expected(source_positions(checkpoint), 3, 40_000, 40)
        assert sum(expected.values()) > 0
        assert _captured(result, checkpoint.checkpoint_id, "process") == expected
