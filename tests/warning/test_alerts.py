"""Alerts, re-check list, Markdown summary and anomaly scoring (gridmap.warning.alerts / scoring)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.errors import ValidationError
from gridmap.warning.alerts import count_jumps, early_warning, recheck_list, scan_alerts, summary_markdown
from gridmap.warning.scan import space_time_alerts
from gridmap.warning.scoring import rolling_alerts, score_anomalies
from gridmap.testing.warning import generate


@pytest.fixture(scope="module")
def district():
    return generate(nx=30, ny=24, start="2022-01-01", end="2024-09-01", per_day=40.0, seed=3)


def _frame(rows):
    df = pd.DataFrame(rows, columns=["received_at", "cell_code"])
    df["received_at"] = pd.to_datetime(df["received_at"])
    return df


def test_count_jump_seasonal_baseline_ignores_a_recurring_summer_peak():
    rows = []
    for year in (2022, 2023, 2024):
        rows += [(f"{year}-07-0{d}", "A") for d in range(1, 8) for _ in range(3)]  # every July: 21 / week
        rows += [(f"{year}-03-0{d}", "A") for d in range(1, 4)]  # quiet spring
    rows += [("2024-07-02", "B")] * 12 + [("2023-07-02", "B")]
    j = count_jumps(_frame(rows), start="2024-07-01", end="2024-07-08", by="cell", baseline="seasonal",
                    season_band=0, adjust_total=False).set_index("unit")
    assert not j.loc["A", "alert"]  # the summer peak is the season, not an anomaly
    assert j.loc["B", "alert"]
    assert j.loc["A", "baseline_mean"] == pytest.approx(21.0)
    # against recent weeks only, the same summer peak would look like a jump
    r = count_jumps(_frame(rows), start="2024-07-01", end="2024-07-08", by="cell", baseline="recent",
                    adjust_total=False).set_index("unit")
    assert r.loc["A", "alert"]


def test_count_jump_falls_back_and_errors_clearly(caplog):
    rows = [("2024-06-01", "A"), ("2024-07-02", "A")]
    j = count_jumps(_frame(rows), start="2024-07-01", end="2024-07-08", by="cell")
    assert j["baseline"].iloc[0].startswith("recent")
    assert "falls back" in caplog.text
    with pytest.raises(ValidationError, match="seasonal"):
        count_jumps(_frame(rows), start="2024-07-01", end="2024-07-08", by="cell", baseline="seasonal")
    with pytest.raises(ValidationError, match="empty"):
        count_jumps(_frame(rows), start="2024-07-08", end="2024-07-01")
    with pytest.raises(ValidationError, match="community_code"):
        count_jumps(_frame(rows), start="2024-07-01", end="2024-07-08", by="community")


def test_recheck_list_ranks_unresolved_then_recurrence():
    df = pd.DataFrame({
        "received_at": pd.to_datetime(["2022-07-01", "2023-07-03", "2023-07-04", "2023-08-01", "2023-08-02",
                                       "2023-06-01"]),
        "text": ["屋顶漏雨", "墙面渗水", "屋顶漏雨", "漏雨", "噪音", "漏雨"],
        "address": ["北京市大兴区甲小区1号楼", " 大兴区甲小区1号楼", "大兴区乙小区2号楼", "大兴区乙小区2号楼",
                    "大兴区丙小区", None],
        "status": ["办结", "办结", "办结", "处理中", "办结", "办结"],
        "closed_at": pd.to_datetime(["2022-07-05", "2023-07-06", "2023-07-06", None, "2023-08-03", "2023-06-02"]),
        "cell_code": ["1"] * 5 + ["110199001001007"],
    })
    r = recheck_list(df, keywords=["漏雨", "渗水"], start="2022-01-01", end="2024-01-01")
    assert r["place"].tolist() == ["大兴区乙小区2号楼", "大兴区甲小区1号楼", "网格 110199001001007"]
    assert r["priority"].tolist() == ["A", "B", "C"]
    assert r.loc[1, "years"] == 2 and r.loc[0, "unresolved"] == 1
    assert recheck_list(df, keywords="不存在").empty


def _sections(md: str) -> dict[str, str]:
    """Markdown ``## `` sections: heading -> body."""
    out = {}
    for block in md.split("\n## ")[1:]:
        head, _, body = block.partition("\n")
        out[head] = body
    return out


