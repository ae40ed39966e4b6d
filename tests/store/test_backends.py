"""The store on both backends: schema, exact round trips, atomic strict writes, bbox reads, GDAL reading."""

from __future__ import annotations

import shutil
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

from gridmap.errors import CRSError, StoreError, ValidationError
from gridmap.store import open_store, resolve_url
from gridmap.store.schema import LAYERS, SCHEMA_VERSION


def communities_frame(n=3, crs="EPSG:4548"):
    polys = [shapely.box(450000 + i * 1000, 4418000, 451000 + i * 1000, 4419000) for i in range(n)]
    return gpd.GeoDataFrame({"code": [f"110199001{i + 1:03d}" for i in range(n)], "street_code": "110199001",
                             "name": [f"示范{i}社区" for i in range(n)], "households": [1200, 3400, 5600][:n],
                             "population": [2772, 7854, 12936][:n]}, geometry=polys, crs=crs)


def complaints_frame(n=50, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(450000, 453000, n)
    y = rng.uniform(4418000, 4419000, n)
    return gpd.GeoDataFrame({
        "source_id": [f"S{i:05d}" for i in range(n)],
        "received_at": pd.Timestamp("2025-06-01 08:00") + pd.to_timedelta(rng.integers(0, 86400 * 30, n), unit="s"),
        "category": "房屋漏雨", "text": ['屋顶漏雨，"严重"\n请处理, tab\there'] * n,
        "status": "已办结"}, geometry=gpd.points_from_xy(x, y), crs="EPSG:4548")


def test_schema_has_every_layer_with_srid(store):
    assert store.srid == 4548
    assert set(store.counts()) == set(LAYERS)
    assert all(v == 0 for v in store.counts().values())


def test_round_trip_is_exact(store):
    c = communities_frame()
    p = complaints_frame()
    assert store.write("communities", c) == 3
    assert store.write("complaints", p) == len(p)
    back = store.read("communities")
    assert back.crs == c.crs
    assert list(back["code"]) == list(c["code"])
    assert list(back["households"]) == [1200, 3400, 5600]
    assert back["active"].tolist() == [True, True, True]  # server default
    # polygons come back as one-part multipolygons with identical coordinates
    assert all(isinstance(g, MultiPolygon) for g in back.geometry)
    assert all(a.equals_exact(MultiPolygon([b]), 0) for a, b in zip(back.geometry, c.geometry))
    bp = store.read("complaints")
    np.testing.assert_array_equal(shapely.get_coordinates(bp.geometry.values), shapely.get_coordinates(p.geometry.values))
    assert (bp["received_at"].values == p["received_at"].values).all()
    assert bp["text"].iloc[0] == p["text"].iloc[0]


def test_big_write_uses_bulk_path_and_keeps_indexes(store):
    p = complaints_frame(25_000, seed=2)
    store.write("complaints", p)
    assert store.count("complaints") == 25_000
    box = (451000, 4418200, 451500, 4418700)
    got = store.read("complaints", bbox=box)
    x, y = shapely.get_x(p.geometry.values), shapely.get_y(p.geometry.values)
    expect = ((x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])).sum()
    assert len(got) == expect > 0
    # the unique index on source_id was rebuilt: a second write of the same ids is refused
    with pytest.raises(ValidationError, match="already in the store"):
        store.write("complaints", p.iloc[:5])
    assert store.count("complaints") == 25_000


def test_bad_rows_write_nothing_and_list_every_problem(store):
    store.write("communities", communities_frame(1))
    bad = communities_frame(3)
    bad["households"] = bad["households"].astype(object)
    bad.loc[1, "households"] = "很多"  # not a number
    bad.loc[2, "geometry"] = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])  # bow-tie
    with pytest.raises(ValidationError) as err:
        store.write("communities", bad)
    text = str(err.value)
    assert "key already in the store" in text and "110199001001" in text  # row 0 duplicates the stored one
    assert "not a valid whole number" in text and "很多" in text
    assert "invalid geometry" in text and "Self-intersection" in text
    assert len(err.value.problems) == 3
    assert store.count("communities") == 1  # exactly what it held before


def test_duplicate_keys_inside_the_input(store):
    c = communities_frame(3)
    c.loc[2, "code"] = c.loc[0, "code"]
    with pytest.raises(ValidationError, match="duplicate key inside the input"):
        store.write("communities", c)
    assert store.count("communities") == 0


def test_crs_is_checked(store):
    c = communities_frame()
    with pytest.raises(CRSError, match="has no CRS"):
        store.write("communities", c.set_crs(None, allow_override=True))
    with pytest.raises(CRSError, match=r"EPSG:4326 but EPSG:4548 is expected.*to_crs"):
        store.write("communities", c.to_crs(4326))


def test_wrong_geometry_type_and_missing_required(store):
    c = communities_frame(2)
    c.loc[0, "geometry"] = Point(450000, 4418000)
    c = c.drop(columns=["street_code"])
    with pytest.raises(ValidationError, match="required column is missing"):
        store.write("communities", c)
    c["street_code"] = "110199001"
    with pytest.raises(ValidationError, match="geometry must be Polygon or MultiPolygon"):
        store.write("communities", c)


