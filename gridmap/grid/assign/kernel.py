"""Binding of the compiled point-to-cell kernel: loading, the ``gm_abi`` check, and the steps it runs.

The kernel is ``gridmap/grid/_kernel.c``, built by ``setup.py`` at install (when a C compiler is there) into the
extension module ``gridmap.grid._kernel`` and called through ctypes (a CDLL call releases the GIL, so blocks of
points run on threads). A build whose ``gm_abi()`` differs from :data:`_ABI` was made from another version of
``_kernel.c``: it is refused with a warning (the numpy engine gives the same answers), never called.

:class:`KernelEngine` holds the steps of :class:`~gridmap.grid.assign.CellIndex` that call the kernel: the scan of
the cells' vertices, the coarse table with the shared squares' candidates, packing them for lookups, and the
lookup of a block of points. Its arithmetic is step for step that of :mod:`gridmap.grid.assign.numpy_engine`.

>>> ENGINES[-1]
'numpy'
"""

from __future__ import annotations

import ctypes
import logging
import warnings

import numpy as np

from gridmap.grid.assign.numpy_engine import _NEAR, _ORIENT_BOUND, _overlap_error

__all__ = ["ENGINES", "KernelEngine"]

log = logging.getLogger(__name__)

#: Version of the kernel's function signatures this module calls (``gm_abi`` in ``_kernel.c``).
_ABI = 2
#: The kernel's answer for points it leaves to the numpy path (next to a lattice line or an edge).
_DEFERRED = -3


def _load_kernel() -> ctypes.CDLL | None:
    """The compiled kernel (``gridmap/grid/_kernel.c``, built at install when a C compiler is there), or None."""
    try:
        from gridmap.grid import _kernel
        lib = ctypes.CDLL(_kernel.__file__)  # a CDLL call releases the GIL: blocks of points run on threads
        lib.gm_abi.restype = ctypes.c_int64
        abi = lib.gm_abi()
    except (ImportError, OSError, AttributeError) as exc:
        log.debug("compiled kernel not available (%s): using the numpy code path", exc)
        return None
    if abi != _ABI:
        warnings.warn(f"gridmap: the compiled kernel {_kernel.__file__} is a stale build (version {abi}, this "
                      f"gridmap needs {_ABI}): using the slower numpy engine; rebuild with scripts/setup.sh or "
                      "pip install -e .", RuntimeWarning, stacklevel=2)
        return None
    p, i64, f64 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
    lib.gm_runs.restype = None
    lib.gm_runs.argtypes = [i64, p, i64, p, p]
    lib.gm_scan.restype = None
    lib.gm_scan.argtypes = [i64, p, p, p, p, f64, f64, f64, p, p, p, p]
    lib.gm_slots_count.restype = i64
    lib.gm_slots_count.argtypes = [i64, p, p, i64, i64, i64, p]
    lib.gm_slots_fill.restype = i64
    lib.gm_slots_fill.argtypes = [i64, p, p, p, p, p, f64, f64, f64, i64, i64, i64, i64, p, p, p, p, p, p, p]
    lib.gm_slots_matrix.restype = None
    lib.gm_slots_matrix.argtypes = [i64, p, p, p, i64, i64, p, p]
    lib.gm_pack.restype = i64
    lib.gm_pack.argtypes = [i64, p, i64, p, p, p, p, p, p, i64, p, p, p]
    lib.gm_lookup.restype = i64
    lib.gm_lookup.argtypes = [i64, p, p, f64, f64, f64, f64, i64, i64, i64, i64, p, p, p, i64, p, p, p, f64, p,
                              p]
    return lib


_KERNEL = _load_kernel()
#: Engines of CellIndex on this install: the compiled kernel ('c') where it was built, and numpy.
ENGINES = ("c", "numpy") if _KERNEL is not None else ("numpy",)


