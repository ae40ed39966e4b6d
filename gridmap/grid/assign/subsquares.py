"""The sub-square level of the numpy engine: each shared lattice square cut into ``k x k`` sub-squares.

A sub-square that no cell edge reaches lies inside one cell or outside all of them; which one is found once, for
all sub-squares, by counting boundary crossings along their rows. A point in such a sub-square then needs one
table lookup instead of an exact test. Sub-squares that an edge reaches (and any whose count disagrees with the
square's candidate cells) are marked ``-2``: their points are tested exactly. Only the numpy engine builds this
level (:class:`~gridmap.grid.assign.CellIndex` decides when it pays); the compiled kernel never needs it.

>>> grid = _SubSquares(k=2, slot_grid=np.array([[0, -1]]))
>>> grid.local(np.array([0, 1, 0]), np.array([1, 1, 2])).tolist()   # sub-squares 1 and 3 of slot 0; not shared
[1, 3, -1]
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np

from gridmap.grid.assign.numpy_engine import _floor_exact, _ranges

__all__ = ["SubSquares"]

log = logging.getLogger(__name__)

#: Sub-squares per side of a shared lattice square (a power of two), reduced if the build arrays would be too big.
_SUB = 8
#: Largest sub-square table (entries); beyond, fewer sub-squares per shared square.
_SUB_LIMIT = 64_000_000


@dataclass(frozen=True)
class _SubSquares:
    """Numbering of the sub-squares of the shared squares: ``k x k`` per square (``k`` a power of two), flat
    position ``slot * k * k + j * k + i``; ``slot_grid`` holds the slot of every square of the shared squares'
    extent (-1 where the square is not shared)."""

    k: int
    slot_grid: np.ndarray

    @property
    def n_rows(self) -> int:
        return self.slot_grid.shape[0] * self.k

    @property
    def n_cols(self) -> int:
        return self.slot_grid.shape[1] * self.k

    def local(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Flat position slot * k * k + j * k + i of sub-squares (< 0 outside the shared squares)."""
        k = self.k
        sh = k.bit_length() - 1
        sl = self.slot_grid[rows >> sh, cols >> sh]
        f = ((rows & (k - 1)) << sh) + (cols & (k - 1))
        f += sl << (2 * sh)
        f[sl < 0] = -1
        return f


def _reached(grid: _SubSquares, u1: np.ndarray, v1: np.ndarray, u2: np.ndarray, v2: np.ndarray, m: np.ndarray,
             n_slot: int) -> np.ndarray:
    """Sub-squares reached by the edges ``m`` (their closed bounding box, padded): a flag per flat position.

    Edge ends ``(u, v)`` are in sub-square units from the corner of the shared squares' extent.
    """
    k, nr, nc = grid.k, grid.n_rows, grid.n_cols
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
            f = grid.local(r_lo[sel] + dr, c_lo[sel] + dc)
            marked[f[f >= 0]] = True
    big = np.flatnonzero(~small)
    if len(big):
        e_c, cc = _ranges(c_lo[big], c_hi[big])
        e_r, rr = _ranges(r_lo[big][e_c], r_hi[big][e_c])
        f = grid.local(rr, cc[e_r])
        marked[f[f >= 0]] = True
    return marked


def _inconsistent(val: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """Sub-squares whose centre's cell (``val``, -1 none) is none of their square's candidates (``cand``, rows
    padded with -1): there the cells overlap or are invalid, and the count is not to be trusted."""
    n_slot = len(val)
    consistent = val == -1
    for j in range(cand.shape[1]):
        rows = np.flatnonzero(cand[:, j] >= 0)
        if len(rows) > n_slot // 2:
            consistent |= val == cand[:, j:j + 1]
        else:
            consistent[rows] |= val[rows] == cand[rows, j:j + 1]
    return ~consistent


class SubSquares:
    """The sub-square level of :class:`~gridmap.grid.assign.CellIndex` (numpy engine)."""

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
        grid = _SubSquares(k=k, slot_grid=slot_grid)
        # 1. sub-squares an edge reaches, except edges lying on a lattice line: those only bound points on the
        #    line, which always take the exact path
        on_x = (x1 == x2) & (x1 == lat.x0 + _floor_exact(x1, lat.x0, s) * s)
        on_y = (y1 == y2) & (y1 == lat.y0 + _floor_exact(y1, lat.y0, s) * s)
        m = ~(on_x | on_y)
        marked = _reached(grid, u1, v1, u2, v2, m, n_slot)
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
        f = grid.local(rows[mid], col[mid])
        inner = np.bincount(f[f >= 0], weights=w[mid][f >= 0],
                            minlength=n_slot * k * k).astype(float).reshape(n_slot, k, k)
        np.cumsum(inner, axis=2, out=inner)
        inner += west[:, :, None]
        val = inner.reshape(n_slot, k * k).astype(np.int64) - 1
        del inner
        # a centre's cell must be one of its square's candidates (else the cells overlap or are invalid there:
        # test those sub-squares exactly rather than trust the count)
        inconsistent = _inconsistent(val, self._cand_in)
        bad = inconsistent & ~marked.reshape(n_slot, k * k)
        if bad.any():
            log.debug("cell index: %d sub-squares with inconsistent crossings (overlapping or invalid cells)",
                      int(bad.sum()))
        val[marked.reshape(n_slot, k * k) | inconsistent] = -2
        self._sub = k
        self._subtable = val.astype(np.int32 if self.n_cells < 2 ** 31 - 1 else np.int64)
