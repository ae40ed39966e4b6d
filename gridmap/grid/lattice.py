"""The square lattice every unit cell is cut from, and the windows of it dense arrays live on.

Square ``(ix, iy)`` covers the half-open box ``[x0 + (ix-ix0)*s, x0 + (ix-ix0+1)*s) x [y0 + (iy-iy0)*s, ...)``
(``s`` = ``cell_size_m``): ``(x0, y0)`` is the south-west corner of square ``(ix0, iy0)`` (by default square
``(0, 0)``), and a point on a lattice line belongs to the square east / north of it. Because the anchor is fixed
(default ``(0, 0)`` of the working CRS), the same ground gets the same ``(ix, iy)`` on every rebuild, for any
extent.

A lattice with ``nx``/``ny`` is a *window* of ``ny`` rows by ``nx`` columns starting at square ``(ix0, iy0)``:
the extent the early-warning analysis (:mod:`gridmap.warning`) keeps dense ``(ny, nx)`` arrays on, row 0 south.
:func:`gridmap.warning.lattice_from_cells` makes the window covering a cells layer.

Examples
--------
>>> lat = Lattice(cell_size_m=100.0)
>>> ix, iy = lat.index([448480.2, 100.0], [4419565.9, -0.5])
>>> ix.tolist(), iy.tolist()
([4484, 1], [44195, -1])
>>> lat.box_bounds(4484, 44195)
(448400.0, 4419500.0, 448500.0, 4419600.0)

A window of 4 by 3 squares (positional order ``x0, y0, cell_size_m, nx, ny``):

>>> win = Lattice(0.0, 0.0, 100.0, 4, 3)
>>> win.shape, win.bounds
((3, 4), (0.0, 0.0, 400.0, 300.0))
>>> win.centres()[0][0, :2].tolist()
[50.0, 150.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from gridmap.errors import ValidationError, Problem, message

__all__ = ["Lattice"]


@dataclass(frozen=True, init=False)
class Lattice:
    """A square lattice of ``cell_size_m`` metres anchored at ``(x0, y0)`` (working-CRS coordinates).

    Parameters
    ----------
    x0, y0 : float
        South-west corner of square ``(ix0, iy0)``; keep it fixed so rebuilds give the same indices.
    cell_size_m : float
        Side of a lattice square in metres (100 m gives the nominal 万米 = 10,000 m² cell).
    nx, ny : int, optional
        Columns and rows of the window dense arrays are kept on (``None``: the unbounded lattice).
    ix0, iy0 : int
        Lattice indices of square ``(x0, y0)``: the window's first column / row (0 by default).
    origin : (float, float), keyword only
        Another spelling of ``(x0, y0)`` (``Lattice(cell_size_m=100.0, origin=(0.0, 0.0))``).
    """

    x0: float = 0.0
    y0: float = 0.0
    cell_size_m: float = 100.0
    nx: int | None = None
    ny: int | None = None
    #: global lattice indices of local column 0 / row 0 (the cells' ``ix``/``iy`` minus these are local indices)
    ix0: int = 0
    iy0: int = 0

    def __init__(self, x0: float | None = None, y0: float | None = None, cell_size_m: float = 100.0,
                 nx: int | None = None, ny: int | None = None, ix0: int = 0, iy0: int = 0, *,
                 origin: tuple[float, float] | None = None) -> None:
        if origin is not None:
            if x0 is not None or y0 is not None:
                raise ValidationError(message("give the lattice anchor once: origin=(x0, y0) or x0, y0",
                                              got=f"origin={origin}, x0={x0}, y0={y0}"))
            x0, y0 = origin
        x0 = 0.0 if x0 is None else x0
        y0 = 0.0 if y0 is None else y0
        size = float(cell_size_m)
        if not math.isfinite(size) or size <= 0:
            raise ValidationError(message("cell_size_m must be a positive number of metres", got=cell_size_m),
                                  [Problem(None, "cell_size_m", "not positive", cell_size_m)],
                                  fix="use e.g. cell_size_m=100.0")
        ox, oy = float(x0), float(y0)
        if not (math.isfinite(ox) and math.isfinite(oy)):
            raise ValidationError("origin must be two finite coordinates",
                                  [Problem(None, "origin", "not finite", (x0, y0))])
        if (nx is None) != (ny is None) or (nx is not None and (nx <= 0 or ny <= 0)):
            raise ValidationError(message("a lattice needs a positive cell size and at least one cell",
                                          got=f"cell_size_m={cell_size_m}, nx={nx}, ny={ny}"))
        for name, value in (("x0", ox), ("y0", oy), ("cell_size_m", size),
                            ("nx", None if nx is None else int(nx)), ("ny", None if ny is None else int(ny)),
                            ("ix0", int(ix0)), ("iy0", int(iy0))):
            object.__setattr__(self, name, value)

    @property
    def origin(self) -> tuple[float, float]:
        """``(x0, y0)``: the corner of square ``(ix0, iy0)``."""
        return (self.x0, self.y0)

    @property
    def nominal_area_m2(self) -> float:
        """Area of one full lattice square."""
        return self.cell_size_m * self.cell_size_m

    # -- the window (nx, ny) -------------------------------------------------------------------------------
    def _window(self) -> tuple[int, int]:
        if self.nx is None or self.ny is None:
            raise ValidationError(message("this lattice has no window (nx, ny): dense arrays need one",
                                          got=repr(self),
                                          fix="use gridmap.warning.lattice_from_cells(cells), or pass nx= and ny="))
        return self.nx, self.ny

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``: the shape of dense arrays on the window (row 0 south)."""
        nx, ny = self._window()
        return (ny, nx)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of the window."""
        nx, ny = self._window()
        c = self.cell_size_m
        return (self.x0, self.y0, self.x0 + nx * c, self.y0 + ny * c)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Square-centre coordinates of the window as two ``(ny, nx)`` arrays (x, y)."""
        nx, ny = self._window()
        c = self.cell_size_m
        xs = self.x0 + (np.arange(nx) + 0.5) * c
        ys = self.y0 + (np.arange(ny) + 0.5) * c
        return np.meshgrid(xs, ys)

    # -- global indices ------------------------------------------------------------------------------------
    def index(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Lattice indices ``(ix, iy)`` (int64 arrays) of points; NaN coordinates give the minimum int64."""
        s = self.cell_size_m
        with np.errstate(invalid="ignore"):
            fx = np.floor((np.asarray(x, dtype=float) - self.x0) / s) + self.ix0
            fy = np.floor((np.asarray(y, dtype=float) - self.y0) / s) + self.iy0
        bad = ~(np.isfinite(fx) & np.isfinite(fy))
        if bad.any():
            fx = np.where(bad, np.iinfo(np.int64).min, fx)
            fy = np.where(bad, np.iinfo(np.int64).min, fy)
        return fx.astype(np.int64), fy.astype(np.int64)

    def box_bounds(self, ix: int, iy: int) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of square ``(ix, iy)``."""
        s = self.cell_size_m
        ix, iy = ix - self.ix0, iy - self.iy0
        return (self.x0 + ix * s, self.y0 + iy * s, self.x0 + (ix + 1) * s, self.y0 + (iy + 1) * s)

    def boxes(self, ix: Any, iy: Any) -> np.ndarray:
        """Polygons of squares ``(ix, iy)`` (vectorised ``shapely.box``)."""
        s = self.cell_size_m
        ix = np.asarray(ix, dtype=float) - self.ix0
        iy = np.asarray(iy, dtype=float) - self.iy0
        return shapely.box(self.x0 + ix * s, self.y0 + iy * s, self.x0 + (ix + 1) * s, self.y0 + (iy + 1) * s)

    def index_range(self, bounds: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Inclusive index ranges ``(ix0, iy0, ix1, iy1)`` of squares whose interior may meet each bbox.

        ``bounds`` is an ``(n, 4)`` array of ``xmin, ymin, xmax, ymax``; a bbox edge on a lattice line does not
        pull in the square beyond it.
        """
        b = np.atleast_2d(np.asarray(bounds, dtype=float))
        s = self.cell_size_m
        ix0 = np.floor((b[:, 0] - self.x0) / s).astype(np.int64) + self.ix0
        iy0 = np.floor((b[:, 1] - self.y0) / s).astype(np.int64) + self.iy0
        ix1 = np.ceil((b[:, 2] - self.x0) / s).astype(np.int64) - 1 + self.ix0
        iy1 = np.ceil((b[:, 3] - self.y0) / s).astype(np.int64) - 1 + self.iy0
        return ix0, iy0, np.maximum(ix1, ix0), np.maximum(iy1, iy0)

    def candidates(self, bounds: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (row, ix, iy) with square (ix, iy) inside the bbox index range of row ``row`` (vectorised)."""
        ix0, iy0, ix1, iy1 = self.index_range(bounds)
        nx = ix1 - ix0 + 1
        ny = iy1 - iy0 + 1
        counts = nx * ny
        row = np.repeat(np.arange(len(counts)), counts)
        start = np.cumsum(counts) - counts
        k = np.arange(int(counts.sum())) - np.repeat(start, counts)
        nxr = np.repeat(nx, counts)
        ix = np.repeat(ix0, counts) + k % nxr
        iy = np.repeat(iy0, counts) + k // nxr
        return row, ix, iy
