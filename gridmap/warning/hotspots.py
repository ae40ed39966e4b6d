"""Getis-Ord Gi* on lattice cells, with normal p-values and Benjamini-Hochberg false-discovery control.

Weights are binary and include the cell itself (Gi*): ``queen`` (3x3), ``rook`` (plus-shaped) or a distance band
(cells whose centres are within ``distance_m``). Neighbourhood sums are computed on the lattice with exact
running sums (one cumulative sum per kernel row), so the cost is O(cells x kernel rows) and integer counts are
summed exactly. Cells outside ``mask`` are not part of the study area: they are neither counted in ``n`` nor in
any neighbourhood.

The statistic, expectation and variance are esda's ``G_Local(star=True, transform='B')`` (esda 2.x
``G_Local.calc``): with ``n`` cells, ``W_i`` neighbours (self included), ``ybar`` and population variance ``s2``
of the values,

    G_i = sum_j w_ij y_j / sum_j y_j,   E[G_i] = W_i / n,
    V[G_i] = W_i (n - W_i) / ((n - 1) n^2) * s2 / ybar^2,   z_i = (G_i - E[G_i]) / sqrt(V[G_i])

which equals the classic ``(sum_j w_ij y_j - ybar W_i) / (s sqrt((n W_i - W_i^2) / (n - 1))))``.

Examples
--------
>>> import numpy as np
>>> y = np.zeros((5, 5)); y[2, 2] = 10.0; y[2, 1] = 8.0; y[1, 2] = 9.0
>>> r = gi_star(y)
>>> bool(r.z[2, 2] > 2) and bool(r.z[4, 4] < 0)
True
>>> fdr_bh(np.array([0.01, 0.04, 0.03, 0.5])).round(3).tolist()
[0.04, 0.053, 0.053, 0.5]
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from gridmap.errors import ValidationError, message
from gridmap.warning.lattice_ops import require_window

__all__ = ["Weights", "GiStarResult", "gi_star", "fdr_bh", "neighbourhood_sum", "kernel_rows"]

log = logging.getLogger(__name__)


class Weights(str, enum.Enum):
    """Binary lattice neighbourhoods for Gi* (the cell itself is always included)."""

    QUEEN = "queen"
    ROOK = "rook"
    DISTANCE = "distance"


def kernel_rows(weights: "str | Weights" = Weights.QUEEN, *, distance_m: float | None = None,
                cell_size_m: float | None = None) -> dict[int, int]:
    """The neighbourhood as ``{row offset dy: half width}``: cells ``(dy, -w..w)`` are neighbours.

    >>> kernel_rows("rook")
    {-1: 0, 0: 1, 1: 0}
    >>> kernel_rows("distance", distance_m=200, cell_size_m=100)
    {-2: 0, -1: 1, 0: 2, 1: 1, 2: 0}
    """
    w = Weights(weights)
    if w is Weights.QUEEN:
        return {-1: 1, 0: 1, 1: 1}
    if w is Weights.ROOK:
        return {-1: 0, 0: 1, 1: 0}
    if distance_m is None or cell_size_m is None or distance_m < 0:
        raise ValidationError(message("distance-band weights need distance_m (and the lattice cell size)",
                                      got=f"distance_m={distance_m}", fix="pass distance_m=, e.g. 300"))
    r = distance_m / cell_size_m + 1e-9  # centres exactly at the band distance are neighbours (as libpysal)
    rows = {}
    for dy in range(-int(math.floor(r)), int(math.floor(r)) + 1):
        rows[dy] = int(math.floor(math.sqrt(max(r * r - dy * dy, 0.0))))
    return rows


def neighbourhood_sum(arr: np.ndarray, rows: dict[int, int]) -> np.ndarray:
    """Sum of ``arr`` (``(..., ny, nx)``) over each cell's neighbourhood, zero outside the lattice.

    >>> neighbourhood_sum(np.ones((3, 3)), kernel_rows("queen")).astype(int).tolist()
    [[4, 6, 4], [6, 9, 6], [4, 6, 4]]
    """
    a = np.asarray(arr)
    integer = np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.bool_)
    work = a.astype(np.int64 if integer else np.float64, copy=False)
    ny, nx = work.shape[-2:]
    out = np.zeros(work.shape, dtype=work.dtype)
    boxes: dict[int, np.ndarray] = {}
    for dy, hw in rows.items():
        if hw not in boxes:
            pad = [(0, 0)] * (work.ndim - 1) + [(hw + 1, hw)]
            cs = np.cumsum(np.pad(work, pad), axis=-1)
            boxes[hw] = cs[..., 2 * hw + 1:] - cs[..., : nx]
        box = boxes[hw]
        if abs(dy) >= ny:
            continue
        if dy >= 0:
            out[..., : ny - dy, :] += box[..., dy:, :]
        else:
            out[..., -dy:, :] += box[..., : ny + dy, :]
    return out


@dataclass(frozen=True)
class GiStarResult:
    """Gi* per lattice cell (arrays of the lattice shape; NaN outside the mask).

    ``z`` z-scores, ``p`` two-sided normal p-values, ``q`` Benjamini-Hochberg adjusted p-values, ``hot`` / ``cold``
    significant at ``alpha`` after FDR control (or raw p when ``fdr=False``), ``n`` cells in the study area,
    ``neighbours`` the number of neighbours of each cell (self included).
    """

    z: np.ndarray
    p: np.ndarray
    q: np.ndarray
    hot: np.ndarray
    cold: np.ndarray
    neighbours: np.ndarray
    n: int
    alpha: float
    fdr: bool


def fdr_bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaNs are ignored and stay NaN."""
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    flat = p.ravel()
    ok = np.flatnonzero(~np.isnan(flat))
    m = ok.size
    if m == 0:
        return q
    order = ok[np.argsort(flat[ok], kind="stable")]
    ranked = flat[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    qf = q.ravel()
    qf[order] = np.minimum(ranked, 1.0)
    return qf.reshape(p.shape)


def _zscores(local_sum: np.ndarray, card: np.ndarray, n: int, mean: Any, var: Any) -> np.ndarray:
    card = card.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = local_sum / (mean * n)
        eg = card / n
        vg = card * (n - card) / (n - 1) / (n * n) * var / (mean * mean)
        return (g - eg) / np.sqrt(vg)


def gi_star(values: np.ndarray, lattice: Any = None, *, mask: np.ndarray | None = None,
            weights: "str | Weights" = Weights.QUEEN, distance_m: float | None = None, alpha: float = 0.05,
            fdr: bool = True) -> GiStarResult:
    """Getis-Ord Gi* of ``values`` (a ``(ny, nx)`` lattice array, e.g. counts) with binary weights.

    Parameters
    ----------
    values : lattice array; cells outside ``mask`` are ignored.
    lattice : needed only for ``weights='distance'`` (for the cell size).
    mask : boolean ``(ny, nx)`` study area (default: every cell).
    weights : 'queen', 'rook' or 'distance' (with ``distance_m``).
    alpha : significance level for ``hot``/``cold``.
    fdr : control the false-discovery rate (Benjamini-Hochberg) instead of using raw p-values.
    """
    y = np.asarray(values, dtype=float)
    if y.ndim != 2:
        raise ValidationError(message("gi_star needs a 2-D lattice array", got=f"shape {y.shape}"))
    m = np.ones(y.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if m.shape != y.shape:
        raise ValidationError(message("mask does not match values", got=f"{m.shape} vs {y.shape}"))
    if np.isnan(y[m]).any():
        raise ValidationError(message("values contain NaN inside the study area", where="gi_star",
                                      fix="fill missing counts with 0 or exclude those cells with mask="))
    cell = require_window(lattice).cell_size_m if lattice is not None else None
    rows = kernel_rows(weights, distance_m=distance_m, cell_size_m=cell)
    n = int(m.sum())
    if n < 2:
        raise ValidationError(message("Gi* needs at least two cells in the study area", got=n))
    ym = np.where(m, y, 0.0)
    integral = bool(np.all(ym == np.round(ym))) and float(np.abs(ym).max(initial=0)) < 2 ** 52 / max(ym.size, 1)
    local = neighbourhood_sum(ym.astype(np.int64) if integral else ym, rows).astype(float)
    card = neighbourhood_sum(m, rows)
    mean = ym.sum() / n
    var = (ym * ym).sum() / n - mean * mean
    z = _zscores(local, card, n, mean, var)
    z[~m] = np.nan
    if mean == 0 or var <= 0:
        log.warning("Gi*: all %d values are %s; no z-scores (every cell is 'no pattern')", n,
                    "zero" if mean == 0 else "equal")
        z = np.where(m, np.nan, np.nan)
    p = 2.0 * stats.norm.sf(np.abs(z))
    q = fdr_bh(p) if fdr else p
    sig = np.nan_to_num(q, nan=1.0) < alpha
    hot = sig & (np.nan_to_num(z) > 0)
    cold = sig & (np.nan_to_num(z) < 0)
    log.info("Gi*: %d cells, %s weights, %d hot and %d cold at alpha=%g%s", n, Weights(weights).value,
             int(hot.sum()), int(cold.sum()), alpha, " (FDR)" if fdr else "")
    return GiStarResult(z, p, q, hot, cold, card, n, alpha, fdr)
