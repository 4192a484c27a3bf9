"""notebooks/fleet-analysis.ipynb runs from a clean state, and shows its tables and pictures.

The notebook is executed here, in a fresh local kernel of this Python (no
network), with every stored output removed first: a cell that raises fails
the test with that cell's traceback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "fleet-analysis.ipynb"


@pytest.fixture(scope="module")
def executed() -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    # Jupyter's own deprecation notice about its directories is not ours to fix.
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    return notebook


def _outputs(notebook: nbformat.NotebookNode) -> list[dict[str, object]]:
    return [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]


def test_every_code_cell_ran_without_error(executed: nbformat.NotebookNode) -> None:
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert code, "the notebook has no code"
    assert all(cell.execution_count is not None for cell in code)
    assert not [o for o in _outputs(executed) if o.get("output_type") == "error"]


def test_outputs_hold_tables(executed: nbformat.NotebookNode) -> None:
    tables = [
        o
        for o in _outputs(executed)
        if "<table" in str(o.get("data", {}).get("text/html", ""))  # type: ignore[attr-defined]
    ]
    assert len(tables) >= 3


def test_outputs_hold_pictures(executed: nbformat.NotebookNode) -> None:
    pictures = [
        str(o["data"]["image/svg+xml"])  # type: ignore[index]
        for o in _outputs(executed)
        if "image/svg+xml" in o.get("data", {})  # type: ignore[operator]
    ]
    assert len(pictures) >= 2
    assert all(picture.lstrip().startswith("<svg") or "<svg" in picture for picture in pictures)


def test_stored_notebook_matches_its_cells() -> None:
    """The committed notebook carries outputs (so it reads on a forge), made by these cells."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), "re-run the notebook top to bottom"


@pytest.mark.parametrize("where", ["stored", "executed"])
def test_outputs_carry_no_path_of_the_machine(executed: nbformat.NotebookNode, where: str) -> None:
    """A shared notebook must not show where it ran: the graph's summary names the
    scanned directory, not its absolute path."""
    notebook = nbformat.read(NOTEBOOK, as_version=4) if where == "stored" else executed
    text = json.dumps(_outputs(notebook))
    repository = str(NOTEBOOK.resolve().parent.parent)
    for path in {repository, os.path.realpath(repository)}:
        assert path not in text
    assert "<code>fleet</code>" in text
