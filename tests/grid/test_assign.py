"""Point to cell assignment against geopandas.sjoin, boundary semantics, reporting of points on no cell."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings, strategies as st

from gridmap.errors import CRSError
from gridmap.grid import CellIndex, UnassignedPointsWarning, assign_points, build_cells
from gridmap.grid.assign import ENGINES
from gridmap.testing.grid import voronoi_communities

CRS = "EPSG:4548"
_NO_KERNEL = pytest.mark.skipif("c" not in ENGINES, reason="the compiled kernel (gridmap/grid/_kernel.c) is not "
                                                          "built: scripts/setup.sh builds it")
#: Index variants that must all give sjoin's answers: numpy with and without the sub-square level, the kernel.
MODES = [pytest.param({"engine": "numpy", "subdivide": True}, id="numpy-sub"),
         pytest.param({"engine": "numpy", "subdivide": False}, id="numpy"),
         pytest.param({"engine": "c"}, id="c", marks=_NO_KERNEL)]
ENGINE_PARAMS = [pytest.param("numpy", id="numpy"), pytest.param("c", id="c", marks=_NO_KERNEL)]
#: Every engine of this install, with and without the sub-square level (for loops inside one test).
ALL_MODES = [{"engine": e, "subdivide": sub} for e in ENGINES for sub in (True, False)]


def sjoin_reference(x, y, cells):
    """{point: set of covering cell codes} from geopandas.sjoin(predicate='intersects') and the 'within' match."""
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=cells.crs)
    inter = gpd.sjoin(pts, cells[["code", "geometry"]], predicate="intersects", how="left")
    within = gpd.sjoin(pts, cells[["code", "geometry"]], predicate="within", how="left")
    covering = inter.groupby(level=0)["code"].agg(lambda s: set(s.dropna()))
    inside = within["code"]
    return covering, inside[~inside.index.duplicated()]


def assert_matches_sjoin(x, y, cells, res, ref=None):
    covering, inside = ref if ref is not None else sjoin_reference(x, y, cells)
    ours = res.codes
    for i in range(len(x)):
        cov = covering.iloc[i]
        if not cov:
            assert ours.iloc[i] is None, (i, x[i], y[i])
        else:
            assert ours.iloc[i] in cov, (i, x[i], y[i], ours.iloc[i], cov)
        if isinstance(inside.iloc[i], str) and len(cov) == 1:  # inside one cell and on no other: same answer
            assert ours.iloc[i] == inside.iloc[i]
        # (a point can be 'within' one cell and on the boundary of another where the input communities overlap by
        #  floating-point noise, ~1e-9 m²: then any covering cell is a valid answer, see the tie rule)
    # no point is dropped: each unassigned point is in the report
    assert set(res.report["point"]) == {i for i in range(len(x)) if ours.iloc[i] is None}


def boundary_points(cells, rng, n):
    """Points exactly on cell vertices, on lattice lines and on cell edges (the hard cases)."""
    coords = shapely.get_coordinates(cells.geometry.values)
    pick = coords[rng.integers(0, len(coords), n)]
    b = cells.total_bounds
    lines_x = np.floor(rng.uniform(b[0], b[2], n) / 100) * 100
    on_lines = np.column_stack([lines_x, rng.uniform(b[1], b[3], n)])
    edges = shapely.get_parts(shapely.boundary(cells.geometry.values[rng.integers(0, len(cells), n)]))
    mids = shapely.get_coordinates(shapely.line_interpolate_point(edges, 0.37, normalized=True))
    return np.vstack([pick, on_lines, mids])


@pytest.fixture(scope="module")
def layout():
    comm = voronoi_communities(30, bounds=(450_000, 4_410_000, 453_000, 4_412_500), seed=11, wiggle_m=4.0)
    comm = comm[shapely.get_type_id(comm.geometry.values) == 3].reset_index(drop=True)
    # a hole in the gridded area: points there are on no cell
    comm = comm[comm["code"] != comm["code"].iloc[3]].reset_index(drop=True)
    return comm, build_cells(comm)


@pytest.mark.parametrize("mode", MODES)
def test_equals_sjoin_random_and_boundary_points(layout, mode):
    comm, cells = layout
    rng = np.random.default_rng(1)
    b = cells.total_bounds
    rand = np.column_stack([rng.uniform(b[0] - 200, b[2] + 200, 20_000), rng.uniform(b[1] - 200, b[3] + 200, 20_000)])
    xy = np.vstack([rand, boundary_points(cells, rng, 1500)])
    index = CellIndex(cells, **mode)
    assert index.engine == mode["engine"]
    with pytest.warns(UnassignedPointsWarning):
        res = assign_points(xy, index)
    assert (index._sub > 0) == bool(mode.get("subdivide"))
    assert res.n_unassigned > 0 and res.n_assigned > 0
    assert_matches_sjoin(xy[:, 0], xy[:, 1], cells, res)


def test_tie_on_lattice_line_goes_east_and_north():
    cells = build_cells(gpd.GeoDataFrame({"code": ["110101001001"]}, geometry=[shapely.box(0, 0, 200, 200)], crs=CRS))
    res = assign_points(([100.0, 50.0, 100.0], [50.0, 100.0, 100.0]), cells)
    by_square = dict(zip(zip(cells["ix"], cells["iy"]), cells["code"]))
    assert res.codes.tolist() == [by_square[(1, 0)], by_square[(0, 1)], by_square[(1, 1)]]


def test_any_lattice_gives_the_same_answer(layout):
    _, cells = layout
    rng = np.random.default_rng(7)
    b = cells.total_bounds
    xy = np.column_stack([rng.uniform(b[0], b[2], 5000), rng.uniform(b[1], b[3], 5000)])
    a = assign_points(xy, cells, warn=False)
    other = assign_points(xy, cells, cell_size_m=37.0, origin=(11.0, 3.0), warn=False)
    interior = shapely.contains_xy(cells.geometry.values[np.maximum(a.cell, 0)], xy[:, 0], xy[:, 1]) & (a.cell >= 0)
    assert (a.cell[interior] == other.cell[interior]).all()


def test_geodataframe_input_keeps_index_and_reports_missing():
    cells = build_cells(gpd.GeoDataFrame({"code": ["110101001001"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=CRS))
    pts = gpd.GeoDataFrame({"id": ["a", "b", "c", "d"]},
                           geometry=[shapely.Point(10, 10), None, shapely.Point(500, 10), shapely.Point()],
                           index=[10, 20, 30, 40], crs=CRS)
    with pytest.warns(UnassignedPointsWarning, match="3 of 4"):
        res = assign_points(pts, cells)
    assert res.codes.index.tolist() == [10, 20, 30, 40]
    assert res.codes.loc[10] == "110101001001001"
    rep = res.report.set_index("point")["reason"].to_dict()
    assert rep == {20: "missing coordinates", 30: "on no cell", 40: "missing coordinates"}
    assert len(res.problems) == 3


def test_crs_mismatch_is_an_error():
    cells = build_cells(gpd.GeoDataFrame({"code": ["110101001001"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=CRS))
    pts = gpd.GeoDataFrame(geometry=[shapely.Point(116.4, 39.9)], crs="EPSG:4326")
    with pytest.raises(CRSError):
        assign_points(pts, cells)


def test_index_reuse_and_store_frame_without_attrs(layout):
    _, cells = layout
    plain = gpd.GeoDataFrame(pd.DataFrame(cells.drop(columns="geometry")), geometry=cells.geometry.values, crs=CRS)
    plain.attrs = {}
    idx = CellIndex(plain)
    assert idx.n_whole > 0 and idx.n_shared > 0
    rng = np.random.default_rng(3)
    b = cells.total_bounds
    x, y = rng.uniform(b[0], b[2], 1000), rng.uniform(b[1], b[3], 1000)
    assert (assign_points((x, y), idx, warn=False).cell == assign_points((x, y), cells, warn=False).cell).all()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 8), seed=st.integers(0, 5000), size=st.sampled_from([50.0, 100.0]),
       mode=st.sampled_from(ALL_MODES))
def test_property_equals_sjoin(n, seed, size, mode):
    comm = voronoi_communities(n, bounds=(0, 0, 700, 600), seed=seed, wiggle_m=2.0)
    comm = comm[shapely.get_type_id(comm.geometry.values) == 3].reset_index(drop=True)
    cells = build_cells(comm, cell_size_m=size)
    rng = np.random.default_rng(seed)
    xy = np.vstack([np.column_stack([rng.uniform(-50, 750, 800), rng.uniform(-50, 650, 800)]),
                    boundary_points(cells, rng, 100)])
    res = assign_points(xy, CellIndex(cells, **mode), warn=False)
    assert_matches_sjoin(xy[:, 0], xy[:, 1], cells, res)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(2, 12), seed=st.integers(0, 10_000), size=st.sampled_from([40.0, 100.0, 250.0]),
       holes=st.integers(0, 3), multi=st.booleans())
def test_property_arbitrary_polygons_equal_sjoin(n, seed, size, holes, multi):
    """Cells that are not lattice cells at all (Voronoi polygons over many squares, some with holes, two joined into
    a multi-polygon, a gap left where a hole is not plugged): every engine gives sjoin's covering cell."""
    comm = voronoi_communities(n, bounds=(0, 0, 900, 700), seed=seed, wiggle_m=3.0)
    geoms = list(comm.geometry.values)
    rng = np.random.default_rng(seed)
    for h in range(holes):  # a hole in one cell, plugged by a cell of its own every other time
        i = int(rng.integers(len(geoms)))
        if geoms[i].is_empty:  # an earlier hole took the whole cell (seed=176, n=2, holes=3)
            continue
        c = shapely.get_coordinates(shapely.point_on_surface(geoms[i]))[0]
        hole = shapely.buffer(shapely.Point(c), float(rng.uniform(3, 60)), quad_segs=3)
        hole = shapely.intersection(hole, geoms[i])
        if hole.is_empty or hole.geom_type != "Polygon":
            continue
        geoms[i] = shapely.difference(geoms[i], hole)
        if h % 2 == 0:
            geoms.append(hole)
    if multi and len(geoms) >= 3:
        geoms[0] = shapely.union(geoms[0], geoms.pop(2))  # adjacent or not: a polygon or a multi-polygon
    # GEOS may return a GeometryCollection (a polygon plus a stray line) from the overlay steps above; a cells
    # layer holds polygons, so the test data keeps the polygonal part (seed=744, holes=2, multi=True did this)
    geoms = [shapely.union_all([p for p in shapely.get_parts(g) if p.geom_type == "Polygon"])
             if g.geom_type == "GeometryCollection" else g for g in geoms]
    cells = gpd.GeoDataFrame({"code": [f"c{i}" for i in range(len(geoms))]}, geometry=geoms, crs=CRS)
    cells = cells[~cells.geometry.is_empty].reset_index(drop=True)
    xy = np.vstack([np.column_stack([rng.uniform(-30, 930, 1500), rng.uniform(-30, 730, 1500)]),
                    boundary_points(cells, rng, 150)])
    ref = sjoin_reference(xy[:, 0], xy[:, 1], cells)
    for mode in ALL_MODES:
        res = assign_points(xy, CellIndex(cells, cell_size_m=size, origin=(0.0, 0.0), **mode), warn=False)
        assert_matches_sjoin(xy[:, 0], xy[:, 1], cells, res, ref)


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_points_on_the_outer_boundary_are_assigned(engine):
    """The east and north edges of the gridded area belong to the cells there (covers), like sjoin says."""
    cells = build_cells(gpd.GeoDataFrame({"code": ["110101001001"]}, geometry=[shapely.box(0, 0, 200, 200)], crs=CRS))
    x = np.array([200.0, 150.0, 200.0, 0.0, 200.0 + 1e-9, 100.0])
    y = np.array([50.0, 200.0, 200.0, 0.0, 50.0, 200.0 + 1e-9])
    res = assign_points((x, y), CellIndex(cells, engine=engine), warn=False)
    assert_matches_sjoin(x, y, cells, res)
    assert (res.cell[:4] >= 0).all() and (res.cell[4:] == -1).all()


