"""Credit-based flow control and backpressure on the simulated network.

A remote input channel starts with its exclusive buffers as credit and
announces more as buffers are recycled or floating buffers are granted; a
sender ships a data buffer only while it holds credit. A slow consumer
therefore stops granting credit and its producers block on output
(backpressure), which shows as BackpressureStarted/Ended and a low busy share
(flink-facts.md §3).
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from sim import ClusterSpec, CostModel, LinkSpec, NetworkConfig, Simulation
from sim.api import StreamExecutionEnvironment
from sim.trace import (
    BackpressureEnded, BackpressureStarted, BufferConsumed, BufferFlushed, BufferReceived, BufferSent,
    CreditAnnounced,
)

UPSTREAM = ["source->map[0]", "source->map[1]"]


def _run(sink_cpu_ns: int, records: int = 20_000, network: NetworkConfig | None = None,
         link: LinkSpec | None = None, seed: int = 3):
    """source -> map (p=2, chained) -rebalance-> sink (p=2), one slot per TaskManager on two TaskManagers."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.from_sequence(1, records).map(lambda v: v).rebalance().add_sink(lambda v: None)
    cluster = ClusterSpec(task_managers=2, slots_per_task_manager=1,
                          costs=CostModel(operator_cpu_ns={"sink": sink_cpu_ns}),
                          network=network or NetworkConfig(), link=link or LinkSpec())
    result = Simulation(env, cluster=cluster, seed=seed).run()
    assert result.status == "FINISHED"
    assert len(result.outputs["sink"]) == records
    return result


@pytest.fixture(scope="module")
def fast():
    return _run(sink_cpu_ns=1_000)


@pytest.fixture(scope="module")
def slow():
    return _run(sink_cpu_ns=200_000)


def _remote(result, channel_id: str) -> bool:
    ch = next(c for c in result.execution_graph.channels if c.id == channel_id)
    return result.placements[ch.producer].taskmanager != result.placements[ch.consumer].taskmanager


def test_the_job_mixes_local_and_remote_channels(slow) -> None:
    """Sanity: one slot per TaskManager puts subtask i on tm-i, so the rebalance edge has both kinds of channel."""
    kinds = {_remote(slow, ch.id) for ch in slow.execution_graph.channels}
    assert kinds == {True, False}


def test_slow_sink_backpressures_the_upstream_tasks(slow, fast) -> None:
    """Both upstream subtasks report backpressure with a slow sink, none with a fast one; sinks never do."""
    started = {e.task for e in slow.trace.of_type(BackpressureStarted)}
    assert started == set(UPSTREAM)
    assert not fast.trace.of_type(BackpressureStarted)
    for task in UPSTREAM:
        assert slow.metrics[task].backpressured_us > 0


