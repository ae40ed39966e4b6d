"""Accepting a split into the store and undoing it (SpatiaLite, and PostGIS when available): an untouched accept
is undone exactly, rows added or changed after it survive the undo, and the re-cut cells keep the grid's
invariants."""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.split_cases import case_atoms, make_case  # noqa: E402

from gridmap.errors import ValidationError  # noqa: E402
from gridmap.planning import build_atoms, propose_splits  # noqa: E402
from gridmap.planning.accept import AcceptResult, accept_proposal, new_community_codes, undo_accept  # noqa: E402
from gridmap.store import open_store  # noqa: E402
from gridmap.store.schema import LAYERS  # noqa: E402


def _points(geom, n, rng):
    x0, y0, x1, y1 = geom.bounds
    out = []
    while len(out) < n:
        p = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if geom.contains(p):
            out.append(p)
    return out


def _load(store, case):
    rng = np.random.default_rng(1)
    com = case["community"].copy()
    code = com["code"].iloc[0]
    other = com.copy()
    other["code"] = "110101001099"  # a neighbour in the same street (its code is taken)
    other["households"] = 1500
    other.geometry = other.geometry.translate(5000, 0)
    store.write("communities", pd.concat([com, other], ignore_index=True))
    cmp = case["compounds"].copy()
    cmp["community_code"] = code
    store.write("compounds", cmp)
    store.write("cells", case["cells"])
    g = com.geometry.iloc[0]
    cells = case["cells"]
    pts = gpd.GeoDataFrame(geometry=_points(g, 40, rng), crs=com.crs)
    cell_of = gpd.sjoin(pts, cells[["code", "geometry"]], predicate="intersects")
    cell_of = cell_of[~cell_of.index.duplicated()]["code"]
    comps = gpd.GeoDataFrame({
        "code": [f"0101{i:04d}" for i in range(40)], "district_code": "110101",
        "national_id": [f"1101010101{i:06d}" for i in range(40)], "class_code": "0101", "major": "01",
        "serial": range(40), "name": "上水井盖", "status": "完好", "cell_code": cell_of.to_numpy(),
        "community_code": code, "street_code": "110101001"}, geometry=pts.geometry, crs=com.crs)
    store.write("components", comps)
    pts2 = gpd.GeoDataFrame(geometry=_points(g, 30, rng), crs=com.crs)
    cell2 = gpd.sjoin(pts2, cells[["code", "geometry"]], predicate="intersects")
    cell2 = cell2[~cell2.index.duplicated()]["code"]
    compl = gpd.GeoDataFrame({
        "source_id": [f"S{i}" for i in range(30)],
        "received_at": pd.date_range("2024-07-01 08:00", periods=30, freq="h"), "category": "房屋漏雨",
        "text": "漏雨", "status": "open", "cell_code": cell2.to_numpy(), "community_code": code,
        "street_code": "110101001"}, geometry=pts2.geometry, crs=com.crs)
    store.write("complaints", compl)
    return code


def _snapshot(store):
    out = {}
    for layer, spec in LAYERS.items():
        f = store.read(layer)
        if len(f):
            f = f.sort_values(list(spec.key)).reset_index(drop=True)
            wkb = f.geometry.to_wkb()
            f = pd.DataFrame(f.drop(columns="geometry"))
            f["geometry"] = wkb
        out[layer] = pd.DataFrame(f)
    return out


def test_new_codes_skip_retired_ones():
    assert new_community_codes("110101001", ["110101001003", "110101002009", "110101001012"], 3) == \
        ["110101001013", "110101001014", "110101001015"]


