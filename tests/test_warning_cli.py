"""``gridmap complaints import`` and ``gridmap warn`` end to end on a small SpatiaLite store."""

from __future__ import annotations

import json

import pandas as pd

from gridmap.cli import main
from gridmap.crs import to_wgs84_xy
from gridmap.store import open_store
from gridmap.warning._synthetic import generate


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
    rc = main(["--db", str(db), "warn", "--from", "2024-07-17", "--to", "2024-07-31", "--keywords", "漏雨,渗水",
               "--json", "--md", str(md), "--csv", str(tmp_path / "a.csv"), "--geojson", str(tmp_path / "a.geojson")])
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["alerts"], payload["notes"]
    assert "回头看" in md.read_text(encoding="utf-8")
    assert (tmp_path / "a.geojson").exists()