def test_backpressure_intervals_alternate_per_task(slow) -> None:
    """Per task, Started and Ended alternate, start with Started, and each interval has non-negative length."""
    per_task = defaultdict(list)
    for e in slow.trace.of_type(BackpressureStarted, BackpressureEnded):
        per_task[e.task].append(e)
    for task, events in per_task.items():
        kinds = [type(e) for e in events]
        assert kinds == [BackpressureStarted, BackpressureEnded] * (len(events) // 2), task
        total = 0
        for start, end in zip(events[::2], events[1::2]):
            assert end.t_us >= start.t_us
            total += end.t_us - start.t_us
        assert total == slow.metrics[task].backpressured_us


def test_busy_share_of_upstream_drops_with_a_slow_sink(slow, fast) -> None:
    """The upstream busy share (busy_us / lifetime) is far lower when the sink is slow."""
    for task in UPSTREAM:
        fast_share = fast.metrics[task].share(fast.metrics[task].busy_us)
        slow_share = slow.metrics[task].share(slow.metrics[task].busy_us)
        assert fast_share > 0.9
        assert slow_share < 0.5 * fast_share, (task, fast_share, slow_share)
        # the work itself is the same; only waiting changed
        assert slow.metrics[task].busy_us == fast.metrics[task].busy_us


def test_metrics_add_up_to_the_lifetime(slow) -> None:
    """busy + backpressured + idle = lifetime for every subtask, all non-negative."""
    for m in slow.metrics.values():
        assert min(m.busy_us, m.backpressured_us, m.idle_us) >= 0
        assert m.lifetime_us == m.busy_us + m.backpressured_us + m.idle_us > 0


def _credit_timeline_ok(result, initial_credit: int, latency_us: int = LinkSpec().latency_us) -> list[str]:
    """Check, per channel, that every BufferSent is covered by credit that had reached the sender.

    Credit reaches the sender when announced on a local channel, and one link
    latency after the announcement on a remote one. Returns the violations.
    """
    problems = []
    sends = defaultdict(list)
    for e in result.trace.of_type(BufferSent):
        sends[e.channel].append(e.t_us)
    credits = defaultdict(list)
    for e in result.trace.of_type(CreditAnnounced):
        credits[e.channel].append((e.t_us, e.credits))
    for channel, times in sends.items():
        delay = latency_us if _remote(result, channel) else 0
        arrived = sorted((t + delay, c) for t, c in credits[channel])
        for count, t in enumerate(sorted(times), start=1):
            available = initial_credit + sum(c for at, c in arrived if at <= t)
            if count > available:
                problems.append(f"{channel}: buffer {count} sent at {t} with only {available} credits")
    return problems


@pytest.mark.parametrize("which", ["fast", "slow"])
def test_buffers_sent_never_exceed_credit(which: str, request) -> None:
    """Per channel, BufferSent up to any time <= 2 exclusive credits + credits announced (and arrived) so far."""
    result = request.getfixturevalue(which)
    assert result.trace.of_type(BufferSent)
    assert _credit_timeline_ok(result, initial_credit=2) == []


def test_credit_is_the_binding_constraint_with_a_slow_sink(slow) -> None:
    """A green credit check is not empty: with a slow sink some sends happen exactly when credit arrives."""
    tight = 0
    for channel in {e.channel for e in slow.trace.of_type(BufferSent)}:
        delay = LinkSpec().latency_us if _remote(slow, channel) else 0
        arrivals = {e.t_us + delay for e in slow.trace.of_type(CreditAnnounced) if e.channel == channel}
        tight += sum(1 for e in slow.trace.of_type(BufferSent) if e.channel == channel and e.t_us in arrivals)
    assert tight > 0


def _held_over_time(result) -> tuple[dict[str, int], dict[str, int]]:
    """Peak data buffers held per input channel and per consumer gate.

    A buffer is held from BufferReceived until it is recycled, i.e. until its
    BufferConsumed step ends (its t_us: steps are stamped when they end). At equal times, recycling comes
    first: the credit it frees is what lets the next buffer in.
    """
    consumer_of = {ch.id: ch.consumer for ch in result.execution_graph.channels}
    changes = []
    for e in result.trace.of_type(BufferReceived):
        changes.append((e.t_us, 1, e.channel, +1))
    for e in result.trace.of_type(BufferConsumed):
        changes.append((e.t_us, 0, e.channel, -1))
    held_channel, held_gate = defaultdict(int), defaultdict(int)
    peak_channel, peak_gate = defaultdict(int), defaultdict(int)
    for _, _, channel, delta in sorted(changes):
        gate = consumer_of[channel]
        held_channel[channel] += delta
        held_gate[gate] += delta
        assert held_channel[channel] >= 0 and held_gate[gate] >= 0
        peak_channel[channel] = max(peak_channel[channel], held_channel[channel])
        peak_gate[gate] = max(peak_gate[gate], held_gate[gate])
    return dict(peak_channel), dict(peak_gate)


@pytest.mark.parametrize("which", ["fast", "slow"])
def test_input_never_holds_more_than_exclusive_plus_floating(which: str, request) -> None:
    """Per channel at most buffers_per_channel + floating (2 + 8); per gate at most #channels * 2 + 8."""
    result = request.getfixturevalue(which)
    config = NetworkConfig()
    peak_channel, peak_gate = _held_over_time(result)
    assert max(peak_channel.values()) <= config.buffers_per_channel + config.floating_buffers_per_gate
    for gate, peak in peak_gate.items():
        channels = len(result.execution_graph.subtask(gate).inputs)
        assert peak <= channels * config.buffers_per_channel + config.floating_buffers_per_gate, gate


def test_slow_consumer_uses_floating_buffers(slow) -> None:
    """With a backlog the consumer asks for floating buffers: some channel holds more than its 2 exclusive ones."""
    config = NetworkConfig()
    peak_channel, peak_gate = _held_over_time(slow)
    assert max(peak_channel.values()) > config.buffers_per_channel
    # the gate bound is reached, so the bound check above is not vacuous
    assert max(peak_gate.values()) == 2 * config.buffers_per_channel + config.floating_buffers_per_gate
    assert any(e.credits > 1 for e in slow.trace.of_type(CreditAnnounced))


def test_tiny_network_config_still_respects_credit() -> None:
    """One exclusive buffer per channel and one floating per gate: the bounds follow the configuration."""
    config = NetworkConfig(buffers_per_channel=1, floating_buffers_per_gate=1, max_buffers_per_channel=2)
    result = _run(sink_cpu_ns=50_000, records=20_000, network=config)
    assert _credit_timeline_ok(result, initial_credit=1) == []
    peak_channel, peak_gate = _held_over_time(result)
    assert max(peak_channel.values()) <= 2
    assert max(peak_gate.values()) <= 2 * 1 + 1
    assert result.trace.of_type(BackpressureStarted)


def test_remote_transfer_time_shows_in_arrival() -> None:
    """On a slow remote link, arrival - send >= size / bandwidth + latency; local channels arrive at once."""
    link = LinkSpec(latency_us=500, bandwidth_bytes_per_s=10_000_000)  # 10 MB/s: a 32 KiB buffer takes ~3.3 ms
    result = _run(sink_cpu_ns=1_000, records=4_000, link=link)
    size = {(e.channel, e.seq): e.size_bytes for e in result.trace.of_type(BufferFlushed)}
    remote_seen = local_seen = 0
    exact = 0
    for e in result.trace.of_type(BufferSent):
        wire_us = -(-size[(e.channel, e.seq)] * 1_000_000 // link.bandwidth_bytes_per_s)
        if _remote(result, e.channel):
            remote_seen += 1
            assert e.arrival_us - e.t_us >= wire_us + link.latency_us, e
            exact += e.arrival_us - e.t_us == wire_us + link.latency_us
        else:
            local_seen += 1
            assert e.arrival_us == e.t_us, e
    assert remote_seen and local_seen
    assert exact > 0, "an idle NIC should give exactly transfer + latency"
    received = {(e.channel, e.seq): e.t_us for e in result.trace.of_type(BufferReceived)}
    for e in result.trace.of_type(BufferSent):
        assert received[(e.channel, e.seq)] == e.arrival_us


def test_nic_serialises_transmissions() -> None:
    """Buffers leaving one TaskManager over the wire never overlap on its NIC."""
    link = LinkSpec(latency_us=0, bandwidth_bytes_per_s=10_000_000)
    result = _run(sink_cpu_ns=1_000, records=4_000, link=link)
    size = {(e.channel, e.seq): e.size_bytes for e in result.trace.of_type(BufferFlushed)}
    producer_tm = {ch.id: result.placements[ch.producer].taskmanager for ch in result.execution_graph.channels}
    per_nic = defaultdict(list)
    for e in result.trace.of_type(BufferSent):
        if _remote(result, e.channel):
            wire_us = -(-size[(e.channel, e.seq)] * 1_000_000 // link.bandwidth_bytes_per_s)
            per_nic[producer_tm[e.channel]].append((e.arrival_us - wire_us, e.arrival_us))
    assert per_nic
    for tm, spans in per_nic.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end, tm


def test_one_full_subpartition_blocks_the_writer() -> None:
    """All records to one key: that subpartition's queue stops at max_buffers_per_channel (10), below the
    pool of 2 channels * 2 + 8 = 12, and the producers are backpressured."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.from_sequence(1, 40_000).map(lambda v: v).key_by(lambda v: 0).add_sink(lambda v: None)
    cluster = ClusterSpec(task_managers=2, slots_per_task_manager=1,
                          costs=CostModel(operator_cpu_ns={"sink": 100_000}))
    result = Simulation(env, cluster=cluster, seed=1).run()
    assert result.status == "FINISHED"
    queued, peak = defaultdict(int), defaultdict(int)
    for e in result.trace.of_type(BufferFlushed, BufferSent):  # both are emitted when they happen
        queued[e.channel] += 1 if isinstance(e, BufferFlushed) else -1
        peak[e.channel] = max(peak[e.channel], queued[e.channel])
    config = NetworkConfig()
    # key 0 is in key group 94, which subtask 1 of 2 owns: the channels to sink[0] carry no data
    assert dict(peak) == {"source->map[0]->sink[1]": config.max_buffers_per_channel,
                          "source->map[1]->sink[1]": config.max_buffers_per_channel}
    assert {e.task for e in result.trace.of_type(BackpressureStarted)} == set(UPSTREAM)
