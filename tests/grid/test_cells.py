"""Cell building: lattice, clipping, sliver merging, codes, invariants (incl. hypothesis on Voronoi tilings)."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, example, given, settings, strategies as st

from gridmap.errors import CapacityError, CRSError, ValidationError
from gridmap.grid import Lattice, build_cells
from gridmap.testing.grid import voronoi_communities

CRS = "EPSG:4548"


def frame(codes, geoms, crs=CRS):
    return gpd.GeoDataFrame({"code": codes}, geometry=list(geoms), crs=crs)


def check_invariants(comm: gpd.GeoDataFrame, cells: gpd.GeoDataFrame, rel: float = 1e-6) -> None:
    assert list(cells.columns) == ["code", "community_code", "ix", "iy", "area_m2", "geometry"]
    assert cells.crs == comm.crs
    assert cells["code"].is_unique
    assert shapely.is_valid(cells.geometry.values).all()
    assert set(shapely.get_type_id(cells.geometry.values)) <= {3, 6}
    assert (cells["area_m2"] > 0).all()
    for code, geom in zip(comm["code"], comm.geometry):
        mine = cells[cells["community_code"] == code]
        assert len(mine) > 0
        assert all(c.startswith(code) and len(c) == 15 for c in mine["code"])
        g = mine.geometry.values
        # no cell crosses the community boundary
        outside = shapely.area(shapely.difference(g, geom))
        assert outside.max() <= rel * geom.area
        # cells union to the community with no overlap
        union = shapely.union_all(g)
        assert abs(union.area - geom.area) <= rel * geom.area
        assert abs(shapely.area(g).sum() - geom.area) <= rel * geom.area
        assert shapely.symmetric_difference(union, geom).area <= rel * geom.area


def test_lattice_half_open_and_fixed_origin():
    lat = Lattice(cell_size_m=100.0, origin=(50.0, 0.0))
    ix, iy = lat.index([50.0, 149.999, 150.0, 49.99, np.nan], [0.0, 99.9, 100.0, -0.01, 1.0])
    assert ix[:4].tolist() == [0, 0, 1, -1]
    assert iy[:4].tolist() == [0, 0, 1, -1]
    assert lat.box_bounds(1, 1) == (150.0, 100.0, 250.0, 200.0)
    with pytest.raises(ValidationError):
        Lattice(cell_size_m=0)


def test_codes_run_west_to_east_then_north_to_south():
    comm = frame(["110101001001"], [shapely.box(0, 0, 300, 200)])
    cells = build_cells(comm)
    assert cells["code"].tolist() == [f"110101001001{i:03d}" for i in range(1, 7)]
    assert list(zip(cells["ix"], cells["iy"])) == [(0, 1), (1, 1), (2, 1), (0, 0), (1, 0), (2, 0)]
    assert np.allclose(cells["area_m2"], 10_000)


def test_sliver_merged_into_longest_shared_edge_neighbour():
    # a 5 m wide strip east of x=200 (500 m² < 10 % of 10,000 m²) joins the cell west of it
    comm = frame(["110101001001"], [shapely.box(0, 0, 205, 100)])
    cells = build_cells(comm)
    assert len(cells) == 2
    assert cells["area_m2"].tolist() == [10_000, 10_500]
    assert cells["ix"].tolist() == [0, 1]
    check_invariants(comm, cells)
    kept = build_cells(comm, sliver_share=0.0)
    assert len(kept) == 3


def test_concave_square_parts_stay_one_cell():
    # a U-shaped community cuts squares into two parts each, which stay one (multi-part) cell
    u = shapely.Polygon([(0, 0), (300, 0), (300, 300), (220, 300), (220, 140), (80, 140), (80, 300), (0, 300)])
    comm = frame(["110101001001"], [u])
    cells = build_cells(comm)
    check_invariants(comm, cells)
    assert not cells.duplicated(["ix", "iy"]).any()


def test_same_ground_same_indices_and_codes_on_rebuild():
    comm = voronoi_communities(8, bounds=(450_013, 4_410_007, 452_501, 4_412_333), seed=5)
    a = build_cells(comm)
    b = build_cells(comm.copy())
    assert a["code"].tolist() == b["code"].tolist()
    assert shapely.equals_exact(a.geometry.values, b.geometry.values, tolerance=0).all()
    # adding a far-away community changes nothing for the others: the lattice is anchored, not fitted
    far = frame(["110199009001"], [shapely.box(460_000, 4_420_000, 460_400, 4_420_300)])
    c = build_cells(gpd.GeoDataFrame(pd_concat([comm[["code", "geometry"]], far]), crs=CRS))
    c = c[c["community_code"] != "110199009001"].reset_index(drop=True)
    assert c["code"].tolist() == a["code"].tolist()
    assert c[["ix", "iy"]].equals(a[["ix", "iy"]])


def pd_concat(frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def test_input_not_mutated():
    comm = voronoi_communities(4, bounds=(0, 0, 600, 500), seed=2)
    before = comm.copy()
    build_cells(comm)
    assert comm.equals(before)
    assert not shapely.is_prepared(comm.geometry.values).any()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 12), seed=st.integers(0, 10_000), size=st.sampled_from([37.5, 50.0, 100.0]),
       wiggle=st.sampled_from([0.0, 3.0]), sliver=st.sampled_from([0.0, 0.1, 0.3]),
       ox=st.floats(-1000, 1000), oy=st.floats(-1000, 1000))
@example(n=4, seed=852, size=100.0, wiggle=0.0, sliver=0.3, ox=0.0, oy=-14.0)  # a chain of slivers only
def test_invariants_on_random_voronoi_layouts(n, seed, size, wiggle, sliver, ox, oy):
    comm = voronoi_communities(n, bounds=(450_000 + ox, 4_410_000 + oy, 450_900 + ox, 4_410_700 + oy), seed=seed,
                               wiggle_m=wiggle)
    comm = comm[shapely.get_type_id(comm.geometry.values) == 3].reset_index(drop=True)  # make_valid may split
    cells = build_cells(comm, cell_size_m=size, sliver_share=sliver)
    check_invariants(comm, cells)
    # every cell except an unmergeable leftover is at least the sliver size
    if sliver:
        small = cells[cells["area_m2"] < sliver * size * size]
        for _, c in small.iterrows():  # only allowed when nothing in its community touches it along an edge
            others = cells[(cells["community_code"] == c["community_code"]) & (cells["code"] != c["code"])]
            shared = shapely.length(shapely.intersection(others.geometry.boundary.values, c.geometry.boundary))
            assert (shared <= 1e-6).all()
    # codes: rows north to south, west to east within a row
    for _, g in cells.groupby("community_code"):
        key = list(zip(-g["iy"], g["ix"]))
        assert key == sorted(key)
    again = build_cells(comm, cell_size_m=size, sliver_share=sliver)
    assert again["code"].tolist() == cells["code"].tolist()


def test_invalid_and_overlapping_communities_listed_together():
    bowtie = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    comm = frame(["110101001001", "110101001002", "110101001003", "110101001003"],
                 [bowtie, shapely.box(200, 0, 400, 200), shapely.box(300, 0, 500, 200), shapely.box(600, 0, 700, 100)])
    with pytest.raises(ValidationError) as err:
        build_cells(comm)
    text = str(err.value)
    assert "invalid polygon" in text and "Self-intersection" in text
    assert "overlaps community 110101001003" in text
    assert "duplicate community code" in text
    assert len(err.value.problems) == 3


def test_bad_codes_and_crs():
    with pytest.raises(ValidationError, match="community code must have 12 digits"):
        build_cells(frame(["11010100100"], [shapely.box(0, 0, 10, 10)]))
    with pytest.raises(ValidationError, match="full-width"):
        build_cells(frame(["１１０１０１００１００１"], [shapely.box(0, 0, 10, 10)]))
    with pytest.raises(CRSError, match="geographic"):
        build_cells(frame(["110101001001"], [shapely.box(116.3, 39.9, 116.31, 39.91)], crs="EPSG:4326"))
    with pytest.raises(CRSError, match="no CRS"):
        build_cells(gpd.GeoDataFrame({"code": ["110101001001"]}, geometry=[shapely.box(0, 0, 1, 1)]))


def test_capacity_error_names_community_and_opt_in_fallback():
    comm = frame(["110101001001", "110101001002"], [shapely.box(0, 0, 3200, 3200), shapely.box(3200, 0, 3400, 100)])
    with pytest.raises(CapacityError, match="110101001001 \\(1024 cells\\)"):
        build_cells(comm)
    with pytest.warns(UserWarning, match="non-standard 16-digit"):
        cells = build_cells(comm, allow_overflow=True)
    big = cells[cells["community_code"] == "110101001001"]
    assert big["code"].str.len().eq(16).all() and big["code"].iloc[-1] == "1101010010011024"
    assert cells[cells["community_code"] == "110101001002"]["code"].str.len().eq(15).all()


def test_multipolygon_community_and_hole():
    donut = shapely.box(0, 0, 500, 500).difference(shapely.box(150, 150, 350, 350))
    islands = shapely.MultiPolygon([shapely.box(600, 0, 700, 100), shapely.box(800, 0, 830, 20)])
    comm = frame(["110101001001", "110101001002"], [donut, islands])
    cells = build_cells(comm)
    check_invariants(comm, cells)
    # the detached 600 m² island has no neighbour to merge into: it stays a (small) cell of its own
    assert sorted(cells[cells["community_code"] == "110101001002"]["area_m2"]) == [600.0, 10_000.0]


def test_assemble_cells_bad_input_is_a_clear_error():
    from gridmap.grid import assemble_cells

    ok = gpd.GeoDataFrame({"community_code": ["110101001001"], "ix": [0], "iy": [0]},
                          geometry=[shapely.box(0, 0, 100, 100)], crs="EPSG:4548")
    with pytest.raises(ValidationError, match="lack columns") as ei:
        assemble_cells(ok.drop(columns="ix"))
    assert "'ix'" in str(ei.value)
    with pytest.raises(ValidationError, match="sliver_share"):
        assemble_cells(ok, sliver_share=1.5)
    with pytest.raises(CRSError):
        assemble_cells(ok.set_crs(None, allow_override=True))
    with pytest.raises(CRSError):
        assemble_cells(ok.to_crs("EPSG:4326"))  # a metric operation in a geographic CRS
