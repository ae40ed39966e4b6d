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
- **Category**: ``category_map=`` (your values and text keywords -> catalog categories,
  :mod:`gridmap.io.categories`; the result's ``categories`` counts how rows got theirs) first, then normalised
  against the catalog (:mod:`gridmap.warning.categories`); an unknown or missing
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

import json
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.errors import GEOSException

from gridmap.crs import LonLatSystem, to_working_xy, working_crs
from gridmap.errors import InputFileError, Problem, ValidationError, message
from gridmap.io.categories import category_summary, import_categories
from gridmap.io.complaint_fields import (FIELD_ALIASES, _district_codes, _lonlat, _pick, _Rejects,
                                         _require_columns, _source_ids, _times, stable_id, values_at)
from gridmap.io.timestamps import CST, _check_tz, parse_timestamp, parse_timestamps
from gridmap.warning.categories import FALLBACK_CATEGORY

__all__ = ["FIELD_ALIASES", "ComplaintImport", "parse_timestamp", "parse_timestamps", "parse_complaints", "read_complaints",
           "import_complaints", "stable_id"]

log = logging.getLogger(__name__)

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


def parse_complaints(raw: pd.DataFrame, *, lonlat: "str | LonLatSystem" = "wgs84", cells: gpd.GeoDataFrame | None = None,
                     bounds: tuple[float, float, float, float] | None = None, crs: Any = None,
                     mapping: dict[str, str] | None = None, unknown_category: str = "other",
                     where: str = "input", tz: str = CST, handling: Any = None,
                     category_map: Any = None) -> ComplaintImport:
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
    handling : :class:`gridmap.io.handling.HandlingRules` (known units ...) for the handling record (接诉即办).
    category_map : your values and text keywords -> catalog categories (:mod:`gridmap.io.categories`).
    """
    if unknown_category not in ("other", "reject"):
        raise ValidationError(message("unknown_category must be 'other' or 'reject'", got=repr(unknown_category)))
    system = LonLatSystem.parse(lonlat)
    target = working_crs(crs if crs is not None else (cells.crs if cells is not None else None))
    cols = _pick(list(raw.columns), mapping)
    warns: list[Problem] = []
    n = len(raw)
    idx = raw.index
    reject = _Rejects(idx)
    problems, bad = reject.problems, reject.bad
    _require_columns(raw, cols, where=where)
    col = lambda k: raw[cols[k]] if k in cols else pd.Series(None, index=idx, dtype=object)  # noqa: E731
    # times
    tz = _check_tz(tz)
    received, naive_received, closed, status, hand = _times_and_handling(raw, col, cols, tz, reject, mapping, handling)
    # text
    text = col("text").astype("string").str.strip()
    reject((text.isna() | (text == "")).fillna(True), "text", "complaint text is empty")
    cat_raw = col("category")  # category: your map's values/keywords first (gridmap.io.categories), then the catalog
    category, unknown_kept, cat_how = import_categories(cat_raw, col("text"), category_map,
                                                        unknown_category=unknown_category, reject=reject)
    # coordinates
    x, y, lon_v, lat_v, codes = _place(raw, cols, col, n=n, idx=idx, cells=cells, bounds=bounds, system=system,
                                       target=target, reject=reject, where=where)
    # every row's point, made by GEOS (which lets go of the GIL) while this thread goes on with the ids and columns
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="points")
    points = pool.submit(shapely.points, x, y)
    pool.shutdown(wait=False)
    # identity
    sid = _source_ids(col, received, text, lon_v, lat_v)
    dup = sid.duplicated(keep="first").to_numpy() & ~bad
    reject(dup, "source_id", "repeated source_id in this input (the first row is kept)", values_at(sid))
    bad = pd.Series(reject.bad, index=idx)
    keep = ~bad
    # a rejected row's category warning is noise: warn only for kept rows
    at = np.flatnonzero(unknown_kept & keep.to_numpy())
    warns.extend(Problem(idx[p], "category", f"category not in the catalog: mapped to {FALLBACK_CATEGORY}", v)
                 for p, v in zip(at, cat_raw.iloc[at].to_numpy(dtype=object)))
    def obj(v: pd.Series) -> pd.Series:  # text columns as object with None for missing (no pd.NA in the store)
        v = v[keep].astype(object)
        return v.where(v.notna(), None)

    frame = gpd.GeoDataFrame({
        "source_id": obj(sid), "received_at": received[keep], "category": obj(category),
        "text": obj(text), "address": obj(col("address").astype("string")), "status": obj(status),
        "closed_at": pd.to_datetime(closed[keep]), "cell_code": obj(codes["cell_code"]),
        "community_code": obj(codes["community_code"]), "street_code": obj(codes["street_code"]), **hand.kept(keep)},
        geometry=gpd.array.from_shapely(points.result()[keep.to_numpy()]), crs=target, index=idx[keep])
    problems.sort(key=lambda p: (str(p.row), p.field or ""))
    log.info("parsed complaints from %s: %d row(s), %d accepted, %d rejected, %d category warning(s)", where, n,
             len(frame), len(problems), len(warns))
    return ComplaintImport(frame, problems, warns, where=where, read=n, tz=tz,
                           naive_times=int(naive_received[keep].sum()),
                           categories=category_summary(cat_raw[keep], cat_how[keep], category[keep]))


def _place(raw: pd.DataFrame, cols: dict[str, str], col: Callable[[str], pd.Series], *, n: int, idx: pd.Index,
           cells: gpd.GeoDataFrame | None, bounds: Any, system: Any, target: Any, reject: Any,
           where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Any]:
    """Working-CRS x/y of every row (NaN where rejected), the raw lon/lat as floats and the district codes; rows
    with missing or swapped coordinates, or outside the district, are rejected through ``reject``."""
    lon, lat = _lonlat(raw, cols, col, where=where)
    missing = (lon.isna() | lat.isna()).to_numpy()
    reject(missing, "lon/lat", "coordinates missing or not numbers", values_at(col("lon"), col("lat")))
    swapped = ((lat.abs() > 90) & (lon.abs() <= 90)).fillna(False).to_numpy(dtype=bool)
    lon_v, lat_v = lon.to_numpy(dtype=float), lat.to_numpy(dtype=float)
    reject(swapped, "lon/lat", "latitude out of range: lon and lat look swapped", lambda p: (lon_v[p], lat_v[p]))
    ok = ~(missing | swapped)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    if ok.any():
        x[ok], y[ok] = to_working_xy(lon_v[ok], lat_v[ok], crs=target, system=system)
    codes = _district_codes(x, y, ok, lon_v=lon_v, lat_v=lat_v, idx=idx, cells=cells, bounds=bounds, system=system,
                            reject=reject)
    return x, y, lon_v, lat_v, codes


def _times_and_handling(raw: pd.DataFrame, col: Callable[[str], pd.Series], cols: dict[str, str], tz: str,
                        reject: Any, mapping: dict[str, str] | None, rules: Any) -> tuple:
    """The times (:func:`_times`) and the handling record (接诉即办, :func:`gridmap.io.handling.parse_handling`);
    bad handling values reject their rows through ``reject``. Open311 ``updated_datetime`` of an acknowledged,
    in-progress or closed request is its latest response time when no response time is given."""
    from gridmap.io.handling import open311_handling, parse_handling

    received, naive_received, closed, status = _times(col, cols, tz=tz, reject=reject)
    hand = parse_handling(raw, received=received, closed=closed, mapping=mapping, rules=rules,
                          parse_times=lambda v: parse_timestamps(v, tz=tz))
    reject.bad |= hand.bad
    reject.problems.extend(hand.problems)
    if "updated_at" in cols and "responded_at" not in hand.found:
        hand.columns["responded_at"] = open311_handling(status, parse_timestamps(col("updated_at"), tz=tz))[
            "responded_at"]
    return received, naive_received, closed, status, hand


def _read_text_table(p: Path, *, sep: str, encoding: str, data: bytes | None = None) -> pd.DataFrame:
    """Every cell as text (a code keeps its leading zeros), empty cells missing; ``data``: the file's bytes, when
    the caller has read them already.

    Why pyarrow first: its multi-threaded reader takes 0.35 s for the demo's 58 MB where pandas' C parser takes
    2.3 s (a third of the whole import), with the same frame (same column names, duplicates renamed, quoted
    newlines, BOM, GB18030). A file it cannot parse is read again by the C parser, whose errors name the line; so
    is a file with an odd number of double quotes (pyarrow accepts a file cut inside a quoted field, the C parser
    refuses it; a stray quote inside an unquoted field also makes the count odd, and the C parser reads that as
    before). The byte 0x22 is a quote in UTF-8 and GB18030 alike (never part of a multi-byte character).
    """
    kw: dict[str, Any] = {"sep": sep, "dtype": str, "keep_default_na": False, "na_values": [""],
                          "encoding": encoding}
    if (p.read_bytes() if data is None else data).count(b'"') % 2:
        return pd.read_csv(p, **kw)
    try:
        return pd.read_csv(p, engine="pyarrow", **kw)
    except UnicodeError:
        raise
    except Exception:  # noqa: BLE001 - any pyarrow failure: the C parser reads it or reports where it fails
        log.debug("%s: the pyarrow CSV reader failed; reading with pandas' C parser", p, exc_info=True)
        return pd.read_csv(p, **kw)


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
        raw_bytes = p.read_bytes()  # read once: the encoding guess and the reader's quote check both need them
        if encoding is None:  # Excel in China saves CSV as GBK: decide UTF-8 vs GB18030 from the bytes
            from gridmap.io.encoding import decode_guess

            codec, reason = ("UTF-8", "UTF-8 byte-order mark") if raw_bytes.startswith(b"\xef\xbb\xbf") \
                else decode_guess(raw_bytes)
            encoding = "utf-8-sig" if codec == "UTF-8" else "gb18030"
            log.info("%s: read as %s (%s)", p, codec, reason)
        with reading(p, encoding=encoding):
            raw = _read_text_table(p, sep="\t" if suffix == ".tsv" else ",", encoding=encoding, data=raw_bytes)
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


def _write_new(store: Any, new: gpd.GeoDataFrame, *, on_error: str, where: str) -> tuple[int, list[Problem]]:
    """Write parsed complaints: straight through :meth:`Store.write` (its own checks, one transaction), since
    :func:`parse_complaints` has already checked every row; only when the store refuses some row (e.g. an id
    another import stored meanwhile) the general :func:`gridmap.io.import_frame` rejects rows one by one."""
    from gridmap.io import import_frame

    try:
        with store.transaction() as conn:
            return store.write("complaints", new, connection=conn), []
    except ValidationError:
        out = import_frame(store, "complaints", new, on_error=on_error, where=where)
        return out.written, list(out.rejected)


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
        res.written, rejected = _write_new(store, new, on_error=on_error, where=res.where)
        res.rejected += rejected
    if progress:
        progress(_STEPS, _STEPS, "done")
    log.info("imported complaints from %s: %d written, %d already stored, %d rejected", res.where, res.written,
             res.already_stored, len(res.rejected))
    return res
