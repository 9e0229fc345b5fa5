"""The course map in docs/index.md: every concept row names scenarios that exist, and the course's concepts are all there."""

import re

from tests.conftest import ROOT, SCENARIOS

REQUIRED = (
    "dataflows and operator chaining", "parallelism, subtasks and partitions",
    "one-to-one vs redistributing exchanges, and order", "event time and watermarks", "keyed state and key groups",
    "state backends, full and incremental checkpoints", "aligned checkpoints",
    "unaligned checkpoints under backpressure", "at-least-once", "failure and recovery", "savepoints and rescaling",
    "end-to-end exactly-once", "STREAMING vs BATCH",
)


def concept_rows() -> dict[str, list[str]]:
    """Concept -> the scenario files its row names, from the table under "Which scenario shows which concept"."""
    page = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    section = page.split("## Which scenario shows which concept", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and cells[0] not in ("concept", "---"):
            rows[cells[0]] = re.findall(r"`([^`]+)`", cells[1])
    return rows


def test_every_concept_row_names_existing_scenario_files():
    rows = concept_rows()
    assert rows, "no concept table in docs/index.md"
    for concept, files in rows.items():
        assert files, f"{concept!r} names no scenario"
        for name in files:
            assert (SCENARIOS / name).is_file(), f"{concept!r} names {name}, which is not in scenarios/"


def test_the_course_concepts_are_all_mapped_and_every_scenario_is_used():
    rows = concept_rows()
    assert set(REQUIRED) <= set(rows), sorted(set(REQUIRED) - set(rows))
    named = {name for files in rows.values() for name in files}
    assert named == {p.name for p in SCENARIOS.glob("[0-9][0-9]_*.py")}
