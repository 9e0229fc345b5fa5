"""Faults as data: a `FaultPlan` lists what goes wrong in a run, and when.

Layer: `sim.cluster` (pure data; `sim.cluster.injector` applies a plan). A
plan is a tuple of frozen fault records, each at a virtual time in
milliseconds (or, for `RaiseAtRecord`, at a record count). Plans compare,
hash, print and round-trip through JSON, so a failing plan can be replayed
from a command line: `python -m sim run SCENARIO --seed 7 --faults '<json>'`.

    plan = (FaultPlan()
            .crash_taskmanager("tm-1", at_ms=1_200, back_after_ms=3_000)
            .lose_rpc(at_ms=500, until_ms=900, rpc="acknowledge"))

`FaultPlan.random(seed, ...)` draws a plan from a seed: the same seed gives
the same plan on every machine.

Flink counterpart: none (this is the test harness around the cluster);
the faults are those Flink's recovery is built for: lost TaskManagers,
failing tasks, user code that throws, network partitions, slow links and
storage, lost RPCs.
Simplified: a partition between two TaskManagers delays their data until it
heals (TCP retransmits) rather than breaking the connection; a partition
between a TaskManager and the JobManager loses heartbeats and RPCs.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable

from sim.kernel.rng import RngStreams

JOBMANAGER = "jobmanager"
RPC_KINDS = ("any", "trigger", "acknowledge", "notify", "heartbeat")


class FaultPlanError(ValueError):
    """A fault plan names something the run does not have, or is malformed."""


def _check_interval(fault: Any) -> None:
    if fault.at_ms < 0 or fault.until_ms <= fault.at_ms:
        raise FaultPlanError(f"{fault.kind} from {fault.at_ms} ms until {fault.until_ms} ms: expected "
                             f"0 <= at_ms < until_ms")


@dataclass(frozen=True)
class CrashTaskManager:
    """A TaskManager dies at `at_ms`; its slots are gone until it comes back `back_after_ms` later (None: never)."""

    at_ms: int
    taskmanager: str
    back_after_ms: int | None = None
    kind: ClassVar[str] = "crash_taskmanager"

    def describe(self) -> str:
        back = "never comes back" if self.back_after_ms is None else f"back after {self.back_after_ms} ms"
        return f"crash {self.taskmanager} at {self.at_ms} ms ({back})"


@dataclass(frozen=True)
class FailTask:
    """The subtask `task` (e.g. `map[1]`) fails at `at_ms`, as if its code threw; reported at once."""

    at_ms: int
    task: str
    kind: ClassVar[str] = "fail_task"

    def describe(self) -> str:
        return f"fail {self.task} at {self.at_ms} ms"


@dataclass(frozen=True)
class RaiseAtRecord:
    """The user function of operator `operator` (its id, e.g. `map`) raises at its `record`-th record in `subtask`.

    Counted from the start of execution attempt `attempt` (0 is the first run),
    so a restarted job does not fail again at the same record.
    """

    operator: str
    subtask: int
    record: int
    attempt: int = 0
    kind: ClassVar[str] = "raise_at_record"

    def describe(self) -> str:
        return f"{self.operator}[{self.subtask}] raises at record {self.record} (attempt {self.attempt})"


@dataclass(frozen=True)
class Partition:
    """No traffic between `a` and `b` (two TaskManagers, or a TaskManager and `jobmanager`) from `at_ms` to `until_ms`."""

    at_ms: int
    until_ms: int
    a: str
    b: str
    kind: ClassVar[str] = "partition"

    def describe(self) -> str:
        return f"partition {self.a}<->{self.b} from {self.at_ms} ms until {self.until_ms} ms"


@dataclass(frozen=True)
class SlowLink:
    """Data between TaskManagers `a` and `b` takes `factor` times as long (latency and transfer) for the interval."""

    at_ms: int
    until_ms: int
    a: str
    b: str
    factor: int = 10
    kind: ClassVar[str] = "slow_link"

    def describe(self) -> str:
        return f"link {self.a}<->{self.b} {self.factor}x slower from {self.at_ms} ms until {self.until_ms} ms"


@dataclass(frozen=True)
class SlowCheckpointStore:
    """Uploads to the checkpoint store take `factor` times as long for the interval."""

    at_ms: int
    until_ms: int
    factor: int = 10
    kind: ClassVar[str] = "slow_checkpoint_store"

    def describe(self) -> str:
        return f"checkpoint store {self.factor}x slower from {self.at_ms} ms until {self.until_ms} ms"


@dataclass(frozen=True)
class LoseRpc:
    """RPCs of kind `rpc` (`any`, `trigger`, `acknowledge`, `notify`, `heartbeat`) are lost for the interval.

    `taskmanager` limits it to one TaskManager's RPCs (None: all of them).
    """

    at_ms: int
    until_ms: int
    rpc: str = "any"
    taskmanager: str | None = None
    kind: ClassVar[str] = "lose_rpc"

    def describe(self) -> str:
        where = f" of {self.taskmanager}" if self.taskmanager else ""
        return f"lose {self.rpc} RPCs{where} from {self.at_ms} ms until {self.until_ms} ms"


FAULT_TYPES = {cls.kind: cls for cls in (CrashTaskManager, FailTask, RaiseAtRecord, Partition, SlowLink,
                                         SlowCheckpointStore, LoseRpc)}
Fault = CrashTaskManager | FailTask | RaiseAtRecord | Partition | SlowLink | SlowCheckpointStore | LoseRpc


def _validate(fault: Any) -> None:
    for f in dataclasses.fields(fault):
        value = getattr(fault, f.name)
        if f.name in ("at_ms", "until_ms", "record", "subtask", "attempt", "factor", "back_after_ms"):
            if value is None and f.name == "back_after_ms":
                continue
            if type(value) is not int or value < 0:
                raise FaultPlanError(f"{fault.kind}: {f.name} must be a non-negative int, got {value!r}")
    if hasattr(fault, "until_ms"):
        _check_interval(fault)
    if isinstance(fault, RaiseAtRecord) and fault.record < 1:
        raise FaultPlanError(f"{fault.describe()}: record counts from 1, got {fault.record}")
    if isinstance(fault, (SlowLink, SlowCheckpointStore)) and fault.factor < 1:
        raise FaultPlanError(f"{fault.describe()}: factor must be at least 1")
    if isinstance(fault, LoseRpc) and fault.rpc not in RPC_KINDS:
        raise FaultPlanError(f"lose_rpc: rpc must be one of {RPC_KINDS}, got {fault.rpc!r}")
    if isinstance(fault, (Partition, SlowLink)) and fault.a == fault.b:
        raise FaultPlanError(f"{fault.kind} between {fault.a} and itself: expected two different machines")


@dataclass(frozen=True)
class FaultPlan:
    """What goes wrong in a run: a tuple of faults (empty: nothing)."""

    faults: tuple[Fault, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "faults", tuple(self.faults))
        for fault in self.faults:
            if type(fault) not in FAULT_TYPES.values():
                raise FaultPlanError(f"a fault plan holds faults such as CrashTaskManager or FailTask, got {fault!r}")
            _validate(fault)

    def __len__(self) -> int:
        return len(self.faults)

    def __iter__(self):
        return iter(self.faults)

    def with_fault(self, fault: Fault) -> FaultPlan:
        return FaultPlan(self.faults + (fault,))

    # --- builders (each returns a new plan) ---------------------------------------------

    def crash_taskmanager(self, taskmanager: str, at_ms: int, back_after_ms: int | None = None) -> FaultPlan:
        return self.with_fault(CrashTaskManager(at_ms, taskmanager, back_after_ms))

    def fail_task(self, task: str, at_ms: int) -> FaultPlan:
        return self.with_fault(FailTask(at_ms, task))

    def raise_at_record(self, operator: str, subtask: int, record: int, attempt: int = 0) -> FaultPlan:
        return self.with_fault(RaiseAtRecord(operator, subtask, record, attempt))

    def partition(self, a: str, b: str, at_ms: int, until_ms: int) -> FaultPlan:
        return self.with_fault(Partition(at_ms, until_ms, a, b))

    def slow_link(self, a: str, b: str, at_ms: int, until_ms: int, factor: int = 10) -> FaultPlan:
        return self.with_fault(SlowLink(at_ms, until_ms, a, b, factor))

    def slow_checkpoint_store(self, at_ms: int, until_ms: int, factor: int = 10) -> FaultPlan:
        return self.with_fault(SlowCheckpointStore(at_ms, until_ms, factor))

    def lose_rpc(self, at_ms: int, until_ms: int, rpc: str = "any", taskmanager: str | None = None) -> FaultPlan:
        return self.with_fault(LoseRpc(at_ms, until_ms, rpc, taskmanager))

    # --- text -------------------------------------------------------------------------

    def describe(self) -> str:
        return "; ".join(f.describe() for f in self.faults) or "no faults"

    def to_json(self) -> str:
        """Compact JSON, one object per fault with its kind: what `--faults` takes."""
        rows = [{"kind": f.kind, **dataclasses.asdict(f)} for f in self.faults]
        return json.dumps(rows, separators=(",", ":"), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> FaultPlan:
        """The plan `to_json` wrote.

        Raises:
            FaultPlanError: not JSON, not a list of faults, an unknown kind or wrong fields.
        """
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FaultPlanError(f"a fault plan is a JSON list of faults, but {text[:60]!r} is not JSON: {exc}") from None
        if not isinstance(rows, list):
            raise FaultPlanError(f"a fault plan is a JSON list of faults, got {type(rows).__name__}")
        faults = []
        for row in rows:
            kind = row.get("kind") if isinstance(row, dict) else None
            cls = FAULT_TYPES.get(kind)
            if cls is None:
                raise FaultPlanError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_TYPES)}")
            fields = {k: v for k, v in row.items() if k != "kind"}
            try:
                faults.append(cls(**fields))
            except TypeError as exc:
                raise FaultPlanError(f"fault {kind}: {exc}") from None
        return FaultPlan(tuple(faults))

    # --- drawn from a seed ------------------------------------------------------------------

    @staticmethod
    def random(seed: int, taskmanagers: Iterable[str], tasks: Iterable[str], horizon_ms: int,
               max_faults: int = 2, kinds: Iterable[str] = ("crash_taskmanager", "fail_task"),
               operators: Iterable[tuple[str, int]] = ()) -> FaultPlan:
        """A plan drawn from `seed`: up to `max_faults` faults of `kinds` within `horizon_ms`.

        Args:
            seed: The plan's seed (its own named stream: it does not disturb the run's draws).
            taskmanagers: Names a crash, partition or slow link may hit.
            tasks: Subtask ids a `fail_task` may hit.
            horizon_ms: Faults fall in [1, horizon_ms).
            max_faults: At most this many (at least one).
            kinds: Which kinds to draw from (`FAULT_TYPES` keys).
            operators: (operator id, parallelism) pairs a `raise_at_record` may hit.
        """
        rng = RngStreams(seed).stream("faultplan")
        tms, subtasks, ops = sorted(taskmanagers), sorted(tasks), sorted(operators)
        kinds = [k for k in kinds if k in FAULT_TYPES]
        unknown = sorted(set(kinds) - set(FAULT_TYPES))
        if unknown or not kinds or horizon_ms < 2:
            raise FaultPlanError(f"FaultPlan.random needs kinds from {sorted(FAULT_TYPES)} and horizon_ms >= 2, "
                                 f"got kinds={kinds!r}, horizon_ms={horizon_ms!r}")
        faults = []
        for _ in range(rng.randint(1, max(1, max_faults))):
            fault = _draw(rng, rng.choice(kinds), tms, subtasks, ops, horizon_ms)
            if fault is not None:
                faults.append(fault)
        return FaultPlan(tuple(sorted(faults, key=lambda f: (getattr(f, "at_ms", 0), f.kind))))


def _draw(rng: Any, kind: str, tms: list[str], tasks: list[str], ops: list[tuple[str, int]],
          horizon_ms: int) -> Fault | None:
    at = rng.randrange(1, horizon_ms)
    until = at + rng.randint(1, max(1, horizon_ms // 4))
    if kind == "crash_taskmanager" and tms:
        return CrashTaskManager(at, rng.choice(tms), rng.choice([None, rng.randint(1, max(1, horizon_ms // 2))]))
    if kind == "fail_task" and tasks:
        return FailTask(at, rng.choice(tasks))
    if kind == "raise_at_record" and ops:
        op, p = rng.choice(ops)
        return RaiseAtRecord(op, rng.randrange(p), rng.randint(1, 200))
    if kind in ("partition", "slow_link") and len(tms) >= 1:
        ends = tms + [JOBMANAGER] if kind == "partition" else tms
        if len(ends) < 2:
            return None
        a, b = rng.sample(ends, 2)
        return Partition(at, until, a, b) if kind == "partition" else SlowLink(at, until, a, b, rng.randint(2, 20))
    if kind == "slow_checkpoint_store":
        return SlowCheckpointStore(at, until, rng.randint(2, 50))
    if kind == "lose_rpc":
        return LoseRpc(at, until, rng.choice(RPC_KINDS[1:]))
    return None
