"""One room per concept in the warning package: one Lattice, one labels table, one way to attach alert geometry,
the map's density drawn from the analysis, and space_time_alerts' options as one object."""

from __future__ import annotations

import ast
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import gridmap.warning as warning
from gridmap.errors import ValidationError
from gridmap.grid import Lattice, build_cells
from gridmap.maps import DensityGrid, warning_layers
from gridmap.maps.frames import canonical_alerts
from gridmap.warning import bin_points, kernel_density, lattice_from_cells
from gridmap.warning.alerts import AlertKind
from gridmap.warning.emerging import Pattern
from gridmap.warning.labels import ALERT_KIND_ZH, PATTERN_ZH, pattern_label
from gridmap.warning.scan import ScanOptions, space_time_alerts
from gridmap.warning.unit_geometry import attach_unit_geometry

X0, Y0 = 452_000.0, 4_418_000.0
WARNING_DIR = Path(warning.__file__).parent


@pytest.fixture(scope="module")
def cells() -> gpd.GeoDataFrame:
    west = shapely.Polygon([(X0 + 30, Y0 + 20), (X0 + 730, Y0 + 20), (X0 + 730, Y0 + 570), (X0 + 30, Y0 + 570)])
    east = shapely.box(X0 + 730, Y0 + 20, X0 + 1_250, Y0 + 570)
    comm = gpd.GeoDataFrame({"code": ["110101001001", "110101001002"]}, geometry=[west, east], crs="EPSG:4548")
    return build_cells(comm)


def test_the_window_of_the_cells_is_the_grid_lattice_and_indexes_like_it(cells):
    """lattice_from_cells returns gridmap.grid.Lattice (no second class), and its global index / box arithmetic
    agree with the cells build_cells cut: the window is the same lattice, only bounded."""
    lat = lattice_from_cells(cells)
    assert type(lat) is Lattice
    assert not hasattr(warning, "Lattice") and not hasattr(warning, "as_lattice")
    full = cells[np.isclose(cells.geometry.area, 10_000.0)]
    c = full.geometry.centroid
    ix, iy = lat.index(c.x, c.y)
    assert ix.tolist() == full["ix"].tolist() and iy.tolist() == full["iy"].tolist()
    grid_lat = Lattice(cell_size_m=100.0)   # the lattice build_cells used (origin (0, 0))
    assert grid_lat.index(c.x, c.y)[0].tolist() == ix.tolist()
    for (_, row), g in zip(full.iterrows(), full.geometry):
        assert shapely.box(*lat.box_bounds(row["ix"], row["iy"])).equals(g)
    assert lat.bounds[0] == lat.box_bounds(lat.ix0, lat.iy0)[0]
    with pytest.raises(ValidationError, match="no window"):
        grid_lat.shape   # an unbounded lattice has no dense shape


def _imports(path: Path) -> set[str]:
    """Every gridmap.warning module ``path`` imports, at top level or inside functions."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gridmap.warning."):
            out.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[2] for a in node.names if a.name.startswith("gridmap.warning."))
    return out


def test_warning_modules_import_each_other_without_a_cycle():
    """The import graph of gridmap/warning (lazy imports included) is a DAG: no counts <-> lattice cycle."""
    graph = {p.stem: _imports(p) - {p.stem} for p in WARNING_DIR.glob("*.py") if p.stem != "__init__"}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        if state.get(m) == 2:
            return
        assert state.get(m) != 1, f"import cycle: {' -> '.join(path + [m])}"
        state[m] = 1
        for n in sorted(graph.get(m, ())):
            visit(n, path + [m])
        state[m] = 2

    for m in sorted(graph):
        visit(m, [])


def test_the_map_density_is_the_warning_density():
    """DensityGrid.from_points is bin_points + kernel_density on the one Lattice, wrapped by from_lattice."""
    rng = np.random.default_rng(4)
    x, y = X0 + rng.normal(0, 300, 500), Y0 + rng.normal(0, 200, 500)
    pts = gpd.GeoDataFrame(geometry=shapely.points(x, y), crs="EPSG:4548")
    got = DensityGrid.from_points(pts, cell_size_m=50.0, bandwidth_m=150.0, per="cell")
    lat = Lattice(float(x.min()) - 450.0, float(y.min()) - 450.0, 50.0,
                  int(np.ceil((x.max() - x.min() + 900.0) / 50.0)), int(np.ceil((y.max() - y.min() + 900.0) / 50.0)))
    counts = bin_points(x, y, lat)
    dens = kernel_density(counts, lat, bandwidth_m=150.0, scale="per_cell", binning_correction=False)
    want = DensityGrid.from_lattice(dens, lat, crs="EPSG:4548", counts=counts, unit="件/格")
    assert got.bounds == want.bounds == lat.bounds
    np.testing.assert_array_equal(got.values, want.values)
    np.testing.assert_array_equal(got.counts, counts)
    assert got.unit == want.unit and float(counts.sum()) == 500.0


def test_labels_are_written_once():
    """Pattern.zh, AlertKind.zh and the map's labels all read gridmap.warning.labels."""
    assert {p.value: p.zh for p in Pattern} == {p.value: PATTERN_ZH[p.value] for p in Pattern}
    assert {k.value: k.zh for k in AlertKind} == {k.value: ALERT_KIND_ZH[k.value] for k in AlertKind}
    assert pattern_label(Pattern.NEW_HOT) == "新增热点 new hot spot"
    table = gpd.GeoDataFrame({"kind": [k.value for k in AlertKind], "unit_type": "cell", "unit": "x"},
                             geometry=[shapely.box(0, 0, 1, 1)] * len(AlertKind), crs="EPSG:4548")
    labels = canonical_alerts(table)["label"].tolist()
    assert labels == [f"{k.zh} {k.value}" for k in AlertKind]
    for path in list(WARNING_DIR.glob("*.py")) + [WARNING_DIR.parent / "maps" / "frames.py",
                                                  WARNING_DIR.parent / "maps" / "layers.py"]:
        if path.name != "labels.py":
            assert "无明显模式" not in path.read_text(encoding="utf-8") and \
                "诉求量突增\"" not in path.read_text(encoding="utf-8"), path


