"""The simulated world of one run: TaskManagers, channels and task threads, wired and started.

Layer: `sim.cluster`. Builds, for an ExecutionGraph placed on a ClusterSpec, one
`ChannelLink` per channel (local inside a TaskManager, over the link spec
between TaskManagers), one core pool and one NIC per TaskManager, and one
`TaskThread` per subtask with its runtime `StreamTask`. Everything is created
and started in execution-graph order, so ties in the event queue always break
the same way. In BATCH mode the channels between stages are blocking, and a
`StageScheduler` starts the stages one after another instead of every task
at once.
"""

from __future__ import annotations

from typing import Any, Callable

import simpy

from sim.cluster.deployment import Placement, place
from sim.cluster.network import ChannelLink, Nic
from sim.cluster.checkpointing import TaskCheckpointing
from sim.cluster.spec import ClusterSpec, StorageSpec
from sim.cluster.stages import StageScheduler
from sim.cluster.taskthread import TaskFailure, TaskThread
from sim.graph.execution_graph import ExecutionGraph
from sim.kernel.clock import ms_to_us
from sim.kernel.rng import RngStreams
from sim.runtime.operators import SinkLog
from sim.runtime.task import TaskClock
from sim.runtime.two_input_task import create_stream_task
from sim.trace import TaskDeployed, Trace


class CheckpointStorage:
    """The checkpoint store as one TaskManager sees it: uploads queue behind each other; files are real."""

    def __init__(self, spec: StorageSpec, writer: Any, conditions: Any = None):
        self.spec = spec
        self.writer = writer
        self.conditions = conditions
        self.busy_until_us = 0

    def upload_us(self, now_us: int, size_bytes: int) -> int:
        """How long until an upload of `size_bytes` started now is durable (longer while the store is slow)."""
        start = max(now_us, self.busy_until_us)
        factor = 1 if self.conditions is None else self.conditions.store_factor()
        self.busy_until_us = start + self.spec.upload_us(size_bytes) * factor
        return self.busy_until_us - now_us

    def write(self, checkpoint_id: int, task: str, subtask: int, payload: dict | None) -> Any:
        """Write one subtask's file; `writer` may be a function of the checkpoint id (savepoints go elsewhere)."""
        writer = self.writer(checkpoint_id) if callable(self.writer) else self.writer
        if writer is None or payload is None:
            return None
        return writer.write_subtask(checkpoint_id, task, subtask, payload)


