"""A `Case`: one generated test of a run under faults, as data that can be printed, saved and run again.

Layer: `sim.testing`, the top of the library beside `sim.scenario`, which it
uses to run. A case bundles a `JobSpec`, its input, a `ClusterSpec`, a
`FaultPlan` and a seed. `run()` runs it (a new output topic, and a new
checkpoint directory if the job writes files, every time), `reference()`
runs the same case without its faults, and `check()` judges a run against
the reference with `sim.testing`'s checkers. A case round-trips through
JSON, and `replay_command()` is a shell command that runs it again in a new
process and prints what it did: the same trace digest, on any machine.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sim.api import Topic
from sim.cluster.faults import FaultPlan
from sim.cluster.spec import ClusterSpec
from sim.scenario.result import RunResult
from sim.scenario.simulation import Simulation
from sim.testing.checkers import check_exactly_once, check_no_loss, check_run
from sim.testing.jobspec import JobSpec
from sim.testing.results import CheckReport, CheckResult
from sim.trace import TraceLevel

TIME_LIMIT_MS = 600_000
"""Virtual time a case's run may take beyond its input: a job that cannot finish (it waits for slots that never
come back) stops there, RUNNING, instead of running for ever."""


@dataclass(frozen=True)
class CaseRun:
    """What one run of a case left behind.

    Attributes:
        result: the `RunResult` (status, trace, outputs as the sink wrote them).
        output: what a read-committed consumer of the output topic reads at the end: the
            committed transactions of an exactly-once sink, everything an at-least-once sink wrote.
        written: every value the sink appended, aborted transactions included.
    """

    result: RunResult
    output: list[Any]
    written: list[Any]

    @property
    def digest(self) -> str:
        """sha256 of the run's trace."""
        return self.result.digest


def _non_default(data: dict[str, Any], default: dict[str, Any]) -> dict[str, Any]:
    """The entries of `data` that differ from `default`, recursing into dicts."""
    out = {}
    for name, value in data.items():
        if isinstance(value, dict) and isinstance(default.get(name), dict):
            value = _non_default(value, default[name])
            if value:
                out[name] = value
        elif value != default.get(name):
            out[name] = value
    return out


