"""The docs say what the code does: generated pages are current, and links resolve."""

import re

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