def test_the_map_attaches_the_same_unit_polygons_as_the_analysis(cells):
    """warning_layers fills a table without geometry exactly as early_warning attaches it, for every unit type
    (a street without street_code on the cells is the union of the cells of the communities it prefixes)."""
    table = pd.DataFrame({"kind": ["count jump"] * 4, "unit_type": ["cell", "community", "street", "cell"],
                          "unit": [cells["code"].iloc[3], "110101001002", "110101001", "nope"],
                          "observed": [5, 6, 7, 8]})
    analysis = attach_unit_geometry(table, cells=cells)
    drawn = warning_layers(table, cells=cells)["alerts"]
    assert drawn.geometry.isna().tolist() == [False, False, False, True]
    for a, b in zip(analysis.geometry[:3], drawn.geometry[:3]):
        assert a.equals(b)
    assert drawn.geometry.iloc[2].equals(shapely.union_all(cells.geometry.values))
    assert drawn.geometry.iloc[1].equals(
        shapely.union_all(cells.loc[cells["community_code"] == "110101001002"].geometry.values))


def test_space_time_alerts_takes_its_options_as_one_object(cells):
    """ScanOptions holds the options; keyword overrides still work and give the same alerts."""
    rng = np.random.default_rng(2)
    n = 1_200
    days = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 120, n), unit="D")
    minx, miny, maxx, maxy = cells.total_bounds
    x, y = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
    burst = 60
    bx = np.full(burst, cells.geometry.iloc[5].centroid.x)
    by = np.full(burst, cells.geometry.iloc[5].centroid.y)
    bdays = pd.to_datetime("2024-04-25") + pd.to_timedelta(rng.integers(0, 5, burst), unit="D")
    comp = gpd.GeoDataFrame({"received_at": np.concatenate([days.values, bdays.values]), "category": "噪音",
                             "text": ""}, geometry=shapely.points(np.r_[x, bx], np.r_[y, by]), crs="EPSG:4548")
    opts = ScanOptions(radii_m=(0.0, 150.0), alpha=0.01, baseline="recent", baseline_days=60, guard_days=7)
    by_object = space_time_alerts(comp, cells, start="2024-05-01", end="2024-05-01", options=opts)
    by_keywords = space_time_alerts(comp, cells, start="2024-05-01", end="2024-05-01", radii_m=(0.0, 150.0),
                                    alpha=0.01, baseline="recent", baseline_days=60, guard_days=7)
    pd.testing.assert_frame_equal(by_object, by_keywords)
    assert len(by_object) >= 1
    mixed = space_time_alerts(comp, cells, start="2024-05-01", end="2024-05-01", options=opts, min_count=10_000)
    assert len(mixed) == 0   # an override replaces the object's value
    with pytest.raises(TypeError, match="radius_m.*the options are"):
        space_time_alerts(comp, cells, start="2024-05-01", end="2024-05-01", radius_m=(0.0,))
