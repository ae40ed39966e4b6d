"""Private lattice plumbing for the warning package: a lattice description and point binning.

This is a small stand-in for the lattice of :mod:`gridmap.grid` (being written in parallel). Every public function
of :mod:`gridmap.warning` accepts any object that describes a lattice with ``cell_size_m``, ``nx``, ``ny`` and an
origin given either as ``origin=(x0, y0)`` or as ``x0``/``y0`` (or ``xmin``/``ymin``); :func:`as_lattice`
adapts it. Cell ``(ix, iy)`` covers ``[x0 + ix*c, x0 + (ix+1)*c) x [y0 + iy*c, y0 + (iy+1)*c)``; dense arrays are
indexed ``[iy, ix]`` (shape ``(ny, nx)``), the row-major order libpysal's ``lat2W(ny, nx)`` uses.

Local and global indices
------------------------
Cells built by :func:`gridmap.grid.build_cells` carry *global* indices ``ix``/``iy`` on a lattice anchored at a
fixed origin, by default ``(0, 0)`` of EPSG:4548, so Beijing cells have ``ix`` about 4,500 and ``iy`` about
44,000. Dense arrays must never be indexed by those: :func:`lattice_from_cells` returns a lattice covering only
the cells' extent, whose ``ix0``/``iy0`` are the global indices of its first column/row, and
:func:`localise_cells` turns a cells frame's global indices into indices local to such a lattice. Every function
that takes a cells frame goes through :func:`localise_cells`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridmap.errors import ValidationError, Problem, message

__all__ = ["Lattice", "as_lattice", "bin_points", "cell_index", "lattice_from_cells", "localise_cells",
           "grid_to_cells", "cell_xy_index"]


@dataclass(frozen=True)
class Lattice:
    """A regular square lattice in the working CRS (metres).

    Examples
    --------
    >>> lat = Lattice(x0=0.0, y0=0.0, cell_size_m=100.0, nx=4, ny=3)
    >>> lat.shape
    (3, 4)
    >>> lat.centres()[0][0, :2].tolist()
    [50.0, 150.0]
    """

    x0: float
    y0: float
    cell_size_m: float
    nx: int
    ny: int
    #: global lattice indices of local column 0 / row 0 (the cells' ``ix``/``iy`` minus these are local indices)
    ix0: int = 0
    iy0: int = 0

    def __post_init__(self) -> None:
        if not (self.cell_size_m > 0) or self.nx <= 0 or self.ny <= 0:
            raise ValidationError(message("a lattice needs a positive cell size and at least one cell",
                                          got=f"cell_size_m={self.cell_size_m}, nx={self.nx}, ny={self.ny}"))

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.ny), int(self.nx))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        c = self.cell_size_m
        return (self.x0, self.y0, self.x0 + self.nx * c, self.y0 + self.ny * c)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates as two ``(ny, nx)`` arrays (x, y)."""
        c = self.cell_size_m
        xs = self.x0 + (np.arange(self.nx) + 0.5) * c
        ys = self.y0 + (np.arange(self.ny) + 0.5) * c
        return np.meshgrid(xs, ys)


def as_lattice(obj: Any) -> Lattice:
    """Adapt any lattice-like object (ours, :mod:`gridmap.grid`'s, a dict) to :class:`Lattice`."""
    if isinstance(obj, Lattice):
        return obj
    get = (lambda k: obj.get(k)) if isinstance(obj, dict) else (lambda k: getattr(obj, k, None))
    origin = get("origin")
    x0, y0 = (origin if origin is not None else (
        get("x0") if get("x0") is not None else get("xmin"), get("y0") if get("y0") is not None else get("ymin")))
    c = get("cell_size_m") if get("cell_size_m") is not None else get("cell_size")
    nx, ny = get("nx"), get("ny")
    if None in (x0, y0, c, nx, ny):
        raise ValidationError(message("not a lattice description", got=type(obj).__name__,
                                      fix="pass gridmap.warning.Lattice(x0=, y0=, cell_size_m=, nx=, ny=), or "
                                          "gridmap.warning.lattice_from_cells(cells)"))
    return Lattice(float(x0), float(y0), float(c), int(nx), int(ny), int(get("ix0") or 0), int(get("iy0") or 0))