def test_inexact_lattice_lines_and_their_neighbours(layout):
    """A lattice whose lines are not exactly representable: points on the computed lines and one ulp either side."""
    comm, _ = layout
    cells = build_cells(comm, cell_size_m=33.3, origin=(0.1, 0.7))
    rng = np.random.default_rng(5)
    b = cells.total_bounds
    i = np.floor((rng.uniform(b[0], b[2], 400) - 0.1) / 33.3)
    on_x = 0.1 + i * 33.3  # as the lattice computes its lines
    xs = np.concatenate([on_x, np.nextafter(on_x, -np.inf), np.nextafter(on_x, np.inf)])
    ys = np.tile(rng.uniform(b[1], b[3], 400), 3)
    xy = np.vstack([np.column_stack([xs, ys]), boundary_points(cells, rng, 300)])
    for mode in ALL_MODES:
        res = assign_points(xy, CellIndex(cells, **mode), warn=False)
        assert_matches_sjoin(xy[:, 0], xy[:, 1], cells, res)


def test_overlapping_cells_still_give_a_covering_cell():
    """Overlapping cells are not supported input, but no answer is ever a cell that does not cover the point."""
    a = shapely.Polygon([(0, 0), (60, 0), (60, 40), (0, 40)])
    b = shapely.Polygon([(30, 10), (90, 10), (90, 80), (30, 80)])
    cells = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=[a, b], crs=CRS)
    rng = np.random.default_rng(2)
    xy = np.column_stack([rng.uniform(-5, 95, 5000), rng.uniform(-5, 85, 5000)])
    for mode in ALL_MODES:
        res = assign_points(xy, CellIndex(cells, **mode), warn=False)
        assert_matches_sjoin(xy[:, 0], xy[:, 1], cells, res)


