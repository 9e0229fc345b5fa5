"""The command line: `python -m sim run <scenario> --seed N --out DIR`, `draw <trace> --figure F`, `explore`,
`case '<json>'` (replay a generated test case).

Layer: the top; may import everything. Every error is one clear line on
stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from sim.cli.explore import add_explore, explore_command
from sim.cluster.faults import FaultPlan, FaultPlanError
from sim.graph import JobBuildError
from sim.cluster.deployment import ClusterTooSmallError
from sim.scenario.loader import Scenario, ScenarioError, load_scenario
from sim.state.storage import CheckpointDirInUseError, CheckpointWriter
from sim.scenario.result import RunResult
from sim.scenario.simulation import Simulation
from sim.testing.explore import ExploreError
from sim.testing.properties import scenario_properties
from sim.trace import Trace, TraceLevel
from sim.viz import write_figures
from sim.viz.report import write_report
from sim.viz.saved import DRAWN_BY_RUN, TRACE_FIGURES, FigureError, draw_from_trace

_LEVELS = {level.name.lower(): level for level in TraceLevel}


class CaseError(Exception):
    """`case` cannot replay: its argument is not a case."""


class DrawError(Exception):
    """`draw` cannot draw: the trace file is missing or broken, or the figure cannot come from a trace."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sim",
        description="sim: a deterministic simulator of Flink-style stream processing. "
                    "Run a scenario and write its trace, summary and figures.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser(
        "run", help="run a scenario once and write its trace, Chrome trace, summary, digest, figures and report",
        description="Run a scenario (a .py file or module defining build(seed) -> Simulation). Writes "
                    "trace.jsonl (one JSON event per line), trace.chrome.json (for Perfetto or "
                    "chrome://tracing), summary.txt, digest.txt (sha256 of the trace), PNG figures and "
                    "report.html (summary, checkpoint statistics and figures in one page) into --out, and "
                    "prints the summary.",
    )
    run.add_argument("scenario", help="scenario file (scenarios/01_word_count.py) or module name")
    run.add_argument("--seed", type=int, default=None, help="the seed (default: the scenario's first seed)")
    run.add_argument("--out", default=None, help="output folder (default: out/<scenario>-seed<N>)")
    run.add_argument("--trace-level", choices=sorted(_LEVELS, key=lambda k: _LEVELS[k]), default=None,
                     help="override how much the trace records (job < checkpoints < buffers < records)")
    run.add_argument("--until-ms", type=int, default=None, help="stop after this much virtual time")
    run.add_argument("--no-figures", action="store_true", help="skip the figures (report.html is still written)")
    run.add_argument("--faults", default=None, metavar="JSON",
                     help="a fault plan (FaultPlan.to_json(), as explore prints it) that replaces the scenario's own")
    _add_draw(commands)
    add_explore(commands)
    _add_case(commands)
    return parser


def _add_case(commands) -> None:
    case = commands.add_parser(
        "case", help="run a generated test case again (what a failing property test prints)",
        description="Run a sim.testing Case from its JSON (Case.to_json(), as a failing property test prints "
                    "it): print the case, the run's summary and trace digest, and its checks against the same "
                    "case without faults. With --out, also write the run's trace, summary, digest and report.",
    )
    case.add_argument("case", help="the case as JSON")
    case.add_argument("--out", default=None, help="also write the run's files into this folder")
    case.add_argument("--no-figures", action="store_true", help="with --out: skip the figures")


def _add_draw(commands) -> None:
    draw = commands.add_parser(
        "draw", help="draw one figure from a saved trace.jsonl",
        description=f"Draw one figure from a trace.jsonl that `run` wrote, without running the job again. "
                    f"Figures: {', '.join(TRACE_FIGURES)}. The {', '.join(DRAWN_BY_RUN)} figures need the "
                    f"job's graphs, which a trace does not hold: `run` draws them.",
    )
    draw.add_argument("trace", help="the trace file (out/word-count/trace.jsonl)")
    draw.add_argument("--figure", default="timeline",
                      help=f"the figure: {', '.join(TRACE_FIGURES)} (default: timeline)")
    draw.add_argument("--out", default=None, help="the PNG file to write (default: <figure>.png beside the trace)")


