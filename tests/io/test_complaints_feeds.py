"""Real feeds and your own categories (issue 13): Open311 GeoReport v2 JSON and XML as the standard defines
them (description optional), a real 311 system's CSV export with ``--map`` alone, ``--category-map`` (TOML and
CSV) with the counts of what fell into 其他, and import summaries that add up (accepted + rejected = rows read,
each row once, rejections grouped by reason). Through the console entry point, on SpatiaLite and PostGIS."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridmap.crs import to_working_xy

LON, LAT = 116.3975, 39.9087


def _cells_around(n=6):
    x, y = to_working_xy([LON], [LAT])
    x0, y0 = float(x[0]) - 300, float(y[0]) - 300
    rows = [{"code": f"110101001001{iy * n + ix + 1:03d}", "community_code": "110101001001", "ix": ix, "iy": iy,
             "area_m2": 10000.0, "geometry": shapely.box(x0 + ix * 100, y0 + iy * 100, x0 + ix * 100 + 100,
                                                           y0 + iy * 100 + 100)}
            for iy in range(n) for ix in range(n)]
    return gpd.GeoDataFrame(rows, crs="EPSG:4548")


def _refuse(name):
    raise ValueError(f"non-standard JSON constant {name}")


def gridmap(db, *argv):
    r = subprocess.run([sys.executable, "-m", "gridmap", "--db", db, *argv], capture_output=True, text=True,
                       timeout=300)
    return r, (json.loads(r.stdout, parse_constant=_refuse) if "--json" in argv and r.stdout.strip() else None)


@pytest.fixture
def db(store):
    store.write("cells", _cells_around())
    url = str(store.url)
    store.close()
    return url


def _requests():
    """GeoReport v2 requests: description null, missing and empty; a service_code without a name; a bad time
    and an empty text on the same row (two reasons, one row); a point outside the district."""
    base = {"status": "open", "agency_responsible": "区住建委", "service_notice": None, "address_id": None,
            "zipcode": "100006", "media_url": None, "expected_datetime": None, "status_notes": None}
    reqs = [
        {"service_request_id": "R1", "service_name": "房屋漏雨", "service_code": "017", "description": "屋顶漏雨",
         "requested_datetime": "2025-07-01T08:30:00+08:00", "lat": LAT, "long": LON, "address": "东城区1号"},
        {"service_request_id": "R2", "service_name": "Noise", "service_code": "031", "description": None,
         "requested_datetime": "2025-07-01T01:00:00Z", "lat": LAT + 0.0004, "long": LON, "address": None},
        {"service_request_id": "R3", "service_name": "Pothole", "service_code": "044",
         "requested_datetime": "2025-07-02T09:00:00+08:00", "lat": LAT, "long": LON + 0.0005},
        {"service_request_id": "R4", "service_name": None, "service_code": "Graffiti", "description": "",
         "requested_datetime": "2025-07-02T10:00:00+08:00", "lat": LAT, "long": LON - 0.0005,
         "status": "closed", "updated_datetime": "2025-07-03T10:00:00+08:00"},
        {"service_request_id": "R5", "service_name": None, "service_code": None, "description": None,
         "requested_datetime": "not a time", "lat": LAT, "long": LON},
        {"service_request_id": "R6", "service_name": "Noise", "service_code": "031", "description": "夜间施工",
         "requested_datetime": "2025-07-03T22:00:00+08:00", "lat": LAT + 0.2, "long": LON},
    ]
    return [{**base, **r} for r in reqs]


def _xml(reqs):
    out = ['<?xml version="1.0" encoding="utf-8"?>', "<service_requests>"]
    for r in reqs:
        out.append("<request>")
        for k, v in r.items():
            out.append(f"<{k}/>" if v is None else f"<{k}>{v}</{k}>")
        out.append("</request>")
    out.append("</service_requests>")
    return "\n".join(out)


def _adds_up(got, read):
    assert got["read"] == read
    assert got["accepted"] + got["rejected"] == read
    assert sum(got["rejected_by_reason"].values()) == got["rejected"]
    assert len({str(r["row"]) for r in got["rejections"]}) == got["rejected"]


def test_open311_json_and_xml_as_the_standard_defines_them(db, tmp_path):
    reqs = _requests()
    (tmp_path / "r.json").write_text(json.dumps(reqs, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "r.xml").write_text(_xml(reqs), encoding="utf-8")
    r, got = gridmap(db, "complaints", "import", str(tmp_path / "r.xml"), "--json")
    assert r.returncode == 0, r.stderr
    _adds_up(got, 6)
    assert got["accepted"] == 4 and got["rejected"] == 2                      # R5 (two reasons, once), R6
    reasons = got["rejected_by_reason"]          # each row once, under its first reason
    assert sorted(reasons.values()) == [1, 1] and any(k.startswith("cannot read the time") for k in reasons)
    assert "outside the district (no cell covers this point)" in reasons, reasons
    assert any("without a description" in n and n.startswith("3 ") for n in got["notes"]), got["notes"]
    assert any("without a service_name" in n for n in got["notes"]), got["notes"]
    from gridmap.store import open_store

    s = open_store(db)
    try:
        rows = s.read("complaints").set_index("source_id").sort_index()
    finally:
        s.close()
    assert rows.loc["R2", "text"] == "Noise" and rows.loc["R3", "text"] == "Pothole"   # description -> name
    assert rows.loc["R4", "text"] == "Graffiti" and rows.loc["R4", "category"] == "市容环境"  # code -> name
    assert rows.loc["R1", "category"] == "房屋漏雨" and rows.loc["R2", "category"] == "噪音"
    assert str(rows.loc["R2", "received_at"]) == "2025-07-01 09:00:00"               # Z -> CST
    assert str(rows.loc["R4", "closed_at"]) == "2025-07-03 10:00:00"                 # closed: updated_datetime
    # the same requests as JSON: nothing new (same ids), same summary
    r, got2 = gridmap(db, "complaints", "import", str(tmp_path / "r.json"), "--json")
    assert r.returncode == 0, r.stderr
    _adds_up(got2, 6)
    assert got2["already_stored"] == 4 and got2["written"] == 0
    assert got2["rejected_by_reason"] == got["rejected_by_reason"]


def test_open311_xml_that_is_not_a_response_is_a_clear_error(db, tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<rss><channel/></rss>", encoding="utf-8")
    r, _ = gridmap(db, "complaints", "import", str(bad))
    assert r.returncode == 1 and "<service_requests>" in r.stderr and "Traceback" not in r.stderr
    bad.write_text("<service_requests><request>", encoding="utf-8")
    r, _ = gridmap(db, "complaints", "import", str(bad))
    assert r.returncode == 1 and "not well-formed XML" in r.stderr and "Traceback" not in r.stderr


def _nyc_style(path):
    """A CSV as a real 311 system exports it (NYC Open Data's 311 Service Requests columns and date format)."""
    pd.DataFrame({
        "Unique Key": [59893920, 59893921, 59893922, 59893923, 59893924, 59893925],
        "Created Date": ["07/01/2025 08:30:00 AM", "07/01/2025 09:15:00 PM", "07/02/2025 10:00:00 AM",
                         "07/02/2025 11:00:00 AM", "13/45/2025 11:00:00 AM", "07/03/2025 07:00:00 AM"],
        "Closed Date": ["07/02/2025 08:00:00 AM", None, None, None, None, None],
        "Agency": ["HPD", "NYPD", "DOT", "DSNY", "HPD", "HPD"],
        "Complaint Type": ["WATER LEAK", "Noise - Residential", "Street Condition", "Dirty Condition",
                           "WATER LEAK", "Noise - Residential"],
        "Descriptor": ["屋顶漏雨，卧室渗水", "楼上装修噪音", "路面坑洼", "垃圾堆放", "渗水", "广场舞"],
        "Incident Address": ["东城区1号", "东城区2号", "东城区3号", "东城区4号", "东城区5号", "东城区6号"],
        "Status": ["Closed", "Open", "Open", "Open", "Open", "Open"],
        "Latitude": [LAT, LAT + 0.0004, LAT, LAT, LAT, LAT - 0.0004],
        "Longitude": [LON, LON, LON + 0.0005, LON - 0.0005, LON, LON],
    }).to_csv(path, index=False)


MAP = ("source_id=Unique Key,received_at=Created Date,closed_at=Closed Date,category=Complaint Type,"
       "text=Descriptor,address=Incident Address,status=Status,lat=Latitude,lon=Longitude")


def test_a_real_311_csv_imports_with_map_alone_and_reports_what_fell_into_other(db, tmp_path):
    f = tmp_path / "311_Service_Requests.csv"
    _nyc_style(f)
    r, got = gridmap(db, "complaints", "import", str(f), "--map", MAP, "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    _adds_up(got, 6)
    assert got["accepted"] == 5 and list(got["rejected_by_reason"].values()) == [1]   # month 13
    c = got["categories"]
    assert c["by_catalog"] == 0 and c["unmapped"] == 5 and c["other"] == 5
    assert c["unmapped_values"] == {"Noise - Residential": 2, "Dirty Condition": 1, "Street Condition": 1,
                                    "WATER LEAK": 1}


@pytest.mark.parametrize("kind", ["toml", "csv"])
def test_category_map_puts_their_types_into_our_catalog(db, tmp_path, kind):
    f = tmp_path / "311.csv"
    _nyc_style(f)
    if kind == "toml":
        m = tmp_path / "categories.toml"
        m.write_text('[values]\n"Noise - Residential" = "噪音"\n"WATER LEAK" = "房屋漏雨"\n'
                     '"Street Condition" = "市政"\n[keywords]\n"垃圾" = "市容环境"\n', encoding="utf-8")
    else:
        m = tmp_path / "categories.csv"
        m.write_text("theirs,ours,match\nNoise - Residential,噪音,value\nWATER LEAK,房屋漏雨,value\n"
                     "Street Condition,市政,value\n垃圾,市容环境,keyword\n", encoding="utf-8")
    r, got = gridmap(db, "complaints", "import", str(f), "--map", MAP, "--category-map", str(m), "--json")
    assert r.returncode == 0, r.stderr
    _adds_up(got, 6)
    c = got["categories"]
    assert (c["by_value_map"], c["by_keyword"], c["unmapped"], c["other"]) == (4, 1, 0, 0), c
    from gridmap.store import open_store

    s = open_store(db)
    try:
        cats = s.read("complaints").set_index("source_id")["category"].to_dict()
    finally:
        s.close()
    assert cats == {"59893920": "房屋漏雨", "59893921": "噪音", "59893922": "市政设施", "59893923": "市容环境",
                    "59893925": "噪音"}
    # the summary (text) says it too
    r2, _ = gridmap(db, "complaints", "import", str(f), "--map", MAP, "--category-map", str(m), "--dry-run")
    assert re.search(r"categories: 4 from your map, 0 from the catalog, 1 by keyword; 0 in 其他", r2.stdout), \
        r2.stdout


def test_a_category_map_naming_no_catalog_category_is_refused(db, tmp_path):
    f = tmp_path / "311.csv"
    _nyc_style(f)
    m = tmp_path / "bad.toml"
    m.write_text('[values]\n"Noise - Residential" = "Lärm"\n', encoding="utf-8")
    r, _ = gridmap(db, "complaints", "import", str(f), "--map", MAP, "--category-map", str(m))
    assert r.returncode == 2 and "not catalog categories" in r.stderr and "Lärm" in r.stderr
    r, _ = gridmap(db, "import", "communities", str(f), "--category-map", str(m))
    assert r.returncode == 2 and "--category-map" in r.stderr


def test_the_category_tree_is_documented():
    """docs/complaint-categories.md lists every catalog category and every alias (it cannot drift)."""
    from gridmap.warning.categories import CATEGORIES, CATEGORY_ALIASES

    doc = (Path(__file__).resolve().parents[2] / "docs" / "complaint-categories.md").read_text(encoding="utf-8")
    for name, en in CATEGORIES.items():
        assert f"`{name}`" in doc and en in doc, name
    for alias, target in CATEGORY_ALIASES.items():
        assert f"`{alias}`" in doc, alias
