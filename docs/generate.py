"""Regenerate the generated parts of the docs: the trace-event catalogue, the Flink glossary, the chapter figures
and the barrier animation.

    .venv/bin/python docs/generate.py               # everything
    .venv/bin/python docs/generate.py --no-figures  # the pages only (seconds, no scenario runs)

The glossary reads the docstrings of `sim/` as source text (nothing is imported):
every module, class and function docstring's `Flink counterpart:` and
`Simplified:` notes, grouped by concept (`CONCEPTS`).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

from sim.scenario.loader import load_scenario  # noqa: E402
from sim.trace.catalogue import catalogue_markdown  # noqa: E402
from sim.viz import (  # noqa: E402
    animate_barriers, draw_execution_graph, draw_spacetime, draw_timelines, write_figures,
)

GLOSSARY = DOCS / "reference" / "glossary.md"

CONCEPTS: list[tuple[str, tuple[str, ...]]] = [
    ("Jobs and the DataStream API", ("api.environment", "api.datastream", "api.transformations", "api.connected",
                                     "api.typeinfo", "api.functions", "api.state")),
    ("From a job to running subtasks: graphs and deployment", ("graph.stream_graph", "graph.job_graph",
                                                               "graph.execution_graph", "cluster.deployment",
                                                               "cluster.spec")),
    ("Sources and sinks", ("api.connectors", "api.kafka", "api.log", "runtime.source_operator", "runtime.sinks")),
    ("Tasks, operators and the network", ("runtime.task", "runtime.two_input_task", "runtime.operators",
                                          "runtime.two_input_operators", "runtime.broadcast_operators",
                                          "runtime.elements", "runtime.record_writer", "runtime.partitioners",
                                          "cluster.taskthread", "cluster.network")),
    ("Checkpoints and barriers", ("api.checkpointing", "runtime.barriers", "runtime.checkpoint_events",
                                  "cluster.checkpointing", "cluster.coordinator", "trace.checkpoint_stats")),
    ("Failures and recovery", ("cluster.failover", "cluster.faults", "cluster.restart", "cluster.heartbeat",
                               "cluster.recovery", "runtime.restore", "state.restore")),
    ("State and snapshots", ("state",)),
    ("Event time, timers and windows", ("api.windowed", "api.watermarks", "api.windows", "runtime.watermarks",
                                        "runtime.timers", "runtime.time_service", "runtime.timed_operators",
                                        "runtime.window", "runtime.merging_window_set", "runtime.interval_join")),
    ("BATCH execution", ("api.execution_mode", "runtime.batch", "state.batch", "graph.stages", "cluster.stages")),
    ("Pictures of a run", ("viz",)),
]
OTHER = "Other"
_NOTE = re.compile(r"^(?P<label>Flink counterpart|Simplified):\s*(?P<text>.*)$")
_NEW_LABEL = re.compile(r"^[A-Z][A-Za-z -]{0,30}:(\s|$)")


def _notes(docstring: str) -> dict[str, str]:
    """The `Flink counterpart:` and `Simplified:` notes of a docstring, each joined into one line.

    A note runs to the end of its paragraph, or to the next note or labelled
    line (`Checkpoint barriers: ...`), whichever comes first; it may start in
    the middle of a line (`... Simplified: ...`).
    """
    text = re.sub(r"\s(Simplified:)", r"\n\1", docstring)
    text = re.sub(r"\s(Flink counterpart:)", r"\n\1", text)
    notes: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        line = line.strip()
        match = _NOTE.match(line)
        if match:
            current = notes.setdefault(match["label"], [])
            current.append(match["text"])
        elif not line or _NEW_LABEL.match(line):
            current = None
        elif current is not None:
            current.append(line)
    return {label: " ".join(part for part in parts if part) for label, parts in notes.items()}


def _concept(module: str) -> str:
    """The concept of a module (`runtime.barriers`): the first `CONCEPTS` entry with a matching prefix."""
    for concept, prefixes in CONCEPTS:
        if any(module == p or module.startswith(p + ".") or module.startswith(p + "_") for p in prefixes):
            return concept
    return OTHER


def glossary_entries(package: Path = ROOT / "sim") -> list[tuple[str, str, str, str]]:
    """`(concept, sim name, Flink counterpart, simplified)` of every docstring with either note, in file order."""
    entries = []
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        named = [(module, tree)] + [(f"{module}.{node.name}", node) for node in ast.walk(tree)
                                    if isinstance(node, (ast.ClassDef, ast.FunctionDef))]
        for name, node in sorted(named, key=lambda item: getattr(item[1], "lineno", 0)):
            notes = _notes(ast.get_docstring(node) or "")
            if notes:
                concept = _concept(module.removeprefix("sim."))
                entries.append((concept, name, notes.get("Flink counterpart", ""), notes.get("Simplified", "")))
    return entries


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or "-"


def glossary_markdown(package: Path = ROOT / "sim") -> str:
    """The Flink glossary page: one section per concept, one table row per documented module, class or function."""
    entries = glossary_entries(package)
    lines = [
        "# Flink glossary",
        "",
        "Generated from the docstrings of `sim/` by `python docs/generate.py`; do not edit by hand.",
        "",
        "Every module, class and function of `sim` that stands for something in Apache Flink says so in",
        "its docstring: `Flink counterpart:` names the Flink class (or option, or concept), and",
        "`Simplified:` says what the simulator leaves out. This page collects those notes by concept.",
        "",
    ]
    order = [concept for concept, _ in CONCEPTS] + [OTHER]
    for concept in order:
        rows = [e for e in entries if e[0] == concept]
        if not rows:
            continue
        lines += [f"## {concept}", "", "| in `sim` | Flink counterpart | simplified |", "|---|---|---|"]
        lines += [f"| `{name}` | {_cell(flink)} | {_cell(simplified)} |" for _, name, flink, simplified in rows]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(figures: bool = True) -> None:
    (DOCS / "reference" / "trace-events.md").write_text(catalogue_markdown(), encoding="utf-8")
    GLOSSARY.write_text(glossary_markdown(), encoding="utf-8")
    if not figures:
        return
    for stem, seed in (("01_word_count", 7), ("02_redistribution_order", 1), ("03_aligned_checkpoints", 7),
                       ("04_unaligned_checkpoints", 3), ("06_out_of_order_windows", 1), ("07_session_bridge", 1),
                       ("08_idle_partition", 1), ("09_timer_timeout", 3),
                       ("10_streaming_vs_batch", 4), ("13_state_backends", 1)):
        result = _scenario(stem).build(seed).run()
        _figures(stem, result)
        if stem == "03_aligned_checkpoints":
            gif = animate_barriers(result).save(DOCS / "figures" / stem / "barriers.gif")
            print(gif.relative_to(DOCS))
    stalled = _scenario("08_idle_partition").module.build(1, idleness_ms=None)
    _figures("08_idle_partition_stalled", stalled.run())
    _figures("13_state_backends_hashmap", _scenario("13_state_backends").module.build(1, backend="hashmap").run())
    _failover_figures()
    _rescale_figures()


def _scenario(stem: str):
    return load_scenario(str(ROOT / "scenarios" / f"{stem}.py"))


def _failover_figures() -> None:
    """Chapter 4: scenario 11's figures, and the space-time diagram of its failover (crash to restored replay)."""
    stem = "11_crash_during_unaligned_checkpoint"
    result = _scenario(stem).build(3).run()
    _figures(stem, result)
    path = DOCS / "figures" / stem / "failover.png"
    draw_spacetime(result, path, start_ms=190, end_ms=690).clear()
    print(path.relative_to(DOCS))


