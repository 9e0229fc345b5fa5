"""An idle partition stalls the watermark until `with_idleness` lets it go.

Teaching point: a source runs one watermark generator per partition and
emits the minimum. Here partition 1 of a two-partition log has one early
event and then nothing, while partition 0 keeps flowing. Partition 1's
watermark stays where its last event left it, so the minimum (and with it
every window downstream) stalls: no window fires until the input ends. With
`with_idleness(500 ms)` the silent partition is marked idle after 500 ms of
processing time and leaves the minimum: the watermark moves and windows fire
on time. Run `build(seed, idleness_ms=None)` to see the stall.

Flink concepts: per-partition (per-split) watermarks, the minimum over
inputs, idle sources, `WatermarkStrategy.with_idleness`, the watermark valve.

Seeds: 1.
"""

from sim import Simulation
from sim.api import (
    Duration, ReaderPoll, Source, SourceReader, StreamExecutionEnvironment, Time, TumblingEventTimeWindows,
    WatermarkStrategy,
)

SEEDS = (1,)
EVENTS_PER_PARTITION_0 = 60
SPACING_MS = 100


class TwoPartitionLog(Source):
    """Partition 0: an event every 100 ms (event time = arrival). Partition 1: one event at 0, then silence.

    Both partitions are read by one reader (parallelism 1), each with its own
    split id, so each gets its own watermark generator.
    """

    name = "two-partition log"
    parallel = False

    def create_reader(self, index: int, parallelism: int) -> SourceReader:
        return _Reader()


class _Reader(SourceReader):
    def __init__(self) -> None:
        self.sent = 0

    def split_ids(self) -> list[str]:
        return ["partition-0", "partition-1"]

    def poll(self, max_records: int, now_us: int) -> ReaderPoll:
        if self.sent >= EVENTS_PER_PARTITION_0:
            return ReaderPoll([], True)
        due = self.sent * SPACING_MS * 1000
        if now_us < due:
            return ReaderPoll([], False, due)
        t = self.sent * SPACING_MS
        self.sent += 1
        if t == 0:
            return ReaderPoll([("p1", 0), ("p0", 0)], False, timestamps=[0, 0], splits=["partition-1", "partition-0"])
        return ReaderPoll([("p0", t)], False, timestamps=[t], splits=["partition-0"])

    def snapshot_state(self) -> dict:
        return {"sent": self.sent}

    def restore_state(self, state: dict) -> None:
        self.sent = int(state["sent"])


def build(seed: int, idleness_ms: int | None = 500) -> Simulation:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.get_config().set_auto_watermark_interval(50)
    strategy = WatermarkStrategy.for_monotonous_timestamps()
    if idleness_ms is not None:
        strategy = strategy.with_idleness(Duration.of_millis(idleness_ms))
    (env.from_source(TwoPartitionLog(), strategy, "log")
        .key_by(lambda e: e[0])
        .window(TumblingEventTimeWindows.of(Time.seconds(1)))
        .reduce(lambda a, b: (a[0], max(a[1], b[1]))).name("per second")
        .add_sink(lambda v: None).name("fired"))
    name = "idle partition" + (f" with idleness {idleness_ms} ms" if idleness_ms is not None else " (no idleness)")
    return Simulation(env, seed=seed, job_name=name)


def report(result) -> str:
    fired = result.outputs["fired"]
    first = f"{fired[0].t_us / 1000:.0f} ms" if fired else "never"
    return "\n".join([
        f"windows fired: {len(fired)}; the first at {first} of processing time "
        f"(input ends at {result.end_time_us / 1000:.0f} ms)",
        "without idleness the silent partition holds the watermark at its last event, so every window "
        "waits for the end of input",
    ])