def test_sub_squares_are_classified_once_enough_points_came(layout):
    """numpy engine: the sub-square level comes once it pays; the kernel never builds it unless asked."""
    _, cells = layout
    index = CellIndex(cells, engine="numpy")
    rng = np.random.default_rng(4)
    b = cells.total_bounds
    first = index.lookup(rng.uniform(b[0], b[2], 10), rng.uniform(b[1], b[3], 10))
    assert index._sub == 0 and len(first) == 10
    from gridmap.grid.assign.index import _SUB_AFTER

    n = _SUB_AFTER * index.n_shared
    x, y = rng.uniform(b[0], b[2], n), rng.uniform(b[1], b[3], n)
    got = index.lookup(x, y)
    assert index._sub > 0
    assert (got == CellIndex(cells, subdivide=False, engine="numpy").lookup(x, y)).all()
    if "c" in ENGINES:
        kernel = CellIndex(cells, engine="c")
        assert (kernel.lookup(x, y) == got).all() and kernel._sub == 0


def test_index_leaves_the_callers_geometries_alone(layout):
    _, cells = layout
    geoms = cells.geometry.values
    CellIndex(cells).lookup([450_500.0], [4_411_000.0])
    assert not shapely.is_prepared(np.asarray(geoms, dtype=object)).any()


