"""Alerts, re-check list, Markdown summary and anomaly scoring (gridmap.warning.alerts / scoring)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridmap.errors import ValidationError
from gridmap.warning.alerts import count_jumps, early_warning, recheck_list, summary_markdown
from gridmap.warning.scoring import rolling_alerts, score_anomalies
from gridmap.warning._synthetic import generate


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


def test_early_warning_report_and_markdown(district):
    rep = early_warning(district.complaints, start="2024-07-15", end="2024-08-01", cells=district.cells,
                        keywords="漏雨,渗水")
    assert {"kind", "kind_zh", "unit_type", "unit"} <= set(rep.alerts.columns)
    assert rep.alerts.crs is not None and rep.alerts.geometry.notna().all()
    md = rep.markdown
    for heading in ("诉求量突增", "热点", "关键词监测", "回头看"):
        assert heading in md
    assert md == summary_markdown(rep)
    assert len(rep.recheck) and rep.recheck["priority"].iloc[0] == "A"


def test_planted_anomalies_are_found_with_few_false_alerts(district):
    log = rolling_alerts(district.complaints, district.cells, start="2024-03-01", end="2024-09-01", step_days=7,
                         window_days=14)
    s = score_anomalies(log, district.anomalies)
    assert s.recall >= 0.9
    assert s.false_alert_share <= 0.10
    assert (s.per_anomaly["days_to_detection"] >= 0).all()
    assert "recall" in s.summary()
