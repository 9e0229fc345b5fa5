"""Order across a redistributing exchange: kept per sender-receiver pair, and nothing more.

Teaching point: a forward (one-to-one) edge keeps the order of records. A
keyBy exchange keeps order only between each pair of sending and receiving
subtasks; how the streams of different senders interleave at a receiver
depends on timing (here, seeded network jitter). Two seeds give two different,
each exactly reproducible, arrival orders at the sink, and in both every
sender's records arrive in the order it sent them.

Flink concepts: stream partitions, one-to-one vs redistributing exchanges,
ordering guarantees, determinism of the simulation.

Seeds: 1 and 2 (they differ in arrival order; each reproduces exactly).
"""

from sim import ClusterSpec, CostModel, LinkSpec, Simulation
from sim.api import NumberSequenceSource, StreamExecutionEnvironment

SEEDS = (1, 2)
RECORDS_PER_SENDER = 40


def build(seed: int) -> Simulation:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.set_buffer_timeout(0)  # one record per buffer, so each record's journey is visible
    numbers = env.from_source(NumberSequenceSource(0, 2 * RECORDS_PER_SENDER - 1), source_name="numbers")
    tagged = numbers.map(lambda i: (i // RECORDS_PER_SENDER, i % RECORDS_PER_SENDER, i % 10)).name("tag")
    tagged.add_sink(lambda record: None).name("forward_sink")  # one-to-one: chained, same order
    tagged.key_by(lambda record: record[2]).add_sink(lambda record: None).name("sink")
    cluster = ClusterSpec(
        task_managers=2, slots_per_task_manager=1, cores_per_task_manager=1,
        link=LinkSpec(latency_us=300, jitter_us=400),
        costs=CostModel(source_batch_records=1, operator_cpu_ns={"tag": 150_000}),
    )
    return Simulation(env, cluster=cluster, seed=seed, job_name="redistribution order")


def arrivals(result) -> list[tuple[int, int, int]]:
    """(receiver, sender, sequence number) in the order records reached the sink."""
    return [(r.subtask, r.value[0], r.value[1]) for r in result.outputs["sink"]]


def forward_in_order(result) -> bool:
    """The forward sink got each sender's records contiguously and exactly in sending order."""
    for subtask in (0, 1):
        got = [(r.value[0], r.value[1]) for r in result.outputs["forward_sink"] if r.subtask == subtask]
        if got != [(subtask, seq) for seq in range(RECORDS_PER_SENDER)]:
            return False
    return True


def per_pair_in_order(result) -> bool:
    """Every (sender, receiver) pair saw the sender's sequence numbers increase."""
    last: dict[tuple[int, int], int] = {}
    for receiver, sender, seq in arrivals(result):
        if seq <= last.get((sender, receiver), -1):
            return False
        last[(sender, receiver)] = seq
    return True


def senders_interleaved(result) -> bool:
    """Some receiver saw records of both senders mixed (not one sender's block after the other)."""
    for receiver in (0, 1):
        senders = [s for r, s, _ in arrivals(result) if r == receiver]
        switches = sum(1 for a, b in zip(senders, senders[1:]) if a != b)
        if switches > 1:
            return True
    return False


def report(result) -> str:
    order = arrivals(result)
    lines = []
    for receiver in (0, 1):
        seen = " ".join(f"{s}.{q}" for r, s, q in order if r == receiver)
        lines.append(f"sink[{receiver}] received (sender.seq): {seen[:100]} ...")
    return "\n".join(lines + [
        f"forward edge: each subtask got its sender's records exactly in order: {forward_in_order(result)}",
        f"keyBy edge: each sender-receiver pair kept the sender's order: {per_pair_in_order(result)}",
        f"senders interleave differently at a receiver: {senders_interleaved(result)}",
    ])