def test_exact_path_agrees_with_geos_on_partial_cells(layout):
    """The vectorised crossing-number test against shapely.intersects_xy, point by point, on every partial cell."""
    _, cells = layout
    idx = CellIndex(cells)
    part = np.flatnonzero(~idx._full)
    rng = np.random.default_rng(9)
    c = np.repeat(part, 40)
    bb = shapely.bounds(cells.geometry.values[c])
    px = rng.uniform(bb[:, 0] - 1, bb[:, 2] + 1)
    py = rng.uniform(bb[:, 1] - 1, bb[:, 3] + 1)
    coords = shapely.get_coordinates(cells.geometry.values[part])  # vertices: boundary points
    cv = np.repeat(part, shapely.get_num_coordinates(cells.geometry.values[part]))
    c = np.concatenate([c, cv])
    px = np.concatenate([px, coords[:, 0]])
    py = np.concatenate([py, coords[:, 1]])
    ours = idx._covers(c, px, py)
    geos = shapely.intersects_xy(cells.geometry.values[c], px, py)
    assert (ours == geos).all()


def odd_cells():
    """Hand-made cells of every shape the index treats differently, on a 100 m lattice at (0, 0)."""
    sq = shapely.box(0, 0, 100, 100)  # whole square, counter-clockwise
    cw = shapely.Polygon([(100, 0), (100, 100), (200, 100), (200, 0)])  # whole square, clockwise, other start
    extra = shapely.Polygon([(200, 0), (250, 0), (300, 0), (300, 100), (200, 100)])  # square + collinear vertex
    holed = shapely.Polygon(shapely.box(300, 0, 400, 100).exterior.coords, [shapely.box(330, 30, 370, 70).exterior.coords])
    plug = shapely.box(330, 30, 370, 70)  # fills the hole
    multi = shapely.MultiPolygon([shapely.Polygon([(400, 0), (450, 0), (400, 100)]),
                                  shapely.Polygon([(460, 100), (500, 100), (500, 20)])])
    rect = shapely.box(500, 0, 600, 50)  # a rectangle inside a square
    notched = shapely.Polygon([(600, 0), (700, 0), (700, 100), (600, 100), (600, 50), (650, 50), (600, 40)])
    geoms = [sq, cw, extra, holed, plug, multi, rect, notched]
    return gpd.GeoDataFrame({"code": [f"11010100100100{i}" for i in range(1, len(geoms) + 1)]}, geometry=geoms,
                            crs=CRS)


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_odd_cell_shapes_equal_sjoin(engine):
    """Squares in either orientation, a square with a collinear vertex, holes, multi-polygons, notches."""
    cells = odd_cells()
    idx = CellIndex(cells, cell_size_m=100.0, origin=(0.0, 0.0), engine=engine)
    assert idx._full.tolist() == [True, True, False, False, False, False, False, False]  # only true squares
    rng = np.random.default_rng(5)
    xy = np.vstack([np.column_stack([rng.uniform(-20, 720, 20_000), rng.uniform(-20, 120, 20_000)]),
                    boundary_points(cells, rng, 300)])
    res = assign_points(xy, idx, warn=False)
    assert_matches_sjoin(xy[:, 0], xy[:, 1], cells, res)
    # the hole's points go to the plug, the multi-polygon's gap to nothing
    assert assign_points(([350.0, 455.0], [50.0, 50.0]), idx, warn=False).codes.tolist() == [cells.code[4], None]


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_square_bounds_but_not_a_square_is_not_whole(engine):
    """A bow-tie and a degenerate ring with a lattice square as bounds and 5 vertices are not taken for squares."""
    bow = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100), (0, 0)])
    back = shapely.Polygon([(100, 0), (200, 0), (200, 100), (200, 0), (100, 100)])
    cells = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=[bow, back], crs=CRS)
    idx = CellIndex(cells, cell_size_m=100.0, origin=(0.0, 0.0), engine=engine)
    assert not idx._full.any()
    # the bow-tie's side triangles are outside it (crossing numbers, as GEOS sees a point there)
    res = assign_points(([50.0, 10.0], [10.0, 50.0]), idx, warn=False)
    geos = shapely.intersects_xy(bow, [50.0, 10.0], [10.0, 50.0])
    assert (res.cell >= 0).tolist() == geos.tolist()


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_threads_give_the_same_answer(layout, engine):
    """Blocks of points looked up in parallel give exactly the serial answer (and sjoin's on a sample)."""
    _, cells = layout
    rng = np.random.default_rng(21)
    b = cells.total_bounds
    n = 260_000
    xy = np.vstack([np.column_stack([rng.uniform(b[0] - 50, b[2] + 50, n), rng.uniform(b[1] - 50, b[3] + 50, n)]),
                    boundary_points(cells, rng, 2_000)])
    serial = CellIndex(cells, threads=1, engine=engine).lookup(xy[:, 0], xy[:, 1])
    par = CellIndex(cells, threads=2, engine=engine)
    assert par.threads == 2
    assert (par.lookup(xy[:, 0], xy[:, 1]) == serial).all()
    sample = rng.choice(len(xy), 5_000, replace=False)
    res = assign_points(xy[sample], CellIndex(cells, threads=1, engine=engine), warn=False)
    assert_matches_sjoin(xy[sample, 0], xy[sample, 1], cells, res)