def test_accept_then_undo_restores_every_layer(store_url, tmp_path):
    case = make_case(0)
    store = open_store(store_url)
    code = _load(store, case)
    props = propose_splits(case["community"], case_atoms(case), barriers=case["barriers"], roads=case["roads"],
                           cells=case["cells"], community_code=code)
    before = _snapshot(store)
    res = accept_proposal(store, props[0])
    k = props[0].k
    assert res.new_codes == [f"110101001{100 + i}" for i in range(k)]  # after the neighbour's 099
    comm = store.read("communities")
    old = comm[comm.code == code].iloc[0]
    assert not old["active"] and pd.notna(old["retired_at"])
    new = comm[comm.parent_code == code]
    assert sorted(new.code) == res.new_codes and new["active"].all()
    assert new["households"].sum() == case["community"]["households"].iloc[0]
    cells = store.read("cells")
    assert not (cells.community_code == code).any()
    assert set(cells.community_code) == set(res.new_codes)
    assert cells.code.is_unique and all(c[:12] == cc for c, cc in zip(cells.code, cells.community_code))
    # cells of each new community tile it
    for c, g in zip(new.code, new.geometry):
        u = shapely.union_all(list(cells[cells.community_code == c].geometry))
        assert u.symmetric_difference(g).area < 1.0
    for layer in ("components", "complaints"):
        f = store.read(layer)
        assert set(f.community_code) <= set(res.new_codes)
        j = gpd.sjoin(f, cells[["code", "geometry"]].rename(columns={"code": "cc"}), predicate="intersects")
        assert (j["cell_code"] == j["cc"]).groupby(level=0).any().all()
    assert set(store.read("compounds").community_code) <= set(res.new_codes)
    assert {"communities", "cells", "components", "complaints"} <= set(res.diff["layer"])
    assert "新社区" in res.markdown()
    path = res.save(tmp_path / "journal.pkl")
    undo_accept(store, AcceptResult.load(path))
    after = _snapshot(store)
    for layer in LAYERS:
        pd.testing.assert_frame_equal(before[layer], after[layer], check_dtype=False, obj=layer)
    with pytest.raises(ValidationError, match="store changed"):
        undo_accept(store, res)  # already undone


# -- undo keeps what was done after the accept -----------------------------------------------------------------

def _cell_by_sjoin(points, cells):
    """The code of the cell containing each point, by geopandas.sjoin (the independent reference)."""
    j = gpd.sjoin(points[["geometry"]], cells[["code", "geometry"]], predicate="within")
    assert j.index.is_unique, "test points must not lie on cell edges"
    return j["code"].reindex(points.index)


def _accept_case0(store):
    """Generated case 0 loaded, its rank-1 proposal accepted: (snapshot before, accept result, community code)."""
    case = make_case(0)
    code = _load(store, case)
    props = propose_splits(case["community"], case_atoms(case), barriers=case["barriers"], roads=case["roads"],
                           cells=case["cells"], community_code=code)
    before = _snapshot(store)
    return before, accept_proposal(store, props[0]), code


def test_undo_keeps_rows_added_or_changed_after_the_accept(store, tmp_path):
    before, res, code = _accept_case0(store)
    target = res.new_codes[-1]
    new_comm = store.read("communities", where={"code": target})
    new_cells = store.read("cells", where={"community_code": target})
    rng = np.random.default_rng(7)
    pts = gpd.GeoDataFrame(geometry=_points(new_comm.geometry.iloc[0], 2, rng), crs=new_comm.crs)
    cell_now = _cell_by_sjoin(pts, new_cells).to_numpy()
    # imported after the accept, inside a new community, coded to it and to its cells
    store.write("complaints", gpd.GeoDataFrame({
        "source_id": ["LATE-1"], "received_at": [pd.Timestamp("2024-08-01 09:30")], "category": "房屋漏雨",
        "text": "雨后漏水", "status": "open", "cell_code": [cell_now[0]], "community_code": target,
        "street_code": "110101001"}, geometry=[pts.geometry.iloc[0]], crs=pts.crs))
    store.write("components", gpd.GeoDataFrame({
        "code": ["01019999"], "district_code": "110101", "national_id": ["1101010101009999"],
        "class_code": "0101", "major": "01", "serial": [9999], "name": "上水井盖", "status": "完好",
        "cell_code": [cell_now[1]], "community_code": target, "street_code": "110101001"},
        geometry=[pts.geometry.iloc[1]], crs=pts.crs))
    # one complaint the accept re-assigned is edited afterwards, one is deleted
    from sqlalchemy import text
    edited, deleted = "S3", "S4"
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE complaints SET status = 'closed' WHERE source_id = :s"), {"s": edited})
        conn.execute(text("DELETE FROM complaints WHERE source_id = :s"), {"s": deleted})

    counts = undo_accept(store, AcceptResult.load(res.save(tmp_path / "journal.pkl")))  # through the journal

    comm = store.read("communities")
    assert set(comm.code) == {code, "110101001099"} and comm.set_index("code").loc[code, "active"]
    cells = store.read("cells")
    assert set(cells.community_code) == {code}
    late = store.read("complaints", where={"source_id": ["LATE-1", edited]}).set_index("source_id")
    comp = store.read("components", where={"code": "01019999"})
    assert len(late) == 2 and len(comp) == 1, "rows added or changed after the accept were lost"
    # assigned to the restored community and cells, as geopandas.sjoin has it
    active = comm[comm["active"].astype(bool)]
    assert (late["community_code"] == _cell_by_sjoin(late, active)).all()
    assert comp["community_code"].iloc[0] == _cell_by_sjoin(comp, active).iloc[0] == code
    assert late.loc["LATE-1", "cell_code"] == _cell_by_sjoin(late.loc[["LATE-1"]], cells).iloc[0]
    assert late.loc[edited, "cell_code"] == _cell_by_sjoin(late.loc[[edited]], cells).iloc[0]
    assert comp["cell_code"].iloc[0] == _cell_by_sjoin(comp, cells).iloc[0]
    assert late.loc[edited, "status"] == "closed"  # the later edit is kept
    assert late.loc["LATE-1", "text"] == "雨后漏水" and late.loc["LATE-1", "received_at"] == \
        pd.Timestamp("2024-08-01 09:30")
    assert not len(store.read("complaints", where={"source_id": deleted}))  # the later deletion too
    assert counts["complaints_reassigned"] == 2 and counts["components_reassigned"] == 1
    assert counts["complaints_gone"] == 1 and counts["compounds_reassigned"] == 0
    # everything else is exactly as before the accept
    after = _snapshot(store)
    for layer in LAYERS:
        b, a = before[layer], after[layer]
        if layer == "complaints":
            b = b[~b.source_id.isin([edited, deleted])].reset_index(drop=True)
            a = a[~a.source_id.isin([edited, "LATE-1"])].reset_index(drop=True)
        if layer == "components":
            a = a[a.code != "01019999"].reset_index(drop=True)
        pd.testing.assert_frame_equal(b, a, check_dtype=False, obj=layer)


