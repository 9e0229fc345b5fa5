"""The simulated cluster: its description (spec, costs) and the SimPy world that runs a job.

Layer: beside `sim.runtime`; drives it. `spec` and `costs` are plain data.
"""

from sim.runtime.costs import CostModel
from sim.cluster.deployment import ClusterTooSmallError
from sim.cluster.spec import ClusterSpec, LinkSpec, NetworkConfig, StorageSpec

__all__ = ["ClusterSpec", "ClusterTooSmallError", "CostModel", "LinkSpec", "NetworkConfig", "StorageSpec"]