class KernelEngine:
    """The steps of :class:`~gridmap.grid.assign.CellIndex` that the compiled kernel runs (``engine='c'``)."""

    def _scan_kernel(self, xy: np.ndarray, vowner: np.ndarray, types: np.ndarray) -> tuple[np.ndarray, ...]:
        """Vertex runs, bounds, lattice bounds, whole squares and holes in compiled passes (``gm_runs``, ``gm_scan``).

        Returns ``(xy, vowner, vstart, vcount, bounds, lattice_bounds, full, simple)`` as
        :meth:`~gridmap.grid.assign.numpy_engine.NumpyEngine._scan_numpy` does (``simple``: polygons without holes).
        """
        lat = self.lattice
        n = self.n_cells
        xy = np.ascontiguousarray(xy)
        vowner = np.ascontiguousarray(vowner, dtype=np.int64)
        vstart, vcount = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        _KERNEL.gm_runs(len(vowner), vowner.ctypes.data, n, vstart.ctypes.data, vcount.ctypes.data)
        b = np.empty((n, 4))
        lb = np.empty((n, 4), dtype=np.int64)
        full, simple = np.empty(n, dtype=np.uint8), np.empty(n, dtype=np.uint8)
        _KERNEL.gm_scan(n, vstart.ctypes.data, vcount.ctypes.data, xy.ctypes.data,
                        np.ascontiguousarray(types, dtype=np.int32).ctypes.data, lat.x0, lat.y0, lat.cell_size_m,
                        b.ctypes.data, lb.ctypes.data, full.ctypes.data, simple.ctypes.data)
        full, simple = full.view(bool), simple.view(bool)
        return xy, vowner, vstart, vcount, b, lb, full, simple

    def _slots_kernel(self, lb: np.ndarray, full: np.ndarray, b: np.ndarray, own_x: np.ndarray | None,
                      own_y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, int]:
        """The same as :meth:`_slots_numpy` on a dense table, in three kernel calls (``gm_slots_*``)."""
        lat = self.lattice
        n, nx, ny = self.n_cells, self._nx, self._ny
        lb = np.ascontiguousarray(lb, dtype=np.int64)
        full8 = np.ascontiguousarray(full).view(np.uint8)
        self._dense = True
        self._table = table = np.full(nx * ny + 1, -1, dtype=np.int64)  # + a -1 sentinel
        n_pairs = _KERNEL.gm_slots_count(n, lb.ctypes.data, full8.ctypes.data, self._ix0, self._iy0, nx,
                                         table.ctypes.data)
        if n_pairs < 0:
            raise _overlap_error()
        slot_key = np.empty(n_pairs, dtype=np.int64)
        start = np.empty(n_pairs + 1, dtype=np.int64)
        fill = np.empty(n_pairs, dtype=np.int64)
        pair_cell = np.empty(n_pairs, dtype=np.int64)
        pair_flag = np.empty(n_pairs, dtype=np.uint8)
        widths = np.zeros(2, dtype=np.int64)
        own = [None, None] if own_x is None else [np.ascontiguousarray(a, dtype=float) for a in (own_x, own_y)]
        bb = np.ascontiguousarray(b)
        n_slot = _KERNEL.gm_slots_fill(n, lb.ctypes.data, full8.ctypes.data, bb.ctypes.data,
                                       *[None if a is None else a.ctypes.data for a in own], lat.x0, lat.y0,
                                       lat.cell_size_m, self._ix0, self._iy0, nx, ny, table.ctypes.data,
                                       slot_key.ctypes.data, start.ctypes.data, fill.ctypes.data,
                                       pair_cell.ctypes.data, pair_flag.ctypes.data, widths.ctypes.data)
        w, w_in = (int(v) for v in widths)
        self._cand = np.empty((n_slot, w), dtype=np.int64)
        self._cand_in = np.empty((n_slot, w_in), dtype=np.int64)
        _KERNEL.gm_slots_matrix(n_slot, start.ctypes.data, pair_cell.ctypes.data, pair_flag.ctypes.data, w, w_in,
                                self._cand.ctypes.data, self._cand_in.ctypes.data)
        self._width = w
        slot_key = slot_key[:n_slot]
        return slot_key % nx + self._ix0, slot_key // nx + self._iy0, int(np.count_nonzero(full))

    def _pack(self) -> None:
        """Set the kernel's fixed arguments: the table, and the shared squares' candidates packed (``gm_pack``)."""
        lat = self.lattice
        if self._dense:
            table, keys, vals, n_keys = self._table, None, None, 0
        else:
            table, keys, vals, n_keys = None, self._keys, self._vals, len(self._keys)
        cand = np.ascontiguousarray(self._cand_in, dtype=np.int64)
        n_slot, width = cand.shape
        off = np.zeros(n_slot + 1, dtype=np.int64)
        count = np.zeros(n_slot, dtype=np.int64)
        arrays = [np.ascontiguousarray(a) for a in (self._bounds, self._full.view(np.uint8), self._estart,
                                                    self._ecount, self._xy, self._ring_of)]
        args = (n_slot, cand.ctypes.data, width, *[a.ctypes.data for a in arrays], self._n_main, off.ctypes.data,
                count.ctypes.data)
        _KERNEL.gm_pack(*args, None)  # sizes
        rec = np.empty(int(off[-1]))
        if _KERNEL.gm_pack(*args, rec.ctypes.data):
            raise RuntimeError("gridmap: the kernel packed a shared square to the wrong size (a bug: please report)")
        self._kernel_keep = (table, keys, vals, off, count, rec)  # alive as long as the index
        ptr = [None if a is None else a.ctypes.data for a in (table, keys, vals)]
        self._kernel_args = (lat.x0, lat.y0, lat.cell_size_m, _NEAR, self._ix0, self._iy0, self._nx, self._ny, *ptr,
                             n_keys, off.ctypes.data, count.ctypes.data, rec.ctypes.data, _ORIENT_BOUND)

    def _lookup_block_c(self, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
        """A block through the compiled kernel; the points it defers go through the numpy path."""
        scratch = np.empty(len(x), dtype=np.int64)
        deferred = _KERNEL.gm_lookup(len(x), x.ctypes.data, y.ctypes.data, *self._kernel_args, out.ctypes.data,
                                     scratch.ctypes.data)
        if deferred:
            d = np.flatnonzero(out == _DEFERRED)
            got = np.empty(len(d), dtype=np.int64)
            self._lookup_block(x[d], y[d], got)
            out[d] = got