def _section(md: str, word: str) -> str | None:
    hits = [body for head, body in _sections(md).items() if word in head]
    assert len(hits) <= 1
    return hits[0] if hits else None


def _table_rows(body: str) -> list[list[str]]:
    """Data rows of the first Markdown table in ``body`` (cells stripped)."""
    lines = [ln for ln in body.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]


def _near(cells, anomaly, slack_m=75.0) -> set[str]:
    """Cell codes whose centre lies within the anomaly's radius + slack (from the geometry, independently)."""
    d = cells.geometry.centroid.distance(shapely.Point(anomaly["x"], anomaly["y"]))
    return set(cells.loc[d <= anomaly["radius_m"] + slack_m, "code"])


def test_early_warning_report_and_markdown(district):
    rep = early_warning(district.complaints, start="2024-07-15", end="2024-08-01", cells=district.cells,
                        keywords="漏雨,渗水")
    assert {"kind", "kind_zh", "unit_type", "unit"} <= set(rep.alerts.columns)
    assert rep.alerts.crs is not None and rep.alerts.geometry.notna().all()
    md = rep.markdown
    assert md == summary_markdown(rep)
    leak = district.anomalies.set_index("id").loc[1]     # 房屋漏雨 cluster, 2024-06-23 .. 08-01
    bikes = district.anomalies.set_index("id").loc[2]    # 交通 (delivery bikes) from 2024-07-18
    near_leak, near_bikes = _near(district.cells, leak), _near(district.cells, bikes)
    centre = district.cells[district.cells.intersects(shapely.Point(leak["x"], leak["y"]))]
    assert centre["community_code"].nunique() == 1
    leak_community = centre["community_code"].iloc[0]
    # keyword watch table: the planted leak cluster, by cell and by its community
    kw = _table_rows(_section(md, "关键词监测"))
    assert {r[1] for r in kw if r[0] == "cell"} & near_leak
    assert leak_community in {r[1] for r in kw if r[0] == "community"}
    # space-time clusters (the scored detector): both planted clusters active in the window, in their category
    st = _table_rows(_section(md, "时空聚集"))
    assert any(r[0] in near_leak and r[1] == "房屋漏雨" for r in st)
    assert any(r[0] in near_bikes and r[1] == "交通" for r in st)
    assert all(r[0] in near_leak | near_bikes for r in st)       # nothing else flagged
    assert "时空聚集" in rep.alerts["kind_zh"].tolist()
    # emerging hot spots: a hot spot on the delivery-bike cluster
    hs = _table_rows(_section(md, "热点 Emerging"))
    assert {r[0] for r in hs} & near_bikes
    # re-check list: the top place is the table's first row
    rc = _table_rows(_section(md, "回头看"))
    assert len(rep.recheck) and rep.recheck["priority"].iloc[0] == "A"
    assert rc[0][:2] == ["A", rep.recheck["place"].iloc[0]]


def test_markdown_sections_only_with_content(district):
    # no keywords, no cells: no keyword/re-check/hot-spot/scan sections, and notes say why
    rep = early_warning(district.complaints, start="2024-07-15", end="2024-08-01", units=("community",))
    md = rep.markdown
    for word in ("关键词监测", "回头看", "时空聚集", "热点 Emerging"):
        assert _section(md, word) is None, word
    assert any("space-time scan" in n for n in rep.notes) and any("hot spots" in n for n in rep.notes)
    # every section that is printed has a table with at least one row
    for head, body in _sections(md).items():
        if "Notes" not in head:
            assert _table_rows(body), head
    # a quiet window: no count jumps section either, but the counts line still says 0
    quiet = early_warning(district.complaints.iloc[:0], start="2024-07-15", end="2024-08-01", cells=district.cells,
                          hot_spots=False, units=())
    assert quiet.alerts.empty and "诉求量突增 0" in quiet.markdown
    assert _section(quiet.markdown, "诉求量突增") is None


