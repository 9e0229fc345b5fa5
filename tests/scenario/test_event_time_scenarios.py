"""The event-time scenarios show what their docstrings say."""

from __future__ import annotations

from collections import Counter

import pytest

from sim.api.functions import LONG_MAX
from sim.scenario.loader import load_scenario
from tests.conftest import SCENARIOS


def scenario(name):
    return load_scenario(str(SCENARIOS / f"{name}.py"))


def of_type(result, name):
    return [e for e in result.trace.events if type(e).__name__ == name]


@pytest.mark.parametrize("seed", scenario("06_out_of_order_windows").seeds)
def test_out_of_order_clicks_are_counted_once_and_some_are_late(seed):
    s = scenario("06_out_of_order_windows")
    result = s.build(seed).run()
    assert result.status == "FINISHED"
    counts, late = result.values("counts"), result.values("late")
    assert late, "something must be late"
    # Every click is counted exactly once: in its window, or in the late output (allowed lateness 0).
    counted = Counter()
    for user, start, n in counts:
        counted[(user, start)] += n
    for user, ts in late:
        counted[(user, ts - ts % 1000)] += 1
    expected = Counter((user, ts - ts % 1000) for user, ts in s.module.clicks(seed))
    assert counted == expected
    # Each late click really was behind the watermark of the window subtask that refused it.
    refused = of_type(result, "LateElement")
    assert len(refused) == len(late)
    assert all(e.timestamp <= e.watermark and e.outcome == "side output late-clicks" for e in refused)
    # No window has two results: with lateness 0 a window fires once, then is gone.
    assert len({(u, st) for u, st, _ in counts}) == len(counts)


def test_a_late_element_bridges_two_sessions():
    result = scenario("07_session_bridge").build(1).run()
    fired = result.values("fired")
    first, second = ("ann", 0, 3000, [0, 600, 1200, 2000]), ("ann", 3500, 6000, [3500, 4200, 5000])
    assert fired[:2] == [first, second]
    merged = fired[2]
    assert merged == ("ann", 0, 6000, sorted(first[3] + [2700] + second[3]))
    assert result.values("late") == []
    # It was behind the watermark when it came (a late firing), yet within the allowed lateness.
    fires = [e for e in of_type(result, "WindowFired") if e.window == "[0, 6000)"]
    assert fires and fires[0].watermark > 2700


def window_watermarks(result):
    return [(e.t_us, e.watermark) for e in of_type(result, "WatermarkAdvanced") if e.operator.startswith("per_second")]


def test_an_idle_partition_stalls_the_watermark_until_idleness_is_set():
    s = scenario("08_idle_partition")
    stalled = s.module.build(1, idleness_ms=None).run()
    moving = s.build(1).run()
    # Without idleness the window task's watermark stays at -1 (partition 1's only event at 0, minus 1)
    # until the input ends and Long.MAX_VALUE arrives; every window fires only then.
    assert [wm for _, wm in window_watermarks(stalled)] == [-1, LONG_MAX]
    end = stalled.end_time_us
    assert all(r.t_us >= end - 10_000 for r in stalled.outputs["fired"])
    # With idleness the watermark moves on while the input flows, and windows fire on time.
    marks = window_watermarks(moving)
    assert len(marks) > 10 and marks[0][1] == -1 and marks[1][1] > 0  # stalled at -1 first, then released
    assert moving.outputs["fired"][0].t_us < 1_500_000
    assert sorted(stalled.values("fired")) == sorted(moving.values("fired"))


def test_silent_sensors_are_reported_at_their_deadline():
    s = scenario("09_timer_timeout")
    result = s.build(3).run()
    alerts = result.values("alerts")
    assert sorted(alerts) == sorted(s.module.expected_silences(3))
    timers = of_type(result, "TimerFired")
    assert len(timers) == len(alerts)
    assert all(t.domain == "EVENT_TIME" for t in timers)
    # Within one subtask timers fire in timestamp order.
    for task in {t.task for t in timers}:
        stamps = [t.timestamp for t in timers if t.task == task]
        assert stamps == sorted(stamps)


def test_streaming_and_batch_agree_on_final_results_and_differ_in_the_trace():
    s = scenario("10_streaming_vs_batch")
    batch = s.build(4).run()
    streaming = s.module.build(4, batch=False).run()
    assert batch.status == streaming.status == "FINISHED"
    assert sorted(batch.values("windows")) == sorted(streaming.values("windows"))
    assert s.module.final_totals(batch) == s.module.final_totals(streaming)
    # STREAMING: one update per sale, progressive watermarks, checkpoints; BATCH: none of these.
    assert len(streaming.values("totals")) == len(s.module.sales(4))
    assert len(batch.values("totals")) == len(s.module.STORES)
    assert {e.watermark for e in of_type(batch, "WatermarkAdvanced")} == {LONG_MAX}
    assert len({e.watermark for e in of_type(streaming, "WatermarkAdvanced")}) > 10
    assert of_type(streaming, "CheckpointCompleted") and not of_type(batch, "CheckpointCompleted")
    # BATCH runs in stages: a keyed stage starts only after the source stage has finished.
    finished = {e.stage: e.t_us for e in of_type(batch, "StageFinished")}
    started = {e.stage: (e.t_us, e.tasks) for e in of_type(batch, "StageStarted")}
    source_stage = next(stage for stage, (_, tasks) in started.items() if any(t.startswith("sales") or
                                                                              t.startswith("source") for t in tasks))
    assert all(t >= finished[source_stage] for stage, (t, _) in started.items() if stage != source_stage)
    assert len(of_type(batch, "KeyProcessed")) == 2 * len(s.module.STORES)
