"""Space-time alerts (gridmap.warning.scan): exact test against scipy's Fisher test, robustness to a family's
district-wide seasonal swing, false-alarm control on null data, seasonal baselines, logging, bad options, and the
planted anomalies of the demo district (a generator independent of the detector)."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import stats

from gridmap.errors import ValidationError
from gridmap.testing.warning import generate, make_cells
from gridmap.grid import Lattice
from gridmap.warning.scan import _tail_bound, space_time_alerts
from gridmap.warning.scoring import rolling_alerts, score_anomalies


def _frame(rows, cells):
    """rows: (date, cell position, category) -> complaints in the centre of that cell."""
    cent = cells.geometry.centroid
    return gpd.GeoDataFrame({
        "received_at": pd.to_datetime([r[0] for r in rows]),
        "category": [r[2] for r in rows], "text": ["x"] * len(rows),
        "cell_code": [cells["code"].iloc[r[1]] for r in rows]},
        geometry=[cent.iloc[r[1]] for r in rows], crs=cells.crs)


def test_p_value_is_fishers_exact_test():
    cells = make_cells(Lattice(440000.0, 4420000.0, 100.0, 5, 1))
    # window 2024-03-01..08: cell 0 has 9, cell 4 has 3; baseline (before): cell 0 has 4, cell 4 has 40
    rows = [("2024-03-02", 0, "噪音")] * 9 + [("2024-03-03", 4, "噪音")] * 3 + \
           [("2024-02-10", 0, "噪音")] * 4 + [("2024-02-11", 4, "噪音")] * 40
    a = space_time_alerts(_frame(rows, cells), cells, start="2024-03-08", end="2024-03-08", radii_m=(0.0,),
                          min_count=1, min_ratio=0.0, alpha=0.5, guard_days=0)
    assert a["unit"].tolist() == [cells["code"].iloc[0]]
    ref = stats.fisher_exact([[9, 4], [3, 40]], alternative="greater")[1]
    assert a["p"].iloc[0] == pytest.approx(ref, rel=1e-9)
    assert a["observed"].iloc[0] == 9 and a["expected"].iloc[0] == pytest.approx(4 * 12 / 44)


@pytest.mark.parametrize("k,n,pi", [(9, 13, 0.2), (30, 40, 0.05), (5, 5, 0.5), (50, 400, 0.1)])
def test_tail_bound_is_an_upper_bound(k, n, pi):
    exact = stats.binom.sf(k - 1, n, pi)
    hyper = stats.hypergeom.sf(k - 1, 20 * n, n, int(round(20 * n * pi)))
    b = float(_tail_bound(np.array([k], float), np.array([n], float), pi)[0])
    assert b >= exact and b >= hyper * (1 - 1e-12)


def _null_district(seed, *, swing=1.0):
    """Poisson complaints with no local change; category 供暖 multiplied by ``swing`` district-wide from 1 June."""
    rng = np.random.default_rng(seed)
    cells = make_cells(Lattice(440000.0, 4420000.0, 100.0, 30, 20))
    w = rng.gamma(2.0, 1.0, len(cells))
    w /= w.sum()
    days = pd.date_range("2024-01-01", "2024-08-31")
    rows = []
    for cat, rate in (("供暖", 20.0), ("噪音", 15.0), ("交通", 25.0)):
        for d in days:
            n = rng.poisson(rate * (swing if (cat == "供暖" and d >= pd.Timestamp("2024-06-01")) else 1.0))
            pos = rng.choice(len(cells), n, p=w)
            rows += [(d, int(p), cat) for p in pos]
    return _frame(rows, cells), cells


def test_a_district_wide_swing_of_one_category_is_not_an_alert():
    frame, cells = _null_district(3, swing=6.0)
    a = space_time_alerts(frame, cells, start="2024-04-01", end="2024-08-31")
    assert a.empty, a


def test_null_data_raise_few_false_alerts():
    # 22 weekly evaluations at alpha = 0.01 each: the expected number of dates with a false alert is <= 0.22
    frame, cells = _null_district(11)
    a = space_time_alerts(frame, cells, start="2024-04-01", end="2024-08-31")
    assert a["flagged_at"].nunique() <= 1


def test_a_local_cluster_is_found_in_its_family_only():
    frame, cells = _null_district(5, swing=3.0)
    extra = _frame([("2024-06-03", 300 + k % 3, "供暖") for k in range(25)], cells)
    a = space_time_alerts(pd.concat([frame, extra], ignore_index=True), cells, start="2024-05-01",
                          end="2024-06-30")
    assert a["family"].unique().tolist() == ["category:供暖"]
    first = a.sort_values("flagged_at").iloc[0]
    assert first["flagged_at"] == pd.Timestamp("2024-06-05") and first["status"] == "new"
    xy = cells.geometry.centroid.iloc[300]
    assert np.hypot(first["x"] - xy.x, first["y"] - xy.y) <= 300
    assert (a["unit"] == first["unit"]).all()          # later weeks continue the same place


def test_seasonal_baseline_when_the_data_reach_back_and_fallback_logged_once(caplog):
    d = generate(seed=0)                                    # 2022-01 .. 2024-09
    a = space_time_alerts(d.complaints, d.cells, start="2024-03-01", end="2024-09-01")
    assert len(a) and a["baseline"].str.startswith("seasonal").all()
    with pytest.raises(ValidationError, match="seasonal"):
        space_time_alerts(d.complaints, d.cells, start="2022-06-01", end="2022-07-01", baseline="seasonal")
    with caplog.at_level(logging.WARNING, logger="gridmap.warning.scan"):
        r = rolling_alerts(d.complaints, d.cells, start="2022-04-01", end="2022-12-01")
    assert len([m for m in caplog.messages if "no data a year before" in m]) == 1
    assert r["baseline"].str.startswith("recent").all()


def test_bad_options_are_clear_errors():
    d = generate(nx=10, ny=10, start="2024-01-01", end="2024-03-01", per_day=10)
    with pytest.raises(ValidationError, match="fwer"):
        space_time_alerts(d.complaints, d.cells, start="2024-02-01", end="2024-03-01", control="bonferroni")
    with pytest.raises(ValidationError, match="invalid scan windows"):
        space_time_alerts(d.complaints, d.cells, start="2024-02-01", end="2024-03-01", window_days=0)
    with pytest.raises(ValidationError, match="empty"):
        space_time_alerts(d.complaints, d.cells, start="2024-03-01", end="2024-02-01")


def test_demo_district_planted_anomalies():
    """The demo generator plants its anomalies independently of the detector (full scale, a non-default seed;
    the notebook and the benchmark score the default seed)."""
    demo = pytest.importorskip("gridmap.demo")
    from gridmap.grid import build_cells
    from gridmap.grid.assign import assign_points
    from gridmap.warning.categories import normalise_category

    d = demo.generate(scale=1.0, seed=7)
    cells = build_cells(d.communities)
    c = d.complaints.assign(cell_code=assign_points(d.complaints, cells, warn=False).codes.to_numpy(),
                            category=d.complaints["category"].map(normalise_category))
    s = score_anomalies(rolling_alerts(c, cells, start="2025-02-01", end="2026-01-01"), d.anomalies)
    assert s.recall >= 0.9 and s.false_alert_share <= 0.10, s.summary()
    assert (s.per_anomaly["days_to_detection"].dropna() >= 0).all()


def test_daily_counts_start_at_the_earliest_baseline_day():
    """The scan's counts cover the days its windows read (from the earliest baseline day), not the whole history:
    rows before that day change nothing."""
    from gridmap.warning.scan import ScanOptions, scan_window

    d = generate(nx=12, ny=12, start="2022-01-01", end="2024-07-01", per_day=20, seed=5)
    opts = {"baseline": "recent", "baseline_days": 90, "guard_days": 14, "alpha": 0.05}
    first = d.complaints["received_at"].min()
    w = scan_window(ScanOptions(**opts), start="2024-05-06", end="2024-06-24", first=first)
    assert w.lo == pd.Timestamp("2024-05-06") - pd.Timedelta(days=7 + 90 + 14) and w.first == first.normalize()
    full = space_time_alerts(d.complaints, d.cells, start="2024-05-06", end="2024-06-24", **opts)
    late = d.complaints[d.complaints["received_at"] >= w.lo]
    trimmed = space_time_alerts(late, d.cells, start="2024-05-06", end="2024-06-24", data_start=first, **opts)
    assert len(full) > 0
    pd.testing.assert_frame_equal(full, trimmed)