def cell_index(x: np.ndarray, y: np.ndarray, lattice: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lattice indices ``(ix, iy)`` of points and a mask of points inside the lattice."""
    lat = as_lattice(lattice)
    s = lat.cell_size_m
    dx = np.asarray(x, dtype=float) - lat.x0
    dy = np.asarray(y, dtype=float) - lat.y0
    # Inside is decided on the offsets themselves, not on the rounded quotient: a tiny negative offset
    # (e.g. -5e-324) divides to -0.0 and would floor into square 0; an offset just below the far edge can round
    # up to nx. NaN and infinite offsets compare False. Indices of inside points are clipped to agree with it.
    inside = dx >= 0
    inside &= dx < lat.nx * s
    inside &= dy >= 0
    inside &= dy < lat.ny * s
    ix = np.floor(dx / s)
    iy = np.floor(dy / s)
    np.minimum(ix, lat.nx - 1, out=ix, where=inside)
    np.minimum(iy, lat.ny - 1, out=iy, where=inside)
    return ix, iy, inside


def bin_points(x: np.ndarray, y: np.ndarray, lattice: Any, *, weights: np.ndarray | None = None) -> np.ndarray:
    """Count points per lattice cell (``np.floor`` + ``np.bincount``); points outside are not counted.

    >>> bin_points(np.array([10., 150., 160., 999.]), np.array([10., 20., 30., 10.]),
    ...            Lattice(0.0, 0.0, 100.0, 3, 2)).tolist()
    [[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]]
    """
    lat = as_lattice(lattice)
    ix, iy, inside = cell_index(x, y, lat)
    flat = (iy[inside] * lat.nx + ix[inside]).astype(np.int64)
    w = None if weights is None else np.asarray(weights, dtype=float)[inside]
    return np.bincount(flat, weights=w, minlength=lat.nx * lat.ny).astype(float).reshape(lat.shape)


def lattice_from_cells(cells: pd.DataFrame) -> Lattice:
    """The smallest lattice covering a cells layer (columns ``ix``, ``iy`` and polygon geometry, working CRS).

    The lattice spans the cells' index extent only: ``ix0 = ix.min()``, ``nx = ix.max() - ix.min() + 1`` (the
    same for ``iy``), and ``x0``/``y0`` is the corner of square ``(ix0, iy0)``. Its arrays are therefore as
    small as the district, wherever the cells' lattice is anchored; use :func:`localise_cells` to index them.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> cells = gpd.GeoDataFrame({"ix": [4520, 4521], "iy": [44180, 44182]},
    ...                          geometry=[shapely.box(452000, 4418000, 452100, 4418100),
    ...                                    shapely.box(452100, 4418200, 452200, 4418300)])
    >>> lat = lattice_from_cells(cells)
    >>> lat.shape, (lat.x0, lat.y0), (lat.ix0, lat.iy0)
    ((3, 2), (452000.0, 4418000.0), (4520, 44180))
    """
    missing = [c for c in ("ix", "iy") if c not in cells.columns]
    if missing or len(cells) == 0:
        raise ValidationError("cells cannot describe a lattice", [Problem(None, c, "column missing") for c in missing]
                              or [Problem(None, None, "no cells")], fix="pass the cells layer (code, ix, iy, geometry)")
    if "geometry" not in cells.columns:
        raise ValidationError("cells cannot describe a lattice", [Problem(None, "geometry", "column missing")],
                              fix="read the cells layer with its geometry (store.read('cells'))")
    ix = pd.to_numeric(cells["ix"], errors="coerce")
    iy = pd.to_numeric(cells["iy"], errors="coerce")
    if ix.isna().any() or iy.isna().any():
        bad = cells.index[ix.isna() | iy.isna()]
        raise ValidationError("cells with missing lattice indices", [Problem(i, "ix/iy", "missing") for i in bad[:20]],
                              fix="rebuild the cells with gridmap.grid.build_cells")
    b = cells.geometry.bounds
    w = (b["maxx"] - b["minx"]).round(6)
    h = (b["maxy"] - b["miny"]).round(6)
    # the cell size is the most common side of the square cells: clipped edge cells are smaller, and cells that
    # absorbed a sliver (build_cells unites slivers with a neighbour) have a larger bounding box
    square = (w - h).abs() <= 1e-6
    sides = (w[square] if square.any() else pd.concat([w, h])).round(3)
    c = float(sides.mode().max())
    full = ((w - c).abs() <= 1e-3) & ((h - c).abs() <= 1e-3)
    ref = full if full.any() else pd.Series(True, index=cells.index)
    ix0, iy0 = int(ix.min()), int(iy.min())
    # corner of square (ix0, iy0), estimated from the full cells (robust to merged slivers)
    x0 = float(np.median(b.loc[ref, "minx"] - (ix[ref] - ix0).astype(float) * c))
    y0 = float(np.median(b.loc[ref, "miny"] - (iy[ref] - iy0).astype(float) * c))
    nx = int(ix.max()) - ix0 + 1
    ny = int(iy.max()) - iy0 + 1
    return Lattice(x0, y0, c, nx, ny, ix0, iy0)


def localise_cells(cells: pd.DataFrame, lattice: Any = None) -> tuple[Lattice, np.ndarray, np.ndarray]:
    """Indices of each cell local to ``lattice`` (default :func:`lattice_from_cells`): ``(lattice, ix, iy)``.

    ``ix``/``iy`` are int64 arrays aligned with ``cells`` such that ``grid[iy, ix]`` is each cell's square on a
    dense ``lattice.shape`` array. Cells outside the lattice raise :class:`~gridmap.errors.ValidationError` (a
    lattice that does not cover the cells is a caller error, never silently clipped).

    >>> import pandas as pd
    >>> lat = Lattice(452000.0, 4418000.0, 100.0, 2, 3, ix0=4520, iy0=44180)
    >>> _, ix, iy = localise_cells(pd.DataFrame({"ix": [4520, 4521], "iy": [44180, 44182]}), lat)
    >>> ix.tolist(), iy.tolist()
    ([0, 1], [0, 2])
    """
    lat = lattice_from_cells(cells) if lattice is None else as_lattice(lattice)
    ix = cells["ix"].to_numpy(dtype=np.int64) - lat.ix0
    iy = cells["iy"].to_numpy(dtype=np.int64) - lat.iy0
    out = (ix < 0) | (ix >= lat.nx) | (iy < 0) | (iy >= lat.ny)
    if out.any():
        bad = cells.index[out]
        raise ValidationError("cells lie outside the lattice",
                              [Problem(i, "ix/iy", "outside the lattice", f"ix={cells.at[i, 'ix']}, iy={cells.at[i, 'iy']}")
                               for i in bad[:20]],
                              fix="build the lattice with gridmap.warning.lattice_from_cells(cells)")
    return lat, ix, iy


def cell_xy_index(complaints: pd.DataFrame, lattice: Any, *,
                  cells: pd.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local ``(ix, iy, ok)`` of each complaint's cell on ``lattice``.

    When complaints carry ``cell_code`` (assigned at import by :func:`gridmap.grid.assign_points`, exact at cell
    boundaries and merged slivers) and ``cells`` has ``code``, the complaint goes to its cell's square; otherwise
    the point is binned by floor arithmetic on the lattice. ``ok`` is False for complaints on no cell / outside.
    """
    from gridmap.warning.counts import point_xy  # (counts imports this module)

    lattice = as_lattice(lattice)
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


def grid_to_cells(grid: np.ndarray, cells: pd.DataFrame, lattice: Any = None) -> pd.Series:
    """Read a dense ``(ny, nx)`` array at each cell's square: a Series aligned with ``cells.index``.

    ``lattice`` is the lattice ``grid`` is on (default :func:`lattice_from_cells` of ``cells``).
    """
    lat, ix, iy = localise_cells(cells, lattice)
    arr = np.asarray(grid)
    if arr.shape[-2:] != lat.shape:
        raise ValidationError(message("grid does not match the cells' lattice", got=f"{arr.shape} vs {lat.shape}",
                                      fix="pass the lattice the grid was computed on: grid_to_cells(grid, cells, lat)"))
    return pd.Series(arr[iy, ix], index=cells.index)
