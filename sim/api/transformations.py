"""The logical plan: transformations a job builds, as plain data.

Layer: `sim.api` (no SimPy). A `DataStream` call appends a `Transformation`;
`sim.graph` later turns them into Flink's StreamGraph, JobGraph and
ExecutionGraph. Operators are described by an `OperatorSpec` (a kind plus the
user function); `sim.runtime` maps each kind to the operator that runs it, so
the API never imports the runtime.

Flink counterpart: `Transformation` and its subclasses (OneInputTransformation,
TwoInputTransformation, PartitionTransformation, UnionTransformation,
SideOutputTransformation).
Simplified: no type extraction, no resource specs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sim.api.functions import OutputTag
from sim.api.typeinfo import TypeInformation


class ChainingStrategy(Enum):
    """Flink's chaining strategies: ALWAYS chains, HEAD starts a chain, NEVER stands alone."""

    ALWAYS = "ALWAYS"
    HEAD = "HEAD"
    NEVER = "NEVER"
    HEAD_WITH_SOURCES = "HEAD_WITH_SOURCES"


class PartitionerKind(Enum):
    """How records choose a downstream channel on an edge."""

    FORWARD = "forward"
    REBALANCE = "rebalance"
    RESCALE = "rescale"
    SHUFFLE = "shuffle"
    BROADCAST = "broadcast"
    GLOBAL = "global"
    HASH = "hash"
    CUSTOM = "custom"

    @property
    def is_pointwise(self) -> bool:
        """Forward and rescale connect subtasks pointwise; all others all-to-all."""
        return self in (PartitionerKind.FORWARD, PartitionerKind.RESCALE)


@dataclass(frozen=True)
class PartitionerSpec:
    """A partitioner as data; `key_selector`/`key_type` for HASH, `partitioner` for CUSTOM."""

    kind: PartitionerKind
    key_selector: Any = None
    key_type: TypeInformation | None = None
    partitioner: Any = None

    def __str__(self) -> str:
        return self.kind.value


@dataclass
class OperatorSpec:
    """What an operator does: `kind` picks the runtime operator, `function` is the user's."""

    kind: str
    function: Any = None
    options: dict[str, Any] = field(default_factory=dict)


_ids = itertools.count(1)


@dataclass(eq=False)
class Transformation:
    """One node of the logical plan.

    `kind` is "source", "operator" (one input), "two_input", "sink", or a
    virtual node: "partition", "union", "side_output". Virtual nodes carry no
    operator and become edge attributes in the StreamGraph. A "two_input"
    node has exactly two inputs, in order: input 1 and input 2. `keyed` is the
    key of its (first) input's records for keyed state; `keyed2` that of a
    two-input operator's second input (None if that input sets no key).
    """

    kind: str
    name: str
    inputs: list[Transformation]
    operator: OperatorSpec | None = None
    parallelism: int | None = None
    max_parallelism: int | None = None
    uid: str | None = None
    chaining: ChainingStrategy = ChainingStrategy.ALWAYS
    slot_sharing_group: str | None = None
    partitioner: PartitionerSpec | None = None
    side_output: OutputTag | None = None
    keyed: PartitionerSpec | None = None
    keyed2: PartitionerSpec | None = None
    parallelism_fixed: bool = False
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def is_virtual(self) -> bool:
        return self.kind in ("partition", "union", "side_output")

    def __repr__(self) -> str:
        return f"Transformation({self.id}, {self.kind}, {self.name!r})"
