"""Private lattice plumbing for the warning package: a lattice description and point binning.

This is a small stand-in for the lattice of :mod:`gridmap.grid` (being written in parallel). Every public function
of :mod:`gridmap.warning` accepts any object that describes a lattice with ``cell_size_m``, ``nx``, ``ny`` and an
origin given either as ``origin=(x0, y0)`` or as ``x0``/``y0`` (or ``xmin``/``ymin``); :func:`as_lattice`
adapts it. Cell ``(ix, iy)`` covers ``[x0 + ix*c, x0 + (ix+1)*c) x [y0 + iy*c, y0 + (iy+1)*c)``; dense arrays are
indexed ``[iy, ix]`` (shape ``(ny, nx)``), the row-major order libpysal's ``lat2W(ny, nx)`` uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridmap.errors import ValidationError, Problem, message

__all__ = ["Lattice", "as_lattice", "bin_points", "cell_index", "lattice_from_cells", "grid_to_cells"]


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
                                      fix="pass gridmap.warning.Lattice(x0=, y0=, cell_size_m=, nx=, ny=)"))
    return Lattice(float(x0), float(y0), float(c), int(nx), int(ny))


def cell_index(x: np.ndarray, y: np.ndarray, lattice: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lattice indices ``(ix, iy)`` of points and a mask of points inside the lattice."""
    lat = as_lattice(lattice)
    ix = np.floor((np.asarray(x, dtype=float) - lat.x0) / lat.cell_size_m)
    iy = np.floor((np.asarray(y, dtype=float) - lat.y0) / lat.cell_size_m)
    inside = (ix >= 0) & (ix < lat.nx) & (iy >= 0) & (iy < lat.ny)
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
    """The lattice of a cells layer (columns ``ix``, ``iy`` and polygon geometry in the working CRS)."""
    missing = [c for c in ("ix", "iy") if c not in cells.columns]
    if missing or len(cells) == 0:
        raise ValidationError("cells cannot describe a lattice", [Problem(None, c, "column missing") for c in missing]
                              or [Problem(None, None, "no cells")], fix="pass the cells layer (code, ix, iy, geometry)")
    b = cells.geometry.bounds
    w = (b["maxx"] - b["minx"]).round(6)
    h = (b["maxy"] - b["miny"]).round(6)
    c = float(pd.concat([w, h]).max())  # clipped edge cells are smaller, never larger
    full = (w == c) & (h == c)
    ref = cells[full] if full.any() else cells
    rb = b.loc[ref.index]
    x0 = float(np.median(rb["minx"] - ref["ix"].astype(float) * c))
    y0 = float(np.median(rb["miny"] - ref["iy"].astype(float) * c))
    nx = int(cells["ix"].max()) + 1
    ny = int(cells["iy"].max()) + 1
    if int(cells["ix"].min()) < 0 or int(cells["iy"].min()) < 0:
        raise ValidationError("negative lattice indices in cells", [Problem(None, "ix/iy", "must be >= 0")])
    return Lattice(x0, y0, c, nx, ny)


def grid_to_cells(grid: np.ndarray, cells: pd.DataFrame) -> pd.Series:
    """Read a dense ``(ny, nx)`` array at each cell's ``(iy, ix)``: a Series aligned with ``cells.index``."""
    iy = cells["iy"].to_numpy(dtype=np.int64)
    ix = cells["ix"].to_numpy(dtype=np.int64)
    return pd.Series(np.asarray(grid)[iy, ix], index=cells.index)
