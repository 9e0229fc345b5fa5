"""`python -m sim explore` finds the seeds that break a scenario's properties, and `run` replays them exactly."""

import io
import re
import shlex
import subprocess
import sys

import pytest

from sim.cli import main
from sim.cli.progress import ProgressBar
from tests.conftest import ROOT, SCENARIOS

FIXTURES = ROOT / "tests" / "fixtures"
BROKEN = str(FIXTURES / "broken_exactly_once_under_crashes.py")
CORRECT = str(FIXTURES / "exactly_once_under_crashes.py")


def _replays(out: str) -> list[tuple[int, str, list[str]]]:
    """(seed, digest prefix, replay argv) of each violated seed the listing names."""
    found = re.findall(r"^seed (\d+): violated \(job \w+, digest (\w+)\)\n(?:  .*\n)*?  replay: python -m sim (.*)$",
                       out, re.MULTILINE)
    return [(int(seed), digest, shlex.split(command)) for seed, digest, command in found]


def test_explore_finds_a_broken_sink_and_its_replay_reproduces_the_violation(tmp_path, capsys):
    """The sink that commits at pre-commit writes some seeds' counts twice; `run` of the listed command gives
    the same trace (digest) and reports the same violated property."""
    assert main(["explore", BROKEN, "--seeds", "0-7", "--workers", "2"]) == 1
    out = capsys.readouterr().out
    replays = _replays(out)
    assert replays and len(replays) == out.count("exactly-once: violated:")
    assert out.rstrip().endswith(f"8 seed(s) explored: {8 - len(replays)} held, {len(replays)} violated, 0 raised")
    seed, digest, argv = replays[0]
    assert argv == ["run", BROKEN, "--seed", str(seed)]
    assert main(argv + ["--out", str(tmp_path), "--no-figures"]) == 1
    replayed = capsys.readouterr().out
    assert f"digest {digest}" in replayed.splitlines()[0]
    assert (tmp_path / "digest.txt").read_text().startswith(digest)
    assert "properties:\n  the job finished: held: FINISHED\n  exactly-once: violated: " in replayed


def test_explore_of_the_correct_sink_is_clean(capsys):
    """Property: the transactional topic sink commits every count exactly once at every seed, under the same faults."""
    assert main(["explore", CORRECT, "--seeds", "0-7", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [f"exploring {CORRECT} at 8 seed(s) with 2 worker(s)",
                                "8 seed(s) explored: 8 held, 0 violated, 0 raised"]


def test_a_plan_given_to_explore_is_in_every_replay_command(tmp_path, capsys):
    plan = '[{"kind": "fail_task", "at_ms": 120, "task": "map[0]"}]'
    assert main(["explore", BROKEN, "--seeds", "4", "--workers", "1", "--faults", plan, "--stop-after", "1"]) == 1
    out = capsys.readouterr().out
    assert "  faults: fail map[0] at 120 ms\n" in out
    [(seed, digest, argv)] = _replays(out)
    assert argv == ["run", BROKEN, "--seed", "4", "--faults", '[{"at_ms":120,"kind":"fail_task","task":"map[0]"}]']
    assert main(argv + ["--out", str(tmp_path), "--no-figures"]) == 1
    assert (tmp_path / "digest.txt").read_text().startswith(digest)
    assert "fault plan: fail map[0] at 120 ms" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["explore", str(SCENARIOS / "01_word_count.py")], "scenario 01_word_count defines no check(result)"),
    (["explore", CORRECT, "--seeds", "3-1"], "--seeds '3-1': the range '3-1' ends before it starts"),
    (["explore", CORRECT, "--faults", "[{]"], "--faults: a fault plan is a JSON list of faults, but '[{]' is not JSON"),
    (["explore", CORRECT, "--faults", '[{"kind": "crash_taskmanager", "at_ms": 5, "taskmanager": "tm-7"}]'],
     "--faults: crash tm-7 at 5 ms (never comes back): the cluster has no machine 'tm-7'; expected one of"),
    (["run", CORRECT, "--faults", '[{"kind": "fail_task", "at_ms": 5, "task": "map[5]"}]'],
     "--faults: fail map[5] at 5 ms: the job has no subtask 'map[5]'; expected one of"),
    (["run", CORRECT, "--faults", '{"kind": "fail_task"}'], "--faults: a fault plan is a JSON list of faults, got dict"),
])
def test_explore_and_run_errors_are_one_clear_line(argv, message, tmp_path, capsys):
    assert main(argv + (["--out", str(tmp_path / "o")] if argv[0] == "run" else [])) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"sim: error: {message}") and captured.err.count("\n") == 1
    assert captured.out == "" and not (tmp_path / "o").exists()


def test_the_command_runs_its_workers_and_keeps_a_log_clean():
    """`python -m sim explore` itself, with worker processes: stdout has the findings, stderr (not a terminal) holds
    no progress bar and nothing else."""
    run = subprocess.run([sys.executable, "-m", "sim", "explore", "tests/fixtures/exactly_once_under_crashes.py",
                          "--seeds", "0-1", "--workers", "2"], cwd=ROOT, capture_output=True, text=True)
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout.endswith("2 seed(s) explored: 2 held, 0 violated, 0 raised\n")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_redraws_only_on_a_terminal_and_at_most_once_per_percent():
    terminal, log = _Terminal(), io.StringIO()
    for stream in (terminal, log):
        bar = ProgressBar(stream, width=10)
        for done in range(1, 1001):
            bar(done, 1000, failing=done // 400)
        bar.close()
    assert log.getvalue() == ""
    drawn = terminal.getvalue().split("\r")
    assert 100 <= len(drawn) <= 105
    assert "[##########] 1000/1000 seeds, 2 failing" in drawn[-3] and drawn[-1] == ""
