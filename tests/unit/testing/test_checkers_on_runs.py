"""sim.testing checkers on real runs: scenario 03 keeps every always-property; a tampered copy does not."""

from __future__ import annotations

import dataclasses

import pytest

from sim.scenario.loader import load_scenario
from sim.testing import Check, ViolationKind as K, check_run, failure_during_checkpoint
from sim.testing import check_checkpoint_ids_monotonic, check_no_record_on_blocked_channel
from sim.trace import BufferConsumed, ChannelBlocked, ChannelResumed, CheckpointTriggered, Trace
from tests.conftest import SCENARIOS


@pytest.fixture(scope="module")
def aligned():
    """Scenario 03 at its seed: aligned checkpoints, with channels blocked behind a slow link."""
    return load_scenario(str(SCENARIOS / "03_aligned_checkpoints.py")).build(7).run()


def tampered(trace: Trace, index: int, event) -> Trace:
    return Trace(trace.level, [*trace.events[:index], event, *trace.events[index:]])


def test_scenario_03_keeps_its_checkpoint_ids_and_blocked_channels(aligned):
    """Always-properties hold; sometimes-assertion: channels were blocked, so the check was not empty."""
    blocked = check_no_record_on_blocked_channel(aligned.trace)
    assert blocked.ok, blocked.explain()
    assert aligned.trace.of_type(ChannelBlocked)
    ids = check_checkpoint_ids_monotonic(aligned.trace)
    assert ids.ok, ids.explain()
    assert len(aligned.trace.of_type(CheckpointTriggered)) >= 10


def test_a_buffer_slipped_into_a_blocked_span_is_named_with_its_task_channel_and_checkpoint(aligned):
    events = aligned.trace.events
    block = next(i for i, e in enumerate(events) if isinstance(e, ChannelBlocked))
    b = events[block]
    resume = next(i for i, e in enumerate(events[block:], block)
                  if isinstance(e, ChannelResumed) and (e.task, e.channel) == (b.task, b.channel))
    assert resume > block + 1  # the span has room for an event inside
    intruder = BufferConsumed(events[resume - 1].t_us, b.task, b.channel, 999, 512, 100)
    result = check_no_record_on_blocked_channel(tampered(aligned.trace, resume, intruder))
    assert [v.kind for v in result.violations] == [K.RECORD_ON_BLOCKED_CHANNEL]
    message = result.violations[0].message
    assert b.task in message and b.channel in message and f"checkpoint {b.checkpoint_id}" in message
    assert result.violations[0].entities == (b.task, b.channel, f"checkpoint {b.checkpoint_id}")


def test_a_checkpoint_id_triggered_twice_fails_the_real_trace(aligned):
    events = aligned.trace.events
    second = [i for i, e in enumerate(events) if isinstance(e, CheckpointTriggered)][1]
    again = dataclasses.replace(events[second], t_us=events[second].t_us + 1, checkpoint_id=1)
    result = check_checkpoint_ids_monotonic(tampered(aligned.trace, second + 1, again))
    assert [v.kind for v in result.violations] == [K.TRIGGERED_ID_NOT_INCREASING]


def test_a_run_without_faults_never_fails_during_a_checkpoint(aligned):
    """The sometimes-property is false here: nothing failed, so a property test would learn it was not covered."""
    assert not failure_during_checkpoint(aligned.trace)


def test_check_run_judges_the_output_against_a_reference(aligned):
    reference = aligned.values()
    report = check_run(aligned, reference=reference, key=lambda pair: pair[0])
    assert report.ok, report.explain()
    assert [r.check for r in report] == [Check.CHECKPOINT_IDS_MONOTONIC, Check.NO_RECORD_ON_BLOCKED_CHANNEL,
                                         Check.EXACTLY_ONCE]
    replayed = reference[:1000] + reference[500:]  # a replay wrote 500 values twice
    report = check_run(aligned, reference=reference, committed=replayed)
    assert not report
    assert report[Check.EXACTLY_ONCE].kind_counts == ((K.DUPLICATE_VALUE, 500),)
    assert report[Check.CHECKPOINT_IDS_MONOTONIC].ok


def test_check_run_without_a_reference_checks_the_trace_only(aligned):
    report = check_run(aligned)
    assert [r.check for r in report] == [Check.CHECKPOINT_IDS_MONOTONIC, Check.NO_RECORD_ON_BLOCKED_CHANNEL]
    with pytest.raises(KeyError, match="no result of check 'exactly-once'"):
        report[Check.EXACTLY_ONCE]
    with pytest.raises(ValueError, match="expected a reference, found none"):
        check_run(aligned, key=lambda pair: pair[0])
