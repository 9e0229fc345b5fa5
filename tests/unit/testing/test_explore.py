"""Exploring seeds: seeds syntax, a scenario's properties as verdicts, in-order results whatever the workers."""

import pytest

from sim.scenario.loader import ScenarioError, load_scenario
from sim.testing import check_no_loss
from sim.testing.explore import ExploreError, Outcome, explore, parse_seeds, run_seed
from sim.testing.properties import scenario_properties
from tests.conftest import ROOT

CORRECT = str(ROOT / "tests" / "fixtures" / "exactly_once_under_crashes.py")
SCENARIO = '''
from sim import Simulation
from sim.api import StreamExecutionEnvironment
from sim.testing import check_no_loss

def build(seed):
    if seed == 2:
        raise ValueError("no topic for seed 2")
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([1, 2, 3]).map(lambda x: x * seed).add_sink(lambda v: None)
    return Simulation(env, seed=seed)

def check(result):
    return [CHECKS]
'''


def _scenario(tmp_path, checks: str, name: str = "scn") -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(SCENARIO.replace("CHECKS", checks))
    return str(path)


@pytest.mark.parametrize("text, seeds", [
    ("5", (5,)), ("0-3", (0, 1, 2, 3)), ("1,4,9", (1, 4, 9)), ("0-2,20-21", (0, 1, 2, 20, 21)),
    ("3,1-2, 2", (1, 2, 3)),
])
def test_seeds_are_single_ranges_or_lists_sorted_once_each(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text, message", [
    ("", "found ''"), ("x", "found 'x'"), ("0-x", "found '0-x'"), ("-3", "found '-3'"), ("1-2-3", "found '1-2-3'"),
    ("1,,2", "found ''"), ("9-3", "the range '9-3' ends before it starts"),
    ("0-2000000", "at most 1000000 seeds"),
])
def test_bad_seeds_are_one_clear_error(text, message):
    with pytest.raises(ExploreError) as caught:
        parse_seeds(text)
    assert str(caught.value).startswith(f"--seeds {text!r}: ") and message in str(caught.value)


def test_check_gives_check_results_reports_or_triples(tmp_path):
    """A CheckResult keeps its explanation; a triple gets the same shape (`name: verdict: message`)."""
    scenario = load_scenario(_scenario(tmp_path, '("three values", len(result.values()) == 3, "3 written"), '
                                                 'check_no_loss(result.values(), [1, 2, 3, 4])'))
    result = scenario.build(1).run()
    held, lost = scenario_properties(scenario, result)
    assert (held.name, held.ok, held.explanation) == ("three values", True, "three values: held: 3 written")
    assert (lost.name, lost.ok) == ("no loss", False) and lost.explanation == check_no_loss(
        result.values(), [1, 2, 3, 4]).explain()
    assert lost.headline.startswith("no loss: violated: 1 x missing value (3 values in the output, 4 in the ")


def test_check_that_gives_something_else_is_a_scenario_error(tmp_path):
    scenario = load_scenario(_scenario(tmp_path, '"the job finished"'))
    with pytest.raises(ScenarioError, match=r"^scenario scn: check\(result\) must give CheckResults or \(name, ok, "
                                            r"message\) triples of \(str, bool, str\), got str 'the job finished'$"):
        scenario_properties(scenario, scenario.build(1).run())


def test_a_seed_that_raises_is_an_error_and_the_others_go_on(tmp_path):
    """build(2) raises, check raises at seed 3: both are errors with their message; seeds 0 and 1 are judged."""
    target = _scenario(tmp_path, '("seed below 3", result.seed < 3 or 1 / 0, "")', name="raising")
    found = explore(target, [0, 1, 2, 3], workers=1)
    assert [r.outcome for r in found.runs] == [Outcome.HELD, Outcome.HELD, Outcome.ERROR, Outcome.ERROR]
    assert found.runs[2].error == "scenario raising: build(2) raised ValueError: no topic for seed 2"
    assert found.runs[3].error == ("scenario raising: check(result) of seed 3 raised ZeroDivisionError: "
                                   "division by zero")
    assert found.runs[0].digest and found.runs[0].status == "FINISHED"


def test_the_same_runs_in_the_same_order_whatever_the_workers():
    """Property: exploring is deterministic: one worker in-process and two worker processes give equal runs."""
    alone = explore(CORRECT, range(4), workers=1)
    shared = explore(CORRECT, range(4), workers=2)
    assert alone.runs == shared.runs
    assert [r.seed for r in shared.runs] == [0, 1, 2, 3] and all(r.outcome is Outcome.HELD for r in shared.runs)
    assert len({r.faults for r in shared.runs}) == 4  # each seed drew its own plan
    assert run_seed(CORRECT, 3) == shared.runs[3]


def test_stop_after_counts_failing_seeds_in_seed_order(tmp_path):
    target = _scenario(tmp_path, '("odd seed", result.seed % 2 == 0, f"seed {result.seed}")', name="odd")
    found = explore(target, range(10), workers=1, stop_after=2)
    assert [r.seed for r in found.runs] == [0, 1, 2] and [r.seed for r in found.failing] == [1, 2]
    assert [r.outcome for r in found.failing] == [Outcome.VIOLATED, Outcome.ERROR]  # build(2) raises
    assert found.stopped_early and found.runs[1].violated[0].headline == "odd seed: violated: seed 1"
