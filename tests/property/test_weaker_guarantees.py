"""What at-least-once and no checkpoints promise under faults, and what they do not.

Properties:

- **At-least-once never loses a value.** Under `CheckpointingMode.AT_LEAST_ONCE`
  (either sink), a job whose outputs only grow with its input (per-record
  steps, `count`, `distinct`) writes every value of the same job without
  faults at least as often; so does any job writing to a plain `TopicSink`
  (every write visible at once) under exactly-once checkpoints. Duplicates
  are allowed, and happen. (A running sum under at-least-once checkpoints is
  not at-least-once in its values: its snapshot may already count a record
  that the source then replays, so it counts it twice and skips sums.)
- **Without checkpoints a failure breaks exactly-once.** After a failure
  that stops the job once its plain sink has written, a job restarted from
  scratch (fixed delay) writes every value again, so each value written
  before the failure is duplicated, and nothing is lost; a job that is not
  restarted FAILED, and values are missing unless all had been written.
"""

from __future__ import annotations

from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from sim import ClusterSpec, FaultPlan, LinkSpec
from sim.testing import (
    EXACTLY_ONCE, FAILURE_FAULTS, Case, JobSpec, Step, ViolationKind, cases, check_exactly_once, check_no_loss,
    count_duplicates, jobs,
)
from sim.trace import JobFailing
from tests.conftest import examples
from tests.property.tally import Tally

GROWING = ("add", "rekey", "filter", "explode", "rebalance", "count", "distinct")
"""Step kinds whose outputs only grow with their input: a replayed record adds outputs, never changes them."""

TWO_SENDERS = ClusterSpec(task_managers=2, slots_per_task_manager=1, link=LinkSpec(latency_us=5_000),
                          heartbeat_interval_ms=20, heartbeat_timeout_ms=60)


def _two_senders_one_sink(checkpointing: str) -> Case:
    """Two `add` subtasks on two machines 5 ms apart feed one exactly-once sink; add1[1] fails at 100 ms, after
    checkpoint 1. Under at-least-once checkpoints the sink does not wait for the late barrier: what add1[0]
    sends after its own barrier goes into checkpoint 1's transaction, though the source will replay it."""
    job = JobSpec(parallelism=1, checkpointing=checkpointing, keys=3, buffer_timeout_ms=1,
                  steps=(Step("add", 1, parallelism=2),))
    return Case(job, tuple(range(100)), TWO_SENDERS, FaultPlan().fail_task("add1[1]", at_ms=100), seed=1)


def test_at_least_once_checkpoints_duplicate_what_aligned_ones_commit_once():
    """A pinned example: the same job, cluster and fault; exactly once with aligned checkpoints, five values
    committed twice with at-least-once checkpoints."""
    for checkpointing, duplicates in (("aligned", 0), ("at_least_once", 5)):
        case = _two_senders_one_sink(checkpointing)
        run, reference = case.run(), case.reference()
        assert run.result.status == "FINISHED" and run.result.restarts == 1
        assert count_duplicates(run.output, reference.output) == duplicates
        assert check_no_loss(run.output, reference.output)
        assert bool(check_exactly_once(run.output, reference.output)) is (duplicates == 0)


def test_at_least_once_never_loses_a_value():
    """Property (module docstring): nothing the job writes without faults is missing; duplicates do happen."""
    tally = Tally()
    growing = cases(jobs=jobs(checkpointing=("at_least_once",), sinks=("exactly_once", "at_least_once"),
                              kinds=GROWING), min_faults=1)
    plain_sink = cases(jobs=jobs(checkpointing=EXACTLY_ONCE, sinks=("at_least_once",)), min_faults=1)

    @settings(max_examples=examples(80))
    @given(st.one_of(growing, plain_sink))
    @example(_two_senders_one_sink("at_least_once"))
    def at_least_once(case: Case) -> None:
        note(case.describe())
        reference = case.reference()
        run = case.run()
        assert reference.result.status == run.result.status == "FINISHED", run.result.summary()
        report = case.check(run, reference)  # not an exactly-once case: the output is checked for loss
        assert report, report.explain()
        tally.example()
        tally.saw("a value written twice", count_duplicates(run.output, reference.output) > 0)
        tally.saw("more values than without faults", len(run.output) > len(reference.output))
        tally.saw("duplicates under at-least-once checkpoints", case.job.checkpointing == "at_least_once"
                  and count_duplicates(run.output, reference.output) > 0)

    at_least_once()
    tally.assert_seen("a value written twice", "more values than without faults",
                      "duplicates under at-least-once checkpoints")


def _without_checkpoints(restart: str) -> Case:
    job = JobSpec(parallelism=2, checkpointing="none", sink="at_least_once", restart=restart, restart_delay_ms=50,
                  buffer_timeout_ms=1, keys=5, steps=(Step("count"),))
    return Case(job, tuple(range(100)), TWO_SENDERS, FaultPlan().crash_taskmanager("tm-1", 100, back_after_ms=20))


def test_without_checkpoints_a_crash_duplicates_or_loses():
    """Pinned examples: tm-1 crashes at 100 ms of a 200 ms input, when the sink has written 44 of its 100 values.
    Restarted from scratch, the job writes those 44 twice; not restarted, it FAILED and the other 56 are missing."""
    case = _without_checkpoints("fixed_delay")
    run, reference = case.run(), case.reference()
    assert run.result.status == "FINISHED" and run.result.restarts == 1
    assert count_duplicates(run.output, reference.output) == 44 and check_no_loss(run.output, reference.output)
    run = _without_checkpoints("none").run()
    assert run.result.status == "FAILED" and len(run.output) == 44
    result = check_no_loss(run.output, reference.output)
    assert not result and result.kind_counts == ((ViolationKind.MISSING_VALUE, 56),)


def test_without_checkpoints_a_failure_breaks_exactly_once():
    """Property (module docstring): a failure after the sink has written duplicates (restarted) or loses values
    (not restarted)."""
    tally = Tally()
    no_checkpoints = jobs(checkpointing=("none",), sinks=("at_least_once",), restarts=("fixed_delay", "none"))

    @settings(max_examples=examples(40))
    @given(cases(jobs=no_checkpoints, fault_kinds=sorted(FAILURE_FAULTS), min_faults=1))
    @example(_without_checkpoints("fixed_delay")).via("a crash mid-run, restarted")
    @example(_without_checkpoints("none")).via("a crash mid-run, not restarted")
    def without_checkpoints(case: Case) -> None:
        note(case.describe())
        reference, run = case.reference(), case.run()
        failovers = run.result.trace.of_type(JobFailing)
        if not failovers:  # every fault missed (after the end, or a record never reached): nothing happened
            assert run.result.status == "FINISHED" and check_exactly_once(run.output, reference.output)
            return
        written_before = sum(r.t_us < failovers[0].t_us for r in run.result.outputs["sink"])
        tally.example()
        if case.job.restart == "none":
            assert run.result.status == "FAILED", run.result.summary()
            lost = not check_no_loss(run.output, reference.output)
            assert lost or written_before >= len(reference.output)
            tally.saw("values lost", lost)
        else:
            assert run.result.status == "FINISHED", run.result.summary()
            assert check_no_loss(run.output, reference.output)
            duplicates = count_duplicates(run.output, reference.output)
            assert duplicates >= written_before, f"{written_before} values were written before the first failover"
            tally.saw("values written twice", duplicates > 0)

    without_checkpoints()
    tally.assert_seen("values lost", "values written twice")