class World:
    """Every simulated part of one run; `threads` in execution-graph order."""

    def __init__(self, env: simpy.Environment, eg: ExecutionGraph, cluster: ClusterSpec, trace: Trace,
                 rng: RngStreams, sink_log: Callable[[str], SinkLog],
                 on_done: Callable[[TaskThread, TaskFailure | None], None], stdout: Any = None,
                 state_backend: str = "hashmap", incremental: bool = False, state_dir: str | None = None,
                 checkpoint_writer: Any = None, taskmanagers: list[str] | None = None, attempt: int = 0,
                 conditions: Any = None):
        self.env = env
        self.eg = eg
        self.cluster = cluster
        self.attempt = attempt
        self.conditions = conditions
        self.state_backend = (state_backend, incremental, state_dir)
        self.storage = {tm: CheckpointStorage(cluster.checkpoint_storage, checkpoint_writer, conditions)
                        for tm in cluster.taskmanager_names}
        self.placements: dict[str, Placement] = place(eg, cluster, taskmanagers)
        self.nics = {name: Nic() for name in cluster.taskmanager_names}
        self.links = self._make_links(trace, rng)
        self.threads: list[TaskThread] = []
        self.trace = trace
        self.scheduler: StageScheduler | None = None
        if eg.job_graph.stages:
            on_done = self._stage_aware(on_done)
        self._build_threads(trace, rng, sink_log, on_done, stdout)
        if eg.job_graph.stages:
            self.scheduler = StageScheduler(env, eg, self.threads, self.links, trace, 2 * cluster.rpc_latency_us,
                                            self._deploy)

    def _stage_aware(self, on_done: Callable[[TaskThread, TaskFailure | None], None]) -> Callable:
        """BATCH: tell the stage scheduler about every task that ends, then the run."""
        def done(thread: TaskThread, failure: TaskFailure | None) -> None:
            self.scheduler.task_done(thread, failure is not None)
            on_done(thread, failure)

        return done

    def _make_links(self, trace: Trace, rng: RngStreams) -> dict[str, ChannelLink]:
        links = {}
        edges = self.eg.job_graph.edges
        for ch in self.eg.channels:
            src, dst = self.placements[ch.producer].taskmanager, self.placements[ch.consumer].taskmanager
            spec = None if src == dst else self.cluster.link_between(src, dst)
            link = ChannelLink(self.env, ch, spec, self.nics[src], self.cluster.network, trace,
                               rng.stream(f"network.jitter.{ch.id}"), blocking=edges[ch.edge_index].blocking)
            if spec is not None and self.conditions is not None:
                link.conditions, link.machines = self.conditions, (src, dst)
            links[ch.id] = link
        return links

    def _threads_per_tm(self) -> dict[str, int]:
        count: dict[str, int] = {}
        for p in self.placements.values():
            count[p.taskmanager] = count.get(p.taskmanager, 0) + 1
        return count

    def _build_threads(self, trace: Trace, rng: RngStreams, sink_log: Callable, on_done: Callable,
                       stdout: Any) -> None:
        sg = self.eg.job_graph.stream_graph
        per_tm = self._threads_per_tm()
        cores = {tm: simpy.Resource(self.env, capacity=self.cluster.cores_per_task_manager)
                 for tm, n in per_tm.items() if n > self.cluster.cores_per_task_manager}
        timeout_us = ms_to_us(sg.buffer_timeout_ms) if sg.buffer_timeout_ms > 0 else 0
        for s in self.eg.subtasks:
            placement = self.placements[s.id]
            holder: list[TaskThread] = []
            # The clock starts at the attempt's deployment, so that what a restore does before the first step
            # (a sink's recovered commits, its fencing aborts) is stamped with the time it happens.
            clock = TaskClock()
            clock.now_us = self.env.now
            task = create_stream_task(s, self.eg, self.cluster.costs, trace, rng, clock,
                                      on_output=lambda e, c, item, _h=holder: _h[0].output(e, c, item),
                                      sink_log=sink_log, buffer_size_bytes=self.cluster.network.segment_size_bytes,
                                      buffer_timeout_ms=sg.buffer_timeout_ms, stdout=stdout,
                                      state_backend=self.state_backend[0], incremental=self.state_backend[1],
                                      state_dir=self.state_backend[2])
            outputs = {e: [self.links[ch.id] for ch in chans] for e, chans in s.outputs.items()}
            inputs = [self.links[ch.id] for ch in s.inputs]
            thread = TaskThread(self.env, task, trace, cores.get(placement.taskmanager), inputs, outputs,
                                self.cluster.network, timeout_us, on_done)
            thread.storage = self.storage[placement.taskmanager]
            thread.taskmanager = placement.taskmanager
            holder.append(thread)
            self.threads.append(thread)
        by_id = {t.id: t for t in self.threads}
        for thread in self.threads:
            producers = sorted({ch.producer for ch in thread.task.subtask.inputs})
            thread.upstream = [by_id[p] for p in producers]

    def attach_checkpointing(self, coordinator: Any, mode: str) -> None:
        """Give every task thread its checkpointing side (after the coordinator exists)."""
        for thread in self.threads:
            thread.checkpointing = TaskCheckpointing(thread, coordinator, mode)

    def dispose(self) -> None:
        for thread in self.threads:
            thread.task.dispose()

    def on_taskmanager(self, taskmanager: str) -> list[TaskThread]:
        """The task threads placed on `taskmanager`, in execution-graph order."""
        return [t for t in self.threads if self.placements[t.id].taskmanager == taskmanager]

    def needs_taskmanager(self, taskmanager: str) -> bool:
        """Whether this attempt cannot do without `taskmanager`: a task there has not finished, or a channel from
        it has not brought its end of partition to a consumer elsewhere (the rest of its output died with it)."""
        if any(not t.finished or t.stopped for t in self.on_taskmanager(taskmanager)):
            return True
        return any(self.placements[ch.producer].taskmanager == taskmanager and not self.links[ch.id].end_arrived
                   for ch in self.eg.channels)

    def kill_taskmanager(self, taskmanager: str) -> None:
        """`taskmanager` died: its threads stop where they are, and its channels carry nothing more."""
        for thread in self.on_taskmanager(taskmanager):
            thread.stop()
        for ch in self.eg.channels:
            if taskmanager in (self.placements[ch.producer].taskmanager, self.placements[ch.consumer].taskmanager):
                self.links[ch.id].dead = True

    def cancel(self) -> list[str]:
        """Stop every thread still running and silence every channel (failover); returns the stopped ids."""
        stopped = [t.id for t in self.threads if t.stop()]
        for link in self.links.values():
            link.dead = True
        return stopped

    def _deploy(self, thread: TaskThread) -> None:
        p = self.placements[thread.id]
        self.trace.emit(TaskDeployed(self.env.now, thread.id, p.taskmanager, p.slot))
        thread.start()

    def start(self, trace: Trace) -> None:
        """Deploy and start every task thread, in execution-graph order (BATCH: the first stages only)."""
        if self.scheduler is not None:
            self.scheduler.start()
            return
        for thread in self.threads:
            p = self.placements[thread.id]
            trace.emit(TaskDeployed(self.env.now, thread.id, p.taskmanager, p.slot))
        for thread in self.threads:
            thread.start()
