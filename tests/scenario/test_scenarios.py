"""Every scenario at its seeds: it runs, and it shows what its docstring says it shows."""

from collections import Counter

import pytest

from sim.kernel.hashing import assign_key_to_parallel_operator
from sim.scenario.loader import load_scenario
from sim.trace import BackpressureStarted
from tests.conftest import SCENARIOS

ALL = sorted(SCENARIOS.glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_scenario_is_documented(path):
    """A scenario states its teaching point, its Flink concepts and the seeds it is checked at."""
    scenario = load_scenario(str(path))
    for heading in ("Teaching point:", "Flink concepts:", "Seeds:"):
        assert heading in scenario.doc, f"{path.name} docstring lacks {heading!r}"
    assert scenario.seeds


@pytest.fixture(scope="module")
def word_count():
    scenario = load_scenario(str(SCENARIOS / "01_word_count.py"))
    return scenario, scenario.build(7).run()


def test_word_count_counts_exactly(word_count):
    """The final count of every word equals a plain count of the same seeded text."""
    scenario, result = word_count
    assert result.status == "FINISHED"
    words = Counter()
    sentences = scenario.module.Sentences(7)
    for line in range(1, 12_001):
        words.update(sentences.flat_map(line))
    assert scenario.module.final_counts(result) == dict(words)


def test_word_count_each_word_goes_to_its_key_group_owner(word_count):
    """keyBy routes every word to subtask keyGroup*p/maxP (maxP 128, p 4), and only there."""
    _, result = word_count
    for record in result.outputs["sink"]:
        word = record.value[0]
        assert record.subtask == assign_key_to_parallel_operator(word, 128, 4), word


def test_word_count_keeps_per_key_order(word_count):
    """Within one key, running counts arrive 1, 2, 3, ... (one sender-receiver pair per key path)."""
    _, result = word_count
    seen: dict[str, int] = {}
    for record in result.outputs["sink"]:
        word, count = record.value
        assert count == seen.get(word, 0) + 1
        seen[word] = count


def test_word_count_backpressures_the_tokenizers(word_count):
    """Sometimes-assertion: the slow counting stage did backpressure the tokenizer chains."""
    _, result = word_count
    pressured = {e.task for e in result.trace.of_type(BackpressureStarted)}
    assert {f"source->tokenize->pair[{i}]" for i in range(4)} <= pressured
    tokenizer = result.metrics["source->tokenize->pair[0]"]
    assert tokenizer.backpressured_us > tokenizer.busy_us


@pytest.fixture(scope="module")
def redistribution():
    scenario = load_scenario(str(SCENARIOS / "02_redistribution_order.py"))
    return scenario, {seed: scenario.build(seed).run() for seed in scenario.seeds}


def test_forward_keeps_order_keyby_keeps_it_per_pair(redistribution):
    """Forward: each subtask gets its sender's records exactly in order. keyBy: order holds per pair."""
    scenario, results = redistribution
    for seed, result in results.items():
        assert scenario.module.forward_in_order(result), seed
        assert scenario.module.per_pair_in_order(result), seed
        assert scenario.module.senders_interleaved(result), seed


def test_seeds_give_different_reproducible_orders(redistribution):
    """Two seeds: two different arrival orders at the sink; the same seed again: the same trace."""
    scenario, results = redistribution
    one, two = (scenario.module.arrivals(results[s]) for s in scenario.seeds)
    assert one != two
    assert sorted(one) == sorted(two)
    again = scenario.build(scenario.seeds[0]).run()
    assert again.digest == results[scenario.seeds[0]].digest
    assert again.digest != results[scenario.seeds[1]].digest
