"""Exploring seeds: run a scenario at many seeds, in worker processes, and judge each run by its properties.

Layer: `sim.testing`, above `sim.scenario`; `python -m sim explore` prints
what `explore` returns. Each seed is `build(seed)`, `run()`, then the
scenario's `check(result)` (see `sim.testing.properties`), run as
`python -m sim run SCENARIO --seed N` would run it, so that this command
replays it exactly (same trace digest). Results come back in seed order
whatever the number of workers, so the outcome does not depend on it.

Workers are processes started with `forkserver` where the platform has it
(else `spawn`): never `fork`, which would copy whatever state the parent
holds. Each worker loads the scenario once.
"""

from __future__ import annotations

import multiprocessing
import shlex
import tempfile
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from enum import Enum

from sim.cluster.faults import FaultPlan
from sim.scenario.loader import Scenario, ScenarioError, load_scenario
from sim.scenario.simulation import Simulation
from sim.testing.properties import PropertyVerdict, scenario_properties


class ExploreError(Exception):
    """Exploring cannot start or go on: bad seeds, or a worker process died; the message says which."""


class Outcome(Enum):
    """What one seed's run came to."""

    HELD = "held"
    """Every property held."""

    VIOLATED = "violated"
    """At least one property was violated."""

    ERROR = "error"
    """Building, running or checking raised: the run has no verdict."""


@dataclass(frozen=True)
class SeedRun:
    """One seed explored.

    Attributes:
        seed: the seed.
        outcome: held, violated, or error.
        status: the job's final status (`FINISHED`, `FAILED`), empty when it raised before the end.
        digest: sha256 of the run's trace (empty on error): `python -m sim run` of the replay writes the same.
        faults: the plan in force, as JSON (what `--faults` takes).
        violated: the properties that did not hold, in the order `check` gave them.
        error: what raised, in one line (empty unless the outcome is an error).
    """

    seed: int
    outcome: Outcome
    status: str = ""
    digest: str = ""
    faults: str = "[]"
    violated: tuple[PropertyVerdict, ...] = ()
    error: str = ""

    @property
    def failing(self) -> bool:
        return self.outcome is not Outcome.HELD


@dataclass(frozen=True)
class Exploration:
    """What `explore` found: a `SeedRun` per seed explored, in seed order.

    Attributes:
        target: the scenario as given (a file path or a module name).
        seeds: the seeds asked for, in order.
        runs: the seeds explored; fewer than asked when `stop_after` stopped it.
        faults: the plan that replaced every seed's own (JSON), or None.
    """

    target: str
    seeds: tuple[int, ...]
    runs: tuple[SeedRun, ...]
    faults: str | None = None

    @property
    def failing(self) -> tuple[SeedRun, ...]:
        return tuple(r for r in self.runs if r.failing)

    @property
    def stopped_early(self) -> bool:
        return len(self.runs) < len(self.seeds)

    def count(self, outcome: Outcome) -> int:
        return sum(r.outcome is outcome for r in self.runs)

    def replay_command(self, run: SeedRun) -> str:
        """The command line that runs `run` again exactly: its seed, and the plan when it was not the seed's."""
        command = f"python -m sim run {shlex.quote(self.target)} --seed {run.seed}"
        return command if self.faults is None else f"{command} --faults {shlex.quote(self.faults)}"


MAX_SEEDS = 1_000_000


def parse_seeds(text: str) -> tuple[int, ...]:
    """Seeds from `5`, `0-999`, `1,4,9` or `0-9,20-29`: sorted, each once.

    Raises:
        ExploreError: a part is not a non-negative int or a range `low-high` with low <= high, or
            more than `MAX_SEEDS` seeds.
    """
    seeds: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        if not low.isdigit() or not (high.isdigit() or part.strip() == low):
            raise ExploreError(f"--seeds {text!r}: expected a seed (5), a range (0-999) or a comma-separated "
                               f"list of them (0-9,20-29), found {part.strip()!r}")
        first, last = int(low), int(high or low)
        if last < first:
            raise ExploreError(f"--seeds {text!r}: the range {part.strip()!r} ends before it starts; "
                               f"expected low-high with low <= high")
        seeds.update(range(first, min(last, first + MAX_SEEDS) + 1))
        if len(seeds) > MAX_SEEDS:
            raise ExploreError(f"--seeds {text!r}: at most {MAX_SEEDS} seeds at a time")
    return tuple(sorted(seeds))


