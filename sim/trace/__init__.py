"""Typed trace events, the recorder, JSON lines and digests.

Layer: above `sim.kernel`, below everything that runs or reads a job.
"""

from sim.trace.events import (
    EVENT_TYPES,
    TraceEvent,
    TraceLevel,
    event_from_dict,
    JobStarted,
    TaskDeployed,
    TaskFinished,
    TaskFailed,
    JobFinished,
    RunStopped,
    BufferFlushed,
    BufferSent,
    BufferReceived,
    BufferConsumed,
    SourceRecordsEmitted,
    CreditAnnounced,
    ChannelEventSent,
    InputEnded,
    ChannelEventReceived,
    BackpressureStarted,
    BackpressureEnded,
    RecordSent,
    RecordWritten,
)
from sim.trace.recorder import Trace

__all__ = [
    "EVENT_TYPES",
    "Trace",
    "TraceEvent",
    "TraceLevel",
    "event_from_dict",
    "JobStarted",
    "TaskDeployed",
    "TaskFinished",
    "TaskFailed",
    "JobFinished",
    "RunStopped",
    "BufferFlushed",
    "BufferSent",
    "BufferReceived",
    "BufferConsumed",
    "SourceRecordsEmitted",
    "CreditAnnounced",
    "ChannelEventSent",
    "InputEnded",
    "ChannelEventReceived",
    "BackpressureStarted",
    "BackpressureEnded",
    "RecordSent",
    "RecordWritten",
]
