"""The 接诉即办 三率 (response, resolution and satisfaction rates) per street or community and month, out of core:
streamed over the event partitions (here or on Dask), or ``GROUP BY`` in PostGIS.

The rule of what counts as responded in time, resolved and satisfied is not restated here: every row goes through
:func:`gridmap.performance.rates.handling_masks` (the function the in-memory tables of ``gridmap rank`` use), and on
PostGIS through its SQL form :func:`gridmap.performance.rates.handling_sql`. Each partition file is reduced to
integer sums per (unit, month) of :data:`~gridmap.performance.rates.COUNT_COLUMNS`; the sums of all files are added
and the rates and composite score computed once by :func:`~gridmap.performance.rates.add_rates`. The result is
the frame of :func:`gridmap.performance.monthly_rates` on the same rows (``unit``, ``month`` 'YYYY-MM', counts,
rates, score), so counts are equal and rates equal to the last bit.

As in memory: a complaint belongs to the month it was received in; complaints without a street (community) code
are not in any unit's rates (their number is logged); a (unit, month) without complaints is not listed.

>>> from gridmap.events.rates import rate_level
>>> rate_level("community").column
'community_code'
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gridmap._enums import ChoiceEnum
from gridmap.errors import UsageError, message
from gridmap.events.analysis import UNASSIGNED, Selection, _codes, run_partials
from gridmap.performance.rates import COUNT_COLUMNS, add_rates, handling_masks, handling_sql, parse_month, sum_flags
from gridmap.performance.rules import Level, RateRules

__all__ = ["RatePeriod", "rate_level", "month_window", "partition_masks", "stream_rates", "sql_rates",
           "RATE_SOURCE_COLUMNS"]

log = logging.getLogger(__name__)

#: The event columns the rates read (besides the unit's code column): never the text.
RATE_SOURCE_COLUMNS = ["received_at", "responded_at", "category", "resolved", "satisfied", "excluded"]
#: Rows read at a time from a partition file (the files' row groups are 2**20 rows).
BATCH_ROWS = 1 << 20


class RatePeriod(ChoiceEnum, what="rate period"):
    """Rates per calendar ``month`` (of ``received_at``), or over the whole window (``all``)."""

    MONTH = "month"
    ALL = "all"


def rate_level(level: "str | Level") -> Level:
    """The level of the streamed rates: street or community (the code columns every event carries)."""
    lv = Level.parse(level)
    if lv not in (Level.STREET, Level.COMMUNITY):
        raise UsageError(message("the events store computes rates by street or community", where="--by",
                                 got=lv.value, fix="use --by street or --by community (departments and categories: "
                                                   "gridmap rank --level ...)"))
    return lv


def month_window(first: Any = None, last: Any = None) -> tuple[pd.Period | None, pd.Period | None]:
    """``first``/``last`` as monthly Periods (None stays open); the last before the first is a usage error."""
    p0 = None if first is None else parse_month(first, where="first month")
    p1 = None if last is None else parse_month(last, where="last month")
    if p0 is not None and p1 is not None and p1 < p0:
        raise UsageError(message("the last month is before the first", where="first/last month",
                                 got=f"{p0} .. {p1}", fix="give the months in order"))
    return p0, p1


def _selection(first: pd.Period | None, last: pd.Period | None) -> Selection:
    return Selection.of(start=None if first is None else first.start_time,
                        end=None if last is None else (last + 1).start_time)


# -- streamed ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _RateSpec:
    column: str
    sel: Selection
    rules: RateRules


def _yes_no(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(known, true) of a nullable boolean column."""
    known = pc.is_valid(col).to_numpy(zero_copy_only=False)
    true = pc.fill_null(col, False).to_numpy(zero_copy_only=False)
    return np.asarray(known, dtype=bool), np.asarray(true, dtype=bool)


