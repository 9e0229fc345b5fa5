"""Public test helpers: checkers that judge a run from its trace and outputs alone, and generated test cases.

Layer: the top of the library, beside `sim.scenario` and below `sim.cli`; no
lower layer imports it. The checkers are pure functions of a `Trace` and of
output values: they never touch a live job or SimPy.

Layout:

- `results`: what checkers return (`CheckResult`, `Violation`, `Observation`, their enums);
- `checkers`: always-properties (`check_exactly_once`, `check_no_loss`,
  `check_checkpoint_ids_monotonic`, `check_no_record_on_blocked_channel`, `check_run`);
- `sometimes`: sometimes-properties (`failure_during_checkpoint`, `recovery_replayed_in_flight`);
- `properties`: a scenario's `check(result)` judged on one run (`PropertyVerdict`s);
- `explore`: a scenario at many seeds, in worker processes (`explore`, `parse_seeds`);
- `steps`, `jobspec`, `case`: jobs as data (`Step`, `JobSpec`) and a whole test case (`Case`) that runs,
  checks itself against its run without faults, prints, and replays from JSON;
- `strategies`: Hypothesis strategies (`inputs`, `jobs`, `clusters`, `fault_plans`, `cases`).

The strategies need Hypothesis, which the rest of `sim` does not: they are
imported when first asked for (`from sim.testing import cases`), so that
`import sim.testing` works without it.
"""

from sim.testing.checkers import (check_checkpoint_ids_monotonic, check_exactly_once, check_no_loss,
                                  check_no_record_on_blocked_channel, check_run, count_duplicates)
from sim.testing.results import (DEFAULT_LIMIT, Check, CheckReport, CheckResult, Evidence, Observation, Situation,
                                 Verdict, Violation, ViolationKind)
from sim.testing.sometimes import FAILURE_FAULTS, failure_during_checkpoint, recovery_replayed_in_flight
from sim.testing.case import Case, CaseRun
from sim.testing.jobspec import JobSpec
from sim.testing.steps import STEP_KINDS, Step, StepKind

_STRATEGIES = ("EXACTLY_ONCE", "FAULT_KINDS", "cases", "clusters", "fault_plans", "inputs", "jobs")


def __getattr__(name: str):
    """The Hypothesis strategies, imported on first use (PEP 562), so that only they need Hypothesis."""
    if name in _STRATEGIES:
        from sim.testing import strategies
        return getattr(strategies, name)
    raise AttributeError(f"module 'sim.testing' has no attribute {name!r}")


__all__ = [
    "Case",
    "CaseRun",
    "JobSpec",
    "STEP_KINDS",
    "Step",
    "StepKind",
    *_STRATEGIES,
    "DEFAULT_LIMIT",
    "FAILURE_FAULTS",
    "Check",
    "CheckReport",
    "CheckResult",
    "Evidence",
    "Observation",
    "Situation",
    "Verdict",
    "Violation",
    "ViolationKind",
    "check_checkpoint_ids_monotonic",
    "check_exactly_once",
    "check_no_loss",
    "check_no_record_on_blocked_channel",
    "check_run",
    "count_duplicates",
    "failure_during_checkpoint",
    "recovery_replayed_in_flight",
]