def test_gridmap_threads_setting(monkeypatch):
    from gridmap.errors import ValidationError
    from gridmap.grid.assign import default_threads

    monkeypatch.setenv("GRIDMAP_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("GRIDMAP_THREADS", "0")
    assert default_threads() == 1
    monkeypatch.setenv("GRIDMAP_THREADS", "many")
    with pytest.raises(ValidationError, match="GRIDMAP_THREADS must be a whole number"):
        default_threads()


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_threaded_lookup_works_in_a_forked_child(layout, engine):
    """The thread pool of a parent that forks is not inherited half-dead: the child looks up in parallel too."""
    import multiprocessing as mp

    _, cells = layout
    rng = np.random.default_rng(2)
    b = cells.total_bounds
    x, y = rng.uniform(b[0], b[2], 250_000), rng.uniform(b[1], b[3], 250_000)
    idx = CellIndex(cells, threads=2, engine=engine)
    expected = idx.lookup(x, y)  # the parent's pool now exists
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=lambda: q.put(idx.lookup(x, y).tolist() == expected.tolist()))
    p.start()
    ok = q.get(timeout=60)  # a dead inherited pool hangs: fail, do not wait forever
    p.join(timeout=30)
    assert ok and p.exitcode == 0


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_sparse_table_gives_the_dense_answer(layout, monkeypatch, engine):
    """Beyond _DENSE_LIMIT squares the coarse table is a sorted-key search: the same answers."""
    import gridmap.grid.assign.index as A

    _, cells = layout
    rng = np.random.default_rng(8)
    b = cells.total_bounds
    xy = np.vstack([np.column_stack([rng.uniform(b[0] - 50, b[2] + 50, 30_000),
                                     rng.uniform(b[1] - 50, b[3] + 50, 30_000)]), boundary_points(cells, rng, 500)])
    dense = CellIndex(cells, subdivide=False, engine="numpy")
    monkeypatch.setattr(A, "_DENSE_LIMIT", 10)
    sparse = CellIndex(cells, subdivide=False, engine=engine)
    assert dense._dense and not sparse._dense
    assert (sparse.lookup(xy[:, 0], xy[:, 1]) == dense.lookup(xy[:, 0], xy[:, 1])).all()


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_empty_and_missing_cell_geometries(engine):
    """An empty polygon covers nothing (no error); a missing geometry is a clear error naming the row."""
    from gridmap.errors import ValidationError

    cells = gpd.GeoDataFrame({"code": ["a", "b", "c"]},
                             geometry=[shapely.box(0, 0, 100, 100), shapely.Polygon(), shapely.box(100, 0, 160, 100)],
                             crs=CRS)
    res = assign_points(([50.0, 130.0, 170.0], [50.0, 50.0, 50.0]), CellIndex(cells, cell_size_m=100.0, engine=engine),
                        warn=False)
    assert res.codes.tolist() == ["a", "c", None]
    bad = cells.copy()
    bad.loc[1, "geometry"] = None
    with pytest.raises(ValidationError, match="cells cannot be indexed") as e:
        CellIndex(bad, engine=engine)
    assert "missing" in str(e.value) and "1" in str(e.value)
    nan = cells.copy()
    nan.loc[2, "geometry"] = shapely.Polygon([(100, 0), (160, 0), (float("nan"), 100), (100, 100)])
    with pytest.raises(ValidationError, match="NaN or infinite") as e:
        CellIndex(nan, engine=engine)
    assert "2" in str(e.value)
    inf = cells.copy()
    inf.loc[0, "geometry"] = shapely.Polygon([(0, 0), (100, 0), (float("inf"), 100), (0, 100)])
    with pytest.raises(ValidationError, match="NaN or infinite"):
        CellIndex(inf, engine=engine)


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_index_survives_pickling(layout, engine):
    """A pickled index (e.g. sent to a worker process) looks up the same; the kernel's pointers are not carried."""
    import pickle

    _, cells = layout
    idx = CellIndex(cells, engine=engine)
    rng = np.random.default_rng(12)
    b = cells.total_bounds
    x, y = rng.uniform(b[0], b[2], 20_000), rng.uniform(b[1], b[3], 20_000)
    expected = idx.lookup(x, y)
    again = pickle.loads(pickle.dumps(idx))
    assert "_kernel_args" not in again.__dict__
    assert (again.lookup(x, y) == expected).all()


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_two_cells_on_one_square_are_an_error(engine):
    from gridmap.errors import ValidationError

    cells = gpd.GeoDataFrame({"code": ["a", "b", "c"]}, geometry=[shapely.box(0, 0, 100, 100),
                              shapely.box(100, 0, 200, 100), shapely.box(0, 0, 100, 100)], crs=CRS)
    with pytest.raises(ValidationError, match="cells overlap"):
        CellIndex(cells, cell_size_m=100.0, engine=engine)


