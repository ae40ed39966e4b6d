"""The three rates (三率) and the composite score per unit (street, community, department, category), per month or
over any period, with exclusions, denominators and month-over-month change. Pure functions over a complaints
table (the columns of :mod:`gridmap.store.schema`); no I/O.

Counting rules (what a reader of the league table needs to know):

- A complaint belongs to the month it was **received** in (``received_at``).
- ``excluded`` complaints (不合理诉求剔除) count in ``complaints`` and ``excluded`` and nowhere else; a complaint
  whose ``excluded`` is unknown is counted (nothing says it was taken out).
- **Unknown stays unknown**: each rate is over the counted complaints where its field is known, and its
  denominator is a column (``response_n``, ``resolution_n``, ``satisfaction_n``). A rate over no known complaint is
  missing (NaN), and so is the composite score of a unit missing any of its three rates (it is not ranked).
- Response (响应率): known when ``responded_at`` is; in time when within the limit of
  :class:`~gridmap.performance.rules.RateRules`. Resolution (解决率): ``resolved`` known / true. Satisfaction
  (满意率): ``satisfied`` known / true (a 1-5 score was mapped to ``satisfied`` at import, documented in
  :mod:`gridmap.io.handling`).
- Departments (承办单位) come from ``dispatched_to``: a complaint dispatched to several units (双派单) counts once
  for **each** of them; a complaint without a unit is not in the department table.
- Rates are fractions 0-1; the score is 0-100.

Examples
--------
>>> import pandas as pd
>>> c = pd.DataFrame({"street_code": ["A", "A", "B"], "category": "其他",
...     "received_at": pd.to_datetime(["2025-06-01 08:00"] * 3),
...     "responded_at": pd.to_datetime(["2025-06-01 09:00", "2025-06-03 09:00", None]),
...     "resolved": [True, False, None], "satisfied": [True, True, False], "excluded": [False, None, False]})
>>> r = unit_rates(c, level="street")
>>> r["response_n"].tolist(), r["response_rate"].tolist(), r["score"].round(2).tolist()
([2, 0], [0.5, nan], [72.5, nan])
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

import numpy as np
import pandas as pd

from gridmap.errors import Problem, ValidationError, message
from gridmap.performance.rules import Level, RateRules

__all__ = ["COUNT_COLUMNS", "RATE_COLUMNS", "handling_flags", "handling_masks", "handling_sql", "sum_flags",
           "unit_rates", "monthly_rates", "month_over_month", "exclusion_counts", "add_rates", "parse_month",
           "UNKNOWN_UNIT"]

log = logging.getLogger(__name__)

#: Counts per unit (numerators and denominators), in table order.
COUNT_COLUMNS = ["complaints", "excluded", "counted", "response_n", "response_ok", "resolution_n", "resolved",
                 "satisfaction_n", "satisfied"]
#: Rates (0-1) and the composite score (0-100).
RATE_COLUMNS = ["response_rate", "resolution_rate", "satisfaction_rate", "score"]
#: The name of a missing unit in tables that keep such rows (none of the rankings do).
UNKNOWN_UNIT = "(未知 unknown)"

_NEEDED = ("received_at",)
#: Bins of one counting table that stay in cache (64 k x 8 bytes = 512 KiB).
_CACHE_BINS = 65_536


_MONTH = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*$")


def parse_month(value: Any, *, where: str = "--month") -> pd.Period:
    """``'2025-06'`` (also ``2025/6``, ``2025年6月``, a Period or Timestamp) -> monthly Period; anything else is a
    usage error (``'June'`` is refused: which year?).

    >>> str(parse_month("2025年6月")), str(parse_month("2025-06"))
    ('2025-06', '2025-06')
    """
    from gridmap.errors import UsageError

    if isinstance(value, pd.Period):
        return value.asfreq("M")
    if isinstance(value, pd.Timestamp):
        return value.to_period("M")
    m = _MONTH.match(unicodedata.normalize("NFKC", str(value)))
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise UsageError(message("not a month", where=where, got=repr(value), fix="use YYYY-MM, e.g. 2025-06"))
    return pd.Period(year=int(m.group(1)), month=int(m.group(2)), freq="M")


def _bool_col(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(known, true) masks of a nullable yes/no column (absent: nothing known)."""
    if name not in frame.columns:
        z = np.zeros(len(frame), dtype=bool)
        return z, z
    s = frame[name]
    known = s.notna().to_numpy()
    if isinstance(s.dtype, pd.BooleanDtype) or pd.api.types.is_bool_dtype(s.dtype):
        return known, s.to_numpy(dtype=bool, na_value=False)
    true = np.zeros(len(frame), dtype=bool)
    true[known] = s[known].astype(bool).to_numpy()
    return known, true


