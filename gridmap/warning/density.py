"""Kernel density of complaints on the lattice (Gaussian kernel, bandwidth in metres).

The density is computed from binned counts with a separable Gaussian filter
(:func:`scipy.ndimage.gaussian_filter`, ``mode='constant'``: zero padding, so mass near the lattice edge is not
reflected back in). Binning moves each point to its cell centre, which adds the variance of a uniform offset
(``c**2 / 12`` per axis) to the kernel; the filter's sigma is reduced by that amount
(``sigma**2 = h**2 - c**2/12``) so the result matches the exact kernel sum at cell centres to about 1 % for
``h >= 2c`` (tested against :class:`sklearn.neighbors.KernelDensity`).

By unit (:func:`density_by`)
    The lattice density is a surface, constant on each lattice square. :func:`density_by` integrates it over
    each cell polygon (``sum over squares of density x area(cell ∩ square)``: the *smoothed* number of
    complaints in the cell, ``expected``), sums that and the cells' areas per cell, community or street, and
    reports the area-weighted mean density ``per_km2 = expected / area_km2`` and, with households,
    ``per_1000_households = expected / (households / 1000)``: smoothed complaints per 1,000 households, the
    kernel-density counterpart of :func:`~gridmap.warning.counts_by`'s column of the same name.

Examples
--------
>>> import numpy as np
>>> from gridmap.grid import Lattice
>>> g = np.zeros((41, 41)); g[20, 20] = 1.0
>>> d = kernel_density(g, Lattice(0, 0, 100.0, 41, 41), bandwidth_m=300.0)
>>> round(float(d.sum() * 100.0 * 100.0), 3)    # integrates to the number of points
1.0

Per community, per 1,000 households (two communities of 2 x 1 cells, density 10 and 30 per km²):

>>> import geopandas as gpd, pandas as pd, shapely
>>> cells = gpd.GeoDataFrame({"code": ["a1", "a2", "b1", "b2"], "community_code": ["A", "A", "B", "B"],
...                           "ix": [0, 1, 0, 1], "iy": [0, 0, 1, 1]},
...                          geometry=[shapely.box(x, y, x + 100, y + 100) for x, y in
...                                    [(0, 0), (100, 0), (0, 100), (100, 100)]], crs="EPSG:4548")
>>> dens = np.array([[10.0, 10.0], [30.0, 30.0]])           # per km², rows = iy
>>> t = density_by(dens, cells, by="community", scale="per_km2", households=pd.Series({"A": 400, "B": 0}))
>>> t.index.tolist(), t["area_km2"].round(6).tolist(), t["expected"].round(6).tolist()
(['A', 'B'], [0.02, 0.02], [0.2, 0.6])
>>> t["per_km2"].round(6).tolist(), t["per_1000_households"].round(6).tolist()   # B: no households -> NaN
([10.0, 30.0], [0.5, nan])
"""

from __future__ import annotations

import enum
import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

from gridmap.errors import Problem, ValidationError, message
from gridmap.warning.lattice_ops import localise_cells, require_window
from gridmap.warning.counts import Unit

__all__ = ["DensityScale", "kernel_density", "density_by"]

log = logging.getLogger(__name__)


class DensityScale(str, enum.Enum):
    """What :func:`kernel_density` returns per cell."""

    PER_M2 = "per_m2"          #: complaints per square metre (integrates to the number of complaints)
    PER_KM2 = "per_km2"        #: complaints per square kilometre
    PER_CELL = "per_cell"      #: smoothed complaints per cell (sums to the number of complaints)
    PDF = "pdf"                #: probability density per m² (integrates to 1), as sklearn's KernelDensity


