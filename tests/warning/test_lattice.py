"""Regression: cells from gridmap.grid.build_cells carry global lattice indices (origin (0, 0) of EPSG:4548, so
ix ~ 4,500 and iy ~ 44,000 in Beijing). The warning package once sized its dense arrays from ix.max()+1 and
iy.max()+1 (a 44,000 x 4,500 lattice, 21.9 GB in `gridmap demo --scale 0.05`). Dense arrays must cover the
cells' extent only, and every access must use local indices."""

from __future__ import annotations

import tracemalloc

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.errors import ValidationError
from gridmap.grid import Lattice, assign_points, build_cells
from gridmap.warning import cell_counts, grid_to_cells, lattice_from_cells, localise_cells
from gridmap.warning.alerts import early_warning, hot_spot_alerts

X0, Y0 = 452_000.0, 4_418_000.0   # near Beijing's centre in EPSG:4548


@pytest.fixture(scope="module")
def cells() -> gpd.GeoDataFrame:
    # two communities sharing a boundary off the lattice lines (clipped cells, several cells per square)
    west = shapely.Polygon([(X0 + 30, Y0 + 20), (X0 + 1_230, Y0 + 20), (X0 + 1_230, Y0 + 1_470), (X0 + 30, Y0 + 1_470)])
    east = shapely.box(X0 + 1_230, Y0 + 20, X0 + 2_450, Y0 + 1_470)
    comm = gpd.GeoDataFrame({"code": ["110101001001", "110101001002"]}, geometry=[west, east], crs="EPSG:4548")
    return build_cells(comm)


