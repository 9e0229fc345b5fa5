"""The generated Flink glossary is current, and the guide's examples print what the guide shows."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def generator():
    """`docs/generate.py` as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_glossary_is_current():
    """docs/reference/glossary.md is exactly what `python docs/generate.py` writes."""
    page = (ROOT / "docs" / "reference" / "glossary.md").read_text(encoding="utf-8")
    assert page == generator().glossary_markdown(), "run: .venv/bin/python docs/generate.py --no-figures"


def test_the_glossary_has_every_note_grouped_by_concept():
    gen = generator()
    entries = gen.glossary_entries()
    noted = sum(1 for path in (ROOT / "sim").rglob("*.py")
                for _ in re.finditer(r"Flink counterpart:", path.read_text(encoding="utf-8")))
    assert sum(1 for e in entries if e[2]) == noted
    concepts = {e[0] for e in entries}
    assert {"Checkpoints and barriers", "State and snapshots", "Event time, timers and windows"} <= concepts
    handler = next(e for e in entries if e[1] == "sim.runtime.barriers.BarrierHandler")
    assert handler[0] == "Checkpoints and barriers"
    assert handler[2].startswith("`SingleCheckpointBarrierHandler` (exactly-once)")
    assert handler[3].startswith("one logical input gate")


def test_a_note_ends_at_its_paragraph_or_the_next_label():
    notes = generator()._notes("Summary.\n\nFlink counterpart: `A`, `B`. Simplified: no C.\n"
                               "Checkpoint barriers: not part of it.\n\nSimplified: ignored, the first one wins"
                               "\nacross lines.")
    assert notes == {"Flink counterpart": "`A`, `B`.", "Simplified": "no C. ignored, the first one wins across lines."}


def blocks(page: str) -> list[tuple[str, str]]:
    """The fenced blocks of a page: (language, text), in order."""
    return re.findall(r"```(\w*)\n(.*?)```", page, flags=re.S)


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory):
    """What the guide's first command writes: `python -m sim run ... --out out/aligned` (without figures)."""
    work = tmp_path_factory.mktemp("guide")
    (work / "scenarios").symlink_to(ROOT / "scenarios")
    run = subprocess.run([sys.executable, "-m", "sim", "run", "scenarios/03_aligned_checkpoints.py", "--seed", "7",
                          "--out", "out/aligned", "--no-figures"], cwd=work, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    return work


def test_the_guide_to_reading_a_trace_prints_what_it_shows(trace_dir, monkeypatch):
    """Each Python example of docs/guides/read-a-trace.md runs (in order, sharing names) and prints exactly
    the text block that follows it."""
    page = (ROOT / "docs" / "guides" / "read-a-trace.md").read_text(encoding="utf-8")
    found = blocks(page)
    assert "--seed 7 --out out/aligned" in found[0][1]
    first_line = (trace_dir / "out" / "aligned" / "trace.jsonl").read_text(encoding="utf-8").split("\n", 1)[0]
    assert first_line in found[1][1]
    monkeypatch.chdir(trace_dir)
    namespace: dict = {}
    examples = [(code, shown) for (lang, code), (next_lang, shown) in zip(found, found[1:])
                if lang == "python" and next_lang == "text"]
    assert len(examples) == 2
    for code, shown in examples:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "read-a-trace.md", "exec"), namespace)
        assert out.getvalue() == shown
