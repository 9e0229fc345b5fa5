"""End-to-end exactly-once under faults: what a read-committed consumer sees equals the output without faults.

Property: for a random job (source -> keyed and per-record steps -> a
transactional sink, parallelism 1-4) with exactly-once checkpoints, on a
random cluster, under a random plan of crashes, failed tasks, raising user
functions, partitions, lost RPCs and slow links or storage, the job recovers
and finishes, and the committed output of its sink holds exactly the values
of the same job without faults, each as often, and per key in the same order
wherever Flink fixes that order (see `JobSpec.order_at_sink`). Checkpoint ids
increase across restarts, and no task reads a channel it blocked for
alignment. The run without faults writes what the job's model predicts.

A failing example prints its case and a `python -m sim case '<json>'`
command that replays it.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import example, given, note, settings

from sim import ClusterSpec, CostModel, FaultPlan, LinkSpec, NetworkConfig
from sim.testing import Case, JobSpec, Step, cases, failure_during_checkpoint, jobs, recovery_replayed_in_flight
from sim.trace import JobRestored
from tests.conftest import examples
from tests.property.tally import Tally


def _per_key(values: list) -> dict:
    return {k: [v for v in values if v[0] == k] for k in sorted({v[0] for v in values})}


def check_exactly_once_under_faults(case: Case, tally: Tally) -> None:
    """Run `case` with and without its faults; assert the property; tally what the run exercised."""
    note(case.describe())
    reference = case.reference()
    assert reference.result.status == "FINISHED", \
        f"the job without faults did not finish:\n{reference.result.summary()}"
    expected = case.expected()
    assert Counter(map(repr, reference.output)) == Counter(map(repr, expected)), \
        "the job without faults wrote something else than its model"
    if case.job.order_key() is not None:
        assert _per_key(reference.output) == _per_key(expected), "the job without faults reordered a key"
    run = case.run()
    assert run.result.status == "FINISHED", (f"expected the job to recover and finish, found it "
                                             f"{run.result.status}:\n{run.result.summary()}")
    report = case.check(run, reference)
    assert report, report.explain()
    trace = run.result.trace
    tally.example()
    tally.saw("a failure during a checkpoint", bool(failure_during_checkpoint(trace)))
    tally.saw("a restore from a checkpoint", any(e.checkpoint_id is not None for e in trace.of_type(JobRestored)))
    tally.saw("a restore from nothing", any(e.checkpoint_id is None for e in trace.of_type(JobRestored)))
    tally.saw("a replay of in-flight data", bool(recovery_replayed_in_flight(trace)))
    tally.saw("in-flight data persisted", any(c.persisted_in_flight_bytes > 0 for c in run.result.checkpoints))


CRASH_MID_RUN = Case(
    JobSpec(parallelism=2, keys=7, steps=(Step("count"),)), tuple(range(600)),
    ClusterSpec(task_managers=2, slots_per_task_manager=1, heartbeat_interval_ms=100, heartbeat_timeout_ms=300),
    FaultPlan().crash_taskmanager("tm-1", at_ms=500, back_after_ms=200), seed=1)
"""tm-1 crashes at 500 ms while checkpoint 10 is in progress; the job restores checkpoint 9 and finishes."""

IN_FLIGHT_REPLAYED = Case(
    JobSpec(parallelism=2, keys=1, pace_ms=1, checkpointing="unaligned", interval_ms=10, restart_delay_ms=0,
            sink_partitions=1), (0,) * 17,
    ClusterSpec(task_managers=1, slots_per_task_manager=2, cores_per_task_manager=1, link=LinkSpec(latency_us=0),
                network=NetworkConfig(segment_size_bytes=512), costs=CostModel(operator_cpu_ns={"pair": 1_200_000}),
                rpc_latency_us=0, heartbeat_interval_ms=10, heartbeat_timeout_ms=20),
    FaultPlan().crash_taskmanager("tm-0", at_ms=17, back_after_ms=0))
"""Found by `find` and shrunk: a slow `pair` backs records up, unaligned checkpoint 1 persists 9 of them in
flight, tm-0 crashes and comes back at 17 ms, and the sinks replay those 9 records before new input."""


def test_the_pinned_cases_exercise_what_they_are_pinned_for():
    """Sometimes-properties on the pinned examples, so that they keep testing what they were chosen for."""
    run = CRASH_MID_RUN.run()
    (evidence,) = failure_during_checkpoint(run.result.trace).evidence
    assert evidence.checkpoint_ids == (10,) and run.result.trace.of_type(JobRestored)[0].checkpoint_id == 9
    replayed = recovery_replayed_in_flight(IN_FLIGHT_REPLAYED.run().result.trace)
    assert sum(e.event.records for e in replayed.evidence) == 9


def test_aligned_checkpoints_commit_exactly_once_under_faults():
    """Property (module docstring) with aligned exactly-once checkpoints; failures hit checkpoints in progress,
    and restores start from checkpoints and from nothing."""
    tally = Tally()

    @settings(max_examples=examples(200))
    @given(cases(jobs=jobs(checkpointing=("aligned",)), min_faults=1))
    @example(CRASH_MID_RUN)
    def aligned(case: Case) -> None:
        check_exactly_once_under_faults(case, tally)

    aligned()
    tally.assert_seen("a failure during a checkpoint", "a restore from a checkpoint", "a restore from nothing")


def test_unaligned_checkpoints_commit_exactly_once_under_faults_and_backpressure():
    """Property (module docstring) with unaligned checkpoints (some starting aligned, with a timeout) while a
    slow operator backs data up: checkpoints persist in-flight data, and restores replay it."""
    tally = Tally()

    @settings(max_examples=examples(200))
    @given(cases(jobs=jobs(checkpointing=("unaligned",)), min_faults=1, backpressure=True))
    @example(IN_FLIGHT_REPLAYED)
    def unaligned(case: Case) -> None:
        check_exactly_once_under_faults(case, tally)

    unaligned()
    tally.assert_seen("a failure during a checkpoint", "a restore from a checkpoint", "in-flight data persisted",
                      "a replay of in-flight data")


KNOWN_TIMEOUTABLE_DUPLICATES = Case.from_json(
    '{"cluster":{"cores_per_task_manager":2,"costs":{"operator_cpu_ns":{"add1":3980036}},"heartbeat_interval_ms":16,'
    '"heartbeat_timeout_ms":32,"link":{"latency_us":0},"network":{"segment_size_bytes":512},"rpc_latency_us":0,'
    '"slots_per_task_manager":2,"task_managers":2},"faults":[{"at_ms":154,"back_after_ms":0,'
    '"kind":"crash_taskmanager","taskmanager":"tm-0"},{"at_ms":14,"back_after_ms":36,"kind":"crash_taskmanager",'
    '"taskmanager":"tm-0"}],"input":' + str([0] * 148).replace(" ", "") + ',"job":{"alignment_timeout_ms":10,'
    '"buffer_timeout_ms":0,"checkpointing":"unaligned","interval_ms":10,"keys":1,"pace_ms":3,"parallelism":3,'
    '"restart_delay_ms":93,"sink_partitions":1,"steps":[{"arg":1,"kind":"add"}]},"seed":0}')


def test_a_timeoutable_checkpoint_under_a_crash_keeps_exactly_once():
    """A barrier promoted at its alignment timeout takes only the buffers queued in front of it as channel state
    (those behind it were processed twice after the restore: 151 values instead of 148)."""
    case = KNOWN_TIMEOUTABLE_DUPLICATES
    run, reference = case.run(), case.reference()
    assert case.check_output(run, reference)
