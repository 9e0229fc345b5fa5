"""The job's graphs: StreamGraph -> JobGraph (chains) -> ExecutionGraph (subtasks, channels).

Layer: above `sim.api`, below `sim.runtime` and `sim.cluster`; pure data on networkx.
"""

from sim.graph.execution_graph import Channel, ExecutionGraph, Subtask, build_execution_graph, pointwise_targets
from sim.graph.job_graph import JobEdge, JobGraph, JobVertex, build_job_graph, is_chainable
from sim.graph.stages import Stage, compute_stages
from sim.graph.stream_graph import JobBuildError, StreamEdge, StreamGraph, StreamNode, build_stream_graph

__all__ = [
    "Channel", "ExecutionGraph", "JobBuildError", "JobEdge", "JobGraph", "JobVertex", "Stage", "StreamEdge",
    "StreamGraph", "StreamNode", "Subtask", "build_execution_graph", "build_job_graph", "build_stream_graph",
    "compute_stages", "is_chainable", "pointwise_targets",
]
