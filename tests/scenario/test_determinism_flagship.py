"""The flagship run is byte-identical across processes and hash seeds."""

import os
import subprocess
import sys

from tests.conftest import ROOT, SCENARIOS


def _digest(tmp_path, hash_seed: str) -> str:
    out = tmp_path / f"hash{hash_seed}"
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run(
        [sys.executable, "-m", "sim", "run", str(SCENARIOS / "01_word_count.py"), "--seed", "7",
         "--out", str(out), "--no-figures"],
        check=True, cwd=ROOT, env=env, capture_output=True, text=True,
    )
    return (out / "digest.txt").read_text().strip()


def test_flagship_digest_is_independent_of_pythonhashseed(tmp_path):
    """Two subprocesses with different PYTHONHASHSEED produce the same trace digest."""
    assert _digest(tmp_path, "0") == _digest(tmp_path, "4242")
