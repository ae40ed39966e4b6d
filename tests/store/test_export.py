"""``gridmap export FILE`` writes the format FILE's extension names, read back by GDAL (Debian's ``ogrinfo`` 3.6
and pyogrio's GDAL) or, for GeoParquet (which neither GDAL build here has a driver for), by pyarrow: driver,
feature count, attributes (codes stay text with their leading zeros) and coordinates, in the CRS the format
demands (GeoJSON RFC 7946 and CSV: EPSG:4326) or the store's working CRS. Unknown extensions and several layers
in a one-layer format are refused (exit 2) and write nothing. Runs on SpatiaLite and PostGIS."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer

OGRINFO = shutil.which("ogrinfo")
CODES = ["01010001", "01010002", "03050017"]  # leading zeros: must survive as text


def gridmap(*argv):
    return subprocess.run([sys.executable, "-m", "gridmap", *argv], capture_output=True, text=True, timeout=300)


@pytest.fixture
def filled(store_url):
    """A store (both backends) with 2 communities and 3 components, and the frames written to it."""
    from gridmap.store import open_store

    comm = gpd.GeoDataFrame({"code": ["110199001001", "110199001002"], "street_code": "110199001",
                             "name": ["东四社区", "南坊社区"], "households": [1200, 2600]},
                            geometry=[shapely.box(450000, 4418000, 450800, 4418800),
                                      shapely.box(450800, 4418000, 451600, 4418800)], crs="EPSG:4548")
    comp = gpd.GeoDataFrame({"code": CODES, "district_code": "110199", "national_id": [f"110199{c[:4]}00{c[4:]}"
                                                                                       for c in CODES],
                             "class_code": [c[:4] for c in CODES], "major": [c[:2] for c in CODES],
                             "serial": [int(c[4:]) for c in CODES], "name": ["上水井盖", "上水井盖", "垃圾箱"],
                             "status": ["完好", "破损", "完好"]},
                            geometry=shapely.points([(450100.5, 4418100.25), (450200.0, 4418300.0),
                                                     (451000.0, 4418700.0)]), crs="EPSG:4548")
    s = open_store(store_url, crs="EPSG:4548")
    s.write("communities", comm)
    s.write("components", comp)
    s.close()
    return store_url, comm, comp


def _to_4326(geoms):
    t = Transformer.from_crs(4548, 4326, always_xy=True)
    return shapely.transform(np.asarray(geoms), lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def _ogrinfo(path, layer=None):
    r = subprocess.run([OGRINFO, "-ro", "-so", str(path), *([layer] if layer else ["-al"])], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout, r.stderr


@pytest.mark.skipif(OGRINFO is None, reason="GDAL's ogrinfo not installed")
def test_gpkg_holds_every_layer_as_geopackage_1_3(filled, tmp_path):
    url, comm, comp = filled
    out = tmp_path / "all.gpkg"
    r = gridmap("--db", url, "export", str(out))
    assert r.returncode == 0, r.stderr
    assert set(pyogrio.list_layers(out)[:, 0]) == {"communities", "components"}
    for layer, n in (("communities", 2), ("components", 3)):
        info, err = _ogrinfo(out, layer)
        assert "using driver `GPKG' successful" in info and f"Feature Count: {n}\n" in info
        assert 'ID["EPSG",4548]' in info
        assert "partially supported" not in err  # GDAL 3.6 reads a 1.3 file without the version warning
    con = sqlite3.connect(out)
    assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # 'GPKG'
    assert con.execute("PRAGMA user_version").fetchone()[0] == 10300  # GeoPackage 1.3.0
    con.close()
    got = gpd.read_file(out, layer="components", engine="pyogrio").sort_values("code")
    assert got["code"].tolist() == CODES
    assert shapely.equals_exact(got.geometry.to_numpy(), comp.geometry.to_numpy(), tolerance=1e-6).all()


@pytest.mark.skipif(OGRINFO is None, reason="GDAL's ogrinfo not installed")
def test_geojson_is_geojson_in_wgs84(filled, tmp_path):
    """The issue's case: ``gridmap export comm.geojson`` wrote a GeoPackage under a .geojson name."""
    url, comm, _ = filled
    out = tmp_path / "comm.geojson"
    r = gridmap("--db", url, "export", str(out), "--layers", "communities")
    assert r.returncode == 0, r.stderr
    info, _ = _ogrinfo(out)
    assert "using driver `GeoJSON' successful" in info and "Feature Count: 2\n" in info
    assert pyogrio.read_info(out)["driver"] == "GeoJSON"
    doc = json.loads(out.read_text(encoding="utf-8"))  # RFC 7946: plain JSON, lon/lat, no "crs" member
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    feats = sorted(doc["features"], key=lambda f: f["properties"]["code"])
    assert [f["properties"]["code"] for f in feats] == ["110199001001", "110199001002"]
    assert feats[0]["properties"]["name"] == "东四社区"
    ref = _to_4326(comm.geometry.to_numpy())
    got = np.array([shapely.geometry.shape(f["geometry"]) for f in feats])
    assert (shapely.hausdorff_distance(got, ref) < 1e-7).all()  # same vertices (7 decimals: 1 cm)
    assert (shapely.get_coordinates(got)[:, 0] > 116).all()  # lon first, as RFC 7946 says
    assert ((shapely.get_coordinates(got)[:, 1] > 39) & (shapely.get_coordinates(got)[:, 1] < 41)).all()