def test_early_warning_scan_is_the_scored_detector(district):
    """The space-time rows of early_warning are space_time_alerts' on the window's weekly evaluation dates."""
    rep = early_warning(district.complaints, start="2024-07-15", end="2024-08-01", cells=district.cells,
                        units=(), hot_spots=False)
    got = rep.alerts
    assert set(got["kind"]) == {"space-time cluster"} and set(got["kind_zh"]) == {"时空聚集"}
    # evaluations on 08-01, 07-25, 07-18 (every 7 days back from the end, after the start)
    raw = space_time_alerts(district.complaints, district.cells, start="2024-07-18", end="2024-08-01")
    assert set(raw["flagged_at"]) <= set(pd.to_datetime(["2024-07-18", "2024-07-25", "2024-08-01"]))
    first = raw.groupby(["family", "unit"])["flagged_at"].min()
    mine = got.set_index(["family", "unit"])
    assert sorted(mine.index) == sorted(first.index)
    assert (mine["flagged_at"] == first.reindex(mine.index)).all()
    assert (mine["evaluations"] == raw.groupby(["family", "unit"]).size().reindex(mine.index)).all()
    best = raw.loc[raw.groupby(["family", "unit"])["p"].idxmin()].set_index(["family", "unit"])
    assert np.allclose(mine["p"], best["p"].reindex(mine.index))
    # a short window: one evaluation, on the end date
    short = scan_alerts(district.complaints, district.cells, start="2024-07-29", end="2024-08-01")
    assert set(short["flagged_at"]) <= {pd.Timestamp("2024-08-01")}
    with pytest.raises(ValidationError, match="empty"):
        scan_alerts(district.complaints, district.cells, start="2024-08-01", end="2024-08-01")


def test_weekly_warn_scores_like_the_replay(district):
    """gridmap warn run every week (what users get) meets the recall / false-alert goal on the planted anomalies."""
    rows = []
    for s in pd.date_range("2024-02-23", "2024-08-25", freq="7D"):
        rep = early_warning(district.complaints, start=s, end=s + pd.Timedelta(days=7), cells=district.cells,
                            units=(), hot_spots=False)
        rows.append(rep.alerts[rep.alerts["kind"] == "space-time cluster"].drop(columns="geometry",
                                                                               errors="ignore"))
    log = pd.concat(rows, ignore_index=True)
    s = score_anomalies(log, district.anomalies)
    assert s.recall >= 0.9 and s.false_alert_share <= 0.10, s.summary()


def test_planted_anomalies_are_found_with_few_false_alerts(district):
    log = rolling_alerts(district.complaints, district.cells, start="2024-03-01", end="2024-09-01", step_days=7,
                         window_days=14)
    s = score_anomalies(log, district.anomalies)
    assert s.recall >= 0.9
    assert s.false_alert_share <= 0.10
    assert (s.per_anomaly["days_to_detection"] >= 0).all()
    assert "recall" in s.summary()


def test_scan_alerts_empty_window_is_a_clear_error():
    d = generate(nx=6, ny=6, start="2024-01-01", end="2024-03-01", per_day=5.0, seed=2)
    with pytest.raises(ValidationError, match="window is empty") as ei:
        scan_alerts(d.complaints, d.cells, start="2024-02-10", end="2024-02-10")
    assert "--from" in str(ei.value)
    with pytest.raises(ValidationError, match="step_days"):
        scan_alerts(d.complaints, d.cells, start="2024-02-01", end="2024-02-10", step_days=0)


def test_false_alerts_are_counted_per_alert_as_well_as_per_place():
    """A true place's alert outside the anomaly's window is a false alert, though the place is a true place."""
    alerts = pd.DataFrame({"flagged_at": pd.to_datetime(["2025-06-10", "2025-03-01", "2025-06-17", "2025-06-10"]),
                           "unit": ["a", "a", "a", "far"],
                           "x": [100.0, 100.0, 100.0, 9000.0], "y": [100.0, 100.0, 100.0, 9000.0]})
    anomalies = pd.DataFrame({"id": [1], "onset": pd.to_datetime(["2025-06-05"]), "end": pd.to_datetime(["2025-06-20"]),
                              "x": [110.0], "y": [90.0], "radius_m": [150.0]})
    s = score_anomalies(alerts, anomalies)
    assert (s.flagged_places, s.false_places, s.false_alert_share) == (2, 1, 0.5)  # 'far' only
    assert (s.n_alerts, s.false_alerts, s.false_alert_share_alerts) == (4, 2, 0.5)  # 'far' and a's March alert
    assert s.alerts["true_alert"].tolist() == [True, False, True, False]
    assert "2/4 alerts" in s.summary()
    empty = score_anomalies(alerts.iloc[:0], anomalies)
    assert (empty.n_alerts, empty.false_alerts, empty.false_alert_share_alerts) == (0, 0, 0.0)
