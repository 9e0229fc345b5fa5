"""Unaligned checkpoints that start aligned (an aligned-checkpoint timeout) and recover exactly once: what a late
promotion overtakes, and what a timeout in the middle of a step must not take. Both cases were found by the
unaligned exactly-once property (tests/property) and are pinned here."""

from __future__ import annotations

from sim import ClusterSpec, CostModel, FaultPlan, LinkSpec, NetworkConfig
from sim.testing import Case, JobSpec, Step
from sim.trace import AlignmentTimedOut, BarrierPromoted, ChannelStatePersisted, SnapshotTaken, SubtaskAcknowledged

ONE_CORE = dict(task_managers=1, cores_per_task_manager=1, link=LinkSpec(latency_us=0),
                network=NetworkConfig(segment_size_bytes=512), rpc_latency_us=0, heartbeat_interval_ms=10,
                heartbeat_timeout_ms=20)


def _of(trace, kind, checkpoint_id, task=None):
    return [e for e in trace.of_type(kind)
            if e.checkpoint_id == checkpoint_id and task in (None, getattr(e, "task", None))]


def test_a_barrier_promoted_after_the_snapshot_still_persists_what_it_overtakes():
    """A slow `pair` (4.8 ms a record) feeds the sink on one core; checkpoint 2's barrier waits behind 7 buffers
    when the source takes its snapshot at 100.9 ms, and the 1 ms alignment timeout promotes it at 101 ms. The
    source's asynchronous part had already gathered its channel state, so the 7 overtaken buffers were in no
    checkpoint: the crash at 127 ms restored checkpoint 2 and lost 7 records. The asynchronous part now waits
    until every timeoutable barrier has been sent or promoted."""
    job = JobSpec(parallelism=1, keys=1, pace_ms=4, checkpointing="unaligned", alignment_timeout_ms=1,
                  buffer_timeout_ms=0, restart_delay_ms=0, sink_partitions=1, steps=(Step("rebalance"),))
    cluster = ClusterSpec(slots_per_task_manager=1, costs=CostModel(operator_cpu_ns={"pair": 4_800_000}), **ONE_CORE)
    case = Case(job, (0,) * 40, cluster, FaultPlan().crash_taskmanager("tm-0", at_ms=127, back_after_ms=0))
    run, reference = case.run(), case.reference()
    trace = run.result.trace
    (snapshot,) = _of(trace, SnapshotTaken, 2, "source->pair[0]")
    (promoted,) = _of(trace, BarrierPromoted, 2)
    (persisted,) = _of(trace, ChannelStatePersisted, 2, "source->pair[0]")
    (ack,) = _of(trace, SubtaskAcknowledged, 2, "source->pair[0]")
    assert snapshot.t_us < promoted.t_us == persisted.t_us == 101_000 < ack.t_us
    assert (persisted.side, persisted.buffers, ack.persisted_in_flight_bytes) == ("output", 7, 448)
    assert run.result.status == "FINISHED" and case.check(run, reference), case.check(run, reference).explain()


def test_an_alignment_timeout_waits_for_the_step_under_way():
    """add4[0] takes a buffer from the slow filter3[2] at 101.6 ms and processes it, but its step waits for the
    one core until 108.4 ms; the alignment timeout passed at 102 ms, in the middle of that step, and started
    persisting the channel, so the buffer, already processed, was also kept as channel state of checkpoint 1.
    The restore replayed it: one duplicate. The timeout is now a mailbox action, run after the step."""
    job = JobSpec(parallelism=1, keys=16, pace_ms=5, checkpointing="unaligned", interval_ms=100,
                  alignment_timeout_ms=2, buffer_timeout_ms=0, restart_delay_ms=403, sink_partitions=3, steps=(
                      Step("explode", 3), Step("sum", parallelism=4), Step("filter", 5, parallelism=4),
                      Step("add", 1, parallelism=3)))
    cluster = ClusterSpec(slots_per_task_manager=4, costs=CostModel(operator_cpu_ns={"filter3": 6_760_900}),
                          **ONE_CORE)
    data = (0, 0, 0, 0, 0, 0, 0, 0, 307, 0, 0, 372, 804, 0, 0, 0, 308, 0, 0, 0, 0, 55, 0, 0, 0)
    case = Case(job, data, cluster, FaultPlan().fail_task("source->pair->explode1[0]", at_ms=263))
    run, reference = case.run(), case.reference()
    trace = run.result.trace
    (timed_out,) = [e for e in trace.of_type(AlignmentTimedOut) if (e.task, e.checkpoint_id) == ("add4[0]", 1)]
    assert timed_out.t_us == 108_421  # when its step ended, not at the deadline (102 ms)
    assert not _of(trace, ChannelStatePersisted, 1, "add4[0]")
    assert run.result.status == "FINISHED" and case.check(run, reference), case.check(run, reference).explain()


def test_a_promoted_barrier_overtakes_only_what_was_queued_in_front_of_it():
    """Found by the unaligned property (HYPOTHESIS_PROFILE=thorough), as shrunk: two crashes at 0 ms restart the
    job at 3 ms; the source snapshots checkpoint 1 at 34 ms and then writes its next record behind the queued
    barrier; the 1 ms timeout promotes the barrier at 35 ms. The promotion took every buffer of the queue as
    output channel state, the one behind it too, which the source also replays after the crash at 40 ms: one
    record counted twice, (0, 21) where the job counts to 20."""
    job = JobSpec(parallelism=1, keys=1, checkpointing="unaligned", interval_ms=31, alignment_timeout_ms=1,
                  buffer_timeout_ms=0, restart_delay_ms=0, sink_partitions=1, steps=(Step("count"), Step("add", 1)))
    cluster = ClusterSpec(slots_per_task_manager=1, **{**ONE_CORE, "cores_per_task_manager": 2},
                          costs=CostModel(operator_cpu_ns={"add2": 3_550_736}))
    plan = (FaultPlan().crash_taskmanager("tm-0", at_ms=0, back_after_ms=3).crash_taskmanager("tm-0", 0, 0)
            .crash_taskmanager("tm-0", 40, 0))
    case = Case(job, (0,) * 19, cluster, plan)
    run, reference = case.run(), case.reference()
    trace = run.result.trace
    (snapshot,) = _of(trace, SnapshotTaken, 1, "source->pair[0]")
    (promoted,) = _of(trace, BarrierPromoted, 1)
    (output_state,) = [e for e in _of(trace, ChannelStatePersisted, 1) if e.side == "output"]
    assert (snapshot.t_us, promoted.t_us, output_state.buffers) == (34_020, 35_000, 4)
    assert run.result.status == "FINISHED" and case.check(run, reference), case.check(run, reference).explain()
