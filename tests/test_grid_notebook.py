"""Execute notebooks/01_grid_and_components.ipynb (committed without outputs) with nbclient."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NB = Path(__file__).resolve().parents[1] / "notebooks" / "01_grid_and_components.ipynb"


def test_notebook_outputs_are_stripped():
    nb = nbformat.read(NB, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook executed once (the tests below read its outputs)."""
    nb = nbformat.read(NB, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}})
    client.execute()
    return nb


def test_notebook_runs(executed):
    nb = executed
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "did you mean" in text
    assert "on no cell (reported, not dropped)" in text
    assert "component(s)" in text or "written" in text


def test_notebook_draws_its_results(executed):
    """Issue 13: the notebook draws its results (the complaints heat map)."""
    images = sum("image/png" in o.get("data", {}) for c in executed.cells if c.cell_type == "code"
                 for o in c.get("outputs", []))
    assert images >= 1