def handling_flags(complaints: pd.DataFrame, *, rules: RateRules | None = None) -> pd.DataFrame:
    """One row per complaint, the 0/1 counts of :data:`COUNT_COLUMNS` (aligned with ``complaints``)."""
    flags = _flag_arrays(complaints, rules=rules)
    return pd.DataFrame({k: v.astype(np.int8) for k, v in flags.items()}, index=complaints.index)


def _flag_arrays(complaints: pd.DataFrame, *, rules: RateRules | None = None) -> dict[str, np.ndarray]:
    """The boolean masks of :data:`COUNT_COLUMNS` (``complaints`` is all True) of a complaints frame."""
    missing = [c for c in _NEEDED if c not in complaints.columns]
    if missing:
        raise ValidationError("complaints lack the columns the rates need",
                              [Problem(None, c, "column missing") for c in missing],
                              fix="read complaints from a gridmap store (schema version 3)")
    n = len(complaints)
    rec = pd.to_datetime(complaints["received_at"]).to_numpy(dtype="datetime64[ns]")
    if "responded_at" in complaints.columns:
        resp = pd.to_datetime(complaints["responded_at"]).to_numpy(dtype="datetime64[ns]")
    else:
        resp = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    rules = rules or RateRules()
    urgent = complaints["category"].isin(rules.urgent_categories).to_numpy(dtype=bool) \
        if "category" in complaints.columns else np.zeros(n, dtype=bool)
    return handling_masks(received=rec, responded=resp, urgent=urgent, excluded=_bool_col(complaints, "excluded"),
                          resolved=_bool_col(complaints, "resolved"), satisfied=_bool_col(complaints, "satisfied"),
                          rules=rules)


def handling_masks(*, received: np.ndarray, responded: np.ndarray, urgent: np.ndarray,
                   excluded: tuple[np.ndarray, np.ndarray], resolved: tuple[np.ndarray, np.ndarray],
                   satisfied: tuple[np.ndarray, np.ndarray], rules: RateRules | None = None) -> dict[str, np.ndarray]:
    """The row-level rule of the three rates: which complaint counts in which numerator and denominator.

    The one definition every path uses: the in-memory tables of this module, the streamed partitions of
    :mod:`gridmap.events.rates` (arrays read from Arrow), and, written as SQL, :func:`handling_sql`.

    Parameters
    ----------
    received, responded : datetime64[ns] arrays (NaT: unknown).
    urgent : bool array, the complaint's category is one of :attr:`RateRules.urgent_categories`.
    excluded, resolved, satisfied : (known, true) bool arrays of each nullable yes/no field.

    Returns
    -------
    The boolean masks of :data:`COUNT_COLUMNS`, by name.
    """
    rules = rules or RateRules()
    n = len(received)
    counted = ~excluded[1]
    r_known = ~np.isnat(responded) & counted
    limit_ns = np.where(urgent, np.int64(round(rules.urgent_limit_h * 3.6e12)),
                        np.int64(round(rules.response_limit_h * 3.6e12)))
    delay_ns = responded.view(np.int64) - received.view(np.int64)  # meaningless where either is NaT: masked
    r_ok = r_known & ~np.isnat(received) & (delay_ns <= limit_ns)
    s_known, s_true = resolved
    f_known, f_true = satisfied
    return {"complaints": np.ones(n, dtype=bool), "excluded": excluded[1], "counted": counted,
            "response_n": r_known, "response_ok": r_ok, "resolution_n": s_known & counted,
            "resolved": s_known & s_true & counted, "satisfaction_n": f_known & counted,
            "satisfied": f_known & f_true & counted}


