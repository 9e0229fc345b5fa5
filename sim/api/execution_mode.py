"""`RuntimeExecutionMode`: run a job as a stream (STREAMING) or in stages over bounded input (BATCH).

Layer: `sim.api` (no SimPy). The environment records the mode asked for;
`sim.graph` resolves AUTOMATIC and checks that a BATCH job reads only
bounded sources (`Source.bounded`), naming the source that is not.

Flink counterpart: `RuntimeExecutionMode` (`execution.runtime-mode`;
PyFlink's `pyflink.datastream.RuntimeExecutionMode`).
Simplified: the mode is set on the environment only, not through a
configuration file.
"""

from __future__ import annotations

from enum import Enum


class RuntimeExecutionMode(Enum):
    """How the job runs.

    STREAMING (the default): every task runs from the start, exchanges are
    pipelined, watermarks drive event time, checkpoints may run.
    BATCH: bounded input only; the job runs in stages split at redistributing
    exchanges, keyed input is sorted and processed one key at a time, only
    the final watermark exists and no checkpoint is taken.
    AUTOMATIC: BATCH if every source is bounded, STREAMING otherwise.
    """

    STREAMING = 0
    BATCH = 1
    AUTOMATIC = 2
