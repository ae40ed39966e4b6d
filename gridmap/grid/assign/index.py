"""The point-to-cell index: :class:`CellIndex` (build once, look up many batches), :func:`assign_points`, and
:func:`cell_codes` (the cell, community and street codes of points), with the :class:`Engine` choice.

The index's steps are in :mod:`gridmap.grid.assign.numpy_engine` (with the sub-square level in
:mod:`gridmap.grid.assign.subsquares`) and :mod:`gridmap.grid.assign.kernel` (the compiled kernel); this module
holds what they share: building the index from a cells frame, looking points up in blocks on threads, and the
results.

>>> import geopandas as gpd, shapely
>>> cells = gpd.GeoDataFrame({"code": ["110101001001001"], "community_code": ["110101001001"]},
...                          geometry=[shapely.box(0, 0, 100, 100)], crs="EPSG:4548")
>>> cell_codes([50.0, 150.0], [50.0, 50.0], cells).values.tolist()
[['110101001001001', '110101001001', '110101001'], [None, None, None]]
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
import warnings
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gridmap._enums import ChoiceEnum
from gridmap.crs import check_crs
from gridmap.errors import CRSError, Problem, ValidationError, message
from gridmap.grid.assign import kernel as _binding
from gridmap.grid.assign.kernel import KernelEngine
from gridmap.grid.assign.numpy_engine import NumpyEngine
from gridmap.grid.assign.subsquares import SubSquares
from gridmap.grid.lattice import Lattice

__all__ = ["CellIndex", "Engine", "PointAssignment", "UnassignedPointsWarning", "assign_points", "cell_codes",
           "default_threads"]

log = logging.getLogger(__name__)

#: Dense coarse lookup tables up to this many squares; beyond, a sorted-key search is used.
_DENSE_LIMIT = 50_000_000
#: Sub-squares are classified once this many points per shared square have been looked up (see CellIndex):
#: measured on 1,600 km² (33,160 shared squares), classifying costs about as much as 4-5 M points tested directly.
_SUB_AFTER = 200
#: Points are looked up in blocks of this many.
_CHUNK = 1 << 17
#: From this many cells on, their geometry types are read on a thread while their vertices are read.
_OVERLAP_MIN = 20_000
#: Lookups are split over threads only from this many points on.
_PARALLEL_MIN = 200_000


class Engine(ChoiceEnum, what="CellIndex engine"):
    """How :class:`CellIndex` computes: ``auto`` (the kernel where built, else numpy), ``c``, ``numpy``."""

    AUTO = "auto"
    C = "c"
    NUMPY = "numpy"

    @classmethod
    def _unknown(cls, value: object) -> ValidationError:
        return ValidationError("unknown CellIndex engine",
                               [Problem(None, "engine", "not one of " + cls.choices(), value)], fix="use engine='auto'")

    @classmethod
    def parse(cls, value: "str | Engine") -> "Engine":
        engine = super().parse(value)
        if engine is cls.C and _binding._KERNEL is None:
            raise ValidationError("the compiled kernel of gridmap is not built",
                                  [Problem(None, "engine", "gridmap.grid._kernel could not be loaded", value)],
                                  fix="reinstall gridmap with a C compiler and the Python headers present "
                                      "(scripts/setup.sh installs them), or use engine='numpy'")
        if engine is cls.AUTO:
            engine = cls.C if _binding._KERNEL is not None else cls.NUMPY
        return engine


def default_threads() -> int:
    """Threads for large lookups: ``$GRIDMAP_THREADS``, else the CPUs this process may use (max 8).

    numpy and shapely release the GIL in their array loops, so blocks of points run in parallel; results do not
    depend on the number of threads.
    """
    env = os.environ.get("GRIDMAP_THREADS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValidationError("GRIDMAP_THREADS must be a whole number",
                                  [Problem(None, "GRIDMAP_THREADS", "not an integer", env)],
                                  fix="unset it or set e.g. GRIDMAP_THREADS=1") from None
        return max(n, 1)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()


def _forget_pool() -> None:
    """In a forked child the parent's worker threads do not exist: start a new pool there when needed."""
    global _POOL, _POOL_SIZE, _POOL_LOCK
    _POOL, _POOL_SIZE, _POOL_LOCK = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _pool(n: int) -> ThreadPoolExecutor:
    """A process-wide pool of at least ``n`` worker threads (created on first use)."""
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is None or _POOL_SIZE < n:
            if _POOL is not None:
                _POOL.shutdown(wait=False)  # running blocks finish; new ones go to the larger pool
            _POOL = ThreadPoolExecutor(max_workers=n, thread_name_prefix="gridmap")
            _POOL_SIZE = n
        return _POOL


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
        Each point's cell code (or ``None``), aligned with the points' index. Built on first access (for 10 M
        points the Python string objects cost more than the assignment itself).
    report : pandas DataFrame
        Points with no cell: ``point`` (index label), ``x``, ``y``, ``reason``.
    """

    cell: np.ndarray
    report: pd.DataFrame = field(repr=False)
    labels: pd.Index = field(repr=False, default_factory=lambda: pd.RangeIndex(0))
    #: the code of each cell position: an array, or a function giving it (called on the first access to ``codes``)
    cell_codes: Any = field(repr=False, default_factory=lambda: np.zeros(0, dtype=object))

    @functools.cached_property
    def codes(self) -> pd.Series:
        source = self.cell_codes() if callable(self.cell_codes) else self.cell_codes
        table = np.append(np.asarray(source, dtype=object), None)  # position -1 -> None
        return pd.Series(table[self.cell], index=self.labels, name="cell_code", dtype=object, copy=False)

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


def _geometries(cells: gpd.GeoDataFrame, threads: int) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """The cells' geometries, their type ids and ``shapely.get_coordinates(..., return_index=True)``; a
    :class:`~gridmap.errors.ValidationError` listing every missing or non-polygonal cell."""
    geoms = np.asarray(cells.geometry.values, dtype=object)
    problems = []
    # the geometry types (GEOS without the GIL) on a thread while shapely.get_coordinates (with it) runs below
    types_job = (_pool(threads).submit(shapely.get_type_id, geoms)
                 if threads > 1 and len(geoms) >= _OVERLAP_MIN else None)
    coords = shapely.get_coordinates(geoms, return_index=True)
    types = types_job.result() if types_job is not None else shapely.get_type_id(geoms)  # -1: missing
    missing = types == -1
    for i in np.flatnonzero(missing):
        problems.append(Problem(cells.index[i], "geometry", "cell geometry is missing"))
    for i in np.flatnonzero(~missing & ~np.isin(types, [3, 6])):
        problems.append(Problem(cells.index[i], "geometry", "cell is not a polygon", geoms[i].geom_type))
    if problems:
        raise ValidationError("cells cannot be indexed", problems, fix="pass the polygons of the cells layer")
    return geoms, types, coords


class CellIndex(NumpyEngine, SubSquares, KernelEngine):
    """A reusable point-to-cell index over a cells frame (build once, assign many batches).

    Parameters
    ----------
    cells : GeoDataFrame
        Polygonal cells in a projected CRS, e.g. from :func:`~gridmap.grid.build_cells` or ``store.read('cells')``.
        Cells must not overlap (they never do when built by gridmap).
    cell_size_m, origin : lattice of the index; default: the lattice the cells were built on (``cells.attrs``)
        or 100 m at (0, 0). Any lattice gives correct answers; the cells' own lattice gives the fastest.
    code_column : str, default 'code'
    subdivide : bool or None, default None
        Build the sub-square level (2. below) at once (True), never (False), or, on the numpy engine, when the
        points looked up so far reach 200 per shared square (None): below that, testing the points of shared
        squares directly is cheaper than classifying their sub-squares. The kernel never needs it (None: never).
        Answers are the same either way.
    threads : int or None, default None
        Threads for lookups of 200,000 points or more (blocks of points at once: numpy and shapely release the
        GIL); None: :func:`default_threads` (``$GRIDMAP_THREADS``, else the usable CPUs, at most 8). Answers are
        the same for any number.
    engine : {'auto', 'c', 'numpy'}, default 'auto'
        'c': the compiled kernel (``gridmap/grid/_kernel.c``, built at install when a C compiler is present) scans
        the cells and runs the per-point steps 1 and 3 below in one pass, without the sub-square level; it leaves
        points next to a lattice line or within rounding of an edge to the numpy path (GEOS decides those).
        'numpy': vectorised numpy only. 'auto': 'c' where built (see :data:`ENGINES`). Answers are identical.

    Notes
    -----
    Three levels, each exact:

    1. A dense table over the lattice squares of the cells' extent (a sorted-key search beyond 50 M squares). A
       square that *is* a cell (a polygon of 5 vertices with the square as bounds and sides alternating between
       x and y steps) maps straight to that cell: one ``floor`` and one lookup per point.
    2. numpy engine only, once it pays: every other square met by a cell (*shared*: clipped cells, merged
       slivers, the edge of the gridded area) is divided into ``8 x 8`` sub-squares. A sub-square that no cell
       edge reaches lies inside one cell or outside all of them; which one is found once by counting boundary
       crossings along its row.
    3. Other points of shared squares, and points on (or within 1e-9 squares of) lattice lines, are tested
       against the few cells meeting their square, in a fixed order (the cell whose own square it is first): a
       crossing-number test whose floating-point orientation is trusted only outside Shewchuk's error bound, with
       ``shapely.intersects_xy`` deciding the rare uncertain cases (points on or next to an edge), so boundary
       points get GEOS's exact answer. The kernel does this per point in C over the square's packed candidates and
       hands the uncertain points, and those next to lattice lines, to the numpy path.
    """

    def __init__(self, cells: gpd.GeoDataFrame, *, cell_size_m: float | None = None,
                 origin: tuple[float, float] | None = None, code_column: str = "code",
                 subdivide: bool | None = None, threads: int | None = None, engine: "str | Engine" = "auto"):
        #: 'c' or 'numpy': the engine in use (never 'auto')
        self.engine: str = Engine.parse(engine).value
        self.threads = default_threads() if threads is None else max(int(threads), 1)
        self.crs: CRS = check_crs(cells, where="cells", metric=True)
        self.lattice = _lattice_of(cells, cell_size_m, origin)
        geoms, types, coords = _geometries(cells, self.threads)
        self._code_source = cells[code_column] if code_column in cells.columns else cells.index
        self.n_cells = n = len(geoms)
        self._geoms = geoms  # used read-only (never prepared: that would change the caller's objects)
        self.n_whole = self.n_shared = 0
        self._sub = 0
        self._width = 0
        if n == 0:
            self._ix0 = self._iy0 = 0
            self._nx = self._ny = 0
            self._dense = True
            self._table = np.zeros(0, dtype=np.int64)
            return
        # one pass over the geometries (above): every vertex (GEOS calls per geometry cost more than the work below)
        scan = self._scan_kernel if self.engine == "c" else self._scan_numpy
        xy, vowner, vstart, vcount, b, lb, full, simple = scan(*coords, types)
        ix_lo, iy_lo, ix_hi, iy_hi = lb.T
        ok = vcount > 0
        self._bounds = b
        bad = np.flatnonzero(ok & ~np.isfinite(b).all(axis=1))
        if len(bad):
            raise ValidationError("cells cannot be indexed: coordinates are NaN or infinite",
                                  [Problem(cells.index[i], "geometry", "cell has a NaN or infinite coordinate")
                                   for i in bad], fix="repair or drop those cells")
        self._full = full
        self._ix0, self._iy0 = int(ix_lo[ok].min()), int(iy_lo[ok].min())
        self._nx = int(ix_hi[ok].max()) - self._ix0 + 1
        self._ny = int(iy_hi[ok].max()) - self._iy0 + 1
        own_x = own_y = None
        if "ix" in cells.columns and "iy" in cells.columns:  # the cells' own squares: candidates there come first
            own_x, own_y = (pd.to_numeric(cells[c], errors="coerce").to_numpy(dtype=float) for c in ("ix", "iy"))
        dense = self._nx * self._ny <= _DENSE_LIMIT
        if self.engine == "c" and dense:
            slot_ix, slot_iy, n_full = self._slots_kernel(lb, full, b, own_x, own_y)
        else:
            slot_ix, slot_iy, n_full = self._slots_numpy(ix_lo, iy_lo, ix_hi, iy_hi, full, ok, b, own_x, own_y,
                                                         dense=dense)
        self.n_whole = n_full
        self.n_shared = len(slot_ix)
        part = np.flatnonzero(~full & ok)
        self._edges(part, types[part], xy, vowner, vstart, vcount, None if simple is None else simple[part])
        self._slots = (slot_ix, slot_iy)
        # the kernel tests points of shared squares directly, faster than the sub-square level pays back
        self._subdivide_mode = False if subdivide is None and self.engine == "c" else subdivide
        self._looked_up = 0
        if self.n_shared and subdivide:
            self._subdivide(slot_ix, slot_iy)
        if self.engine == "c":
            self._pack()
        log.debug("cell index: %d cells, %d whole squares, %d shared squares (max %d candidates, %d x %d sub-squares)",
                  n, self.n_whole, self.n_shared, self._width, self._sub, self._sub)

    @functools.cached_property
    def codes(self) -> np.ndarray:
        """Cell code of each position (object array; the frame's index where it has no code column)."""
        return self._code_source.to_numpy(dtype=object)

    # -- lookup -------------------------------------------------------------------------------------------------
    def lookup(self, x: Any, y: Any) -> np.ndarray:
        """Cell position of each point (int64 array, -1 = no cell)."""
        x = np.asarray(x, dtype=float).ravel()
        y = np.asarray(y, dtype=float).ravel()
        if len(x) != len(y):
            raise ValidationError("x and y differ in length", [Problem(None, None, "length", (len(x), len(y)))])
        out = np.full(len(x), -1, dtype=np.int64)
        if self.n_cells == 0 or len(x) == 0:
            return out
        # blocks small enough for their temporaries to stay in cache (and be reused, not page-faulted in)
        self._looked_up += len(x)
        if (not self._sub and self._subdivide_mode is None and self.n_shared
                and self._looked_up >= _SUB_AFTER * self.n_shared):
            self._subdivide(*self._slots)
            self._subdivide_mode = True  # (built, or not possible: do not try again)
        starts = range(0, len(x), _CHUNK)
        block = self._lookup_block
        if self.engine == "c":
            x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)
            if "_kernel_args" not in self.__dict__:  # (an unpickled index)
                self._pack()
            block = self._lookup_block_c
        if self.threads > 1 and len(x) >= _PARALLEL_MIN:
            # blocks write disjoint slices of out; the index is only read
            done = _pool(self.threads).map(lambda a: block(x[a:a + _CHUNK], y[a:a + _CHUNK], out[a:a + _CHUNK]),
                                           starts)
            for _ in done:  # re-raises a block's exception here
                pass
        else:
            for a in starts:
                block(x[a:a + _CHUNK], y[a:a + _CHUNK], out[a:a + _CHUNK])
        return out

    def __getstate__(self) -> dict:
        """Pickled without the kernel's raw pointers (valid in this process only): packed again on first lookup."""
        state = self.__dict__.copy()
        state.pop("_kernel_args", None)
        state.pop("_kernel_keep", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.engine == "c" and _binding._KERNEL is None:  # unpickled where the kernel is not built: same answers
            self.engine = "numpy"


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
    nan = ~(np.isfinite(x[none]) & np.isfinite(y[none]))
    report = pd.DataFrame({"point": labels[none], "x": x[none], "y": y[none],
                           "reason": np.where(nan, "missing coordinates", "on no cell")})
    if len(none):
        if warn:
            warnings.warn(f"{len(none)} of {len(cell)} point(s) are on no cell ({int(nan.sum())} without "
                          "coordinates); see PointAssignment.report", UnassignedPointsWarning, stacklevel=2)
    log.info("assigned %d points to cells, %d on no cell", len(cell) - len(none), len(none))
    return PointAssignment(cell=cell, report=report, labels=labels, cell_codes=lambda: index.codes)


def cell_codes(x: Any, y: Any, cells: gpd.GeoDataFrame, *, index: CellIndex | None = None) -> pd.DataFrame:
    """Cell, community and street code of each point: the one cell lookup behind every import and rebuild.

    Parameters
    ----------
    x, y : array-like
        Point coordinates in the cells' CRS (NaN: no cell).
    cells : GeoDataFrame
        The cells: ``code``, and ``community_code`` (and ``street_code``) where known, as ``store.read('cells')``
        gives them.
    index : CellIndex, optional
        A :class:`CellIndex` over ``cells``, to look several batches up against one build; built here if not given.

    Returns
    -------
    DataFrame
        One row per point, in order (a RangeIndex), object columns ``cell_code``, ``community_code`` and
        ``street_code``, None where no cell covers the point. The street code is the cells' ``street_code`` where
        they have one, else the first 9 digits of the community code; the community code is None where the cells
        have no ``community_code``.
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if index is None:
        index = CellIndex(cells)
    pos = index.lookup(x, y)

    def per_cell(values: Any) -> np.ndarray:
        """One value per cell (missing ones None), then None for position -1 (no cell)."""
        v = np.asarray(values, dtype=object)
        return np.append(np.where(pd.isna(v), None, v), None)

    n = len(cells)
    community = per_cell(cells["community_code"] if "community_code" in cells.columns else [None] * n)
    street = (per_cell(cells["street_code"]) if "street_code" in cells.columns
              else np.array([c[:9] if isinstance(c, str) else None for c in community], dtype=object))
    return pd.DataFrame({"cell_code": per_cell(cells["code"])[pos], "community_code": community[pos],
                         "street_code": street[pos]}, dtype=object)
