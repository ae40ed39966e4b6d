"""Execute the notebooks in notebooks/ (committed without outputs) with nbclient: each one runs, and its
outputs show what it is there to show.

The demo district's oversized communities are checked by the independent verifier in tests/planning/test_demo.py."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _grid_and_components(outputs: list, tmp_path: Path) -> None:
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "did you mean" in text
    assert "on no cell (reported, not dropped)" in text
    assert "component(s)" in text or "written" in text
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) >= 1  # issue 13: complaints per cell and their heat map, drawn


def _community_splits(outputs: list, tmp_path: Path) -> None:
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    # what a planner needs: flags by street with totals, the oversized list, the street standard, a summary of
    # every oversized community, ranked proposals with explanations, infeasibility reasons and what to relax
    assert "合计 total" in text and "超大社区 super-large" in text and "population" in text
    assert "oversized communities have proposals" in text and "households per part" in text
    assert "Rank 1" in text and "ranks lower" in text
    assert "alone holds" in text and "Could be relaxed" in text
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) >= 2  # size classes over the district; one community's proposals side by side
    assert list(tmp_path.glob("*.gpkg")) and list(tmp_path.glob("*.geojson")) and list(tmp_path.glob("*.md"))


def _complaint_early_warning(outputs: list, tmp_path: Path) -> None:
    text = "\n".join(o.get("text", "") for o in outputs)
    assert "recall" in text
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) >= 3  # issue 13: heat map, hot-spot categories, the time series of one cluster


#: each notebook and what its outputs must show
CHECKS = {
    "01_grid_and_components.ipynb": _grid_and_components,
    "02_community_splits.ipynb": _community_splits,
    "03_complaint_early_warning.ipynb": _complaint_early_warning,
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_notebook_outputs_are_stripped(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_notebook_runs(name, tmp_path):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    CHECKS[name](outputs, tmp_path)
