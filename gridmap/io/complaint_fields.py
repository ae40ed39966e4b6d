"""The fields of a complaint row: which source column is which field, and each field read and checked.

:func:`gridmap.io.complaints.parse_complaints` runs these steps in order, rejecting a row (with the field, the
reason and the value) through :class:`_Rejects` wherever a step cannot read it: times (:func:`_times`),
categories (:func:`_categories`), coordinates (:func:`_lonlat`), the district's cell, community and street
codes (:func:`_district_codes`) and the row's identity (:func:`_source_ids`, :func:`stable_id`).

Examples
--------
>>> a = stable_id("2024-07-01 08:30:00", 116.39751, 39.90871, "屋顶漏雨", None)
>>> a == stable_id("2024-07-01 08:30:00", 116.39751, 39.90871, " 屋顶漏雨", None), a[:2], len(a)
(True, 'h-', 18)
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import LonLatSystem
from gridmap.errors import Problem, ValidationError
from gridmap.io.text import numbers
from gridmap.io.timestamps import TIME_RANGE, parse_timestamps
from gridmap.warning.categories import FALLBACK_CATEGORY, normalise_category

__all__ = ["FIELD_ALIASES", "BEIJING_LONLAT", "stable_id"]


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


def pick_columns(columns: Iterable[Any], aliases: Mapping[str, tuple[str, ...]], mapping: Mapping[str, str] | None,
                 *, strict: bool = True) -> dict[str, str]:
    """Our field -> the source column it is read from: the column ``mapping`` names, else the first alias found
    (case and surrounding spaces ignored). A mapped column that is not there is an error when ``strict``, and
    otherwise leaves the field to its aliases."""
    columns = list(columns)
    lower = {str(c).strip().lower(): c for c in columns}
    out: dict[str, str] = {}
    for ours, names in aliases.items():
        if mapping and ours in mapping:
            if mapping[ours] in columns:
                out[ours] = mapping[ours]
                continue
            if strict:
                raise ValidationError(f"mapped column {mapping[ours]!r} not found",
                                      [Problem(None, ours, "no such column", mapping[ours])],
                                      fix="columns are: " + ", ".join(map(str, columns)))
        for n in names:
            if n.lower() in lower:
                out[ours] = lower[n.lower()]
                break
    return out


def _pick(columns: list[str], mapping: dict[str, str] | None) -> dict[str, str]:
    return pick_columns(columns, FIELD_ALIASES, mapping)


class _Rejects:
    """Collects the rejected rows of :func:`parse_complaints`: ``self(mask, field, reason, values)`` rejects every
    row where ``mask`` is true (a row may collect several reasons); ``bad`` marks the rejected rows."""

    def __init__(self, idx: pd.Index):
        self.idx = idx
        self.problems: list[Problem] = []
        self.bad = np.zeros(len(idx), dtype=bool)

    def __call__(self, mask: Any, f: str, reason: str, values: Any = None) -> None:
        m = np.asarray(mask, dtype=bool)
        pos = np.flatnonzero(m)
        if not len(pos):
            return
        vals = [None] * len(pos) if values is None else list(np.asarray(values, dtype=object)[pos]) \
            if not callable(values) else [values(p) for p in pos]
        self.problems.extend(Problem(self.idx[p], f, reason, v) for p, v in zip(pos, vals))
        self.bad[pos] = True


def values_at(*columns: pd.Series) -> Callable[[int], Any]:
    """``values`` for :class:`_Rejects`: the raw value at a position (a tuple for several columns), the columns
    turned into Python objects on first use only: nothing when no row is rejected, one pass when many are."""
    got: list[np.ndarray] = []

    def at(p: int) -> Any:
        if not got:
            got.extend(c.to_numpy(dtype=object) for c in columns)
        return got[0][p] if len(got) == 1 else tuple(g[p] for g in got)

    return at


def _require_columns(raw: pd.DataFrame, cols: dict[str, str], *, where: str) -> None:
    """Raise when the time or the text column is missing."""
    for need in ("received_at", "text"):
        if need not in cols:
            raise ValidationError(f"{where}: no {need} column", [Problem(None, need, "column not found",
                                  ", ".join(map(str, raw.columns)))],
                                  fix=f"name it {need} (or one of {', '.join(FIELD_ALIASES[need][1:4])}), or "
                                      f"pass mapping={{'{need}': 'YOUR_COLUMN'}} (CLI: --map {need}=YOUR_COLUMN)")


def _times(col: Callable[[str], pd.Series], cols: dict[str, str], *, tz: str, reject: _Rejects
           ) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Receiving times (rows whose time is unreadable or out of range rejected), which of them were read without
    a zone, closing times (Open311: the update time of a closed request) and the status."""
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
    return received, naive_received, closed, status


def _categories(cat_raw: pd.Series, *, unknown_category: str, reject: _Rejects,
                known: pd.Series | None = None) -> tuple[pd.Series, np.ndarray]:
    """Catalog categories (each distinct value normalised once; unknown ones 其他, or rejected with
    ``unknown_category='reject'``) and which kept rows had an unknown category. ``known``: the categories
    already found per row (None where unknown), e.g. through a category map (:mod:`gridmap.io.categories`)."""
    category = known if known is not None else \
        cat_raw.map({v: normalise_category(v) for v in pd.unique(cat_raw.dropna())})
    unknown = category.isna().to_numpy()
    present = cat_raw.notna().to_numpy()
    if unknown_category == "reject":
        reject(unknown & present, "category", "category not in the catalog", cat_raw)
        unknown_kept = unknown & ~present
    else:
        unknown_kept = unknown
    category = category.astype(object).where(category.notna(), FALLBACK_CATEGORY)
    return category, unknown_kept


def _lonlat(raw: pd.DataFrame, cols: dict[str, str], col: Callable[[str], pd.Series], *, where: str
            ) -> tuple[pd.Series, pd.Series]:
    """Longitude and latitude as numbers (NaN where missing): from the lon/lat columns or GeoJSON points."""
    idx = raw.index
    if "lon" in cols and "lat" in cols:
        lon = numbers(col("lon"))
        lat = numbers(col("lat"))
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
    return lon, lat


def _district_codes(x: np.ndarray, y: np.ndarray, ok: np.ndarray, *, lon_v: np.ndarray, lat_v: np.ndarray,
                    idx: pd.Index, cells: gpd.GeoDataFrame | None, bounds: tuple[float, float, float, float] | None,
                    system: LonLatSystem, reject: _Rejects) -> pd.DataFrame:
    """Cell, community and street code of every point; a point outside the district (no cell covers it, or
    outside ``bounds``, or outside Beijing's extent) is rejected."""
    n = len(idx)
    bad = reject.bad
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
    return codes


def _source_ids(col: Callable[[str], pd.Series], received: pd.Series, text: pd.Series, lon_v: np.ndarray,
                lat_v: np.ndarray) -> pd.Series:
    """``source_id``, or a stable hash of the row where it is empty."""
    sid = col("source_id").astype("string").str.strip()
    sid = sid.where(sid != "")
    no_id = sid.isna().to_numpy()
    if no_id.any():
        addr = col("address").to_numpy(dtype=object)
        rec = received.to_numpy(dtype=object)
        txt = text.to_numpy(dtype=object)
        sid[no_id] = [stable_id(rec[p], lon_v[p], lat_v[p], txt[p], addr[p]) for p in np.flatnonzero(no_id)]
    return sid
