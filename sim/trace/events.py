"""Typed, past-tense trace events: the catalogue of everything a run can report.

Sits just above `sim.kernel`; the runtime and the simulated world emit these, and
checkers, pictures and statistics read them. An event is plain data: it never
holds a live object, only ints, strings, bools, None and lists of those, so it
serialises to JSON as it is.

Every event class registers itself by name in `EVENT_TYPES`, which is how a
trace file is loaded back and how the reference catalogue is generated.
"""

from __future__ import annotations

import dataclasses
from enum import IntEnum
from typing import Any, ClassVar


class TraceLevel(IntEnum):
    """How much a run records; each level includes the ones below it.

    JOB: lifecycle of the job and its tasks, failures. CHECKPOINTS: adds
    checkpoint progress and event-time progress (watermarks, late elements). BUFFERS: adds every network buffer and event, task
    steps and backpressure (what timelines are drawn from). RECORDS: adds every
    record sent over a channel and written by a sink (teaching runs only).
    """

    JOB = 1
    CHECKPOINTS = 2
    BUFFERS = 3
    RECORDS = 4


EVENT_TYPES: dict[str, type[TraceEvent]] = {}


@dataclasses.dataclass(frozen=True, slots=True)
class TraceEvent:
    """Base of all events: `t_us` is the virtual time in microseconds."""

    t_us: int
    level: ClassVar[TraceLevel] = TraceLevel.JOB

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict with its type name under "type"."""
        out: dict[str, Any] = {"type": type(self).__name__}
        for field in dataclasses.fields(self):
            out[field.name] = getattr(self, field.name)
        return out


def event_from_dict(data: dict[str, Any]) -> TraceEvent:
    """Rebuild a typed event from `TraceEvent.to_dict` output.

    Raises:
        ValueError: the type is unknown or the fields do not match it.
    """
    fields = dict(data)
    name = fields.pop("type", None)
    cls = EVENT_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown trace event type {name!r}; expected one of {sorted(EVENT_TYPES)}")
    try:
        return cls(**fields)
    except TypeError as exc:
        raise ValueError(f"trace event {name} has fields {sorted(fields)}: {exc}") from None


def _event(level: TraceLevel):
    """Class decorator: a frozen slotted dataclass registered at `level`."""

    def wrap(cls):
        cls.level = level
        made = dataclasses.dataclass(frozen=True, slots=True)(cls)
        EVENT_TYPES[made.__name__] = made
        return made

    return wrap


# --- job and task lifecycle -------------------------------------------------


@_event(TraceLevel.JOB)
class JobStarted(TraceEvent):
    """The job was submitted and its tasks are about to be deployed."""

    job_name: str
    tasks: int
    seed: int


@_event(TraceLevel.JOB)
class TaskDeployed(TraceEvent):
    """A subtask (one thread running an operator chain) was placed in a slot."""

    task: str
    taskmanager: str
    slot: int


@_event(TraceLevel.JOB)
class TaskFinished(TraceEvent):
    """A subtask saw end of input on every channel and finished its operators."""

    task: str


@_event(TraceLevel.JOB)
class TaskFailed(TraceEvent):
    """A subtask failed; `operator` names the operator that raised (`map[2]`)."""

    task: str
    operator: str
    error: str
    record: str | None
    traceback: str


@_event(TraceLevel.JOB)
class JobFinished(TraceEvent):
    """The job reached a terminal status ("FINISHED" or "FAILED")."""

    job_name: str
    status: str


@_event(TraceLevel.JOB)
class RunStopped(TraceEvent):
    """The simulation stopped at its time limit before the job ended."""

    reason: str


# --- faults and recovery ----------------------------------------------------------


@_event(TraceLevel.JOB)
class FaultInjected(TraceEvent):
    """The fault injector applied one fault of the run's `FaultPlan`.

    `fault` is the fault's kind (`crash_taskmanager`, `fail_task`,
    `raise_at_record`, `partition`, `partition_healed`, `slow_link`,
    `slow_link_ended`, `slow_checkpoint_store`, `slow_checkpoint_store_ended`,
    `lose_rpc`, `taskmanager_back`); `target` what it hit (`tm-1`,
    `map[2]`, `tm-0<->jobmanager`); `detail` the rest in words.
    """

    fault: str
    target: str
    detail: str


@_event(TraceLevel.JOB)
class RpcLost(TraceEvent):
    """An RPC between the JobManager and a TaskManager was lost (a fault, or a partition between them).

    `rpc` is what it carried (`trigger checkpoint 3`, `acknowledge checkpoint 3`,
    `notify checkpoint 3 complete`, `heartbeat`); `target` the TaskManager.
    """

    rpc: str
    target: str


@_event(TraceLevel.JOB)
class TaskManagerLost(TraceEvent):
    """The JobManager declared a TaskManager lost: no heartbeat for `silent_us`. Its slots are gone."""

    taskmanager: str
    silent_us: int


@_event(TraceLevel.JOB)
class TaskManagerJoined(TraceEvent):
    """A TaskManager (re)joined the cluster: its slots can be used again."""

    taskmanager: str


@_event(TraceLevel.JOB)
class TaskCanceled(TraceEvent):
    """A subtask was stopped because the job fails over (or stops); its in-flight data is gone."""

    task: str
    attempt: int


@_event(TraceLevel.JOB)
class JobFailing(TraceEvent):
    """The JobManager learned of a failure and fails the job over: every task of `region` is canceled.

    `cause` says what failed (a task's error, or a lost TaskManager);
    `attempt` is the execution attempt that failed.
    """

    cause: str
    attempt: int
    region: list[str]


@_event(TraceLevel.JOB)
class RestartScheduled(TraceEvent):
    """The restart strategy allowed a restart: attempt `attempt` is deployed after `delay_us`."""

    strategy: str
    attempt: int
    delay_us: int


@_event(TraceLevel.JOB)
class RestartRefused(TraceEvent):
    """The restart strategy allows no more restarts (`reason`): the job fails."""

    strategy: str
    reason: str


@_event(TraceLevel.JOB)
class WaitingForResources(TraceEvent):
    """A restart needs `slots_needed` slots but only `slots_available` are alive: it waits for a TaskManager."""

    slots_needed: int
    slots_available: int


@_event(TraceLevel.JOB)
class JobRestored(TraceEvent):
    """Attempt `attempt` starts from a snapshot: `checkpoint_id` (None: from nothing, sources from the start).

    `kind` is "checkpoint", "savepoint" or "none"; `path` the snapshot's directory
    name relative to its root, or None for a checkpoint kept in memory.
    """

    attempt: int
    checkpoint_id: int | None
    kind: str
    path: str | None


@_event(TraceLevel.JOB)
class CheckpointSkipped(TraceEvent):
    """A restore passed over checkpoint `checkpoint_id` because its files are damaged (`reason`)."""

    checkpoint_id: int
    reason: str


@_event(TraceLevel.CHECKPOINTS)
class StateRestored(TraceEvent):
    """A subtask took its share of a snapshot before opening: operators with state, key groups, bytes."""

    task: str
    checkpoint_id: int
    operators: int
    key_groups: int
    size_bytes: int


@_event(TraceLevel.CHECKPOINTS)
class ChannelStateReplayed(TraceEvent):
    """A restored subtask processed the in-flight data of an unaligned checkpoint on `channel`, before new input."""

    task: str
    channel: str
    buffers: int
    records: int


@_event(TraceLevel.CHECKPOINTS)
class TransactionPreCommitted(TraceEvent):
    """A transactional sink pre-committed transaction `txn` (holding `records`) for checkpoint `checkpoint_id`."""

    task: str
    checkpoint_id: int
    txn: str
    records: int


@_event(TraceLevel.CHECKPOINTS)
class TransactionCommitted(TraceEvent):
    """A transactional sink committed `txn`; `recovered` when it was re-committed from restored state."""

    task: str
    txn: str
    records: int
    recovered: bool


@_event(TraceLevel.CHECKPOINTS)
class TransactionAborted(TraceEvent):
    """A transactional sink aborted `txn` (the transaction open at the restored checkpoint, or at cancel)."""

    task: str
    txn: str
    records: int


# --- BATCH execution --------------------------------------------------------------


@_event(TraceLevel.JOB)
class BatchExecutionPlanned(TraceEvent):
    """The job runs in BATCH mode, in `stages` stages, each started once the stages it reads from have finished.

    `requested_mode` is what the environment asked for (BATCH, or AUTOMATIC
    with only bounded sources). BATCH takes no checkpoints: `checkpointing`
    is "off", or "ignored" with the interval the job configured.
    """

    requested_mode: str
    stages: int
    checkpointing: str


@_event(TraceLevel.JOB)
class StageStarted(TraceEvent):
    """A BATCH stage started: every stage it reads from had finished; its `tasks` (subtask ids) were deployed."""

    stage: int
    tasks: list[str]


@_event(TraceLevel.JOB)
class StageFinished(TraceEvent):
    """Every task of a BATCH stage finished, so the blocking exchanges it wrote are complete."""

    stage: int


@_event(TraceLevel.JOB)
class ExchangeMaterialized(TraceEvent):
    """A blocking exchange is complete: its producers finished, and it holds `buffers` buffers for the consumers.

    `producer` and `consumer` are the tasks (job vertex ids) on either side.
    Nothing has crossed the network yet: the consumers read it once their
    stage starts.
    """

    producer: str
    consumer: str
    buffers: int
    size_bytes: int


# --- checkpoints ----------------------------------------------------------------


@_event(TraceLevel.CHECKPOINTS)
class CheckpointTriggered(TraceEvent):
    """The JobManager started checkpoint `checkpoint_id` (a savepoint if `savepoint`) and sent triggers."""

    checkpoint_id: int
    savepoint: bool
    unaligned: bool
    tasks: int


@_event(TraceLevel.CHECKPOINTS)
class BarrierSent(TraceEvent):
    """A barrier left a producer on a channel; `kind` is its BarrierKind name; it arrives at `arrival_us`."""

    channel: str
    checkpoint_id: int
    kind: str
    arrival_us: int


@_event(TraceLevel.CHECKPOINTS)
class BarrierReceived(TraceEvent):
    """A task took a barrier from one of its input channels."""

    task: str
    channel: str
    checkpoint_id: int
    kind: str


@_event(TraceLevel.CHECKPOINTS)
class BarrierPromoted(TraceEvent):
    """A producer's aligned barrier timed out in its output queue and jumped ahead as a priority barrier."""

    channel: str
    checkpoint_id: int


@_event(TraceLevel.CHECKPOINTS)
class ChannelBlocked(TraceEvent):
    """Aligning: the channel delivered its barrier and sends nothing more until resumed."""

    task: str
    channel: str
    checkpoint_id: int


@_event(TraceLevel.CHECKPOINTS)
class ChannelResumed(TraceEvent):
    """The consumer resumed a blocked channel (alignment over, or the checkpoint aborted)."""

    task: str
    channel: str


@_event(TraceLevel.CHECKPOINTS)
class AlignmentTimedOut(TraceEvent):
    """The aligned-checkpoint timeout passed: the task switched the checkpoint to unaligned."""

    task: str
    checkpoint_id: int


@_event(TraceLevel.CHECKPOINTS)
class SnapshotTaken(TraceEvent):
    """A task finished the synchronous part of its snapshot (barriers already forwarded)."""

    task: str
    checkpoint_id: int
    sync_us: int
    state_bytes: int
    unaligned: bool


@_event(TraceLevel.CHECKPOINTS)
class ChannelStatePersisted(TraceEvent):
    """In-flight data of one channel was written into a checkpoint ("input" or "output" side)."""

    task: str
    checkpoint_id: int
    channel: str
    side: str
    buffers: int
    size_bytes: int


@_event(TraceLevel.CHECKPOINTS)
class CheckpointDeclined(TraceEvent):
    """A task declined (aborted) its part of a checkpoint; `reason` is an AbortReason name."""

    task: str
    checkpoint_id: int
    reason: str


@_event(TraceLevel.CHECKPOINTS)
class SubtaskAcknowledged(TraceEvent):
    """The JobManager received a subtask's acknowledgement, with Flink's per-subtask statistics."""

    checkpoint_id: int
    task: str
    sync_us: int
    async_us: int
    alignment_us: int
    start_delay_us: int
    checkpointed_bytes: int
    full_bytes: int
    processed_in_flight_bytes: int
    persisted_in_flight_bytes: int
    unaligned: bool


@_event(TraceLevel.CHECKPOINTS)
class CheckpointCompleted(TraceEvent):
    """Every subtask acknowledged: the checkpoint is complete.

    `path` is its directory relative to the checkpoint root (e.g. "chk-7"), or None
    when checkpoints are not written to files.
    """

    checkpoint_id: int
    duration_us: int
    checkpointed_bytes: int
    full_bytes: int
    path: str | None


@_event(TraceLevel.CHECKPOINTS)
class CheckpointAborted(TraceEvent):
    """The JobManager gave up on a checkpoint; `reason` is an AbortReason name."""

    checkpoint_id: int
    reason: str


# --- event time ------------------------------------------------------------------


@_event(TraceLevel.CHECKPOINTS)
class WatermarkAdvanced(TraceEvent):
    """An operator's event time moved to `watermark` (ms; 9223372036854775807 at end of input).

    For a source or a timestamp assigner this is the watermark it generated;
    for any other operator, what its task's input channels agreed on (the
    minimum over active channels), after the operators before it in the chain.
    """

    task: str
    operator: str
    watermark: int


@_event(TraceLevel.CHECKPOINTS)
class WatermarkStatusChanged(TraceEvent):
    """A source or timestamp assigner announced its stream IDLE (it holds no watermark back) or ACTIVE again."""

    task: str
    operator: str
    status: str


@_event(TraceLevel.CHECKPOINTS)
class LateElement(TraceEvent):
    """A window operator refused an element for every window it belongs to, or an interval join one behind `watermark`.

    `outcome` is `side output <tag>` or `dropped`.
    """

    task: str
    operator: str
    record: str
    timestamp: int
    watermark: int
    outcome: str


@_event(TraceLevel.BUFFERS)
class WindowFired(TraceEvent):
    """A window's trigger fired for `key`: its function ran on the window's contents."""

    task: str
    operator: str
    key: str
    window: str
    watermark: int


@_event(TraceLevel.BUFFERS)
class TimerFired(TraceEvent):
    """A timer of a keyed process function fired; `domain` is EVENT_TIME or PROCESSING_TIME."""

    task: str
    operator: str
    key: str
    timestamp: int
    domain: str


# --- buffers, events on channels, task steps ---------------------------------


@_event(TraceLevel.BUFFERS)
class BufferFlushed(TraceEvent):
    """A producer finished a network buffer and queued it in its subpartition.

    `reason` is "full", "timeout" (the buffer timeout fired) or "event" (an
    event such as end of partition flushed it).
    """

    channel: str
    seq: int
    records: int
    size_bytes: int
    reason: str


@_event(TraceLevel.BUFFERS)
class BufferSent(TraceEvent):
    """A queued buffer left the producer, holding one credit; it arrives at `arrival_us`."""

    channel: str
    seq: int
    backlog: int
    arrival_us: int


@_event(TraceLevel.BUFFERS)
class BufferReceived(TraceEvent):
    """A buffer arrived in the consumer's input channel queue."""

    channel: str
    seq: int


@_event(TraceLevel.BUFFERS)
class BufferConsumed(TraceEvent):
    """A task finished processing every record of one buffer at `t_us`, after `busy_us` busy.

    The step ran from `t_us - busy_us` (busy includes waiting for a core).
    """

    task: str
    channel: str
    seq: int
    records: int
    busy_us: int


@_event(TraceLevel.BUFFERS)
class SourceRecordsEmitted(TraceEvent):
    """A source task read `records` records and pushed them through its chain, ending at `t_us`.

    The step ran from `t_us - busy_us`.
    """

    task: str
    records: int
    busy_us: int


@_event(TraceLevel.BUFFERS)
class InputEnded(TraceEvent):
    """A task finished its operators after its last input, ending at `t_us` after `busy_us` busy."""

    task: str
    busy_us: int


@_event(TraceLevel.BUFFERS)
class TimersRan(TraceEvent):
    """A task ran what processing time had made due (timers, periodic watermarks): `fired` callbacks.

    The step ran from `t_us - busy_us`, between two other steps, as a mail in
    Flink's task mailbox.
    """

    task: str
    fired: int
    busy_us: int


@_event(TraceLevel.BUFFERS)
class InputSorted(TraceEvent):
    """BATCH: a keyed task's input ended and was sorted by key, ending at `t_us` after `busy_us` busy.

    Until then the task's `BufferConsumed` steps only collected records;
    from now on `operator` (the chain's keyed head) runs them, one key per
    step (`KeyProcessed`).
    """

    task: str
    operator: str
    records: int
    keys: int
    busy_us: int


@_event(TraceLevel.BUFFERS)
class KeyProcessed(TraceEvent):
    """BATCH: a keyed task ran every record of `key`, then all of the key's timers, ending at `t_us`.

    The key's timers fired with the watermark at Long.MAX_VALUE; then its
    state was dropped, and the next key starts again at Long.MIN_VALUE.
    """

    task: str
    operator: str
    key: str
    records: int
    busy_us: int


@_event(TraceLevel.BUFFERS)
class CreditAnnounced(TraceEvent):
    """A consumer granted `credits` more buffers to a channel's producer."""

    channel: str
    credits: int


@_event(TraceLevel.BUFFERS)
class ChannelEventSent(TraceEvent):
    """A producer sent an in-band event (e.g. "EndOfPartition") on a channel; it arrives at `arrival_us`."""

    channel: str
    event: str
    arrival_us: int


@_event(TraceLevel.BUFFERS)
class ChannelEventReceived(TraceEvent):
    """A consumer task took an in-band event from a channel."""

    task: str
    channel: str
    event: str


@_event(TraceLevel.BUFFERS)
class BackpressureStarted(TraceEvent):
    """A task found no free output buffer and stopped processing input."""

    task: str


@_event(TraceLevel.BUFFERS)
class BackpressureEnded(TraceEvent):
    """Output buffers freed up and the task resumed."""

    task: str


# --- records ------------------------------------------------------------------


@_event(TraceLevel.RECORDS)
class RecordSent(TraceEvent):
    """A record was serialised into the buffer of `channel` (value in stable repr)."""

    task: str
    channel: str
    value: str


@_event(TraceLevel.RECORDS)
class RecordWritten(TraceEvent):
    """A sink subtask wrote a record (value in stable repr)."""

    sink: str
    task: str
    value: str
