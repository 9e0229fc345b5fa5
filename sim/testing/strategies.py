"""Hypothesis strategies for runs under faults: jobs, inputs, clusters, fault plans, and whole `Case`s.

Layer: `sim.testing`, the top of the library; needs Hypothesis (the `dev`
extra, or `pip install hypothesis`), which nothing else in `sim` imports.

    from hypothesis import given, note
    from sim.testing.strategies import cases

    @given(cases())
    def test_exactly_once(case):
        note(case.describe())                 # a failure prints the case and its replay command
        run, reference = case.run(), case.reference()
        assert run.result.status == "FINISHED"
        assert case.check(run, reference)

Everything is drawn as plain data, so Hypothesis shrinks it: a failing case
shrinks toward fewer steps and faults, parallelism 1, fewer and smaller input
elements, faults earlier in the run, one TaskManager, default settings. A
drawn cluster always has the slots the job needs, and a drawn plan never
leaves fewer live slots than that for good, so every case can finish.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from hypothesis import strategies as st

from sim.cluster.faults import (
    FAULT_TYPES, JOBMANAGER, RPC_KINDS, CrashTaskManager, FailTask, Fault, FaultPlan, LoseRpc, Partition,
    RaiseAtRecord, SlowCheckpointStore, SlowLink,
)
from sim.cluster.spec import ClusterSpec, LinkSpec, NetworkConfig
from sim.runtime.costs import CostModel
from sim.testing.case import Case
from sim.testing.jobspec import BACKENDS, SOURCES, STORAGES, JobSpec
from sim.testing.steps import PROCESS, STEP_KINDS, Step

FAULT_KINDS = tuple(FAULT_TYPES)
"""Every kind of fault: crash_taskmanager, fail_task, raise_at_record, partition, slow_link,
slow_checkpoint_store, lose_rpc."""

EXACTLY_ONCE = ("aligned", "unaligned")
"""The checkpointing modes under which Flink promises exactly-once state (and, with a transactional sink, output)."""


@st.composite
def inputs(draw: st.DrawFn, min_size: int = 1, max_size: int = 200, max_value: int = 999) -> tuple[int, ...]:
    """Inputs of a job: tuples of ints in 0..max_value; they shrink toward fewer and smaller elements.

    The length is drawn first, over the whole range (a plain list strategy keeps most lists to a
    handful of elements, too short for a run to reach its second checkpoint).
    """
    size = draw(st.integers(min_size, max_size))
    return tuple(draw(st.lists(st.integers(0, max_value), min_size=size, max_size=size)))


def _valid(job: JobSpec, steps: list[Step]) -> JobSpec | None:
    """`job` with `steps`, or None where a step would need its key's order and not have it."""
    try:
        return dataclasses.replace(job, steps=tuple(steps))
    except ValueError:
        return None


@st.composite
def _steps(draw: st.DrawFn, job: JobSpec, kinds: Sequence[str], max_steps: int, max_parallelism: int,
           operator: Step | None) -> JobSpec:
    """`job` with up to `max_steps` steps of `kinds` (and `operator` once), each where its order needs hold."""
    order_free = [k for k in kinds if STEP_KINDS[k].keyed and not STEP_KINDS[k].needs_key_order]
    steps: list[Step] = []
    for _ in range(draw(st.integers(0, max_steps))):
        kind = draw(st.sampled_from(kinds))
        low, high = STEP_KINDS[kind].args
        parallelism = None if kind == "rebalance" else draw(st.none() | st.integers(1, max_parallelism))
        step = Step(kind, draw(st.integers(low, high)), parallelism)
        if _valid(job, steps + [step]) is None:
            if not order_free:
                continue
            step = Step(draw(st.sampled_from(order_free)), 0, parallelism)
        steps.append(step)
    if operator is not None:
        places = [i for i in range(len(steps) + 1) if _valid(job, steps[:i] + [operator] + steps[i:])]
        if not places:  # nothing before it keeps its key's order: it goes first, behind an ordered source
            steps, places = [], [0]
        i = draw(st.sampled_from(places))
        steps = steps[:i] + [operator] + steps[i:]
    return dataclasses.replace(job, steps=tuple(steps))


