"""Importing 12345 complaints: CSV, JSON (incl. Open311 GeoReport v2) and GeoJSON, with per-row rejection.

What happens to every row (nothing is dropped silently):

- **Fields** are mapped from our names, Chinese 12345 export headers or Open311 GeoReport v2 names
  (``service_request_id``, ``requested_datetime``, ``description``, ``service_name``, ``address``, ``lat``,
  ``long``, ``status``, ``updated_datetime``); ``mapping=`` adds your own (our field -> your column).
- **Times** in mixed formats (ISO 8601 with or without ``T``/zone, ``2024/07/01 08:30``, ``2024年7月1日 8时30分``,
  epoch seconds or milliseconds) become naive China Standard Time: aware times are converted to UTC+8, naive
  times are taken as already in CST. Unparseable times reject the row.
- **Coordinates** are lon/lat declared as ``wgs84``/``cgcs2000``/``gcj02``/``bd09`` (converted with
  :func:`gridmap.crs.lonlat_to_wgs84`, then :func:`gridmap.crs.to_working_xy`), or a GeoJSON point. Missing,
  swapped-looking or non-numeric coordinates reject the row; so do points outside the district (outside every
  cell when ``cells`` are given, else outside ``bounds``, else outside Beijing's extent).
- **Text**: an empty complaint text rejects the row (a complaint must say what it is about).
- **Category**: normalised against the catalog (:mod:`gridmap.warning.categories`); an unknown or missing
  category is **mapped to 其他 and reported as a warning** (kept, with the original value in the report).
- **Identity**: ``source_id`` (work-order number); when absent, a stable hash of the row's time, rounded
  position, text and address (``h-`` + 16 hex digits), so re-importing the same file gives the same ids.
  A repeated id inside one file rejects the later row. Importing into a store skips ids already stored
  (reported as ``already_stored``), so re-importing the same file adds nothing.

Examples
--------
>>> import pandas as pd
>>> raw = pd.DataFrame({"service_request_id": ["A1", "A2"], "requested_datetime": ["2024-07-01T00:30:00Z",
...        "2024/07/01 09:00"], "description": ["屋顶漏雨", ""], "service_name": ["房屋漏雨", "噪音"],
...        "lat": [39.9087, 39.9], "long": [116.3975, 116.4]})
>>> res = parse_complaints(raw, lonlat="wgs84")
>>> res.frame["received_at"].astype(str).tolist()
['2024-07-01 08:30:00']
>>> [(p.row, p.field) for p in res.rejected]
[(1, 'text')]
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.errors import GEOSException

from gridmap.crs import LonLatSystem, to_working_xy, working_crs
from gridmap.errors import InputFileError, Problem, ValidationError, message
from gridmap.warning.categories import FALLBACK_CATEGORY, normalise_category

__all__ = ["FIELD_ALIASES", "ComplaintImport", "parse_timestamp", "parse_timestamps", "parse_complaints", "read_complaints",
           "import_complaints", "stable_id"]

log = logging.getLogger(__name__)

CST = "Asia/Shanghai"
#: Beijing's extent in lon/lat (WGS 84), used when no district is given.
BEIJING_LONLAT = (115.4, 39.4, 117.6, 41.1)

#: our field -> accepted source names (case-insensitive; first match wins).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "source_id": ("source_id", "service_request_id", "id", "工单编号", "工单号", "诉求编号", "编号"),
    "received_at": ("received_at", "requested_datetime", "受理时间", "来电时间", "诉求时间", "time", "datetime"),
    "category": ("category", "service_name", "诉求类别", "问题分类", "类别", "分类"),
    "text": ("text", "description", "诉求内容", "内容", "问题描述"),
    "address": ("address", "地址", "诉求地址", "事发地址"),
    "status": ("status", "办理状态", "状态"),
    "closed_at": ("closed_at", "办结时间", "完成时间"),
    "updated_at": ("updated_datetime",),
    "lon": ("lon", "long", "lng", "longitude", "经度", "x"),
    "lat": ("lat", "latitude", "纬度", "y"),
}

_CLOSED = {"closed", "办结", "已办结", "已解决", "完成", "已完成"}
_ZH_DT = re.compile(r"^\s*(\d{4})年(\d{1,2})月(\d{1,2})日\s*(?:(\d{1,2})[时:：](\d{1,2})?(?:分)?(?:(\d{1,2})秒?)?)?\s*$")


#: The range a stored time can take (datetime64[ns]); a time outside it rejects its row.
TIME_RANGE = (pd.Timestamp.min.ceil("s"), pd.Timestamp.max.floor("s"))


def _parse_one(value: object) -> tuple[pd.Timestamp | None, bool]:
    """One time value -> (timestamp, carried its own zone); a zoned time is returned in CST, tz-naive."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None, False
    if isinstance(value, (int, float, np.integer, np.floating)) or (isinstance(value, str) and
                                                                      re.fullmatch(r"\d{10}(\d{3})?", value.strip())):
        v = float(value)
        unit = "ms" if v > 1e11 else "s"
        try:
            return pd.Timestamp(v, unit=unit, tz="UTC").tz_convert(CST).tz_localize(None), True
        except (ValueError, OverflowError):  # OutOfBoundsDatetime is a ValueError
            return None, True
    if isinstance(value, (pd.Timestamp, datetime)):
        ts = pd.Timestamp(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
        if not text:
            return None, False
        m = _ZH_DT.match(text)
        if m:
            y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
            try:
                return pd.Timestamp(y, mo, d, h, mi, s), False
            except (ValueError, OverflowError):
                return None, False
        try:
            ts = pd.Timestamp(text.replace("/", "-"))
        except (ValueError, TypeError, OverflowError):
            return None, False
    if ts is pd.NaT:
        return None, False
    if ts.tzinfo is not None:
        return ts.tz_convert(CST).tz_localize(None), True
    return ts, False


def _localize(ts: pd.Timestamp | None, tz: str) -> pd.Timestamp | None:
    """A naive time read in zone ``tz`` -> naive CST."""
    if ts is None or tz == CST:
        return ts
    try:
        return ts.tz_localize(tz).tz_convert(CST).tz_localize(None)
    except (ValueError, OverflowError):  # a time that does not exist (or exists twice) in tz, or out of range
        return None


def parse_timestamp(value: object, *, tz: str = CST) -> pd.Timestamp | None:
    """One time value -> naive China Standard Time, or ``None`` if it cannot be read.

    A time without a zone is taken as a time in ``tz`` (default Asia/Shanghai, i.e. already CST).

    >>> str(parse_timestamp("2024-07-01T00:30:00Z"))
    '2024-07-01 08:30:00'
    >>> str(parse_timestamp("2024年7月1日 8时30分"))
    '2024-07-01 08:30:00'
    >>> str(parse_timestamp(1719793800))      # epoch seconds (UTC)
    '2024-07-01 08:30:00'
    >>> str(parse_timestamp("2024-07-01 00:30", tz="UTC"))
    '2024-07-01 08:30:00'
    >>> parse_timestamp("next tuesday") is None
    True
    """
    ts, aware = _parse_one(value)
    ts = ts if aware else _localize(ts, tz)
    if ts is not None and not (TIME_RANGE[0] <= ts <= TIME_RANGE[1]):
        return None
    return ts


_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


def _ns(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """datetime64 values of any unit (or Timestamps/None) -> (datetime64[ns], out-of-range mask)."""
    arr = np.asarray(values)
    if arr.dtype == object:
        arr = np.array([np.datetime64("NaT") if v is None or v is pd.NaT else np.datetime64(pd.Timestamp(v).to_datetime64())
                        for v in arr], dtype="datetime64[us]") if len(arr) else np.array([], dtype="datetime64[us]")
    if arr.dtype.kind != "M":
        arr = arr.astype("datetime64[us]")
    # compare in seconds: comparing a microsecond value with a nanosecond bound would convert (and wrap) it first
    sec = arr.astype("datetime64[s]")
    lo, hi = (np.datetime64(t.to_pydatetime().replace(tzinfo=None), "s") for t in TIME_RANGE)
    nat = np.isnat(arr)
    out_of_range = ~nat & ((sec < lo) | (sec > hi))
    ok = ~nat & ~out_of_range
    out = np.full(arr.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    out[ok] = arr[ok].astype("datetime64[ns]")
    return out, out_of_range


def parse_timestamps(values: pd.Series, *, tz: str = CST, info: dict[str, pd.Series] | None = None) -> pd.Series:
    """Vectorised :func:`parse_timestamp`: a Series of naive China Standard Time (``NaT`` where unreadable).

    Common shapes are parsed in bulk (epoch seconds/milliseconds, ISO 8601 naive or with a zone, ``/`` as the
    date separator, ``2024年7月1日 8时30分``); anything else falls back to :func:`parse_timestamp`, once per
    distinct value. Times without a zone are taken in ``tz`` (default Asia/Shanghai). ``info``, when given, is
    filled with boolean Series ``naive`` (read without a zone) and ``out_of_range`` (a date outside
    :data:`TIME_RANGE`, e.g. year 9999: NaT, never wrapped around).

    >>> [str(t) for t in parse_timestamps(pd.Series(["2024-07-01T00:30:00Z", "2024/07/01 08:30",
    ...                                              "2024年7月1日 8时30分", "1719793800", None, "next tuesday"]))]
    ['2024-07-01 08:30:00', '2024-07-01 08:30:00', '2024-07-01 08:30:00', '2024-07-01 08:30:00', 'NaT', 'NaT']
    """
    tz = _check_tz(tz)  # an unknown zone fails here, before any row is read
    idx = values.index
    out = pd.Series(pd.NaT, index=idx, dtype="datetime64[ns]")
    naive = pd.Series(False, index=idx)
    far = pd.Series(False, index=idx)
    if info is not None:
        info["naive"], info["out_of_range"] = naive, far
    if len(values) == 0:
        return out
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        v = pd.to_datetime(values)
        if v.dt.tz is not None:
            v = v.dt.tz_convert(CST).dt.tz_localize(None)
        else:
            naive[:] = v.notna().to_numpy()
            if tz != CST:
                v = v.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert(CST).dt.tz_localize(None)
        arr, oor = _ns(v.to_numpy())
        far[:] = oor
        return pd.Series(arr, index=idx)
    if pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(values.dtype):
        obj, is_num = values, pd.Series(False, index=idx)
    else:
        obj = values.astype(object)
        is_num = obj.map(lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool))
    text = obj.where(~is_num).astype("string").str.normalize("NFKC").str.strip()
    text = text.where(text != "")
    # epoch seconds / milliseconds (numbers, or 10/13-digit strings): UTC, so zoned
    digits = text.str.fullmatch(r"\d{10}(?:\d{3})?").fillna(False).astype(bool)
    num = pd.to_numeric(obj.where(is_num), errors="coerce") if is_num.any() else pd.Series(np.nan, index=idx)
    num = num.where(is_num, pd.to_numeric(text.where(digits), errors="coerce"))
    epoch = num.notna()
    if epoch.any():
        e = num[epoch].astype(float).to_numpy()
        secs = np.where(e > 1e11, e / 1000.0, e)
        lo, hi = (t.timestamp() for t in TIME_RANGE)
        fits = np.isfinite(secs) & (secs >= lo) & (secs <= hi)
        got = np.full(len(secs), np.datetime64("NaT"), dtype="datetime64[ns]")
        if fits.any():
            got[fits] = (pd.to_datetime(secs[fits], unit="s", utc=True).tz_convert(CST).tz_localize(None)).to_numpy()
        out[epoch] = got
        far[epoch[epoch].index[~fits & np.isfinite(secs)]] = True
    rest = text[text.notna() & ~epoch].str.replace("/", "-", regex=False)
    if len(rest):
        # ISO 8601, naive (in tz) or with a zone (converted to CST)
        aware = rest.str.contains(_TZ_SUFFIX.pattern, regex=True).fillna(False).astype(bool)
        if (~aware).any():
            arr, oor = _ns(pd.to_datetime(rest[~aware], format="ISO8601", errors="coerce").to_numpy())
            out[rest.index[~aware]] = arr
            far[rest.index[~aware][oor]] = True
            naive[rest.index[~aware][~np.isnat(arr)]] = True
        if aware.any():
            ta = pd.to_datetime(rest[aware], format="ISO8601", errors="coerce", utc=True)
            arr, oor = _ns(ta.dt.tz_convert(CST).dt.tz_localize(None).to_numpy())
            out[rest.index[aware]] = arr
            far[rest.index[aware][oor]] = True
        left = rest[(out[rest.index].isna() & ~far[rest.index]).to_numpy()]
        # 2024年7月1日 8时30分
        zh = left.str.match(_ZH_DT.pattern).fillna(False).astype(bool)
        if zh.any():
            parts = left[zh].str.extract(_ZH_DT.pattern).astype(float).fillna(0)
            parts.columns = ["year", "month", "day", "hour", "minute", "second"]
            arr, oor = _ns(pd.to_datetime(parts, errors="coerce").to_numpy())
            out[parts.index] = arr
            far[parts.index[oor]] = True
            naive[parts.index[~np.isnat(arr)]] = True
        # anything the bulk parsers could not read: one value at a time (each distinct value once)
        left = left.index[(out[left.index].isna() & ~far[left.index]).to_numpy()]
        if len(left):
            raw = values[left].astype(object).astype(str)
            uniq = {v: _parse_one(v) for v in pd.unique(raw)}
            arr, oor = _ns([uniq[v][0] for v in raw])
            out[left] = arr
            far[left[oor]] = True
            naive[left[~np.isnat(arr) & np.array([not uniq[v][1] for v in raw], dtype=bool)]] = True
    if tz != CST and naive.any():
        conv = out[naive].dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert(CST)
        arr, oor = _ns(conv.dt.tz_localize(None).to_numpy())
        out[naive] = arr
        far[naive[naive].index[oor]] = True
    return out


def stable_id(received_at: object, lon: object, lat: object, text: object, address: object) -> str:
    """A stable id for a row without a work-order number (same row -> same id)."""
    def part(v: object) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, float):
            return f"{v:.6f}"
        return unicodedata.normalize("NFKC", str(v)).strip()
    key = "|".join(part(v) for v in (received_at, lon, lat, text, address))
    return "h-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


@dataclass
class ComplaintImport:
    """Result of parsing (and importing) complaints: the accepted rows, rejections, warnings, counts."""

    frame: gpd.GeoDataFrame
    rejected: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    written: int = 0
    already_stored: int = 0
    where: str = "input"
    read: int | None = None
    tz: str = CST
    naive_times: int = 0
    dry_run: bool = False
    #: how the accepted rows got their category and what fell into 其他 (gridmap.io.categories.category_summary)
    categories: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        """How many rows were rejected (a row with several problems counts once)."""
        return len({str(p.row) for p in self.rejected})

    @property
    def accepted(self) -> int:
        """Rows that passed every check: ``read == accepted + rejected_rows``."""
        return len(self.frame) if self.read is None else self.read - self.rejected_rows

    def by_reason(self) -> list[tuple[str, int]]:
        """Rejected rows grouped by their first reason, most frequent first (each row counted once)."""
        from gridmap.errors import group_reasons

        return group_reasons(self.rejected)

    @property
    def report(self) -> pd.DataFrame:
        """Every rejected row and every warning: row, field, reason, value, action."""
        from gridmap.errors import plain_value

        rows = [{"row": p.row, "field": p.field, "reason": p.reason, "value": plain_value(p.value),
                 "action": "rejected"} for p in self.rejected]
        rows += [{"row": p.row, "field": p.field, "reason": p.reason, "value": plain_value(p.value), "action": "kept"}
                 for p in self.warnings]
        return pd.DataFrame(rows, columns=["row", "field", "reason", "value", "action"])

    def __str__(self) -> str:
        read = len(self.frame) + self.rejected_rows if self.read is None else self.read
        s = (f"complaints from {self.where}: {read} read: {self.accepted} accepted, {self.rejected_rows} rejected, "
             f"{len(self.warnings)} warning(s)")
        if self.dry_run:
            s += f"; dry run: {self.accepted - self.already_stored} would be written, {self.already_stored} " \
                 "already stored"
        elif self.written or self.already_stored:
            s += f"; {self.written} written, {self.already_stored} already stored"
        if self.naive_times:
            s += f"\ntimes without a zone: {self.naive_times}, read as {self.tz} time (--tz to change)"
        s += "".join(f"\n{n}" for n in self.notes)
        if self.categories:
            c = self.categories
            top = "、".join(f"{k if k is not None else '(none)'} {v}" for k, v in
                           list(c["unmapped_values"].items())[:5])
            s += (f"\ncategories: {c['by_value_map']} from your map, {c['by_catalog']} from the catalog, "
                  f"{c['by_keyword']} by keyword; {c['other']} in {FALLBACK_CATEGORY}"
                  + (f" ({c['unmapped']} unknown: {top})" if c["unmapped"] else ""))
        if self.rejected:
            s += "\nrejected rows by reason:"
            for reason, count in self.by_reason():
                s += f"\n  {count:>7}  {reason}"
        for p in self.rejected[:10]:
            s += f"\n  - rejected {p}"
        if len(self.rejected) > 10:
            s += f"\n  ... and {len(self.rejected) - 10} more problem(s) (see the report)"
        for p in self.warnings[:5]:
            s += f"\n  - warning {p}"
        return s


def _pick(columns: list[str], mapping: dict[str, str] | None) -> dict[str, str]:
    lower = {str(c).strip().lower(): c for c in columns}
    out: dict[str, str] = {}
    for ours, names in FIELD_ALIASES.items():
        if mapping and ours in mapping:
            if mapping[ours] not in columns:
                raise ValidationError(f"mapped column {mapping[ours]!r} not found",
                                      [Problem(None, ours, "no such column", mapping[ours])],
                                      fix="columns are: " + ", ".join(map(str, columns)))
            out[ours] = mapping[ours]
            continue
        for n in names:
            if n.lower() in lower:
                out[ours] = lower[n.lower()]
                break
    return out


def parse_complaints(raw: pd.DataFrame, *, lonlat: "str | LonLatSystem" = "wgs84", cells: gpd.GeoDataFrame | None = None,
                     bounds: tuple[float, float, float, float] | None = None, crs: Any = None,
                     mapping: dict[str, str] | None = None, unknown_category: str = "other",
                     where: str = "input", tz: str = CST, category_map: Any = None) -> ComplaintImport:
    """Validate and convert a raw complaints table (one row per complaint) to the complaints contract.

    Parameters
    ----------
    raw : table of strings/numbers; a ``geometry`` column of lon/lat points (GeoJSON) is accepted instead of
        lon/lat columns.
    lonlat : the declared lon/lat system of the coordinates.
    cells : the cells layer; assigns ``cell_code``/``community_code``/``street_code`` and rejects points
        outside every cell (outside the district).
    bounds : ``(xmin, ymin, xmax, ymax)`` of the district in the working CRS, when no cells are given.
    unknown_category : 'other' (map to 其他 with a warning, default) or 'reject'.
    tz : the zone of times written without one (default Asia/Shanghai); how many there were is in the result's
        ``naive_times``, so the summary can say which zone was assumed.
    category_map : a :class:`gridmap.io.categories.CategoryMap` (your values / text keywords -> catalog
        categories), applied before the catalog; the result's ``categories`` counts how the accepted rows got
        theirs and what fell into 其他.
    """
    if unknown_category not in ("other", "reject"):
        raise ValidationError(message("unknown_category must be 'other' or 'reject'", got=repr(unknown_category)))
    system = LonLatSystem.parse(lonlat)
    target = working_crs(crs if crs is not None else (cells.crs if cells is not None else None))
    cols = _pick(list(raw.columns), mapping)
    problems: list[Problem] = []
    warns: list[Problem] = []
    n = len(raw)
    idx = raw.index
    bad = np.zeros(n, dtype=bool)

    def reject(mask: Any, f: str, reason: str, values: Any = None) -> None:
        """Reject every row where ``mask`` is true (a row may collect several reasons)."""
        m = np.asarray(mask, dtype=bool)
        pos = np.flatnonzero(m)
        if not len(pos):
            return
        vals = [None] * len(pos) if values is None else list(np.asarray(values, dtype=object)[pos]) \
            if not callable(values) else [values(p) for p in pos]
        problems.extend(Problem(idx[p], f, reason, v) for p, v in zip(pos, vals))
        bad[pos] = True

    for need in ("received_at", "text"):
        if need not in cols:
            raise ValidationError(f"{where}: no {need} column", [Problem(None, need, "column not found",
                                  ", ".join(map(str, raw.columns)))],
                                  fix=f"name it {need} (or one of {', '.join(FIELD_ALIASES[need][1:4])}), or "
                                      f"pass mapping={{'{need}': 'YOUR_COLUMN'}} (CLI: --map {need}=YOUR_COLUMN)")
    col = lambda k: raw[cols[k]] if k in cols else pd.Series(None, index=idx, dtype=object)  # noqa: E731
    # times
    tz = _check_tz(tz)
    info: dict[str, pd.Series] = {}
    received = parse_timestamps(col("received_at"), tz=tz, info=info)
    far = info["out_of_range"].to_numpy()
    reject(far, "received_at", f"time out of range (a date between {TIME_RANGE[0].year} and {TIME_RANGE[1].year} is "
           "expected)", col("received_at"))
    reject(received.isna().to_numpy() & ~far, "received_at",
           "cannot read the time (use ISO 8601, '2024/07/01 08:30' or '2024年7月1日 8时30分')", col("received_at"))
    naive_received = info["naive"]
    closed = parse_timestamps(col("closed_at"), tz=tz)
    status = col("status").astype("string").str.strip()
    if "updated_at" in cols:  # Open311: updated_datetime of a closed request is its closing time
        upd = parse_timestamps(col("updated_at"), tz=tz)
        closed = closed.where(closed.notna(), upd.where(status.str.lower().isin(_CLOSED).fillna(False)))
    # text
    text = col("text").astype("string").str.strip()
    reject((text.isna() | (text == "")).fillna(True), "text", "complaint text is empty")
    # category (each distinct value normalised once)
    cat_raw = col("category")
    from gridmap.io.categories import assign_categories, category_summary  # your values/keywords, then the catalog

    category, cat_how = assign_categories(cat_raw, col("text"), category_map)
    unknown = category.isna().to_numpy()
    present = cat_raw.notna().to_numpy()
    if unknown_category == "reject":
        reject(unknown & present, "category", "category not in the catalog", cat_raw)
        unknown_kept = unknown & ~present
    else:
        unknown_kept = unknown
    category = category.astype(object).where(category.notna(), FALLBACK_CATEGORY)
    # coordinates
    if "lon" in cols and "lat" in cols:
        lon = pd.to_numeric(col("lon"), errors="coerce")
        lat = pd.to_numeric(col("lat"), errors="coerce")
    elif "geometry" in raw.columns:
        geoms = np.array([g if isinstance(g, shapely.Geometry) else None for g in raw["geometry"]], dtype=object)
        ok = ~shapely.is_missing(geoms) & (shapely.get_type_id(geoms) == 0)
        ok[ok] = ~shapely.is_empty(geoms[ok])  # an empty point has no x to read (GEOS would raise)
        lon = pd.Series(np.nan, index=idx)
        lat = pd.Series(np.nan, index=idx)
        lon[ok] = shapely.get_x(geoms[ok])
        lat[ok] = shapely.get_y(geoms[ok])
    else:
        raise ValidationError(f"{where}: no coordinates", [Problem(None, "lon/lat", "columns not found",
                              ", ".join(map(str, raw.columns)))], fix="name them lon/lat (or long/lat, 经度/纬度)")
    raw_lon, raw_lat = col("lon").to_numpy(dtype=object), col("lat").to_numpy(dtype=object)
    missing = (lon.isna() | lat.isna()).to_numpy()
    reject(missing, "lon/lat", "coordinates missing or not numbers", lambda p: (raw_lon[p], raw_lat[p]))
    swapped = ((lat.abs() > 90) & (lon.abs() <= 90)).fillna(False).to_numpy(dtype=bool)
    lon_v, lat_v = lon.to_numpy(dtype=float), lat.to_numpy(dtype=float)
    reject(swapped, "lon/lat", "latitude out of range: lon and lat look swapped", lambda p: (lon_v[p], lat_v[p]))
    ok = ~(missing | swapped)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    if ok.any():
        x[ok], y[ok] = to_working_xy(lon_v[ok], lat_v[ok], crs=target, system=system)
    codes = pd.DataFrame({"cell_code": None, "community_code": None, "street_code": None}, index=idx, dtype=object)
    if cells is not None:
        from gridmap.grid.assign import cell_codes

        sel = ok & ~bad
        outside = np.zeros(n, dtype=bool)
        # the lattice index (the same answers as geopandas.sjoin(predicate="intersects"), with its deterministic rule
        # for points on a boundary shared by several cells)
        if sel.any():
            cc = cell_codes(x[sel], y[sel], cells)
            codes.loc[idx[sel], ["cell_code", "community_code", "street_code"]] = cc.to_numpy()
            outside[np.flatnonzero(sel)[cc["cell_code"].isna().to_numpy()]] = True
        reject(outside, "geometry", "outside the district (no cell covers this point)",
               lambda p: (lon_v[p], lat_v[p]))
    else:
        if bounds is not None:
            x0, y0, x1, y1 = bounds
            inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
            label = f"district bounds {bounds}"
        else:
            ww, ss, ee, nn = BEIJING_LONLAT
            from gridmap.crs import lonlat_to_wgs84
            wl = np.full(n, np.nan)
            wt = np.full(n, np.nan)
            if ok.any():
                wl[ok], wt[ok] = lonlat_to_wgs84(lon_v[ok], lat_v[ok], system)
            inside = (wl >= ww) & (wl <= ee) & (wt >= ss) & (wt <= nn)
            label = "Beijing's extent"
        reject(ok & ~inside, "lon/lat", f"outside the district ({label})", lambda p: (lon_v[p], lat_v[p]))
    # identity
    sid = col("source_id").astype("string").str.strip()
    sid = sid.where(sid != "")
    no_id = sid.isna().to_numpy()
    if no_id.any():
        addr = col("address").to_numpy(dtype=object)
        rec = received.to_numpy(dtype=object)
        txt = text.to_numpy(dtype=object)
        sid[no_id] = [stable_id(rec[p], lon_v[p], lat_v[p], txt[p], addr[p]) for p in np.flatnonzero(no_id)]
    dup = sid.duplicated(keep="first").to_numpy() & ~bad
    reject(dup, "source_id", "repeated source_id in this input (the first row is kept)", sid.to_numpy(dtype=object))
    bad = pd.Series(bad, index=idx)
    keep = ~bad
    # a rejected row's category warning is noise: warn only for kept rows
    cat_values = cat_raw.to_numpy(dtype=object)
    warns.extend(Problem(idx[p], "category", f"category not in the catalog: mapped to {FALLBACK_CATEGORY}",
                         cat_values[p]) for p in np.flatnonzero(unknown_kept & keep.to_numpy()))
    def obj(v: pd.Series) -> pd.Series:  # text columns as object with None for missing (no pd.NA in the store)
        v = v[keep].astype(object)
        return v.where(v.notna(), None)

    frame = gpd.GeoDataFrame({
        "source_id": obj(sid), "received_at": received[keep], "category": obj(category),
        "text": obj(text), "address": obj(col("address").astype("string")), "status": obj(status),
        "closed_at": pd.to_datetime(closed[keep]), "cell_code": obj(codes["cell_code"]),
        "community_code": obj(codes["community_code"]), "street_code": obj(codes["street_code"])},
        geometry=gpd.points_from_xy(x[keep.to_numpy()], y[keep.to_numpy()]), crs=target, index=idx[keep])
    problems.sort(key=lambda p: (str(p.row), p.field or ""))
    log.info("parsed complaints from %s: %d row(s), %d accepted, %d rejected, %d category warning(s)", where, n,
             len(frame), len(problems), len(warns))
    kept = keep.to_numpy()
    return ComplaintImport(frame, problems, warns, where=where, read=n, tz=tz,
                           naive_times=int(naive_received[keep].sum()),
                           categories=category_summary(cat_raw[kept], cat_how[kept], category[kept]))


def _check_tz(tz: str) -> str:
    """``tz`` as an IANA zone name, or a clear error listing examples."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from gridmap.errors import UsageError

    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise UsageError(message("unknown time zone", where="--tz", got=repr(tz),
                                 fix="use an IANA name such as Asia/Shanghai (Beijing time), UTC or Asia/Hong_Kong")) \
            from None
    return str(tz)


def read_complaints(path: str | os.PathLike, *, encoding: str | None = None,
                    progress: Callable[[int, int, str], None] | None = None, **options: Any) -> ComplaintImport:
    """Read a CSV, JSON (a list of records, ``{"requests": [...]}`` or Open311 GeoReport v2), Open311 XML
    (:mod:`gridmap.io.open311`) or GeoJSON file and
    :func:`parse_complaints` it (``options`` are passed on). ``progress(done, total, label)``, if given, is called
    before reading and before parsing (steps 1 and 2 of :func:`import_complaints`'s five)."""
    from gridmap.io._reading import check_not_empty, reading

    p = Path(path)
    if progress:
        progress(1, _STEPS, f"read {p.name}")
    if not p.exists():
        raise FileNotFoundError(message("complaints file not found", got=str(p)))
    check_not_empty(p)
    suffix = p.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        if encoding is None:  # Excel in China saves CSV as GBK: decide UTF-8 vs GB18030 from the bytes
            from gridmap.io.encoding import decode_guess

            raw_bytes = p.read_bytes()
            codec, reason = ("UTF-8", "UTF-8 byte-order mark") if raw_bytes.startswith(b"\xef\xbb\xbf") \
                else decode_guess(raw_bytes)
            encoding = "utf-8-sig" if codec == "UTF-8" else "gb18030"
            log.info("%s: read as %s (%s)", p, codec, reason)
        with reading(p, encoding=encoding):
            raw = pd.read_csv(p, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False,
                              na_values=[""], encoding=encoding)
    elif suffix in (".json", ".geojson"):
        with reading(p, encoding=encoding or "utf-8-sig"):
            data = json.loads(p.read_text(encoding=encoding or "utf-8-sig"))
        if isinstance(data, dict) and data.get("type") == "FeatureCollection":
            feats = data.get("features") or []
            recs = []
            for k, f in enumerate(feats):
                r = dict(f.get("properties") or {}) if isinstance(f, dict) else {}
                g = f.get("geometry") if isinstance(f, dict) else None
                try:
                    r["geometry"] = shapely.geometry.shape(g) if g else None
                except (GEOSException, ValueError, TypeError, KeyError, AttributeError, IndexError):
                    r["geometry"] = None  # rejected in parse_complaints: coordinates missing
                recs.append(r)
            raw = pd.DataFrame.from_records(recs)
            if "geometry" not in raw.columns:
                raw["geometry"] = None
        else:
            if isinstance(data, dict):
                data = data.get("requests") or data.get("service_requests") or data.get("data") or []
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise InputFileError("expected a JSON list of complaints (objects)", path=p,
                                     got="top level is " + type(data).__name__ if not isinstance(data, list)
                                     else "a list whose items are not all objects",
                                     fix="use a list of objects, {'requests': [...]} or GeoJSON")
            raw = pd.DataFrame.from_records(data)
    elif suffix == ".xml":  # Open311 GeoReport v2 XML
        from gridmap.io.open311 import read_open311_xml

        with reading(p):
            raw = read_open311_xml(p)
    else:
        raise ValidationError(message("unsupported complaints file type", where=str(p), got=p.suffix,
                                      fix="use .csv, .json or .xml (Open311) or .geojson"))
    from gridmap.io.open311 import is_open311, normalise_open311

    notes: list[str] = []
    if is_open311(raw.columns):  # the standard's optional fields (description -> service_name ...)
        raw, notes = normalise_open311(raw)
    if progress:
        progress(2, _STEPS, f"check and assign {len(raw):,} rows")
    res = parse_complaints(raw, where=str(p), **options)
    res.notes.extend(notes)
    return res


#: Steps :func:`import_complaints` reports to its ``progress`` callback.
_STEPS = 5


def import_complaints(store: Any, source: "str | os.PathLike | pd.DataFrame", *, lonlat: str = "wgs84",
                      use_cells: bool = True, dry_run: bool = False, on_error: str = "reject",
                      progress: Callable[[int, int, str], None] | None = None, **options: Any) -> ComplaintImport:
    """Parse ``source`` (a file or a raw table) and write new complaints to ``store``; idempotent by source_id.

    Cells are read from the store (``use_cells``) to assign codes and reject points outside the district.
    Rows whose ``source_id`` is already stored are skipped and counted in ``already_stored``. ``dry_run``
    parses, validates and counts everything but writes nothing (``written`` stays 0). ``on_error='abort'``
    (CLI ``--strict``) writes nothing if any row is rejected, raising :class:`~gridmap.errors.ValidationError`.
    ``progress(done, total, label)``, if given, is called at each of five steps (read cells, read the file, check
    and assign, compare with the stored ids, write); the CLI draws a progress bar with it.
    """
    from gridmap.io import import_frame

    if on_error not in ("reject", "abort"):
        raise ValidationError(message("on_error must be 'reject' or 'abort'", got=repr(on_error)))
    if progress:
        progress(0, _STEPS, "read cells")
    cells = None
    if use_cells and store.count("cells"):
        cells = store.read("cells", columns=["code", "community_code"])
    opts = {"lonlat": lonlat, "cells": cells, "crs": store.crs, **options}
    if isinstance(source, pd.DataFrame):
        if progress:
            progress(2, _STEPS, f"check and assign {len(source):,} rows")
        res = parse_complaints(source, **opts)
    else:
        res = read_complaints(source, progress=progress, **opts)
    if progress:
        progress(3, _STEPS, "compare with stored complaints")
    stored = set(store.read("complaints", columns=["source_id"])["source_id"]) if store.count("complaints") else set()
    new = res.frame[~res.frame["source_id"].isin(stored)]
    res.already_stored = len(res.frame) - len(new)
    res.dry_run = dry_run
    if res.rejected and on_error == "abort":
        raise ValidationError(f"{res.rejected_rows} of {res.read} row(s) of {res.where} rejected; nothing was "
                              "imported (--strict)", res.rejected,
                              fix="fix the rows (the report lists each with its reason), or import without --strict "
                                  "to keep the good ones")
    if dry_run:
        log.info("dry run of complaints from %s: %d would be written, %d already stored, %d rejected", res.where,
                 len(new), res.already_stored, len(res.rejected))
        return res
    if progress:
        progress(4, _STEPS, f"write {len(new):,} complaints")
    if len(new):
        out = import_frame(store, "complaints", new, on_error=on_error, where=res.where)
        res.written = out.written
        res.rejected += out.rejected
    if progress:
        progress(_STEPS, _STEPS, "done")
    log.info("imported complaints from %s: %d written, %d already stored, %d rejected", res.where, res.written,
             res.already_stored, len(res.rejected))
    return res
