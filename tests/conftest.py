"""Shared fixtures and Hypothesis profiles.

Profiles, chosen by HYPOTHESIS_PROFILE (default "ci"):

- "ci": derandomized (the same examples on every run and machine), no deadline, no example
  database, prints the reproduction blob; 60 examples per test unless a test asks for its own
  count (the property tests of runs under faults budget theirs with `examples`);
- "dev": the same counts, drawn at random each run, with the local example database;
- "thorough": ten times the examples, at random: `HYPOTHESIS_PROFILE=thorough pytest tests/property`.
"""

import os
from pathlib import Path

from hypothesis import settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
SCALE = {"thorough": 10}.get(PROFILE, 1)

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True, database=None, max_examples=60)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.register_profile("thorough", deadline=None, max_examples=600)
settings.load_profile(PROFILE)


def examples(ci: int) -> int:
    """A test's example count: `ci` under the ci and dev profiles, ten times as many under thorough."""
    return ci * SCALE


ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
