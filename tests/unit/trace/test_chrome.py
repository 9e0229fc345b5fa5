"""The Chrome trace event export: valid JSON, one named track per subtask, spans that nest, same bytes every time."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest

from sim.scenario.loader import load_scenario
from sim.trace import (
    BackpressureEnded, BackpressureStarted, BufferConsumed, CheckpointTriggered, InputEnded,
    SourceRecordsEmitted, TaskDeployed, Trace,
)
from sim.trace.chrome import JOBMANAGER_PID, JOBMANAGER_TID, UNPLACED, chrome_trace, chrome_trace_json, tracks
from tests.conftest import SCENARIOS

STEPS = (BufferConsumed, SourceRecordsEmitted, InputEnded)
REQUIRED = {"M": {"ph", "name", "pid", "tid", "args"},
            "X": {"ph", "name", "cat", "ts", "dur", "pid", "tid", "args"},
            "i": {"ph", "name", "cat", "ts", "s", "pid", "tid", "args"},
            "b": {"ph", "name", "cat", "ts", "id", "pid", "tid", "args"},
            "e": {"ph", "name", "cat", "ts", "id", "pid", "tid", "args"}}


def _run(stem: str, seed: int):
    return load_scenario(str(SCENARIOS / f"{stem}.py")).build(seed).run()


@pytest.fixture(scope="module")
def word_count():
    return _run("01_word_count", 7)


@pytest.fixture(scope="module")
def aligned():
    return _run("03_aligned_checkpoints", 7)


@pytest.fixture(scope="module")
def exported(word_count):
    return json.loads(chrome_trace_json(word_count.trace))


def _thread_names(data: dict) -> dict[tuple[int, int], str]:
    return {(e["pid"], e["tid"]): e["args"]["name"] for e in data["traceEvents"]
            if e["ph"] == "M" and e["name"] == "thread_name"}


def test_the_export_is_json_in_the_object_format(exported):
    assert sorted(exported) == ["displayTimeUnit", "otherData", "traceEvents"]
    assert exported["displayTimeUnit"] == "ms"
    assert exported["otherData"] == {"job_name": "word count", "seed": 7}


def test_every_event_has_the_fields_of_its_phase(exported):
    phases = Counter(e["ph"] for e in exported["traceEvents"])
    assert set(phases) == {"M", "X", "i"}
    for event in exported["traceEvents"]:
        assert REQUIRED[event["ph"]] <= set(event), event
        assert isinstance(event["pid"], int) and isinstance(event["tid"], int)
        if event["ph"] != "M":
            assert isinstance(event["ts"], int) and event["ts"] >= 0
        if event["ph"] == "i":
            assert event["s"] == "t"


def test_exactly_one_named_track_per_subtask(word_count, exported):
    names = _thread_names(exported)
    subtasks = [s.id for s in word_count.execution_graph.subtasks]
    assert sorted(names.values()) == sorted(subtasks + ["JobManager"])
    assert len(set(names)) == len(names)
    tids = [tid for (_, tid), name in names.items() if name != "JobManager"]
    assert len(set(tids)) == len(tids), "a subtask's tid is unique across TaskManagers"
    used = {(e["pid"], e["tid"]) for e in exported["traceEvents"] if e["ph"] != "M"}
    assert used <= set(names)


def test_subtasks_sit_in_their_taskmanager_process(word_count, exported):
    processes = {e["pid"]: e["args"]["name"] for e in exported["traceEvents"]
                 if e["ph"] == "M" and e["name"] == "process_name"}
    assert processes[JOBMANAGER_PID] == "JobManager"
    for (pid, _), name in _thread_names(exported).items():
        if name != "JobManager":
            assert processes[pid] == word_count.placements[name].taskmanager


def test_steps_become_complete_events_ending_at_their_stamp(word_count, exported):
    """Each step is one X event covering [t_us - busy_us, t_us] on its subtask's track."""
    names = _thread_names(exported)
    steps = [e for e in word_count.trace if isinstance(e, STEPS)]
    spans = [e for e in exported["traceEvents"] if e["ph"] == "X" and e["name"] != "Backpressured"]
    assert sorted((s.task, s.t_us - s.busy_us, s.t_us) for s in steps) == \
        sorted((names[(x["pid"], x["tid"])], x["ts"], x["ts"] + x["dur"]) for x in spans)
    assert all(x["dur"] >= 0 for x in exported["traceEvents"] if x["ph"] == "X")


def test_backpressure_becomes_spans_and_the_rest_instants(word_count, exported):
    """Every trace event shows up: steps and backpressure pairs as spans, everything else as an instant."""
    trace = word_count.trace
    pressured = [x for x in exported["traceEvents"] if x["ph"] == "X" and x["name"] == "Backpressured"]
    assert len(pressured) == len(trace.of_type(BackpressureStarted)) > 0, "the scenario is backpressured"
    instants = Counter(e["name"] for e in exported["traceEvents"] if e["ph"] == "i")
    expected = Counter(type(e).__name__ for e in trace
                       if not isinstance(e, STEPS + (BackpressureStarted, BackpressureEnded)))
    assert instants == expected


