"""The course notebooks: one per chapter, committed without outputs, and each runs from top to bottom.

Every `notebooks/*.ipynb` is executed by a Jupyter kernel started in the notebooks
folder, as a reader who opens it there runs it. The kernel is ipykernel's `python3`,
which runs the interpreter of this test run; a first cell, added to the copy in memory
only, checks that.
"""

import sys

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT

NOTEBOOKS = ROOT / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))
CHAPTERS = ("01-dataflows", "02-checkpoints", "03-event-time", "04-failure-and-recovery",
            "05-savepoints-and-rescaling", "06-exactly-once", "07-state-backends")
CELL_TIMEOUT_S = 120


def read(path):
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def test_a_notebook_mirrors_each_chapter():
    """One notebook per chapter, named after it, and the chapter names its notebook."""
    assert tuple(p.stem for p in ALL) == CHAPTERS
    for stem in CHAPTERS:
        chapter = (ROOT / "docs" / f"{stem}.md").read_text(encoding="utf-8")
        assert f"`notebooks/{stem}.ipynb`" in chapter, stem


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_notebook_is_committed_without_outputs(path):
    """Valid nbformat 4; no code cell carries an output or an execution count."""
    notebook = read(path)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata.kernelspec.name == "python3"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs of {cell.id}"


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_notebook_has_the_course_shape(path):
    """It opens with what you will see and the Flink concepts, and its last section is the exercises,
    with at least one of them as a cell that runs."""
    cells = read(path).cells
    assert cells[0].cell_type == "markdown"
    assert "**What you will see:**" in cells[0].source and "**Flink concepts:**" in cells[0].source
    sections = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("## ")]
    last = cells[sections[-1]]
    assert last.source.startswith("## Exercises"), path.name
    assert any(c.cell_type == "code" for c in cells[sections[-1]:]), f"{path.name}: no exercise that runs"


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_notebook_runs_without_an_error(path):
    """Every cell runs (an error fails the test), every cell that displays a figure shows a PNG, a run
    result renders as HTML, and the notebooks folder is left as it was."""
    before = {p.name: p.read_bytes() for p in NOTEBOOKS.iterdir()}
    notebook = read(path)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(
        f"import sys\nassert sys.prefix == {sys.prefix!r}, f'the kernel runs {{sys.executable}}'"))
    NotebookClient(notebook, kernel_name="python3", timeout=CELL_TIMEOUT_S,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    code = [c for c in notebook.cells if c.cell_type == "code"]
    for cell in code:
        kinds = {kind for output in cell.outputs for kind in output.get("data", {})}
        if "display(" in cell.source:
            assert "image/png" in kinds, f"{path.name}, {cell.id}: no figure shown"
    assert any(o.output_type == "execute_result" and "text/html" in o.data for c in code for o in c.outputs)
    assert {p.name: p.read_bytes() for p in NOTEBOOKS.iterdir()} == before
