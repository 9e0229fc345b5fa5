"""Unaligned checkpoints that start aligned (an aligned-checkpoint timeout) and recover exactly once: what a late
promotion overtakes. The case was found by the unaligned exactly-once property (tests/property) and is pinned
here."""

from __future__ import annotations

from sim import ClusterSpec, CostModel, FaultPlan, LinkSpec, NetworkConfig
from sim.testing import Case, JobSpec, Step
from sim.trace import BarrierPromoted, ChannelStatePersisted, SnapshotTaken, SubtaskAcknowledged

ONE_CORE = dict(task_managers=1, cores_per_task_manager=1, link=LinkSpec(latency_us=0),
                network=NetworkConfig(segment_size_bytes=512), rpc_latency_us=0, heartbeat_interval_ms=10,
                heartbeat_timeout_ms=20)


def _of(trace, kind, checkpoint_id, task=None):
    return [e for e in trace.of_type(kind) if e.checkpoint_id == checkpoint_id and task in (None, getattr(e, "task", None))]


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
