"""The analyst API (issue 13): results as GeoDataFrames indexed by cell code and the cube as xarray, with the
arrays still on the result objects; the netCDF file read back by xarray."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridmap.testing.emerging import emerging_scenario
from gridmap.warning import (cell_counts_frame, emerging_period, gi_star, grid_to_cells, kernel_density,
                             lattice_frame)
from gridmap.warning.frames import write_cube


@pytest.fixture(scope="module")
def run():
    sc = emerging_scenario(side=24, slices=12, seed=3)
    return sc, emerging_period(sc.complaints, sc.cells, start=sc.start, end=sc.end)


def test_locations_are_indexed_by_cell_code_and_the_arrays_stay(run):
    sc, r = run
    loc = r.locations
    assert loc.index.name == "code" and loc.index.is_unique and set(loc.index) == set(sc.cells["code"])
    assert loc.crs == sc.cells.crs and loc.geometry.equals(sc.cells.set_index("code").geometry.reindex(loc.index))
    one = sc.planted.iloc[2]
    assert loc.at[one["code"], "pattern"] == one["pattern"]
    z_cols = [c for c in loc.columns if c.startswith("z_")]
    assert np.allclose(loc.loc[one["code"], z_cols].to_numpy(float), r.result.z[:, one["iy"], one["ix"]])
    assert r.result.z.shape == (12, 24, 24) and r.cube.counts.shape == (12, 24, 24)   # arrays still there
    assert r.result.grid("pattern")[one["iy"], one["ix"]] == one["pattern"]


def test_cube_as_xarray_and_netcdf(run, tmp_path):
    xr = pytest.importorskip("xarray")
    sc, r = run
    ds = r.dataset()
    assert ds["count"].dims == ("time", "y", "x") and int(ds["count"].sum()) == len(sc.complaints)
    one = sc.planted.iloc[0]
    cell = ds.sel(x=sc.lattice.x0 + (one["ix"] + .5) * 100, y=sc.lattice.y0 + (one["iy"] + .5) * 100)
    assert str(cell["cell_code"].values) == one["code"] and str(cell["pattern"].values) == one["pattern"]
    assert np.array_equal(cell["count"].values, sc.counts[:, one["iy"], one["ix"]])
    path = tmp_path / "cube.nc"
    write_cube(ds, path)
    back = xr.open_dataset(path)
    try:
        assert np.array_equal(back["count"].values, ds["count"].values)
        assert np.allclose(back["gi_z"].values, ds["gi_z"].values, equal_nan=True)
        assert (back["pattern"].values.astype(str) == ds["pattern"].values.astype(str)).all()
        assert pd.Timestamp(back["time"].values[0]) == sc.start
    finally:
        back.close()
    # the cube alone (no result): counts and codes
    assert set(r.cube.to_xarray(cells=sc.cells).data_vars) == {"count", "cell_code"}


def test_counts_over_time_and_any_lattice_array_by_cell_code(run):
    sc, r = run
    ts = cell_counts_frame(r.cube, sc.cells)
    one = sc.planted.iloc[1]
    assert ts.loc[one["code"]].tolist() == sc.counts[:, one["iy"], one["ix"]].tolist()
    total = sc.counts.sum(axis=0)
    dens = kernel_density(total, sc.lattice, bandwidth_m=150.0)
    gi = gi_star(total)
    f = lattice_frame({"count": total, "density": dens}, sc.cells, lattice=sc.lattice)
    assert f.index.name == "code" and f.crs == sc.cells.crs
    assert np.allclose(f["density"].to_numpy(), grid_to_cells(dens, sc.cells, sc.lattice).to_numpy())
    g = lattice_frame(gi, sc.cells, lattice=sc.lattice)
    assert {"z", "p", "q", "hot", "cold"} <= set(g.columns)
    assert g.at[one["code"], "z"] == gi.z[one["iy"], one["ix"]]