def test_undo_refuses_when_cells_changed_since(store):
    before, res, code = _accept_case0(store)
    victim = store.read("cells", where={"community_code": res.new_codes[0]})["code"].iloc[0]
    store.delete("cells", where={"code": victim})
    with pytest.raises(ValidationError) as ei:
        undo_accept(store, res)
    text = str(ei.value)
    assert "cell(s) of the new communities changed" in text and victim in text and "1 removed" in text
    assert "discard_cell_changes=True" in text
    assert set(store.read("communities", where={"active": True}).code) >= set(res.new_codes)  # nothing undone
    undo_accept(store, res, discard_cell_changes=True)
    after = _snapshot(store)
    for layer in LAYERS:
        pd.testing.assert_frame_equal(before[layer], after[layer], check_dtype=False, obj=layer)


# -- cells after a split keep the grid's invariants ------------------------------------------------------------

SLIVER_SHARE, CELL_M = 0.1, 100.0


def _grid_invariant_errors(cells, communities, *, nominal_m2):
    """Checked with shapely alone: cells inside their community, tiling it, not overlapping, no stray sliver."""
    errors = []
    for c, g in zip(communities["code"], communities.geometry):
        mine = cells[cells["community_code"] == c]
        geoms = list(mine.geometry)
        if not geoms:
            errors.append(f"{c}: no cells")
            continue
        for code, x in zip(mine["code"], geoms):
            if not x.is_valid:
                errors.append(f"{code}: invalid")
            if x.difference(g).area > 1e-9 * g.area:
                errors.append(f"{code}: crosses the boundary of {c}")
        u = shapely.union_all(geoms)
        if u.symmetric_difference(g).area > 1e-6 * g.area:
            errors.append(f"{c}: cells do not tile it ({u.symmetric_difference(g).area:.3f} m² off)")
        if sum(x.area for x in geoms) - u.area > 1e-6 * g.area:
            errors.append(f"{c}: cells overlap")
        for a, x in enumerate(geoms):
            if x.area >= SLIVER_SHARE * nominal_m2:
                continue
            # a small cell is allowed only as a whole separate piece: sharing no edge (2 cm or more) with a
            # cell of its community
            near = [b for b, y in enumerate(geoms) if b != a and x.buffer(0.01).intersection(y).area > 2e-4]
            if near:
                errors.append(f"{mine['code'].iloc[a]}: sliver of {x.area:.1f} m² next to {len(near)} cell(s)")
    return errors