def _rescale_figures() -> None:
    """Chapter 5: the run stopped with a savepoint at p=2, and the graph and timelines of its restores at 3 and 1."""
    stem = "12_savepoint_rescale"
    scenario = _scenario(stem).module
    with tempfile.TemporaryDirectory(prefix="sim-savepoints-") as folder:
        topic = scenario.clicks_topic()
        first = scenario.build(5, savepoint_dir=folder, topic=topic).run()
        _figures(stem, first)
        for parallelism in (3, 1):
            result = scenario.restore(5, first.savepoints[0], topic, parallelism).run()
            out = DOCS / "figures" / f"{stem}_p{parallelism}"
            out.mkdir(parents=True, exist_ok=True)
            for name, draw in (("execution_graph.png", lambda p: draw_execution_graph(result.execution_graph,
                                                                                      result.placements, p)),
                               ("timeline.png", lambda p: draw_timelines(result, p))):
                draw(out / name).clear()
                print((out / name).relative_to(DOCS))


def _figures(folder: str, result) -> None:
    out = DOCS / "figures" / folder
    out.mkdir(parents=True, exist_ok=True)
    for path in write_figures(result, out):
        print(path.relative_to(DOCS))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Regenerate the generated docs pages and figures.")
    parser.add_argument("--no-figures", action="store_true", help="write the pages only, run no scenario")
    main(figures=not parser.parse_args().no_figures)
