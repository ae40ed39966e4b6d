"""The whole pipeline on imported, real-world-shaped files: import -> cells -> flags -> a split -> warning -> map.

The files carry the usual trouble (GBK Shapefiles without .cpg, a household spreadsheet keyed by names with
suffixes, a community without a code, overlapping edges, GCJ-02 complaint coordinates). Complaints go in after the
cells, through the complaint import, so each lands in its cell (checked against geopandas.sjoin).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.crs import to_wgs84_xy, wgs84_to_gcj02
from gridmap.io import import_file

X0, Y0 = 450000.0, 4418000.0
STREET = shapely.box(X0, Y0, X0 + 1200, Y0 + 800)


def write_city(tmp_path):
    """Street, communities (one large, one without code, edges digitised 2 m apart), compounds, households,
    complaints: the files a street office would hand over."""
    streets = gpd.GeoDataFrame({"JDDM": ["110101001"], "JDMC": ["东华门街道办事处"]}, geometry=[STREET],
                               crs="EPSG:4548")
    streets.to_file(tmp_path / "jd.shp", engine="pyogrio", encoding="GBK")
    (tmp_path / "jd.cpg").unlink(missing_ok=True)
    polys = [shapely.box(X0, Y0, X0 + 602, Y0 + 800),                # overlaps its east neighbour by 2 m
             shapely.box(X0 + 600, Y0, X0 + 1200, Y0 + 398),        # leaves a 2 m gap to the north one
             shapely.box(X0 + 600, Y0 + 400, X0 + 1200, Y0 + 800)]
    sq = gpd.GeoDataFrame({"SQDM": ["110101001001", "１１０１０１００１００２", None], "JDDM": "110101001",
                           "SQMC": ["大院社区", "景山社区", "新建社区"]}, geometry=polys, crs="EPSG:4548")
    sq.to_file(tmp_path / "sq.shp", engine="pyogrio", encoding="GBK")
    (tmp_path / "sq.cpg").unlink(missing_ok=True)
    hs = pd.DataFrame({"社区名称": ["大院社区居委会", "景山社区居委会", "新建社区居委会", "景山社区居委会"],
                       "户数": [4200, 1800, 1500, 1800]})
    hs.to_excel(tmp_path / "hs.xlsx", index=False)
    # six compounds tiling the big community, 700 households each
    comp = [shapely.box(X0 + i * 200, Y0 + j * 400, X0 + (i + 1) * 200, Y0 + (j + 1) * 400)
            for j in range(2) for i in range(3)]
    gpd.GeoDataFrame({"code": [f"XQ{k:02d}" for k in range(6)], "community_code": "110101001001",
                      "name": [f"{k}号院" for k in range(6)], "households": 700, "kind": "compound"},
                     geometry=comp, crs="EPSG:4548").to_file(tmp_path / "xq.gpkg", engine="pyogrio")
    rng = np.random.default_rng(3)
    n = 240
    x = np.concatenate([rng.normal(X0 + 300, 40, n // 2), rng.uniform(X0 + 10, X0 + 1190, n // 2)])
    y = np.concatenate([rng.normal(Y0 + 600, 40, n // 2), rng.uniform(Y0 + 10, Y0 + 790, n // 2)])
    x, y = np.clip(x, X0 + 1, X0 + 1199), np.clip(y, Y0 + 1, Y0 + 799)
    lon, lat = wgs84_to_gcj02(*to_wgs84_xy(x, y))
    pd.DataFrame({"编号": [f"c{i}" for i in range(n)], "受理时间": pd.date_range("2025-06-01", periods=n, freq="3h")
                  .strftime("%Y-%m-%d %H:%M"), "类别": "房屋漏雨",
                  "诉求内容": "顶层房屋漏雨，屋顶渗水，请尽快处理", "经度": lon, "纬度": lat}
                 ).to_csv(tmp_path / "12345.csv", index=False, encoding="gbk")
    return tmp_path


def test_import_then_cells_flags_split_warning_map(store, tmp_path):
    d = write_city(tmp_path)
    r = import_file(store, "streets", d / "jd.shp", mapping={"code": "JDDM", "name": "JDMC"})
    assert r.written == 1 and store.read("streets")["name"].tolist() == ["东华门街道办事处"]
    r = import_file(store, "communities", d / "sq.shp", mapping="code=SQDM,street_code=JDDM,name=SQMC",
                    table=d / "hs.xlsx", join_on="name", table_key="社区名称", table_mapping={"households": "户数"},
                    assign_codes=True, topology="repair", boundary="parent", district="110101")
    assert r.written == 3 and not r.rejected, str(r)
    assert r.assigned_codes == [(2, "110101001003")] and r.join.duplicates_dropped == [5]
    communities = store.read("communities")
    assert dict(zip(communities["name"], communities["households"])) == {"大院社区": 4200, "景山社区": 1800,
                                                                          "新建社区": 1500}
    assert shapely.union_all(communities.geometry).symmetric_difference(STREET).area < 1e-6 * STREET.area
    assert import_file(store, "compounds", d / "xq.gpkg").written == 6
    from gridmap import grid, planning, warning
    from gridmap.io.complaints import import_complaints

    # origin at the district's south-west corner: gridmap.warning.lattice_from_cells sizes its lattice from
    # ix = 0, so the default origin (0, 0) would make a 4,500 x 44,200 lattice (minutes of Gi*)
    cells = grid.build_cells(communities, cell_size_m=100.0, origin=(X0, Y0))
    assert store.write("cells", cells) == len(cells)
    assert abs(cells.area.sum() - STREET.area) < 1e-3 * STREET.area

    # complaints after the cells, through the complaint import (GBK CSV detected, GCJ-02 undone, cells assigned)
    r = import_complaints(store, d / "12345.csv", lonlat="gcj02",
                          mapping={"source_id": "编号", "received_at": "受理时间", "category": "类别", "lon": "经度",
                                   "lat": "纬度"})
    assert r.written == 240 and not r.rejected, str(r)
    assert import_complaints(store, d / "12345.csv", lonlat="gcj02", mapping={
        "source_id": "编号", "received_at": "受理时间", "category": "类别", "lon": "经度", "lat": "纬度"}
    ).already_stored == 240  # re-import adds nothing
    complaints = store.read("complaints")
    assert len(complaints) == 240
    assert STREET.buffer(1.0).contains(shapely.MultiPoint(list(complaints.geometry))), "GCJ-02 not undone"
    stored_cells = store.read("cells")
    ref = gpd.sjoin(complaints[["source_id", "geometry"]], stored_cells[["code", "community_code", "geometry"]],
                    predicate="intersects", how="left").drop_duplicates("source_id").set_index("source_id")
    got = complaints.set_index("source_id")
    assert (got["cell_code"] == ref.loc[got.index, "code"]).all()
    assert (got["community_code"] == ref.loc[got.index, "community_code"]).all()
    assert set(got["category"]) == {"房屋漏雨"}

    flags = planning.flag_communities(communities)
    big = flags.loc[flags["households"] > 3000]
    assert big["code"].tolist() == ["110101001001"]
    community = communities.loc[communities["code"] == "110101001001"]
    compounds = store.read("compounds")  # unknown population comes back as <NA> (nullable Int64)
    atoms = planning.build_atoms(community, compounds)
    proposals = planning.propose_splits(community, atoms, floor=1000, ceiling=3000, time_limit_s=10.0,
                                        n_alternatives=1)
    best = proposals[0]
    assert best.parts["households"].between(1000, 3000).all() and best.parts["households"].sum() == 4200

    lattice = warning.lattice_from_cells(stored_cells)
    counts = warning.cell_counts(complaints, lattice)
    assert counts.sum() == 240
    by_comm = warning.counts_by(complaints, by="community")
    assert by_comm["count"].sum() == 240
    hot = warning.gi_star(counts.astype(float), lattice)
    # half the complaints are a cluster around (X0 + 300, Y0 + 600): the hottest Gi* cell is next to it
    z = hot.z
    iy, ix = np.unravel_index(np.nanargmax(z), z.shape)
    cx, cy = lattice.x0 + (ix + 0.5) * lattice.cell_size_m, lattice.y0 + (iy + 0.5) * lattice.cell_size_m
    assert np.hypot(cx - (X0 + 300), cy - (Y0 + 600)) < 150
    from gridmap.warning.alerts import early_warning

    report = early_warning(complaints, start="2025-06-20", end="2025-07-01", cells=stored_cells,
                            keywords="漏雨", hot_spots=False)
    assert len(report.recheck) > 0  # the earlier leak complaints are places to re-check before the rains

    from gridmap import maps

    m = maps.district_map(communities=flags, streets=store.read("streets"), cells=store.read("cells"),
                          complaints=complaints, title="东华门街道 imported")
    out = maps.write_map(m, tmp_path / "map.html")
    html = out.read_text(encoding="utf-8")
    assert "东华门" in html and "大院" in html and len(html) > 10_000
