"""Complaint import: formats, Open311 names, time zones, coordinate systems, rejections, idempotent re-import."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.crs import to_working_xy, wgs84_to_bd09, wgs84_to_gcj02
from gridmap.errors import ValidationError
from gridmap.io.complaints import parse_complaints, parse_timestamp, read_complaints, stable_id

LON, LAT = 116.3975, 39.9087  # Tiananmen


def _cells_around(lon=LON, lat=LAT, n=6):
    x, y = to_working_xy([lon], [lat])
    x0, y0 = float(x[0]) - 300, float(y[0]) - 300
    rows = []
    for iy in range(n):
        for ix in range(n):
            rows.append({"code": f"110101001001{iy * n + ix + 1:03d}", "community_code": "110101001001",
                         "ix": ix, "iy": iy, "area_m2": 10000.0, "geometry": shapely.box(x0 + ix * 100, y0 + iy * 100,
                                                                     x0 + ix * 100 + 100, y0 + iy * 100 + 100)})
    return gpd.GeoDataFrame(rows, crs="EPSG:4548")


@pytest.mark.parametrize("value,expected", [
    ("2024-07-01 08:30:00", "2024-07-01 08:30:00"),
    ("2024-07-01T08:30:00+08:00", "2024-07-01 08:30:00"),
    ("2024-07-01T00:30:00Z", "2024-07-01 08:30:00"),
    ("2024-06-30T20:30:00-04:00", "2024-07-01 08:30:00"),
    ("2024/07/01 08:30", "2024-07-01 08:30:00"),
    ("2024年7月1日 8时30分", "2024-07-01 08:30:00"),
    ("２０２４-０７-０１ ０８:３０", "2024-07-01 08:30:00"),
    (1719793800, "2024-07-01 08:30:00"),
    ("1719793800000", "2024-07-01 08:30:00"),
])
def test_mixed_timestamps_become_naive_cst(value, expected):
    assert str(parse_timestamp(value)) == expected


@pytest.mark.parametrize("value", ["", "明天", "2024-13-45", None, "2024年2月30日"])
def test_unreadable_timestamps(value):
    assert parse_timestamp(value) is None


def test_bad_rows_are_rejected_with_reasons_and_nothing_is_lost():
    raw = pd.DataFrame({
        "工单编号": ["1", "2", "3", "4", "5", "6", "7", "1"],
        "受理时间": ["2024-07-01 08:00", "2024-07-01T00:00:00Z", "not a time", "2024/07/02 09:00",
                 "2024-07-02 10:00", "2024-07-02 11:00", "2024-07-02 12:00", "2024-07-03 12:00"],
        "诉求内容": ["屋顶漏雨", "噪音", "漏雨", "  ", "外卖车乱停", "咨询", "路灯坏", "重复"],
        "诉求类别": ["房屋漏雨", "噪声", "房屋漏雨", "其他", "交通", "外星人", None, "其他"],
        "经度": [LON, LON, LON, LON, 121.47, LON, "abc", LON],
        "纬度": [LAT, LAT, LAT, LAT, 31.23, LAT, LAT, LAT],
    })
    res = parse_complaints(raw, cells=_cells_around())
    reasons = {(p.row, p.field): p.reason for p in res.rejected}
    assert set(reasons) == {(2, "received_at"), (3, "text"), (4, "geometry"), (6, "lon/lat"), (7, "source_id")}
    assert "outside the district" in reasons[(4, "geometry")]
    assert "repeated" in reasons[(7, "source_id")]
    assert len(res.frame) + len({p.row for p in res.rejected}) == len(raw)  # nothing silently dropped
    assert res.frame.loc[1, "category"] == "噪音"
    assert res.frame.loc[5, "category"] == "其他"  # unknown -> 其他, with a warning
    assert {(p.row, p.value) for p in res.warnings} == {(5, "外星人")}
    assert str(res.frame.loc[1, "received_at"]) == "2024-07-01 08:00:00"
    assert res.frame["cell_code"].notna().all() and res.frame.crs.to_epsg() == 4548
    assert set(res.report["action"]) == {"rejected", "kept"}
    strict = parse_complaints(raw, cells=_cells_around(), unknown_category="reject")
    assert any(p.row == 5 and p.field == "category" for p in strict.rejected)


def test_outside_beijing_without_cells():
    raw = pd.DataFrame({"text": ["a", "b"], "received_at": ["2024-07-01", "2024-07-01"],
                        "lon": [LON, 2.35], "lat": [LAT, 48.85]})
    res = parse_complaints(raw)
    assert [(p.row, "Beijing" in p.reason) for p in res.rejected] == [(1, True)]
    swapped = parse_complaints(pd.DataFrame({"text": ["a"], "received_at": ["2024-07-01"], "lon": [LAT],
                                             "lat": [LON]}))
    assert "swapped" in swapped.rejected[0].reason


@pytest.mark.parametrize("system,forward", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_declared_lonlat_systems_land_on_the_same_point(system, forward):
    lon, lat = forward(LON, LAT)
    res = parse_complaints(pd.DataFrame({"text": ["a"], "received_at": ["2024-07-01"], "lon": [float(lon)],
                                         "lat": [float(lat)]}), lonlat=system)
    x, y = to_working_xy([LON], [LAT])
    p = res.frame.geometry.iloc[0]
    assert abs(p.x - x[0]) < 0.5 and abs(p.y - y[0]) < 0.5


def test_open311_json_and_geojson(tmp_path):
    reqs = [{"service_request_id": "638344", "status": "closed", "service_name": "Roof leak",
             "description": "屋顶漏雨", "requested_datetime": "2024-07-01T08:30:00+08:00",
             "updated_datetime": "2024-07-03T10:00:00+08:00", "address": "大兴区黄村镇甲小区1号楼",
             "lat": LAT, "long": LON, "media_url": None, "agency_responsible": "街道"}]
    f = tmp_path / "requests.json"
    f.write_text(json.dumps(reqs, ensure_ascii=False), encoding="utf-8")
    res = read_complaints(f)
    row = res.frame.iloc[0]
    assert row["source_id"] == "638344" and row["category"] == "房屋漏雨"
    assert str(row["closed_at"]) == "2024-07-03 10:00:00"
    g = tmp_path / "c.geojson"
    g.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [LON, LAT]},
         "properties": {"text": "夜间施工噪音", "received_at": "2024-07-05 23:00", "category": "噪音"}},
        {"type": "Feature", "geometry": None, "properties": {"text": "x", "received_at": "2024-07-05"}}]},
        ensure_ascii=False), encoding="utf-8")
    gres = read_complaints(g)
    assert len(gres.frame) == 1 and gres.frame["source_id"].iloc[0].startswith("h-")
    assert [(p.row, p.field) for p in gres.rejected] == [(1, "lon/lat")]
    with pytest.raises(ValidationError):
        read_complaints(tmp_path / "requests.json", mapping={"text": "nope"})


def test_stable_id_is_stable():
    a = stable_id(pd.Timestamp("2024-07-01 08:30"), LON, LAT, "屋顶漏雨", "甲小区")
    assert a == stable_id(pd.Timestamp("2024-07-01 08:30"), LON, LAT, " 屋顶漏雨", "甲小区")
    assert a != stable_id(pd.Timestamp("2024-07-01 08:31"), LON, LAT, "屋顶漏雨", "甲小区")


def test_missing_required_column_is_a_clear_error():
    with pytest.raises(ValidationError, match="received_at"):
        parse_complaints(pd.DataFrame({"text": ["a"], "lon": [LON], "lat": [LAT]}))


def test_reimport_adds_nothing_twice(store, tmp_path):
    """Over both backends (the ``store`` fixture runs SpatiaLite and PostGIS)."""
    from gridmap.io.complaints import import_complaints

    store.write("cells", _cells_around())
    csv = tmp_path / "c.csv"
    pd.DataFrame({"受理时间": ["2024-07-01 08:00", "2024-07-02 09:00", "2024-07-03 10:00"],
                  "诉求内容": ["屋顶漏雨", "渗水", ""], "经度": [LON, LON + 0.001, LON],
                  "纬度": [LAT, LAT, LAT]}).to_csv(csv, index=False)
    first = import_complaints(store, csv)
    assert first.written == 2 and len(first.rejected) == 1
    again = import_complaints(store, csv)
    assert again.written == 0 and again.already_stored == 2
    assert store.count("complaints") == 2
    got = store.read("complaints")
    assert got["cell_code"].notna().all() and str(got["received_at"].min()) == "2024-07-01 08:00:00"


def test_every_demo_category_is_in_the_warning_catalog():
    """The demo's 12345 categories (as a real export spells them) all map onto the catalog, none to 其他 by
    fallback: otherwise category-specific warnings on the demo would silently see nothing."""
    from gridmap.demo.complaints import CATEGORIES as DEMO
    from gridmap.warning.categories import CATEGORIES, normalise_category

    got = {c.name: normalise_category(c.name) for c in DEMO}
    assert all(v in CATEGORIES for v in got.values()), got
    assert [k for k, v in got.items() if v == "其他"] == ["其他"]


def test_import_formats_round_trip_over_both_backends(store, tmp_path):
    """Open311 JSON (GCJ-02, zones), GeoJSON and CSV into SpatiaLite and PostGIS: the stored rows equal the
    parsed rows (times naive CST, codes, points to 1 mm), rejections reported, nothing half-written."""
    from gridmap.io.complaints import import_complaints

    store.write("cells", _cells_around())
    glon, glat = wgs84_to_gcj02(np.array([LON, LON + 0.001]), np.array([LAT, LAT + 0.0005]))
    reqs = [{"service_request_id": f"R{i}", "status": "closed", "service_name": "Roof leak", "description": t,
             "requested_datetime": when, "updated_datetime": "2024-07-03T02:00:00Z", "lat": float(la),
             "long": float(lo)} for i, (t, when, lo, la) in enumerate(zip(
                 ["屋顶漏雨", "渗水"], ["2024-07-01T08:30:00+08:00", "2024-06-30T20:30:00-04:00"], glon, glat))]
    reqs.append({"service_request_id": "R9", "description": "", "requested_datetime": "yesterday",
                 "lat": LAT, "long": LON})                                  # two reasons, one row
    f = tmp_path / "r.json"
    f.write_text(json.dumps(reqs, ensure_ascii=False), encoding="utf-8")
    res = import_complaints(store, f, lonlat="gcj02")
    assert res.written == 2 and {(p.row, p.field) for p in res.rejected} == {(2, "text"), (2, "received_at")}
    got = store.read("complaints").set_index("source_id").sort_index()
    assert [str(t) for t in got["received_at"]] == ["2024-07-01 08:30:00", "2024-07-01 08:30:00"]
    assert [str(t) for t in got["closed_at"]] == ["2024-07-03 10:00:00"] * 2
    assert got["category"].tolist() == ["房屋漏雨"] * 2 and got["cell_code"].notna().all()
    x, y = to_working_xy([LON, LON + 0.001], [LAT, LAT + 0.0005])
    assert np.allclose(got.geometry.x, x, atol=1e-3) and np.allclose(got.geometry.y, y, atol=1e-3)
    g = tmp_path / "c.geojson"
    g.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [LON, LAT]},
         "properties": {"text": "夜间施工噪音", "received_at": "2024年7月5日 23时0分", "category": "噪声"}}]},
        ensure_ascii=False), encoding="utf-8")
    assert import_complaints(store, g).written == 1
    assert import_complaints(store, g).already_stored == 1
    assert store.count("complaints") == 3
    assert store.read("complaints", where={"category": "噪音"})["text"].tolist() == ["夜间施工噪音"]


@pytest.mark.parametrize("values", [
    ["2024-07-01 08:30:00", "2024-07-01T00:30:00Z", "2024-06-30T20:30:00-04:00", "2024/07/01 08:30",
     "2024年7月1日 8时30分", "２０２４-０７-０１ ０８:３０", "1719793800", "1719793800000", "Jul 1 2024 08:30", "",
     "明天", "2024-13-45", "2024年2月30日", None, "2024-07-01"],
    [1719793800, 1719793800000, None, "2024-07-01 08:30", float("nan"), pd.Timestamp("2024-07-01 08:30")],
])
def test_vectorised_timestamps_equal_the_per_value_parser(values):
    from gridmap.io.complaints import parse_timestamps

    got = parse_timestamps(pd.Series(values, dtype=object))
    want = [parse_timestamp(v) for v in values]
    assert [None if pd.isna(t) else t for t in got] == want


def test_every_rejection_reason_of_a_row_is_kept():
    raw = pd.DataFrame({"received_at": ["soon", "2024-07-01"], "text": ["", "ok"], "lon": [None, LON],
                        "lat": [None, LAT], "source_id": ["a", "b"]})
    res = parse_complaints(raw)
    assert sorted(p.field for p in res.rejected) == ["lon/lat", "received_at", "text"]
    assert {p.row for p in res.rejected} == {0} and res.frame.index.tolist() == [1]


def test_import_assigns_cells_through_the_lattice_index():
    """Complaints get the cell assign_points gives (lattice index, exact; its tie rule on shared boundaries), which
    covers the point by geopandas.sjoin; points on no cell are rejected, not dropped."""
    from gridmap.grid import assign_points

    cells = _cells_around()
    rng = np.random.default_rng(4)
    n = 3_000
    lon = LON + rng.uniform(-0.0045, 0.0045, n)
    lat = LAT + rng.uniform(-0.0035, 0.0035, n)
    raw = pd.DataFrame({"工单编号": [str(i) for i in range(n)], "受理时间": "2024-07-01 08:00",
                        "诉求内容": "路灯不亮", "诉求类别": "其他", "经度": lon, "纬度": lat})
    res = parse_complaints(raw, cells=cells)
    x, y = to_working_xy(lon, lat)
    ref = assign_points((x, y), cells, warn=False)
    got = dict(zip(res.frame["source_id"].astype(int), res.frame["cell_code"]))
    expected = {i: c for i, c in enumerate(ref.codes) if c is not None}
    assert got == expected
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=cells.crs)
    j = gpd.sjoin(pts, cells[["code", "geometry"]], predicate="intersects", how="inner")
    cover = j.groupby(level=0)["code"].agg(set)
    assert all(c in cover[i] for i, c in got.items())
    outside = {p.row for p in res.rejected if p.field == "geometry"}
    assert outside == set(range(n)) - set(got) and len(outside) > 0
