"""Real-world files: GBK Shapefiles with and without .cpg, .prj-less Shapefiles, WKT files, TOML mappings,
Excel/CSV inputs, zone warnings, dry runs; failed imports change nothing in the store (both backends)."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.errors import ValidationError
from gridmap.io import import_file, read_vector
from gridmap.io.encoding import detect_encoding
from gridmap.store.schema import LAYERS

NAMES = ["东华门社区居委会", "景山社区", "交道口社区居委会"]
MAP = {"code": "SQDM", "street_code": "JDDM", "name": "SQMC", "households": "HS"}


def communities(n=3, *, x0=450000.0):
    polys = [shapely.box(x0 + i * 1000, 4418000, x0 + (i + 1) * 1000, 4419000) for i in range(n)]
    return gpd.GeoDataFrame({"SQDM": [f"110101001{i + 1:03d}" for i in range(n)], "JDDM": "110101001",
                             "SQMC": (NAMES * 3)[:n], "HS": [1200 + 100 * i for i in range(n)]},
                            geometry=polys, crs="EPSG:4548")


def snapshot(store):
    """Every layer, sorted, as plain records (geometry as WKB hex) for before/after comparison."""
    out = {}
    for layer in LAYERS:
        f = store.read(layer)
        records = pd.DataFrame(f.drop(columns=f.geometry.name)).assign(wkb=f.geometry.to_wkb(hex=True).to_numpy())
        out[layer] = sorted(map(str, records.to_dict("records")))
    return out


def write_shp(frame, path, *, encoding="GBK", cpg=True):
    frame.to_file(path, engine="pyogrio", encoding=encoding)
    cpg_file = path.with_suffix(".cpg")
    if not cpg and cpg_file.exists():
        cpg_file.unlink()
    return path


@pytest.mark.parametrize("cpg", [True, False])
def test_gbk_shapefile_with_and_without_cpg(store, tmp_path, cpg):
    path = write_shp(communities(), tmp_path / "sq.shp", cpg=cpg)
    guess = detect_encoding(path)
    assert guess.encoding in (("GBK",) if cpg else ("GB18030",)), guess
    res = import_file(store, "communities", path, mapping=MAP)
    assert res.written == 3 and not res.rejected, str(res)
    assert sorted(store.read("communities")["name"]) == sorted(NAMES)
    assert any("encoding" in n for n in res.notes)


def test_utf8_shapefile_without_cpg_and_explicit_override(tmp_path):
    path = write_shp(communities(), tmp_path / "u.shp", encoding="UTF-8", cpg=False)
    assert detect_encoding(path).encoding == "UTF-8"
    assert read_vector(path)["SQMC"].tolist() == NAMES
    gbk = write_shp(communities(), tmp_path / "g.shp", cpg=False)
    assert read_vector(gbk, encoding="GBK")["SQMC"].tolist() == NAMES  # --encoding wins


def test_gbk_csv_and_excel_inputs(store, tmp_path):
    f = communities()
    table = pd.DataFrame({"SQDM": f["SQDM"], "JDDM": f["JDDM"], "SQMC": f["SQMC"], "HS": f["HS"],
                          "WKT": f.geometry.to_wkt()})
    table.to_csv(tmp_path / "sq.csv", index=False, encoding="gbk")
    res = import_file(store, "communities", tmp_path / "sq.csv", mapping=MAP, crs="EPSG:4548")
    assert res.written == 3 and sorted(store.read("communities")["name"]) == sorted(NAMES)
    pts = pd.DataFrame({"编号": ["a", "b"], "时间": ["2025-06-01 08:00", "2025-06-01 09:00"],
                        "经度X": [116.40, 116.41], "纬度Y": [39.91, 39.92]})
    pts.to_excel(tmp_path / "calls.xlsx", index=False)
    res = import_file(store, "complaints", tmp_path / "calls.xlsx",
                      mapping={"source_id": "编号", "received_at": "时间", "lon": "经度X", "lat": "纬度Y"})
    assert res.written == 2, str(res)


def test_prj_less_shapefile_needs_and_takes_a_crs(store, tmp_path):
    path = write_shp(communities(), tmp_path / "noprj.shp")
    path.with_suffix(".prj").unlink()
    from gridmap.errors import CRSError

    with pytest.raises(CRSError, match="no CRS"):
        import_file(store, "communities", path, mapping=MAP)
    res = import_file(store, "communities", path, mapping=MAP, crs="EPSG:4548")
    assert res.written == 3


def test_prj_file_and_wkt_as_source_crs(store, tmp_path):
    """A 'local grid' given only as WKT in a .prj file: a GK projection with its own false easting/northing."""
    local = ('PROJCS["local",GEOGCS["CGCS2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101]],'
             'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
             'PARAMETER["latitude_of_origin",39.866],PARAMETER["central_meridian",116.35],'
             'PARAMETER["scale_factor",1],PARAMETER["false_easting",500000],PARAMETER["false_northing",300000],'
             'UNIT["metre",1]]')
    (tmp_path / "local.prj").write_text(local)
    f = communities().to_crs(local)
    path = write_shp(f, tmp_path / "local_sq.shp")
    path.with_suffix(".prj").unlink()
    res = import_file(store, "communities", path, mapping=MAP, crs=tmp_path / "local.prj")
    assert res.written == 3
    back = store.read("communities").sort_values("code")
    ref = communities().sort_values("SQDM")
    assert back.geometry.reset_index(drop=True).hausdorff_distance(ref.geometry.reset_index(drop=True)).max() < 0.01


def test_toml_mapping_case_insensitive_and_missing_column(store, tmp_path):
    (tmp_path / "map.toml").write_text('[fields]\ncode = "sqdm"\nstreet_code = "jddm"\nname = "SQMC"\n'
                                       'households = "HS"\n', encoding="utf-8")
    path = write_shp(communities(), tmp_path / "sq.shp")
    assert import_file(store, "communities", path, mapping=tmp_path / "map.toml").written == 3
    before = snapshot(store)
    with pytest.raises(ValidationError, match="HSS") as err:
        import_file(store, "communities", path, mapping={"code": "SQDM", "households": "HSS"})
    assert "closest: HS" in str(err.value)
    assert snapshot(store) == before


def test_outside_zone_warns(store, tmp_path):
    f = gpd.GeoDataFrame({"source_id": ["sh"], "received_at": ["2025-06-01 08:00"]},
                         geometry=[shapely.Point(121.47, 31.23)], crs="EPSG:4326")  # Shanghai: outside 115.5-118.5E
    with pytest.warns(UserWarning, match="outside the area of use of EPSG:4548"):
        res = import_file(store, "complaints", _write(f, tmp_path / "sh.gpkg"))
    assert res.warnings and "121.47" in res.warnings[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import_file(store, "complaints", _write(f.assign(source_id="bj").set_geometry(
            [shapely.Point(116.40, 39.91)], crs="EPSG:4326"), tmp_path / "bj.gpkg"))


def _write(frame, path):
    frame.to_file(path, engine="pyogrio")
    return path


def test_dry_run_reports_and_writes_nothing(store, tmp_path):
    f = communities()
    f["HS"] = f["HS"].astype(object)
    f.loc[1, "HS"] = "many"
    path = write_shp(f, tmp_path / "sq.shp", encoding="UTF-8")
    before = snapshot(store)
    res = import_file(store, "communities", path, mapping=MAP, dry_run=True, topology="report")
    assert res.dry_run and res.would_write == 2 and res.written == 0
    assert {p.row for p in res.rejected} == {1}
    assert "dry run" in str(res) and "topology" in str(res)
    assert snapshot(store) == before


def test_failed_import_changes_nothing(store, tmp_path):
    """Abort mode, and a repair that cannot be made seamless: every layer is byte-identical afterwards."""
    from gridmap.io import import_frame

    import_frame(store, "communities", communities(2), mapping=MAP)
    import_frame(store, "districts", gpd.GeoDataFrame({"code": ["110101"], "name": ["东城区"]},
                                                      geometry=[shapely.box(449000, 4417000, 456000, 4420000)],
                                                      crs="EPSG:4548"))
    before = snapshot(store)
    bad = communities(3, x0=460000).assign(SQDM=["110101001010", "110101001011", "１１０１０１００１０１２"])
    bad["HS"] = bad["HS"].astype(object)
    bad.loc[2, "HS"] = -3
    with pytest.raises(ValidationError, match="nothing was imported"):
        import_frame(store, "communities", bad, mapping=MAP, on_error="abort")
    assert snapshot(store) == before
    gap = communities(3, x0=460000).assign(SQDM=["110101001020", "110101001021", "110101001022"])
    gap = gap.set_geometry([shapely.box(460000, 4418000, 460900, 4419000), shapely.box(461000, 4418000, 462000,
                            4419000), shapely.box(462000, 4418000, 463000, 4419000)], crs="EPSG:4548")
    with pytest.raises(ValidationError, match="not seamless"):
        import_frame(store, "communities", gap, mapping=MAP, topology="repair",
                     boundary=shapely.box(460000, 4418000, 463000, 4419000), max_sliver_m2=10.0)
    assert snapshot(store) == before


def test_cli_dry_run_and_outline_message(tmp_path):
    import subprocess
    import sys

    path = write_shp(communities(), tmp_path / "sq.shp", cpg=False)
    db = tmp_path / "a.sqlite"
    r = subprocess.run([sys.executable, "-m", "gridmap", "--db", str(db), "import", "community", str(path),
                        "--map", "code=SQDM,street_code=JDDM,name=SQMC,households=HS", "--dry-run",
                        "--topology", "report"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "3 would be written" in r.stdout and "GB18030" in r.stdout and "topology: 0 overlap" in r.stdout
    r = subprocess.run([sys.executable, "-m", "gridmap", "--db", str(db), "info", "--json"], capture_output=True,
                       text=True)
    assert '"communities": 0' in r.stdout


def test_cli_prj_less_shapefile_with_src_crs(tmp_path):
    """A .prj-less Shapefile in EPSG:4527 (zone number in the easting): without a CRS it is a clear error; with
    --src-crs it lands where it belongs in the store's EPSG:4548 (checked with pyproj, not our code)."""
    import subprocess
    import sys

    from pyproj import Transformer

    truth = communities()
    path = write_shp(truth.to_crs("EPSG:4527"), tmp_path / "sq.shp", cpg=False)
    path.with_suffix(".prj").unlink()
    db = tmp_path / "a.sqlite"
    base = [sys.executable, "-m", "gridmap", "--db", str(db), "import", "communities", str(path),
            "--map", "code=SQDM,street_code=JDDM,name=SQMC,households=HS"]
    r = subprocess.run(base, capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "CRS" in r.stderr, r.stderr
    assert "--src-crs" in r.stderr and ".set_crs(" not in r.stderr  # the CLI flag, not the Python call
    r = subprocess.run(base + ["--src-crs", "EPSG:4527"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    from gridmap.store import open_store

    s = open_store(db)
    got = s.read("communities").set_index("code").sort_index()
    s.close()
    tr = Transformer.from_crs("EPSG:4527", "EPSG:4548", always_xy=True)
    c = truth.to_crs("EPSG:4527").geometry.centroid
    x, y = tr.transform(c.x.to_numpy(), c.y.to_numpy())
    assert np.allclose(got.geometry.centroid.x, x, atol=1e-3) and np.allclose(got.geometry.centroid.y, y, atol=1e-3)
    assert np.allclose(got.geometry.centroid.x, truth.geometry.centroid.x, atol=1e-3)
