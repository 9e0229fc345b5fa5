"""The guide to injecting faults prints what it shows, and the scenario guide's example states a property that holds."""

from __future__ import annotations

import contextlib
import io
import re
import shlex

from sim.cli import main
from tests.conftest import ROOT
from tests.unit.test_docs_course import blocks


def test_the_guide_to_injecting_faults_prints_what_it_shows(monkeypatch, capsys):
    """Each Python example of docs/guides/inject-faults.md runs (in order, sharing names), and its explore command
    runs from the repository's root; each prints exactly the text block that follows it."""
    monkeypatch.chdir(ROOT)
    found = blocks((ROOT / "docs" / "guides" / "inject-faults.md").read_text(encoding="utf-8"))
    examples = [(lang, code, shown) for (lang, code), (next_lang, shown) in zip(found, found[1:])
                if next_lang == "text"]
    assert [lang for lang, _, _ in examples] == ["python"] * 5 + ["sh"]
    namespace: dict = {}
    for lang, code, shown in examples:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            if lang == "python":
                exec(compile(code, "inject-faults.md", "exec"), namespace)
        if lang == "sh":
            argv = shlex.split(code)
            assert argv[:3] == ["python", "-m", "sim"] and main(argv[3:]) == 1
            out.write(capsys.readouterr().out)
        assert out.getvalue() == shown


def test_the_scenario_guides_example_runs_and_its_property_holds(tmp_path, capsys):
    page = (ROOT / "docs" / "guides" / "write-a-scenario.md").read_text(encoding="utf-8")
    scenario = tmp_path / "my_scenario.py"
    scenario.write_text(re.findall(r"```python\n(.*?)```", page, flags=re.S)[0])
    assert main(["run", str(scenario), "--seed", "7", "--out", str(tmp_path / "out"), "--no-figures"]) == 0
    assert "\n\nproperties:\n  every word counted: held: 1000 records\n" in capsys.readouterr().out