_LOADED: dict[str, Scenario] = {}


def scenario_for(target: str) -> Scenario:
    """The scenario `target`, loaded once per process."""
    if target not in _LOADED:
        _LOADED[target] = load_scenario(target)
    return _LOADED[target]


def run_seed(target: str, seed: int, faults: str | None = None) -> SeedRun:
    """Build, run and check `target` at `seed` (with `faults` replacing its plan, if given); never raises.

    This is what a worker process runs.
    """
    phase = "build"
    try:
        scenario = scenario_for(target)
        simulation = scenario.build(seed)
        if faults is not None:
            simulation.faults = FaultPlan.from_json(faults)
        simulation.validate_faults()
        phase = "run"
        result = _run_as_the_cli_does(simulation)
        phase = "check"
        verdicts = scenario_properties(scenario, result)
    except Exception as exc:  # a seed that raises is a finding, not the end of the exploration
        return SeedRun(seed, Outcome.ERROR, error=_one_line(phase, exc))
    violated = tuple(v for v in verdicts if not v.ok)
    return SeedRun(seed, Outcome.VIOLATED if violated else Outcome.HELD, result.status, result.digest,
                   result.faults.to_json(), violated)


def _run_as_the_cli_does(simulation: Simulation):
    """Run as `python -m sim run` does: completed checkpoints go to files, which the restore path then reads."""
    with tempfile.TemporaryDirectory(prefix="sim-explore-") as folder:
        if simulation.checkpoint_dir is None and simulation.env.get_checkpoint_config().is_checkpointing_enabled():
            simulation.checkpoint_dir = folder
        return simulation.run()


def _one_line(phase: str, exc: Exception) -> str:
    message = " ".join(str(exc).split())
    return message if isinstance(exc, ScenarioError) else f"{phase} raised {type(exc).__name__}: {message}"


Progress = Callable[[int, int, int], None]
"""Called after each seed, in seed order: (seeds done, seeds asked, failing seeds so far)."""


def explore(target: str, seeds: Sequence[int], workers: int = 1, stop_after: int | None = None,
            faults: str | None = None, progress: Progress | None = None) -> Exploration:
    """Run `target` at every seed, `workers` at a time, and judge each run.

    Args:
        target: a scenario file or module, as `python -m sim run` takes it.
        seeds: the seeds, explored and reported in this order.
        workers: worker processes; 1 runs every seed in this process.
        stop_after: stop once this many seeds have failed (violated or raised), counted in seed order.
        faults: a plan (JSON) that replaces every seed's own.
        progress: told of each seed done.

    Raises:
        ExploreError: a worker process died.
    """
    if workers <= 1:
        runs = _consume((run_seed(target, seed, faults) for seed in seeds), len(seeds), stop_after, progress)
    else:
        runs = _in_workers(target, seeds, workers, stop_after, faults, progress)
    return Exploration(target, tuple(seeds), tuple(runs), faults)


def _in_workers(target: str, seeds: Sequence[int], workers: int, stop_after: int | None, faults: str | None,
                progress: Progress | None) -> list[SeedRun]:
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
    try:
        return _consume(_in_order(pool, target, seeds, workers, faults), len(seeds), stop_after, progress)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _in_order(pool: ProcessPoolExecutor, target: str, seeds: Sequence[int], workers: int, faults: str | None):
    """Each seed's `SeedRun` in seed order, keeping a few seeds queued ahead of the workers."""
    ahead: deque[tuple[int, Future[SeedRun]]] = deque()
    upcoming = iter(seeds)
    for seed in upcoming:
        ahead.append((seed, pool.submit(run_seed, target, seed, faults)))
        if len(ahead) >= 2 * workers:
            break
    while ahead:
        seed, future = ahead.popleft()
        try:
            yield future.result()
        except BrokenProcessPool as exc:
            raise ExploreError(f"a worker process died while exploring seed {seed} of {target}: {exc}") from None
        for nxt in upcoming:
            ahead.append((nxt, pool.submit(run_seed, target, nxt, faults)))
            break


def _consume(runs, total: int, stop_after: int | None, progress: Progress | None) -> list[SeedRun]:
    done: list[SeedRun] = []
    failing = 0
    for run in runs:
        done.append(run)
        failing += run.failing
        if progress is not None:
            progress(len(done), total, failing)
        if stop_after is not None and failing >= stop_after:
            break
    return done