def _complaints(cells: gpd.GeoDataFrame, *, seed: int = 0) -> gpd.GeoDataFrame:
    """12 weeks of background complaints plus a burst in the last week around one cell."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = cells.total_bounds
    n = 3_000
    x = rng.uniform(minx, maxx, n)
    y = rng.uniform(miny, maxy, n)
    t = pd.Timestamp("2025-03-03") + pd.to_timedelta(rng.uniform(0, 84, n), unit="D")
    bx, by = X0 + 1_850.0, Y0 + 950.0          # the burst: in the east community, ~ square (4536, 44189)
    k = 80
    x = np.r_[x, bx + rng.normal(0, 40, k)]
    y = np.r_[y, by + rng.normal(0, 40, k)]
    t = t.append(pd.Timestamp("2025-05-19") + pd.to_timedelta(rng.uniform(0, 7, k), unit="D"))
    pts = gpd.GeoDataFrame({"received_at": t, "category": "交通", "text": "外卖电动车乱停放"},
                           geometry=gpd.points_from_xy(x, y), crs="EPSG:4548")
    a = assign_points(pts, cells, warn=False)
    pts["cell_code"] = a.codes.to_numpy()
    pts["community_code"] = pts["cell_code"].str[:12]
    return pts[pts["cell_code"].notna()].reset_index(drop=True)


def test_lattice_covers_only_the_cells_extent(cells):
    assert cells["ix"].min() > 4_000 and cells["iy"].min() > 44_000   # global indices, as built
    lat = lattice_from_cells(cells)
    assert (lat.ix0, lat.iy0) == (cells["ix"].min(), cells["iy"].min())
    assert lat.shape == (cells["iy"].max() - cells["iy"].min() + 1, cells["ix"].max() - cells["ix"].min() + 1)
    assert lat.shape[0] * lat.shape[1] <= 16 * 26      # 1.45 km x 2.42 km of 100 m squares
    assert (lat.x0, lat.y0) == (X0, Y0) and lat.cell_size_m == 100.0
    _, ix, iy = localise_cells(cells, lat)
    # every cell's local square contains a point of the cell
    rp = cells.geometry.representative_point()
    inside_square = shapely.box(lat.x0 + ix * 100, lat.y0 + iy * 100, lat.x0 + (ix + 1) * 100,
                                lat.y0 + (iy + 1) * 100)
    assert shapely.intersects(inside_square, cells.geometry.values).all()
    assert ((rp.x // 100).astype(int) - lat.ix0 - ix).abs().max() <= 1


def test_counts_on_the_local_lattice_match_the_cell_assignment(cells):
    comp = _complaints(cells)
    lat = lattice_from_cells(cells)
    by_code = cell_counts(comp, lat, cells=cells)          # via the imported cell_code
    by_xy = cell_counts(comp, lat)                          # floor binning of the points
    assert by_code.shape == lat.shape and by_code.sum() == by_xy.sum() == len(comp)
    per_cell = comp["cell_code"].value_counts()
    _, ix, iy = localise_cells(cells, lat)
    # squares holding exactly one cell: the square count is that cell's count
    sq = pd.Series(1, index=pd.MultiIndex.from_arrays([iy, ix])).groupby(level=[0, 1]).size()
    single = sq[sq == 1].index
    got = grid_to_cells(by_code, cells, lat)
    expect = per_cell.reindex(cells["code"]).fillna(0).to_numpy()
    one = pd.MultiIndex.from_arrays([iy, ix]).isin(single)
    assert one.sum() > 100
    np.testing.assert_array_equal(got.to_numpy()[one], expect[one])


def test_hot_spots_on_far_cells_are_found_with_small_arrays(cells):
    comp = _complaints(cells)
    tracemalloc.start()
    try:
        h = hot_spot_alerts(comp, cells, end="2025-05-26", slices=12)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50e6, f"{peak / 1e6:.0f} MB: dense arrays are not local to the cells' extent"
    assert len(h) >= 1 and h["unit"].notna().all()
    assert set(h["unit"]) <= set(cells["code"])
    hit = cells.set_index("code").loc[h["unit"]]
    c = hit.geometry.centroid
    assert (np.hypot(c.x - (X0 + 1_850), c.y - (Y0 + 950)) < 250).any()
    assert (h["kind"].isin(["new hot spot", "consecutive hot spot", "intensifying hot spot"])).all()
    rep = early_warning(comp, start="2025-05-19", end="2025-05-26", cells=cells, units=("cell",))
    assert (rep.alerts["unit"].isin(h["unit"])).any()


def test_a_lattice_that_does_not_cover_the_cells_is_an_error(cells):
    small = Lattice(X0, Y0, 100.0, 3, 3, ix0=int(cells["ix"].min()), iy0=int(cells["iy"].min()))
    with pytest.raises(ValidationError, match="outside the lattice"):
        localise_cells(cells, small)
    with pytest.raises(ValidationError, match="does not match"):
        grid_to_cells(np.zeros((2, 2)), cells)


def test_cell_size_ignores_cells_that_absorbed_a_sliver():
    """build_cells unites slivers with a neighbour, so some cells' bounding boxes are wider than a square: the
    lattice once took the largest side (129 m on the full demo district), shifting every metric position."""
    sq = [shapely.box(X0 + i * 100, Y0 + j * 100, X0 + (i + 1) * 100, Y0 + (j + 1) * 100)
          for j in range(3) for i in range(4)]
    merged = shapely.union(sq[0], shapely.box(X0 - 30, Y0, X0, Y0 + 100))   # 130 m wide
    geoms = [merged] + sq[1:]
    cells = gpd.GeoDataFrame({"code": [f"c{k}" for k in range(12)], "ix": [4520 + k % 4 for k in range(12)],
                              "iy": [44180 + k // 4 for k in range(12)]}, geometry=geoms, crs="EPSG:4548")
    lat = lattice_from_cells(cells)
    assert lat.cell_size_m == 100.0 and (lat.x0, lat.y0) == (X0, Y0) and lat.shape == (3, 4)
    demo = pytest.importorskip("gridmap.demo")
    real = build_cells(demo.generate(scale=0.05).communities)
    assert lattice_from_cells(real).cell_size_m == 100.0
