"""Loading scenario files: a module with `build(seed) -> Simulation`.

Layer: `sim.scenario`. A scenario is a Python file (or an importable module)
that defines:

- `build(seed: int) -> Simulation` (required): the job and the cluster;
- `SEEDS` (optional): the seeds it is checked at;
- `report(result) -> str` (optional): lines added under the summary, saying
  what the run shows;
- `check(result) -> Iterable[CheckResult | (name, ok, message)]` (optional):
  the properties every run must satisfy, whatever its seed, judged on
  `result` (`sim.testing` turns them into verdicts; `python -m sim run`
  prints them, `python -m sim explore` runs many seeds against them). A
  property that needs a reference run (the same job without faults) builds
  and runs it itself;
- a module docstring: its teaching point.

Faults are part of what `build(seed)` returns (`Simulation(faults=...)`,
for instance `simulation.draw_faults(horizon_ms)`, drawn from the seed), so
that the seed alone replays a run.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from sim.scenario.result import RunResult
from sim.scenario.simulation import Simulation


class ScenarioError(Exception):
    """A scenario could not be loaded or built; the message names the file."""


@dataclass
class Scenario:
    """A loaded scenario."""

    name: str
    module: ModuleType

    @property
    def doc(self) -> str:
        return (self.module.__doc__ or "").strip()

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(getattr(self.module, "SEEDS", (0,)))

    def build(self, seed: int) -> Simulation:
        try:
            simulation = self.module.build(seed)
        except Exception as exc:
            raise ScenarioError(f"scenario {self.name}: build({seed}) raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(simulation, Simulation):
            raise ScenarioError(f"scenario {self.name}: build({seed}) must return a sim.Simulation, "
                                f"got {type(simulation).__name__}")
        return simulation

    def report(self, result: RunResult) -> str:
        reporter: Callable[[RunResult], str] | None = getattr(self.module, "report", None)
        return reporter(result) if reporter else ""

    @property
    def has_check(self) -> bool:
        """Whether the scenario states properties (`check(result)`)."""
        return callable(getattr(self.module, "check", None))

    def check(self, result: RunResult) -> list[Any]:
        """What the scenario's `check(result)` returns, as a list (empty without a `check`).

        Raises:
            ScenarioError: `check` raised, or returned something that is not iterable.
        """
        if not self.has_check:
            return []
        try:
            return list(self.module.check(result))
        except Exception as exc:
            raise ScenarioError(f"scenario {self.name}: check(result) of seed {result.seed} raised "
                                f"{type(exc).__name__}: {exc}") from exc


def load_scenario(target: str) -> Scenario:
    """Load a scenario from a file path (`scenarios/01_word_count.py`) or a module name.

    Raises:
        ScenarioError: the file is missing, fails to import, or has no `build`.
    """
    path = Path(target)
    if target.endswith(".py") or path.exists():
        if not path.is_file():
            raise ScenarioError(f"scenario file {target!r} not found")
        name = path.stem
        spec = importlib.util.spec_from_file_location(f"sim_scenario_{name}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise ScenarioError(f"scenario file {target!r} failed to import: {type(exc).__name__}: {exc}") from exc
    else:
        name = target
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise ScenarioError(f"no scenario file or module {target!r}: {exc}") from exc
    if not callable(getattr(module, "build", None)):
        raise ScenarioError(f"scenario {target!r} defines no build(seed) function returning a Simulation")
    return Scenario(name, module)