def _run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    seed = args.seed if args.seed is not None else scenario.seeds[0]
    simulation = scenario.build(seed)
    _use_faults(simulation, args.faults, scenario.name)
    if args.trace_level:
        simulation.trace_level = _LEVELS[args.trace_level]
    out = Path(args.out or f"out/{scenario.name}-seed{seed}")
    out.mkdir(parents=True, exist_ok=True)
    if simulation.checkpoint_dir is None and simulation.env.get_checkpoint_config().is_checkpointing_enabled():
        # The run's own folder: like trace.jsonl, an earlier run's checkpoints are replaced (savepoints stay).
        simulation.checkpoint_dir = str(out / "checkpoints")
        CheckpointWriter.clear_earlier_run(simulation.checkpoint_dir)
    result = simulation.run(until_ms=args.until_ms)
    summary, held = _summary(scenario, result)
    written = _write_run(result, summary, out, figures=not args.no_figures)
    if simulation.checkpoint_dir and Path(simulation.checkpoint_dir).is_dir():
        written.append(f"{Path(simulation.checkpoint_dir).name}/")
    print(summary)
    print(f"\nwrote {', '.join(written)} to {out}/")
    return 1 if result.status == "FAILED" or not held else 0


def _summary(scenario: Scenario, result: RunResult) -> tuple[str, bool]:
    """The run's summary, then the scenario's report and its properties' verdicts; and whether they all held."""
    summary = result.summary()
    extra = scenario.report(result)
    if extra:
        summary += "\n\n" + extra
    verdicts = scenario_properties(scenario, result)
    if verdicts:
        summary += "\n\nproperties:\n" + "\n".join(textwrap.indent(v.explanation, "  ") for v in verdicts)
    return summary, all(v.ok for v in verdicts)


def _use_faults(simulation: Simulation, faults: str | None, scenario: str) -> None:
    """Put the plan of `--faults` in force, if given, and check the plan in force against the job.

    Raises:
        FaultPlanError: the JSON is not a plan, or the plan names what the job or cluster lacks.
    """
    try:
        if faults is not None:
            simulation.faults = FaultPlan.from_json(faults)
        simulation.validate_faults()
    except FaultPlanError as exc:
        where = "--faults" if faults is not None else f"scenario {scenario}: its fault plan"
        raise FaultPlanError(f"{where}: {exc}") from None


def _write_run(result: RunResult, summary: str, out: Path, figures: bool) -> list[str]:
    """Write the trace, its Chrome export, summary, digest, figures and report; returns the file names."""
    written = [result.trace.write_jsonl(out / "trace.jsonl"), result.to_chrome_trace(out / "trace.chrome.json")]
    (out / "summary.txt").write_text(summary + "\n", encoding="utf-8")
    (out / "digest.txt").write_text(result.digest + "\n", encoding="utf-8")
    written += [out / "summary.txt", out / "digest.txt"]
    drawn = write_figures(result, out) if figures else []
    written += drawn + [write_report(result, out, drawn, summary)]
    return [path.name for path in written]


def _case(args: argparse.Namespace) -> int:
    from sim.testing.case import Case  # only this command needs the test helpers

    try:
        case = Case.from_json(args.case)
    except ValueError as exc:
        raise CaseError(f"not a case: {exc}") from None
    run, report = case.replay()
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        summary = f"{case.describe()}\n\n{run.result.summary()}\n\n{report.explain()}"
        written = _write_run(run.result, summary, out, figures=not args.no_figures)
        print(f"\nwrote {', '.join(written)} to {out}/")
    return 0 if report and run.result.status == "FINISHED" else 1


def _trace_file(name: str) -> Trace:
    """Load a trace file named on the command line.

    Raises:
        DrawError: it does not exist, is a folder, or is not a trace.
    """
    path = Path(name)
    if path.is_dir():
        raise DrawError(f"{path} is a folder; expected a trace file such as {path / 'trace.jsonl'}")
    if not path.is_file():
        raise DrawError(f"trace file {path} not found; expected a trace.jsonl written by `python -m sim run`")
    try:
        trace = Trace.read_jsonl(path)
    except ValueError as exc:
        raise DrawError(f"{exc}; expected a trace.jsonl written by `python -m sim run`") from None
    if not len(trace):
        raise DrawError(f"trace file {path} holds no events; expected a trace.jsonl written by `python -m sim run`")
    return trace


def _draw(args: argparse.Namespace) -> int:
    trace = _trace_file(args.trace)
    out = Path(args.out) if args.out else Path(args.trace).parent / f"{args.figure}.png"
    try:
        path = draw_from_trace(trace, args.figure, out)
    except FigureError as exc:
        raise DrawError(str(exc)) from None
    print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    command = {"draw": _draw, "explore": explore_command, "run": _run, "case": _case}[args.command]
    try:
        return command(args)
    except (ScenarioError, JobBuildError, ClusterTooSmallError, DrawError, CheckpointDirInUseError, FaultPlanError,
            ExploreError, CaseError, OSError) as exc:
        print(f"sim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sim: interrupted", file=sys.stderr)
        return 130
