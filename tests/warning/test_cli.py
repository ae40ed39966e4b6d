"""``gridmap complaints import`` and ``gridmap warn`` end to end on a small SpatiaLite store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from gridmap.cli import main
from gridmap.crs import to_wgs84_xy
from gridmap.store import open_store
from gridmap.testing.warning import generate


def test_import_then_warn(tmp_path, capsys):
    d = generate(nx=12, ny=10, start="2023-01-01", end="2024-08-01", per_day=15.0, seed=1, anomalies=[
        {"id": 1, "kind": "leak", "category": "房屋漏雨", "onset": "2024-07-10", "days": 21, "per_day": 3.0,
         "x": 440650.0, "y": 4420450.0, "radius_m": 80.0}])
    db = tmp_path / "w.sqlite"
    store = open_store(db)
    store.write("cells", d.cells[["code", "community_code", "ix", "iy", "area_m2", "geometry"]])
    store.close()
    c = d.complaints
    lon, lat = to_wgs84_xy(c.geometry.x, c.geometry.y)
    raw = pd.DataFrame({"source_id": c["source_id"], "received_at": c["received_at"].astype(str), "text": c["text"],
                        "category": c["category"], "address": c["address"], "status": c["status"],
                        "lon": lon, "lat": lat})
    csv = tmp_path / "c.csv"
    raw.to_csv(csv, index=False)
    assert main(["--db", str(db), "complaints", "import", str(csv)]) == 0
    assert main(["--db", str(db), "complaints", "import", str(csv)]) == 0  # idempotent
    out = capsys.readouterr().out
    assert f"{len(raw)} already stored" in out
    md = tmp_path / "r.md"
    a_csv, r_csv, gj = tmp_path / "a.csv", tmp_path / "r.csv", tmp_path / "a.geojson"
    rc = main(["--db", str(db), "warn", "--from", "2024-07-17", "--to", "2024-07-31", "--keywords", "漏雨,渗水",
               "--json", "--md", str(md), "--csv", str(a_csv), "--recheck-csv", str(r_csv), "--geojson", str(gj)])
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    alerts = pd.DataFrame(payload["alerts"])
    assert len(alerts), payload["notes"]
    # the planted leak cluster (cell ix 6, iy 4) is a space-time cluster and a keyword-watch alert
    cells = d.cells.set_index("code")
    near = set(cells.index[cells.geometry.centroid.distance(shapely.Point(440650.0, 4420450.0)) <= 80.0 + 75.0])
    st = alerts[alerts["kind"] == "space-time cluster"]
    assert set(st["unit"]) & near and set(st["category"]) == {"房屋漏雨"}
    assert set(alerts.loc[(alerts["kind"] == "keyword watch") & (alerts["unit_type"] == "cell"), "unit"]) & near
    # alert CSV: the same rows as the JSON
    table = pd.read_csv(a_csv, encoding="utf-8-sig", dtype={"unit": str})
    assert len(table) == len(alerts) and table["unit"].tolist() == alerts["unit"].tolist()
    assert table["kind_zh"].tolist() == alerts["kind_zh"].tolist() and "时空聚集" in set(table["kind_zh"])
    # re-check CSV: the whole 回头看 list, the JSON's first rows in the same order
    recheck = pd.read_csv(r_csv, encoding="utf-8-sig", dtype={"cell_code": str, "community_code": str})
    assert len(recheck) >= len(payload["recheck"]) > 0
    assert recheck["place"].head(len(payload["recheck"])).tolist() == [r["place"] for r in payload["recheck"]]
    assert set(recheck["priority"]) <= {"A", "B", "C"} and recheck["priority"].is_monotonic_increasing
    text = md.read_text(encoding="utf-8")
    assert f"| {recheck['priority'].iloc[0]} | {recheck['place'].iloc[0]} |" in text   # the list, not a heading
    # GeoJSON: WGS 84, one feature per alert with a geometry (all of them: every unit is a stored cell/community)
    g = pyogrio.read_dataframe(gj)
    assert g.crs is not None and g.crs.to_epsg() == 4326
    assert len(g) == len(alerts) and g.geometry.notna().all()
    assert g["unit"].astype(str).tolist() == alerts["unit"].tolist()
    # lon/lat order and position: the leak cluster's feature contains the planted centre in WGS 84
    lon, lat = to_wgs84_xy(np.array([440650.0]), np.array([4420450.0]))
    leak = np.asarray(g.loc[g["kind"] == "space-time cluster", "geometry"].values, dtype=object)
    assert (shapely.distance(leak, shapely.Point(float(lon[0]), float(lat[0]))) < 0.002).any()   # ~170 m
    assert 115.4 < g.total_bounds[0] < g.total_bounds[2] < 117.6 and 39.4 < g.total_bounds[1] < 41.1
    # without keywords the re-check CSV is an empty list with its header; --no-scan drops the scan's rows
    rc = main(["--db", str(db), "warn", "--from", "2024-07-17", "--to", "2024-07-31", "--no-scan", "--json",
               "--recheck-csv", str(r_csv)])
    assert rc == 0
    captured = capsys.readouterr()
    assert "empty" in captured.err
    assert "space-time cluster" not in {a["kind"] for a in json.loads(captured.out)["alerts"]}
    empty = pd.read_csv(r_csv, encoding="utf-8-sig")
    assert empty.empty and {"place", "priority", "unresolved"} <= set(empty.columns)


def test_warn_help_lists_the_outputs(capsys):
    with pytest.raises(SystemExit):
        main(["warn", "--help"])
    out = capsys.readouterr().out
    assert "--recheck-csv" in out and "--csv alerts.csv --recheck-csv recheck.csv" in " ".join(out.split())
