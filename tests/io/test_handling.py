"""The complaint handling record (接诉即办, store schema v3): migration of a v2 store, import from Chinese 12345
headers and Open311, per-row rejections, and atomic strict imports — on SpatiaLite and PostGIS."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sqlalchemy import text

from gridmap.errors import ValidationError
from gridmap.io.complaints import import_complaints, parse_complaints
from gridmap.io.handling import HANDLING_FIELDS, HandlingRules, parse_handling
from gridmap.store import open_store
from gridmap.store.schema import SCHEMA_VERSION

LON, LAT = 116.3975, 39.9087


def _export(rows: list[dict]) -> pd.DataFrame:
    """A 12345 export with Chinese headers; every row received 2025-06-01 08:00 at Tiananmen."""
    base = {"工单编号": None, "受理时间": "2025-06-01 08:00", "诉求内容": "楼道灯坏了", "诉求类别": "市政设施",
            "经度": LON, "纬度": LAT}
    return pd.DataFrame([{**base, **r} for r in rows])


GOOD = [
    {"工单编号": "A1", "派单时间": "2025-06-01 08:20", "承办单位": "东华门街道；市水务局", "响应时间": "2025-06-01 09:00",
     "办结时间": "2025-06-02 10:00", "是否解决": "是", "是否满意": "满意", "满意度": "5", "回访时间": "2025-06-03 09:00",
     "是否剔除": "否", "退单次数": "1"},
    {"工单编号": "A2", "承办单位": "东华门街道", "满意度": "3", "剔除原因": "重复诉求"},
    {"工单编号": "A3"},  # nothing known about its handling
]


def test_a_version_2_store_is_migrated_to_3_with_complaints_intact(store_url):
    s = open_store(store_url)
    import_complaints(s, _export(GOOD), use_cells=False)
    with s.engine.begin() as conn:  # make it what gridmap at schema version 2 left: no handling columns
        for c in HANDLING_FIELDS:
            conn.execute(text(f'ALTER TABLE complaints DROP COLUMN "{c}"'))
        conn.execute(text("UPDATE gridmap_meta SET value = '2' WHERE key = 'schema_version'"))
    s.close()
    s = open_store(store_url)
    with s.engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM gridmap_meta WHERE key = 'schema_version'")).scalar() == "3"
    back = s.read("complaints").sort_values("source_id")
    assert back["source_id"].tolist() == ["A1", "A2", "A3"]
    assert str(back["closed_at"].iloc[0]) == "2025-06-02 10:00:00"
    for c in HANDLING_FIELDS:
        assert back[c].isna().all(), c  # unknown after the migration: nothing invented
    # and the migrated store takes handling records
    res = import_complaints(s, _export([{"工单编号": "B1", "是否解决": "否", "满意度": "4"}]), use_cells=False)
    assert res.written == 1
    b1 = s.read("complaints", where={"source_id": "B1"})
    assert b1["resolved"].tolist() == [False] and b1["satisfied"].tolist() == [True]
    s.close()
    assert SCHEMA_VERSION == 3


def test_chinese_export_headers_round_trip_through_the_store(store):
    res = import_complaints(store, _export(GOOD), use_cells=False)
    assert res.written == 3 and not res.rejected
    back = store.read("complaints").set_index("source_id")
    a1, a2, a3 = back.loc["A1"], back.loc["A2"], back.loc["A3"]
    assert a1["dispatched_to"] == "东华门街道;市水务局"
    assert str(a1["dispatched_at"]) == "2025-06-01 08:20:00" and str(a1["responded_at"]) == "2025-06-01 09:00:00"
    assert str(a1["revisit_at"]) == "2025-06-03 09:00:00"
    assert (bool(a1["resolved"]), bool(a1["satisfied"]), int(a1["satisfaction_score"])) == (True, True, 5)
    assert (bool(a1["excluded"]), int(a1["redispatches"])) == (False, 1)
    # score 3 < 4: not satisfied (documented rule); a reason implies excluded, in its canonical spelling
    assert bool(a2["satisfied"]) is False and bool(a2["excluded"]) is True
    assert a2["exclusion_reason"] == "重复诉求 duplicate"
    assert pd.isna(a2["resolved"])
    # unknown stays unknown
    assert all(pd.isna(a3[c]) for c in HANDLING_FIELDS)


BAD = [
    {"工单编号": "R1", "响应时间": "2025-05-31 23:00"},                 # responded before received
    {"工单编号": "R2", "承办单位": "东华门街道;火星办事处"},              # unknown unit
    {"工单编号": "R3", "满意度": "6"},                                   # outside 1-5
    {"工单编号": "R4", "满意度": "0"},
    {"工单编号": "R5", "是否解决": "也许"},                              # not yes/no
    {"工单编号": "R6", "办结时间": "2025-05-01 08:00"},                 # closed before received
    {"工单编号": "R7", "剔除原因": "看心情"},                            # not a listed exclusion reason
    {"工单编号": "R8", "退单次数": "-2"},
    {"工单编号": "OK", "承办单位": "市水务局", "满意度": "5"},
]
RULES = HandlingRules(units={"东华门街道", "市水务局"})


def test_bad_handling_values_are_rejected_per_row_with_reasons():
    res = parse_complaints(_export(BAD), handling=RULES)
    by_row = {p.row: (p.field, p.reason) for p in res.rejected}
    assert res.frame["source_id"].tolist() == ["OK"]
    assert by_row[0] == ("responded_at", "responded before the complaint was received (times out of order)")
    assert by_row[1][0] == "dispatched_to" and "unknown unit" in by_row[1][1]
    assert [p.value for p in res.rejected if p.row == 1] == ["火星办事处"]
    assert by_row[2][0] == by_row[3][0] == "satisfaction_score" and "1-5" in by_row[2][1]
    assert by_row[4][0] == "resolved"
    assert by_row[5][0] == "closed_at" and "before" in by_row[5][1]
    assert by_row[6][0] == "exclusion_reason"
    assert by_row[7][0] == "redispatches"
    assert res.rejected_rows == 8


def test_a_strict_import_with_bad_handling_rows_stores_nothing(store):
    import_complaints(store, _export(GOOD), use_cells=False)
    with pytest.raises(ValidationError, match="nothing was imported"):
        import_complaints(store, _export(BAD), use_cells=False, on_error="abort", handling=RULES)
    assert store.count("complaints") == 3
    # without --strict the good row is written and the bad ones reported
    res = import_complaints(store, _export(BAD), use_cells=False, handling=RULES)
    assert res.written == 1 and res.rejected_rows == 8
    assert sorted(store.read("complaints")["source_id"]) == ["A1", "A2", "A3", "OK"]


def test_open311_status_and_updated_datetime_map_to_handling(tmp_path, store):
    reqs = [{"service_request_id": "O1", "requested_datetime": "2025-06-01T00:00:00Z", "description": "路灯不亮",
             "service_name": "路灯", "status": "closed", "updated_datetime": "2025-06-01T05:00:00Z",
             "agency_responsible": "东华门街道", "lat": LAT, "long": LON},
            {"service_request_id": "O2", "requested_datetime": "2025-06-01T00:00:00Z", "description": "井盖缺失",
             "service_name": "井盖", "status": "open", "updated_datetime": "2025-06-01T02:00:00Z",
             "lat": LAT, "long": LON}]
    f = tmp_path / "open311.json"
    f.write_text(json.dumps(reqs), encoding="utf-8")
    import_complaints(store, f, use_cells=False)
    back = store.read("complaints").set_index("source_id")
    assert str(back.loc["O1", "closed_at"]) == str(back.loc["O1", "responded_at"]) == "2025-06-01 13:00:00"
    assert back.loc["O1", "dispatched_to"] == "东华门街道"
    assert pd.isna(back.loc["O2", "closed_at"]) and pd.isna(back.loc["O2", "responded_at"])
    assert pd.isna(back.loc["O1", "resolved"]) and pd.isna(back.loc["O1", "satisfied"])


def test_cli_import_with_a_units_list_rejects_unknown_units(tmp_path, capsys):
    from gridmap.cli import main

    units = tmp_path / "units.txt"
    units.write_text("# 承办单位\n东华门街道\n市水务局\n", encoding="utf-8")
    csv = tmp_path / "calls.csv"
    _export(BAD).to_csv(csv, index=False, encoding="utf-8")
    db = str(tmp_path / "s.sqlite")
    assert main(["--db", db, "-q", "complaints", "import", str(csv), "--units", str(units), "--strict"]) == 1
    assert "nothing was imported" in capsys.readouterr().err
    assert main(["--db", db, "-q", "import", "complaints", str(csv), "--units", str(units), "--json",
                 "--rejects", str(tmp_path / "rej.csv")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["written"] == 1 and out["rejected"] == 8
    rej = pd.read_csv(tmp_path / "rej.csv", encoding="utf-8-sig")
    unit_rows = rej[rej["field"] == "dispatched_to"]
    assert unit_rows["value"].tolist() == ["火星办事处"] and "unknown unit" in unit_rows["reason"].iloc[0]


def test_a_redispatch_count_too_big_for_the_store_is_rejected_not_wrapped():
    """12345678901234567890 used to wrap around to -9223372036854775808 (and 9007199254740993 to ...992)."""
    raw = pd.DataFrame({"退单次数": ["12345678901234567890", "9007199254740993", "2147483647", "2147483648", "0"]},
                       dtype="str")
    h = parse_handling(raw, received=pd.Series(pd.to_datetime(["2025-01-01"] * 5)))
    assert h.columns["redispatches"].tolist() == [pd.NA, pd.NA, 2147483647, pd.NA, 0]
    assert sorted(p.row for p in h.problems if p.field == "redispatches") == [0, 1, 3]