@st.composite
def jobs(draw: st.DrawFn, checkpointing: Sequence[str] = EXACTLY_ONCE, sinks: Sequence[str] = ("exactly_once",),
         sources: Sequence[str] = SOURCES, kinds: Sequence[str] = tuple(STEP_KINDS), max_steps: int = 4,
         max_parallelism: int = 4, operator: Step | None = None,
         restarts: Sequence[str] = ("fixed_delay", "exponential_delay"),
         alignment_timeouts: bool = True) -> JobSpec:
    """Jobs `source -> pair -> steps -> sink` (see `sim.testing.jobspec`), with how they checkpoint and restart.

    Args:
        checkpointing: the modes to draw from (`"aligned"`, `"unaligned"`, `"at_least_once"`, `"none"`).
        sinks: `"exactly_once"` and/or `"at_least_once"`.
        sources: `"paced"` and/or `"kafka"`.
        kinds: the step kinds to draw from (names of `STEP_KINDS`).
        max_steps: at most this many steps (besides `operator`).
        max_parallelism: the largest parallelism of any operator.
        operator: a step every job holds once, e.g. `Step.process(MyFunction)`; placed where
            its key's records come in a fixed order if it needs that.
        restarts: the restart strategies to draw from.
        alignment_timeouts: whether unaligned jobs may start aligned with a timeout (False: always unaligned).
    """
    mode = draw(st.sampled_from(checkpointing))
    source = draw(st.sampled_from(sources))
    if operator is not None and operator.kind == PROCESS and operator.needs_key_order:
        source = "paced"  # so that there is always a place where a key's order is fixed
    readers, partitions = (1, 1) if source == "paced" else (draw(st.integers(1, max_parallelism)),
                                                            draw(st.integers(1, 4)))
    job = JobSpec(
        parallelism=draw(st.integers(1, max_parallelism)), keys=draw(st.integers(1, 16)), source=source,
        pace_ms=draw(st.integers(1, 5)), source_parallelism=readers, source_partitions=partitions,
        sink=draw(st.sampled_from(sinks)), sink_partitions=draw(st.integers(1, 4)), checkpointing=mode,
        interval_ms=draw(st.integers(10, 100)),
        alignment_timeout_ms=draw(st.just(0) | st.integers(1, 50)) if mode == "unaligned" and alignment_timeouts else 0,
        backend=draw(st.sampled_from(BACKENDS)), restart=draw(st.sampled_from(restarts)),
        restart_delay_ms=draw(st.integers(0, 500)), buffer_timeout_ms=draw(st.sampled_from((100, 0, 5, 20))),
        checkpoint_storage=draw(st.sampled_from(STORAGES)))
    return draw(_steps(job, list(kinds), max_steps, max_parallelism, operator))


_JOBS, _INPUTS = jobs, inputs  # the defaults of `cases`, whose arguments take these names


