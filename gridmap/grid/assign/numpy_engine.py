"""The numpy engine of the point-to-cell index: every step of :class:`~gridmap.grid.assign.CellIndex` vectorised.

:class:`NumpyEngine` scans the cells' vertices (bounds, lattice bounds, whole squares), builds the coarse table
with each shared square's candidate cells (a dense table, or sorted keys over a very large extent), keeps the
edges of the cells that are not lattice squares, and looks blocks of points up: one ``floor`` and one table lookup
per point, an exact covering test (crossing numbers, GEOS where rounding leaves a doubt) for points of shared
squares and points on lattice lines. The sub-square level of shared squares is in
:mod:`gridmap.grid.assign.subsquares`. The compiled kernel (:mod:`gridmap.grid.assign.kernel`) runs the same
arithmetic and hands the hard points to :meth:`NumpyEngine._lookup_block`.

>>> _floor_exact(np.array([-0.5, 0.0, 99.999, 100.0]), 0.0, 100.0).tolist()
[-1.0, 0.0, 0.0, 1.0]
>>> _ranges(np.array([0, 5]), np.array([2, 6]))
(array([0, 0, 0, 1, 1]), array([0, 1, 2, 5, 6]))
"""

from __future__ import annotations

import functools

import numpy as np
import shapely

from gridmap.errors import Problem, ValidationError

__all__ = ["NumpyEngine"]

#: Points closer than this (in lattice units) to a lattice or sub-square line take the exact path.
_NEAR = 1e-9
#: Relative error bound of the floating-point orientation test (Shewchuk's ccwerrboundA, with a safety factor).
_ORIENT_BOUND = 4.0 * np.finfo(float).eps
#: Exact point-in-polygon work is done in blocks of this many (point, edge) pairs.
_PAIR_BLOCK = 4_000_000


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


def _ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, value) for every integer in each inclusive range ``lo[i]..hi[i]`` (vectorised)."""
    lo = np.asarray(lo, dtype=np.int64)
    counts = np.maximum(np.asarray(hi, dtype=np.int64) - lo + 1, 0)
    owner = np.repeat(np.arange(len(lo)), counts)
    start = np.cumsum(counts) - counts
    values = np.arange(int(start[-1] + counts[-1]) if len(counts) else 0, dtype=np.int64)
    values += (lo - start)[owner]
    return owner, values


class NumpyEngine:
    """The steps of :class:`~gridmap.grid.assign.CellIndex` in numpy (``engine='numpy'``, and the points the
    kernel defers)."""

    # -- building -----------------------------------------------------------------------------------------------
    def _scan_numpy(self, xy: np.ndarray, vowner: np.ndarray, types: np.ndarray) -> tuple[np.ndarray, ...]:
        """Vertex runs, bounds, lattice bounds (``ix_lo, iy_lo, ix_hi, iy_hi`` per cell) and whole squares.

        Returns ``(xy, vowner, vstart, vcount, bounds, lattice_bounds, full, simple)``; ``simple`` is None (polygons
        with holes are found in :meth:`_edges`).
        """
        lat = self.lattice
        n, s, x0, y0 = self.n_cells, lat.cell_size_m, lat.x0, lat.y0
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
        lb = np.column_stack([a.astype(np.int64) for a in (ix_lo, iy_lo, ix_hi, iy_hi)])
        return xy, vowner, vstart, vcount, b, lb, full, simple

    def _slots_numpy(self, ix_lo: np.ndarray, iy_lo: np.ndarray, ix_hi: np.ndarray, iy_hi: np.ndarray,
                     full: np.ndarray, ok: np.ndarray, b: np.ndarray, own_x: np.ndarray | None,
                     own_y: np.ndarray | None, *, dense: bool) -> tuple[np.ndarray, np.ndarray, int]:
        """The coarse table, the shared squares and their candidates (numpy; a dense table if ``dense``, else
        sorted keys)."""
        lat = self.lattice
        s, x0, y0 = lat.cell_size_m, lat.x0, lat.y0
        nx = self._nx

        def key_of(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
            return ((iy - self._iy0) * nx + (ix - self._ix0)).astype(np.int64)

        fidx = np.flatnonzero(full)
        fkey = key_of(ix_lo[fidx], iy_lo[fidx])
        whole = np.zeros(self._nx * self._ny, dtype=bool) if dense else None
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

    # -- lookup -------------------------------------------------------------------------------------------------
    def _square_values(self, key: np.ndarray) -> np.ndarray:
        if self._dense:
            return self._table[key]
        pos = np.minimum(np.searchsorted(self._keys, key), len(self._keys) - 1)
        return np.where(self._keys[pos] == key, self._vals[pos], -1)

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

