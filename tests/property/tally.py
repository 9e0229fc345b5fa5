"""Sometimes-assertions across the examples of one property test: a green run must not be an empty one."""

from __future__ import annotations

from collections import Counter

from hypothesis import event


class Tally:
    """How often each interesting situation happened across the examples of one property test.

    The test body calls `saw(what, happened)` for each example (also a
    Hypothesis `event`, shown with `--hypothesis-show-statistics`); after
    the examples, `assert_seen(...)` fails if one never happened.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples = 0

    def example(self) -> None:
        self.examples += 1

    def saw(self, what: str, happened: bool) -> None:
        event(f"{what}: {'yes' if happened else 'no'}")
        if happened:
            self.counts[what] += 1

    def assert_seen(self, *whats: str) -> None:
        missing = [w for w in whats if not self.counts[w]]
        assert not missing, (f"never happened in {self.examples} examples: {missing} "
                             f"(seen: {dict(sorted(self.counts.items()))})")
