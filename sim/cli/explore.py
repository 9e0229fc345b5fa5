"""`python -m sim explore SCENARIO --seeds 0-999 --workers N`: run many seeds, list those that break a property.

Layer: `sim.cli`. The work is `sim.testing.explore.explore`; this module
parses the options, checks them before any worker starts, draws the
progress bar on stderr and prints the findings, in seed order, on stdout.
"""

from __future__ import annotations

import argparse
import os
import sys

from sim.cluster.faults import FaultPlan, FaultPlanError
from sim.testing.explore import Exploration, ExploreError, Outcome, SeedRun, explore, parse_seeds, scenario_for
from sim.cli.progress import ProgressBar


def _positive(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}")
    return value


def add_explore(commands) -> None:
    explore_parser = commands.add_parser(
        "explore", help="run a scenario at many seeds in parallel and list the seeds that break its properties",
        description="Run a scenario at every seed of --seeds (build(seed), run, then the scenario's "
                    "check(result)) in worker processes, and list each seed whose run broke a property or "
                    "raised, with the command that replays it. Exit code 1 if any seed did.",
    )
    explore_parser.add_argument("scenario", help="scenario file or module; it must define check(result)")
    explore_parser.add_argument("--seeds", default=None,
                                help="seeds: 5, 0-999, 1,4,9 or 0-9,20-29 (default: the scenario's SEEDS)")
    explore_parser.add_argument("--workers", type=_positive, default=None,
                                help="worker processes (default: one per CPU, at most one per seed; 1 runs "
                                     "every seed in this process)")
    explore_parser.add_argument("--stop-after", type=_positive, default=None, metavar="K",
                                help="stop once K seeds have failed, counted in seed order")
    explore_parser.add_argument("--faults", default=None, metavar="JSON",
                                help="a fault plan (FaultPlan.to_json()) that replaces every seed's own")


def explore_command(args: argparse.Namespace) -> int:
    """Explore, print the findings; 1 if any seed failed, else 0.

    Raises:
        ExploreError: bad options, a scenario without `check`, or a plan that does not fit the job.
    """
    scenario = scenario_for(args.scenario)
    if not scenario.has_check:
        raise ExploreError(f"scenario {scenario.name} defines no check(result); explore judges every seed by the "
                           f"properties check returns (see docs/guides/write-a-scenario.md)")
    seeds = parse_seeds(args.seeds) if args.seeds is not None else scenario.seeds
    if not seeds:
        raise ExploreError(f"scenario {scenario.name} has no SEEDS; give --seeds")
    faults = _faults(args.faults, scenario, seeds[0]) if args.faults is not None else None
    workers = args.workers or max(1, min(os.cpu_count() or 1, len(seeds)))
    print(f"exploring {args.scenario} at {len(seeds)} seed(s) with {workers} worker(s)", flush=True)
    bar = ProgressBar(sys.stderr)
    try:
        found = explore(args.scenario, seeds, workers, args.stop_after, faults, bar)
    finally:
        bar.close()
    print("\n".join(_listing(found)))
    return 1 if found.failing else 0


def _faults(text: str, scenario, seed: int) -> str:
    """The plan of `--faults`, checked against the job at the first seed; as compact JSON."""
    try:
        plan = FaultPlan.from_json(text)
        simulation = scenario.build(seed)
        simulation.faults = plan
        simulation.validate_faults()
    except FaultPlanError as exc:
        raise ExploreError(f"--faults: {exc}") from None
    return plan.to_json()


def _listing(found: Exploration) -> list[str]:
    lines = []
    for run in found.failing:
        lines += _seed_lines(run) + [f"  replay: {found.replay_command(run)}"]
    counts = (f"{found.count(Outcome.HELD)} held, {found.count(Outcome.VIOLATED)} violated, "
              f"{found.count(Outcome.ERROR)} raised")
    tail = [f"{len(found.runs)} seed(s) explored: {counts}"]
    if found.stopped_early:
        tail.append(f"stopped after {len(found.failing)} failing seed(s); "
                    f"{len(found.seeds) - len(found.runs)} of {len(found.seeds)} not explored")
    return lines + ([""] if lines else []) + tail


def _seed_lines(run: SeedRun) -> list[str]:
    if run.outcome is Outcome.ERROR:
        return [f"seed {run.seed}: error: {run.error}"]
    lines = [f"seed {run.seed}: violated (job {run.status}, digest {run.digest[:16]})"]
    lines += [f"  {verdict.headline}" for verdict in run.violated]
    plan = FaultPlan.from_json(run.faults)
    if plan:
        lines.append(f"  faults: {plan.describe()}")
    return lines
