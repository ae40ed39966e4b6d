"""The 三率, composite score, ranks, bottom N, month over month, trends and points lost, each checked against an
independent computation written here with plain pandas on the same rows (unknowns, exclusions, ties, 双派单)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridmap.errors import UsageError
from gridmap.performance.priorities import gap_contributions, repeat_complaints
from gridmap.performance.rankings import bottom, league_table, rank_units, trends
from gridmap.performance.rates import exclusion_counts, monthly_rates, unit_rates
from gridmap.performance.rules import RateRules

STREETS = ["110199001", "110199002", "110199003", "110199004", "110199005"]
UNITS = ["街道办", "市水务局", "物业A", "物业B"]
CATS = ["供暖", "供水", "市政设施", "噪音", "物业"]


def _complaints(n=3000, seed=7, months=("2025-05", "2025-06")):
    rng = np.random.default_rng(seed)
    m = rng.choice(len(months), n)
    start = np.array([pd.Timestamp(f"{x}-01").value for x in months])[m]
    rec = pd.to_datetime(start + rng.integers(0, 27 * 86400, n) * 10**9)
    delay_h = rng.exponential(12, n)
    resp = rec + pd.to_timedelta(delay_h, unit="h")
    resp = resp.where(rng.random(n) > 0.15)                     # 15 % unknown response
    tri = lambda p_known, p_true: np.where(rng.random(n) < p_known,  # noqa: E731
                                           rng.random(n) < p_true, None).astype(object)
    street = rng.choice(STREETS, n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    units = np.where(rng.random(n) < 0.2, [f"{a};{b}" for a, b in zip(rng.choice(UNITS, n), rng.choice(UNITS, n))],
                     rng.choice(UNITS, n)).astype(object)
    units[rng.random(n) < 0.05] = None
    excluded = tri(0.9, 0.07)
    reason = np.where(excluded == True, rng.choice(["重复诉求 duplicate", "恶意诉求 malicious", None], n), None)  # noqa: E712
    return pd.DataFrame({
        "source_id": [f"S{i:05d}" for i in range(n)], "received_at": rec, "responded_at": resp,
        "street_code": street, "community_code": [f"{s}{k:03d}" for s, k in zip(street, rng.integers(1, 4, n))],
        "category": rng.choice(CATS, n), "dispatched_to": units,
        "resolved": tri(0.8, 0.75), "satisfied": tri(0.7, 0.8), "excluded": excluded,
        "exclusion_reason": reason.astype(object)})


def _reference(df: pd.DataFrame, unit: str, rules=RateRules()) -> pd.DataFrame:
    """The rates as a user would write them with pandas, from the documented rules."""
    d = df.copy()
    d["is_excluded"] = d["excluded"].map(lambda v: v is True)
    d = d[d[unit].notna()]
    c = d[~d["is_excluded"]].copy()
    hours = (c["responded_at"] - c["received_at"]).dt.total_seconds() / 3600
    limit = np.where(c["category"].isin(["供暖", "供水"]), rules.urgent_limit_h, rules.response_limit_h)
    c["r_known"] = c["responded_at"].notna()
    c["r_ok"] = c["r_known"] & (hours <= limit)
    c["s_known"] = c["resolved"].notna()
    c["s_ok"] = c["resolved"].map(lambda v: v is True)
    c["f_known"] = c["satisfied"].notna()
    c["f_ok"] = c["satisfied"].map(lambda v: v is True)
    g = c.groupby(unit)
    out = pd.DataFrame({"complaints": d.groupby(unit).size(), "excluded": d.groupby(unit)["is_excluded"].sum()})
    for name, known, ok in (("response", "r_known", "r_ok"), ("resolution", "s_known", "s_ok"),
                            ("satisfaction", "f_known", "f_ok")):
        out[f"{name}_n"] = g[known].sum()
        out[f"{name}_rate"] = g[ok].sum() / g[known].sum()
    out = out.fillna({"response_n": 0, "resolution_n": 0, "satisfaction_n": 0})
    out["response_rate"] = out["response_rate"].where(out["response_n"] > 0)
    out["resolution_rate"] = out["resolution_rate"].where(out["resolution_n"] > 0)
    out["satisfaction_rate"] = out["satisfaction_rate"].where(out["satisfaction_n"] > 0)
    w = rules.weights
    out["score"] = 100 * (w[0] * out["response_rate"] + w[1] * out["resolution_rate"]
                          + w[2] * out["satisfaction_rate"])
    return out.sort_index()


CHECKED = ["complaints", "excluded", "response_n", "response_rate", "resolution_n", "resolution_rate",
           "satisfaction_n", "satisfaction_rate", "score"]


@pytest.mark.parametrize("level,column", [("street", "street_code"), ("community", "community_code"),
                                          ("category", "category")])
def test_rates_equal_plain_pandas(level, column):
    df = _complaints()
    ours = unit_rates(df, level=level)
    ref = _reference(df, column)
    assert list(ours.index) == list(ref.index)
    pd.testing.assert_frame_equal(ours[CHECKED].astype(float), ref[CHECKED].astype(float), check_names=False, check_index_type=False,
                                  rtol=1e-12)
    assert ours["excluded"].sum() == (df["excluded"] == True).sum() > 0  # noqa: E712
    assert ours["response_n"].sum() < ours["counted"].sum()  # unknowns are out of the denominator


def test_department_rates_count_a_double_dispatch_once_for_each_unit():
    df = _complaints()
    ex = df.assign(unit=df["dispatched_to"].str.split(";")).explode("unit")
    ex = ex[ex["unit"].notna()].drop_duplicates(["source_id", "unit"])
    ref = _reference(ex, "unit")
    ours = unit_rates(df, level="department")
    pd.testing.assert_frame_equal(ours[CHECKED].astype(float), ref[CHECKED].astype(float), check_names=False, check_index_type=False,
                                  rtol=1e-12)
    double = df["dispatched_to"].str.contains(";", na=False) & \
        (df["dispatched_to"].str.split(";").str[0] != df["dispatched_to"].str.split(";").str[1])
    assert double.sum() > 100
    assert ours["complaints"].sum() == len(ex) > df["dispatched_to"].notna().sum()


def test_weights_and_limits_are_settings():
    df = _complaints()
    rules = RateRules(response_limit_h=6, urgent_limit_h=1, weights=(0.2, 0.4, 0.4))
    ours = unit_rates(df, level="street", rules=rules)
    ref = _reference(df, "street_code", rules)
    np.testing.assert_allclose(ours["score"], ref["score"], rtol=1e-12)
    assert not np.allclose(ours["score"], unit_rates(df, level="street")["score"])
    with pytest.raises(UsageError, match="summing to 1"):
        RateRules(weights=(0.5, 0.5, 0.5))


def test_monthly_rates_and_month_over_month_equal_pandas():
    df = _complaints()
    monthly = monthly_rates(df, level="street", first="2025-05", last="2025-06")
    for month in ("2025-05", "2025-06"):
        sel = df[df["received_at"].dt.strftime("%Y-%m") == month]
        ours = monthly[monthly["month"] == month].set_index("unit")
        pd.testing.assert_frame_equal(ours[CHECKED].astype(float), _reference(sel, "street_code")[CHECKED]
                                      .astype(float), check_names=False, check_index_type=False, rtol=1e-12)
    table = league_table(monthly, month="2025-06")
    may = _reference(df[df["received_at"].dt.month == 5], "street_code")
    june = _reference(df[df["received_at"].dt.month == 6], "street_code")
    change = (june["score"] - may["score"]).reindex(table.index)
    np.testing.assert_allclose(table["score_change"], change, rtol=1e-12)
    assert table["rank"].tolist() == june["score"].round(9).rank(method="min", ascending=False) \
        .reindex(table.index).tolist()


def test_ties_share_a_place_and_the_bottom_names_everyone_tied():
    df = _complaints(n=1500)
    # street 005 gets an exact copy of street 004's complaints: the same score, a tie
    twin = df[df["street_code"] == STREETS[3]].assign(street_code=STREETS[4])
    both = pd.concat([df[df["street_code"] != STREETS[4]], twin], ignore_index=True)
    ranked = rank_units(unit_rates(both, level="street"))
    ref = _reference(both, "street_code")["score"]
    expected = ref.round(9).rank(method="min", ascending=False)
    assert ranked["rank"].to_dict() == expected.to_dict()
    assert ranked.loc[STREETS[3], "rank"] == ranked.loc[STREETS[4], "rank"]
    # the bottom n by a plain sort: every unit whose place is at least the n-th worst place
    for n in (1, 2, 3):
        worst = sorted(expected, reverse=True)[n - 1]
        assert set(bottom(ranked, n=n).index) == set(expected[expected >= worst].index)
    tied_at_bottom = expected[STREETS[3]] == expected.max()
    if tied_at_bottom:
        assert len(bottom(ranked, n=1)) == 2


def test_a_unit_missing_a_rate_is_listed_but_not_ranked():
    df = _complaints(n=400)
    df.loc[df["street_code"] == STREETS[0], "satisfied"] = None  # no satisfaction known at all
    ranked = rank_units(unit_rates(df, level="street"))
    assert np.isnan(ranked.loc[STREETS[0], "score"]) and np.isnan(ranked.loc[STREETS[0], "rank"])
    assert ranked.index[-1] == STREETS[0]
    assert STREETS[0] not in bottom(ranked, n=5).index


def test_exclusion_counts_by_reason_equal_pandas():
    df = _complaints()
    ours = exclusion_counts(df, level="street")
    exc = df[df["excluded"] == True]  # noqa: E712
    ref = pd.crosstab(exc["street_code"], exc["exclusion_reason"].fillna("(未注明 not given)"))
    for reason in ref.columns:
        assert ours[reason].to_dict() == ref[reason].to_dict()
    assert ours["total"].to_dict() == exc.groupby("street_code").size().to_dict()


def test_trend_slope_equals_a_least_squares_fit():
    df = _complaints(n=4000, months=tuple(f"2025-{m:02d}" for m in range(1, 7)))
    monthly = monthly_rates(df, level="street", first="2024-07", last="2025-06")
    tr = trends(monthly, month="2025-06")
    assert list(tr.columns[:12]) == [str(p) for p in pd.period_range("2024-07", "2025-06", freq="M")]
    for unit, row in tr.iterrows():
        y = row.iloc[:12].to_numpy(dtype=float)
        x = np.arange(12)[~np.isnan(y)]
        slope = np.polyfit(x, y[~np.isnan(y)], 1)[0]
        assert row["slope_per_month"] == pytest.approx(slope, rel=1e-9)
        assert np.isnan(y[:6]).all()  # no data before 2025: unknown, not zero


def test_points_lost_add_up_to_the_gap_and_equal_pandas():
    df = _complaints()
    june = df[df["received_at"].dt.month == 6]
    streets = _reference(june, "street_code")
    bench = streets[["response_rate", "resolution_rate", "satisfaction_rate"]].median().to_dict()
    s = STREETS[0]
    got = gap_contributions(df, street=s, level="community", benchmark=bench, start="2025-06-01",
                            end="2025-07-01")
    w = (0.10, 0.45, 0.45)
    gap = streets.loc[s, "score"] - 100 * sum(wk * bench[k] for wk, k in
                                               zip(w, ("response_rate", "resolution_rate", "satisfaction_rate")))
    assert got["points"].sum() == pytest.approx(gap, abs=1e-9)
    # plain pandas: per community, 100 w (ok - t n) / N for each rate
    c = june[(june["street_code"] == s) & (june["excluded"] != True)].copy()  # noqa: E712
    hours = (c["responded_at"] - c["received_at"]).dt.total_seconds() / 3600
    c["r_n"] = c["responded_at"].notna()
    c["r_ok"] = c["r_n"] & (hours <= np.where(c["category"].isin(["供暖", "供水"]), 2, 24))
    c["s_n"], c["s_ok"] = c["resolved"].notna(), c["resolved"].map(lambda v: v is True)
    c["f_n"], c["f_ok"] = c["satisfied"].notna(), c["satisfied"].map(lambda v: v is True)
    ref = 0
    for wk, (n, ok, k) in zip(w, (("r_n", "r_ok", "response_rate"), ("s_n", "s_ok", "resolution_rate"),
                                  ("f_n", "f_ok", "satisfaction_rate"))):
        g = c.groupby("community_code")
        ref = ref + 100 * wk * (g[ok].sum() - bench[k] * g[n].sum()) / c[n].sum()
    np.testing.assert_allclose(got["points"].reindex(ref.index), ref, rtol=1e-9)
    assert got["points"].is_monotonic_increasing  # most points lost first


def test_repeat_complaints_within_n_days():
    rows = [("A1", "2025-05-20", "东四北大街1号", "噪音"), ("A2", "2025-06-05", "东四北大街1号", "噪音"),
            ("A3", "2025-06-30", "东四北大街1号", "噪音"),            # 25 days after A2: a repeat
            ("B1", "2025-04-01", "东四北大街2号", "噪音"), ("B2", "2025-06-10", "东四北大街2号", "噪音"),  # 70 days
            ("C1", "2025-06-02", "北京市东四北大街3号", "供暖"), ("C2", "2025-06-03", "东四北大街3号。", "供暖"),
            ("D1", "2025-06-02", "东四北大街4号", "供暖"), ("D2", "2025-06-03", "东四北大街4号", "噪音")]
    df = pd.DataFrame(rows, columns=["source_id", "received_at", "address", "category"])
    df["received_at"] = pd.to_datetime(df["received_at"])
    df["street_code"], df["community_code"], df["cell_code"] = "110199001", "110199001001", None
    got = repeat_complaints(df, start="2025-06-01", end="2025-07-01", within_days=30)
    assert got[["place", "category", "repeats", "complaints"]].values.tolist() == [
        ["东四北大街1号", "噪音", 2, 3], ["东四北大街3号", "供暖", 1, 2]]