@pytest.mark.skipif(OGRINFO is None, reason="GDAL's ogrinfo not installed")
def test_flatgeobuf_in_the_working_crs(filled, tmp_path):
    url, _, comp = filled
    out = tmp_path / "components.fgb"
    r = gridmap("--db", url, "export", str(out), "--layers", "components")
    assert r.returncode == 0, r.stderr
    info, _ = _ogrinfo(out)
    assert "using driver `FlatGeobuf' successful" in info and "Feature Count: 3\n" in info
    assert 'ID["EPSG",4548]' in info
    assert pyogrio.read_info(out)["driver"] == "FlatGeobuf"
    got = gpd.read_file(out, engine="pyogrio").sort_values("code")
    assert got["code"].tolist() == CODES and got["status"].tolist() == ["完好", "破损", "完好"]
    assert shapely.equals_exact(got.geometry.to_numpy(), comp.geometry.to_numpy(), tolerance=1e-6).all()


@pytest.mark.parametrize("ext", [".parquet", ".geoparquet"])
def test_geoparquet_with_its_crs(filled, tmp_path, ext):
    import pyarrow.parquet as pq

    url, _, comp = filled
    out = tmp_path / f"components{ext}"
    r = gridmap("--db", url, "export", str(out), "--layers", "components")
    assert r.returncode == 0, r.stderr
    table = pq.read_table(out)  # pyarrow alone: a Parquet file with the GeoParquet metadata
    geo = json.loads(table.schema.metadata[b"geo"])
    col = geo["columns"][geo["primary_column"]]
    assert geo["version"].startswith("1.") and col["encoding"] == "WKB"
    assert col["crs"]["id"] == {"authority": "EPSG", "code": 4548}
    assert sorted(table.column("code").to_pylist()) == CODES
    order = np.argsort(table.column("code").to_pylist())
    got = shapely.from_wkb(np.asarray(table.column(geo["primary_column"]).to_pylist(), dtype=object))[order]
    assert shapely.equals_exact(got, comp.geometry.to_numpy(), tolerance=1e-6).all()


@pytest.mark.skipif(OGRINFO is None, reason="GDAL's ogrinfo not installed")
def test_csv_wkt_in_wgs84_with_bom(filled, tmp_path):
    url, _, comp = filled
    out = tmp_path / "components.csv"
    r = gridmap("--db", url, "export", str(out), "--layers", "components")
    assert r.returncode == 0, r.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfWKT,")  # UTF-8 BOM (Excel), then the WKT geometry column
    info, _ = _ogrinfo(out)
    assert "using driver `CSV' successful" in info and "Feature Count: 3\n" in info
    assert "\ufeff" not in info  # GDAL skips the BOM: the first field is WKT, not "\ufeffWKT"
    got = gpd.read_file(out, engine="pyogrio")  # the WKT column is the geometry; attributes are text
    got = got.sort_values("code")
    assert got["code"].tolist() == CODES and got["name"].tolist() == ["上水井盖", "上水井盖", "垃圾箱"]
    ref = _to_4326(comp.geometry.to_numpy())
    assert shapely.equals_exact(got.geometry.to_numpy(), ref, tolerance=1e-9).all()


@pytest.mark.parametrize("name", ["out.shp", "out.txt", "out", "out.GEOJSONX"])
def test_unknown_extension_is_refused_with_the_supported_list(filled, tmp_path, name):
    url = filled[0]
    out = tmp_path / name
    r = gridmap("--db", url, "export", str(out))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    for ext in (".gpkg", ".geojson", ".fgb", ".parquet", ".csv"):
        assert ext in r.stderr
    assert not out.exists()


@pytest.mark.parametrize("ext", [".geojson", ".fgb", ".parquet", ".csv"])
def test_one_layer_format_refuses_several_layers(filled, tmp_path, ext):
    url = filled[0]
    out = tmp_path / f"all{ext}"
    for extra in ([], ["--layers", "communities,components"]):
        r = gridmap("--db", url, "export", str(out), *extra)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert "holds one layer" in r.stderr and "--layers communities" in r.stderr and "2 layers" in r.stderr
        assert not out.exists()


def test_uppercase_extension_and_unknown_layer(filled, tmp_path):
    url = filled[0]
    out = tmp_path / "C.GeoJSON"
    r = gridmap("--db", url, "export", str(out), "--layers", "communities")
    assert r.returncode == 0, r.stderr
    assert pyogrio.read_info(out)["driver"] == "GeoJSON"
    r = gridmap("--db", url, "export", str(tmp_path / "x.gpkg"), "--layers", "comunities")
    assert r.returncode == 2 and "unknown layer" in r.stderr and "communities" in r.stderr


@pytest.mark.parametrize("ext", [".gpkg", ".geojson", ".fgb", ".parquet", ".csv"])
def test_export_replaces_an_existing_file_whole(filled, tmp_path, ext):
    """A second export to the same name gives exactly what was asked for the second time: no stale layers left in
    an old GeoPackage, no "file exists" failure from the CSV driver, no temporary file left beside it."""
    url = filled[0]
    (tmp_path / "exports").mkdir()
    out = tmp_path / "exports" / f"out{ext}"
    for layer in ("components", "communities"):
        r = gridmap("--db", url, "export", str(out), "--layers", layer)
        assert r.returncode == 0, r.stderr
    if ext == ".parquet":
        import pyarrow.parquet as pq

        assert pq.read_table(out).num_rows == 2 and "households" in pq.read_table(out).column_names
    else:
        assert [row[0] for row in pyogrio.list_layers(out)] in (["communities"], ["out"])
        assert pyogrio.read_info(out)["features"] == 2
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]
