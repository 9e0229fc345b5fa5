"""The guide to property-testing an operator works as written: its test passes on the right operator, fails on
the forgetful one with the note the guide shows, and the printed replay command reproduces the failure."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

GUIDE = ROOT / "docs" / "guides" / "property-test-your-operator.md"
# The guide's test has no profile of its own; this one makes the drawn examples the same on every run.
CONFTEST = ('from hypothesis import settings\n'
            'settings.register_profile("guide", derandomize=True, database=None, deadline=None)\n'
            'settings.load_profile("guide")\n')


def blocks(page: str) -> list[tuple[str, str]]:
    return re.findall(r"```(\w*)\n(.*?)```", page, flags=re.S)


def _pytest(folder) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_new_maximum.py"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def guide_folder(tmp_path_factory):
    """The guide's Python blocks, each written to the file its first line names, beside a derandomizing conftest."""
    folder = tmp_path_factory.mktemp("property-guide")
    found = blocks(GUIDE.read_text(encoding="utf-8"))
    files = [code for lang, code in found if lang == "python"]
    assert [code.splitlines()[0] for code in files] == ["# my_operators.py", "# test_new_maximum.py"]
    for code in files:
        (folder / code.splitlines()[0][2:]).write_text(code, encoding="utf-8")
    (folder / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    return folder


def test_the_guides_test_passes_on_the_right_operator(guide_folder):
    done = _pytest(guide_folder)
    assert done.returncode == 0, done.stdout + done.stderr


def test_on_the_forgetful_operator_it_fails_with_the_note_the_guide_shows_and_a_replay_that_fails_again(
        guide_folder):
    test = guide_folder / "test_new_maximum.py"
    test.write_text(test.read_text().replace("my_operators:NewMaximum", "my_operators:ForgetfulNewMaximum"))
    done = _pytest(guide_folder)
    assert done.returncode == 1, done.stdout + done.stderr
    printed = [line[8:] for line in done.stdout.splitlines() if line.startswith("E       ")]
    start = printed.index("case (seed 0):")
    shown = next(text for lang, text in blocks(GUIDE.read_text(encoding="utf-8"))
                 if lang == "text" and text.startswith("case (seed 0):")).splitlines()
    assert printed[start:start + len(shown) - 1] == shown[:-1]
    replay = printed[start + len(shown) - 1]
    assert replay.startswith("replay: python -m sim case '{") and shown[-1].startswith("replay: python -m sim case '{")
    assert "Case.from_json('{" in done.stdout  # the falsifying example, as an expression that makes it again
    command = replay[len("replay: "):].replace("python", sys.executable, 1)
    env = {**os.environ, "PYTHONPATH": f"{guide_folder}{os.pathsep}{ROOT}"}
    again = subprocess.run(command, shell=True, cwd=guide_folder, env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "exactly-once: violated" in again.stdout and "trace digest: " in again.stdout
