"""Execute notebooks/02_community_splits.ipynb (committed without outputs) with nbclient; check the demo
district's oversized communities with the independent verifier."""

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
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "Rank 1" in text and "alone holds" in text
    assert list(tmp_path.glob("*.gpkg"))


def test_demo_oversized_communities_verified():
    from planning_verify import verify

    from gridmap.demo import generate
    from gridmap.errors import InfeasibleError
    from gridmap.grid import build_cells
    from gridmap.planning import build_atoms, flag_communities, propose_splits

    demo = generate(scale=0.2)
    flags = flag_communities(demo.communities)
    over = flags[flags["households"] > 3000]
    bars_all = demo.roads[demo.roads["kind"].isin(["river", "rail", "main"])]
    assert len(over) >= 3
    for idx, row in over.iterrows():
        com = over.loc[[idx]]
        cmp = demo.compounds[demo.compounds["community_code"] == row["code"]]
        cells = build_cells(com[["code", "geometry"]])
        bars = bars_all[bars_all.intersects(com.geometry.iloc[0])]
        atoms = build_atoms(com, cmp, cells=cells, barriers=bars)
        try:
            props = propose_splits(com, atoms, barriers=bars, roads=demo.roads, cells=cells)
        except InfeasibleError as exc:
            assert row["code"] == demo.infeasible_community and "alone holds" in str(exc)
            continue
        assert not verify(com, atoms, props, floor=1000, ceiling=3000, barriers=bars, compounds=cmp)
