"""Running jobs: `Simulation`, `RunResult`, and loading scenario files.

Layer: the top of the library, below `sim.cli`.
"""

from sim.scenario.result import JobExecutionError, RunResult, SinkRecord, SubtaskMetrics
from sim.scenario.simulation import JobExecutionResult, Simulation

__all__ = ["JobExecutionError", "JobExecutionResult", "RunResult", "Simulation", "SinkRecord", "SubtaskMetrics"]
