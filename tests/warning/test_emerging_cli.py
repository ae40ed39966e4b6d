"""``gridmap emerging`` on a scenario with every category planted (gridmap.testing.emerging), against an
independent emulation of ArcGIS's published rules: esda's Gi* per slice, pymannkendall's trend test, and the
category definitions of ArcGIS Pro's "How Emerging Hot Spot Analysis works", written out here cell by cell.

Runs through the real console entry point on SpatiaLite and PostGIS; the GeoPackage layer and the netCDF cube
are read back with GDAL (pyogrio) and xarray."""

from __future__ import annotations

import json
import subprocess
import sys

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pymannkendall
import pytest
from scipy import stats

from gridmap.testing.emerging import PLANTED, emerging_scenario
from gridmap.warning.labels import PATTERN_ZH


def _refuse(name):
    raise ValueError(f"non-standard JSON constant {name}")


@pytest.fixture(scope="module")
def scenario():
    return emerging_scenario(seed=0)


# -- the independent emulation ------------------------------------------------------------------------------


def _counts_from_points(sc) -> np.ndarray:
    """(T, ny, nx) counts binned from the complaint points and times (not through gridmap's cube)."""
    lat = sc.lattice
    c = sc.complaints
    week = ((c["received_at"] - sc.start) // pd.Timedelta(weeks=1)).to_numpy()
    ix = np.floor((c.geometry.x.to_numpy() - lat.x0) / 100.0).astype(int)
    iy = np.floor((c.geometry.y.to_numpy() - lat.y0) / 100.0).astype(int)
    t = int((sc.end - sc.start) / pd.Timedelta(weeks=1))
    out = np.zeros((t, lat.ny, lat.nx))
    np.add.at(out, (week, iy, ix), 1)
    return out


def _arcgis_category(hot, cold, trend_p, trend_z, alpha=0.05):
    """ArcGIS Pro's pattern definitions for one location: ``hot``/``cold`` significant bins (time order)."""
    n = len(hot)
    for sig, opp, side in ((hot, cold, "hot"), (cold, hot, "cold")):
        share = sig.sum() / n
        final = sig[-1]
        up = trend_p < alpha and (trend_z > 0 if side == "hot" else trend_z < 0)      # intensity growing
        down = trend_p < alpha and (trend_z < 0 if side == "hot" else trend_z > 0)    # intensity fading
        run = 0
        while run < n and sig[n - 1 - run]:
            run += 1
        before = sig[: n - run]
        if share >= 0.9 and final:
            if up:
                return f"intensifying {side} spot"
            if down:
                return f"diminishing {side} spot"
            return f"persistent {side} spot"
        if share >= 0.9 and not final:
            return f"historical {side} spot"
        if final and run == 1 and not before.any():
            return f"new {side} spot"
        if final and run >= 2 and not before.any():
            return f"consecutive {side} spot"
        if final and before.any():
            return f"oscillating {side} spot" if opp[:-1].any() else f"sporadic {side} spot"
    return "no pattern"


def _emulate(counts, *, fdr=False, alpha=0.05):
    t, ny, nx = counts.shape
    w = libpysal.weights.lat2W(ny, nx, rook=False)
    z = np.array([esda.G_Local(counts[k].ravel(), w, transform="B", star=True, permutations=0).Zs
                  for k in range(t)])                                    # (T, cells)
    p = 2 * stats.norm.sf(np.abs(z))
    if fdr:
        p = stats.false_discovery_control(p.ravel(), method="bh").reshape(p.shape)
    hot, cold = (p < alpha) & (z > 0), (p < alpha) & (z < 0)
    cats = []
    for i in range(ny * nx):
        mk = pymannkendall.original_test(z[:, i], alpha=0.05)
        cats.append(_arcgis_category(hot[:, i], cold[:, i], mk.p, mk.z))
    return z, np.array(cats, dtype=object)


# -- the API ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fdr", [False, True])
def test_every_category_is_planted_and_found_and_equals_the_emulation(scenario, fdr):
    from gridmap.warning.period import emerging_period

    run = emerging_period(scenario.complaints, scenario.cells, start=scenario.start, end=scenario.end, fdr=fdr)
    loc = run.locations
    assert len(loc) == len(scenario.cells) and loc.index.name == "code"
    got = loc.loc[scenario.planted["code"], "pattern"].tolist()
    assert got == scenario.planted["pattern"].tolist() == PLANTED
    counts = _counts_from_points(scenario)
    assert np.array_equal(counts, scenario.counts) and np.array_equal(run.cube.counts, counts)
    z, cats = _emulate(counts, fdr=fdr)
    codes = scenario.cells["code"].to_numpy()[scenario.cells["iy"].sub(scenario.lattice.iy0).to_numpy() * 24 +
                                              scenario.cells["ix"].sub(scenario.lattice.ix0).to_numpy()]
    emulated = pd.Series(cats, index=codes)
    assert (loc["pattern"] == emulated.reindex(loc.index)).all(), \
        pd.DataFrame({"ours": loc["pattern"], "emulated": emulated.reindex(loc.index)}).query("ours != emulated")
    ours_z = loc[[c for c in loc.columns if c.startswith("z_")]].to_numpy()
    assert np.abs(ours_z - pd.DataFrame(z.T, index=codes).reindex(loc.index).to_numpy()).max() < 1e-9
    # all 17 categories are counted (every planted one at least once)
    cc = run.category_counts()
    assert len(cc) == 17 and all(cc[p] >= 1 for p in PLANTED) and sum(cc.values()) == len(loc)


# -- the command --------------------------------------------------------------------------------------------


def test_gridmap_emerging_writes_every_location_and_the_cube(scenario, store, tmp_path):
    import xarray as xr

    store.write("cells", scenario.cells.drop(columns=["street_code"]))
    store.write("complaints", scenario.complaints)
    db = str(store.url)
    store.close()
    out, cube = tmp_path / "emerging.gpkg", tmp_path / "cube.nc"
    start = (scenario.start - pd.Timedelta(weeks=3)).date()  # three weeks before the data begin
    r = subprocess.run([sys.executable, "-m", "gridmap", "--db", db, "emerging", "--from", str(start), "--to",
                        str(scenario.end.date()), "--out", str(out), "--cube", str(cube), "--json"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout, parse_constant=_refuse)
    assert got["slices"] == 12 and len(got["dropped_slices"]) == 3  # the weeks before the data are not counted
    assert got["categories"]["no pattern"] + sum(v for k, v in got["categories"].items() if k != "no pattern") \
        == len(scenario.cells)
    layer = gpd.read_file(out, layer="emerging_hot_spots", engine="pyogrio").set_index("code")
    assert len(layer) == len(scenario.cells)                    # every location, not only the flagged ones
    planted = layer.loc[scenario.planted["code"]]
    assert planted["pattern"].tolist() == PLANTED
    assert planted["pattern_zh"].tolist() == [PATTERN_ZH[p] for p in PLANTED]
    zcols = [c for c in layer.columns if c.startswith("z_")]
    pcols = [c for c in layer.columns if c.startswith("p_")]
    assert len(zcols) == len(pcols) == 12 and zcols[0] == "z_" + scenario.start.strftime("%Y_%m_%d")
    assert {"trend_z", "trend_p", "final_z", "n_hot", "n_cold"} <= set(layer.columns)
    _, cats = _emulate(scenario.counts)
    ds = xr.open_dataset(cube)
    try:
        assert ds["count"].shape == (12, 24, 24) and int(ds["count"].sum()) == len(scenario.complaints)
        assert np.array_equal(ds["count"].values, scenario.counts)
        assert (ds["pattern"].values.ravel().astype(str) == cats.astype(str)).all()
        assert str(ds["time"].values[0])[:10] == str(scenario.start.date())
    finally:
        ds.close()


def test_gridmap_emerging_usage_and_refusals(scenario, tmp_path):
    from gridmap.store import open_store

    db = tmp_path / "s.sqlite"
    s = open_store(str(db), crs="EPSG:4548")
    s.write("cells", scenario.cells.drop(columns=["street_code"]))
    s.write("complaints", scenario.complaints.iloc[:5000])
    s.close()

    def run(*argv):
        return subprocess.run([sys.executable, "-m", "gridmap", "--db", str(db), "emerging", *argv],
                              capture_output=True, text=True, timeout=300)

    period = ["--from", str(scenario.start.date()), "--to", str(scenario.end.date())]
    r = run(*period, "--neighbours", "distance")
    assert r.returncode == 2 and "--distance-m" in r.stderr
    r = run(*period, "--out", str(tmp_path / "x.shp"))
    assert r.returncode == 2 and ".gpkg" in r.stderr
    r = run(*period, "--cube", str(tmp_path / "x.zarr"))
    assert r.returncode == 2 and ".nc" in r.stderr
    # six weeks, and the data begin in the third: too few slices, said plainly (exit 1, no traceback)
    r = run("--from", str((scenario.start - pd.Timedelta(weeks=2)).date()), "--to",
            str((scenario.start + pd.Timedelta(weeks=4)).date()))
    assert r.returncode == 1 and "at least 10 complete week slices" in r.stderr and "before" in r.stderr
    assert "Traceback" not in r.stderr
    r = run("--help")
    assert r.returncode == 0 and "Examples:" in r.stdout and "17" in r.stdout


def test_slices_before_the_data_begin_are_not_counted(scenario):
    """A period starting three weeks before the first complaint: those weeks are unknown, not cold. Counted as
    empty they would make the persistent and historical spots (hot in 12 of 12 weeks) 'consecutive' or
    'sporadic' (12 of 15 < 90 %)."""
    from gridmap.warning import emerging_hot_spots, localise_cells, space_time_cube

    lat, _, _ = localise_cells(scenario.cells)
    start = scenario.start - pd.Timedelta(weeks=3)
    cube = space_time_cube(scenario.complaints, lat, start=start, end=scenario.end, cells=scenario.cells)
    assert len(cube.starts) == 12 and len(cube.dropped_slices) == 3 and cube.starts[0] == scenario.start
    res = emerging_hot_spots(cube, moments="slice", time_window=0).cells.set_index(["ix", "iy"])
    for _, p in scenario.planted.iterrows():
        assert res.loc[(p["ix"], p["iy"]), "pattern"] == p["pattern"]
    # data_start=None keeps them (the old behaviour), and the long-lived spots are misread
    kept = space_time_cube(scenario.complaints, lat, start=start, end=scenario.end, cells=scenario.cells,
                           data_start=None)
    old = emerging_hot_spots(kept, moments="slice", time_window=0).cells.set_index(["ix", "iy"])
    wrong = [p["pattern"] for _, p in scenario.planted.iterrows() if old.loc[(p["ix"], p["iy"]), "pattern"] !=
             p["pattern"]]
    assert "persistent hot spot" in wrong and "historical hot spot" in wrong
