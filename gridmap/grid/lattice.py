"""The square lattice every unit cell is cut from, anchored to a fixed origin in the working CRS.

Square ``(ix, iy)`` covers the half-open box ``[x0 + ix*s, x0 + (ix+1)*s) x [y0 + iy*s, y0 + (iy+1)*s)``
(``s`` = ``cell_size_m``): a point on a lattice line belongs to the square east / north of it. Because the origin
is fixed (default ``(0, 0)`` of the working CRS), the same ground gets the same ``(ix, iy)`` on every rebuild, for
any extent.

Examples
--------
>>> lat = Lattice(cell_size_m=100.0)
>>> ix, iy = lat.index([448480.2, 100.0], [4419565.9, -0.5])
>>> ix.tolist(), iy.tolist()
([4484, 1], [44195, -1])
>>> lat.box_bounds(4484, 44195)
(448400.0, 4419500.0, 448500.0, 4419600.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from gridmap.errors import ValidationError, Problem, message

__all__ = ["Lattice"]


@dataclass(frozen=True)
class Lattice:
    """A square lattice of ``cell_size_m`` metres anchored at ``origin`` (working-CRS coordinates).

    Parameters
    ----------
    cell_size_m : float
        Side of a lattice square in metres (100 m gives the nominal 万米 = 10,000 m² cell).
    origin : (float, float)
        Any lattice corner; keep it fixed so rebuilds give the same indices.
    """

    cell_size_m: float = 100.0
    origin: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        size = float(self.cell_size_m)
        if not math.isfinite(size) or size <= 0:
            raise ValidationError(message("cell_size_m must be a positive number of metres", got=self.cell_size_m),
                                  [Problem(None, "cell_size_m", "not positive", self.cell_size_m)],
                                  fix="use e.g. cell_size_m=100.0")
        ox, oy = (float(v) for v in self.origin)
        if not (math.isfinite(ox) and math.isfinite(oy)):
            raise ValidationError("origin must be two finite coordinates",
                                  [Problem(None, "origin", "not finite", self.origin)])
        object.__setattr__(self, "cell_size_m", size)
        object.__setattr__(self, "origin", (ox, oy))

    @property
    def x0(self) -> float:
        return self.origin[0]

    @property
    def y0(self) -> float:
        return self.origin[1]

    @property
    def nominal_area_m2(self) -> float:
        """Area of one full lattice square."""
        return self.cell_size_m * self.cell_size_m

    def index(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Lattice indices ``(ix, iy)`` (int64 arrays) of points; NaN coordinates give the minimum int64."""
        s = self.cell_size_m
        with np.errstate(invalid="ignore"):
            fx = np.floor((np.asarray(x, dtype=float) - self.x0) / s)
            fy = np.floor((np.asarray(y, dtype=float) - self.y0) / s)
        bad = ~(np.isfinite(fx) & np.isfinite(fy))
        if bad.any():
            fx = np.where(bad, np.iinfo(np.int64).min, fx)
            fy = np.where(bad, np.iinfo(np.int64).min, fy)
        return fx.astype(np.int64), fy.astype(np.int64)

    def box_bounds(self, ix: int, iy: int) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of square ``(ix, iy)``."""
        s = self.cell_size_m
        return (self.x0 + ix * s, self.y0 + iy * s, self.x0 + (ix + 1) * s, self.y0 + (iy + 1) * s)

    def boxes(self, ix: Any, iy: Any) -> np.ndarray:
        """Polygons of squares ``(ix, iy)`` (vectorised ``shapely.box``)."""
        s = self.cell_size_m
        ix = np.asarray(ix, dtype=float)
        iy = np.asarray(iy, dtype=float)
        return shapely.box(self.x0 + ix * s, self.y0 + iy * s, self.x0 + (ix + 1) * s, self.y0 + (iy + 1) * s)

    def index_range(self, bounds: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Inclusive index ranges ``(ix0, iy0, ix1, iy1)`` of squares whose interior may meet each bbox.

        ``bounds`` is an ``(n, 4)`` array of ``xmin, ymin, xmax, ymax``; a bbox edge on a lattice line does not
        pull in the square beyond it.
        """
        b = np.atleast_2d(np.asarray(bounds, dtype=float))
        s = self.cell_size_m
        ix0 = np.floor((b[:, 0] - self.x0) / s).astype(np.int64)
        iy0 = np.floor((b[:, 1] - self.y0) / s).astype(np.int64)
        ix1 = np.ceil((b[:, 2] - self.x0) / s).astype(np.int64) - 1
        iy1 = np.ceil((b[:, 3] - self.y0) / s).astype(np.int64) - 1
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