@st.composite
def clusters(draw: st.DrawFn, job: JobSpec, max_task_managers: int = 4, backpressure: bool = False) -> ClusterSpec:
    """Clusters with the slots `job` needs: 1..max_task_managers TaskManagers, cores, link latency, buffer
    size, short heartbeats (10-50 ms, timeout 2-4 intervals) so failover is quick, and sometimes one slow
    operator (0.01-2 ms per record).

    Args:
        job: the job the cluster must hold.
        max_task_managers: at most this many TaskManagers.
        backpressure: always make one operator slower per record than the input's pace
            (1.2-3 times `pace_ms`), with 512-byte buffers, so that data backs up in front of it:
            what an unaligned checkpoint persists.
    """
    need = job.max_parallelism_used
    task_managers = draw(st.integers(1, max_task_managers))
    heartbeat_ms = draw(st.integers(10, 50))
    operators = sorted(job.operators())
    if backpressure:
        slow = draw(st.sampled_from(operators))
        pace_ns = max(1, job.pace_ms) * 1_000_000
        cost_ns = draw(st.integers(pace_ns * 6 // 5, pace_ns * 3))
        segments = st.just(512)
    else:
        slow = draw(st.none() | st.sampled_from(operators))
        cost_ns = None if slow is None else draw(st.integers(10_000, 2_000_000))
        segments = st.sampled_from((32 * 1024, 4096, 512))
    costs = CostModel() if slow is None else CostModel(operator_cpu_ns={slow: cost_ns})
    return ClusterSpec(
        task_managers=task_managers, slots_per_task_manager=-(-need // task_managers) + draw(st.integers(0, 1)),
        cores_per_task_manager=draw(st.integers(1, 4)), link=LinkSpec(latency_us=draw(st.integers(0, 5_000))),
        network=NetworkConfig(segment_size_bytes=draw(segments)), costs=costs,
        rpc_latency_us=draw(st.integers(0, 2_000)), heartbeat_interval_ms=heartbeat_ms,
        heartbeat_timeout_ms=heartbeat_ms * draw(st.integers(2, 4)))


def _span(draw: st.DrawFn, horizon_ms: int) -> tuple[int, int]:
    at = draw(st.integers(0, horizon_ms))
    return at, at + draw(st.integers(1, max(1, horizon_ms // 2)))


def _fault(draw: st.DrawFn, kind: str, job: JobSpec, cluster: ClusterSpec, subtasks: list[str],
           horizon_ms: int, max_record: int, forever: set[str]) -> Fault:
    """One fault of `kind`; a crash may be for good only while the others leave the job enough slots."""
    tms = cluster.taskmanager_names
    if kind == "crash_taskmanager":
        tm = draw(st.sampled_from(tms))
        spare = (len(tms) - len(forever | {tm})) * cluster.slots_per_task_manager >= job.max_parallelism_used
        back = draw((st.none() | st.integers(0, horizon_ms)) if spare else st.integers(0, horizon_ms))
        if back is None:
            forever.add(tm)
        return CrashTaskManager(draw(st.integers(0, horizon_ms)), tm, back)
    if kind == "fail_task":
        return FailTask(draw(st.integers(0, horizon_ms)), draw(st.sampled_from(subtasks)))
    if kind == "raise_at_record":
        op, p = draw(st.sampled_from(sorted(job.operators().items())))
        return RaiseAtRecord(op, draw(st.integers(0, p - 1)), draw(st.integers(1, max(1, max_record))),
                             draw(st.integers(0, 2)))
    if kind == "slow_checkpoint_store":
        return SlowCheckpointStore(*_span(draw, horizon_ms), draw(st.integers(2, 100)))
    if kind == "lose_rpc":
        return LoseRpc(*_span(draw, horizon_ms), draw(st.sampled_from(RPC_KINDS)),
                       draw(st.none() | st.sampled_from(tms)))
    ends = tms + [JOBMANAGER] if kind == "partition" else tms
    a = draw(st.sampled_from(ends))
    b = draw(st.sampled_from([e for e in ends if e != a]))
    if kind == "partition":
        return Partition(*_span(draw, horizon_ms), a, b)
    return SlowLink(*_span(draw, horizon_ms), a, b, draw(st.integers(2, 50)))


@st.composite
def fault_plans(draw: st.DrawFn, job: JobSpec, cluster: ClusterSpec, horizon_ms: int,
                kinds: Sequence[str] = FAULT_KINDS, min_faults: int = 0, max_faults: int = 3,
                max_record: int = 300) -> FaultPlan:
    """Plans of `min_faults..max_faults` faults of `kinds` that name `job`'s subtasks and operators and
    `cluster`'s machines, at times in 0..horizon_ms (intervals up to half of it long); a user function
    raises at a record in 1..max_record.

    A slow link needs two TaskManagers: on a cluster of one, `slow_link` is left out of `kinds`
    (and a plan of nothing else is empty).
    """
    usable = [k for k in kinds if k != "slow_link" or cluster.task_managers > 1]
    if not usable:
        return FaultPlan()
    subtasks = job.subtasks() if "fail_task" in usable else []
    forever: set[str] = set()
    count = draw(st.integers(min_faults, max_faults))
    return FaultPlan(tuple(_fault(draw, draw(st.sampled_from(usable)), job, cluster, subtasks, horizon_ms,
                                  max_record, forever) for _ in range(count)))


@st.composite
def cases(draw: st.DrawFn, jobs: st.SearchStrategy[JobSpec] | None = None,
          inputs: st.SearchStrategy[tuple[int, ...]] | None = None, fault_kinds: Sequence[str] = FAULT_KINDS,
          min_faults: int = 0, max_faults: int = 3, backpressure: bool = False) -> Case:
    """Whole cases: a job (default `jobs()`), an input (default `inputs()`), a cluster for the job
    (`clusters(job, backpressure=backpressure)`), a fault plan over the time the input takes to arrive
    (at least 100 ms; a user function raises at most at the input's length), and a seed."""
    job = draw(jobs if jobs is not None else _JOBS())
    data = draw(inputs if inputs is not None else _INPUTS())
    cluster = draw(clusters(job, backpressure=backpressure))
    horizon_ms = max(100, len(data) * job.pace_ms)
    plan = draw(fault_plans(job, cluster, horizon_ms, fault_kinds, min_faults, max_faults, max_record=len(data)))
    return Case(job, data, cluster, plan, draw(st.integers(0, 2**16)))
