"""Accepting a split into the store and undoing it exactly (SpatiaLite, and PostGIS when available)."""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.split_cases import case_atoms, make_case  # noqa: E402

from gridmap.errors import ValidationError  # noqa: E402
from gridmap.planning import propose_splits  # noqa: E402
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
