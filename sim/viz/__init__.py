"""Pictures of a run, drawn from its trace and graphs only.

Layer: beside `sim.check`, above `sim.trace` and `sim.graph`; the only package
that imports matplotlib. It never reads live runtime objects (tasks, threads,
channels), never uses pyplot or switches backends, and draws the same picture
for the same trace.

Layout:
    style       lane order and labels, colours, figure creation, PNG output
    timeline    per-subtask busy / backpressured / idle spans and their lanes
    spacetime   Lamport diagram: buffers and channel events between lanes
    graphs      JobGraph and ExecutionGraph pictures
    figures     every standard picture of a run into one folder
"""

from sim.viz.figures import write_figures
from sim.viz.graphs import draw_execution_graph, draw_job_graph
from sim.viz.spacetime import channel_messages, draw_spacetime
from sim.viz.timeline import draw_timelines, task_spans

__all__ = [
    "channel_messages", "draw_execution_graph", "draw_job_graph", "draw_spacetime", "draw_timelines",
    "task_spans", "write_figures",
]
