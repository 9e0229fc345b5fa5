"""A keyed process function with event-time timers: report sensors that went silent.

Teaching point: a `KeyedProcessFunction` keeps per-key state and sets timers.
Each reading of a sensor moves its deadline: the function deletes the old
event-time timer and registers one 1 s after the new reading. When the
watermark passes a deadline no reading moved, `on_timer` fires for that
sensor and reports it silent. Timers are per key and timestamp, fire in
timestamp order when the watermark passes them, and the end of input (the
watermark Long.MAX_VALUE) fires every timer still pending.

Flink concepts: KeyedProcessFunction, keyed ValueState, the timer service,
event-time timers, on_timer and its context (key, time domain).

Seeds: 3.
"""

import random

from sim import Simulation
from sim.api import (
    Duration, KeyedProcessFunction, PacedSource, StreamExecutionEnvironment, ValueStateDescriptor, WatermarkStrategy,
)

SEEDS = (3,)
SENSORS = ("s1", "s2", "s3", "s4")
TIMEOUT_MS = 1000


def readings(seed: int) -> list[tuple[str, int]]:
    """(sensor, event time ms), in time order: each sensor reports every 200-600 ms, some stop for a while."""
    rng = random.Random(seed)
    out = []
    for sensor in SENSORS:
        t = rng.randint(0, 300)
        while t < 8000:
            out.append((sensor, t))
            t += rng.randint(200, 600) if rng.random() > 0.08 else rng.randint(1200, 3000)
    return sorted(out, key=lambda r: (r[1], r[0]))


class SilenceDetector(KeyedProcessFunction):
    def open(self, runtime_context):
        self.deadline = runtime_context.get_state(ValueStateDescriptor("deadline"))

    def process_element(self, value, ctx):
        timers = ctx.timer_service()
        old = self.deadline.value()
        if old is not None:
            timers.delete_event_time_timer(old)
        deadline = ctx.timestamp() + TIMEOUT_MS
        timers.register_event_time_timer(deadline)
        self.deadline.update(deadline)

    def on_timer(self, timestamp, ctx):
        self.deadline.clear()
        yield ctx.get_current_key(), timestamp - TIMEOUT_MS, timestamp


def expected_silences(seed: int) -> list[tuple[str, int, int]]:
    """Every (sensor, last reading, deadline) where the next reading came later than the deadline, or never."""
    out = []
    for sensor in SENSORS:
        times = [t for s, t in readings(seed) if s == sensor]
        for t, nxt in zip(times, times[1:] + [None]):
            if nxt is None or nxt > t + TIMEOUT_MS:
                out.append((sensor, t, t + TIMEOUT_MS))
    return out


def build(seed: int) -> Simulation:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.get_config().set_auto_watermark_interval(20)
    strategy = (WatermarkStrategy.for_monotonous_timestamps()
                .with_timestamp_assigner(lambda r, _: r[1]))
    data = readings(seed)
    (env.from_source(PacedSource(data, at_ms=[t for _, t in data]), strategy, "sensors")
        .key_by(lambda r: r[0])
        .process(SilenceDetector()).name("silence")
        .add_sink(lambda v: None).name("alerts"))
    return Simulation(env, seed=seed, job_name="silent sensors")


def report(result) -> str:
    alerts = result.values("alerts")
    return "\n".join([f"silences reported: {len(alerts)}"]
                     + [f"  {sensor}: nothing after {last} ms, timer at {deadline} ms" for sensor, last, deadline in alerts])
