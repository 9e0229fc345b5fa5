"""Runs under faults are deterministic: the same case gives the same trace, here and in another process.

Property: for a random case (job, input, cluster, fault plan, seed), two
runs give byte-identical traces (equal digests) and equal outputs; and the
case's replay command, run in a new interpreter under another
PYTHONHASHSEED, prints the same trace digest.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from hypothesis import given, note, settings

from sim.testing import Case, cases
from tests.conftest import ROOT, examples


@settings(max_examples=examples(25))
@given(cases(min_faults=1))
def test_the_same_case_gives_the_same_trace_twice(case: Case):
    note(case.describe())
    first, second = case.run(), case.run()
    assert first.digest == second.digest
    assert first.output == second.output and first.written == second.written


@settings(max_examples=examples(3))
@given(cases(min_faults=1))
def test_the_replay_command_gives_the_same_trace_in_another_process(case: Case):
    note(case.describe())
    command = case.replay_command().replace("python", sys.executable, 1)
    env = {**os.environ, "PYTHONHASHSEED": str(1 + case.seed), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (digest,) = re.findall(r"^trace digest: ([0-9a-f]{64})$", done.stdout, flags=re.M)
    assert digest == case.run().digest
