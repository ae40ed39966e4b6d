"""Row-level checks for every layer: codes, numbers, geometry. Used by the importer to split good from bad rows.

Each check returns one :class:`~gridmap.errors.Problem` per bad row, so an import can keep the good rows and
report every rejected one with its reason.
"""

from __future__ import annotations

import decimal
import re
import unicodedata
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import Problem

__all__ = ["CODE_DIGITS", "COUNT_MAX", "PlausibilityLimits", "PLAUSIBILITY", "normalise_code", "lost_digits",
           "LOST_DIGITS", "check_rows", "whole_count", "implausible_rows"]

#: Largest count a store holds (64-bit signed integer, BIGINT on PostGIS): beyond it a value would overflow.
COUNT_MAX = 2 ** 63 - 1

#: layer -> (code column, number of digits, parent column, parent digits) for the hierarchical codes.
CODE_DIGITS: dict[str, tuple[str, int, str | None, int | None]] = {
    "districts": ("code", 6, None, None),
    "streets": ("code", 9, "district_code", 6),
    "communities": ("code", 12, "street_code", 9),
    "cells": ("code", 15, "community_code", 12),
}


def _normalise_column(s: pd.Series) -> pd.Series:
    """:func:`normalise_code` over a column, computed once per distinct value (codes repeat a lot); missing
    values (None, NaN, NA) become None."""
    cache: dict[object, str | None] = {}
    out = []
    for v in s.tolist():
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
            continue
        if v not in cache:
            cache[v] = normalise_code(v)
        out.append(cache[v])
    return pd.Series(out, index=s.index, dtype=object)


