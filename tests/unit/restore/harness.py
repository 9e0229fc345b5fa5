"""A job's StreamTasks driven by hand, without the simulated world: buffers go from writer to reader in order.

`TaskHarness(env)` builds one StreamTask per subtask of the job; `restore(plan)`
hands each its share, `open()` opens them and queues their recovered input
first; `read(steps)` polls the sources, `drain()` delivers every buffer,
`finish()` ends the input in graph order (sources first), so the final
watermark reaches every task. Sinks write into `outputs[sink id]`.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from sim.api import StreamExecutionEnvironment
from sim.graph import build_execution_graph, build_job_graph, build_stream_graph
from sim.kernel.rng import RngStreams
from sim.runtime.costs import CostModel
from sim.runtime.elements import Buffer
from sim.runtime.operators import SinkLog
from sim.runtime.restore import RestorePlan
from sim.runtime.task import StreamTask, TaskClock
from sim.runtime.two_input_task import create_stream_task
from sim.trace import Trace, TraceLevel


class TaskHarness:
    def __init__(self, env: StreamExecutionEnvironment, source_batch_records: int = 512):
        self.eg = build_execution_graph(build_job_graph(build_stream_graph(env)))
        self.costs = CostModel(source_batch_records=source_batch_records)
        self.outputs = {n.id: SinkLog() for n in self.eg.job_graph.stream_graph.nodes if n.kind == "sink"}
        self.queues: dict[str, deque[tuple[int, Buffer]]] = {s.id: deque() for s in self.eg.subtasks}
        self.tasks: dict[str, StreamTask] = {}
        self.finished: set[str] = set()
        self.now_us = 0
        trace, rng = Trace(TraceLevel.JOB), RngStreams(0)
        for s in self.eg.subtasks:
            self.tasks[s.id] = create_stream_task(
                s, self.eg, self.costs, trace, rng, TaskClock(), on_output=self._router(s),
                sink_log=self.outputs.__getitem__, buffer_size_bytes=32 * 1024, buffer_timeout_ms=100)

    def _router(self, subtask: Any):
        def on_output(edge_index: int, channel_index: int, item: Any) -> None:
            channel = subtask.outputs[edge_index][channel_index]
            if isinstance(item, Buffer):
                self.queues[channel.consumer].append((channel.input_index, item))
        return on_output

    def of(self, vertex_prefix: str) -> list[StreamTask]:
        """The tasks whose chain starts with operator `vertex_prefix`, in subtask order."""
        return [t for t in self.tasks.values() if t.subtask.vertex.head.id == vertex_prefix]

    def restore(self, plan: RestorePlan) -> None:
        for task_id, task in self.tasks.items():
            task.restore(plan.tasks[task_id])

    def open(self, now_ms: int = 0) -> None:
        self.now_us = now_ms * 1000
        for task_id, task in self.tasks.items():
            task.begin_step(self.now_us)
            task.open()
            self.queues[task_id].extend(task.recovered_inputs)

    def fire_timers(self, now_ms: int) -> None:
        """Virtual time moves to `now_ms`; every task runs what processing time made due."""
        self.now_us = now_ms * 1000
        for task in self.tasks.values():
            task.begin_step(self.now_us)
            task.fire_timers()
        self.flush()

    def process(self, task: StreamTask, values: list[Any], channel: int = 0) -> None:
        """One buffer of `values` into `task` (no timestamps), as a step of its own."""
        task.begin_step(self.now_us)
        task.process_buffer(Buffer("probe", 0, list(values), 0, "probe"), channel)
        self.flush()

    def read(self, steps: int | None = None) -> None:
        """Poll every unfinished source `steps` times (None: until it finishes), delivering as it goes."""
        for task_id, task in self.tasks.items():
            n = 0
            while task.is_source and task_id not in self.finished and (steps is None or n < steps):
                task.begin_step(self.now_us)
                _, finished, _, _ = task.source_step()
                n += 1
                self.flush()
                if finished:
                    self.finished.add(task_id)

    def flush(self) -> None:
        for task in self.tasks.values():
            task.begin_step(self.now_us)
            task.flush("timeout")
        self.drain()

    def drain(self) -> None:
        """Deliver queued buffers until no task has any."""
        while any(self.queues.values()):
            for task_id, queue in self.queues.items():
                while queue:
                    channel, buffer = queue.popleft()
                    self.tasks[task_id].begin_step(self.now_us)
                    self.tasks[task_id].process_buffer(buffer, channel)
            for task in self.tasks.values():
                task.begin_step(self.now_us)
                task.flush("timeout")

    def finish(self) -> None:
        """Read every source to its end, then end each task's input in graph order."""
        self.read()
        for task in self.tasks.values():
            self.drain()
            task.begin_step(self.now_us)
            task.end_input()
        self.drain()

    def snapshot(self, checkpoint_id: int) -> dict[str, dict]:
        """Every subtask's payload, as the coordinator keeps it (by subtask id)."""
        return {task_id: task.snapshot_state(checkpoint_id)[0] for task_id, task in self.tasks.items()}

    def written(self, sink_id: str = "sink") -> list[tuple[int, Any]]:
        """(subtask, value) for everything `sink_id` wrote."""
        return [(subtask, value) for _, subtask, value in self.outputs[sink_id].records()]

    def dispose(self) -> None:
        for task in self.tasks.values():
            task.dispose()
