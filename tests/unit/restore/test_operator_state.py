"""Operator (non-keyed) state on restore: broadcast copies by index, split lists in even chunks, union lists whole.

flink-facts §7: even-split concatenates the old lists in old subtask order
and cuts contiguous chunks (the first N % p targets get one more); union
gives every subtask the whole list; broadcast state is read from old copy
i, or i modulo the old parallelism when scaling up. At unchanged
parallelism every subtask gets its own state back.
"""

from __future__ import annotations

import pytest

from sim.api import (
    BroadcastProcessFunction, ListStateDescriptor, MapStateDescriptor, NumberSequenceSource,
    StreamExecutionEnvironment,
)
from sim.runtime.operators import StreamOperator
from sim.runtime.restore import plan_restore
from sim.state.operator_state import OperatorStateBackend, snapshots_in
from sim.state.storage import LoadedCheckpoint

from tests.unit.restore.harness import TaskHarness
from tests.unit.restore.jobs import operator_metadata

RULES = MapStateDescriptor("rules")


class Tagging(BroadcastProcessFunction):
    """Each subtask writes its own index into its copy of the broadcast state, so the copies differ."""

    def open(self, runtime_context):
        self.index = runtime_context.get_index_of_this_subtask()

    def process_broadcast_element(self, rule, ctx):
        ctx.get_broadcast_state(RULES).put("written_by", self.index)

    def process_element(self, value, ctx):
        yield self.index, ctx.get_broadcast_state(RULES).get("written_by")


def broadcast_job(parallelism: int) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    rules = env.from_collection(["rule"]).uid("rules")
    env.from_source(NumberSequenceSource(0, 599)).uid("numbers").rebalance().connect(rules.broadcast(RULES)) \
        .process(Tagging()).uid("tagging").add_sink(lambda v: None).name("sink")
    return env


@pytest.fixture(scope="module")
def broadcast_checkpoint() -> LoadedCheckpoint:
    harness = TaskHarness(broadcast_job(2), source_batch_records=100)
    harness.open()
    harness.read(steps=1)
    payloads = harness.snapshot(1)
    harness.dispose()
    return LoadedCheckpoint.from_payloads(1, "checkpoint", operator_metadata(harness.eg), payloads)


@pytest.mark.parametrize("parallelism, copies", [(3, {0: 0, 1: 1, 2: 0}), (1, {0: 0}), (2, {0: 0, 1: 1})])
def test_each_new_subtask_reads_the_broadcast_copy_of_old_subtask_i_modulo_the_old_count(
        broadcast_checkpoint, parallelism, copies):
    harness = TaskHarness(broadcast_job(parallelism), source_batch_records=100)
    harness.restore(plan_restore(broadcast_checkpoint, harness.eg))
    harness.open()
    harness.finish()
    assert dict(out for _, out in harness.written()) == copies
    assert len(harness.written()) == 400  # the 200 numbers read before the checkpoint are not read again
    harness.dispose()


class ListsOperator(StreamOperator):
    """An operator keeping split and union list state under "lists", as a source or a sink would."""

    def restore_operator_state(self, states, subtask, parallelism):
        self.lists = OperatorStateBackend(self.label)
        self.lists.restore(snapshots_in(states, "lists"), subtask, parallelism)

    def contents(self):
        return (self.lists.get_list_state(ListStateDescriptor("pending")).get(),
                self.lists.get_union_list_state(ListStateDescriptor("seen")).get())


def _lists_job(parallelism: int) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    env.from_source(NumberSequenceSource(0, 9)).map(lambda n: n).uid("lists").add_sink(lambda v: None)
    return env


def _lists_checkpoint() -> LoadedCheckpoint:
    """Old subtask 0 holds pending [a0, a1, a2] and seen [u0]; old subtask 1 pending [b0..b3] and seen [u1]."""
    payloads = {}
    for i, pending in enumerate([["a0", "a1", "a2"], ["b0", "b1", "b2", "b3"]]):
        backend = OperatorStateBackend(f"lists[{i}]")
        backend.get_list_state(ListStateDescriptor("pending")).update(pending)
        backend.get_union_list_state(ListStateDescriptor("seen")).add(f"u{i}")
        operators = {"lists": {"keyed": None, "operator": {"lists": backend.snapshot(1).to_json()}}}
        payloads[f"source->lists->sink[{i}]"] = {"subtask": i, "operators": operators}
    return LoadedCheckpoint.from_payloads(1, "checkpoint", {}, payloads)


@pytest.mark.parametrize("parallelism, pending", [
    (3, [["a0", "a1", "a2"], ["b0", "b1"], ["b2", "b3"]]),
    (1, [["a0", "a1", "a2", "b0", "b1", "b2", "b3"]]),
    (2, [["a0", "a1", "a2"], ["b0", "b1", "b2", "b3"]]),
])
def test_split_lists_are_cut_in_even_chunks_and_union_lists_go_whole_to_every_subtask(parallelism, pending):
    harness = TaskHarness(_lists_job(parallelism))
    plan = plan_restore(_lists_checkpoint(), harness.eg)
    node = harness.eg.job_graph.stream_graph.node("map")
    found = []
    for task in harness.tasks.values():
        entry = plan.tasks[task.id].operators["lists"]
        assert entry.old_parallelism == 2 and len(entry.operator_states) == 2
        op = ListsOperator(node, task.subtask.index, None, None)
        op.restore_operator_state(entry.operator_states, task.subtask.index, parallelism)
        found.append(op.contents())
    assert found == [(chunk, ["u0", "u1"]) for chunk in pending]
    harness.dispose()
