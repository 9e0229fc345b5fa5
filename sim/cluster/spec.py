"""`ClusterSpec`: the simulated hardware a job runs on, as plain data.

Layer: `sim.cluster` (pure data; the SimPy side lives in the other modules).
A JobManager and N TaskManagers named `tm-0`, `tm-1`, ...; each TaskManager
has task slots, cores shared by its task threads, and a network interface.
Links between TaskManagers have latency, bandwidth and optional seeded
jitter; channels inside one TaskManager are local (no wire).

Flink counterpart: the TaskManager options `taskmanager.numberOfTaskSlots`,
`taskmanager.memory.segment-size`, `taskmanager.network.memory.buffers-per-channel`,
`...floating-buffers-per-gate`, `...max-buffers-per-channel`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from sim.runtime.costs import CostModel


def _positive(owner: str, name: str, value: object, minimum: int = 1) -> None:
    if type(value) is not int or value < minimum:
        raise ValueError(f"{owner}.{name} must be an int >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class LinkSpec:
    """A network link: `latency_us`, `bandwidth_bytes_per_s`, and up to `jitter_us` of seeded delay per buffer."""

    latency_us: int = 200
    bandwidth_bytes_per_s: int = 1_250_000_000
    jitter_us: int = 0

    def __post_init__(self) -> None:
        _positive("LinkSpec", "latency_us", self.latency_us, 0)
        _positive("LinkSpec", "bandwidth_bytes_per_s", self.bandwidth_bytes_per_s)
        _positive("LinkSpec", "jitter_us", self.jitter_us, 0)

    def transfer_us(self, size_bytes: int) -> int:
        """Time to put `size_bytes` on the wire (rounded up to a whole microsecond)."""
        return -(-size_bytes * 1_000_000 // self.bandwidth_bytes_per_s)


@dataclass(frozen=True)
class NetworkConfig:
    """Network buffers and credit-based flow control, with Flink 1.x defaults."""

    segment_size_bytes: int = 32 * 1024
    buffers_per_channel: int = 2
    floating_buffers_per_gate: int = 8
    max_buffers_per_channel: int = 10

    def __post_init__(self) -> None:
        for name in ("segment_size_bytes", "buffers_per_channel", "floating_buffers_per_gate",
                     "max_buffers_per_channel"):
            _positive("NetworkConfig", name, getattr(self, name))


@dataclass(frozen=True)
class StorageSpec:
    """The checkpoint store (a distributed file system or object store) as each TaskManager sees it.

    Each TaskManager uploads its snapshots one after another at `bandwidth_bytes_per_s`;
    every upload also pays `latency_us`.
    """

    bandwidth_bytes_per_s: int = 200_000_000
    latency_us: int = 2_000

    def __post_init__(self) -> None:
        _positive("StorageSpec", "bandwidth_bytes_per_s", self.bandwidth_bytes_per_s)
        _positive("StorageSpec", "latency_us", self.latency_us, 0)

    def upload_us(self, size_bytes: int) -> int:
        return self.latency_us + -(-size_bytes * 1_000_000 // self.bandwidth_bytes_per_s)


@dataclass(frozen=True)
class ClusterSpec:
    """The simulated cluster.

    Attributes:
        task_managers: number of TaskManagers (`tm-0` ...).
        slots_per_task_manager: task slots each; subtasks share slots as in Flink.
        cores_per_task_manager: cores each; task threads queue for them.
        link: the link between any two TaskManagers.
        links: overrides for directed pairs, e.g. `{("tm-0", "tm-1"): LinkSpec(latency_us=5_000)}`.
        network: buffer sizes and counts.
        costs: the cost model.
        rpc_latency_us: one-way latency of RPCs between the JobManager and a TaskManager
            (checkpoint triggers, acknowledgements, notifications).
        checkpoint_storage: where snapshots are uploaded.
        heartbeat_interval_ms: how often the JobManager hears from each TaskManager (Flink's
            `heartbeat.interval`, 10 s).
        heartbeat_timeout_ms: silence after which a TaskManager is declared lost (`heartbeat.timeout`,
            50 s); the JobManager notices at the next heartbeat round.
        slot_request_timeout_ms: how long a restart waits for enough live slots before it
            fails in turn (`slot.request.timeout`, 5 min).
    """

    task_managers: int = 1
    slots_per_task_manager: int = 4
    cores_per_task_manager: int = 4
    link: LinkSpec = field(default_factory=LinkSpec)
    links: Mapping[tuple[str, str], LinkSpec] = field(default_factory=dict)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    costs: CostModel = field(default_factory=CostModel)
    rpc_latency_us: int = 1_000
    checkpoint_storage: StorageSpec = field(default_factory=StorageSpec)
    heartbeat_interval_ms: int = 10_000
    heartbeat_timeout_ms: int = 50_000
    slot_request_timeout_ms: int = 300_000

    def __post_init__(self) -> None:
        _positive("ClusterSpec", "task_managers", self.task_managers)
        _positive("ClusterSpec", "slots_per_task_manager", self.slots_per_task_manager)
        _positive("ClusterSpec", "cores_per_task_manager", self.cores_per_task_manager)
        _positive("ClusterSpec", "rpc_latency_us", self.rpc_latency_us, 0)
        _positive("ClusterSpec", "heartbeat_interval_ms", self.heartbeat_interval_ms)
        _positive("ClusterSpec", "heartbeat_timeout_ms", self.heartbeat_timeout_ms)
        _positive("ClusterSpec", "slot_request_timeout_ms", self.slot_request_timeout_ms)
        names = set(self.taskmanager_names)
        for pair, spec in self.links.items():
            if not (isinstance(pair, tuple) and len(pair) == 2 and set(pair) <= names and pair[0] != pair[1]):
                raise ValueError(f"ClusterSpec.links key {pair!r} must be a pair of two different names of {sorted(names)}")
            if not isinstance(spec, LinkSpec):
                raise TypeError(f"ClusterSpec.links[{pair!r}] must be a LinkSpec, got {type(spec).__name__}")

    @property
    def taskmanager_names(self) -> list[str]:
        return [f"tm-{i}" for i in range(self.task_managers)]

    @property
    def total_slots(self) -> int:
        return self.task_managers * self.slots_per_task_manager

    def link_between(self, source_tm: str, target_tm: str) -> LinkSpec:
        return self.links.get((source_tm, target_tm), self.link)

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain JSON data; `links` as a list of `[source, target, link]` rows."""
        data = dataclasses.asdict(self)
        data["links"] = [[a, b, dataclasses.asdict(spec)] for (a, b), spec in sorted(self.links.items())]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClusterSpec:
        """The cluster `to_dict` wrote (fields it leaves out keep their defaults).

        Raises:
            ValueError: a field this class does not have, or a value its checks refuse.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"ClusterSpec has no field(s) {unknown}; expected some of {sorted(known)}")
        parts = {"link": LinkSpec, "network": NetworkConfig, "costs": CostModel, "checkpoint_storage": StorageSpec}
        fields = {name: parts[name](**value) if name in parts else value for name, value in data.items()
                  if name != "links"}
        links = {(a, b): LinkSpec(**spec) for a, b, spec in data.get("links", ())}
        return cls(**fields, links=links)

    @classmethod
    def local(cls, slots: int, costs: CostModel | None = None) -> ClusterSpec:
        """One TaskManager with `slots` slots and one core per slot (like a local MiniCluster)."""
        return cls(task_managers=1, slots_per_task_manager=slots, cores_per_task_manager=slots,
                   costs=costs or CostModel())