def normalise_code(value: object) -> str | None:
    """Code as a plain ASCII string: full-width characters folded, letters upper-cased, spaces, digit-group
    separators (``-``, ``_``, ``.`` between digits) and a trailing '.0' removed.

    >>> normalise_code("１１０１０１ ")
    '110101'
    >>> normalise_code(110101.0)
    '110101'
    >>> normalise_code("110101-001-001"), normalise_code("ｂｊ0101")
    ('110101001001', 'BJ0101')
    >>> normalise_code("1.10101001001E+11")
    '110101001001'

    A code whose digits were lost to scientific notation is never completed with invented zeros: it is returned
    as written, and :func:`lost_digits` (and every import) rejects it.

    >>> normalise_code("1.10101001E+11"), lost_digits("1.10101001E+11")
    ('1.10101001E+11', True)
    >>> normalise_code(None) is None
    True
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, float) and value.is_integer():
        # above 2**53 a float cannot hold every integer: its digits are not trustworthy (kept, then rejected)
        value = int(value) if abs(value) < 2 ** 53 else f"{value:.16E}"
    text = unicodedata.normalize("NFKC", str(value)).strip()
    text = "".join(text.split()).upper()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    m = _SCIENTIFIC.match(text)
    if m:  # Excel shows long codes as 1.10101001001E+11: exact only if every digit is written
        digits, needed = m.group(1) + (m.group(2) or ""), int(m.group(3)) + 1
        if len(digits) >= needed and not digits[needed:].strip("0"):
            text = str(int(decimal.Decimal(text)))
    grouped = text.replace("-", "").replace("_", "").replace(".", "")
    if grouped.isascii() and grouped.isdigit() and grouped != text and not text.startswith(("-", ".")):
        text = grouped
    return text or None


_SCIENTIFIC = re.compile(r"^(\d)(?:\.(\d+))?E\+?(\d+)$")

#: The reason a code that lost digits is rejected with.
LOST_DIGITS = ("digits lost: the code was saved in scientific notation (Excel shows long numbers like "
               "1.10101001E+11) and its last digits cannot be recovered; format the column as text in Excel/WPS "
               "(or type the codes with a leading ') and export again")


def lost_digits(value: object) -> bool:
    """True when ``value`` (as :func:`normalise_code` returns it) is a number in scientific notation that does not
    write every digit of the integer it stands for.

    >>> lost_digits("1.10101001E+11"), lost_digits("1.10101001001E+11"), lost_digits("110101001000")
    (True, False, False)
    """
    if not isinstance(value, str):
        return False
    m = _SCIENTIFIC.match(value.strip().upper())
    return bool(m) and len(m.group(1) + (m.group(2) or "")) < int(m.group(3)) + 1

_SINGULAR = {"districts": "district", "streets": "street", "communities": "community", "cells": "cell"}


def _code_problems(frame: pd.DataFrame, col: str, digits: int, label: str) -> list[Problem]:
    out = []
    for idx, v in frame[col].items():
        if not isinstance(v, str):
            out.append(Problem(idx, col, f"{label} code is missing"))
        elif lost_digits(v):
            out.append(Problem(idx, col, LOST_DIGITS, v))
        elif not (v.isascii() and v.isdigit()):
            out.append(Problem(idx, col, f"{label} code must be digits only", v))
        elif len(v) != digits:
            out.append(Problem(idx, col, f"{label} code must have {digits} digits, has {len(v)}", v))
    return out


def whole_count(value: object) -> tuple[int | None, str | None]:
    """A household or population count as an exact int, or the reason it cannot be one.

    Accepts ints, integral floats and text ('3000000000', '1e12', '12.0'); never rounds through a float, so
    3,000,000,000 and 10**12 stay exact. Missing values give ``(None, None)``.

    >>> whole_count("3000000000"), whole_count(1e12), whole_count(None)
    ((3000000000, None), (1000000000000, None), (None, None))
    >>> whole_count(12.5)[1], whole_count(-3)[1]
    ('must be a whole number', 'must not be negative')
    >>> whole_count(2 ** 70)[1]
    'too large: beyond the 64-bit range a store holds (9,223,372,036,854,775,807); it would overflow'
    """
    if value is None or value is pd.NA or (isinstance(value, (float, np.floating)) and np.isnan(value)):
        return None, None
    if isinstance(value, (bool, np.bool_)):
        return None, "must be a whole number"
    if isinstance(value, (int, np.integer)):
        n = int(value)
    elif isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return None, "must be a finite whole number"
        if not float(value).is_integer():
            return None, "must be a whole number"
        n = int(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
        try:
            d = decimal.Decimal(text)
        except decimal.InvalidOperation:
            return None, "must be a whole number"
        if not d.is_finite():
            return None, "must be a finite whole number"
        if d != d.to_integral_value():
            return None, "must be a whole number"
        n = int(d)
    if n < 0:
        return None, "must not be negative"
    if n > COUNT_MAX:
        return None, f"too large: beyond the 64-bit range a store holds ({COUNT_MAX:,}); it would overflow"
    return n, None


@dataclass(frozen=True)
class PlausibilityLimits:
    """Upper bounds beyond which a household or population count is taken for a data error (a digit or unit
    slip), not a real place. Settings, not laws: pass your own to ``import_frame(..., limits=)``.

    Default bounds and where they come from:

    * **communities**: Beijing's standard is 1,000-3,000 households a community, 超大社区 above 5,000; in 2020 the
      largest of 3,231 communities were split at that size. Dongcheng, the densest district, holds about
      709,000 residents on 41.84 km² (≈ 16,900 a km², ≈ 7,300 households a km² at the census mean of 2.31
      persons a household). Bounds (convention): **100,000 households** (20 × the super-large threshold),
      **250,000 residents** (above the 150,000 the street-office standard allows a whole street), **60,000
      households a km²** and **150,000 residents a km²** (about 8-9 × Dongcheng's mean density, beyond the
      densest real blocks: a 40 m × 40 m community cannot hold more than 96 households).
    * **compounds** (小区 and single buildings, whose footprint may be all the area they have): a 100-storey
      tower covering its whole plot with 50 m² homes holds 2,000,000 homes a km² of footprint; bounds
      (convention): **2,000,000 households a km²**, **6,000,000 residents a km²** (dormitories), **20,000
      households** and **60,000 residents** in one compound.
    """

    max_households: int
    max_population: int
    max_households_per_km2: float
    max_population_per_km2: float


#: Default limits per layer (see :class:`PlausibilityLimits` for the sources).
PLAUSIBILITY: dict[str, PlausibilityLimits] = {
    "communities": PlausibilityLimits(max_households=100_000, max_population=250_000,
                                      max_households_per_km2=60_000, max_population_per_km2=150_000),
    "compounds": PlausibilityLimits(max_households=20_000, max_population=60_000,
                                    max_households_per_km2=2_000_000, max_population_per_km2=6_000_000),
}


def implausible_rows(layer: str, frame: gpd.GeoDataFrame, *,
                     limits: PlausibilityLimits | None = None) -> list[Problem]:
    """One problem per implausible count of ``frame`` (communities and compounds; other layers: none).

    The importer rejects these rows, or keeps them with a warning when asked to (``allow_implausible``).

    ``frame`` is in a metric CRS (the store's); counts are those :func:`check_rows` made exact. A row is
    implausible when its households or population exceed the per-feature bound, or the bound per km² of the
    feature's own area.

    >>> import shapely
    >>> f = gpd.GeoDataFrame({"households": [3_000_000_000, 1000, 1500]},
    ...                      geometry=[shapely.box(0, 0, 40, 40)] * 2 + [shapely.box(0, 0, 500, 500)], crs=4548)
    >>> for p in implausible_rows("communities", f):
    ...     print(p.row, p.reason)
    0 implausible: 3,000,000,000 households in one community (more than 100,000)
    1 implausible: 625,000 households per km² on 0.0016 km² (more than 60,000/km²)
    """
    lim = limits if limits is not None else PLAUSIBILITY.get(layer)
    if lim is None or len(frame) == 0:
        return []
    singular = {"communities": "community", "compounds": "compound"}.get(layer, layer)
    metric = frame.crs is not None and frame.crs.is_projected
    area_km2 = np.full(len(frame), np.nan)
    if metric:
        geoms = np.asarray(frame.geometry.values, dtype=object)
        ok = ~shapely.is_missing(geoms)
        area_km2[ok] = shapely.area(geoms[ok]) / 1e6
    out: list[Problem] = []
    for col, cap, dens, unit in (("households", lim.max_households, lim.max_households_per_km2, "households"),
                                 ("population", lim.max_population, lim.max_population_per_km2, "residents")):
        if col not in frame.columns:
            continue
        for i, (idx, v) in enumerate(frame[col].items()):
            if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
                continue
            n, a = int(v), area_km2[i]
            if n > cap:
                out.append(Problem(idx, col, f"implausible: {n:,} {unit} in one {singular} (more than {cap:,})", v))
            elif n > 0 and np.isfinite(a) and a > 0 and n / a > dens:
                out.append(Problem(idx, col, f"implausible: {n / a:,.0f} {unit} per km² on {a:.2g} km² "
                                   f"(more than {dens:,.0f}/km²)", v))
    return out


def check_rows(layer: str, frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Normalise codes and numbers of ``frame`` (a copy) and return it with the problems of its bad rows."""
    f = frame.copy()
    problems: list[Problem] = []
    for col in ("code", "district_code", "street_code", "community_code", "cell_code", "national_id",
                "class_code"):
        if col in f.columns:
            f[col] = _normalise_column(f[col])
    if layer in CODE_DIGITS and "code" in f.columns:
        col, digits, parent, pdigits = CODE_DIGITS[layer]
        problems += _code_problems(f, col, digits, _SINGULAR[layer])
        if parent and parent in f.columns:
            problems += _code_problems(f, parent, pdigits, parent.replace("_code", ""))
            for idx, (c, p) in f[[col, parent]].iterrows():
                if isinstance(c, str) and isinstance(p, str) and c.isdigit() and p.isdigit() and len(c) == digits \
                        and len(p) == pdigits \
                        and not c.startswith(p):
                    problems.append(Problem(idx, col, f"code does not start with its {parent} {p}", c))
    flagged = {(p.row, p.field) for p in problems}
    for col in ("code", "district_code", "street_code", "community_code", "cell_code", "national_id", "class_code"):
        if col in f.columns:
            # once per distinct value (a complaints layer repeats a few thousand codes over millions of rows)
            seen = {v: lost_digits(v) for v in pd.unique(f[col].dropna()) if isinstance(v, str)}
            for idx in f.index[f[col].map(seen).fillna(False).astype(bool).to_numpy()]:
                if (idx, col) not in flagged:
                    problems.append(Problem(idx, col, LOST_DIGITS, f.at[idx, col]))
    unreadable: set = set()
    for col in ("households", "population"):
        if col in f.columns:
            counts = []
            for idx, v in f[col].items():
                n, reason = whole_count(v)
                if reason is not None:
                    problems.append(Problem(idx, col, reason, v))
                    unreadable.add((idx, col))
                counts.append(n)
            f[col] = pd.array(counts, dtype="Int64")
    if layer == "communities" and "households" in f.columns:
        for idx in f.index[f["households"].isna()]:
            if (idx, "households") in unreadable:
                continue
            problems.append(Problem(idx, "households", "households are missing (needed for size flags and splits)"))
    elif layer == "communities":
        for idx in f.index:
            problems.append(Problem(idx, "households", "the input has no households column (needed for size flags "
                                    "and splits): map it with --map households=COLUMN or join a table with --table"))
    geoms = np.asarray(f.geometry.values, dtype=object)
    missing = shapely.is_missing(geoms)
    for i in np.flatnonzero(missing):
        problems.append(Problem(f.index[i], "geometry", "geometry is missing"))
    present = ~missing
    empty = np.zeros(len(f), dtype=bool)
    empty[present] = shapely.is_empty(geoms[present])
    for i in np.flatnonzero(empty):
        problems.append(Problem(f.index[i], "geometry", "geometry is empty"))
    ok = present & ~empty
    kinds = np.array([g.geom_type if g is not None else "" for g in geoms])
    if layer not in ("components", "complaints"):
        invalid = np.zeros(len(f), dtype=bool)
        poly = ok & np.isin(kinds, ["Polygon", "MultiPolygon", "LineString", "MultiLineString"])
        invalid[poly] = ~shapely.is_valid(geoms[poly])
        for i in np.flatnonzero(invalid):
            problems.append(Problem(f.index[i], "geometry", "invalid geometry: " + shapely.is_valid_reason(geoms[i])
                                    + " (repair with `gridmap import --repair` or in QGIS: Fix geometries)"))
    return f, problems
