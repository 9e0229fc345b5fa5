"""Tests for sim.runtime.checkpoint_events: barriers and markers are small immutable channel events."""

from __future__ import annotations

import dataclasses

import pytest

from sim.runtime.checkpoint_events import BarrierKind, CancelCheckpointMarker, CheckpointBarrier, CheckpointOptions


def test_barrier_kinds_decide_priority_and_blocking():
    expected = {  # kind: (is_priority, blocks_upstream)
        BarrierKind.ALIGNED: (False, True),
        BarrierKind.UNALIGNED: (True, False),
        BarrierKind.TIMEOUTABLE_ALIGNED: (False, True),
        BarrierKind.AT_LEAST_ONCE: (False, False),
    }
    for kind, flags in expected.items():
        barrier = CheckpointBarrier(1, 0, CheckpointOptions(kind))
        assert (barrier.is_priority, barrier.blocks_upstream) == flags, kind
        assert barrier.options.is_unaligned == (kind is BarrierKind.UNALIGNED)


def test_barrier_is_an_immutable_hashable_channel_event():
    barrier = CheckpointBarrier(7, 1_000, CheckpointOptions(BarrierKind.ALIGNED))
    assert barrier.is_event and barrier.name == "Barrier(7)" and repr(barrier) == "Barrier(7)"
    assert barrier.size_bytes == 64
    assert barrier == CheckpointBarrier(7, 1_000, CheckpointOptions(BarrierKind.ALIGNED))
    assert len({barrier, CheckpointBarrier(7, 1_000, CheckpointOptions(BarrierKind.ALIGNED))}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        barrier.checkpoint_id = 8


def test_timeoutable_barrier_deadline_counts_from_the_trigger_time_and_promotion_keeps_the_rest():
    barrier = CheckpointBarrier(3, 1_000, CheckpointOptions(BarrierKind.TIMEOUTABLE_ALIGNED, 250))
    assert barrier.alignment_deadline_us == 1_250
    promoted = barrier.as_unaligned()
    assert promoted.kind is BarrierKind.UNALIGNED and promoted.is_priority
    assert (promoted.checkpoint_id, promoted.timestamp_us, promoted.options.alignment_timeout_us) == (3, 1_000, 250)
    assert barrier.kind is BarrierKind.TIMEOUTABLE_ALIGNED  # the original is untouched
    assert promoted.alignment_deadline_us is None
    assert promoted.as_unaligned() is promoted


def test_cancel_marker_names_its_checkpoint():
    marker = CancelCheckpointMarker(4)
    assert marker.is_event and marker.name == "Cancel(4)" and marker == CancelCheckpointMarker(4)


def test_invalid_options_and_ids_are_refused():
    with pytest.raises(ValueError, match="checkpoint ids start at 1, got 0"):
        CheckpointBarrier(0, 0, CheckpointOptions(BarrierKind.ALIGNED))
    with pytest.raises(ValueError, match="a savepoint is always aligned, got kind UNALIGNED"):
        CheckpointOptions(BarrierKind.UNALIGNED, is_savepoint=True)
    with pytest.raises(ValueError, match="alignment_timeout_us must be a non-negative int"):
        CheckpointOptions(BarrierKind.TIMEOUTABLE_ALIGNED, -1)
    with pytest.raises(TypeError, match="need a BarrierKind"):
        CheckpointOptions("aligned")
