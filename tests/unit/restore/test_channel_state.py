"""In-flight data of unaligned checkpoints: replayed before new input, at the same parallelism only.

A slow `counts` operator backpressures the sources, so the unaligned
checkpoints of the run record buffers on the channels between them: on the
consumer's side (what the barrier overtook in its input) and on the
producer's (what it overtook in the output queue). Restored, each channel's
recorded input comes first, then the producer's recorded output.
"""

from __future__ import annotations

import pytest

from sim import ClusterSpec, CostModel, Simulation, TraceLevel
from sim.runtime.restore import RestoreError, plan_restore
from sim.state import serde
from sim.state.storage import LoadedCheckpoint, checkpoint_ids, load_checkpoint

from tests.unit.restore.harness import TaskHarness
from tests.unit.restore.jobs import KEYS, RECORDS, counting
from tests.unit.restore.test_timers_and_windows import timers_job


def _unaligned(parallelism: int, chaining: bool = True):
    env = counting(parallelism)
    env.get_checkpoint_config().enable_unaligned_checkpoints()
    if not chaining:
        env.disable_operator_chaining()
    return env


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> list[LoadedCheckpoint]:
    root = tmp_path_factory.mktemp("unaligned")
    cluster = ClusterSpec(task_managers=2, slots_per_task_manager=1, cores_per_task_manager=1,
                          costs=CostModel(operator_cpu_ns={"counts": 20_000}))
    result = Simulation(_unaligned(2), cluster=cluster, seed=1, trace_level=TraceLevel.CHECKPOINTS,
                        checkpoint_dir=str(root)).run(until_ms=100)
    assert result.status == "RUNNING", result.failure
    loaded = [load_checkpoint(root / f"chk-{cid}") for cid in checkpoint_ids(root)]
    assert len(loaded) >= 3
    return loaded


def _recorded(checkpoint: LoadedCheckpoint, side: str) -> dict[str, list]:
    out = {}
    for (task, index) in checkpoint.subtasks:
        for channel, buffers in checkpoint.channel_state(task, index).get(side, {}).items():
            out[channel] = [serde.decode(b) for b in buffers]
    return out


def test_a_channels_recovered_input_is_its_recorded_input_then_its_producers_recorded_output(checkpoints):
    both = 0
    for checkpoint in checkpoints:
        inputs, outputs = _recorded(checkpoint, "input"), _recorded(checkpoint, "output")
        plan = plan_restore(checkpoint, TaskHarness(_unaligned(2)).eg)
        found = {ch: buffers for task in plan.tasks.values() for ch, buffers in task.recovered_inputs.items()}
        assert found == {ch: inputs.get(ch, []) + outputs.get(ch, []) for ch in {*inputs, *outputs}}
        both += len(set(inputs) & set(outputs))
    assert both > 0  # some channel had in-flight data on both sides


@pytest.mark.parametrize("index", [0, 1, 2])
def test_replaying_the_in_flight_data_first_counts_every_number_exactly_once(checkpoints, index):
    checkpoint = checkpoints[index]
    harness = TaskHarness(_unaligned(2))
    harness.restore(plan_restore(checkpoint, harness.eg))
    replayed = [buffer for task in harness.of("counts") for _, buffer in task.recovered_inputs]
    assert replayed and all(b.size_bytes == 64 * len(b.values) and b.timestamps is None for b in replayed)
    harness.open()
    harness.finish()
    last = {key: count for _, (key, count) in harness.written()}
    assert last == {k: RECORDS // KEYS for k in range(KEYS)}
    harness.dispose()


@pytest.mark.parametrize("parallelism", [3, 1])
def test_an_unaligned_checkpoint_cannot_be_rescaled(checkpoints, parallelism):
    with pytest.raises(RestoreError, match=rf"checkpoint 1 \(.*chk-1\) holds in-flight data of channel "
                                           rf"'source->map\[\d\]->counts->sink\[\d\]' \(an unaligned checkpoint\), "
                                           rf"and task .* had parallelism 2, now {parallelism}: an unaligned "
                                           rf"checkpoint cannot be rescaled here"):
        plan_restore(checkpoints[0], TaskHarness(_unaligned(parallelism)).eg)


def test_in_flight_data_of_a_channel_the_job_does_not_have_is_refused(checkpoints):
    """Without chaining the tasks, and so the channels, have other names."""
    with pytest.raises(RestoreError, match=r"holds in-flight data of channel 'source->map\[0\]->counts->sink\[\d\]' "
                                           r"\(an unaligned checkpoint\), but the job has no such channel"):
        plan_restore(checkpoints[0], TaskHarness(_unaligned(2, chaining=False)).eg)


def test_recovered_records_of_a_job_with_event_time_get_their_timestamps_back():
    harness = TaskHarness(timers_job(2))
    channel = next(ch for ch in harness.eg.channels if ch.consumer.startswith("process"))
    recorded = [serde.encode([[(3, 103), 103], [(3, 110), None]])]
    payloads = {s.id: {"subtask": s.index, "operators": {},
                       "channel_state": {"input": {channel.id: recorded} if s.id == channel.consumer else {}}}
                for s in harness.eg.subtasks}
    harness.restore(plan_restore(LoadedCheckpoint.from_payloads(1, "checkpoint", {}, payloads), harness.eg))
    (index, buffer), = harness.tasks[channel.consumer].recovered_inputs
    assert index == channel.input_index
    assert (buffer.values, buffer.timestamps, buffer.size_bytes) == ([(3, 103), (3, 110)], [103, None], 128)
    harness.dispose()
