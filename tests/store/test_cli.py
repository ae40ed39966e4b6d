"""The store commands through the real console entry point: info, import (with rejects), export read by GDAL."""

from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import pandas as pd
import shapely

from gridmap.cli import main


def run(*argv):
    return subprocess.run([sys.executable, "-m", "gridmap", *argv], capture_output=True, text=True)


def test_info_json_on_new_store(tmp_path, capsys):
    # a missing store is made only when asked (--create); without it see tests/store/test_paths.py
    assert main(["--db", str(tmp_path / "a.sqlite"), "--create", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["backend"] == "spatialite" and info["crs"] == "EPSG:4548"
    assert info["layers"]["communities"] == 0


def test_import_reports_rejects_and_exit_code(tmp_path, store_url):
    polys = [shapely.box(450000 + i * 900, 4418000, 450800 + i * 900, 4418800) for i in range(3)]
    f = gpd.GeoDataFrame({"SQDM": ["110199001001", "110199001002", "11019900100X"], "JDDM": "110199001",
                          "HS": [1200, -1, 2000]}, geometry=polys, crs="EPSG:4548")
    src = tmp_path / "sq.gpkg"
    f.to_file(src, engine="pyogrio")
    rej = tmp_path / "rej.csv"
    r = run("--db", store_url, "import", "communities", str(src), "--map", "code=SQDM,street_code=JDDM,households=HS",
            "--rejects", str(rej))
    assert r.returncode == 0, r.stderr  # done: the good row is written, the rejected ones reported
    assert "3 read: 1 written, 2 rejected" in r.stdout
    report = pd.read_csv(rej, encoding="utf-8-sig")
    assert sorted(report["reason"]) == ["community code must be digits only", "must not be negative"]


def test_import_errors_are_messages_not_tracebacks(tmp_path):
    r = run("--db", str(tmp_path / "a.sqlite"), "import", "communities", str(tmp_path / "missing.gpkg"))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "not found" in r.stderr
    (tmp_path / "x.csv").write_text("received_at,text,lat,lon\n2025-07-01 08:00,漏雨,116.4,39.9\n")
    r = run("--db", str(tmp_path / "a.sqlite"), "import", "complaints", str(tmp_path / "x.csv"))
    # the row is rejected with its reason (exit 1), nothing is written
    assert r.returncode == 1 and "look swapped" in r.stdout and "0 accepted, 1 rejected" in r.stdout
    assert "Traceback" not in r.stderr
    r = run("--db", str(tmp_path / "a.sqlite"), "import", "communities", str(tmp_path / "x.csv"), "--map", "oops")
    assert r.returncode == 2 and "OURS=THEIRS" in r.stderr  # a usage error
    r = run("--db", str(tmp_path / "a.sqlite"), "import", "nosuchlayer", str(tmp_path / "x.csv"))
    assert r.returncode == 2 and "unknown layer 'nosuchlayer'" in r.stderr and "Traceback" not in r.stderr


def test_export_is_read_by_gdal(tmp_path):
    db = tmp_path / "a.sqlite"
    pd.DataFrame({"source_id": ["a", "b"], "received_at": ["2025-06-01 08:00:00", "2025-06-02 09:30:00"],
                  "category": ["房屋漏雨", "供暖"], "text": ["屋顶漏雨", "暖气不热"], "lon": [116.40, 116.41], "lat": [39.91, 39.92]}
                 ).to_csv(tmp_path / "c.csv", index=False)
    assert run("--db", str(db), "import", "complaints", str(tmp_path / "c.csv")).returncode == 0
    out = tmp_path / "out.gpkg"
    r = run("--db", str(db), "export", str(out))
    assert r.returncode == 0, r.stderr
    info = subprocess.run(["ogrinfo", "-so", str(out), "complaints"], capture_output=True, text=True).stdout
    assert "Feature Count: 2" in info and 'ID["EPSG",4548]' in info


def test_import_complaints_goes_through_the_complaint_import(tmp_path, store_url):
    """``gridmap import complaints`` (the README walkthrough's step 4) assigns cells, community, street and
    category like ``gridmap complaints import``, de-duplicates on re-import, and --dry-run writes nothing."""
    from gridmap.crs import to_wgs84_xy, wgs84_to_gcj02
    from gridmap.store import open_store

    cells = gpd.GeoDataFrame({"code": [f"110199001001{k:03d}" for k in (1, 2)], "community_code": "110199001001",
                              "ix": [4500, 4501], "iy": [44180, 44180], "area_m2": 10000.0},
                             geometry=[shapely.box(450000, 4418000, 450100, 4418100),
                                       shapely.box(450100, 4418000, 450200, 4418100)], crs="EPSG:4548")
    s = open_store(store_url, crs="EPSG:4548")
    s.write("cells", cells)
    s.close()
    x, y = [450050.0, 450150.0, 450160.0, 452000.0], [4418050.0] * 4  # the last is outside every cell
    lon, lat = wgs84_to_gcj02(*to_wgs84_xy(x, y))
    src = tmp_path / "12345.csv"
    pd.DataFrame({"编号": ["a1", "a2", "a3", "a4"], "受理时间": ["2025-07-01 08:00"] * 4,
                  "诉求内容": ["屋顶漏雨"] * 4, "类别": ["房屋漏雨", "房屋漏雨", "不在目录", "房屋漏雨"],
                  "经度": lon, "纬度": lat}).to_csv(src, index=False, encoding="gbk")
    argv = ["--db", store_url, "import", "complaints", str(src), "--lonlat", "gcj02",
            "--map", "source_id=编号,received_at=受理时间,text=诉求内容,category=类别,lon=经度,lat=纬度"]
    r = run(*argv, "--dry-run")
    assert r.returncode == 0, r.stderr  # one row outside the district is rejected and reported: still done
    assert "nothing was written" in r.stdout
    s = open_store(store_url, crs="EPSG:4548")
    assert s.count("complaints") == 0
    s.close()
    rej = tmp_path / "rej.csv"
    r = run(*argv, "--rejects", str(rej))
    assert r.returncode == 0 and "3 written" in r.stdout, r.stdout + r.stderr
    report = pd.read_csv(rej, encoding="utf-8-sig")
    assert (report.loc[report["action"] == "rejected", "row"].tolist() == [3])
    s = open_store(store_url, crs="EPSG:4548")
    got = s.read("complaints").set_index("source_id").sort_index()
    s.close()
    ref = gpd.sjoin(got[["geometry"]], cells, predicate="intersects", how="left")
    assert got["cell_code"].tolist() == ref["code"].tolist() == ["110199001001001", "110199001001002",
                                                                "110199001001002"]
    assert got["community_code"].eq("110199001001").all() and got["street_code"].eq("110199001").all()
    assert got.loc["a3", "category"] == "其他"  # not in the catalog: kept as 其他, with a warning in the report
    r = run(*argv)
    assert "3 already stored" in r.stdout  # re-import adds nothing twice
    r = run(*argv, "--table", str(src))
    assert r.returncode == 2 and "--table cannot be used when importing complaints" in r.stderr


def test_gridmap_db_environment_variable_chooses_the_store(tmp_path, store_url):
    import os

    env = {**os.environ, "GRIDMAP_DB": store_url}
    r = subprocess.run([sys.executable, "-m", "gridmap", "--create", "info", "--json"], capture_output=True, text=True, env=env,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["backend"] == ("postgis" if store_url.startswith("postgresql") else "spatialite")
    assert not (tmp_path / "gridmap.sqlite").exists()  # not the default file