def test_engine_choice_and_a_missing_kernel(monkeypatch):
    """'auto' takes the kernel where it is built; asking for a kernel that is not there says how to get it."""
    import gridmap.grid.assign.kernel as A
    from gridmap.errors import ValidationError

    cells = gpd.GeoDataFrame({"code": ["a"]}, geometry=[shapely.box(0, 0, 100, 100)], crs=CRS)
    assert CellIndex(cells).engine == ENGINES[0]
    with pytest.raises(ValidationError, match="unknown CellIndex engine"):
        CellIndex(cells, engine="gpu")
    monkeypatch.setattr(A, "_KERNEL", None)
    assert CellIndex(cells).engine == "numpy"
    with pytest.raises(ValidationError, match="compiled kernel of gridmap is not built") as e:
        CellIndex(cells, engine="c")
    assert "engine='numpy'" in str(e.value)


@_NO_KERNEL
def test_a_stale_kernel_build_is_refused(monkeypatch):
    """A kernel built from another version of _kernel.c would be called with the wrong arguments: not loaded."""
    import gridmap.grid.assign.kernel as A

    assert A._load_kernel() is not None
    monkeypatch.setattr(A, "_ABI", A._ABI + 1)
    with pytest.warns(RuntimeWarning, match="stale build"):
        assert A._load_kernel() is None