def kernel_density(counts: np.ndarray, lattice: Any, *, bandwidth_m: float, scale: "str | DensityScale" = "per_m2",
                   truncate: float = 4.0, binning_correction: bool = True) -> np.ndarray:
    """Gaussian kernel density of binned counts (``(ny, nx)``, or ``(..., ny, nx)`` stacks) on ``lattice``.

    Parameters
    ----------
    counts : counts per cell from :func:`~gridmap.warning.cell_counts` (any non-negative weights work).
    bandwidth_m : kernel standard deviation in metres (sklearn's ``bandwidth``).
    scale : see :class:`DensityScale`.
    truncate : kernel radius in bandwidths.
    binning_correction : subtract the binning variance ``c**2/12`` from the kernel variance (see module docs).
    """
    lat = require_window(lattice)
    scale = DensityScale(scale)
    c = lat.cell_size_m
    if not bandwidth_m or bandwidth_m <= 0 or not math.isfinite(bandwidth_m):
        raise ValidationError(message("bandwidth must be a positive number of metres", got=bandwidth_m,
                                      fix="use e.g. bandwidth_m=300 (about three 100 m cells)"))
    arr = np.asarray(counts, dtype=float)
    if arr.shape[-2:] != lat.shape:
        raise ValidationError(message("counts do not match the lattice", got=f"shape {arr.shape}, lattice {lat.shape}"))
    var = bandwidth_m ** 2 - (c * c / 12.0 if binning_correction else 0.0)
    if var <= 0:
        log.warning("bandwidth %.0f m is below the cell size %.0f m: density equals counts per cell", bandwidth_m, c)
        smooth = arr.copy()
    else:
        sigma = math.sqrt(var) / c
        sig = (0,) * (arr.ndim - 2) + (sigma, sigma)
        smooth = ndimage.gaussian_filter(arr, sigma=sig, mode="constant", cval=0.0, truncate=truncate)
    log.info("kernel density: %d cells, bandwidth %.0f m, %s", arr[..., :, :].size, bandwidth_m, scale.value)
    if scale is DensityScale.PER_CELL:
        return smooth
    per_m2 = smooth / (c * c)
    if scale is DensityScale.PER_M2:
        return per_m2
    if scale is DensityScale.PER_KM2:
        return per_m2 * 1e6
    total = arr.sum(axis=(-2, -1), keepdims=True)
    return np.divide(per_m2, total, out=np.zeros_like(per_m2), where=total > 0)


def _per_m2(density: np.ndarray, scale: DensityScale, cell_size_m: float) -> np.ndarray:
    if scale is DensityScale.PER_M2 or scale is DensityScale.PDF:
        return density
    if scale is DensityScale.PER_KM2:
        return density / 1e6
    return density / (cell_size_m * cell_size_m)


