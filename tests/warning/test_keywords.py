"""Keyword watch without history (issue 13): a kind of complaint never seen before raises a space-time alert
from its own burst against the overall rate, and ``keywords`` reach the scan (families expanded)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from gridmap.testing.warning import generate
from gridmap.warning.alerts import early_warning
from gridmap.warning.keywords import expand_keywords, keyword_match_counts
from gridmap.warning.scan import space_time_alerts


@pytest.fixture(scope="module")
def district():
    return generate(nx=20, ny=16, start="2024-01-01", end="2024-07-01", per_day=40.0, seed=5)


def _burst(d, *, cells, n_each, text, category, day="2024-06-26"):
    """Complaints of a new kind: ``n_each`` in each of ``cells`` (codes) on ``day``."""
    rows = []
    for code in cells:
        src = d.complaints[d.complaints["cell_code"] == code].iloc[0]
        for k in range(n_each):
            r = src.copy()
            r["received_at"] = pd.Timestamp(day) + pd.Timedelta(hours=8 + k)
            r["text"], r["category"] = text, category
            r["source_id"] = f"N-{code}-{k}"
            rows.append(r)
    new = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=d.complaints.crs)
    return gpd.GeoDataFrame(pd.concat([d.complaints, new], ignore_index=True), geometry="geometry",
                            crs=d.complaints.crs)


def test_a_never_seen_category_bursting_in_one_place_alerts_against_the_overall_rate(district):
    code = district.cells["code"].iloc[170]
    c = _burst(district, cells=[code], n_each=8, text="楼道内飞线充电，电动自行车电池起火隐患", category="消防安全")
    a = space_time_alerts(c, district.cells, start="2024-06-30", end="2024-06-30")
    hit = a[a["family"] == "category:消防安全"]
    assert len(hit) == 1 and hit["unit"].iloc[0] == code, a
    assert hit["baseline"].iloc[0].startswith("overall rate")


def test_a_never_seen_kind_spread_like_everything_else_does_not_alert(district):
    codes = district.cells["code"].iloc[[3, 47, 95, 140, 188, 236, 281, 316]].tolist()  # far apart, one each
    c = _burst(district, cells=codes, n_each=1, text="楼道内飞线充电", category="消防安全")
    a = space_time_alerts(c, district.cells, start="2024-06-30", end="2024-06-30")
    assert not (a["family"] == "category:消防安全").any(), a


def test_keywords_reach_the_scan_even_without_history(district):
    code = district.cells["code"].iloc[122]
    # a keyword nobody wrote before, in texts of an existing category (so the category family barely moves)
    c = _burst(district, cells=[code], n_each=8, text="小区内飞线充电问题严重", category="物业")
    assert keyword_match_counts(district.complaints, ["飞线充电"])["matches"].iloc[0] == 0
    rep = early_warning(c, start="2024-06-24", end="2024-07-01", cells=district.cells, keywords="飞线充电",
                        hot_spots=False, units=("community",))
    kw = rep.alerts[rep.alerts["family"] == "keywords:飞线充电"]
    assert len(kw) == 1 and kw["unit"].iloc[0] == code, rep.alerts[["kind", "family", "unit"]]
    assert kw["kind"].iloc[0] == "keyword watch" and kw["baseline"].iloc[0].startswith("overall rate")
    assert rep.keyword_counts.set_index("term")["matches"]["飞线充电"] == 8


def test_keyword_families_expand_and_plain_words_stay():
    assert expand_keywords("漏雨")[:3] == ["漏雨", "房屋漏雨", "渗水"]
    assert expand_keywords("渗水,噪声") == list(dict.fromkeys(
        ["渗水", *expand_keywords("房屋漏雨"), "噪声", *expand_keywords("噪音")]))
    assert expand_keywords("飞线充电") == ["飞线充电"]
    assert expand_keywords("漏雨", families=False) == ["漏雨"]
    df = pd.DataFrame({"text": ["屋顶漏雨", "屋顶漏雨渗水", None]})
    assert keyword_match_counts(df, ["漏雨", "渗水", "噪音"])["matches"].tolist() == [2, 1, 0]
