"""Test doubles for transactional sinks, and a two-phase-commit sink operator built without a cluster."""

from __future__ import annotations

from typing import Any

from sim.api import StreamExecutionEnvironment, TransactionalTopicSink, TwoPhaseCommitSinkFunction
from sim.api.functions import RuntimeContext
from sim.graph.stream_graph import build_stream_graph
from sim.runtime.operators import SinkLog
from sim.runtime.task import TaskClock
from sim.runtime.transactional_sink import TwoPhaseCommitSinkOperator, sink_operator_class
from sim.trace import Trace, TraceLevel


class RecordingSink(TwoPhaseCommitSinkFunction):
    """Records every call as a tuple in `calls`; its transactions are "t<subtask>.<n>".

    Each subtask works on its own copy, so read `operator.function.calls`.
    `fail_in` names a method that raises ValueError("broken <method>").
    """

    def __init__(self, fail_in: str | None = None):
        self.calls: list[tuple] = []
        self.fail_in = fail_in
        self._subtask = "?"
        self._begun = 0

    def _call(self, *call: Any) -> None:
        self.calls.append(call)
        if call[0] == self.fail_in:
            raise ValueError(f"broken {call[0]}")

    def open(self, runtime_context):
        self._subtask = runtime_context.get_index_of_this_subtask()
        self._call("open")

    def begin_transaction(self):
        txn = f"t{self._subtask}.{self._begun}"
        self._begun += 1
        self._call("begin_transaction", txn)
        return txn

    def invoke(self, transaction, value, context):
        self._call("invoke", transaction, value)

    def pre_commit(self, transaction):
        self._call("pre_commit", transaction)

    def commit(self, transaction):
        self._call("commit", transaction)

    def abort(self, transaction):
        self._call("abort", transaction)

    def recover_and_commit(self, transaction):
        self._call("recover_and_commit", transaction)

    def recover_and_abort(self, transaction):
        self._call("recover_and_abort", transaction)

    def close(self):
        self._call("close")


class CommitOnPreCommitSink(TransactionalTopicSink):
    """A broken exactly-once sink: it commits as soon as it pre-commits, before the checkpoint has completed.

    A failure before that checkpoint completes restores an earlier one,
    whose open transaction is this already committed one: it cannot be
    aborted any more, and the records it holds are written again.
    """

    def pre_commit(self, transaction: str) -> None:
        self.commit(transaction)


def sink_operator(function: Any, subtask: int = 0, parallelism: int = 1,
                  level: TraceLevel = TraceLevel.CHECKPOINTS) -> TwoPhaseCommitSinkOperator:
    """The operator a task would make for `function` as subtask `subtask` of a sink, with its own clock and trace.

    Its trace is `operator._trace`, its clock `operator.clock`, its written log `operator.log`.
    """
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([0]).add_sink(function).set_parallelism(parallelism)
    node = next(n for n in build_stream_graph(env).nodes if n.kind == "sink")
    context = RuntimeContext(node.name, subtask, parallelism, node.max_parallelism)
    cls = sink_operator_class(function)
    return cls(node, subtask, context, TaskClock(), SinkLog(), Trace(level), f"{node.id}[{subtask}]")
