"""sim: a deterministic simulator of Flink-style stateful stream processing.

Write a job with `sim.api` (PyFlink's API), describe a cluster, and run it:

    from sim import ClusterSpec, Simulation
    result = Simulation(env, cluster=ClusterSpec(task_managers=2), seed=7).run()
    print(result.summary())

Layout (upper layers import lower ones, never the reverse):
    sim.cli                       command line
    sim.testing                   checkers and Hypothesis strategies for properties of runs
    sim.scenario                  Simulation, RunResult
    sim.viz                       pictures, from the trace and graphs only
    sim.runtime | sim.cluster     Flink's runtime; the simulated world that drives it
    sim.state                     keyed state backends
    sim.graph                     StreamGraph -> JobGraph -> ExecutionGraph
    sim.api                       the user-facing DataStream API
    sim.trace                     typed events, JSON lines, digest
    sim.kernel                    time, named random streams, stable hashing
"""

from sim.cluster import ClusterSpec, ClusterTooSmallError, CostModel, LinkSpec, NetworkConfig, StorageSpec
from sim.cluster.faults import FaultPlan, FaultPlanError
from sim.graph import JobBuildError
from sim.scenario import JobExecutionError, JobExecutionResult, RunResult, Simulation
from sim.trace import Trace, TraceLevel

__all__ = [
    "ClusterSpec", "ClusterTooSmallError", "CostModel", "FaultPlan", "FaultPlanError", "JobBuildError", "JobExecutionError", "JobExecutionResult",
    "LinkSpec", "NetworkConfig", "RunResult", "Simulation", "StorageSpec", "Trace", "TraceLevel",
]
__version__ = "0.1.0"
