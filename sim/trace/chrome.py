"""A run's trace in Chrome's trace event format, for Perfetto (ui.perfetto.dev) and chrome://tracing.

Layer: `sim.trace` (reads events, imports nothing above it). Works on the typed
events alone, so a trace read back from `trace.jsonl` exports the same as the
run that wrote it.

The export is the JSON object form, `{"displayTimeUnit": "ms", "otherData":
{...}, "traceEvents": [...]}`, with times in microseconds of virtual time:

- **Tracks.** The JobManager is process 1 with one thread (tid 1). Each
  TaskManager is a process (pid 2, 3, ... in natural name order: tm-2 before
  tm-10), and each subtask is one thread of the TaskManager that it was first
  deployed on (tid 2, 3, ... in deployment order, which is the execution
  graph's order). Metadata events (`ph: "M"`) name every process and thread
  (`map[2]`) and fix their order.
- **Spans** (`ph: "X"`). A task step (`BufferConsumed`, `SourceRecordsEmitted`,
  `InputEnded`, stamped when the step ended) covers `[t_us - busy_us, t_us]`.
  Backpressure covers `BackpressureStarted` until `BackpressureEnded`, or the
  task's finish or failure, or the end of the trace.
- **Checkpoints** (`ph: "b"` / `"e"`). Each checkpoint is an async span on the
  JobManager, from its trigger until it completed or was aborted (or the end of
  the trace); async spans may overlap, as concurrent checkpoints do.
- **Instants** (`ph: "i"`, `s: "t"`). Every other event, with all its fields as
  `args`, on the track it concerns: the subtask named by its `task`; for a
  channel, the producer's track for what the producer did (flushed, sent,
  promoted a barrier) and the consumer's for what the consumer did (received,
  announced credit); job, trigger, acknowledgement and completion events on the
  JobManager.

Output is deterministic: keys sorted, events ordered by time, then longer span
first, then trace order.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.kernel.files import write_text_atomic
from sim.trace.events import (
    BackpressureEnded, BackpressureStarted, BarrierPromoted, BarrierSent, BufferConsumed, BufferFlushed,
    BufferReceived, BufferSent, ChannelEventSent, CheckpointAborted, CheckpointCompleted, CheckpointTriggered,
    CreditAnnounced, InputEnded, JobStarted, SourceRecordsEmitted, SubtaskAcknowledged, TaskDeployed, TaskFailed,
    TaskFinished, TraceEvent,
)

JOBMANAGER_PID = 1
JOBMANAGER_TID = 1
UNPLACED = "(not deployed)"
BACKPRESSURED = "Backpressured"

_STEPS = (BufferConsumed, SourceRecordsEmitted, InputEnded)
_PRODUCER_SIDE = (BufferFlushed, BufferSent, BarrierSent, BarrierPromoted, ChannelEventSent)
_CONSUMER_SIDE = (BufferReceived, CreditAnnounced)
_ON_JOBMANAGER = (SubtaskAcknowledged,)  # carries a task, but the JobManager received it
_EDGE_SUFFIX = re.compile(r"#\d+$")

Item = tuple[tuple[int, int, int], dict[str, Any]]  # (sort key, Chrome event)


def _natural(name: str) -> tuple[int, str]:
    digits = re.findall(r"\d+", name)
    return (int(digits[-1]) if digits else -1, name)


@dataclass(frozen=True)
class Tracks:
    """Where events go: a pid per TaskManager, a (pid, tid) per subtask.

    Attributes:
        processes: process name -> pid, the JobManager first.
        subtasks: subtask id -> (pid, tid), in deployment order.
    """

    processes: dict[str, int]
    subtasks: dict[str, tuple[int, int]]

    def of_channel(self, channel: str, producer_side: bool) -> tuple[int, int]:
        """The track of a channel's producer (or consumer) subtask.

        Channel ids are `producer->consumer` (with `#<edge>` when two edges join
        the same pair); chained vertex ids contain "->" too, so the id is split
        at the one "->" that has a known subtask on both sides.

        Raises:
            ValueError: no split names two known subtasks.
        """
        bare = _EDGE_SUFFIX.sub("", channel)
        for match in re.finditer("->", bare):
            producer, consumer = bare[:match.start()], bare[match.end():]
            if producer in self.subtasks and consumer in self.subtasks:
                return self.subtasks[producer if producer_side else consumer]
        raise ValueError(f"channel {channel!r} does not join two subtasks of this trace; "
                         f"expected 'producer->consumer' with both among {sorted(self.subtasks)}")


def _named_tasks(events: list[TraceEvent]) -> list[str]:
    """Every subtask an event names, in order of first mention."""
    seen: dict[str, None] = {}
    for e in events:
        task = getattr(e, "task", None)
        if isinstance(task, str):
            seen.setdefault(task, None)
    return list(seen)


def tracks(events: Iterable[TraceEvent]) -> Tracks:
    """Assign pids and tids: TaskManagers in natural order, subtasks in order of first deployment.

    A subtask that events name but that was never deployed goes into a process
    named `UNPLACED`, after the TaskManagers.
    """
    events = list(events)
    placement: dict[str, str] = {}
    for e in events:
        if isinstance(e, TaskDeployed):
            placement.setdefault(e.task, e.taskmanager)
    order = list(placement) + [t for t in _named_tasks(events) if t not in placement]
    names = sorted(set(placement.values()), key=_natural)
    if len(order) > len(placement):
        names.append(UNPLACED)
    processes = {"JobManager": JOBMANAGER_PID} | {name: JOBMANAGER_PID + 1 + i for i, name in enumerate(names)}
    subtasks = {task: (processes[placement.get(task, UNPLACED)], JOBMANAGER_TID + 1 + i)
                for i, task in enumerate(order)}
    return Tracks(processes, subtasks)


def _metadata(layout: Tracks) -> list[dict[str, Any]]:
    """Process and thread names and sort indexes, JobManager first, then in pid / tid order."""
    out: list[dict[str, Any]] = []
    for index, (name, pid) in enumerate(layout.processes.items()):
        out.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": name}})
        out.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": index}})
    threads = [("JobManager", (JOBMANAGER_PID, JOBMANAGER_TID))] + list(layout.subtasks.items())
    for index, (name, (pid, tid)) in enumerate(threads):
        out.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}})
        out.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid, "args": {"sort_index": index}})
    return out


def _args(event: TraceEvent) -> dict[str, Any]:
    fields = event.to_dict()
    del fields["type"], fields["t_us"]
    return fields


def _span(track: tuple[int, int], name: str, cat: str, start_us: int, end_us: int, args: dict, seq: int) -> Item:
    pid, tid = track
    return ((start_us, start_us - end_us, seq),
            {"ph": "X", "name": name, "cat": cat, "ts": start_us, "dur": end_us - start_us, "pid": pid, "tid": tid,
             "args": args})


def _cat(event: TraceEvent) -> str:
    return event.level.name.lower()


def _task_spans(events: list[TraceEvent], layout: Tracks) -> list[Item]:
    """Task steps and backpressure as complete events."""
    items: list[Item] = []
    waiting: dict[str, tuple[int, int]] = {}

    def close(task: str, end_us: int) -> None:
        if task in waiting:
            start_us, seq = waiting.pop(task)
            items.append(_span(layout.subtasks[task], BACKPRESSURED, "buffers", start_us, end_us, {"task": task}, seq))

    for seq, e in enumerate(events):
        if isinstance(e, _STEPS):
            items.append(_span(layout.subtasks[e.task], type(e).__name__, _cat(e), e.t_us - e.busy_us, e.t_us,
                               _args(e), seq))
        elif isinstance(e, BackpressureStarted):
            waiting.setdefault(e.task, (e.t_us, seq))
        elif isinstance(e, (BackpressureEnded, TaskFinished, TaskFailed)):
            close(e.task, e.t_us)
    end_us = max((e.t_us for e in events), default=0)
    for task in list(waiting):
        close(task, end_us)
    return items


def _async(ph: str, checkpoint_id: int, t_us: int, args: dict, seq: int) -> Item:
    return ((t_us, 0, seq), {"ph": ph, "name": f"checkpoint {checkpoint_id}", "cat": "checkpoints",
                             "id": str(checkpoint_id), "ts": t_us, "pid": JOBMANAGER_PID, "tid": JOBMANAGER_TID,
                             "args": args})


def _checkpoint_spans(events: list[TraceEvent]) -> list[Item]:
    """One async span per checkpoint on the JobManager, from trigger to completion or abort."""
    items: list[Item] = []
    pending: set[int] = set()
    for seq, e in enumerate(events):
        if isinstance(e, CheckpointTriggered):
            pending.add(e.checkpoint_id)
            items.append(_async("b", e.checkpoint_id, e.t_us, _args(e), seq))
        elif isinstance(e, (CheckpointCompleted, CheckpointAborted)) and e.checkpoint_id in pending:
            pending.discard(e.checkpoint_id)
            status = "COMPLETED" if isinstance(e, CheckpointCompleted) else "FAILED"
            items.append(_async("e", e.checkpoint_id, e.t_us, {"status": status}, seq))
    end_us = max((e.t_us for e in events), default=0)
    items += [_async("e", cid, end_us, {"status": "IN_PROGRESS"}, len(events)) for cid in sorted(pending)]
    return items


def _instant_track(event: TraceEvent, layout: Tracks) -> tuple[int, int]:
    if isinstance(event, _PRODUCER_SIDE):
        return layout.of_channel(event.channel, producer_side=True)
    if isinstance(event, _CONSUMER_SIDE):
        return layout.of_channel(event.channel, producer_side=False)
    task = getattr(event, "task", None)
    if isinstance(task, str) and not isinstance(event, _ON_JOBMANAGER):
        return layout.subtasks[task]
    return JOBMANAGER_PID, JOBMANAGER_TID


def _instants(events: list[TraceEvent], layout: Tracks) -> list[Item]:
    """Every event that is not a step or a backpressure bound, as a thread-scoped instant."""
    items: list[Item] = []
    for seq, e in enumerate(events):
        if isinstance(e, _STEPS + (BackpressureStarted, BackpressureEnded)):
            continue
        pid, tid = _instant_track(e, layout)
        items.append(((e.t_us, 0, seq), {"ph": "i", "s": "t", "name": type(e).__name__, "cat": _cat(e),
                                         "ts": e.t_us, "pid": pid, "tid": tid, "args": _args(e)}))
    return items


def _other_data(events: list[TraceEvent]) -> dict[str, Any]:
    started = next((e for e in events if isinstance(e, JobStarted)), None)
    return {} if started is None else {"job_name": started.job_name, "seed": started.seed}


def chrome_trace(events: Iterable[TraceEvent]) -> dict[str, Any]:
    """The trace as a Chrome trace event object (see the module docstring for its layout).

    Args:
        events: the run's trace (a `Trace`, or any iterable of events in trace order).

    Returns:
        `{"displayTimeUnit": "ms", "otherData": {...}, "traceEvents": [...]}`:
        metadata first, then every other event ordered by (time, longer span
        first, trace order).

    Raises:
        ValueError: a channel event names a channel between subtasks the trace never mentions.
    """
    events = list(events)
    layout = tracks(events)
    items = _task_spans(events, layout) + _checkpoint_spans(events) + _instants(events, layout)
    items.sort(key=lambda item: item[0])
    return {"displayTimeUnit": "ms", "otherData": _other_data(events),
            "traceEvents": _metadata(layout) + [event for _, event in items]}


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chrome_trace_json(events: Iterable[TraceEvent]) -> str:
    """`chrome_trace` as JSON text: keys sorted, one trace event per line, ending in a newline."""
    data = chrome_trace(events)
    body = ",\n".join(_dumps(event) for event in data["traceEvents"])
    return (f'{{"displayTimeUnit":{_dumps(data["displayTimeUnit"])},"otherData":{_dumps(data["otherData"])},'
            f'"traceEvents":[\n{body}\n]}}\n')


def write_chrome_trace(events: Iterable[TraceEvent], path: str | os.PathLike) -> Path:
    """Write `chrome_trace_json(events)` atomically (temp file, then rename) and return the path."""
    return write_text_atomic(path, [chrome_trace_json(events)])
