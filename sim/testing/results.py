"""What a checker returns: a verdict with its violations, or the evidence that a situation happened.

Layer: `sim.testing`, the top of the library beside `sim.scenario`. Plain,
frozen data: nothing here reads a trace or runs a job; `sim.testing.checkers`
and `sim.testing.sometimes` build these values.

Two shapes, for two kinds of property:

- An *always* property (nothing is lost, ids increase) gives a `CheckResult`:
  a `Verdict` and the `Violation`s found, each with a `ViolationKind`, a
  message, the virtual times and the entities involved.
- A *sometimes* property (a failure hit a checkpoint in progress) gives an
  `Observation`: the `Evidence` that the run exercised the situation, so that
  a green test is never an empty one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum

from sim.trace.events import TraceEvent

DEFAULT_LIMIT = 10
"""How many violations of each kind a `CheckResult` lists; the others are only counted."""


class Check(Enum):
    """Which always-property a `CheckResult` is about; the value is its name in explanations."""

    EXACTLY_ONCE = "exactly-once"
    NO_LOSS = "no loss"
    CHECKPOINT_IDS_MONOTONIC = "checkpoint ids increase"
    NO_RECORD_ON_BLOCKED_CHANNEL = "no record on a blocked channel"


class Verdict(Enum):
    """The outcome of one check."""

    HELD = "held"
    """The property holds for everything the check read."""

    VIOLATED = "violated"
    """At least one violation was found."""

    UNCHECKED = "unchecked"
    """The trace was recorded at a level too low to hold the events the check reads."""


class ViolationKind(Enum):
    """What exactly went wrong; one check can find several kinds."""

    MISSING_VALUE = "missing value"
    """The output holds fewer copies of a value than the reference."""

    DUPLICATE_VALUE = "duplicate value"
    """The output holds more copies of a value than the reference (which holds at least one)."""

    UNEXPECTED_VALUE = "unexpected value"
    """The output holds a value the reference never holds."""

    KEY_ORDER_CHANGED = "key order changed"
    """One key's values are all there, but in another order than in the reference."""

    TRIGGERED_ID_NOT_INCREASING = "triggered id not increasing"
    """A checkpoint was triggered with an id not above every id triggered before it."""

    COMPLETED_ID_NOT_INCREASING = "completed id not increasing"
    """A checkpoint completed with an id not above every checkpoint completed before it."""

    COMPLETED_NOT_TRIGGERED = "completed but never triggered"
    """A checkpoint completed that no `CheckpointTriggered` had started."""

    RECORD_ON_BLOCKED_CHANNEL = "record on a blocked channel"
    """A task consumed a buffer from a channel it had blocked for alignment."""


@dataclass(frozen=True)
class Violation:
    """One way a run broke a property.

    Attributes:
        kind: what went wrong.
        message: a sentence naming the entity and saying what was expected and what was found.
        times_us: the virtual times involved, earliest first (empty for output values).
        entities: what is involved: tasks, channels, `checkpoint 7`, value representations.
    """

    kind: ViolationKind
    message: str
    times_us: tuple[int, ...] = ()
    entities: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one always-property, with the violations behind it.

    At most `DEFAULT_LIMIT` (or the checker's `limit`) violations of each kind
    are listed; `kind_counts` counts all of them.

    Attributes:
        check: which property.
        verdict: held, violated, or unchecked.
        violations: the listed violations, grouped by kind, each group in a deterministic order.
        kind_counts: (kind, how many were found) for every kind found, in `ViolationKind` order.
        summary: what the check compared (`1200 values in the output, 1200 in the reference`),
            or why it could not check.
    """

    check: Check
    verdict: Verdict
    violations: tuple[Violation, ...] = ()
    kind_counts: tuple[tuple[ViolationKind, int], ...] = ()
    summary: str = ""

    @classmethod
    def of(cls, check: Check, violations: Iterable[Violation], summary: str,
           limit: int = DEFAULT_LIMIT) -> CheckResult:
        """The result of `check` given everything it found: violated if anything was, keeping `limit` per kind."""
        found = list(violations)
        counts = Counter(v.kind for v in found)
        kept: Counter[ViolationKind] = Counter()
        listed = []
        for violation in found:
            kept[violation.kind] += 1
            if kept[violation.kind] <= limit:
                listed.append(violation)
        order = list(ViolationKind)
        return cls(check, Verdict.VIOLATED if found else Verdict.HELD, tuple(listed),
                   tuple(sorted(counts.items(), key=lambda kv: order.index(kv[0]))), summary)

    @classmethod
    def unchecked(cls, check: Check, reason: str) -> CheckResult:
        """A check that could not run on what it was given (`reason` says why)."""
        return cls(check, Verdict.UNCHECKED, summary=reason)

    @property
    def ok(self) -> bool:
        """True only when the property was checked and held (an unchecked result is not ok)."""
        return self.verdict is Verdict.HELD

    def __bool__(self) -> bool:
        return self.ok

    @property
    def total(self) -> int:
        """How many violations were found, listed or not."""
        return sum(n for _, n in self.kind_counts)

    def explain(self) -> str:
        """A readable account: the verdict on the first line, then one line per listed violation."""
        head = f"{self.check.value}: {self.verdict.value}"
        if self.kind_counts:
            head += ": " + ", ".join(f"{n} x {kind.value}" for kind, n in self.kind_counts)
        lines = [f"{head} ({self.summary})" if self.summary else head]
        lines += [f"  - {v.message}" for v in self.violations]
        if self.total > len(self.violations):
            lines.append(f"  ... and {self.total - len(self.violations)} more not listed")
        return "\n".join(lines)


@dataclass(frozen=True)
class CheckReport:
    """Several `CheckResult`s of one run (what `check_run` returns); ok when every one is."""

    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def __bool__(self) -> bool:
        return self.ok

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.results)

    def __getitem__(self, check: Check) -> CheckResult:
        """The result of `check`.

        Raises:
            KeyError: the report holds no result of that check; names the ones it holds.
        """
        for result in self.results:
            if result.check is check:
                return result
        raise KeyError(f"no result of check {check.value!r} in this report; it holds "
                       f"{[r.check.value for r in self.results]}")

    def explain(self) -> str:
        """Every result's explanation, one after the other."""
        return "\n".join(r.explain() for r in self.results)


class Situation(Enum):
    """A situation a run may or may not exercise (a *sometimes* property)."""

    FAILURE_DURING_CHECKPOINT = "a failure while a checkpoint was in progress"
    RECOVERY_REPLAYED_IN_FLIGHT = "a recovery replayed in-flight data of an unaligned checkpoint"


@dataclass(frozen=True)
class Evidence:
    """One place in the trace where a situation happened.

    Attributes:
        t_us: when.
        event: the trace event that shows it (the failure, the replay).
        checkpoint_ids: the checkpoints involved (in progress, or restored from).
        description: a sentence saying what happened.
    """

    t_us: int
    event: TraceEvent
    checkpoint_ids: tuple[int, ...]
    description: str


@dataclass(frozen=True)
class Observation:
    """Whether a run exercised a `Situation`, and where: truthy when there is evidence."""

    situation: Situation
    evidence: tuple[Evidence, ...]

    @property
    def happened(self) -> bool:
        return bool(self.evidence)

    def __bool__(self) -> bool:
        return self.happened

    def explain(self) -> str:
        """Whether it happened, then one line per piece of evidence."""
        if not self.evidence:
            return f"never observed: {self.situation.value}"
        lines = [f"observed {len(self.evidence)} time(s): {self.situation.value}"]
        return "\n".join(lines + [f"  - {e.description}" for e in self.evidence])
