"""Execute notebooks/02_community_splits.ipynb (committed without outputs) with nbclient.

The demo district's oversized communities are checked by the independent verifier in test_planning_demo.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

sys.path.insert(0, str(Path(__file__).resolve().parent))

NB = Path(__file__).resolve().parents[1] / "notebooks" / "02_community_splits.ipynb"


def test_notebook_outputs_are_stripped():
    nb = nbformat.read(NB, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


def test_notebook_runs(tmp_path):
    nb = nbformat.read(NB, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
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

