"""report.html: one self-contained page with the summary, the checkpoint statistics and every figure."""

from __future__ import annotations

import base64
import html
from html.parser import HTMLParser

import pytest

from sim import Simulation
from sim.api import StreamExecutionEnvironment
from sim.scenario.loader import load_scenario
from sim.trace.checkpoint_stats import checkpoint_stats
from sim.viz import draw_checkpoint_stats, draw_job_graph
from sim.viz.checkpoints import CHECKPOINT_TABLE_COLUMNS
from sim.viz.figures import FIGURE_CAPTIONS
from sim.viz.report import SUBTASK_COLUMNS, report_html, write_report
from tests.conftest import SCENARIOS

ALIGNED = str(SCENARIOS / "03_aligned_checkpoints.py")


class Page(HTMLParser):
    """The tags of a page: start tags with their attributes, table cells, and whether every tag closed."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.open: list[str] = []
        self.cells: list[str] = []
        self.balanced = True
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        self.balanced &= bool(self.open) and self.open.pop() == tag

    def handle_data(self, data):
        if self.open and self.open[-1] in ("td", "th"):
            self.cells.append(data)

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]


@pytest.fixture(scope="module")
def aligned():
    return load_scenario(ALIGNED).build(7).run()


@pytest.fixture(scope="module")
def figures(aligned, tmp_path_factory):
    """Two of the standard figures (the command-line test embeds all of them)."""
    out = tmp_path_factory.mktemp("figures")
    draw_job_graph(aligned.job_graph, out / "job_graph.png")
    draw_checkpoint_stats(aligned, out / "checkpoints.png")
    return [out / "job_graph.png", out / "checkpoints.png"]


@pytest.fixture(scope="module")
def page(aligned, figures):
    return report_html(aligned, figures, aligned.summary() + "\n\nwhat the run shows")


def test_the_page_is_balanced_html_with_the_summary(aligned, page):
    parsed = Page(page)
    assert page.startswith("<!DOCTYPE html>") and parsed.balanced and not parsed.open
    assert f"<pre>{html.escape(aligned.summary())}\n\nwhat the run shows</pre>" in page
    assert aligned.digest in page


def test_one_embedded_png_per_figure_in_order(figures, page):
    images = Page(page).all("img")
    assert len(images) == len(figures) == 2
    prefix = "data:image/png;base64,"
    assert all(img["src"].startswith(prefix) for img in images)
    assert [base64.b64decode(img["src"][len(prefix):]) for img in images] == [p.read_bytes() for p in figures]
    assert [img["alt"] for img in images] == [FIGURE_CAPTIONS["job_graph.png"], FIGURE_CAPTIONS["checkpoints.png"]]


def test_nothing_is_loaded_from_elsewhere(page):
    parsed = Page(page)
    assert not parsed.all("script") and not parsed.all("link")
    assert "http://" not in page and "https://" not in page and "url(" not in page


def test_the_checkpoint_table_has_the_web_ui_fields(aligned, page):
    parsed = Page(page)
    stats = checkpoint_stats(aligned.trace)
    assert len(parsed.all("table")) == 1 + len(stats), "the history, then one subtask table per checkpoint"
    assert "<table>" in page
    assert set(CHECKPOINT_TABLE_COLUMNS) | set(SUBTASK_COLUMNS) <= set(parsed.cells)
    history_rows = [attrs for attrs in parsed.all("tr") if attrs.get("class")]
    assert [row["class"] for row in history_rows] == [s.status for s in stats] == ["COMPLETED"] * 17
    assert "triggered: 17, in progress: 0, completed: 17, failed: 0" in page
    assert "count->sink[0]" in parsed.cells and "<td>count-&gt;sink[0]</td>" in page


def test_the_same_run_gives_the_same_page(aligned, figures, page, tmp_path):
    path = write_report(aligned, tmp_path, figures, aligned.summary() + "\n\nwhat the run shows")
    assert path.name == "report.html" and path.read_text(encoding="utf-8") == page
    assert not list(tmp_path.glob("*.tmp"))


def test_without_figures_the_page_keeps_summary_and_table(aligned):
    page = report_html(aligned)
    assert not Page(page).all("img") and "No figures were drawn" in page
    assert html.escape(aligned.summary()) in page and "<th>Checkpointed size</th>" in page


def test_failed_checkpoints_are_marked_with_their_reason():
    simulation = load_scenario(ALIGNED).build(7)
    simulation.env.get_checkpoint_config().set_checkpoint_timeout(90).set_tolerable_checkpoint_failure_number(99)
    page = report_html(simulation.run())
    assert '<tr class="FAILED">' in page and '<p class="failed">failed: ' in page and "(EXPIRED)" in page


def test_everything_from_the_run_is_escaped():
    """A job name with markup shows as text; the page holds no tag the run supplied."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([1, 2]).map(lambda x: x).add_sink(lambda v: None)
    page = report_html(Simulation(env, job_name='<script>alert("x")</script> & <b>co</b>').run())
    assert "<script" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;" in page
    assert "No checkpoint was triggered." in page
