"""Pictures of a run, drawn from its trace and graphs only.

Layer: beside `sim.check`, above `sim.trace` and `sim.graph`; the only package
that imports matplotlib. It never reads live runtime objects (tasks, threads,
channels), never uses pyplot or switches backends, and draws the same picture
for the same trace.

Layout:
    style       lane order and labels, colours, figure creation, PNG output
    timeline    per-subtask busy / backpressured / idle / aligning spans and their lanes
    barriers    checkpoint progress from the trace: barriers, blocked channels, snapshots (pure)
    marks       those checkpoint marks drawn on lanes
    lifecycle   failures, failover, restarts, restores and watermarks read from the trace and drawn on lanes
    spacetime   Lamport diagram: buffers, channel events and barriers between lanes
    occupancy   buffers queued at each channel's sender and receiver over time, with backpressure
    animation   one checkpoint's barriers flowing through the execution graph, frame by frame
    stepper     every subtask's state and channel's queues at a chosen time; the Jupyter slider over it
    checkpoints checkpoint statistics chart and history table
    graphs      JobGraph and ExecutionGraph pictures
    watermarks  each subtask's watermark over time, late elements, window firings
    figures     every standard picture of a run into one folder
    report      the run's report.html: summary, checkpoint tables and every figure in one page
    saved       the pictures that a saved trace alone can give (`python -m sim draw`)
"""

from sim.viz.barriers import barrier_messages, blocked_spans, snapshot_marks
from sim.viz.animation import animate_barriers
from sim.viz.checkpoints import checkpoint_table, draw_checkpoint_stats, draw_checkpoint_table
from sim.viz.figures import write_figures
from sim.viz.graphs import draw_execution_graph, draw_job_graph
from sim.viz.occupancy import channel_occupancy, draw_occupancy
from sim.viz.spacetime import channel_messages, draw_spacetime
from sim.viz.stepper import state_at, step_through
from sim.viz.timeline import draw_timelines, task_spans
from sim.viz.watermarks import draw_watermarks, watermark_series

__all__ = [
    "animate_barriers", "barrier_messages", "blocked_spans", "channel_messages", "channel_occupancy",
    "checkpoint_table", "draw_checkpoint_stats", "draw_checkpoint_table", "draw_execution_graph", "draw_job_graph",
    "draw_occupancy", "draw_spacetime", "draw_timelines", "draw_watermarks", "snapshot_marks", "state_at",
    "step_through", "task_spans", "watermark_series", "write_figures",
]
