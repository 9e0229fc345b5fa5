"""In Jupyter a run shows itself: status, summary, the job graph and timelines as images, checkpoint tables."""

import base64
import re
from pathlib import Path

import pytest

from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[3] / "scenarios"


@pytest.fixture(scope="module")
def aligned():
    return load_scenario(str(ROOT / "03_aligned_checkpoints.py")).build(3).run()


def test_a_run_renders_its_status_summary_figures_and_checkpoints(aligned):
    page = aligned._repr_html_()
    assert f"{aligned.job_name} (seed 3): FINISHED" in page
    assert "<pre>" in page and "checkpoints:" in page  # the summary, folded
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 2  # the job graph and the timelines
    assert all(base64.b64decode(data).startswith(b"\x89PNG") for data in images)
    completed = [c for c in aligned.checkpoints if c.status == "COMPLETED"]
    assert page.count('<tr class="COMPLETED">') == len(completed) > 0


def test_the_checkpoint_history_renders_as_the_web_ui_table_and_stays_a_list(aligned):
    history = aligned.checkpoints
    assert isinstance(history, list) and history[0].checkpoint_id == 1
    table = history._repr_html_()
    assert "<th>End to end</th>" in table and "<th>Persisted in-flight</th>" in table
    assert table.count("<details>") == len(history)
