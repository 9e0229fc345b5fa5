"""The docs say what the code does: generated pages are current, links resolve, and the site builds."""

import re
import subprocess
import sys

from sim.trace.catalogue import catalogue_markdown
from tests.conftest import ROOT


def test_trace_event_catalogue_is_current():
    """docs/reference/trace-events.md is exactly what `python docs/generate.py` writes."""
    page = (ROOT / "docs" / "reference" / "trace-events.md").read_text(encoding="utf-8")
    assert page == catalogue_markdown(), "run: .venv/bin/python docs/generate.py"


def test_relative_links_resolve():
    """Every relative link and image in README.md and docs/ points at a file that exists."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_the_docs_site_builds_strictly_with_every_page(tmp_path):
    """`mkdocs build --strict` passes without a warning, so every link, anchor and image resolves and every
    page is in the nav; the site loads no script or style sheet from elsewhere."""
    site = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                            str(ROOT / "mkdocs.yml"), "--site-dir", str(site)], cwd=ROOT, capture_output=True,
                           text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    assert "WARNING" not in build.stderr + build.stdout, build.stderr
    docs = ROOT / "docs"
    for page in docs.rglob("*.md"):
        assert (site / page.relative_to(docs).with_suffix(".html")).is_file(), page
    assert (site / "figures" / "01_word_count" / "timeline.png").is_file()
    assert not (site / "generate.py").exists()
    for page in site.rglob("*.html"):
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"(https?:)?//", page.read_text(encoding="utf-8")), page