def handling_sql(rules: RateRules | None = None) -> tuple[dict[str, str], dict[str, Any]]:
    """:func:`handling_masks` written as SQL conditions over the columns of the same names (PostgreSQL).

    Returns (``COUNT_COLUMNS`` name -> boolean SQL expression, bind parameters ``:rate_urgent`` (the urgent
    categories), ``:rate_urgent_us`` and ``:rate_limit_us`` (the limits in whole microseconds: timestamps in the
    database have microsecond resolution, and ``delay <= limit_ns`` of :func:`handling_masks` is
    ``delay_us <= floor(limit_ns / 1000)`` for a whole number of microseconds)). An unknown ``excluded`` counts
    (``IS NOT TRUE``); an unknown category is not urgent.
    """
    rules = rules or RateRules()
    counted = "excluded IS NOT TRUE"
    delay_us = "extract(epoch FROM (responded_at - received_at)) * 1000000"
    limit = "CASE WHEN category = ANY(:rate_urgent) THEN :rate_urgent_us ELSE :rate_limit_us END"
    sql = {"complaints": "TRUE", "excluded": "excluded IS TRUE", "counted": counted,
           "response_n": f"{counted} AND responded_at IS NOT NULL",
           "response_ok": f"{counted} AND responded_at IS NOT NULL AND received_at IS NOT NULL "
                          f"AND {delay_us} <= {limit}",
           "resolution_n": f"{counted} AND resolved IS NOT NULL", "resolved": f"{counted} AND resolved IS TRUE",
           "satisfaction_n": f"{counted} AND satisfied IS NOT NULL", "satisfied": f"{counted} AND satisfied IS TRUE"}
    params = {"rate_urgent": list(rules.urgent_categories),
              "rate_urgent_us": int(round(rules.urgent_limit_h * 3.6e12)) // 1000,
              "rate_limit_us": int(round(rules.response_limit_h * 3.6e12)) // 1000}
    return sql, params


def add_rates(counts: pd.DataFrame, *, rules: RateRules | None = None) -> pd.DataFrame:
    """``counts`` (:data:`COUNT_COLUMNS`) plus the rates and the composite score (a new frame)."""
    rules = rules or RateRules()
    out = counts.copy()
    for rate, num, den in (("response_rate", "response_ok", "response_n"),
                           ("resolution_rate", "resolved", "resolution_n"),
                           ("satisfaction_rate", "satisfied", "satisfaction_n")):
        d = out[den].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[rate] = np.where(d > 0, out[num].to_numpy(dtype=float) / d, np.nan)
    w = rules.weights
    out["score"] = 100.0 * (w[0] * out["response_rate"] + w[1] * out["resolution_rate"]
                            + w[2] * out["satisfaction_rate"])
    return out


def _units(complaints: pd.DataFrame, level: Level) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """(row positions, unit number, unit names): one entry per complaint and unit, units numbered in name order;
    departments split on ';' (双派单: a complaint counts once for each unit it names)."""
    col = level.column
    if col not in complaints.columns:
        raise ValidationError(f"complaints carry no {col}", [Problem(None, col, "column missing")],
                              fix="import complaints with cells (street and community codes) and handling records")
    s = complaints[col]
    if level is Level.DEPARTMENT:
        parts = s.astype("string").str.split(";")
        ex = parts.explode()
        ex = ex.astype("string").str.strip()
        pos = np.repeat(np.arange(len(s)), parts.map(lambda v: len(v) if isinstance(v, list) else 1).to_numpy())
        keep = (ex.notna() & (ex != "")).to_numpy(dtype=bool)
        # a unit named twice in one complaint counts once
        pairs = pd.DataFrame({"p": pos[keep], "u": ex.to_numpy(dtype=object)[keep]}).drop_duplicates()
        codes, uniq = pd.factorize(pairs["u"], sort=True)
        return pairs["p"].to_numpy(), codes, pd.Index(uniq, name="unit")
    codes, uniq = pd.factorize(s, sort=True)  # missing -> -1
    pos = np.flatnonzero(codes >= 0)
    return pos, codes[pos], pd.Index(np.asarray(uniq, dtype=object), name="unit")


def sum_flags(flags: dict[str, np.ndarray], pos: np.ndarray, codes: np.ndarray, n_units: int,
              buckets: np.ndarray | None, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum the flags per (unit, bucket) with bincount: (sums [n_units * n_buckets, len(COUNT_COLUMNS)], keys of
    the (unit, bucket) pairs with complaints); key = unit * n_buckets + bucket."""
    key = codes.astype(np.int64) * n_buckets
    if buckets is not None:
        b = buckets[pos]
        ok = b >= 0
        key, pos = key[ok] + b[ok], pos[ok]
    size = n_units * n_buckets
    sums = np.zeros((size, len(COUNT_COLUMNS)), dtype=np.int64)
    if not size:
        return sums, np.array([], dtype=np.int64)
    n_rows = len(flags["complaints"])
    every_row = len(pos) == n_rows and bool(np.array_equal(pos, np.arange(n_rows)))  # no gather needed
    sums[:, 0] = np.bincount(key, minlength=size)
    # the other flags a few at a time: each pass packs k flags into the key and counts (unit, bucket, k bits) in
    # one bincount whose table stays cache-sized (a table per flag costs a pass each; one table for all 8 flags
    # is too big to stay in cache)
    k = int(max(1, min(8, np.floor(np.log2(max(2.0, _CACHE_BINS / size))))))
    names = COUNT_COLUMNS[1:]
    for start in range(0, len(names), k):
        chunk = names[start:start + k]
        code = key << len(chunk)
        for j, name in enumerate(chunk):
            f = flags[name] if every_row else flags[name][pos]
            code += f.astype(np.int64) << j
        table = np.bincount(code, minlength=size << len(chunk)).reshape(size, 1 << len(chunk))
        bits = (np.arange(1 << len(chunk))[:, None] >> np.arange(len(chunk))[None, :]) & 1
        sums[:, 1 + start:1 + start + len(chunk)] = table @ bits
    return sums, np.flatnonzero(sums[:, 0] > 0)


def _window(complaints: pd.DataFrame, start: Any, end: Any) -> pd.DataFrame:
    if start is None and end is None:
        return complaints
    t = pd.to_datetime(complaints["received_at"])
    m = pd.Series(True, index=complaints.index)
    if start is not None:
        m &= t >= pd.Timestamp(start)
    if end is not None:
        m &= t < pd.Timestamp(end)
    return complaints[m.to_numpy()]


def unit_rates(complaints: pd.DataFrame, *, level: "str | Level", start: Any = None, end: Any = None,
               rules: RateRules | None = None) -> pd.DataFrame:
    """Counts, rates and score per unit of ``level`` over ``[start, end)`` (all rows when not given).

    Index ``unit`` (sorted); columns :data:`COUNT_COLUMNS` + :data:`RATE_COLUMNS`; units without complaints in
    the window are not listed.
    """
    level = Level.parse(level)
    sel = _window(complaints, start, end)
    flags = _flag_arrays(sel, rules=rules)
    pos, codes, uniq = _units(sel, level)
    sums, nz = sum_flags(flags, pos, codes, len(uniq), None, 1)
    counts = pd.DataFrame(sums[nz], index=uniq[nz], columns=COUNT_COLUMNS)
    counts.index.name = "unit"
    return add_rates(counts, rules=rules)


def monthly_rates(complaints: pd.DataFrame, *, level: "str | Level", first: Any, last: Any,
                  rules: RateRules | None = None) -> pd.DataFrame:
    """Counts, rates and score per unit and month for every month ``first..last`` (inclusive, 'YYYY-MM').

    Long format: columns ``unit``, ``month`` ('YYYY-MM'), :data:`COUNT_COLUMNS`, :data:`RATE_COLUMNS`; a (unit,
    month) without complaints is not listed. One pass over the rows (bincount), so 10 M complaints x 12 months
    take seconds (``benchmarks/bench_rates.py``).
    """
    level = Level.parse(level)
    p0, p1 = parse_month(first, where="first"), parse_month(last, where="last")
    n_months = p1.ordinal - p0.ordinal + 1
    if n_months < 1:
        raise ValidationError(message("the last month is before the first", got=f"{p0} .. {p1}",
                                      fix="give the months in order"))
    rec = pd.to_datetime(complaints["received_at"]).to_numpy(dtype="datetime64[ns]")
    # calendar months by their start times (searchsorted: much faster than a datetime64[M] conversion)
    edges = pd.period_range(p0, p1 + 1, freq="M").start_time.to_numpy(dtype="datetime64[ns]").view(np.int64)
    month = np.searchsorted(edges, rec.view(np.int64), side="right") - 1
    month = np.where(~np.isnat(rec) & (month >= 0) & (month < n_months), month, -1)
    flags = _flag_arrays(complaints, rules=rules)
    pos, codes, uniq = _units(complaints, level)
    sums, nz = sum_flags(flags, pos, codes, len(uniq), month, n_months)
    out = pd.DataFrame(sums[nz], columns=COUNT_COLUMNS)
    months = pd.period_range(p0, p1, freq="M").astype(str).to_numpy()
    out.insert(0, "month", months[nz % n_months])
    out.insert(0, "unit", uniq.to_numpy(dtype=object)[nz // n_months])
    return add_rates(out, rules=rules)


def month_over_month(monthly: pd.DataFrame, *, month: Any) -> pd.DataFrame:
    """The rows of ``month`` from :func:`monthly_rates` with the previous month's rates and score and the change
    (``*_change`` = this month minus last month; NaN where either is missing). Index ``unit``."""
    p = parse_month(month)
    now = monthly[monthly["month"] == str(p)].set_index("unit")
    before = monthly[monthly["month"] == str(p - 1)].set_index("unit")[RATE_COLUMNS]
    out = now.drop(columns="month").join(before.add_suffix("_prev"), how="left")
    for c in RATE_COLUMNS:
        out[f"{c}_change"] = out[c] - out[f"{c}_prev"]
    return out


def exclusion_counts(complaints: pd.DataFrame, *, level: "str | Level", start: Any = None,
                     end: Any = None) -> pd.DataFrame:
    """Excluded complaints per unit and reason (不合理诉求剔除): index ``unit``, one column per reason
    (``(未注明 not given)`` when a complaint is excluded without a reason), plus ``total``."""
    level = Level.parse(level)
    sel = _window(complaints, start, end)
    if "excluded" not in sel.columns:
        return pd.DataFrame(columns=["total"], index=pd.Index([], name="unit"))
    exc = sel[sel["excluded"].fillna(False).astype(bool).to_numpy()]
    pos, codes, uniq = _units(exc, level)
    units = uniq.to_numpy(dtype=object)[codes]
    reason = exc.get("exclusion_reason", pd.Series(None, index=exc.index)).astype(object)
    reason = reason.where(reason.notna(), "(未注明 not given)").to_numpy(dtype=object)
    if not len(pos):
        return pd.DataFrame(columns=["total"], index=pd.Index([], name="unit"))
    table = pd.crosstab(pd.Series(units, name="unit"), pd.Series(reason[pos], name="reason"))
    table.columns.name = None
    table["total"] = table.sum(axis=1)
    return table
