"""The broadcast state pattern: rules broadcast to every subtask, applied to a keyed stream, checkpointed everywhere."""

from __future__ import annotations

import pytest

from sim.api import (
    BroadcastProcessFunction, KeyedBroadcastProcessFunction, MapStateDescriptor, StreamExecutionEnvironment,
    ValueStateDescriptor,
)
from sim.state.operator_state import OperatorStateSnapshot
from sim.state.serde import decode

from tests.unit.twoinput.jobs import environment, paced, run

RULES = MapStateDescriptor("rules")


class Alerts(KeyedBroadcastProcessFunction):
    """Rules are (metric, ts, threshold); readings are (metric, ts, value). Alert when a reading exceeds its rule."""

    def open(self, runtime_context):
        self.readings = runtime_context.get_state(ValueStateDescriptor("readings"))

    def process_broadcast_element(self, rule, ctx):
        ctx.get_broadcast_state(RULES).put(rule[0], rule[2])
        return []

    def process_element(self, reading, ctx):
        self.readings.update((self.readings.value() or 0) + 1)
        threshold = ctx.get_broadcast_state(RULES).get(reading[0])
        if threshold is not None and reading[2] > threshold:
            yield "alert", ctx.get_current_key(), reading[2], self.readings.value()


def _alerts_job(parallelism=3, checkpoint_ms=None):
    env = environment(parallelism)
    if checkpoint_ms is not None:
        env.enable_checkpointing(checkpoint_ms)
    rules = paced(env, "rules", [("cpu", 0, 80), ("disk", 0, 90), ("cpu", 500, 95)], [10, 20, 500])
    readings = paced(env, "readings",
                     [("cpu", 100, 85), ("disk", 110, 95), ("mem", 120, 99), ("cpu", 600, 90), ("cpu", 610, 97)],
                     [100, 110, 120, 600, 610])
    readings.key_by(lambda r: r[0]).connect(rules.broadcast(RULES)).process(Alerts()).name("alerts") \
        .add_sink(lambda v: None).name("out")
    return env


def test_rules_apply_to_the_keyed_stream_in_every_subtask():
    """cpu 85 > 80 and disk 95 > 90 alert; mem has no rule; after cpu's rule becomes 95, 90 does not alert, 97 does.

    The readings of one metric land on one subtask (by key), yet each finds
    the rule: every subtask received every rule. The fourth field counts
    the key's readings so far (keyed state next to broadcast state).
    """
    result = run(_alerts_job())
    assert result.status == "FINISHED", result.failure
    assert sorted(result.values("out")) == [("alert", "cpu", 85, 1), ("alert", "cpu", 97, 3),
                                            ("alert", "disk", 95, 1)]


def _broadcast_states(checkpoint, operator_id):
    """Subtask index -> {state name: decoded map}, from each subtask's operator state in the payload."""
    out = {}
    for payload in checkpoint.payloads.values():
        data = payload["operators"].get(operator_id)
        if data is not None:
            snap = OperatorStateSnapshot.from_json(data["operator"]["operator_state"])
            out[payload["subtask"]] = {name: {decode(k): decode(v) for k, v in values}
                                       for name, (mode, values) in snap.states.items() if mode == "broadcast"}
    return out


def test_every_subtask_checkpoints_its_copy_of_the_broadcast_state():
    result = run(_alerts_job(checkpoint_ms=100))
    assert result.status == "FINISHED", result.failure
    done = result.completed_checkpoints
    assert len(done) >= 3
    first, last = done[0], done[-1]
    # Checkpoint 1 (triggered at 100 ms) follows both early rules; the last follows the cpu update at 500 ms.
    assert _broadcast_states(first, "alerts") == {i: {"rules": {"cpu": 80, "disk": 90}} for i in range(3)}
    assert _broadcast_states(last, "alerts") == {i: {"rules": {"cpu": 95, "disk": 90}} for i in range(3)}


class WritesOnTheWrongSide(KeyedBroadcastProcessFunction):
    def process_broadcast_element(self, value, ctx):
        return []

    def process_element(self, value, ctx):
        ctx.get_broadcast_state(RULES).put(value[0], value[2])
        return []


def test_the_keyed_side_may_only_read_the_broadcast_state():
    env = environment(2)
    rules = paced(env, "rules", [("cpu", 0, 80)], [10])
    readings = paced(env, "readings", [("cpu", 100, 85)], [100])
    readings.key_by(lambda r: r[0]).connect(rules.broadcast(RULES)).process(WritesOnTheWrongSide()) \
        .add_sink(lambda v: None)
    result = run(env)
    assert result.status == "FAILED"
    assert result.failure.operator.startswith("broadcast_process[")
    assert "broadcast state 'rules'" in result.failure.error and "read-only" in result.failure.error


def test_an_unregistered_descriptor_is_refused_by_name():
    class AsksForOther(BroadcastProcessFunction):
        def process_broadcast_element(self, value, ctx):
            ctx.get_broadcast_state(MapStateDescriptor("other")).put(1, 2)

        def process_element(self, value, ctx):
            return []

    env = environment()
    env.from_collection([1]).connect(env.from_collection([2]).broadcast(RULES)).process(AsksForOther()) \
        .add_sink(lambda v: None)
    result = run(env)
    assert result.status == "FAILED"
    assert "no broadcast state 'other'" in result.failure.error and "['rules']" in result.failure.error


class Enrich(BroadcastProcessFunction):
    def process_broadcast_element(self, value, ctx):
        ctx.get_broadcast_state(RULES).put(value[0], value[2])
        return []

    def process_element(self, value, ctx):
        yield value[0], ctx.get_broadcast_state(RULES).get(value[0]), ctx.current_watermark() < value[1]


def test_a_non_keyed_stream_reads_the_broadcast_state_too():
    env = environment(2)
    names = paced(env, "names", [("u1", 0, "ada"), ("u2", 0, "bob")], [10, 10])
    events = paced(env, "events", [("u1", 300), ("u2", 310), ("u3", 320)], [300, 310, 320])
    events.connect(names.broadcast(RULES)).process(Enrich()).add_sink(lambda v: None).name("out")
    result = run(env)
    assert result.status == "FINISHED", result.failure
    assert sorted(result.values("out")) == [("u1", "ada", True), ("u2", "bob", True), ("u3", None, True)]


def test_the_function_must_match_the_stream():
    env = StreamExecutionEnvironment.get_execution_environment()
    rules = env.from_collection([1]).broadcast(RULES)
    with pytest.raises(TypeError, match="KeyedBroadcastProcessFunction needs a keyed stream"):
        env.from_collection([2]).connect(rules).process(Alerts())
    with pytest.raises(TypeError, match="BroadcastProcessFunction needs a non-keyed stream"):
        env.from_collection([2]).key_by(lambda v: v).connect(rules).process(Enrich())
    with pytest.raises(TypeError, match="needs MapStateDescriptors"):
        env.from_collection([3]).broadcast(ValueStateDescriptor("v"))