def test_replace_mode_and_delete(store):
    store.write("communities", communities_frame(3))
    store.write("communities", communities_frame(2), mode="replace")
    assert store.count("communities") == 2
    assert store.delete("communities", where={"code": ["110199001001"]}) == 1
    assert store.read("communities", where={"code": "110199001002"})["name"].tolist() == ["示范1社区"]


def test_reopen_keeps_crs_and_refuses_another(store_url):
    s = open_store(store_url, crs="EPSG:4548")
    s.write("communities", communities_frame(1))
    s.close()
    s2 = open_store(store_url)
    assert s2.srid == 4548 and s2.count("communities") == 1
    s2.close()
    with pytest.raises(CRSError, match="differs"):
        open_store(store_url, crs="EPSG:32650")


def test_schema_version_recorded(store):
    from sqlalchemy import text

    with store.engine.connect() as conn:
        v = conn.execute(text("SELECT value FROM gridmap_meta WHERE key='schema_version'")).scalar()
    assert int(v) == SCHEMA_VERSION


def test_newer_schema_is_refused(store_url):
    from sqlalchemy import text

    s = open_store(store_url)
    with s.engine.begin() as conn:
        conn.execute(text("UPDATE gridmap_meta SET value='999' WHERE key='schema_version'"))
    s.close()
    with pytest.raises(StoreError, match="newer gridmap"):
        open_store(store_url)


def test_bad_urls():
    with pytest.raises(StoreError, match="GeoPackage cannot be the working store"):
        resolve_url("x.gpkg")
    with pytest.raises(StoreError, match="unsupported database URL"):
        resolve_url("mysql://x")
    with pytest.raises(StoreError, match="folder for the database file does not exist"):
        open_store("/nonexistent-dir/sub/x.sqlite")


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo not installed")
def test_gdal_reads_the_spatialite_file(tmp_path):
    path = tmp_path / "g.sqlite"
    s = open_store(path)
    s.write("communities", communities_frame())
    s.write("complaints", complaints_frame(40))
    s.close()
    out = subprocess.run(["ogrinfo", "-so", "-al", str(path)], capture_output=True, text=True, check=True).stdout
    blocks = {b.split("\n", 1)[0].strip(): b for b in out.split("Layer name: ")[1:]}
    assert set(LAYERS) <= set(blocks)
    assert "Feature Count: 3" in blocks["communities"]
    assert "Feature Count: 40" in blocks["complaints"]
    for name in LAYERS:
        assert 'ID["EPSG",4548]' in blocks[name], name
        assert "CGCS2000 / 3-degree Gauss-Kruger CM 117E" in blocks[name], name


def test_pyogrio_after_spatialite_does_not_crash(tmp_path):
    """Regression: pyogrio segfaulted when first imported after a SpatiaLite connection was opened."""
    code = f"""
import sys
sys.modules.pop('pyogrio', None)
from gridmap.store import open_store
import geopandas as gpd, shapely
s = open_store(r'{tmp_path / "a.sqlite"}')
g = gpd.GeoDataFrame({{'a': [1]}}, geometry=[shapely.Point(450000, 4418000)], crs=4548)
g.to_file(r'{tmp_path / "b.gpkg"}', engine='pyogrio')
print(len(gpd.read_file(r'{tmp_path / "b.gpkg"}', engine='pyogrio')))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert r.stdout.strip() == "1"


def test_ewkb_patch_matches_shapely():
    from gridmap.store.postgis import _ewkb, _hex_ewkb

    geoms = np.array([
        shapely.Point(452000.5, 4418000.25),
        shapely.multipolygons([shapely.box(0, 0, 10, 10).difference(shapely.box(2, 2, 3, 3)), shapely.box(20, 0, 30, 5)]),
        shapely.multilinestrings([[(0, 0), (1, 1)], [(2, 2), (3, 5)]]),
    ], dtype=object)
    expect = shapely.to_wkb(shapely.set_srid(geoms, 4548), include_srid=True, byte_order=1)
    assert _ewkb(geoms, 4548) == list(expect)
    hexed = shapely.to_wkb(shapely.set_srid(geoms, 4548), hex=True, include_srid=True, byte_order=1)
    assert _hex_ewkb(geoms, 4548) == list(hexed)


def _index_names(store):
    from sqlalchemy import text

    with store.engine.connect() as conn:
        if store.backend == "spatialite":
            q = "SELECT name FROM sqlite_master WHERE type IN ('index','trigger') AND tbl_name='complaints'"
        else:
            q = "SELECT indexname FROM pg_indexes WHERE tablename='complaints' AND schemaname=current_schema()"
        return sorted(r[0] for r in conn.execute(text(q)))


def test_failed_bulk_write_rolls_back_index_and_trigger_drops(store, monkeypatch):
    store.write("complaints", complaints_frame(10, seed=5))
    before = _index_names(store)
    real = store._backend.bulk_insert

    def fail_after_insert(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("power cut")

    monkeypatch.setattr(store._backend, "bulk_insert", fail_after_insert)
    big = complaints_frame(25_000, seed=6)
    big["source_id"] = "N" + big["source_id"]
    with pytest.raises(RuntimeError, match="power cut"):
        store.write("complaints", big)
    monkeypatch.undo()
    assert store.count("complaints") == 10
    assert _index_names(store) == before
    assert len(store.read("complaints", bbox=(449000, 4417000, 454000, 4420000))) == 10  # spatial index works
