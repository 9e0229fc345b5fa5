"""A scenario's properties judged on one run: what its `check(result)` returns, as `PropertyVerdict`s.

Layer: `sim.testing`, above `sim.scenario` (it calls a loaded scenario's
`check`). `python -m sim run` prints these verdicts and `python -m sim
explore` collects them over many seeds.

A scenario's `check(result)` returns an iterable whose items are either

- a `CheckResult` (what every checker of `sim.testing` returns; a
  `CheckReport` from `check_run` is an iterable of them, so it may be
  returned whole or put in the list), or
- a `(name, ok, message)` triple for a property of the scenario's own, such
  as `("the job finished", result.status == "FINISHED", result.status)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sim.scenario.loader import Scenario, ScenarioError
from sim.scenario.result import RunResult
from sim.testing.results import CheckReport, CheckResult


@dataclass(frozen=True)
class PropertyVerdict:
    """One property of a scenario, judged on one run.

    Attributes:
        name: the property (`exactly-once`, or the name a triple gave).
        ok: whether it held.
        explanation: the verdict on the first line (`exactly-once: violated: 25 x duplicate value (...)`),
            then one line per listed violation.
    """

    name: str
    ok: bool
    explanation: str

    @property
    def headline(self) -> str:
        """The first line of the explanation: the property, its verdict, and what was compared."""
        return self.explanation.split("\n", 1)[0]


def scenario_properties(scenario: Scenario, result: RunResult) -> tuple[PropertyVerdict, ...]:
    """The verdicts of `scenario.check(result)`, in the order it gave them (empty without a `check`).

    Raises:
        ScenarioError: `check` raised, or gave an item that is neither a `CheckResult` nor a triple.
    """
    return tuple(verdict for item in scenario.check(result) for verdict in _verdicts(scenario.name, item))


def _verdicts(scenario: str, item: Any) -> Iterable[PropertyVerdict]:
    if isinstance(item, CheckResult):
        return [PropertyVerdict(item.check.value, item.ok, item.explain())]
    if isinstance(item, CheckReport):
        return [verdict for result in item for verdict in _verdicts(scenario, result)]
    if isinstance(item, tuple) and len(item) == 3 and isinstance(item[0], str) and isinstance(item[2], str):
        name, ok, message = item
        head = f"{name}: {'held' if ok else 'violated'}"
        return [PropertyVerdict(name, bool(ok), f"{head}: {message}" if message else head)]
    raise ScenarioError(f"scenario {scenario}: check(result) must give CheckResults or (name, ok, message) "
                        f"triples of (str, bool, str), got {type(item).__name__} {_short(item)}")


def _short(item: Any) -> str:
    text = repr(item)
    return text if len(text) <= 60 else text[:57] + "..."
