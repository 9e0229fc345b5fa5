"""Out-of-order events in tumbling event-time windows: the watermark decides, late data goes aside.

Teaching point: events arrive out of order. A bounded-out-of-orderness
watermark (500 ms) says "no event older than this is still coming"; a 1 s
tumbling window fires when the watermark reaches its end - 1. Most events that
arrive out of order are still in time. The few that arrive more than the bound
late find their window already fired and cleaned up: they are late, and go to
the late-data side output instead of being lost silently. Every click is
counted exactly once, in a window or in the late output. Run
`build(seed, bound_ms=2000)` for a watermark that waits longer: fewer late
clicks, later windows.

Flink concepts: event time, timestamp assigners, bounded-out-of-orderness
watermarks, periodic watermark emission, tumbling windows, lateness, side
outputs, the watermark valve across parallel channels.

Seeds: 1, 2.
"""

import random

from sim import ClusterSpec, LinkSpec, Simulation
from sim.api import (
    Duration, OutputTag, PacedSource, ProcessWindowFunction, StreamExecutionEnvironment, Time,
    TumblingEventTimeWindows, WatermarkStrategy,
)

SEEDS = (1, 2)
USERS = ("ann", "bob", "cid", "dee", "eve")
CLICKS = 400
LATE = OutputTag("late-clicks")
BOUND_MS = 500


def clicks(seed: int) -> list[tuple[str, int]]:
    """(user, event time ms): one click every 25 ms of event time; most arrive within 300 ms, some 1-2 s late."""
    rng = random.Random(seed)
    events = []
    for i in range(CLICKS):
        delay = rng.choice([0] * 8 + [100, 300]) if rng.random() > 0.03 else rng.randint(1000, 2000)
        events.append((i * 25 + delay, (USERS[rng.randrange(len(USERS))], i * 25)))
    return [click for _, click in sorted(events, key=lambda e: e[0])]


class CountClicks(ProcessWindowFunction):
    def process(self, key, context, elements):
        yield key, context.window().start, len(list(elements))


def build(seed: int, bound_ms: int = BOUND_MS) -> Simulation:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.get_config().set_auto_watermark_interval(50)
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(bound_ms))
                .with_timestamp_assigner(lambda click, _: click[1]))
    counts = (env.from_source(PacedSource.every(5, clicks(seed)), strategy, "clicks")
              .key_by(lambda click: click[0])
              .window(TumblingEventTimeWindows.of(Time.seconds(1)))
              .side_output_late_data(LATE)
              .process(CountClicks()).name("clicks per second"))
    counts.add_sink(lambda v: None).name("counts")
    counts.get_side_output(LATE).add_sink(lambda v: None).name("late")
    cluster = ClusterSpec(task_managers=2, slots_per_task_manager=2, link=LinkSpec(latency_us=2_000))
    return Simulation(env, cluster=cluster, seed=seed, job_name="out-of-order clicks")


def report(result) -> str:
    counts, late = result.values("counts"), result.values("late")
    windows = len({(user, start) for user, start, _ in counts})
    return "\n".join([
        f"windows fired: {windows}, clicks counted in windows: {sum(n for _, _, n in counts)}",
        f"late clicks sent to the side output: {len(late)} " + ", ".join(f"{u}@{t}" for u, t in late[:5])
        + (" ..." if len(late) > 5 else ""),
        f"every click counted once: {sum(n for _, _, n in counts) + len(late) == CLICKS}",
    ])
