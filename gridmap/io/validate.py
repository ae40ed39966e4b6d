"""Row-level checks for every layer: codes, numbers, geometry. Used by the importer to split good from bad rows.

Each check returns one :class:`~gridmap.errors.Problem` per bad row, so an import can keep the good rows and
report every rejected one with its reason.
"""

from __future__ import annotations

import decimal
import re
import unicodedata

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import Problem

__all__ = ["CODE_DIGITS", "normalise_code", "lost_digits", "LOST_DIGITS", "check_rows"]

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
            for idx in f.index[f[col].map(lost_digits).astype(bool).to_numpy()]:
                if (idx, col) not in flagged:
                    problems.append(Problem(idx, col, LOST_DIGITS, f.at[idx, col]))
    for col in ("households", "population"):
        if col in f.columns:
            num = pd.to_numeric(f[col], errors="coerce")
            raw_na = f[col].isna()
            for idx in f.index[num.isna() & ~raw_na]:
                problems.append(Problem(idx, col, "must be a whole number", f.at[idx, col]))
            for idx in f.index[(num < 0).fillna(False)]:
                problems.append(Problem(idx, col, "must not be negative", f.at[idx, col]))
            finite = np.isfinite(num.to_numpy(dtype=float, na_value=np.nan))
            unreal = num.notna().to_numpy() & (~finite | (num.abs() >= 2 ** 63).fillna(False).to_numpy())
            for idx in f.index[unreal]:  # inf, or beyond any integer column: a row to reject, never a crash
                problems.append(Problem(idx, col, "must be a finite whole number", f.at[idx, col]))
            num = num.where(~unreal)
            for idx in f.index[num.notna() & (num % 1 != 0)]:
                problems.append(Problem(idx, col, "must be a whole number", f.at[idx, col]))
            f[col] = num.round().astype("Int64")
    if layer == "communities" and "households" in f.columns:
        for idx in f.index[f["households"].isna()]:
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