@_NO_KERNEL
def test_kernel_equals_numpy_and_defers_the_hard_points(layout, monkeypatch):
    """The kernel's answers are the numpy path's, point for point; points on edges and lattice lines are deferred
    to the numpy path (GEOS decides them), the others are not."""
    _, cells = layout
    rng = np.random.default_rng(31)
    b = cells.total_bounds
    rand = np.column_stack([rng.uniform(b[0] - 100, b[2] + 100, 200_000), rng.uniform(b[1] - 100, b[3] + 100, 200_000)])
    hard = boundary_points(cells, rng, 3000)
    kernel = CellIndex(cells, engine="c", threads=1)
    numpy_ = CellIndex(cells, engine="numpy", subdivide=False, threads=1)
    # the kernel builds the same index (table, shared squares, candidates in order, bounds, whole squares)
    for name in ("_table", "_cand", "_cand_in", "_bounds", "_full", "_estart", "_ecount"):
        assert np.array_equal(getattr(kernel, name), getattr(numpy_, name)), name
    assert all(np.array_equal(a, b) for a, b in zip(kernel._slots, numpy_._slots))
    deferred = []
    real = kernel._lookup_block
    monkeypatch.setattr(kernel, "_lookup_block", lambda x, y, out: (deferred.append(len(x)), real(x, y, out)))
    got = kernel.lookup(rand[:, 0], rand[:, 1])
    assert sum(deferred) < 10  # random points: almost none need GEOS
    assert (got == numpy_.lookup(rand[:, 0], rand[:, 1])).all()
    deferred.clear()
    got = kernel.lookup(hard[:, 0], hard[:, 1])
    assert sum(deferred) > len(hard) // 3  # vertices, lattice lines, edge points
    assert (got == numpy_.lookup(hard[:, 0], hard[:, 1])).all()


def test_cell_codes_are_the_covering_cells_codes(layout):
    """cell_codes (behind the cell rebuild, the component import and the complaint parser): the cell code of the
    cell covering each point (sjoin's answer), that cell's community code, and its street code (the cells' own
    street_code where given, else the community code's first 9 digits); None on no cell."""
    from gridmap.grid import cell_codes

    _, cells = layout
    rng = np.random.default_rng(5)
    b = cells.total_bounds
    xy = np.vstack([np.column_stack([rng.uniform(b[0] - 50, b[2] + 50, 3000), rng.uniform(b[1] - 50, b[3] + 50, 3000)]),
                    boundary_points(cells, rng, 100), [[np.nan, np.nan]]])
    got = cell_codes(xy[:, 0], xy[:, 1], cells)
    assert list(got.columns) == ["cell_code", "community_code", "street_code"] and len(got) == len(xy)
    covering, _ = sjoin_reference(xy[:, 0], xy[:, 1], cells)
    community_of = dict(zip(cells["code"], cells["community_code"]))
    for i, (cell, community, street) in enumerate(got.itertuples(index=False)):
        if not covering.iloc[i]:
            assert cell is None and community is None and street is None, i
        else:
            assert cell in covering.iloc[i], i
            assert community == community_of[cell] and street == community_of[cell][:9], i
    assert got["cell_code"].isna().sum() > 0 and got["cell_code"].notna().sum() > 2000  # both cases were met
    # the cells' own street_code wins; cells without community_code give none
    marked = cells.assign(street_code="S" + cells["code"].str[:8])
    again = cell_codes(xy[:, 0], xy[:, 1], marked, index=CellIndex(marked))
    hit = got["cell_code"].notna().to_numpy()
    assert (again["street_code"][hit] == "S" + got["cell_code"][hit].str[:8]).all()
    bare = cell_codes(xy[:, 0], xy[:, 1], cells.drop(columns="community_code"))
    assert bare["cell_code"].tolist() == got["cell_code"].tolist()
    assert bare["community_code"].isna().all() and bare["street_code"].isna().all()
