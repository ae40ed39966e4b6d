"""Lattice operations of the warning package, as functions over the one :class:`~gridmap.grid.lattice.Lattice`.

Dense arrays live on a lattice *window* (a :class:`~gridmap.grid.lattice.Lattice` with ``nx``/``ny``): cell
``(ix, iy)`` of the window covers ``[x0 + ix*c, x0 + (ix+1)*c) x [y0 + iy*c, y0 + (iy+1)*c)``; dense arrays are
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

from typing import Any

import numpy as np
import pandas as pd

from gridmap.errors import ValidationError, Problem, message
from gridmap.grid.lattice import Lattice

__all__ = ["bin_points", "cell_index", "lattice_from_cells", "localise_cells", "grid_to_cells", "require_window"]


def require_window(lattice: Any) -> Lattice:
    """``lattice`` itself when it is a :class:`~gridmap.grid.lattice.Lattice` window (with ``nx``/``ny``).

    Dense arrays need a bounded lattice; anything else raises :class:`~gridmap.errors.ValidationError`.

    >>> require_window(Lattice(0.0, 0.0, 100.0, 3, 2)).shape
    (2, 3)
    """
    if not isinstance(lattice, Lattice):
        raise ValidationError(message("not a lattice", got=type(lattice).__name__,
                                      fix="pass gridmap.grid.Lattice(x0, y0, cell_size_m, nx, ny), or "
                                          "gridmap.warning.lattice_from_cells(cells)"))
    lattice.shape  # raises when the lattice has no window
    return lattice


def cell_index(x: np.ndarray, y: np.ndarray, lattice: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lattice indices ``(ix, iy)`` of points and a mask of points inside the lattice."""
    lat = require_window(lattice)
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
    lat = require_window(lattice)
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
    lat = lattice_from_cells(cells) if lattice is None else require_window(lattice)
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
