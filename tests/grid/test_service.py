"""The cells workflow (``gridmap.grid.service.build_store_cells`` and its command ``gridmap cells build``) on both
backends: same cells as build_cells, atomic, replace, re-assignment, errors."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.grid.service import build_store_cells
from gridmap.cli import main
from gridmap.errors import StoreError, ValidationError
from gridmap.grid import build_cells
from gridmap.testing.grid import voronoi_communities

CRS = "EPSG:4548"
BOUNDS = (448_000.0, 4_419_000.0, 449_500.0, 4_420_000.0)


def seed(store, *, n=6):
    comm = voronoi_communities(n, bounds=BOUNDS, seed=8, district_code="110101", per_street=3, wiggle_m=3.0)
    comm = comm[shapely.get_type_id(comm.geometry.values) == 3].reset_index(drop=True)
    comm["name"] = [f"社区{i}" for i in range(len(comm))]
    comm["households"] = 1500
    streets = comm.dissolve("street_code").reset_index()[["street_code", "geometry"]].rename(
        columns={"street_code": "code"})
    streets["district_code"] = "110101"
    streets["name"] = [f"街道{i}" for i in range(len(streets))]
    with store.transaction() as tx:
        store.write("districts", gpd.GeoDataFrame({"code": ["110101"], "name": ["东城区"]},
                                                  geometry=[shapely.box(*BOUNDS)], crs=CRS), connection=tx)
        store.write("streets", streets, connection=tx)
        store.write("communities", comm[["code", "street_code", "name", "households", "geometry"]], connection=tx)
    return comm


def cells_key(frame):
    f = frame.sort_values("code").reset_index(drop=True)
    return f[["code", "community_code", "ix", "iy"]].astype(str), f.geometry.values


def test_cli_build_equals_build_cells_and_is_idempotent(store, capsys):
    comm = seed(store)
    argv = ["--db", store.url, "cells", "build", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    ref = build_cells(store.read("communities"))  # the library on the same stored communities
    assert out["cells"] == len(ref) == store.count("cells")
    assert out["streets"] == comm["street_code"].nunique() and out["communities"] == len(comm)
    got_attrs, got_geoms = cells_key(store.read("cells"))
    ref_attrs, ref_geoms = cells_key(ref)
    pd.testing.assert_frame_equal(got_attrs, ref_attrs)
    assert shapely.equals(shapely.normalize(got_geoms), shapely.normalize(ref_geoms)).all()
    # the grid invariants on what the database holds, read back (shapely only, not gridmap's own checker)
    stored, stored_comm = store.read("cells"), store.read("communities")
    assert shapely.is_valid(stored.geometry.values).all()
    for code, community in zip(stored_comm["code"], stored_comm.geometry):
        mine = stored.geometry[stored["community_code"] == code].values
        assert len(mine) and shapely.covers(community.buffer(1e-6), mine).all(), code  # no cell crosses it
        union = shapely.union_all(mine)
        assert abs(union.area - community.area) <= 1e-6 * community.area, code
        assert abs(shapely.area(mine).sum() - union.area) <= 1e-6 * community.area, code  # no overlaps
        assert shapely.symmetric_difference(union, community).area <= 1e-6 * community.area, code
    assert stored["code"].is_unique and stored["code"].str.fullmatch(r"\d{15}").all()
    # a second build without --replace is an error that names the fix, and changes nothing
    assert main(argv) == 1  # nothing could be done (exit 1, not the usage error 2)
    assert "--replace" in capsys.readouterr().err
    assert store.count("cells") == len(ref)
    # rebuilding unchanged communities gives identical codes
    assert main(argv + ["--replace"]) == 0
    assert json.loads(capsys.readouterr().out)["replaced"] == len(ref)
    again, _ = cells_key(store.read("cells"))
    pd.testing.assert_frame_equal(again, ref_attrs)


def test_replace_reassigns_components_and_complaints(store):
    comm = seed(store)
    build_store_cells(store)
    cells = store.read("cells")
    rng = np.random.default_rng(0)
    x = rng.uniform(BOUNDS[0] + 1, BOUNDS[2] - 1, 40)
    y = rng.uniform(BOUNDS[1] + 1, BOUNDS[3] - 1, 40)
    pts = gpd.GeoDataFrame({"source_id": [f"c{i}" for i in range(40)], "received_at": pd.Timestamp("2025-06-01"),
                            "category": "房屋漏雨", "cell_code": "110101001001999", "community_code": "110101001001"},
                           geometry=gpd.points_from_xy(x, y), crs=CRS)
    store.write("complaints", pts)
    res = build_store_cells(store, replace=True, cell_size_m=50.0)
    stored = store.read("complaints").set_index("source_id").loc[pts["source_id"]]
    # an independent reference: geopandas.sjoin of the points with the new cells
    new = store.read("cells")
    j = gpd.sjoin(pts, new[["code", "community_code", "geometry"]], predicate="within", how="left")
    j = j[~j.index.duplicated()]
    assert (stored["cell_code"].to_numpy() == j["code"].to_numpy()).all()
    assert (stored["community_code"].to_numpy() == j["community_code_right"].to_numpy()).all()
    assert (stored["street_code"].to_numpy() == j["community_code_right"].str[:9].to_numpy()).all()
    assert res.reassigned["complaints"] == 40 and res.cells == len(new) and len(new) > len(cells)


def test_dry_run_writes_nothing_and_errors_write_nothing(store, capsys):
    seed(store)
    assert main(["--db", store.url, "cells", "build", "--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out and store.count("cells") == 0
    # a community that overlaps its neighbour: a clear error naming it, nothing written
    comm = store.read("communities")
    bad = comm.iloc[[0]].copy()
    bad["code"] = "110101001009"
    bad["geometry"] = [comm.geometry.iloc[0].buffer(30)]
    store.write("communities", bad)
    assert main(["--db", store.url, "cells", "build"]) == 1
    err = capsys.readouterr().err
    assert "110101001009" in err and "overlap" in err
    assert store.count("cells") == 0
    with pytest.raises(ValidationError):
        build_store_cells(store)


def test_empty_store_and_bad_origin_are_clear_errors(tmp_path, capsys):
    db = str(tmp_path / "e.sqlite")
    assert main(["--db", db, "--create", "cells", "build"]) == 1  # a missing store is made only with --create
    assert "import them first" in capsys.readouterr().err
    assert main(["--db", db, "cells", "build", "--origin", "abc"]) == 2
    assert "X,Y" in capsys.readouterr().err


def test_existing_cells_without_replace_raise_in_the_api(store):
    seed(store)
    build_store_cells(store)
    with pytest.raises(StoreError, match="replace"):
        build_store_cells(store)


def test_version_says_whether_the_kernel_is_built(capsys):
    from gridmap.grid.assign import ENGINES

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("gridmap ")
    assert ("kernel: compiled" in out) == ("c" in ENGINES)