@pytest.mark.parametrize("case_no", [3, 9, 15])
def test_cells_after_accept_keep_the_grid_invariants(store, case_no):
    from gridmap.grid import build_cells

    case = make_case(case_no)
    com = case["community"]
    code = com["code"].iloc[0]
    cells = build_cells(com[["code", "geometry"]], cell_size_m=CELL_M, sliver_share=SLIVER_SHARE)
    assert not _grid_invariant_errors(cells, com, nominal_m2=CELL_M ** 2)  # the starting grid is sound
    store.write("communities", com)
    store.write("cells", cells)
    cmp = case["compounds"].copy()
    cmp["community_code"] = code
    store.write("compounds", cmp)
    atoms = build_atoms(com, case["compounds"], cells=cells, barriers=case["barriers"])
    props = propose_splits(com, atoms, barriers=case["barriers"], roads=case["roads"], cells=cells,
                           community_code=code)
    res = accept_proposal(store, props[0])
    new = store.read("communities", where={"code": res.new_codes})
    got = store.read("cells", where={"community_code": res.new_codes})
    assert not _grid_invariant_errors(got, new, nominal_m2=CELL_M ** 2)
    for c in res.new_codes:  # DB11/T 2157-2023 numbering: north to south, west to east
        mine = got[got.community_code == c].sort_values("code")
        assert mine["code"].tolist() == [f"{c}{i:03d}" for i in range(1, len(mine) + 1)]
        assert list(zip(-mine["iy"], mine["ix"])) == sorted(zip(-mine["iy"], mine["ix"]))
    assert np.isclose(got["area_m2"].sum(), new.geometry.area.sum(), rtol=1e-9)  # area_m2 recomputed


def test_recode_merges_slivers_like_the_grid():
    from gridmap.grid import build_cells
    from gridmap.planning.accept import recode_cells_by_clip

    crs = "EPSG:4548"
    com = gpd.GeoDataFrame({"code": ["110101001001"]}, geometry=[shapely.box(0, 0, 300, 200)], crs=crs)
    cells = build_cells(com)
    # the new boundary runs 5 m east of a lattice line: 5 x 100 m strips (500 m², under 10 % of 10,000 m²)
    new = gpd.GeoDataFrame({"code": ["110101001002", "110101001003"]},
                           geometry=[shapely.box(0, 0, 105, 200), shapely.box(105, 0, 300, 200)], crs=crs)
    got = recode_cells_by_clip(cells, new)
    west = got[got.community_code == "110101001002"]
    assert west["code"].tolist() == ["110101001002001", "110101001002002"]
    assert west["area_m2"].tolist() == [10500.0, 10500.0] and west["ix"].tolist() == [0, 0]
    east = got[got.community_code == "110101001003"]
    assert sorted(east["area_m2"]) == [9500.0, 9500.0, 10000.0, 10000.0]
    assert not _grid_invariant_errors(got, new, nominal_m2=10_000.0)
    # a whole new community smaller than a sliver stays one cell
    tiny = gpd.GeoDataFrame({"code": ["110101001002", "110101001003"]},
                            geometry=[shapely.box(0, 0, 300, 196), shapely.box(0, 196, 5, 200)], crs=crs)
    got = recode_cells_by_clip(cells, tiny)
    assert got[got.community_code == "110101001003"]["area_m2"].tolist() == [20.0]
    assert not _grid_invariant_errors(got, tiny, nominal_m2=10_000.0)


def test_undo_with_a_journal_saved_before_after_snapshots_keeps_added_rows(store):
    case = make_case(0)
    code = _load(store, case)
    props = propose_splits(case["community"], case_atoms(case), barriers=case["barriers"], roads=case["roads"],
                           cells=case["cells"], community_code=code)
    res = accept_proposal(store, props[0])
    res.after = None  # as pickled by an older gridmap
    g = store.read("communities", where={"code": res.new_codes[0]}).geometry.iloc[0]
    p = _points(g, 1, np.random.default_rng(3))[0]
    store.write("complaints", gpd.GeoDataFrame({
        "source_id": ["LATE-2"], "received_at": [pd.Timestamp("2024-08-02")], "community_code": res.new_codes[0],
        "street_code": "110101001"}, geometry=[p], crs=store.crs))
    undo_accept(store, res)
    row = store.read("complaints", where={"source_id": "LATE-2"})
    assert len(row) == 1 and row["community_code"].iloc[0] == code
    assert row["cell_code"].iloc[0] == _cell_by_sjoin(row, store.read("cells")).iloc[0]
