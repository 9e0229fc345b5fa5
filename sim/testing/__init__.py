"""Public test helpers: checkers that judge a run from its trace and outputs alone.

Layer: the top of the library, beside `sim.scenario` and below `sim.cli`; no
lower layer imports it. The checkers are pure functions of a `Trace` and of
output values: they never touch a live job or SimPy.

Layout:

- `results`: what checkers return (`CheckResult`, `Violation`, `Observation`, their enums);
- `checkers`: always-properties (`check_exactly_once`, `check_no_loss`,
  `check_checkpoint_ids_monotonic`, `check_no_record_on_blocked_channel`, `check_run`);
- `sometimes`: sometimes-properties (`failure_during_checkpoint`, `recovery_replayed_in_flight`);
- `properties`: a scenario's `check(result)` judged on one run (`PropertyVerdict`s);
- `explore`: a scenario at many seeds, in worker processes (`explore`, `parse_seeds`).
"""

from sim.testing.checkers import (check_checkpoint_ids_monotonic, check_exactly_once, check_no_loss,
                                  check_no_record_on_blocked_channel, check_run, count_duplicates)
from sim.testing.results import (DEFAULT_LIMIT, Check, CheckReport, CheckResult, Evidence, Observation, Situation,
                                 Verdict, Violation, ViolationKind)
from sim.testing.sometimes import FAILURE_FAULTS, failure_during_checkpoint, recovery_replayed_in_flight

__all__ = [
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
