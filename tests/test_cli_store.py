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
    assert main(["--db", str(tmp_path / "a.sqlite"), "info", "--json"]) == 0
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
    assert r.returncode == 1, r.stderr
    assert "1 written, 2 rejected" in r.stdout
    report = pd.read_csv(rej, encoding="utf-8-sig")
    assert sorted(report["reason"]) == ["community code must be digits only", "must not be negative"]


def test_import_errors_are_messages_not_tracebacks(tmp_path):
    r = run("--db", str(tmp_path / "a.sqlite"), "import", "communities", str(tmp_path / "missing.gpkg"))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "not found" in r.stderr
    (tmp_path / "x.csv").write_text("lat,lon\n116.4,39.9\n")
    r = run("--db", str(tmp_path / "a.sqlite"), "import", "complaints", str(tmp_path / "x.csv"))
    assert r.returncode == 2 and "swapped" in r.stderr and "Traceback" not in r.stderr
    r = run("--db", str(tmp_path / "a.sqlite"), "import", "communities", str(tmp_path / "x.csv"), "--map", "oops")
    assert r.returncode == 2 and "OURS=THEIRS" in r.stderr
    r = run("--db", str(tmp_path / "a.sqlite"), "import", "nosuchlayer", str(tmp_path / "x.csv"))
    assert r.returncode == 2 and "unknown layer 'nosuchlayer'" in r.stderr and "Traceback" not in r.stderr


def test_export_is_read_by_gdal(tmp_path):
    db = tmp_path / "a.sqlite"
    pd.DataFrame({"source_id": ["a", "b"], "received_at": ["2025-06-01 08:00:00", "2025-06-02 09:30:00"],
                  "category": ["房屋漏雨", "供暖"], "lon": [116.40, 116.41], "lat": [39.91, 39.92]}
                 ).to_csv(tmp_path / "c.csv", index=False)
    assert run("--db", str(db), "import", "complaints", str(tmp_path / "c.csv")).returncode == 0
    out = tmp_path / "out.gpkg"
    r = run("--db", str(db), "export", str(out))
    assert r.returncode == 0, r.stderr
    info = subprocess.run(["ogrinfo", "-so", str(out), "complaints"], capture_output=True, text=True).stdout
    assert "Feature Count: 2" in info and 'ID["EPSG",4548]' in info
