"""The BATCH scheduler: starts one stage after another and releases the blocking exchanges between them.

Layer: `sim.cluster` (the simulated world). The stages come from the job
graph (`sim.graph.stages`). A stage starts when every stage it reads from
has finished; its tasks are then deployed and started, and the blocking
channels they read are released, so the data their producers stored
crosses the network only now, under the usual credit flow.

Lifecycle of a stage: waiting -> running (`StageStarted`: tasks deployed
and started, input channels released) -> finished (`StageFinished`, then
one `ExchangeMaterialized` per blocking exchange it wrote). Starting a
waiting stage takes two RPC latencies after the last upstream task
finished: the JobManager hears of the finish, then deploys the stage.

Flink counterpart: `PipelinedRegionSchedulingStrategy` (a region is
scheduled once the blocking partitions it consumes are finished), the
scheduler's deployment of a region.
Simplified: every slot is allocated up front, as in STREAMING, so a
finished stage does not hand its slots to the next one; a failed task fails
the job (no restart from the stored stage results).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from sim.cluster.network import ChannelLink
from sim.graph.execution_graph import ExecutionGraph
from sim.graph.stages import Stage, stage_of
from sim.kernel.environment import SimEnvironment
from sim.trace import ExchangeMaterialized, StageFinished, StageStarted, Trace

if TYPE_CHECKING:
    from sim.cluster.taskthread import TaskThread


class StageScheduler:
    """Runs the stages of one BATCH job in order; `task_done` is called as each task ends."""

    def __init__(self, env: SimEnvironment, eg: ExecutionGraph, threads: list[TaskThread],
                 links: dict[str, ChannelLink], trace: Trace, deploy_delay_us: int,
                 deploy: Callable[[TaskThread], None]):
        self.env = env
        self.eg = eg
        self.stages: list[Stage] = eg.job_graph.stages
        self.links = links
        self.trace = trace
        self.deploy_delay_us = deploy_delay_us
        self.deploy = deploy
        self._stage_of_vertex = stage_of(self.stages)
        self.threads: dict[int, list[TaskThread]] = {s.index: [] for s in self.stages}
        for thread in threads:
            self.threads[self._stage_of_vertex[thread.task.subtask.vertex.id]].append(thread)
        self.remaining = {s.index: len(self.threads[s.index]) for s in self.stages}
        self.scheduled: set[int] = set()
        self.finished: set[int] = set()
        self.failed = False

    def start(self) -> None:
        """Start every stage that reads from no other stage (in stage order)."""
        for stage in self.stages:
            if not stage.upstream:
                self.scheduled.add(stage.index)
                self._start(stage)

    def task_done(self, thread: TaskThread, failed: bool) -> None:
        """A task ended; the last one of a stage finishes the stage. After a failure nothing more starts."""
        if failed:
            self.failed = True
            return
        index = self._stage_of_vertex[thread.task.subtask.vertex.id]
        self.remaining[index] -= 1
        if self.remaining[index] == 0:
            self._finish(self.stages[index])

    def _finish(self, stage: Stage) -> None:
        self.finished.add(stage.index)
        now = self.env.now
        self.trace.emit(StageFinished(now, stage.index))
        for edge_index, edge in enumerate(self.eg.job_graph.edges):
            if edge.blocking and self._stage_of_vertex[edge.source] == stage.index:
                stored = [self.links[ch.id].stored() for ch in self.eg.channels if ch.edge_index == edge_index]
                self.trace.emit(ExchangeMaterialized(now, edge.source, edge.target, sum(b for b, _ in stored),
                                                     sum(n for _, n in stored)))
        for waiting in self.stages:
            if waiting.index not in self.scheduled and all(up in self.finished for up in waiting.upstream):
                self.scheduled.add(waiting.index)
                self.env.call_after(self.deploy_delay_us, lambda s=waiting: self._start(s))

    def _start(self, stage: Stage) -> None:
        if self.failed:
            return
        threads = self.threads[stage.index]
        self.trace.emit(StageStarted(self.env.now, stage.index, [t.id for t in threads]))
        for thread in threads:
            self.deploy(thread)
        for thread in threads:
            for channel in thread.task.subtask.inputs:
                link = self.links[channel.id]
                if link.blocking:
                    link.release()
