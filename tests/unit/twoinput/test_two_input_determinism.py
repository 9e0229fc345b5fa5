"""Two-input jobs are deterministic: the same trace in any process, whatever PYTHONHASHSEED is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

PROGRAM = """
from sim import TraceLevel
from tests.unit.twoinput.jobs import run
from tests.unit.twoinput.test_broadcast_state import _alerts_job
from tests.unit.twoinput.test_keyed_co_process import _match_job
print(run(_alerts_job(checkpoint_ms=100), trace_level=TraceLevel.RECORDS).digest)
print(run(_match_job(), trace_level=TraceLevel.RECORDS).digest)
"""


def _digests(hash_seed: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", PROGRAM], cwd=REPO, env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


def test_broadcast_and_keyed_co_process_digests_do_not_depend_on_the_hash_seed():
    first, second = _digests("1"), _digests("4242")
    assert len(first) == 2 and first == second
