"""Point to cell assignment for millions of points: lattice arithmetic first, exact point-in-polygon only at edges.

Boundary semantics
------------------
A point belongs to a cell that *covers* it (interior or boundary), the relation of ``geopandas.sjoin(...,
predicate='intersects')``. A point inside one cell gets that cell (the same as ``predicate='within'``). A point
on the boundary shared by several cells gets exactly one of them, chosen deterministically: the cell whose
lattice square ``(ix, iy)`` contains the point in the half-open sense of :class:`~gridmap.grid.lattice.Lattice`
(lattice lines belong to the square east / north of them) if it covers the point, otherwise the first covering
cell in the order of the ``cells`` frame. Points covered by no cell, and points with missing coordinates, get no
cell and are listed in :attr:`PointAssignment.report` (never dropped silently; a
:class:`UnassignedPointsWarning` says how many).

How it is fast
--------------
:class:`CellIndex` sorts the lattice squares met by cells into *whole* squares (covered by a single cell) and
*shared* squares (split between clipped cells or partly outside every cell). A point in a whole square is
assigned by ``numpy.floor`` and one table lookup; only points in shared squares are tested against the few
cells meeting their square, with ``shapely.intersects_xy`` on prepared polygons.

Examples
--------
>>> import geopandas as gpd, shapely
>>> cells = gpd.GeoDataFrame({"code": ["110101001001001", "110101001001002"]},
...                          geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 150, 100)], crs="EPSG:4548")
>>> res = assign_points(([50.0, 120.0, 100.0, 170.0], [50.0, 50.0, 50.0, 50.0]), cells, warn=False)
>>> res.codes.tolist()
['110101001001001', '110101001001002', '110101001001002', None]
>>> res.report[["x", "y", "reason"]].to_dict("records")
[{'x': 170.0, 'y': 50.0, 'reason': 'on no cell'}]
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gridmap.crs import check_crs
from gridmap.errors import CRSError, Problem, ValidationError, message
from gridmap.grid.lattice import Lattice

__all__ = ["CellIndex", "PointAssignment", "UnassignedPointsWarning", "assign_points"]

log = logging.getLogger(__name__)

#: Dense lookup tables up to this many squares; beyond, a sorted-key search is used.
_DENSE_LIMIT = 50_000_000


class UnassignedPointsWarning(UserWarning):
    """Some points fell on no cell (outside the gridded area) or had no coordinates."""


@dataclass
class PointAssignment:
    """Result of :func:`assign_points`.

    Attributes
    ----------
    cell : numpy int64 array
        Position (0-based row number) of each point's cell in the ``cells`` frame; -1 for no cell.
    codes : pandas Series
        Each point's cell code (or ``None``), aligned with the points' index.
    report : pandas DataFrame
        Points with no cell: ``point`` (index label), ``x``, ``y``, ``reason``.
    """

    cell: np.ndarray
    codes: pd.Series
    report: pd.DataFrame = field(repr=False)

    @property
    def n_assigned(self) -> int:
        return int((self.cell >= 0).sum())

    @property
    def n_unassigned(self) -> int:
        return int((self.cell < 0).sum())

    @property
    def problems(self) -> list[Problem]:
        """The report as :class:`~gridmap.errors.Problem` rows (for import rejection reports)."""
        return [Problem(r.point, "geometry", r.reason, f"x={r.x:.2f}, y={r.y:.2f}") for r in self.report.itertuples()]


def _lattice_of(cells: gpd.GeoDataFrame, cell_size_m: float | None, origin: tuple[float, float] | None) -> Lattice:
    meta = cells.attrs.get("lattice", {}) if hasattr(cells, "attrs") else {}
    size = cell_size_m if cell_size_m is not None else meta.get("cell_size_m", 100.0)
    org = origin if origin is not None else tuple(meta.get("origin", (0.0, 0.0)))
    return Lattice(cell_size_m=size, origin=org)


class CellIndex:
    """A reusable point-to-cell index over a cells frame (build once, assign many batches).

    Parameters
    ----------
    cells : GeoDataFrame
        Polygonal cells in a projected CRS, e.g. from :func:`~gridmap.grid.build_cells` or ``store.read('cells')``.
        Cells must not overlap (they never do when built by gridmap).
    cell_size_m, origin : lattice of the index; default: the lattice the cells were built on (``cells.attrs``)
        or 100 m at (0, 0). Any lattice gives correct answers; the cells' own lattice gives the fastest.
    code_column : str, default 'code'
    """

    def __init__(self, cells: gpd.GeoDataFrame, *, cell_size_m: float | None = None,
                 origin: tuple[float, float] | None = None, code_column: str = "code"):
        self.crs: CRS = check_crs(cells, where="cells", metric=True)
        self.lattice = _lattice_of(cells, cell_size_m, origin)
        geoms = np.asarray(cells.geometry.values, dtype=object)
        problems = []
        missing = shapely.is_missing(geoms)
        for i in np.flatnonzero(missing):
            problems.append(Problem(cells.index[i], "geometry", "cell geometry is missing"))
        types = np.where(missing, -1, shapely.get_type_id(geoms))
        for i in np.flatnonzero(~missing & ~np.isin(types, [3, 6])):
            problems.append(Problem(cells.index[i], "geometry", "cell is not a polygon", geoms[i].geom_type))
        if problems:
            raise ValidationError("cells cannot be indexed", problems, fix="pass the polygons of the cells layer")
        self.codes = (cells[code_column].to_numpy(dtype=object) if code_column in cells.columns
                      else cells.index.to_numpy(dtype=object))
        self.n_cells = len(geoms)
        # prepared private copies (preparing the caller's objects would be a hidden side effect)
        self._geoms = shapely.from_wkb(shapely.to_wkb(geoms)) if len(geoms) else geoms
        shapely.prepare(self._geoms)
        lat = self.lattice
        if self.n_cells == 0:
            self._ix0 = self._iy0 = 0
            self._nx = self._ny = 0
            self._table = np.zeros(0, dtype=np.int64)
            self._cand = np.zeros((0, 0), dtype=np.int64)
            return
        c, ix, iy = lat.candidates(shapely.bounds(self._geoms))
        # a cell inside one lattice square with the full square's area is that square: no predicate needed
        n_cand = np.bincount(c, minlength=self.n_cells)
        full = (n_cand == 1) & (np.abs(shapely.area(self._geoms) - lat.nominal_area_m2) <= 1e-9 * lat.nominal_area_m2)
        easy = full[c]
        whole = easy.copy()
        hard = np.flatnonzero(~easy)
        boxes = lat.boxes(ix[hard], iy[hard])
        inter = shapely.intersects(self._geoms[c[hard]], boxes)
        # (cells that only touch a square stay candidates: harmless, and cheaper than testing for it)
        keep = np.ones(len(c), dtype=bool)
        keep[hard[~inter]] = False
        whole[hard[inter]] = shapely.covers(self._geoms[c[hard[inter]]], boxes[inter])
        c, ix, iy, whole = c[keep], ix[keep], iy[keep], whole[keep]
        self._ix0, self._iy0 = int(ix.min()), int(iy.min())
        self._nx, self._ny = int(ix.max()) - self._ix0 + 1, int(iy.max()) - self._iy0 + 1
        key = (iy - self._iy0) * self._nx + (ix - self._ix0)
        # candidates of shared squares: preferred cell (the cell whose own square it is) first, then frame order
        shared_keys = np.setdiff1d(np.unique(key), key[whole])
        sel = np.isin(key, shared_keys)
        sk, sc = key[sel], c[sel]
        own = np.zeros(len(sk), dtype=bool)
        if "ix" in cells.columns and "iy" in cells.columns:
            cix = pd.to_numeric(cells["ix"], errors="coerce").to_numpy(dtype=float)
            ciy = pd.to_numeric(cells["iy"], errors="coerce").to_numpy(dtype=float)
            own = (cix[sc] == ix[sel]) & (ciy[sc] == iy[sel])
        order = np.lexsort((sc, ~own, sk))
        sk, sc = sk[order], sc[order]
        slot_keys, first, counts = np.unique(sk, return_index=True, return_counts=True)
        width = int(counts.max()) if len(counts) else 0
        cand = np.full((len(slot_keys), width), -1, dtype=np.int64)
        rank = np.arange(len(sk)) - np.repeat(first, counts)
        cand[np.repeat(np.arange(len(slot_keys)), counts), rank] = sc
        self._cand = cand
        # table value: >= 0 cell position (whole square); <= -2 shared slot -(v+2); -1 no cell
        entries_key = np.concatenate([key[whole], slot_keys])
        entries_val = np.concatenate([c[whole], -(np.arange(len(slot_keys)) + 2)])
        if len(np.unique(key[whole])) != int(whole.sum()):
            raise ValidationError("cells overlap: a lattice square is covered by more than one cell",
                                  [Problem(None, "geometry", "overlapping cells")],
                                  fix="rebuild the cells with gridmap.grid.build_cells")
        self._dense = self._nx * self._ny <= _DENSE_LIMIT
        if self._dense:
            self._table = np.full(self._nx * self._ny, -1, dtype=np.int64)
            self._table[entries_key] = entries_val
        else:
            o = np.argsort(entries_key)
            self._keys, self._vals = entries_key[o], entries_val[o]
        self.n_whole = int(whole.sum())
        self.n_shared = len(slot_keys)
        log.debug("cell index: %d cells, %d whole squares, %d shared squares (max %d candidates)", self.n_cells,
                  self.n_whole, self.n_shared, width)

    def lookup(self, x: Any, y: Any) -> np.ndarray:
        """Cell position of each point (int64 array, -1 = no cell)."""
        x = np.asarray(x, dtype=float).ravel()
        y = np.asarray(y, dtype=float).ravel()
        out = np.full(len(x), -1, dtype=np.int64)
        if self.n_cells == 0 or len(x) == 0:
            return out
        size = self.lattice.cell_size_m
        fx = np.subtract(x, self.lattice.x0)
        fx /= size
        np.floor(fx, out=fx)
        fx -= self._ix0
        fy = np.subtract(y, self.lattice.y0)
        fy /= size
        np.floor(fy, out=fy)
        fy -= self._iy0
        inside = (fx >= 0) & (fx < self._nx) & (fy >= 0) & (fy < self._ny)  # NaN compares False
        fy *= self._nx
        fy += fx  # the square's key, exact in float64
        all_in = bool(inside.all())
        key = (fy if all_in else fy[inside]).astype(np.int64)
        if self._dense:
            found = self._table[key]
        else:
            pos = np.minimum(np.searchsorted(self._keys, key), len(self._keys) - 1)
            found = np.where(self._keys[pos] == key, self._vals[pos], -1)
        if all_in:
            val = found
        else:
            val = np.full(len(x), -1, dtype=np.int64)
            val[inside] = found
        out = np.maximum(val, -1)
        shared = np.flatnonzero(val <= -2)
        if len(shared):
            slot = -(val[shared] + 2)
            by_slot = np.argsort(slot, kind="stable")  # memory locality: each cell's prepared index used in a run
            shared, slot = shared[by_slot], slot[by_slot]
            pending = np.ones(len(shared), dtype=bool)
            for r in range(self._cand.shape[1]):
                cand = self._cand[slot, r]
                test = np.flatnonzero(pending & (cand >= 0))
                if not len(test):
                    break
                pts = shared[test]
                hit = shapely.intersects_xy(self._geoms[cand[test]], x[pts], y[pts])
                out[pts[hit]] = cand[test][hit]
                pending[test[hit]] = False
        return out


def _xy(points: Any, crs: CRS) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    if isinstance(points, (gpd.GeoDataFrame, gpd.GeoSeries)):
        pcrs = check_crs(points, where="points", metric=True)
        if not pcrs.equals(crs, ignore_axis_order=True):
            raise CRSError(message("points and cells are in different CRSs", where="assign_points",
                                   got=f"points {pcrs.to_string()}, cells {crs.to_string()}",
                                   fix="reproject the points with .to_crs(cells.crs) first"))
        geoms = np.asarray(points.geometry.values if isinstance(points, gpd.GeoDataFrame) else points.values,
                           dtype=object)
        n = len(geoms)
        x = np.full(n, np.nan)
        y = np.full(n, np.nan)
        ok = ~shapely.is_missing(geoms)
        if ok.any():
            types = shapely.get_type_id(geoms[ok])
            if (types != 0).any():
                raise ValidationError("assign_points needs point geometries",
                                      [Problem(None, "geometry", "not a point", shapely.get_type(geoms[ok][types != 0][0]))],
                                      fix="use .representative_point() or .centroid for areas")
            nonempty = ok.copy()
            nonempty[ok] = ~shapely.is_empty(geoms[ok])
            x[nonempty] = shapely.get_x(geoms[nonempty])
            y[nonempty] = shapely.get_y(geoms[nonempty])
        return x, y, points.index
    if isinstance(points, np.ndarray) and points.ndim == 2 and points.shape[1] == 2:
        x, y = points[:, 0], points[:, 1]
    elif isinstance(points, tuple) and len(points) == 2:
        x, y = points
    else:
        raise ValidationError("points must be a GeoDataFrame/GeoSeries, an (n, 2) array or an (x, y) tuple",
                              [Problem(None, None, "unsupported type", type(points).__name__)])
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if len(x) != len(y):
        raise ValidationError("x and y differ in length", [Problem(None, None, "length", (len(x), len(y)))])
    return x, y, pd.RangeIndex(len(x))


def assign_points(points: Any, cells: "gpd.GeoDataFrame | CellIndex", *, cell_size_m: float | None = None,
                  origin: tuple[float, float] | None = None, code_column: str = "code",
                  warn: bool = True) -> PointAssignment:
    """Assign each point to the unit cell covering it.

    Parameters
    ----------
    points : GeoDataFrame, GeoSeries, (n, 2) array or (x, y) tuple
        Points in the cells' CRS (raw coordinates are taken to be in it).
    cells : GeoDataFrame or CellIndex
        The cells (``code`` column), or a :class:`CellIndex` built once for many batches.
    cell_size_m, origin : lattice of the index (see :class:`CellIndex`); ignored when ``cells`` is an index.
    warn : bool, default True
        Emit :class:`UnassignedPointsWarning` when some points get no cell.

    Returns
    -------
    PointAssignment
        ``cell`` positions, ``codes`` aligned with the points, and the ``report`` of points on no cell.
    """
    index = cells if isinstance(cells, CellIndex) else CellIndex(cells, cell_size_m=cell_size_m, origin=origin,
                                                                code_column=code_column)
    x, y, labels = _xy(points, index.crs)
    cell = index.lookup(x, y)
    none = np.flatnonzero(cell < 0)
    codes = np.full(len(cell), None, dtype=object)
    got = cell >= 0
    codes[got] = index.codes[cell[got]]
    nan = ~(np.isfinite(x[none]) & np.isfinite(y[none]))
    report = pd.DataFrame({"point": labels[none], "x": x[none], "y": y[none],
                           "reason": np.where(nan, "missing coordinates", "on no cell")})
    if len(none):
        if warn:
            warnings.warn(f"{len(none)} of {len(cell)} point(s) are on no cell ({int(nan.sum())} without "
                          "coordinates); see PointAssignment.report", UnassignedPointsWarning, stacklevel=2)
    log.info("assigned %d points to cells, %d on no cell", len(cell) - len(none), len(none))
    return PointAssignment(cell=cell, codes=pd.Series(codes, index=labels, name="cell_code", dtype=object), report=report)
