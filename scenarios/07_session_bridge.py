"""A late element bridges two session windows into one.

Teaching point: session windows have no fixed bounds. Each element opens a
window [t, t + gap) and windows that overlap or merely touch merge. Here a
user has two bursts of activity 1.5 s apart with a 1 s gap: two sessions. The
first fires when the watermark passes its end. Then a delayed event from the
pause arrives: it is behind the watermark, but within the allowed lateness, so
it is not dropped. Its window touches both sessions and merges them: the
merged session fires again, now holding every event of both bursts.

Flink concepts: session windows, merging windows, allowed lateness, late
firings, watermarks.

Seeds: 1.
"""

from sim import Simulation
from sim.api import (
    Duration, EventTimeSessionWindows, OutputTag, PacedSource, ProcessWindowFunction, StreamExecutionEnvironment,
    Time, WatermarkStrategy,
)

SEEDS = (1,)
LATE = OutputTag("late")
# (user, event time ms, arrives at ms of processing time)
EVENTS = [
    ("ann", 0, 0), ("ann", 600, 100), ("ann", 1200, 200), ("ann", 2000, 300),  # first burst
    ("ann", 3500, 400), ("ann", 4200, 500), ("ann", 5000, 600),                # second burst
    ("ann", 7000, 700),                                                       # moves the watermark on
    ("ann", 2700, 900),                                                       # delayed: from the pause
    ("ann", 20000, 1000),
]


class Session(ProcessWindowFunction):
    def process(self, key, context, elements):
        yield key, context.window().start, context.window().end, sorted(t for _, t in elements)


def build(seed: int) -> Simulation:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.get_config().set_auto_watermark_interval(10)
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(500))
                .with_timestamp_assigner(lambda e, _: e[1]))
    source = PacedSource([e[:2] for e in EVENTS], at_ms=[e[2] for e in EVENTS])
    sessions = (env.from_source(source, strategy, "activity")
                .key_by(lambda e: e[0])
                .window(EventTimeSessionWindows.with_gap(Time.seconds(1)))
                .allowed_lateness(5000)
                .side_output_late_data(LATE)
                .process(Session()).name("sessions"))
    sessions.add_sink(lambda v: None).name("fired")
    sessions.get_side_output(LATE).add_sink(lambda v: None).name("late")
    return Simulation(env, seed=seed, job_name="session bridge")


def report(result) -> str:
    lines = ["sessions as they fired (user, start, end, event times):"]
    lines += [f"  {s}" for s in result.values("fired")]
    lines.append(f"late (dropped into the side output): {result.values('late')}")
    return "\n".join(lines)
