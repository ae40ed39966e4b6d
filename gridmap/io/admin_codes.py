"""Administrative codes on import: parents filled from codes, prefixes checked, missing codes assigned.

Beijing's codes nest (统计用区划代码): district 6 digits (GB/T 2260, e.g. 东城 ``110101``), street ``district + 3``
(001–099 街道, 100–199 镇, 200–399 乡), community ``street + 3``. On import:

* :func:`fill_parent_codes` fills an empty ``district_code`` (streets) or ``street_code`` (communities) from the
  feature's own code;
* :func:`check_hierarchy` reports codes that do not start with the district being imported (``district=``) and
  parents that are not in the store (a street code no stored street has);
* :func:`assign_codes` gives features without a code the next free numbers in their parent, by the documented
  rule below.

**Code assignment rule** (a gridmap convention, stated in every import report that uses it): inside each parent
(the street of a community, the district of a street), features without a code are numbered after the highest
sequence number already used there — in the input or in the store, so retired codes are never reused — in
*reading order of their centroids*, the order the Beijing cell standard uses for cell sequences: west to east
along a row, rows from north to south, a row being a band ``row_band_m`` (default 500 m) tall counted down from
the northernmost centroid. A parent whose 3-digit sequence would pass 999 raises
:class:`~gridmap.errors.CapacityError`.

Examples
--------
>>> import geopandas as gpd, shapely
>>> f = gpd.GeoDataFrame({"code": ["110101001001", None, None], "street_code": ["110101001"] * 3},
...                      geometry=[shapely.box(0, 0, 1, 1), shapely.box(2000, 0, 2001, 1), shapely.box(1000, 0, 1001, 1)],
...                      crs="EPSG:4548")
>>> out, assigned = assign_codes(f, layer="communities")
>>> out["code"].tolist()
['110101001001', '110101001003', '110101001002']
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.errors import CapacityError, Problem, message
from gridmap.io.validate import CODE_DIGITS, normalise_code

__all__ = ["ASSIGNMENT_RULE", "fill_parent_codes", "check_hierarchy", "assign_codes"]

log = logging.getLogger(__name__)

ASSIGNMENT_RULE = ("codes assigned after the highest sequence used in the parent (input and store), in reading "
                   "order of centroids: west to east, rows of {band:g} m from north to south")


def _is_code(value: object, digits: int | None = None) -> bool:
    return isinstance(value, str) and value.isdigit() and (digits is None or len(value) == digits)


def _norm(series: pd.Series) -> pd.Series:
    return series.map(normalise_code).astype(object)


def fill_parent_codes(layer: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Fill an empty parent code from the feature's own code (a copy); return it and notes."""
    if layer not in CODE_DIGITS or "code" not in frame.columns:
        return frame, []
    _, digits, parent, pdigits = CODE_DIGITS[layer]
    if parent is None:
        return frame, []
    f = frame.copy()
    codes = _norm(f["code"])
    if parent not in f.columns:
        f[parent] = pd.Series([None] * len(f), index=f.index, dtype=object)
    parents = _norm(f[parent])
    fill = parents.isna() & codes.map(lambda c: _is_code(c, digits)).astype(bool)
    f[parent] = parents
    f.loc[fill, parent] = codes[fill].str[:pdigits]
    notes = [f"{int(fill.sum())} {parent} value(s) taken from the first {pdigits} digits of the code"] if fill.any() \
        else []
    return f, notes


def check_hierarchy(layer: str, frame: pd.DataFrame, *, district: str | None = None,
                    known_parents: Iterable[str] | None = None) -> list[Problem]:
    """Problems with codes against the district being imported and the parents already in the store.

    Parameters
    ----------
    district : the 6-digit district code every code must start with (``--district``), or None.
    known_parents : parent codes in the store (stored streets for communities, districts for streets); when
        given and non-empty, a parent code outside it is a problem.
    """
    problems: list[Problem] = []
    if layer not in CODE_DIGITS:
        return problems
    col, _, parent, _ = CODE_DIGITS[layer]
    district = normalise_code(district) if district else None
    for c in (col, parent):
        if district and c and c in frame.columns:
            for idx, v in _norm(frame[c]).items():
                if _is_code(v) and len(v) >= 6 and not v.startswith(district):
                    problems.append(Problem(idx, c, f"code is not in district {district}", v))
    known = set(known_parents or ())
    if known and parent and parent in frame.columns:
        for idx, v in _norm(frame[parent]).items():
            if isinstance(v, str) and v not in known:
                problems.append(Problem(idx, parent, f"no such {parent.replace('_code', '')} in the store "
                                        "(import it first, or correct the code)", v))
    return problems


def _reading_order(geoms: gpd.GeoSeries, row_band_m: float) -> np.ndarray:
    c = geoms.centroid
    x, y = c.x.to_numpy(), c.y.to_numpy()
    band = np.floor((np.nanmax(y) - y) / row_band_m) if len(y) else y
    return np.lexsort((x, band))


def assign_codes(frame: gpd.GeoDataFrame, *, layer: str, taken: Iterable[str] = (),
                 row_band_m: float = 500.0) -> tuple[gpd.GeoDataFrame, list[tuple[object, str]]]:
    """Give features without a code the next free codes in their parent (see the module's rule).

    Parameters
    ----------
    frame : a projected GeoDataFrame with ``code`` and the parent column (``street_code`` for communities,
        ``district_code`` for streets); not modified.
    layer : ``'communities'`` or ``'streets'``.
    taken : codes already used (e.g. every code in the store, active or retired).
    row_band_m : height of a row for the reading order.

    Returns
    -------
    (a copy with the codes filled, [(row label, assigned code), ...])
    """
    col, digits, parent, pdigits = CODE_DIGITS[layer]
    if parent is None:
        return frame, []
    f = frame.copy()
    if col not in f.columns:
        f[col] = pd.Series([None] * len(f), index=f.index, dtype=object)
    f[col] = _norm(f[col])
    if parent not in f.columns:
        return f, []
    parents = _norm(f[parent])
    need = ~f[col].map(lambda c: isinstance(c, str)).astype(bool) & parents.map(lambda p: _is_code(p, pdigits)).astype(bool)
    if not need.any():
        return f, []
    used = [c for c in list(taken) + f[col].dropna().tolist() if _is_code(c, digits)]
    assigned: list[tuple[object, str]] = []
    width = digits - pdigits
    for p, idx in parents[need].groupby(parents[need]).groups.items():
        highest = max((int(c[pdigits:]) for c in used if c.startswith(p)), default=0)
        sub = f.loc[idx]
        order = _reading_order(sub.geometry, row_band_m)
        if highest + len(idx) >= 10 ** width:
            raise CapacityError(message(f"cannot assign {len(idx)} more codes in {p}", where=f"{layer}.{col}",
                                        got=f"highest sequence in use {highest:0{width}d}",
                                        fix="give these features codes yourself (--map code=...)"))
        for k, pos in enumerate(order):
            label = sub.index[pos]
            code = f"{p}{highest + k + 1:0{width}d}"
            f.at[label, col] = code
            assigned.append((label, code))
    log.info("assigned %d %s codes (%s)", len(assigned), layer, ASSIGNMENT_RULE.format(band=row_band_m))
    return f, assigned
