"""The checkpoint scenarios show what they claim, read from their statistics and traces."""

import pytest

from sim.api import CheckpointingMode
from sim.scenario.loader import load_scenario
from sim.trace import BarrierPromoted, ChannelBlocked, ChannelStatePersisted
from tests.conftest import SCENARIOS


def _scenario(name):
    return load_scenario(str(SCENARIOS / name))


@pytest.fixture(scope="module")
def aligned_runs():
    scenario = _scenario("03_aligned_checkpoints.py")
    return scenario, {lat: scenario.module.build(7, slow_link_latency_us=lat).run() for lat in (1_000, 5_000, 20_000)}


def test_alignment_grows_with_the_skew_of_the_slow_channel(aligned_runs):
    """Mean alignment behind the slow link grows with its latency; the other subtask barely aligns."""
    scenario, runs = aligned_runs
    mean = {lat: sum(a) / len(a) for lat, r in runs.items() if (a := scenario.module.alignment_us(r, "count->sink[0]"))}
    assert mean[1_000] < mean[5_000] < mean[20_000]
    assert mean[20_000] >= 20_000  # at least the latency difference
    fast = scenario.module.alignment_us(runs[20_000], "count->sink[1]")
    assert max(fast) < mean[20_000] / 4


def test_aligned_checkpoints_block_channels_and_all_complete(aligned_runs):
    """Sometimes-assertion: channels were blocked while aligning; every triggered checkpoint but the last completed."""
    _, runs = aligned_runs
    result = runs[20_000]
    blocked = {e.channel for e in result.trace.of_type(ChannelBlocked)}
    assert "source->pair[0]->count->sink[0]" in blocked  # the fast channel waits for the slow one's barrier
    statuses = [c.status for c in result.checkpoints]
    assert statuses.count("COMPLETED") >= 10
    assert all(not c.unaligned for c in result.checkpoints)


@pytest.fixture(scope="module")
def backpressure_runs():
    scenario = _scenario("04_unaligned_checkpoints.py")
    return scenario, {u: scenario.module.build(3, unaligned=u).run() for u in (False, True)}


def test_unaligned_checkpoints_are_faster_under_backpressure(backpressure_runs):
    """End-to-end duration drops with unaligned checkpoints; persisted in-flight data grows from zero."""
    scenario, runs = backpressure_runs
    aligned, unaligned = runs[False], runs[True]
    assert scenario.module.mean_end_to_end_ms(unaligned) * 3 < scenario.module.mean_end_to_end_ms(aligned)
    assert scenario.module.persisted_bytes(aligned) == 0
    assert scenario.module.persisted_bytes(unaligned) > 0
    assert all(c.unaligned for c in scenario.module.completed(unaligned))


def test_unaligned_checkpoints_persist_input_and_output_channel_state(backpressure_runs):
    """Sometimes-assertion: in-flight data was persisted on both sides of the exchange, under backpressure."""
    _, runs = backpressure_runs
    result = runs[True]
    sides = {e.side for e in result.trace.of_type(ChannelStatePersisted) if e.size_bytes > 0}
    assert sides == {"input", "output"}
    assert sum(m.backpressured_us for t, m in result.metrics.items() if t.startswith("source")) > 0


def test_aligned_timeout_switches_to_unaligned_and_promotes_barriers():
    """With an aligned-checkpoint timeout, a checkpoint stuck behind backpressure turns unaligned."""
    scenario = _scenario("04_unaligned_checkpoints.py")
    simulation = scenario.module.build(3, unaligned=True)
    simulation.env.get_checkpoint_config().set_aligned_checkpoint_timeout(5)
    result = simulation.run()
    done = scenario.module.completed(result)
    assert any(c.unaligned for c in done)
    assert result.trace.of_type(BarrierPromoted)


@pytest.fixture(scope="module")
def modes():
    scenario = _scenario("05_at_least_once.py")
    return scenario, {m: scenario.module.build(7, m).run() for m in CheckpointingMode}


def test_at_least_once_snapshots_hold_records_after_the_barrier(modes):
    """At-least-once: some snapshot counts records beyond the sources' cut; exactly-once: none ever does."""
    scenario, runs = modes
    beyond = scenario.module.beyond_the_cut(runs[CheckpointingMode.AT_LEAST_ONCE])
    assert max(beyond.values()) > 0
    assert min(beyond.values()) >= 0
    exact = scenario.module.beyond_the_cut(runs[CheckpointingMode.EXACTLY_ONCE])
    assert exact and set(exact.values()) == {0}


def test_at_least_once_never_blocks(modes):
    _, runs = modes
    assert not runs[CheckpointingMode.AT_LEAST_ONCE].trace.of_type(ChannelBlocked)
    assert runs[CheckpointingMode.EXACTLY_ONCE].trace.of_type(ChannelBlocked)
