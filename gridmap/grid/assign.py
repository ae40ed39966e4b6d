"""Point to cell assignment for millions of points: lattice arithmetic first, exact point-in-polygon only at edges.

Boundary semantics
------------------
A point belongs to a cell that *covers* it (interior or boundary), the relation of ``geopandas.sjoin(...,
predicate='intersects')``. A point inside one cell gets that cell (the same as ``predicate='within'``). A point
on the boundary shared by several cells gets exactly one of them, chosen deterministically: among the cells
covering it, the cell whose own lattice square (columns ``ix``/``iy``) contains the point in the half-open sense
of :class:`~gridmap.grid.lattice.Lattice` (lattice lines belong to the square east / north of them), else a cell
reaching into that square's interior, else any other (each in the order of the ``cells`` frame). Points covered by
no cell, and points with missing coordinates, get no cell and are listed in :attr:`PointAssignment.report` (never
dropped silently; a :class:`UnassignedPointsWarning` says how many).

How it is fast
--------------
:class:`CellIndex` maps every lattice square met by a cell to either the one cell that *is* that square (a whole
square: one ``floor`` and one table lookup per point) or a *shared* square (clipped cells, merged slivers, the
edge of the gridded area) with its few candidate cells. Only points in shared squares, and points on lattice lines,
get an exact point-in-polygon test: crossing numbers over the edges the point's horizontal line meets, with GEOS
(``shapely.intersects_xy``) deciding points that lie on, or within rounding of, an edge. Nothing is approximated:
answers equal ``geopandas.sjoin``.

Two engines give the same answers (tested against each other and against sjoin). ``c``, the default where it was
built at install: a small C kernel (``gridmap/grid/_kernel.c``, called through ctypes) scans the cells' vertices,
builds the table and the candidates, packs each shared square's candidates and edges into one run of memory, and
looks points up in one pass, prefetching the runs ahead; it leaves points next to a lattice line or an edge to the
numpy path. ``numpy``: the same steps vectorised, plus a sub-square level for shared squares (``8 x 8`` sub-squares
whose cell is found once by counting boundary crossings along their rows) once enough points have come to pay for
it. Large lookups run blocks of points on threads (``$GRIDMAP_THREADS``, default the usable CPUs); the answer does
not depend on their number.

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

import ctypes
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
from gridmap.grid.lattice import Lattice

__all__ = ["ENGINES", "CellIndex", "Engine", "PointAssignment", "UnassignedPointsWarning", "assign_points"]

log = logging.getLogger(__name__)

#: Dense coarse lookup tables up to this many squares; beyond, a sorted-key search is used.
_DENSE_LIMIT = 50_000_000
#: Sub-squares per side of a shared lattice square (a power of two), reduced if the build arrays would be too big.
_SUB = 8
#: Sub-squares are classified once this many points per shared square have been looked up (see CellIndex):
#: measured on 1,600 km² (33,160 shared squares), classifying costs about as much as 4-5 M points tested directly.
_SUB_AFTER = 200
#: Largest sub-square table (entries); beyond, fewer sub-squares per shared square.
_SUB_LIMIT = 64_000_000
#: Points closer than this (in lattice units) to a lattice or sub-square line take the exact path.
_NEAR = 1e-9
#: Relative error bound of the floating-point orientation test (Shewchuk's ccwerrboundA, with a safety factor).
_ORIENT_BOUND = 4.0 * np.finfo(float).eps
#: Points are looked up in blocks of this many.
_CHUNK = 1 << 17
#: Exact point-in-polygon work is done in blocks of this many (point, edge) pairs.
_PAIR_BLOCK = 4_000_000
#: From this many cells on, their geometry types are read on a thread while their vertices are read.
_OVERLAP_MIN = 20_000
#: Lookups are split over threads only from this many points on.
_PARALLEL_MIN = 200_000


#: Version of the kernel's function signatures this module calls (``gm_abi`` in ``_kernel.c``).
_ABI = 2
#: The kernel's answer for points it leaves to the numpy path (next to a lattice line or an edge).
_DEFERRED = -3


def _load_kernel() -> ctypes.CDLL | None:
    """The compiled kernel (``gridmap/grid/_kernel.c``, built at install when a C compiler is there), or None."""
    try:
        from gridmap.grid import _kernel
        lib = ctypes.CDLL(_kernel.__file__)  # a CDLL call releases the GIL: blocks of points run on threads
        lib.gm_abi.restype = ctypes.c_int64
        abi = lib.gm_abi()
    except (ImportError, OSError, AttributeError) as exc:
        log.debug("compiled kernel not available (%s): using the numpy code path", exc)
        return None
    if abi != _ABI:
        warnings.warn(f"gridmap: the compiled kernel {_kernel.__file__} is a stale build (version {abi}, this "
                      f"gridmap needs {_ABI}): using the slower numpy engine; rebuild with scripts/setup.sh or "
                      "pip install -e .", RuntimeWarning, stacklevel=2)
        return None
    p, i64, f64 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
    lib.gm_runs.restype = None
    lib.gm_runs.argtypes = [i64, p, i64, p, p]
    lib.gm_scan.restype = None
    lib.gm_scan.argtypes = [i64, p, p, p, p, f64, f64, f64, p, p, p, p]
    lib.gm_slots_count.restype = i64
    lib.gm_slots_count.argtypes = [i64, p, p, i64, i64, i64, p]
    lib.gm_slots_fill.restype = i64
    lib.gm_slots_fill.argtypes = [i64, p, p, p, p, p, f64, f64, f64, i64, i64, i64, i64, p, p, p, p, p, p, p]
    lib.gm_slots_matrix.restype = None
    lib.gm_slots_matrix.argtypes = [i64, p, p, p, i64, i64, p, p]
    lib.gm_pack.restype = i64
    lib.gm_pack.argtypes = [i64, p, i64, p, p, p, p, p, p, i64, p, p, p]
    lib.gm_lookup.restype = i64
    lib.gm_lookup.argtypes = [i64, p, p, f64, f64, f64, f64, i64, i64, i64, i64, p, p, p, i64, p, p, p, f64, p,
                              p]
    return lib


_KERNEL = _load_kernel()
#: Engines of CellIndex on this install: the compiled kernel ('c') where it was built, and numpy.
ENGINES = ("c", "numpy") if _KERNEL is not None else ("numpy",)


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
        if engine is cls.C and _KERNEL is None:
            raise ValidationError("the compiled kernel of gridmap is not built",
                                  [Problem(None, "engine", "gridmap.grid._kernel could not be loaded", value)],
                                  fix="reinstall gridmap with a C compiler and the Python headers present "
                                      "(scripts/setup.sh installs them), or use engine='numpy'")
        if engine is cls.AUTO:
            engine = cls.C if _KERNEL is not None else cls.NUMPY
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


def _floor_exact(v: np.ndarray, origin: float, size: float) -> np.ndarray:
    """Lattice index (float) of coordinates, exact against the lattice lines ``origin + i * size`` as computed."""
    i = np.floor((v - origin) / size)
    i -= v < origin + i * size
    i += v >= origin + (i + 1) * size
    return i


def _overlap_error() -> ValidationError:
    return ValidationError("cells overlap: a lattice square is covered by more than one cell",
                           [Problem(None, "geometry", "overlapping cells")],
                           fix="rebuild the cells with gridmap.grid.build_cells")


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


def _ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, value) for every integer in each inclusive range ``lo[i]..hi[i]`` (vectorised)."""
    lo = np.asarray(lo, dtype=np.int64)
    counts = np.maximum(np.asarray(hi, dtype=np.int64) - lo + 1, 0)
    owner = np.repeat(np.arange(len(lo)), counts)
    start = np.cumsum(counts) - counts
    values = np.arange(int(start[-1] + counts[-1]) if len(counts) else 0, dtype=np.int64)
    values += (lo - start)[owner]
    return owner, values


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
        self.lattice = lat = _lattice_of(cells, cell_size_m, origin)
        geoms = np.asarray(cells.geometry.values, dtype=object)
        problems = []
        # the geometry types (GEOS without the GIL) on a thread while shapely.get_coordinates (with it) runs below
        types_job = (_pool(self.threads).submit(shapely.get_type_id, geoms)
                     if self.threads > 1 and len(geoms) >= _OVERLAP_MIN else None)
        coords = shapely.get_coordinates(geoms, return_index=True)
        types = types_job.result() if types_job is not None else shapely.get_type_id(geoms)  # -1: missing
        missing = types == -1
        for i in np.flatnonzero(missing):
            problems.append(Problem(cells.index[i], "geometry", "cell geometry is missing"))
        for i in np.flatnonzero(~missing & ~np.isin(types, [3, 6])):
            problems.append(Problem(cells.index[i], "geometry", "cell is not a polygon", geoms[i].geom_type))
        if problems:
            raise ValidationError("cells cannot be indexed", problems, fix="pass the polygons of the cells layer")
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
        s, x0, y0 = lat.cell_size_m, lat.x0, lat.y0
        # one pass over the geometries (above): every vertex (GEOS calls per geometry cost more than the work below)
        xy, vowner = coords
        if self.engine == "c":  # vertex runs, bounds, lattice bounds, whole squares and holes in compiled passes
            xy = np.ascontiguousarray(xy)
            vowner = np.ascontiguousarray(vowner, dtype=np.int64)
            vstart, vcount = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
            _KERNEL.gm_runs(len(vowner), vowner.ctypes.data, n, vstart.ctypes.data, vcount.ctypes.data)
            b = np.empty((n, 4))
            lb = np.empty((n, 4), dtype=np.int64)
            full, simple = np.empty(n, dtype=np.uint8), np.empty(n, dtype=np.uint8)
            _KERNEL.gm_scan(n, vstart.ctypes.data, vcount.ctypes.data, xy.ctypes.data,
                            np.ascontiguousarray(types, dtype=np.int32).ctypes.data, x0, y0, s, b.ctypes.data,
                            lb.ctypes.data, full.ctypes.data, simple.ctypes.data)
            full, simple = full.view(bool), simple.view(bool)
            ix_lo, iy_lo, ix_hi, iy_hi = lb.T
        else:
            simple = None  # (holes: found in _edges)
            vx, vy = xy[:, 0], xy[:, 1]  # strided views, no copies
            vcount = np.bincount(vowner, minlength=n).astype(np.int64)
            vstart = np.cumsum(vcount) - vcount
            nz = np.flatnonzero(vcount)
            b = np.empty((n, 4))
            b[vcount == 0] = [np.inf, np.inf, -np.inf, -np.inf]  # empty polygons: kept out of every range
            if len(nz):
                at = vstart[nz]
                b[nz, 0] = np.minimum.reduceat(vx, at)
                b[nz, 1] = np.minimum.reduceat(vy, at)
                b[nz, 2] = np.maximum.reduceat(vx, at)
                b[nz, 3] = np.maximum.reduceat(vy, at)
            ix_lo = _floor_exact(b[:, 0], x0, s)
            iy_lo = _floor_exact(b[:, 1], y0, s)
            ix_hi = _floor_exact(b[:, 2], x0, s)
            iy_hi = _floor_exact(b[:, 3], y0, s)
            # cells that are exactly a lattice square: a polygon of 5 vertices (one ring, no hole) with the square
            # as its bounds, whose 4 sides alternate between changing x and changing y (a rectangle: the square)
            full = ((types == 3) & (vcount == 5) & (ix_hi == ix_lo + 1) & (iy_hi == iy_lo + 1)
                    & (b[:, 0] == x0 + ix_lo * s) & (b[:, 2] == x0 + (ix_lo + 1) * s)
                    & (b[:, 1] == y0 + iy_lo * s) & (b[:, 3] == y0 + (iy_lo + 1) * s))
            fi = np.flatnonzero(full)
            at = vstart[fi][:, None] + np.arange(5)
            rx, ry = vx[at], vy[at]
            cx = rx[:, 1:] != rx[:, :-1]
            cy = ry[:, 1:] != ry[:, :-1]
            del rx, ry, at
            full[fi] = ((cx != cy).all(axis=1) & (cx[:, 0] != cx[:, 1]) & (cx[:, 1] != cx[:, 2])
                        & (cx[:, 2] != cx[:, 3]))
            for a in (ix_lo, iy_lo):
                a[vcount == 0] = 0
            for a in (ix_hi, iy_hi):
                a[vcount == 0] = -1
            ix_lo, iy_lo, ix_hi, iy_hi = (a.astype(np.int64) for a in (ix_lo, iy_lo, ix_hi, iy_hi))
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
        if self.engine == "c" and self._nx * self._ny <= _DENSE_LIMIT:
            slot_ix, slot_iy, n_full = self._slots_kernel(lb, full, b, own_x, own_y)
        else:
            slot_ix, slot_iy, n_full = self._slots_numpy(ix_lo, iy_lo, ix_hi, iy_hi, full, ok, b, own_x, own_y)
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

    def _slots_numpy(self, ix_lo: np.ndarray, iy_lo: np.ndarray, ix_hi: np.ndarray, iy_hi: np.ndarray,
                     full: np.ndarray, ok: np.ndarray, b: np.ndarray, own_x: np.ndarray | None,
                     own_y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, int]:
        """The coarse table, the shared squares and their candidates (numpy; dense or sparse table)."""
        lat = self.lattice
        s, x0, y0 = lat.cell_size_m, lat.x0, lat.y0
        nx = self._nx

        def key_of(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
            return ((iy - self._iy0) * nx + (ix - self._ix0)).astype(np.int64)

        fidx = np.flatnonzero(full)
        fkey = key_of(ix_lo[fidx], iy_lo[fidx])
        whole = np.zeros(self._nx * self._ny, dtype=bool) if self._nx * self._ny <= _DENSE_LIMIT else None
        if whole is not None:
            whole[fkey] = True
        if (int(whole.sum()) if whole is not None else len(np.unique(fkey))) != len(fkey):
            raise _overlap_error()
        # candidate (cell, square) pairs for shared squares: every square a cell's closed bounds reach
        # (floor of min .. floor of max, so points on a lattice line find the cells west/south of it too)
        part = np.flatnonzero(~full & ok)
        e_x, px = _ranges(ix_lo[part], ix_hi[part])
        e_y, py = _ranges(iy_lo[part][e_x], iy_hi[part][e_x])
        pc, px = part[e_x][e_y], px[e_y]
        pkey = key_of(px, py)
        keep = ~whole[pkey] if whole is not None else ~np.isin(pkey, fkey)
        pc, pkey, px, py = [pc[keep]], [pkey[keep]], [px[keep]], [py[keep]]
        # full cells reach the squares east, north and north-east of theirs with their boundary (those squares
        # exist in the table: the full cell's bounds reach them); only the ones not whole themselves matter
        for dx, dy in ((1, 0), (0, 1), (1, 1)):
            k = fkey + (dy * nx + dx)
            keep = np.flatnonzero(~whole[k] if whole is not None else ~np.isin(k, fkey))
            pc.append(fidx[keep])
            pkey.append(k[keep])
            px.append(ix_lo[fidx[keep]] + dx)
            py.append(iy_lo[fidx[keep]] + dy)
        pc, pkey, px, py = (np.concatenate(v) for v in (pc, pkey, px, py))
        # candidates of a shared square: the cell whose own square it is (columns ix/iy) first, then frame order
        own = np.zeros(len(pc), dtype=bool)
        if own_x is not None:
            own = (own_x[pc] == px) & (own_y[pc] == py)
        # the candidates whose bounds reach into the open square (not just onto its west/south line): only they can
        # cover a point off the lattice lines, and they come before the others (a point on a lattice line goes to
        # a cell of the square east / north of the line when one covers it)
        reach = (((px < ix_hi[pc]) | (b[pc, 2] > x0 + ix_hi[pc] * s))
                 & ((py < iy_hi[pc]) | (b[pc, 3] > y0 + iy_hi[pc] * s)))
        order = np.lexsort((pc, ~reach, ~own, pkey))
        pkey, pc, px, py, reach = pkey[order], pc[order], px[order], py[order], reach[order]
        slot_keys, first, counts = np.unique(pkey, return_index=True, return_counts=True)
        slot = np.repeat(np.arange(len(slot_keys)), counts)
        self._cand = self._matrix(slot, pc, len(slot_keys))
        self._width = self._cand.shape[1]
        self._cand_in = self._matrix(slot[reach], pc[reach], len(slot_keys))
        slot_ix, slot_iy = px[first], py[first]
        # table value: >= 0 cell position (whole square); <= -2 shared slot -(v+2); -1 no cell
        entries_key = np.concatenate([fkey, slot_keys])
        entries_val = np.concatenate([fidx, -(np.arange(len(slot_keys)) + 2)])
        self._dense = whole is not None
        if self._dense:
            self._table = np.full(self._nx * self._ny + 1, -1, dtype=np.int64)  # + a -1 sentinel
            self._table[entries_key] = entries_val
        else:
            o = np.argsort(entries_key)
            self._keys, self._vals = entries_key[o], entries_val[o]
        return slot_ix, slot_iy, len(fidx)

    def _slots_kernel(self, lb: np.ndarray, full: np.ndarray, b: np.ndarray, own_x: np.ndarray | None,
                      own_y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, int]:
        """The same as :meth:`_slots_numpy` on a dense table, in three kernel calls (``gm_slots_*``)."""
        lat = self.lattice
        n, nx, ny = self.n_cells, self._nx, self._ny
        lb = np.ascontiguousarray(lb, dtype=np.int64)
        full8 = np.ascontiguousarray(full).view(np.uint8)
        self._dense = True
        self._table = table = np.full(nx * ny + 1, -1, dtype=np.int64)  # + a -1 sentinel
        n_pairs = _KERNEL.gm_slots_count(n, lb.ctypes.data, full8.ctypes.data, self._ix0, self._iy0, nx,
                                         table.ctypes.data)
        if n_pairs < 0:
            raise _overlap_error()
        slot_key = np.empty(n_pairs, dtype=np.int64)
        start = np.empty(n_pairs + 1, dtype=np.int64)
        fill = np.empty(n_pairs, dtype=np.int64)
        pair_cell = np.empty(n_pairs, dtype=np.int64)
        pair_flag = np.empty(n_pairs, dtype=np.uint8)
        widths = np.zeros(2, dtype=np.int64)
        own = [None, None] if own_x is None else [np.ascontiguousarray(a, dtype=float) for a in (own_x, own_y)]
        bb = np.ascontiguousarray(b)
        n_slot = _KERNEL.gm_slots_fill(n, lb.ctypes.data, full8.ctypes.data, bb.ctypes.data,
                                       *[None if a is None else a.ctypes.data for a in own], lat.x0, lat.y0,
                                       lat.cell_size_m, self._ix0, self._iy0, nx, ny, table.ctypes.data,
                                       slot_key.ctypes.data, start.ctypes.data, fill.ctypes.data,
                                       pair_cell.ctypes.data, pair_flag.ctypes.data, widths.ctypes.data)
        w, w_in = (int(v) for v in widths)
        self._cand = np.empty((n_slot, w), dtype=np.int64)
        self._cand_in = np.empty((n_slot, w_in), dtype=np.int64)
        _KERNEL.gm_slots_matrix(n_slot, start.ctypes.data, pair_cell.ctypes.data, pair_flag.ctypes.data, w, w_in,
                                self._cand.ctypes.data, self._cand_in.ctypes.data)
        self._width = w
        slot_key = slot_key[:n_slot]
        return slot_key % nx + self._ix0, slot_key // nx + self._iy0, int(np.count_nonzero(full))

    @functools.cached_property
    def codes(self) -> np.ndarray:
        """Cell code of each position (object array; the frame's index where it has no code column)."""
        return self._code_source.to_numpy(dtype=object)

    # -- building -----------------------------------------------------------------------------------------------
    @staticmethod
    def _matrix(slot: np.ndarray, cell: np.ndarray, n_slot: int) -> np.ndarray:
        """Candidates per slot as rows of a matrix padded with -1 (``slot`` sorted, order kept)."""
        counts = np.bincount(slot, minlength=n_slot)
        width = int(counts.max()) if len(counts) else 0
        m = np.full((n_slot, width), -1, dtype=np.int64)
        start = np.cumsum(counts) - counts
        m[slot, np.arange(len(slot)) - start[slot]] = cell
        return m

    def _edges(self, part: np.ndarray, types: np.ndarray, xy: np.ndarray, vowner: np.ndarray, vstart: np.ndarray,
               vcount: np.ndarray, simple: np.ndarray | None = None) -> None:
        """Edges of the cells that are not lattice squares, as runs of vertices per cell.

        Edge ``i`` runs from vertex ``i`` to vertex ``i + 1``. A polygon without holes is one run of its own
        vertices. Polygons with holes and multi-polygons get their rings appended after the vertices of all cells;
        where one of their rings ends the position is no edge, and its y range is empty (+inf .. -inf) so that
        no test ever meets it.
        """
        n = self.n_cells
        vx, vy = xy[:, 0], xy[:, 1]
        # a polygon has holes iff its first vertex comes back before its last one (a ring closes early)
        if simple is None:
            simple = types == 3
            ps = part[simple]
            owner, pos = _ranges(vstart[ps], vstart[ps] + vcount[ps] - 2)
            first = vstart[ps][owner]
            back = (vx[pos] == vx[first]) & (vy[pos] == vy[first])
            back[pos == first] = False
            simple[simple] = np.bincount(owner[back], minlength=len(ps)) == 0
            del owner, pos, first, back
        other = part[~simple]
        self._estart = vstart.copy()
        self._ecount = np.maximum(vcount - 1, 0)
        n_main = len(xy)
        ring_of = vowner  # the ring of every vertex: a cell id for the main runs (one ring each where used)
        ring_cell = np.arange(n)
        ring_ext = np.ones(n, dtype=bool)
        if len(other):
            parts, pi = shapely.get_parts(self._geoms[other], return_index=True)
            rings, ri = shapely.get_rings(parts, return_index=True)
            xy_c, ring_c = shapely.get_coordinates(rings, return_index=True)
            xy = np.concatenate([xy, xy_c])
            vx, vy = xy[:, 0], xy[:, 1]
            cell_c = other[pi[ri]]
            ring_of = np.concatenate([vowner, ring_c + n])
            ring_cell = np.concatenate([ring_cell, cell_c])
            ring_ext = np.concatenate([ring_ext, np.r_[True, ri[1:] != ri[:-1]] if len(ri) else np.zeros(0, bool)])
            vcell = cell_c[ring_c]
            head = np.flatnonzero(np.r_[True, vcell[1:] != vcell[:-1]]) if len(vcell) else np.zeros(0, np.int64)
            self._estart[vcell[head]] = head + n_main
            self._ecount[vcell[head]] = np.diff(np.r_[head, len(vcell)]) - 1
        self._ecount[self._full] = 0  # whole squares are decided by their bounds
        self._xy = xy
        self._vx, self._vy = vx, vy
        self._ring_of, self._ring_cell, self._ring_ext = ring_of, ring_cell, ring_ext
        self._n_main = n_main

    @functools.cached_property
    def _yrange(self) -> tuple[np.ndarray, np.ndarray]:
        """(ylo, yhi) of every edge; where one ring ends and the next begins +inf .. -inf (no test meets it)."""
        vy, ring_of, n_main = self._vy, self._ring_of, self._n_main
        ylo = np.minimum(vy[:-1], vy[1:])
        yhi = np.maximum(vy[:-1], vy[1:])
        gap = np.flatnonzero(ring_of[n_main + 1:] != ring_of[n_main:-1]) + n_main
        ylo[gap] = np.inf
        yhi[gap] = -np.inf
        return ylo, yhi

    @functools.cached_property
    def _edge_arrays(self) -> tuple[np.ndarray, ...]:
        """(x1, y1, x2, y2, cell, left_inside) of every edge of the cells that are not squares (sub-square level)."""
        vx, vy = self._vx, self._vy
        cells_ = np.flatnonzero(self._ecount > 0)
        _, e = _ranges(self._estart[cells_], self._estart[cells_] + self._ecount[cells_] - 1)
        e = e[np.isfinite(self._yrange[0][e])]  # not the ends of rings
        x1, y1, x2, y2 = vx[e], vy[e], vx[e + 1], vy[e + 1]
        ering = self._ring_of[e]
        # ring orientation (shoelace about a local origin): the cell is on the left of an edge iff the ring is an
        # exterior ring turning counter-clockwise or an interior ring turning clockwise
        ox, oy = (float(vx[0]), float(vy[0])) if len(vx) else (0.0, 0.0)
        area2 = np.bincount(ering, weights=(x1 - ox) * (y2 - oy) - (x2 - ox) * (y1 - oy),
                            minlength=len(self._ring_cell))
        left_inside = ((area2 > 0) == self._ring_ext)[ering]
        return x1, y1, x2, y2, self._ring_cell[ering], left_inside

    def _subdivide(self, slot_ix: np.ndarray, slot_iy: np.ndarray) -> None:
        """Sub-square table of the shared squares: a cell position, -1 (no cell) or -2 (test exactly)."""
        lat = self.lattice
        s = lat.cell_size_m
        k = _SUB
        n_slot = len(slot_ix)
        while k > 1 and n_slot * k * k > _SUB_LIMIT:
            k //= 2
        sx0, sy0 = int(slot_ix.min()), int(slot_iy.min())
        nsx, nsy = int(slot_ix.max()) - sx0 + 1, int(slot_iy.max()) - sy0 + 1
        ss = s / k
        nr, nc = nsy * k, nsx * k  # sub-rows and sub-columns over the shared squares' extent (never allocated)
        bx, by = lat.x0 + sx0 * s, lat.y0 + sy0 * s
        x1, y1, x2, y2, ecell, left_inside = self._edge_arrays
        u1, v1, u2, v2 = (x1 - bx) / ss, (y1 - by) / ss, (x2 - bx) / ss, (y2 - by) / ss

        sh = k.bit_length() - 1  # k is a power of two
        slot_grid = np.full((nsy, nsx), -1, dtype=np.int64)
        slot_grid[slot_iy - sy0, slot_ix - sx0] = np.arange(n_slot)

        def local(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
            """Flat position slot * k * k + j * k + i of sub-squares (< 0 outside the shared squares)."""
            sl = slot_grid[rows >> sh, cols >> sh]
            f = ((rows & (k - 1)) << sh) + (cols & (k - 1))
            f += sl << (2 * sh)
            f[sl < 0] = -1
            return f

        # 1. sub-squares an edge reaches (its closed bounding box, padded), except edges lying on a lattice line:
        #    those only bound points on the line, which always take the exact path
        on_x = (x1 == x2) & (x1 == lat.x0 + _floor_exact(x1, lat.x0, s) * s)
        on_y = (y1 == y2) & (y1 == lat.y0 + _floor_exact(y1, lat.y0, s) * s)
        m = ~(on_x | on_y)
        pad = 1e-6
        c_lo = np.maximum(np.floor(np.minimum(u1[m], u2[m]) - pad), 0).astype(np.int64)
        c_hi = np.minimum(np.floor(np.maximum(u1[m], u2[m]) + pad), nc - 1).astype(np.int64)
        r_lo = np.maximum(np.floor(np.minimum(v1[m], v2[m]) - pad), 0).astype(np.int64)
        r_hi = np.minimum(np.floor(np.maximum(v1[m], v2[m]) + pad), nr - 1).astype(np.int64)
        marked = np.zeros(n_slot * k * k, dtype=bool)
        # most edges reach at most 2 x 2 sub-squares: set those without expanding, the longer ones by ranges
        small = (c_hi - c_lo <= 1) & (r_hi - r_lo <= 1)
        for dc in (0, 1):
            for dr in (0, 1):
                sel = small & (c_lo + dc <= c_hi) & (r_lo + dr <= r_hi)
                f = local(r_lo[sel] + dr, c_lo[sel] + dc)
                marked[f[f >= 0]] = True
        big = np.flatnonzero(~small)
        if len(big):
            e_c, cc = _ranges(c_lo[big], c_hi[big])
            e_r, rr = _ranges(r_lo[big][e_c], r_hi[big][e_c])
            f = local(rr, cc[e_r])
            marked[f[f >= 0]] = True
        # 2. which cell holds each sub-square centre: walk each sub-row west to east, adding cell+1 where an edge
        #    is crossed into a cell and subtracting it where crossed out of one (cells do not overlap). Sums are
        #    kept per (sub-row, lattice column) over the extent, and per sub-square inside shared squares.
        vlo, vhi = np.minimum(v1, v2), np.maximum(v1, v2)
        rlo = np.maximum(np.ceil(vlo - 0.5), 0).astype(np.int64)
        rhi = np.minimum(np.ceil(vhi - 0.5) - 1, nr - 1).astype(np.int64)
        sign = np.where((v2 > v1) == left_inside, -1.0, 1.0) * (ecell + 1)
        # value of sub-square i of the square at lattice column X (relative) in sub-row r:
        #   sum of crossings with col <= X*k (per (r, X): binned by ceil(col / k), summed west to east)
        # + sum of crossings with X*k < col <= X*k + i (per shared square, summed within it)
        # Edges on a vertical lattice line (most edges: the sides of clipped squares) cross every sub-row they
        # span at col = X*k: they go into the per-(r, X) sums as a run of rows (a difference array), unexpanded.
        line = on_x & (rlo <= rhi)
        lx = np.rint((x1[line] - bx) / s).astype(np.int64)
        inside = lx < nsx
        lx, lw, lr0, lr1 = np.maximum(lx[inside], 0), sign[line][inside], rlo[line][inside], rhi[line][inside]
        runs = np.bincount(np.concatenate([lr0 * (nsx + 1) + lx, (lr1 + 1) * (nsx + 1) + lx]),
                           weights=np.concatenate([lw, -lw]), minlength=(nr + 1) * (nsx + 1)).astype(float)
        coarse = np.cumsum(runs.reshape(nr + 1, nsx + 1), axis=0)[:nr]
        other = np.flatnonzero(~on_x)
        ce, rows = _ranges(rlo[other], rhi[other])
        ce = other[ce]
        dv = (v2 - v1)[ce]
        uc = u1[ce] + (rows + 0.5 - v1[ce]) * (u2 - u1)[ce] / dv
        col = np.maximum(np.floor(uc - 0.5) + 1, 0).astype(np.int64)  # first sub-column whose centre is east
        w = sign[ce]
        keep = col < nc
        rows, col, w = rows[keep], col[keep], w[keep]
        coarse += np.bincount(rows * (nsx + 1) + ((col + k - 1) >> sh), weights=w,
                              minlength=nr * (nsx + 1)).astype(float).reshape(nr, nsx + 1)
        np.cumsum(coarse, axis=1, out=coarse)  # float64: integer sums far below 2**53 are exact
        jj = np.arange(k)
        r = ((slot_iy - sy0) * k)[:, None] + jj[None, :]
        west = coarse[r, np.broadcast_to((slot_ix - sx0)[:, None], r.shape)]
        del coarse
        mid = (col & (k - 1)) != 0  # lattice-line crossings (most of them) are all in the coarse sums
        f = local(rows[mid], col[mid])
        inner = np.bincount(f[f >= 0], weights=w[mid][f >= 0],
                            minlength=n_slot * k * k).astype(float).reshape(n_slot, k, k)
        np.cumsum(inner, axis=2, out=inner)
        inner += west[:, :, None]
        val = inner.reshape(n_slot, k * k).astype(np.int64) - 1
        del inner
        # a centre's cell must be one of its square's candidates (else the cells overlap or are invalid there:
        # test those sub-squares exactly rather than trust the count)
        consistent = val == -1
        cand = self._cand_in
        for j in range(cand.shape[1]):
            rows = np.flatnonzero(cand[:, j] >= 0)
            if len(rows) > n_slot // 2:
                consistent |= val == cand[:, j:j + 1]
            else:
                consistent[rows] |= val[rows] == cand[rows, j:j + 1]
        bad = ~consistent & ~marked.reshape(n_slot, k * k)
        if bad.any():
            log.debug("cell index: %d sub-squares with inconsistent crossings (overlapping or invalid cells)",
                      int(bad.sum()))
        val[marked.reshape(n_slot, k * k) | ~consistent] = -2
        self._sub = k
        self._subtable = val.astype(np.int32 if self.n_cells < 2 ** 31 - 1 else np.int64)

    # -- lookup -------------------------------------------------------------------------------------------------
    def _square_values(self, key: np.ndarray) -> np.ndarray:
        if self._dense:
            return self._table[key]
        pos = np.minimum(np.searchsorted(self._keys, key), len(self._keys) - 1)
        return np.where(self._keys[pos] == key, self._vals[pos], -1)

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
        if self.engine == "c" and _KERNEL is None:  # unpickled where the kernel is not built: same answers
            self.engine = "numpy"

    def _pack(self) -> None:
        """Set the kernel's fixed arguments: the table, and the shared squares' candidates packed (``gm_pack``)."""
        lat = self.lattice
        if self._dense:
            table, keys, vals, n_keys = self._table, None, None, 0
        else:
            table, keys, vals, n_keys = None, self._keys, self._vals, len(self._keys)
        cand = np.ascontiguousarray(self._cand_in, dtype=np.int64)
        n_slot, width = cand.shape
        off = np.zeros(n_slot + 1, dtype=np.int64)
        count = np.zeros(n_slot, dtype=np.int64)
        arrays = [np.ascontiguousarray(a) for a in (self._bounds, self._full.view(np.uint8), self._estart,
                                                    self._ecount, self._xy, self._ring_of)]
        args = (n_slot, cand.ctypes.data, width, *[a.ctypes.data for a in arrays], self._n_main, off.ctypes.data,
                count.ctypes.data)
        _KERNEL.gm_pack(*args, None)  # sizes
        rec = np.empty(int(off[-1]))
        if _KERNEL.gm_pack(*args, rec.ctypes.data):
            raise RuntimeError("gridmap: the kernel packed a shared square to the wrong size (a bug: please report)")
        self._kernel_keep = (table, keys, vals, off, count, rec)  # alive as long as the index
        ptr = [None if a is None else a.ctypes.data for a in (table, keys, vals)]
        self._kernel_args = (lat.x0, lat.y0, lat.cell_size_m, _NEAR, self._ix0, self._iy0, self._nx, self._ny, *ptr,
                             n_keys, off.ctypes.data, count.ctypes.data, rec.ctypes.data, _ORIENT_BOUND)

    def _lookup_block_c(self, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
        """A block through the compiled kernel; the points it defers go through the numpy path."""
        scratch = np.empty(len(x), dtype=np.int64)
        deferred = _KERNEL.gm_lookup(len(x), x.ctypes.data, y.ctypes.data, *self._kernel_args, out.ctypes.data,
                                     scratch.ctypes.data)
        if deferred:
            d = np.flatnonzero(out == _DEFERRED)
            got = np.empty(len(d), dtype=np.int64)
            self._lookup_block(x[d], y[d], got)
            out[d] = got

    def _lookup_block(self, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
        lat = self.lattice
        s = lat.cell_size_m
        fx = np.subtract(x, lat.x0)
        fx /= s
        fy = np.subtract(y, lat.y0)
        fy /= s
        ixf = np.floor(fx)
        iyf = np.floor(fy)
        # points within _NEAR of a lattice line take the exact path (their square decided against the lines)
        t = fx - ixf
        t -= 0.5
        np.abs(t, out=t)
        near = t > 0.5 - _NEAR
        np.subtract(fy, iyf, out=t)
        t -= 0.5
        np.abs(t, out=t)
        near |= t > 0.5 - _NEAR
        ixf -= self._ix0
        iyf -= self._iy0
        inside = ixf >= 0  # NaN compares False
        inside &= ixf < self._nx
        inside &= iyf >= 0
        inside &= iyf < self._ny
        inside &= ~near
        np.multiply(iyf, self._nx, out=t)
        t += ixf  # the square's key, exact in float64
        if self._dense:
            t[~inside] = len(self._table) - 1  # the table's last entry is a -1 sentinel
            val = self._table[t.astype(np.int64)]
        else:
            val = np.where(inside, self._square_values(np.where(inside, t, 0).astype(np.int64)), -1)
        np.maximum(val, -1, out=out)
        pts = np.flatnonzero(val <= -2)
        if len(pts):
            slot = -(val[pts] + 2)
            if self._sub:
                k = self._sub
                u = fx[pts]
                u -= ixf[pts] + self._ix0
                u *= k
                v = fy[pts]
                v -= iyf[pts] + self._iy0
                v *= k
                iu = np.clip(np.floor(u), 0, k - 1)
                iv = np.clip(np.floor(v), 0, k - 1)
                u -= iu
                v -= iv
                exact = (u < _NEAR * k) | (u > 1 - _NEAR * k) | (v < _NEAR * k) | (v > 1 - _NEAR * k)
                iv *= k
                iv += iu
                got = self._subtable[slot, iv.astype(np.int64)]
                exact |= got == -2
                out[pts] = np.where(exact, -1, got)
                pts, slot = pts[exact], slot[exact]
            if len(pts):
                self._exact(x, y, pts, slot, out)
        slow = np.flatnonzero(near)
        if len(slow):
            self._near_lines(x, y, slow, out)

    def _near_lines(self, x: np.ndarray, y: np.ndarray, pts: np.ndarray, out: np.ndarray) -> None:
        """Points on or next to a lattice line: their square from exact comparisons with the lines, then exact."""
        lat = self.lattice
        ix = _floor_exact(x[pts], lat.x0, lat.cell_size_m) - self._ix0
        iy = _floor_exact(y[pts], lat.y0, lat.cell_size_m) - self._iy0
        ins = (ix >= 0) & (ix < self._nx) & (iy >= 0) & (iy < self._ny)
        pts = pts[ins]
        val = self._square_values((iy[ins] * self._nx + ix[ins]).astype(np.int64))
        out[pts] = np.maximum(val, -1)  # a whole square's cell covers its closed square
        sh = val <= -2
        if sh.any():
            out[pts[sh]] = -1
            self._exact(x, y, pts[sh], (-(val[sh] + 2)).astype(np.int64), out, on_lines=True)

    def _exact(self, x: np.ndarray, y: np.ndarray, pts: np.ndarray, slot: np.ndarray, out: np.ndarray, *,
               on_lines: bool = False) -> None:
        """Exact covering test of points against their shared square's candidates, in candidate order.

        Points off the lattice lines need only the candidates reaching into the open square (``on_lines=False``).
        """
        pending = np.ones(len(pts), dtype=bool)
        b = self._bounds
        matrix = self._cand if on_lines else self._cand_in
        for r in range(matrix.shape[1]):
            cand = matrix[slot, r]
            test = np.flatnonzero(pending & (cand >= 0))
            if not len(test):
                break
            c = cand[test]
            px, py = x[pts[test]], y[pts[test]]
            hit = (px >= b[c, 0]) & (px <= b[c, 2]) & (py >= b[c, 1]) & (py <= b[c, 3])  # a full cell: its box
            part = hit & ~self._full[c]
            if part.any():
                hit[part] = self._covers(c[part], px[part], py[part])
            out[pts[test[hit]]] = c[hit]
            pending[test[hit]] = False

    def _covers(self, c: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        """Does cell ``c[i]`` (not a lattice square) cover point i? Crossing numbers, GEOS when uncertain."""
        res = np.zeros(len(c), dtype=bool)
        cnt = self._ecount[c]
        ends = np.cumsum(cnt)
        lo = 0
        while lo < len(c):
            hi = int(np.searchsorted(ends, ends[lo] - cnt[lo] + _PAIR_BLOCK, side="right"))
            hi = max(hi, lo + 1)
            res[lo:hi] = self._covers_block(c[lo:hi], px[lo:hi], py[lo:hi])
            lo = hi
        return res

    def _covers_block(self, c: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        cnt = self._ecount[c]
        p, e = _ranges(self._estart[c], self._estart[c] + cnt - 1)
        qy = py[p]
        # 1. only edges the horizontal line through q meets can be crossed by its ray: ylo <= qy < yhi (the
        #    half-open rule counts a vertex once). Edges whose top is at qy (a top vertex, a horizontal edge on the
        #    line) are crossed by no ray but may hold q itself: their points go to GEOS when q is in their x range.
        ylo = self._yrange[0][e]
        yhi = self._yrange[1][e]
        top = np.flatnonzero(qy == yhi)
        straddle = ylo <= qy
        straddle &= qy < yhi
        k = np.flatnonzero(straddle)
        pk, ek = p[k], e[k]
        pt, et = p[top], e[top]
        del p, e, ylo, yhi, straddle, qy, k
        vx, vy = self._vx, self._vy
        qx, qy = px[pk], py[pk]
        x1, y1 = vx[ek], vy[ek]
        ek += 1
        x2, y2 = vx[ek], vy[ek]
        # 2. orient2d(a, b, q) with its error bound (Shewchuk's orient2dfast)
        l1 = (x1 - qx) * (y2 - qy)
        l2 = (y1 - qy) * (x2 - qx)
        det = l1 - l2
        np.abs(l1, out=l1)
        np.abs(l2, out=l2)
        l1 += l2
        l1 *= _ORIENT_BOUND
        sure = np.abs(det) > l1
        # a crossing of the ray going east from q: sure orientation decides; otherwise the bounding box
        east = np.where(sure, (det > 0) == (y2 > y1), qx < np.minimum(x1, x2))
        crossings = np.bincount(pk[east], minlength=len(c))
        res = (crossings & 1) == 1
        unsure = np.zeros(len(c), dtype=bool)
        u = np.flatnonzero(~sure)
        if len(u):  # within rounding of the edge's line: on the edge if in its x range (y is, by step 1)
            ux = qx[u]
            near = (ux >= np.minimum(x1[u], x2[u])) & (ux <= np.maximum(x1[u], x2[u]))
            unsure[pk[u[near]]] = True
        if len(pt):
            tx = px[pt]
            ax, bx = vx[et], vx[et + 1]
            unsure[pt[(tx >= np.minimum(ax, bx)) & (tx <= np.maximum(ax, bx))]] = True
        if unsure.any():  # on or within rounding of an edge: GEOS decides (covers = interior or boundary)
            u = np.flatnonzero(unsure)
            res[u] = shapely.intersects_xy(self._geoms[c[u]], px[u], py[u])
        return res


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
