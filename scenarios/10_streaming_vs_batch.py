"""The same bounded job in STREAMING and in BATCH runtime mode: equal final results, different runs.

Teaching point: a bounded job can run either way. In STREAMING mode every
operator is deployed at once, records flow through pipelined exchanges,
watermarks advance as the input is read, windows fire along the way,
checkpoints are taken, and the rolling sum emits an update per record. In
BATCH mode the job runs in stages separated by blocking exchanges: the keyed
stage starts only once the source stage has finished and its output is
materialised; it sorts its input by key and runs one key at a time; the only
watermark is the final Long.MAX_VALUE, so every window fires at its key's
end; no checkpoint is taken; the rolling sum emits only each key's final
value. The final window results and final sums are the same (this job drops
no late data in STREAMING); the trace shows everything else that differs.
Run `build(seed, batch=False)` for the STREAMING twin.

Flink concepts: execution.runtime-mode (STREAMING, BATCH), bounded sources,
pipelined vs blocking exchanges, stages, sort-based keyed processing,
watermarks in BATCH, checkpoints only in STREAMING.

Seeds: 4.
"""

import random

from sim import Simulation
from sim.api import (
    Duration, PacedSource, RuntimeExecutionMode, StreamExecutionEnvironment, Time, TumblingEventTimeWindows,
    WatermarkStrategy,
)

SEEDS = (4,)
STORES = ("north", "south", "east", "west")


def sales(seed: int) -> list[tuple[str, int, int]]:
    """(store, event time ms, amount), at most 300 ms out of order, one every 10 ms."""
    rng = random.Random(seed)
    rows = [(STORES[rng.randrange(4)], max(0, i * 10 - rng.randint(0, 300)), rng.randint(1, 50)) for i in range(300)]
    return rows


def build(seed: int, batch: bool = True) -> Simulation:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.enable_checkpointing(200)
    env.set_runtime_mode(RuntimeExecutionMode.BATCH if batch else RuntimeExecutionMode.STREAMING)
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(400))
                .with_timestamp_assigner(lambda sale, _: sale[1]))
    rows = env.from_source(PacedSource.every(10, sales(seed)), strategy, "sales")
    (rows.key_by(lambda s: s[0])
         .window(TumblingEventTimeWindows.of(Time.seconds(1)))
         .reduce(lambda a, b: (a[0], min(a[1], b[1]), a[2] + b[2])).name("per second")  # order-free
         .add_sink(lambda v: None).name("windows"))
    (rows.key_by(lambda s: s[0])
         .sum(2).name("running total")
         .add_sink(lambda v: None).name("totals"))
    return Simulation(env, seed=seed, job_name="sales " + ("BATCH" if batch else "STREAMING"))


def final_totals(result) -> dict[str, int]:
    """The last running total per store."""
    return {store: amount for store, _, amount in result.values("totals")}


def report(result) -> str:
    names = [type(e).__name__ for e in result.trace]
    return "\n".join([
        f"window results: {len(result.values('windows'))}; total updates emitted: {len(result.values('totals'))}",
        "final totals: " + ", ".join(f"{k}={v}" for k, v in sorted(final_totals(result).items())),
        f"stages started: {names.count('StageStarted')}, keys processed one at a time: {names.count('KeyProcessed')}, "
        f"checkpoints completed: {names.count('CheckpointCompleted')}, "
        f"watermarks traced: {names.count('WatermarkAdvanced')}",
    ])
