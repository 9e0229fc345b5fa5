"""The command line: it runs scenarios and writes their files, draws from saved traces; every error is one clear line."""

import html
import json
import re
import shutil
import subprocess
import sys

import pytest

from sim.cli import main
from sim.trace import Trace
from tests.conftest import ROOT, SCENARIOS

TRACE_FIGURES = ("timeline", "checkpoints", "checkpoint_table")


@pytest.fixture(scope="module")
def aligned_out(tmp_path_factory):
    """`run` of the aligned-checkpoints scenario with every figure, once for this module."""
    out = tmp_path_factory.mktemp("aligned")
    assert main(["run", str(SCENARIOS / "03_aligned_checkpoints.py"), "--seed", "7", "--out", str(out)]) == 0
    return out


def test_run_writes_trace_summary_digest(tmp_path, capsys):
    """`run` prints the summary and writes trace.jsonl (loadable), summary.txt and digest.txt."""
    code = main(["run", str(SCENARIOS / "02_redistribution_order.py"), "--seed", "1", "--out", str(tmp_path),
                 "--no-figures"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "FINISHED" in printed and "keyBy edge" in printed
    trace = Trace.read_jsonl(tmp_path / "trace.jsonl")
    assert trace.digest() == (tmp_path / "digest.txt").read_text().strip()
    assert "FINISHED" in (tmp_path / "summary.txt").read_text()
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<img" not in report and "keyBy edge" in report and "No checkpoint was triggered." in report
    assert json.loads((tmp_path / "trace.chrome.json").read_text(encoding="utf-8"))["traceEvents"]


def test_missing_file_is_one_clear_error(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.py")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sim: error: scenario file") and "nope.py" in err and "not found" in err


def test_scenario_that_raises_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("def build(seed):\n    raise ValueError('no such topic')\n")
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "scenario bad: build(0) raised ValueError: no such topic" in err
    assert "Traceback" not in err


def test_scenario_without_build_is_one_clear_error(tmp_path, capsys):
    empty = tmp_path / "empty.py"
    empty.write_text("X = 1\n")
    assert main(["run", str(empty)]) == 2
    assert "defines no build(seed) function" in capsys.readouterr().err


def test_bad_option_and_help_from_a_subprocess():
    """argparse errors exit 2 with a usage line; --help explains every command."""
    bad = subprocess.run([sys.executable, "-m", "sim", "run", "x.py", "--seed", "seven"], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid int value" in bad.stderr and "Traceback" not in bad.stderr
    helped = subprocess.run([sys.executable, "-m", "sim", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert helped.returncode == 0 and all(command in helped.stdout for command in ("run", "draw", "explore"))


def test_failed_job_exits_non_zero(tmp_path, capsys):
    """A job whose user function raises: summary names the operator, exit code 1."""
    failing = tmp_path / "failing.py"
    failing.write_text(
        "from sim import Simulation\n"
        "from sim.api import StreamExecutionEnvironment\n"
        "def build(seed):\n"
        "    env = StreamExecutionEnvironment.get_execution_environment()\n"
        "    env.from_collection([1, 2, 0, 4]).map(lambda x: 10 // x).add_sink(lambda v: None)\n"
        "    return Simulation(env, seed=seed)\n"
    )
    assert main(["run", str(failing), "--out", str(tmp_path / "o"), "--no-figures"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "map[0]: ZeroDivisionError" in out and "(record 0)" in out


def test_run_writes_the_chrome_trace_and_a_report_with_every_figure(aligned_out):
    pngs = sorted(aligned_out.glob("*.png"))
    assert len(pngs) == 7
    report = (aligned_out / "report.html").read_text(encoding="utf-8")
    assert report.count('<img src="data:image/png;base64,') == len(pngs)
    assert "<th>Checkpointed size</th>" in report
    assert html.escape((aligned_out / "summary.txt").read_text(encoding="utf-8").rstrip("\n")) in report
    chrome = json.loads((aligned_out / "trace.chrome.json").read_text(encoding="utf-8"))
    assert chrome["otherData"] == {"job_name": "aligned checkpoints", "seed": 7}


def test_draw_writes_the_same_timeline_as_run(aligned_out, tmp_path, capsys):
    out = tmp_path / "timeline.png"
    assert main(["draw", str(aligned_out / "trace.jsonl"), "--figure", "timeline", "--out", str(out)]) == 0
    assert out.read_bytes() == (aligned_out / "timeline.png").read_bytes()
    assert capsys.readouterr().out == f"wrote {out}\n"


@pytest.mark.parametrize("figure", TRACE_FIGURES)
def test_draw_writes_beside_the_trace_by_default(aligned_out, tmp_path, figure):
    shutil.copy(aligned_out / "trace.jsonl", tmp_path / "trace.jsonl")
    assert main(["draw", str(tmp_path / "trace.jsonl"), "--figure", figure]) == 0
    assert (tmp_path / f"{figure}.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("target, figure, message", [
    ("nope.jsonl", "timeline", "trace file {dir}/nope.jsonl not found; expected a trace.jsonl"),
    ("", "timeline", "{dir} is a folder; expected a trace file such as {dir}/trace.jsonl"),
    ("timeline.png", "timeline", "{dir}/timeline.png: not a trace: not UTF-8 text"),
    ("trace.chrome.json", "timeline", "{dir}/trace.chrome.json:1: not a trace event"),
    ("trace.jsonl", "gantt", "unknown figure 'gantt'; expected one of timeline, checkpoints, checkpoint_table"),
    ("trace.jsonl", "spacetime", "figure 'spacetime' needs the job's graphs, which a trace does not hold"),
])
def test_draw_errors_are_one_clear_line(aligned_out, tmp_path, capsys, target, figure, message):
    trace = aligned_out / target if target else aligned_out
    code = main(["draw", str(trace), "--figure", figure, "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("sim: error: " + message.format(dir=aligned_out))
    assert not (tmp_path / "x.png").exists()


def test_draw_of_an_empty_file_says_it_holds_no_events(tmp_path, capsys):
    (tmp_path / "trace.jsonl").write_text("")
    assert main(["draw", str(tmp_path / "trace.jsonl")]) == 2
    assert "holds no events; expected a trace.jsonl written by `python -m sim run`" in capsys.readouterr().err


def test_draw_creates_the_folder_of_its_out_file(aligned_out, tmp_path):
    out = tmp_path / "new" / "folder" / "table.png"
    assert main(["draw", str(aligned_out / "trace.jsonl"), "--figure", "checkpoint_table", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")


EVENT_TIME_SCENARIOS = sorted(p for p in SCENARIOS.glob("[0-9][0-9]_*.py") if p.stem >= "06")


@pytest.mark.parametrize("path", EVENT_TIME_SCENARIOS, ids=[p.stem for p in EVENT_TIME_SCENARIOS])
def test_later_scenarios_run_from_the_command_line(path, tmp_path, capsys):
    """Each scenario runs as `python -m sim run <file>` at its first seed and prints its own report lines."""
    assert main(["run", str(path), "--out", str(tmp_path), "--no-figures"]) == 0
    printed = capsys.readouterr().out
    assert "FINISHED" in printed
    assert (tmp_path / "trace.jsonl").is_file() and (tmp_path / "report.html").is_file()


def test_running_again_into_the_same_folder_replaces_the_earlier_checkpoints(tmp_path, capsys):
    """A second `run` with the same --out works: the earlier run's chk-* are replaced, a savepoint stays."""
    args = ["run", str(SCENARIOS / "03_aligned_checkpoints.py"), "--seed", "7", "--out", str(tmp_path),
            "--no-figures", "--until-ms", "300"]
    assert main(args) == 0
    first = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    (tmp_path / "checkpoints" / "savepoint-keep").mkdir()
    (tmp_path / "checkpoints" / "chk-999").mkdir()
    assert main(args) == 0
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == sorted(first + ["savepoint-keep"])


def test_a_checkpoint_directory_in_use_is_refused_before_the_run(tmp_path):
    from sim.state.storage import CheckpointDirInUseError, CheckpointWriter

    (tmp_path / "chk-3").mkdir()
    with pytest.raises(CheckpointDirInUseError, match=r"already holds checkpoints of an earlier run \(chk-3\)"):
        CheckpointWriter.for_new_run(tmp_path)
    assert (tmp_path / "chk-3").is_dir()


CASE_JSON = ('{"cluster":{"task_managers":2,"slots_per_task_manager":1,"heartbeat_interval_ms":20,'
             '"heartbeat_timeout_ms":60},"faults":[{"kind":"crash_taskmanager","at_ms":150,"taskmanager":"tm-1",'
             '"back_after_ms":50}],"input":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20],'
             '"job":{"pace_ms":10,"steps":[STEP]},"seed":3}')


def test_case_replays_a_generated_case_and_writes_its_files(tmp_path, capsys):
    """`case` prints the case, the run's summary and trace digest, and its checks; `--out` writes the run's files."""
    assert main(["case", CASE_JSON.replace("STEP", '{"kind":"count"}'), "--out", str(tmp_path), "--no-figures"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("case (seed 3):\njob: parallelism 2;")
    assert "1 restart(s)" in printed and "exactly-once: held (20 values" in printed
    digest = Trace.read_jsonl(tmp_path / "trace.jsonl").digest()
    assert f"trace digest: {digest}" in printed and (tmp_path / "digest.txt").read_text().strip() == digest
    assert "replay: python -m sim case" in (tmp_path / "summary.txt").read_text()


def test_case_exits_1_when_a_check_fails(capsys):
    step = '{"kind":"process","function":"tests.unit.testing.operators:ForgetfulCount","needs_key_order":false}'
    assert main(["case", CASE_JSON.replace("STEP", step)]) == 1
    assert "exactly-once: violated" in capsys.readouterr().out


@pytest.mark.parametrize("text, message", [
    ("[1, 2", r"sim: error: not a case: Expecting ',' delimiter"),
    ('{"job": {"steps": [{"kind": "map"}]}}', r"sim: error: not a case: step kind 'map' is unknown"),
    ('{"job": {}, "faults": [{"kind": "fail_task", "at_ms": 1, "task": "map[0]"}]}',
     r"sim: error: fail map\[0\] at 1 ms: the job has no subtask 'map\[0\]'"),
])
def test_case_errors_are_one_clear_line(text, message, capsys):
    assert main(["case", text]) == 2
    err = capsys.readouterr().err
    assert re.match(message, err) and err.count("\n") == 1
