"""What a source reader can tell the runtime (finished splits) and what a sink function is told (its context)."""

import pytest

from sim import Simulation
from sim.api import (
    PacedSource, ProcessFunction, ReaderPoll, SinkFunction, Source, SourceReader, StreamExecutionEnvironment,
    WatermarkStrategy,
)
from sim.api.functions import LONG_MIN
from sim.trace import TraceLevel


class SeenWatermark(ProcessFunction):
    def process_element(self, value, ctx):
        yield value, ctx.timer_service().current_watermark()


class Scripted(Source):
    """One reader that returns `polls[i]` once virtual time reaches `at_us[i]`, with splits "short" and "long"."""

    name = "scripted"
    parallel = False

    def __init__(self, polls: list[tuple[int, ReaderPoll]]):
        self.polls = polls

    def create_reader(self, index, parallelism):
        return _ScriptedReader(self.polls)


class _ScriptedReader(SourceReader):
    def __init__(self, polls):
        self.polls = list(polls)

    def split_ids(self):
        return ["short", "long"]

    def poll(self, max_records, now_us):
        at_us, poll = self.polls[0]
        if now_us < at_us:
            return ReaderPoll([], False, at_us)
        self.polls.pop(0)
        return poll


def _short_and_long(release: bool) -> Scripted:
    """Split "short" has one element (ts 0) and may report that it ended; "long" one every 100 ms (ts n * 1000)."""
    first = ReaderPoll([("s", 0), ("l", 1000)], False, timestamps=[0, 1000], splits=["short", "long"],
                       finished_splits=["short"] if release else None)
    rest = [(n * 100_000, ReaderPoll([("l", (n + 1) * 1000)], n == 9, timestamps=[(n + 1) * 1000], splits=["long"]))
            for n in range(1, 10)]
    return Scripted([(0, first)] + rest)


@pytest.mark.parametrize("release", [False, True])
def test_a_finished_split_no_longer_holds_the_watermark_back(release):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.get_config().set_auto_watermark_interval(10)
    out = []
    env.from_source(_short_and_long(release), WatermarkStrategy.for_monotonous_timestamps(), "events") \
        .process(SeenWatermark()).add_sink(out.append)
    Simulation(env, seed=1, trace_level=TraceLevel.JOB).run()
    seen = [wm for _, wm in out]
    if release:
        # From the second "long" element on, each sees the one before it: (n - 1) * 1000 - 1.
        assert seen[2:] == [(n - 1) * 1000 - 1 for n in range(2, 11)]
    else:
        assert set(seen[2:]) == {-1}  # the ended split stays at its only element's 0 - 1


class Stamps(SinkFunction):
    seen: list = []  # on the class: each subtask runs its own deep copy of the function

    def invoke(self, value, context):
        Stamps.seen.append((value, context.current_processing_time(), context.timestamp(),
                            context.current_watermark()))


def test_a_sink_function_sees_processing_time_the_record_timestamp_and_the_watermark():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.get_config().set_auto_watermark_interval(50)
    Stamps.seen = []
    strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda e, _: e[1])
    env.from_source(PacedSource([("a", 9), ("b", 40)], at_ms=[120, 250]), strategy).add_sink(Stamps())
    Simulation(env, seed=1, trace_level=TraceLevel.JOB).run()
    assert Stamps.seen == [(("a", 9), 120, 9, LONG_MIN), (("b", 40), 250, 40, 8)]


def test_a_sink_function_in_a_job_without_event_time_sees_no_timestamp():
    env = StreamExecutionEnvironment.get_execution_environment()
    Stamps.seen = []
    env.from_collection([1]).add_sink(Stamps())
    Simulation(env, seed=1, trace_level=TraceLevel.JOB).run()
    assert [(v, ts, wm) for v, _, ts, wm in Stamps.seen] == [(1, None, LONG_MIN)]