@dataclass(frozen=True)
class Case:
    """A job, its input, a cluster, a fault plan and a seed: everything a run depends on.

    Attributes:
        job: the job (`JobSpec`), with how it checkpoints and restarts.
        input: the source's elements.
        cluster: the simulated cluster.
        faults: what goes wrong, and when.
        seed: the run's seed.
    """

    job: JobSpec
    input: tuple[int, ...]
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    faults: FaultPlan = field(default_factory=FaultPlan)
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "input", tuple(self.input))
        if not all(type(x) is int for x in self.input):
            raise ValueError(f"a case's input holds ints, got {[x for x in self.input if type(x) is not int][:3]}")
        if self.job.max_parallelism_used > self.cluster.total_slots:
            raise ValueError(f"the job needs {self.job.max_parallelism_used} slots, the cluster has "
                             f"{self.cluster.total_slots}")

    def __repr__(self) -> str:
        """A Python expression that makes this case again."""
        return f"Case.from_json({self.to_json()!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """The same expression for Hypothesis's (and IPython's) pretty printer: a failing example prints it."""
        printer.text(repr(self))

    # --- running ---------------------------------------------------------------------------

    @property
    def time_limit_ms(self) -> int:
        """Virtual time after which a run stops even if the job has not ended (see `TIME_LIMIT_MS`)."""
        return len(self.input) * self.job.pace_ms + TIME_LIMIT_MS

    def run(self, faults: bool = True, trace_level: TraceLevel = TraceLevel.BUFFERS) -> CaseRun:
        """Run the case (without its fault plan if `faults` is False)."""
        output = Topic("output", self.job.sink_partitions)
        with tempfile.TemporaryDirectory(prefix="sim-case-") as scratch:
            checkpoint_dir = f"{scratch}/checkpoints" if self.job.checkpoint_storage == "files" else None
            env = self.job.build(self.input, output, checkpoint_dir)
            simulation = Simulation(env, cluster=self.cluster, seed=self.seed, trace_level=trace_level,
                                    faults=self.faults if faults else None)
            result = simulation.run(until_ms=self.time_limit_ms)
        return CaseRun(result, output.committed_values(), [r.value for r in output.records()])

    def reference(self, trace_level: TraceLevel = TraceLevel.JOB) -> CaseRun:
        """The same case without faults: what an exactly-once run must commit."""
        return self.run(faults=False, trace_level=trace_level)

    def expected(self) -> list[Any] | None:
        """The job's output computed in plain Python (`JobSpec.model`); None with a user's step."""
        return self.job.model(self.input)

    def check(self, run: CaseRun, reference: CaseRun | Sequence[Any]) -> CheckReport:
        """Every always-property of `run`: checkpoint ids increase, nothing read from a blocked channel,
        and its output against `reference` (`check_output`)."""
        return CheckReport(tuple(check_run(run.result)) + (self.check_output(run, reference),))

    def check_output(self, run: CaseRun, reference: CaseRun | Sequence[Any]) -> CheckResult:
        """`run`'s output against `reference`: exactly once (per key in order where the job fixes that order)
        when Flink promises it (`exactly_once`), else at least once: no value missing."""
        expected = reference.output if isinstance(reference, CaseRun) else list(reference)
        if self.exactly_once:
            return check_exactly_once(run.output, expected, self.job.order_key())
        return check_no_loss(run.output, expected)

    @property
    def exactly_once(self) -> bool:
        """Whether Flink promises this job's committed output exactly once across failures."""
        return self.job.sink == "exactly_once" and self.job.checkpointing in ("aligned", "unaligned")

    # --- text ---------------------------------------------------------------------------------

    def to_json(self) -> str:
        """Compact JSON: the job's and the cluster's non-default fields, the input, the plan, the seed."""
        data = {"job": self.job.to_dict(), "input": list(self.input),
                "cluster": _non_default(self.cluster.to_dict(), ClusterSpec().to_dict()),
                "faults": json.loads(self.faults.to_json()), "seed": self.seed}
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> Case:
        """The case `to_json` wrote.

        Raises:
            ValueError: not JSON, or fields the case's parts refuse.
        """
        data = json.loads(text)
        unknown = sorted(set(data) - {"job", "input", "cluster", "faults", "seed"})
        if unknown:
            raise ValueError(f"a case has job, input, cluster, faults and seed; got also {unknown}")
        return Case(JobSpec.from_dict(data.get("job", {})), tuple(data.get("input", ())),
                    ClusterSpec.from_dict(data.get("cluster", {})),
                    FaultPlan.from_json(json.dumps(data.get("faults", []))), data.get("seed", 0))

    def replay_command(self) -> str:
        """A shell command that runs this case again and prints its summary, digest and checks."""
        return f"python -m sim case {shlex.quote(self.to_json())}"

    def describe(self) -> str:
        """The case in words, with the command that replays it."""
        c = self.cluster
        shown = ", ".join(map(str, self.input[:12])) + (", ..." if len(self.input) > 12 else "")
        costs = _non_default(dataclasses.asdict(c.costs), dataclasses.asdict(type(c.costs)()))
        lines = [f"case (seed {self.seed}):", f"job: {self.job.describe()}",
                 f"input: {len(self.input)} elements [{shown}]",
                 f"cluster: {c.task_managers} TaskManager(s) x {c.slots_per_task_manager} slot(s), "
                 f"{c.cores_per_task_manager} core(s) each, link latency {c.link.latency_us} us, "
                 f"{c.network.segment_size_bytes}-byte buffers, heartbeat every {c.heartbeat_interval_ms} ms "
                 f"(timeout {c.heartbeat_timeout_ms} ms)" + (f", costs {costs}" if costs else ""),
                 f"faults: {self.faults.describe()}", f"replay: {self.replay_command()}"]
        return "\n".join(lines)

    def replay(self, trace_level: TraceLevel = TraceLevel.BUFFERS) -> tuple[CaseRun, CheckReport]:
        """Run the case and its reference; print the case, the run's summary and digest, and its checks.

        Returns:
            The run and `check(run, reference)`.
        """
        run, reference = self.run(trace_level=trace_level), self.reference()
        report = self.check(run, reference)
        print(self.describe(), "", run.result.summary(), f"trace digest: {run.digest}", "", report.explain(),
              sep="\n")
        return run, report
