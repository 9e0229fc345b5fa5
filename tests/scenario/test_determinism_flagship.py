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


def test_checkpoint_digest_is_independent_of_the_output_folder(tmp_path):
    """Checkpoint files go under --out, but the trace names them relative to it: same run, same digest."""
    digests = []
    for folder in ("one", "two"):
        out = tmp_path / folder
        subprocess.run(
            [sys.executable, "-m", "sim", "run", str(SCENARIOS / "03_aligned_checkpoints.py"), "--out", str(out),
             "--no-figures"],
            check=True, cwd=ROOT, capture_output=True, text=True,
        )
        assert (out / "checkpoints" / "chk-1" / "_metadata.json").is_file()
        digests.append((out / "digest.txt").read_text().strip())
    assert digests[0] == digests[1]
