"""Aligned checkpoints of a two-input task: barriers are aligned across the channels of both inputs.

The job sums two keyed number streams per key and per 1-second event-time
window in a KeyedCoProcessFunction, emitting each window's sums when the
watermark (the minimum of both inputs) passes its end. Two TaskManagers,
with a slow link from tm-1 to tm-0, so barriers on some channels of each
input come late and the fast channels of both inputs wait for them.
"""

from __future__ import annotations

import pytest

from sim import ClusterSpec, CostModel, LinkSpec, Simulation, TraceLevel
from sim.api import (
    KeyedCoProcessFunction, MapStateDescriptor, NumberSequenceSource, StreamExecutionEnvironment, TimestampAssigner,
    WatermarkStrategy,
)
from sim.scenario.inspect import keyed_state, source_positions
from sim.trace import ChannelBlocked

KEYS = 16


class Scaled(TimestampAssigner):
    def __init__(self, ms_per_number: int):
        self.ms_per_number = ms_per_number

    def extract_timestamp(self, value, record_timestamp):
        return value * self.ms_per_number


class WindowSums(KeyedCoProcessFunction):
    """Per key and 1 s window: (sum of input 1, sum of input 2), emitted at the window's end."""

    def open(self, runtime_context):
        self.sums = runtime_context.get_map_state(MapStateDescriptor("sums"))

    def _add(self, value, ctx, side):
        window = ctx.timestamp() // 1000 * 1000
        one, two = self.sums.get(window) or (0, 0)
        self.sums.put(window, (one + value, two) if side == 1 else (one, two + value))
        ctx.timer_service().register_event_time_timer(window + 999)

    def process_element1(self, value, ctx):
        self._add(value, ctx, 1)

    def process_element2(self, value, ctx):
        self._add(value, ctx, 2)

    def on_timer(self, timestamp, ctx):
        window = timestamp - 999
        yield ctx.get_current_key(), window, self.sums.get(window)
        self.sums.remove(window)


def _simulation(checkpoint_ms: int | None) -> Simulation:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    if checkpoint_ms is not None:
        env.enable_checkpointing(checkpoint_ms)

    def numbers(last, ms_per_number, name):
        strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(Scaled(ms_per_number))
        return env.from_source(NumberSequenceSource(0, last), strategy, name)

    one, two = numbers(59_999, 1, "one"), numbers(29_999, 2, "two")
    one.key_by(lambda n: n % KEYS).connect(two.key_by(lambda n: n % KEYS)).process(WindowSums()).name("sums") \
        .add_sink(lambda v: None).name("out")
    cluster = ClusterSpec(task_managers=2, slots_per_task_manager=1, cores_per_task_manager=2,
                          link=LinkSpec(latency_us=500), links={("tm-1", "tm-0"): LinkSpec(latency_us=5_000)},
                          costs=CostModel(record_cpu_ns=1_500))
    return Simulation(env, cluster=cluster, seed=3, trace_level=TraceLevel.CHECKPOINTS)


@pytest.fixture(scope="module")
def runs():
    return _simulation(None).run(), _simulation(10).run()


def test_checkpointed_results_equal_the_unchecked_run(runs):
    """Aligned (exactly-once) checkpoints hold records back but never change what is computed."""
    plain, checkpointed = runs
    assert plain.status == checkpointed.status == "FINISHED"
    assert len(plain.values("out")) == 60 * KEYS
    assert sorted(checkpointed.values("out")) == sorted(plain.values("out"))
    sums = {(key, window): value for key, window, value in plain.values("out")}
    # Window [0, 1000) of key 0: input 1 holds 0, 16, ..., 992; input 2 holds n with 2n < 1000, n % 16 == 0.
    assert sums[(0, 0)] == (sum(range(0, 1000, KEYS)), sum(range(0, 500, KEYS)))


def test_every_checkpoint_completes_with_every_subtask(runs):
    _, result = runs
    stats = result.checkpoints
    assert len(stats) >= 3
    assert all(c.status == "COMPLETED" and c.acknowledged == c.total_subtasks for c in stats)
    assert max(c.max_alignment_us for c in stats) >= 5_000  # at least the slow link's extra latency


def test_alignment_blocks_channels_of_both_inputs(runs):
    """Sometimes-assertion: within one checkpoint, a two-input subtask blocked channels from both inputs."""
    _, result = runs
    blocked: dict[tuple[int, str], set[str]] = {}
    for event in result.trace.of_type(ChannelBlocked):
        producer = event.channel.split("->")[0]
        blocked.setdefault((event.checkpoint_id, event.task), set()).add(producer.split("[")[0])
    assert any(producers == {"source", "source_2"} for producers in blocked.values())


def _emitted(checkpoint, source: str, last: int) -> list[range]:
    """The numbers each reader of `NumberSequenceSource(0, last)` (two splits) had emitted at its barrier.

    A reader that finished before the checkpoint (not part of it, or acknowledged empty) emitted its whole split.
    """
    total, positions = last + 1, source_positions(checkpoint, source)
    out = []
    for i in range(2):
        if i not in positions:
            out.append(range(i * total // 2, (i + 1) * total // 2))
        else:
            out.append(range(i * total // 2, positions[i]["position"]))
    return out


def _window_sums(one: list[range], two: list[range]) -> dict[tuple[int, int], tuple[int, int]]:
    """(key, window) -> (sum of input 1, sum of input 2) over the given numbers, as WindowSums adds them."""
    sums: dict[tuple[int, int], list[int]] = {}
    for side, ranges, ms_per_number in ((0, one, 1), (1, two, 2)):
        for numbers in ranges:
            for n in numbers:
                sums.setdefault((n % KEYS, n * ms_per_number // 1000 * 1000), [0, 0])[side] += n
    return {k: (a, b) for k, (a, b) in sums.items()}


def test_each_checkpoint_is_a_consistent_cut_across_both_inputs(runs):
    """Every window sum in the snapshot counts exactly the numbers each source emitted before its barrier."""
    _, result = runs
    for checkpoint in result.completed_checkpoints:
        expected = _window_sums(_emitted(checkpoint, "source", 59_999), _emitted(checkpoint, "source_2", 29_999))
        state = keyed_state(result.completed_checkpoints, checkpoint.checkpoint_id, "sums")
        assert state, f"checkpoint {checkpoint.checkpoint_id} holds no sums"
        for key, entry in state.items():
            for window, sums in entry["sums"].items():
                assert sums == expected[(key, window)], (checkpoint.checkpoint_id, key, window)
