"""Rankings: ranks with ties, the bottom N (排名靠后), the league table, and each unit's 12-month trend.

Ties: units with equal scores (to 1e-9) share the best of their places (competition ranking, "1, 2, 2, 4"), so a
tie never decides who is named. Units without a score (a rate with no known complaint) are listed last, unranked.
The bottom N are the units in the N worst places *with everyone tied with the N-th*, so a bottom 3 may name four.

Examples
--------
>>> import pandas as pd
>>> t = rank_units(pd.DataFrame({"score": [90.0, 80.0, 80.0, 70.0, None]}, index=list("ABCDE")))
>>> t["rank"].tolist()
[1.0, 2.0, 2.0, 4.0, nan]
>>> bottom(t, n=2).index.tolist()
['D', 'B', 'C']
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from gridmap.errors import UsageError, message
from gridmap.performance.rates import RATE_COLUMNS, month_over_month, parse_month

__all__ = ["rank_units", "bottom", "league_table", "trends", "TREND_MONTHS"]

log = logging.getLogger(__name__)

#: Months of the trend (the month ranked and the 11 before it).
TREND_MONTHS = 12


def rank_units(table: pd.DataFrame, *, by: str = "score") -> pd.DataFrame:
    """``table`` sorted best first with ``rank`` (ties share the best place; NaN scores unranked, last)."""
    if by not in table.columns:
        raise UsageError(message("cannot rank", where="by", got=repr(by), fix="use one of " +
                                 ", ".join(RATE_COLUMNS)))
    v = table[by].astype(float)
    rounded = v.round(9)  # 72.50000000000001 and 72.5 are a tie
    ranks = rounded.rank(method="min", ascending=False, na_option="keep")
    out = table.copy()
    out["rank"] = ranks
    order = np.lexsort((out.index.astype(str).to_numpy(), ranks.fillna(np.inf).to_numpy()))
    return out.iloc[order]


def bottom(ranked: pd.DataFrame, *, n: int) -> pd.DataFrame:
    """The units in the ``n`` worst places of ``ranked`` (from :func:`rank_units`) and all tied with the n-th,
    worst first. Unranked units are never named."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise UsageError(message("the bottom count must be a whole number >= 0", where="--bottom", got=repr(n)))
    r = ranked[ranked["rank"].notna()]
    if n == 0 or r.empty:
        return r.iloc[:0]
    worst_first = r.iloc[::-1]
    threshold = worst_first["rank"].iloc[min(n, len(r)) - 1]
    out = worst_first[worst_first["rank"] >= threshold]
    order = np.lexsort((out.index.astype(str).to_numpy(), -out["rank"].to_numpy()))  # worst first, ties by code
    return out.iloc[order]


def league_table(monthly: pd.DataFrame, *, month: Any) -> pd.DataFrame:
    """The ranked table of ``month`` from :func:`~gridmap.performance.rates.monthly_rates`: counts, rates, score,
    last month's values and the change, ``rank`` and ``rank_prev`` (last month's rank among units ranked then)."""
    p = parse_month(month)
    mom = month_over_month(monthly, month=p)
    prev = rank_units(monthly[monthly["month"] == str(p - 1)].set_index("unit"))
    ranked = rank_units(mom)
    ranked["rank_prev"] = prev["rank"].reindex(ranked.index)
    ranked["rank_change"] = ranked["rank_prev"] - ranked["rank"]  # positive: moved up
    return ranked


def trends(monthly: pd.DataFrame, *, month: Any, months: int = TREND_MONTHS, column: str = "score") -> pd.DataFrame:
    """Each unit's ``column`` over the ``months`` months ending with ``month`` (wide: one column per month,
    NaN where the unit had no score), plus ``slope_per_month`` (least squares over the known months, NaN with
    fewer than 2) and ``change`` (last known minus first known)."""
    p = parse_month(month)
    labels = pd.period_range(p - (months - 1), p, freq="M").astype(str)
    wide = monthly.pivot_table(index="unit", columns="month", values=column, aggfunc="first", dropna=False) \
        if len(monthly) else pd.DataFrame(index=pd.Index([], name="unit"))
    wide = wide.reindex(columns=labels)
    wide.columns.name = None
    x = np.arange(len(labels), dtype=float)
    vals = wide.to_numpy(dtype=float)
    slopes, changes = [], []
    for row in vals:
        ok = ~np.isnan(row)
        if ok.sum() >= 2:
            xs, ys = x[ok], row[ok]
            slopes.append(float(((xs - xs.mean()) * (ys - ys.mean())).sum() / ((xs - xs.mean()) ** 2).sum()))
            changes.append(float(ys[-1] - ys[0]))
        else:
            slopes.append(np.nan)
            changes.append(np.nan)
    wide["slope_per_month"] = slopes
    wide["change"] = changes
    return wide
