"""report.html opened in a real headless browser: every figure decodes and shows, and the tables have rows.

The browser is the Chromium that Qt WebEngine embeds (`PySide6-WebEngine`, a dev dependency from PyPI,
which ships it inside its wheel): `pip install -e '.[dev]'` brings it on any machine with Python and
PyPI, with no separate browser download. `headless_browser.py` drives it in its own process. The test
skips only when that browser cannot be started here at all (the package is missing, or the system lacks
a library it links), and says which.
"""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import main
from tests.conftest import SCENARIOS

BROWSER = Path(__file__).with_name("headless_browser.py")


def browser_unavailable() -> str | None:
    """Why the headless browser cannot start on this machine, or None when it can."""
    probe = subprocess.run([sys.executable, "-c", "import PySide6.QtWebEngineWidgets"], capture_output=True,
                           text=True, timeout=120)
    if probe.returncode == 0:
        return None
    last = (probe.stderr.strip().splitlines() or ["no error output"])[-1]
    return f"Qt WebEngine (pip package PySide6-WebEngine) cannot be imported: {last}"


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The reports of the flagship word count and of the aligned-checkpoint scenario, as `python -m sim run`
    writes them, then opened in the browser: what a script in each page measured, by page name."""
    reason = browser_unavailable()
    if reason is not None:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("reports")
    reports = []
    for stem, seed in (("01_word_count", 7), ("03_aligned_checkpoints", 7)):
        out = root / stem
        assert main(["run", str(SCENARIOS / f"{stem}.py"), "--seed", str(seed), "--out", str(out)]) == 0
        reports.append((out / "report.html").rename(root / f"{stem}.html"))  # the page needs no other file
    measured = root / "measured.json"
    run = subprocess.run([sys.executable, str(BROWSER), str(measured), *map(str, reports)], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return root, json.loads(measured.read_text(encoding="utf-8"))


def png_sizes(page: Path) -> list[tuple[int, int]]:
    """(width, height) of every PNG embedded in a page, from the PNG headers themselves."""
    sizes = []
    for chunk in page.read_text(encoding="utf-8").split('src="data:image/png;base64,')[1:]:
        head = base64.b64decode(chunk.split('"', 1)[0])[:24]
        sizes.append(struct.unpack(">II", head[16:24]))
    return sizes


def test_every_figure_of_the_flagship_report_decodes_and_shows(pages):
    root, measured = pages
    page = measured["01_word_count.html"]
    assert page["title"] == "word count (seed 7): FINISHED"
    images = page["images"]
    assert len(images) == 5  # job graph, execution graph, timeline, space-time, buffer occupancy
    assert [(i["naturalWidth"], i["naturalHeight"]) for i in images] == png_sizes(root / "01_word_count.html")
    for image in images:
        assert image["complete"] and image["naturalWidth"] > 0, image["alt"]
        assert image["shownWidth"] > 300 and image["shownHeight"] > 100, image["alt"]
    assert page["summaryHeight"] > 100  # the summary, with a row per subtask


def test_the_checkpoint_table_has_a_row_per_checkpoint(pages):
    root, measured = pages
    page = measured["03_aligned_checkpoints.html"]
    history = page["tables"][0]
    assert history["header"][:3] == ["ID", "Status", "Acknowledged"]
    trace = (root / "03_aligned_checkpoints" / "trace.jsonl").read_text(encoding="utf-8")
    triggered = trace.count('"type":"CheckpointTriggered"')
    assert triggered > 10
    assert history["rows"] == 1 + triggered  # the header, and a row per checkpoint
    assert history["shownHeight"] > triggered * 10
    assert all(i["complete"] and i["naturalWidth"] > 0 for i in page["images"])
    assert len(page["images"]) == 7


def test_the_browser_took_a_screenshot_of_each_page(pages):
    root, _ = pages
    for stem in ("01_word_count", "03_aligned_checkpoints"):
        shot = (root / f"{stem}.png").read_bytes()
        assert shot.startswith(b"\x89PNG") and len(shot) > 10_000, stem
