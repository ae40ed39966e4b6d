"""Complaint selection and counts: per lattice cell, per cell code, community or street.

Selection works on the complaints contract (:mod:`gridmap.store.schema`): ``received_at`` (naive China Standard
Time), ``category``, ``text``, ``cell_code``, ``community_code``, ``street_code`` and point geometry in the
working CRS. Windows are half-open ``[start, end)``; keywords match anywhere in ``text`` (any of them).

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"received_at": pd.to_datetime(["2024-06-01", "2024-06-02", "2024-07-01"]),
...                    "category": ["房屋漏雨", "噪音", "房屋漏雨"], "text": ["屋顶漏雨", "夜间施工", "墙面渗水"],
...                    "community_code": ["110101001001"] * 3})
>>> int(complaint_mask(df, start="2024-06-01", end="2024-07-01", keywords=["漏雨", "渗水"]).sum())
1
>>> counts_by(df, by="community", keywords=["漏雨", "渗水"])["count"].tolist()
[2]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from gridmap._enums import ChoiceEnum
from gridmap.errors import Problem, ValidationError
from gridmap.warning.lattice_ops import cell_index, localise_cells, require_window

__all__ = ["Unit", "complaint_mask", "select_complaints", "cell_counts", "counts_by", "point_xy", "cell_xy_index"]

log = logging.getLogger(__name__)


class Unit(ChoiceEnum, what="unit"):
    """Spatial units complaints can be aggregated to (the column each reads)."""

    CELL = "cell"
    COMMUNITY = "community"
    STREET = "street"

    @property
    def column(self) -> str:
        return f"{self.value}_code"

    @classmethod
    def _key(cls, value: object) -> object:
        return value  # exact values only: "cell", not "Cell"


def _terms(values: str | Iterable[str] | None) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = re.split(r"[,，、\s]+", values)
    out = [v.strip() for v in values if v and v.strip()]
    return out or None


def complaint_mask(complaints: pd.DataFrame, *, start: Any = None, end: Any = None,
                   categories: str | Iterable[str] | None = None,
                   keywords: str | Iterable[str] | None = None,
                   keyword_fields: tuple[str, ...] = ("text",)) -> pd.Series:
    """Boolean Series (aligned with ``complaints``): inside ``[start, end)``, in ``categories``, matching a keyword.

    ``keywords`` may be a list or a comma-separated string (``"漏雨,渗水"``); matching is a plain substring test
    on ``keyword_fields`` (missing text never matches).
    """
    mask = pd.Series(True, index=complaints.index)
    if start is not None or end is not None:
        if "received_at" not in complaints.columns:
            raise ValidationError("cannot select a time window", [Problem(None, "received_at", "column missing")])
        t = pd.to_datetime(complaints["received_at"])
        if start is not None:
            mask &= t >= pd.Timestamp(start)
        if end is not None:
            mask &= t < pd.Timestamp(end)
    cats = _terms(categories)
    if cats is not None:
        mask &= complaints["category"].isin(cats)
    kws = _terms(keywords)
    if kws is not None:
        pattern = "|".join(re.escape(k) for k in kws)
        hit = pd.Series(False, index=complaints.index)
        for f in keyword_fields:
            if f in complaints.columns:
                hit |= complaints[f].astype("string").str.contains(pattern, regex=True, na=False).astype(bool)
        mask &= hit
    return mask


def select_complaints(complaints: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """The rows of ``complaints`` selected by :func:`complaint_mask` (a new frame)."""
    return complaints.loc[complaint_mask(complaints, **options)].copy()


def point_xy(complaints: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """x, y arrays of complaint points (``geometry`` column, or ``x``/``y`` columns)."""
    if "geometry" in complaints.columns and hasattr(complaints, "geometry"):
        import shapely

        xy = shapely.get_coordinates(np.asarray(complaints.geometry.values, dtype=object), include_z=False)
        if len(xy) == len(complaints):
            return xy[:, 0], xy[:, 1]
        raise ValidationError("complaint geometries must all be points", [Problem(None, "geometry",
                              f"{len(complaints)} rows but {len(xy)} coordinates (missing or multi-part points)")])
    if {"x", "y"} <= set(complaints.columns):
        return complaints["x"].to_numpy(dtype=float), complaints["y"].to_numpy(dtype=float)
    raise ValidationError("complaints have no point geometry", [Problem(None, "geometry", "no geometry or x/y")])


def cell_xy_index(complaints: pd.DataFrame, lattice: Any, *,
                  cells: pd.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local ``(ix, iy, ok)`` of each complaint's cell on ``lattice``.

    When complaints carry ``cell_code`` (assigned at import by :func:`gridmap.grid.assign_points`, exact at cell
    boundaries and merged slivers) and ``cells`` has ``code``, the complaint goes to its cell's square; otherwise
    the point is binned by floor arithmetic on the lattice. ``ok`` is False for complaints on no cell / outside.
    """
    lattice = require_window(lattice)
    if cells is not None and "cell_code" in complaints.columns and "code" in cells.columns:
        _, cix, ciy = localise_cells(cells, lattice)
        pos = pd.Index(cells["code"].astype(str)).get_indexer(complaints["cell_code"].astype("string")
                                                              .fillna("").to_numpy(dtype=object))
        ok = pos >= 0
        safe = np.where(ok, pos, 0)
        return cix[safe], ciy[safe], ok
    x, y = point_xy(complaints)
    ix, iy, inside = cell_index(x, y, lattice)
    ix = np.where(inside, ix, 0).astype(np.int64)
    iy = np.where(inside, iy, 0).astype(np.int64)
    return ix, iy, inside