def _cell_integrals(dens_m2: np.ndarray, cells: pd.DataFrame, lat: Any, cix: np.ndarray,
                    ciy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(integral of the density over each cell, area of each cell)`` in cells' order."""
    import shapely

    geom = np.asarray(cells.geometry.values, dtype=object)
    area = shapely.area(geom)
    c = lat.cell_size_m
    b = shapely.bounds(geom)
    # square corners of each cell's own lattice square
    sx0, sy0 = lat.x0 + cix * c, lat.y0 + ciy * c
    tol = 1e-6 * c
    inside = (b[:, 0] >= sx0 - tol) & (b[:, 1] >= sy0 - tol) & (b[:, 2] <= sx0 + c + tol) & (b[:, 3] <= sy0 + c + tol)
    integral = np.where(inside, dens_m2[ciy, cix] * area, 0.0)
    rest = np.flatnonzero(~inside)
    if len(rest):
        # cells reaching beyond their square (merged slivers): intersect with every square their bounds touch;
        # parts beyond the lattice take the density of the nearest edge square
        pairs_cell, pairs_x, pairs_y = [], [], []
        for k in rest:
            jx0 = int(math.floor((b[k, 0] - lat.x0) / c + 1e-9))
            jx1 = int(math.ceil((b[k, 2] - lat.x0) / c - 1e-9))
            jy0 = int(math.floor((b[k, 1] - lat.y0) / c + 1e-9))
            jy1 = int(math.ceil((b[k, 3] - lat.y0) / c - 1e-9))
            gy, gx = np.mgrid[jy0:max(jy1, jy0 + 1), jx0:max(jx1, jx0 + 1)]
            pairs_cell.append(np.full(gx.size, k))
            pairs_x.append(gx.ravel())
            pairs_y.append(gy.ravel())
        pc, px, py = np.concatenate(pairs_cell), np.concatenate(pairs_x), np.concatenate(pairs_y)
        boxes = shapely.box(lat.x0 + px * c, lat.y0 + py * c, lat.x0 + (px + 1) * c, lat.y0 + (py + 1) * c)
        part = shapely.area(shapely.intersection(geom[pc], boxes))
        val = dens_m2[np.clip(py, 0, lat.ny - 1), np.clip(px, 0, lat.nx - 1)]
        np.add.at(integral, pc, val * part)
    return integral, area


def density_by(density: np.ndarray, cells: pd.DataFrame, *, by: "str | Unit" = Unit.CELL, lattice: Any = None,
               scale: "str | DensityScale" = DensityScale.PER_M2,
               households: pd.Series | None = None) -> pd.DataFrame:
    """Lattice density aggregated to cells, communities or streets (see the module docstring).

    Parameters
    ----------
    density : ``(ny, nx)`` array from :func:`kernel_density` on ``lattice``.
    cells : the cells layer (``code``, ``ix``, ``iy``, polygons in a metric CRS; ``community_code`` for
        ``by='community'``; ``street_code``, else the first 9 digits of ``community_code``, for ``'street'``).
    by : 'cell', 'community' or 'street'.
    lattice : the lattice ``density`` is on (default :func:`~gridmap.warning.lattice_from_cells` of ``cells``).
    scale : the :class:`DensityScale` ``density`` was computed with ('per_m2', 'per_km2', 'per_cell', or 'pdf',
        in which case ``expected`` is each unit's share of the complaints).
    households : optional Series of households per unit code; adds ``households`` and ``per_1000_households``
        (NaN where a unit has no or zero households).

    Returns
    -------
    DataFrame indexed by unit code (index name ``<unit>_code``), sorted by code: ``area_km2`` (area of the unit's
    cells), ``expected`` (density integrated over the unit: smoothed complaints in it), ``per_km2``
    (``expected / area_km2``, the area-weighted mean density), and with ``households`` also ``households`` and
    ``per_1000_households`` (``expected / households * 1000``).
    """
    from gridmap.crs import check_crs

    unit = Unit.parse(by)
    scale = DensityScale(scale)
    if "geometry" not in cells.columns or "code" not in cells.columns:
        raise ValidationError("cells cannot be aggregated to", [Problem(None, c, "column missing")
                                                               for c in ("code", "geometry") if c not in cells.columns],
                              fix="pass the cells layer (code, ix, iy, geometry)")
    check_crs(cells, where="cells", metric=True)
    lat, cix, ciy = localise_cells(cells, lattice)
    arr = np.asarray(density, dtype=float)
    if arr.shape != lat.shape:
        raise ValidationError(message("density does not match the cells' lattice", got=f"{arr.shape} vs {lat.shape}",
                                      fix="pass the lattice the density was computed on: density_by(d, cells, "
                                          "lattice=lat)"))
    integral, area = _cell_integrals(_per_m2(arr, scale, lat.cell_size_m), cells, lat, cix, ciy)
    if unit is Unit.CELL:
        key = cells["code"].astype(str)
    elif unit is Unit.COMMUNITY or "street_code" in cells.columns:
        if unit.column not in cells.columns:
            raise ValidationError(f"cells have no {unit.column} column", [Problem(None, unit.column, "column missing")],
                                  fix="use the cells layer from gridmap.grid.build_cells")
        key = cells[unit.column].astype(str)
    else:
        if "community_code" not in cells.columns:
            raise ValidationError("cells have no street_code or community_code column",
                                  [Problem(None, "street_code", "column missing")],
                                  fix="use the cells layer from gridmap.grid.build_cells")
        key = cells["community_code"].astype(str).str[:9]
    frame = pd.DataFrame({"area_km2": area / 1e6, "expected": integral}, index=pd.Index(key.to_numpy()))
    out = frame.groupby(level=0, sort=True).sum()
    out.index.name = unit.column
    out["per_km2"] = out["expected"] / out["area_km2"].where(out["area_km2"] > 0)
    if households is not None:
        hh = pd.Series(households).rename(index=str).reindex(out.index).astype(float)
        out["households"] = hh
        out["per_1000_households"] = out["expected"] / hh.where(hh > 0) * 1000.0
    log.info("density by %s: %d unit(s) from %d cell(s), %.1f smoothed complaint(s)", unit.value, len(out),
             len(cells), float(out["expected"].sum()))
    return out