def test_spans_on_one_track_nest_or_are_disjoint(exported):
    """Perfetto needs a track's complete events to nest: none may end inside another and start before it."""
    per_track = defaultdict(list)
    for x in exported["traceEvents"]:
        if x["ph"] == "X":
            per_track[(x["pid"], x["tid"])].append((x["ts"], x["ts"] + x["dur"]))
    for track, spans in per_track.items():
        open_ends: list[int] = []
        for start, end in sorted(spans, key=lambda s: (s[0], s[0] - s[1])):
            while open_ends and open_ends[-1] <= start:
                open_ends.pop()
            assert not open_ends or end <= open_ends[-1], f"span {start}..{end} crosses another on {track}"
            open_ends.append(end)


def test_events_are_ordered_by_time_after_the_metadata(exported):
    events = exported["traceEvents"]
    first = next(i for i, e in enumerate(events) if e["ph"] != "M")
    assert all(e["ph"] == "M" for e in events[:first]) and all(e["ph"] != "M" for e in events[first:])
    times = [e["ts"] for e in events[first:]]
    assert times == sorted(times)


def test_channel_events_sit_on_the_producer_or_consumer_track(word_count, exported):
    names = _thread_names(exported)
    by_channel = {c.id: c for c in word_count.execution_graph.channels}
    for e in exported["traceEvents"]:
        if e["ph"] == "i" and e["name"] in ("BufferSent", "BufferReceived"):
            channel = by_channel[e["args"]["channel"]]
            expected = channel.producer if e["name"] == "BufferSent" else channel.consumer
            assert names[(e["pid"], e["tid"])] == expected


def test_checkpoints_are_async_spans_on_the_jobmanager(aligned):
    """Each triggered checkpoint opens one "b" and closes one "e" with its outcome; its events are instants."""
    data = chrome_trace(aligned.trace)
    begins = {e["id"]: e for e in data["traceEvents"] if e["ph"] == "b"}
    ends = {e["id"]: e for e in data["traceEvents"] if e["ph"] == "e"}
    triggered = aligned.trace.of_type(CheckpointTriggered)
    assert sorted(begins) == sorted(ends) == sorted(str(c.checkpoint_id) for c in triggered)
    for cid, begin in begins.items():
        assert (begin["pid"], begin["tid"]) == (JOBMANAGER_PID, JOBMANAGER_TID)
        assert ends[cid]["ts"] >= begin["ts"] and ends[cid]["args"]["status"] == "COMPLETED"
    names = Counter(e["name"] for e in data["traceEvents"] if e["ph"] == "i")
    assert names["SnapshotTaken"] > 0 and names["BarrierReceived"] > 0 and names["CheckpointCompleted"] > 0


def test_same_trace_same_bytes_also_after_a_round_trip(aligned, tmp_path):
    """The export depends only on the events: a trace read back from JSON lines exports byte for byte the same."""
    text = chrome_trace_json(aligned.trace)
    assert chrome_trace_json(aligned.trace) == text
    path = aligned.trace.write_jsonl(tmp_path / "trace.jsonl")
    assert chrome_trace_json(Trace.read_jsonl(path)) == text


def test_run_result_writes_the_export(aligned, tmp_path):
    path = aligned.to_chrome_trace(tmp_path / "trace.chrome.json")
    assert path.read_text(encoding="utf-8") == chrome_trace_json(aligned.trace)
    assert not list(tmp_path.glob("*.tmp"))


def test_chained_ids_and_parallel_edges_resolve_to_their_subtasks():
    """A channel id is split at the one "->" between two known subtasks; a `#edge` suffix is ignored."""
    layout = tracks([TaskDeployed(0, "a->b[0]", "tm-10", 0), TaskDeployed(0, "c->d[1]", "tm-2", 0)])
    assert layout.processes == {"JobManager": 1, "tm-2": 2, "tm-10": 3}
    assert layout.subtasks == {"a->b[0]": (3, 2), "c->d[1]": (2, 3)}
    assert layout.of_channel("a->b[0]->c->d[1]#1", producer_side=True) == (3, 2)
    assert layout.of_channel("a->b[0]->c->d[1]", producer_side=False) == (2, 3)
    with pytest.raises(ValueError, match=r"channel 'x->y' does not join two subtasks"):
        layout.of_channel("x->y", producer_side=True)


def test_a_subtask_never_deployed_gets_its_own_process():
    data = chrome_trace([BufferConsumed(5, "map[0]", "source[0]->map[0]", 0, 1, 3)])
    processes = {e["args"]["name"]: e["pid"] for e in data["traceEvents"] if e["name"] == "process_name"}
    assert processes == {"JobManager": 1, UNPLACED: 2}
    span = next(e for e in data["traceEvents"] if e["ph"] == "X")
    assert (span["pid"], span["ts"], span["dur"]) == (2, 2, 3)
