"""Shared fixtures and Hypothesis profiles.

Profiles: "ci" (derandomized, no deadline, prints the reproduction blob) is
loaded when CI=true; "dev" otherwise.
"""

import os
from pathlib import Path

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True, max_examples=60)
settings.register_profile("dev", deadline=None, max_examples=40)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
