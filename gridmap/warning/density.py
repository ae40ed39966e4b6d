"""Kernel density of complaints on the lattice (Gaussian kernel, bandwidth in metres).

The density is computed from binned counts with a separable Gaussian filter
(:func:`scipy.ndimage.gaussian_filter`, ``mode='constant'``: zero padding, so mass near the lattice edge is not
reflected back in). Binning moves each point to its cell centre, which adds the variance of a uniform offset
(``c**2 / 12`` per axis) to the kernel; the filter's sigma is reduced by that amount
(``sigma**2 = h**2 - c**2/12``) so the result matches the exact kernel sum at cell centres to about 1 % for
``h >= 2c`` (tested against :class:`sklearn.neighbors.KernelDensity`).

Examples
--------
>>> import numpy as np
>>> from gridmap.warning import Lattice
>>> g = np.zeros((41, 41)); g[20, 20] = 1.0
>>> d = kernel_density(g, Lattice(0, 0, 100.0, 41, 41), bandwidth_m=300.0)
>>> round(float(d.sum() * 100.0 * 100.0), 3)    # integrates to the number of points
1.0
"""

from __future__ import annotations

import enum
import logging
import math
from typing import Any

import numpy as np
from scipy import ndimage

from gridmap.errors import ValidationError, message
from gridmap.warning._lattice import as_lattice

__all__ = ["DensityScale", "kernel_density"]

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
    lat = as_lattice(lattice)
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
