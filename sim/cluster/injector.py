"""The fault injector: applies a `FaultPlan` to the simulated world at its virtual times, and traces each fault.

Layer: `sim.cluster` (the simulated world). `Conditions` is what faults
change and what the world consults: which machines are dead, which pairs
are partitioned or slow until when, how slow the checkpoint store is, which
RPCs are lost. The injector only sets conditions and tells the job master
about crashes and failed tasks; detection (heartbeats) and recovery are the
job master's (`sim.cluster.jobmaster`).

Flink counterpart: none (the harness around the cluster), in the manner of
FoundationDB's simulator: one injector, faults as data, every fault traced.
Simplified: conditions are checked when a buffer or RPC is sent, so a link
that becomes slow does not slow a buffer already on the wire.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.cluster.faults import (
    JOBMANAGER, CrashTaskManager, FailTask, Fault, FaultPlan, FaultPlanError, LoseRpc, Partition, RaiseAtRecord,
    SlowCheckpointStore, SlowLink,
)
from sim.kernel.clock import ms_to_us
from sim.runtime.operators import InjectedFault
from sim.kernel.environment import SimEnvironment
from sim.trace import FaultInjected, RpcLost, Trace

if TYPE_CHECKING:
    from sim.cluster.jobmaster import JobMaster
    from sim.cluster.spec import ClusterSpec
    from sim.graph.execution_graph import ExecutionGraph


def _pair(a: str, b: str) -> frozenset[str]:
    return frozenset((a, b))


class Conditions:
    """What faults have done to the world right now; read by links, the store, RPCs and heartbeats."""

    def __init__(self, env: SimEnvironment, trace: Trace):
        self.env = env
        self.trace = trace
        self.crashed: set[str] = set()
        self.partitions: dict[frozenset[str], int] = {}
        self.slow_links: dict[frozenset[str], tuple[int, int]] = {}
        self.slow_store: tuple[int, int] = (0, 1)
        self.rpc_losses: list[tuple[int, int, LoseRpc]] = []

    def partitioned_until(self, a: str, b: str) -> int:
        """When the partition between `a` and `b` heals (0 or a past time: they are connected)."""
        return self.partitions.get(_pair(a, b), 0)

    def link_factor(self, a: str, b: str) -> int:
        until, factor = self.slow_links.get(_pair(a, b), (0, 1))
        return factor if self.env.now < until else 1

    def store_factor(self) -> int:
        until, factor = self.slow_store
        return factor if self.env.now < until else 1

    def rpc_lost(self, rpc: str, taskmanager: str, what: str) -> bool:
        """Whether an RPC of kind `rpc` to or from `taskmanager` is lost now; a lost one is traced."""
        now = self.env.now
        lost = taskmanager in self.crashed or self.partitioned_until(taskmanager, JOBMANAGER) > now or any(
            start <= now < until and f.rpc in ("any", rpc) and f.taskmanager in (None, taskmanager)
            for start, until, f in self.rpc_losses)
        if lost and rpc != "heartbeat":
            self.trace.emit(RpcLost(now, what, taskmanager))
        return lost


def validate_plan(plan: FaultPlan, cluster: ClusterSpec, eg: ExecutionGraph) -> None:
    """Refuse a plan that names machines, subtasks or operators the run does not have.

    Raises:
        FaultPlanError: naming the fault, what it names, and what the run has.
    """
    taskmanagers = cluster.taskmanager_names
    tasks = {s.id for s in eg.subtasks}
    operators = {n.id: n.parallelism for n in eg.job_graph.stream_graph.nodes if n.kind != "source"}
    for fault in plan:
        for name in _machines(fault):
            allowed = set(taskmanagers) | {JOBMANAGER} if isinstance(fault, Partition) else set(taskmanagers)
            if name not in allowed:
                raise FaultPlanError(f"{fault.describe()}: the cluster has no machine {name!r}; "
                                     f"expected one of {sorted(allowed)}")
        if isinstance(fault, FailTask) and fault.task not in tasks:
            raise FaultPlanError(f"{fault.describe()}: the job has no subtask {fault.task!r}; "
                                 f"expected one of {sorted(tasks)}")
        if isinstance(fault, RaiseAtRecord):
            if fault.operator not in operators or fault.subtask >= operators[fault.operator]:
                raise FaultPlanError(f"{fault.describe()}: the job has no operator subtask "
                                     f"{fault.operator}[{fault.subtask}]; operators (parallelism): "
                                     f"{dict(sorted(operators.items()))}")


def _machines(fault: Fault) -> list[str]:
    """The machines a fault names."""
    if isinstance(fault, CrashTaskManager):
        return [fault.taskmanager]
    if isinstance(fault, (Partition, SlowLink)):
        return [fault.a, fault.b]
    if isinstance(fault, LoseRpc) and fault.taskmanager:
        return [fault.taskmanager]
    return []


class FaultInjector:
    """Applies each fault of a plan at its time: sets conditions, or tells the job master."""

    def __init__(self, env: SimEnvironment, plan: FaultPlan, conditions: Conditions, trace: Trace,
                 master: JobMaster):
        self.env = env
        self.plan = plan
        self.conditions = conditions
        self.trace = trace
        self.master = master

    def start(self) -> None:
        """Schedule every timed fault, in plan order (ties at one instant keep that order)."""
        for fault in self.plan:
            if not isinstance(fault, RaiseAtRecord):
                self.env.schedule_call(ms_to_us(fault.at_ms), lambda f=fault: self._apply(f))

    def record_faults(self, attempt: int) -> list[RaiseAtRecord]:
        """The `RaiseAtRecord` faults to arm in execution attempt `attempt`."""
        return [f for f in self.plan if isinstance(f, RaiseAtRecord) and f.attempt == attempt]

    def _apply(self, fault) -> None:
        now = self.env.now
        target = getattr(fault, "taskmanager", None) or getattr(fault, "task", None) or (
            f"{fault.a}<->{fault.b}" if hasattr(fault, "a") else "checkpoint store" if isinstance(
                fault, SlowCheckpointStore) else "rpc")
        self.trace.emit(FaultInjected(now, fault.kind, target, fault.describe()))
        if isinstance(fault, CrashTaskManager):
            back = None if fault.back_after_ms is None else ms_to_us(fault.back_after_ms)
            self.master.crash_taskmanager(fault.taskmanager, back)
        elif isinstance(fault, FailTask):
            self.master.fail_task(fault.task, InjectedFault(f"injected failure of {fault.task} at {fault.at_ms} ms"))
        elif isinstance(fault, Partition):
            self.conditions.partitions[_pair(fault.a, fault.b)] = ms_to_us(fault.until_ms)
            self._ended(fault, "partition_healed", target)
        elif isinstance(fault, SlowLink):
            self.conditions.slow_links[_pair(fault.a, fault.b)] = (ms_to_us(fault.until_ms), fault.factor)
            self._ended(fault, "slow_link_ended", target)
        elif isinstance(fault, SlowCheckpointStore):
            self.conditions.slow_store = (ms_to_us(fault.until_ms), fault.factor)
            self._ended(fault, "slow_checkpoint_store_ended", target)
        elif isinstance(fault, LoseRpc):
            self.conditions.rpc_losses.append((now, ms_to_us(fault.until_ms), fault))
            self._ended(fault, "lose_rpc_ended", target)

    def _ended(self, fault, kind: str, target: str) -> None:
        delay = ms_to_us(fault.until_ms) - self.env.now
        self.env.schedule_call(delay, lambda: self.trace.emit(FaultInjected(self.env.now, kind, target,
                                                                            f"end of: {fault.describe()}")))
        if isinstance(fault, Partition):
            self.env.schedule_call(delay, lambda: self.master.partition_healed(fault.a, fault.b))
