"""Every notebook in notebooks/ runs top to bottom (nbclient, a real kernel) and is stored without outputs.

Regenerate a notebook with its outputs for reading: ``jupyter nbconvert --to notebook --execute --inplace
notebooks/NAME.ipynb`` (then clear them again before committing: ``jupyter nbconvert --clear-output
--inplace notebooks/NAME.ipynb``).
"""

import sys

import pytest

from .conftest import ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["01-planning-walkthrough.ipynb", "02-what-if.ipynb",
                                           "03-scheduling-policies.ipynb", "04-autoscaling-day.ipynb",
                                           "05-llm-sizing.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    book = nbformat.read(path, as_version=4)
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.kernel_spec.argv[0] = sys.executable          # this interpreter, whatever kernel specs say
    client = nbclient.NotebookClient(book, km=manager, timeout=600,
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()                     # raises CellExecutionError, with the cell and traceback, on failure
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    images = [o for c in book.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert images, f"{path.name} shows no plot"