def _times_ns(col: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(col.to_numpy(zero_copy_only=False)).astype("datetime64[ns]")


def partition_masks(table: pa.Table, rules: RateRules) -> dict[str, np.ndarray]:
    """:func:`~gridmap.performance.rates.handling_masks` of the rows of an events table (Arrow in, no pandas)."""
    urgent = pc.fill_null(pc.is_in(table.column("category").cast(pa.string()),
                                   value_set=pa.array(list(rules.urgent_categories), pa.string())), False)
    return handling_masks(received=_times_ns(table.column("received_at")),
                          responded=_times_ns(table.column("responded_at")),
                          urgent=np.asarray(urgent.to_numpy(zero_copy_only=False), dtype=bool),
                          excluded=_yes_no(table.column("excluded")), resolved=_yes_no(table.column("resolved")),
                          satisfied=_yes_no(table.column("satisfied")), rules=rules)


def _batch_sums(table: pa.Table, spec: _RateSpec) -> tuple[pd.DataFrame, int]:
    """Sums per (unit, month since 1970) of :data:`COUNT_COLUMNS` of the selected rows of ``table``, and how many
    of them have no unit."""
    mask = spec.sel.mask(table)
    if mask is not None:
        table = table.filter(mask)
    if not table.num_rows:
        return pd.DataFrame(columns=["unit", "month", *COUNT_COLUMNS]), 0
    idx, values = _codes(table.column(spec.column))
    month = np.asarray(table.column("received_at").to_numpy()).astype("datetime64[M]").astype(np.int64)
    has_unit = idx != len(values) - 1  # the last value is (unassigned): a null code
    m0 = int(month.min())
    n_months = int(month.max()) - m0 + 1
    pos = np.flatnonzero(has_unit)
    sums, nz = sum_flags(partition_masks(table, spec.rules), pos, idx[pos], len(values) - 1, month - m0, n_months)
    out = pd.DataFrame(sums[nz], columns=COUNT_COLUMNS)
    out.insert(0, "month", m0 + nz % n_months)
    out.insert(0, "unit", values[nz // n_months])
    return out, int((~has_unit).sum())


def _rates_partial(path: str, spec: _RateSpec) -> tuple[pd.DataFrame, int]:
    """One file's sums per (unit, month since 1970), and its rows without a unit: read a row group's worth of rows
    at a time (memory bounded by :data:`BATCH_ROWS`, whatever the size of a month)."""
    parts, no_unit = [], 0
    with pq.ParquetFile(path) as pf:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=[spec.column, *RATE_SOURCE_COLUMNS]):
            sums, n = _batch_sums(pa.Table.from_batches([batch]), spec)
            no_unit += n
            if len(sums):
                parts.append(sums)
    if len(parts) <= 1:
        return (parts[0] if parts else pd.DataFrame(columns=["unit", "month", *COUNT_COLUMNS])), no_unit
    both = pd.concat(parts, ignore_index=True)  # batches' dictionaries differ: add up by value
    return both.groupby(["unit", "month"], sort=False)[COUNT_COLUMNS].sum().reset_index(), no_unit


def _finish(sums: pd.DataFrame, period: RatePeriod, rules: RateRules) -> pd.DataFrame:
    """Add the partial sums per (unit, month) and compute the rates (months as 'YYYY-MM')."""
    keys = ["unit", "month"] if period is RatePeriod.MONTH else ["unit"]
    if sums.empty:
        out = pd.DataFrame({k: pd.Series([], dtype=object) for k in keys}
                           | {c: pd.Series([], dtype=np.int64) for c in COUNT_COLUMNS})
    else:
        out = sums.groupby(keys, sort=True)[COUNT_COLUMNS].sum().reset_index()
        out["unit"] = out["unit"].to_numpy(dtype=object)  # text as the in-memory tables have it
        out[COUNT_COLUMNS] = out[COUNT_COLUMNS].astype(np.int64)
    return add_rates(out, rules=rules)


def stream_rates(files: Sequence[str | Path], *, by: "str | Level" = Level.STREET,
                 period: "str | RatePeriod" = RatePeriod.MONTH, first: Any = None, last: Any = None,
                 rules: RateRules | None = None, client: Any = None,
                 progress: Callable[[int, int, str], None] | None = None) -> pd.DataFrame:
    """Counts, rates and score per street (community) and month of the events in ``files``, streamed file by
    file (each file read alone, only the columns the rates need), here or on a Dask ``client``.

    Equal to :func:`gridmap.performance.monthly_rates` ``(rows, level=by, first=, last=)`` on the same rows:
    columns ``unit``, ``month`` ('YYYY-MM'; absent with ``period='all'``, the whole window), then
    :data:`~gridmap.performance.rates.COUNT_COLUMNS` and :data:`~gridmap.performance.rates.RATE_COLUMNS`.
    ``first``/``last`` ('YYYY-MM', inclusive) bound the months; None: every month of the files.
    """
    level, per = rate_level(by), RatePeriod.parse(period)
    rules = rules or RateRules()
    spec = _RateSpec(level.column, _selection(*month_window(first, last)), rules)
    parts = run_partials(_rates_partial, files, spec, client=client, progress=progress)
    frames = [f for f, _ in parts if len(f)]
    sums = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["unit", "month", *COUNT_COLUMNS])
    if per is RatePeriod.MONTH and len(sums):
        months = sums["month"].to_numpy(dtype=np.int64).astype("datetime64[M]")
        sums["month"] = np.datetime_as_string(months, unit="M")
    out = _finish(sums, per, rules)
    _log(out, level, sum(n for _, n in parts), f"{len(files)} file(s)")
    return out


# -- in PostGIS -------------------------------------------------------------------------------------------------------
def sql_rates(src: Any, *, by: "str | Level" = Level.STREET, period: "str | RatePeriod" = RatePeriod.MONTH,
              first: Any = None, last: Any = None, rules: RateRules | None = None) -> pd.DataFrame:
    """The frame of :func:`stream_rates` from the events table of ``src`` (a
    :class:`~gridmap.events.postgis.PostgisEvents`): one ``GROUP BY unit[, month]`` with a ``count(*) FILTER``
    per count column (the conditions of :func:`~gridmap.performance.rates.handling_sql`); only the sums leave the
    database. The month window prunes the month partitions."""
    level, per = rate_level(by), RatePeriod.parse(period)
    rules = rules or RateRules()
    conds, params = handling_sql(rules)
    where, sel_params = src._where(_selection(*month_window(first, last)))
    col = level.column
    where = (where + " AND " if where else " WHERE ") + f"{col} IS NOT NULL"
    sums = ", ".join(f"count(*) FILTER (WHERE {conds[c]}) AS {c}" for c in COUNT_COLUMNS)
    month = ", to_char(received_at, 'YYYY-MM') AS month" if per is RatePeriod.MONTH else ""
    group = "1, 2" if per is RatePeriod.MONTH else "1"
    sql = f'SELECT {col} AS unit{month}, {sums} FROM "{src.table}"{where} GROUP BY {group}'
    types = {"unit": pa.string(), **({"month": pa.string()} if month else {}),
             **{c: pa.int64() for c in COUNT_COLUMNS}}
    out = _finish(src._fetch(sql, {**sel_params, **params}, types), per, rules)
    _log(out, level, None, "PostGIS")
    return out


def _log(out: pd.DataFrame, level: Level, no_unit: int | None, where: str) -> None:
    if no_unit:
        log.warning("%d event(s) without a %s code are in no unit's rates (%s)", no_unit, level.value, UNASSIGNED)
    log.info("三率 of %d %s row(s) over %d complaint(s) from %s", len(out), level.value,
             int(out["complaints"].sum()) if len(out) else 0, where)