def cell_counts(complaints: pd.DataFrame, lattice: Any, *, cells: pd.DataFrame | None = None,
                **select: Any) -> np.ndarray:
    """Dense ``(ny, nx)`` counts of the selected complaints on ``lattice``.

    With ``cells`` (the cells layer ``lattice`` was made from by :func:`~gridmap.warning.lattice_from_cells`),
    complaints carrying a ``cell_code`` are counted in their cell's square (the exact assignment made at import
    by :mod:`gridmap.grid`); otherwise points are binned by floor arithmetic. Points outside the lattice (or on
    no cell) are not counted and are reported in the log (never silently): the importer rejects points outside
    the district, so any here mean the lattice is too small.
    """
    lat = require_window(lattice)
    sel = complaints.loc[complaint_mask(complaints, **select)] if select else complaints
    ix, iy, ok = cell_xy_index(sel, lat, cells=cells)
    flat = (iy[ok] * lat.nx + ix[ok]).astype(np.int64)
    grid = np.bincount(flat, minlength=lat.nx * lat.ny).astype(float).reshape(lat.shape)
    outside = len(sel) - int(grid.sum())
    if outside:
        log.warning("%d complaint(s) fall outside the lattice %s (or on no cell) and were not counted", outside,
                    lat.bounds)
    log.info("counted %d complaint(s) on a %dx%d lattice", int(grid.sum()), lat.nx, lat.ny)
    return grid


def counts_by(complaints: pd.DataFrame, *, by: "str | Unit" = Unit.CELL, units: pd.DataFrame | None = None,
              households: pd.Series | None = None, **select: Any) -> pd.DataFrame:
    """Counts of selected complaints per cell, community or street (``<unit>_code`` column).

    Parameters
    ----------
    by : 'cell', 'community' or 'street'.
    units : optional frame of all units (index or ``code`` column) so units without complaints get 0.
    households : optional Series of households per unit code; adds ``per_1000_households``.
    **select : passed to :func:`complaint_mask` (``start``, ``end``, ``categories``, ``keywords``).

    Returns
    -------
    DataFrame indexed by unit code with ``count`` (and ``per_1000_households``), sorted by count.
    """
    unit = Unit.parse(by)
    col = unit.column
    if col not in complaints.columns:
        raise ValidationError(f"complaints have no {col} column", [Problem(None, col, "column missing")],
                              fix="import complaints through gridmap.io.complaints (it assigns cell, community "
                                  "and street codes)")
    sel = complaints.loc[complaint_mask(complaints, **select), col]
    unassigned = int(sel.isna().sum())
    if unassigned:
        log.warning("%d selected complaint(s) have no %s and are counted under '(unassigned)'", unassigned, col)
    counts = sel.fillna("(unassigned)").value_counts()
    if units is not None:
        codes = units["code"] if "code" in units.columns else units.index.to_series()
        counts = counts.reindex(pd.Index(codes.astype(str)).union(counts.index), fill_value=0)
    out = counts.rename("count").to_frame()
    out.index.name = col
    if households is not None:
        hh = households.reindex(out.index).astype(float)
        out["per_1000_households"] = out["count"] / hh.where(hh > 0) * 1000.0
    log.info("counted %d complaint(s) in %d %s unit(s)", int(out["count"].sum()), len(out), unit.value)
    return out.sort_values("count", ascending=False, kind="stable")
