"""Kernel density by cell, community and street (gridmap.warning.density_by) against an independent
geopandas overlay (area-weighted integral of the lattice surface), and the per-1,000-household scaling."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.errors import CRSError, ValidationError
from gridmap.grid import Lattice
from gridmap.warning import bin_points, density_by, kernel_density, lattice_from_cells
from gridmap.testing.warning import make_cells


def _irregular_cells():
    """8 x 6 cells of 100 m, clipped by a slanted boundary (partial edge cells), with two cells that absorbed a
    sliver of the clipped-away square beside them (reaching over two lattice squares), as build_cells makes."""
    lat = Lattice(440000.0, 4420000.0, 100.0, 8, 6)
    cells = make_cells(lat, community_size=4)
    boundary = shapely.Polygon([(440000, 4420000), (440800, 4420000), (440800, 4420450), (440000, 4420600)])
    cells = cells.assign(geometry=cells.geometry.intersection(boundary))
    cells = cells[~cells.geometry.is_empty & (cells.geometry.area > 1.0)].copy()
    # top-row cells (iy = 4) whose square above is partly cut away: give two of them a sliver of it
    for ix in (2, 5):
        i = cells.index[(cells.ix == ix) & (cells.iy == 4)][0]
        sliver = shapely.box(440000 + ix * 100, 4420500, 440000 + (ix + 1) * 100, 4420520).intersection(boundary)
        cells.loc[i, "geometry"] = cells.loc[i, "geometry"].union(sliver)
        cells = cells.drop(index=cells.index[(cells.ix == ix) & (cells.iy == 5)])  # no overlap with the sliver
    return gpd.GeoDataFrame(cells.reset_index(drop=True), crs="EPSG:4548")


def _overlay_reference(density_m2: np.ndarray, lat: Lattice, cells: gpd.GeoDataFrame, column: str) -> pd.DataFrame:
    """Independent reference: overlay the cells with the lattice squares (geopandas), integrate, group."""
    iy, ix = np.divmod(np.arange(lat.nx * lat.ny), lat.nx)
    c = lat.cell_size_m
    squares = gpd.GeoDataFrame({"d": density_m2[iy, ix]}, geometry=shapely.box(
        lat.x0 + ix * c, lat.y0 + iy * c, lat.x0 + (ix + 1) * c, lat.y0 + (iy + 1) * c), crs=cells.crs)
    pieces = gpd.overlay(cells[[column, "geometry"]], squares, how="intersection", keep_geom_type=True)
    pieces["mass"] = pieces["d"] * pieces.geometry.area
    units = cells.dissolve(by=column)
    ref = pd.DataFrame({"expected": pieces.groupby(column)["mass"].sum(), "area_km2": units.geometry.area / 1e6})
    ref["per_km2"] = ref["expected"] / ref["area_km2"]
    return ref


@pytest.mark.parametrize("by,column", [("cell", "code"), ("community", "community_code"),
                                       ("street", "street_code")])
def test_density_by_equals_an_overlay_area_weighted_integral(by, column):
    cells = _irregular_cells()
    lat = lattice_from_cells(cells)
    rng = np.random.default_rng(4)
    dens_km2 = rng.gamma(2.0, 50.0, lat.shape)   # any surface: the test is the aggregation
    got = density_by(dens_km2, cells, by=by, scale="per_km2")
    ref = _overlay_reference(dens_km2 / 1e6, lat, cells, column)
    assert got.index.name == f"{by}_code"
    assert list(got.index) == sorted(ref.index)
    ref = ref.loc[got.index]
    assert np.allclose(got["expected"], ref["expected"], rtol=1e-9, atol=0)
    assert np.allclose(got["area_km2"], ref["area_km2"], rtol=1e-9)
    assert np.allclose(got["per_km2"], ref["per_km2"], rtol=1e-9)
    # the merged slivers really reach over two lattice squares (the overlay path is exercised)
    assert (cells.geometry.bounds.eval("maxy - miny") > 100.0 + 1e-6).sum() == 2


def test_density_by_scales_and_kde_mass():
    cells = make_cells(Lattice(440000.0, 4420000.0, 100.0, 20, 20), community_size=5)
    lat = lattice_from_cells(cells)
    rng = np.random.default_rng(8)
    x, y = rng.normal(441000, 300, 5000), rng.normal(4421000, 300, 5000)
    counts = bin_points(x, y, lat)
    per_cell = kernel_density(counts, lat, bandwidth_m=250.0, scale="per_cell")
    a = density_by(per_cell, cells, by="community", scale="per_cell")
    b = density_by(kernel_density(counts, lat, bandwidth_m=250.0, scale="per_km2"), cells, by="community",
                   scale="per_km2")
    c = density_by(kernel_density(counts, lat, bandwidth_m=250.0), cells, by="community")
    assert np.allclose(a, b) and np.allclose(a, c)
    # full square cells: the integral over all units is the smoothed mass on the lattice
    assert a["expected"].sum() == pytest.approx(per_cell.sum(), rel=1e-12)
    # and per community the smoothed counts equal the sum of the per-cell surface over its cells
    ref = pd.Series(per_cell[cells.iy, cells.ix], index=cells.community_code.to_numpy()).groupby(level=0).sum()
    assert np.allclose(a["expected"], ref.loc[a.index])


def test_density_by_per_1000_households():
    cells = make_cells(Lattice(440000.0, 4420000.0, 100.0, 10, 10), community_size=5)
    dens = np.full((10, 10), 200.0)   # 200 complaints per km²: 2 per 100 m cell
    comms = sorted(cells.community_code.unique())
    hh = pd.Series([500, 2000, 0], index=comms[:3])   # last community missing, one with zero households
    t = density_by(dens, cells, by="community", scale="per_km2", households=hh)
    # each community: 25 cells x 0.01 km² x 200 / km² = 50 smoothed complaints
    assert np.allclose(t["expected"], 50.0) and np.allclose(t["per_km2"], 200.0)
    assert t.loc[comms[0], "per_1000_households"] == pytest.approx(50.0 / 500 * 1000)
    assert t.loc[comms[1], "per_1000_households"] == pytest.approx(50.0 / 2000 * 1000)
    assert np.isnan(t.loc[comms[2], "per_1000_households"])   # zero households: NaN, not inf
    assert np.isnan(t.loc[comms[3], "per_1000_households"]) and np.isnan(t.loc[comms[3], "households"])
    # per street: street_code column, and the same from community codes when it is missing
    s1 = density_by(dens, cells, by="street", scale="per_km2")
    s2 = density_by(dens, cells.drop(columns="street_code"), by="street", scale="per_km2")
    pd.testing.assert_frame_equal(s1, s2)


def test_density_by_bad_input():
    cells = make_cells(Lattice(440000.0, 4420000.0, 100.0, 4, 3))
    with pytest.raises(ValidationError, match="lattice"):
        density_by(np.ones((4, 4)), cells)
    with pytest.raises(ValidationError, match="unit"):
        density_by(np.ones((3, 4)), cells, by="district")
    with pytest.raises(ValueError):
        density_by(np.ones((3, 4)), cells, scale="per_hectare")
    with pytest.raises(CRSError):
        density_by(np.ones((3, 4)), cells.to_crs("EPSG:4326"))
    with pytest.raises(ValidationError, match="community_code"):
        density_by(np.ones((3, 4)), cells.drop(columns="community_code"), by="community")
