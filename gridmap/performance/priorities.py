"""What a street fixes first: the communities and categories that cost it the most points, repeated complaints
(回头看), and places where complaints are predictable before anyone calls (未诉先办).

Points lost (:func:`gap_contributions`). A street's score is ``100 x sum_k w_k x ok_k / N_k`` over the three rates
``k`` (``ok_k`` complaints meeting rate ``k`` among the ``N_k`` where it is known). Against a benchmark rate
``t_k`` for each rate (default: the median of the streets' rates that month), the gap
``score - 100 x sum_k w_k t_k`` splits exactly into one term per community (or category) ``u``::

    points_u = 100 x sum_k w_k x (ok_k(u) - t_k x N_k(u)) / N_k

so the terms add up to the gap, and a community with many complaints below the benchmark costs the most. A rate
the street has no known complaint for contributes nothing. Complaints without a community count as
``(未知 unknown)`` so the sum still closes.

Repeats (:func:`repeat_complaints`): complaints at the same place (normalised address, else cell) and of the same
category within ``within_days`` days of the previous one.

未诉先办 (:func:`proactive_candidates`): the seasonal watch of :mod:`gridmap.warning` — its pre-season re-check
list (:func:`gridmap.warning.alerts.recheck_list`) run for the seasons starting in the next two months
(:data:`SEASONAL_WATCH`: the rainy season June-August for roof leaks and water, the heating season
November-March for heating) over the street's last 12 months.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from gridmap.performance.rates import UNKNOWN_UNIT, _window, handling_flags, parse_month
from gridmap.performance.rules import Level, RateRules
from gridmap.warning.alerts import RECHECK_COLUMNS, normalise_address, recheck_list

__all__ = ["gap_contributions", "repeat_complaints", "proactive_candidates", "SEASONAL_WATCH", "RATE_PARTS"]

log = logging.getLogger(__name__)

#: rate -> (numerator flag, denominator flag, points column)
RATE_PARTS = {"response_rate": ("response_ok", "response_n", "response_points"),
              "resolution_rate": ("resolved", "resolution_n", "resolution_points"),
              "satisfaction_rate": ("satisfied", "satisfaction_n", "satisfaction_points")}

#: (label, months of the season, categories, keywords): what the pre-season re-check looks for.
SEASONAL_WATCH: tuple[tuple[str, frozenset[int], tuple[str, ...], tuple[str, ...]], ...] = (
    ("雨季 rainy season", frozenset({6, 7, 8}), ("房屋漏雨", "供水"), ("漏雨", "渗水", "积水")),
    ("供暖季 heating season", frozenset({11, 12, 1, 2, 3}), ("供暖",), ("暖气", "供暖")),
)


def gap_contributions(complaints: pd.DataFrame, *, street: str, level: "str | Level", benchmark: dict[str, float],
                      start: Any = None, end: Any = None, rules: RateRules | None = None) -> pd.DataFrame:
    """Points each community (``level='community'``) or category of ``street`` adds to (+) or costs (-) its gap
    from the benchmark rates (``benchmark``: rate name -> 0-1). Sorted most points lost first; columns
    ``complaints``, ``response_points``, ``resolution_points``, ``satisfaction_points``, ``points``,
    ``share_of_loss`` (this unit's share of all points lost, 0-1)."""
    rules = rules or RateRules()
    level = Level.parse(level)
    sel = _window(complaints, start, end)
    sel = sel[(sel["street_code"] == street).fillna(False).to_numpy(dtype=bool)]
    flags = handling_flags(sel, rules=rules)
    unit = sel[level.column].astype(object).where(sel[level.column].notna(), UNKNOWN_UNIT)
    sums = flags.groupby(unit.to_numpy()).sum()
    sums.index.name = "unit"
    out = pd.DataFrame({"complaints": sums["complaints"]}, index=sums.index)
    total = pd.Series(0.0, index=sums.index)
    for (rate, (ok, n, col)), w in zip(RATE_PARTS.items(), rules.weights):
        big_n = float(sums[n].sum())
        t = float(benchmark.get(rate, np.nan))
        pts = 100.0 * w * (sums[ok] - t * sums[n]) / big_n if big_n > 0 and np.isfinite(t) else 0.0 * sums[n]
        out[col] = pts.astype(float)
        total += out[col]
    out["points"] = total
    lost = -out["points"].clip(upper=0)
    out["share_of_loss"] = lost / lost.sum() if lost.sum() > 0 else 0.0
    order = np.lexsort((out.index.astype(str).to_numpy(), out["points"].to_numpy()))
    return out.iloc[order]


def _places(frame: pd.DataFrame) -> pd.Series:
    key = frame.get("address", pd.Series(None, index=frame.index)).map(normalise_address)
    if "cell_code" in frame.columns:
        key = key.where(key.notna(), "网格 " + frame["cell_code"].astype("string"))
    return key.astype(object).where(key.notna(), "(无地址 no address)")


#: Columns of :func:`repeat_complaints`.
REPEAT_COLUMNS = ["place", "category", "complaints", "repeats", "first", "last", "community_code", "source_ids"]


def repeat_complaints(complaints: pd.DataFrame, *, start: Any, end: Any, within_days: int = 30,
                      street: str | None = None, max_ids: int = 10) -> pd.DataFrame:
    """回头看: (place, category) pairs with a complaint in ``[start, end)`` that repeats one made at most
    ``within_days`` days earlier. ``complaints`` counts the pair's complaints from ``start - within_days``;
    ``repeats`` those in the window that follow one within the limit. Most repeats first."""
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    sel = _window(complaints, t0 - pd.Timedelta(days=within_days), t1)
    if street is not None:
        sel = sel[(sel["street_code"] == street).fillna(False).to_numpy(dtype=bool)]
    if sel.empty:
        return pd.DataFrame(columns=REPEAT_COLUMNS)
    f = pd.DataFrame({"place": _places(sel).to_numpy(), "category": sel["category"].astype(object).to_numpy(),
                      "t": pd.to_datetime(sel["received_at"]).to_numpy(),
                      "community_code": sel.get("community_code", pd.Series(None, index=sel.index)).to_numpy(),
                      "source_id": sel.get("source_id", pd.Series(None, index=sel.index)).astype(str).to_numpy()})
    f = f.sort_values(["place", "category", "t", "source_id"], kind="stable")
    gap = f.groupby(["place", "category"], sort=False)["t"].diff()
    f["repeat"] = (gap <= pd.Timedelta(days=within_days)).to_numpy() & (f["t"] >= t0).to_numpy()
    g = f.groupby(["place", "category"], sort=False)
    out = pd.DataFrame({"complaints": g.size(), "repeats": g["repeat"].sum().astype(int), "first": g["t"].min(),
                        "last": g["t"].max(), "community_code": g["community_code"].last(),
                        "source_ids": g["source_id"].agg(lambda s: ";".join(list(s)[:max_ids])
                                                         + (f";…(+{len(s) - max_ids})" if len(s) > max_ids else ""))})
    out = out[out["repeats"] > 0].reset_index()
    out = out.sort_values(["repeats", "complaints", "last", "place"], ascending=[False, False, False, True],
                          kind="stable").reset_index(drop=True)
    return out[REPEAT_COLUMNS]


def proactive_candidates(complaints: pd.DataFrame, *, month: Any, street: str | None = None,
                         lookback_months: int = 12) -> pd.DataFrame:
    """未诉先办 candidates after ``month``: for each season of :data:`SEASONAL_WATCH` starting or running in the
    next two months, the re-check list (:func:`gridmap.warning.alerts.recheck_list`) of its categories over the
    ``lookback_months`` months up to the end of ``month``; column ``watch`` names the season."""
    p = parse_month(month)
    end = (p + 1).start_time
    start = (p + 1 - lookback_months).start_time
    upcoming = {(p + 1).month, (p + 2).month}
    sel = complaints
    if street is not None:
        sel = sel[(sel["street_code"] == street).fillna(False).to_numpy(dtype=bool)]
    parts = []
    for label, months, cats, _keywords in SEASONAL_WATCH:
        if not (months & upcoming):
            continue
        r = recheck_list(sel, keywords=None, categories=list(cats), start=start, end=end)
        if len(r):
            parts.append(r.assign(watch=label))
    cols = ["watch", *RECHECK_COLUMNS]
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)[cols]
