"""A SpatiaLite R*Tree bulk-loaded in one pass (Sort-Tile-Recursive packing) for bulk loads into an empty table.

SQLite's R*Tree has no bulk load: ``CreateSpatialIndex`` inserts every row's box one at a time, about 8 µs a
row (2.5 s of a 300,000-complaint import, a quarter of it). When a bulk load goes into an **empty** table, the
rows' ids and boxes are known, so :class:`PackedRTree` builds the tree's nodes directly with numpy (STR: sort by
x into vertical slices, by y within each, fill the nodes in that order, repeat one level up) and writes them into
the three shadow tables of ``idx_<table>_geom`` (``_node``, ``_rowid``, ``_parent``), in the file format SQLite's
``rtree.c`` reads and writes: each node a blob of the tree's node size, a big-endian 16-bit depth (root only)
and cell count, then cells of a big-endian 64-bit id (a row id in leaves, a child node number above) and four
big-endian float32 bounds ``xmin, xmax, ymin, ymax``. Leaf bounds are the doubles rounded outward to float32
exactly as SQLite rounds them (``rtreeValueDown``/``rtreeValueUp``), so every row has the box
``CreateSpatialIndex`` gives it; only the grouping into nodes differs (packed, as a bulk load does). SQLite's
own ``rtreecheck()`` and SpatiaLite's ``CheckSpatialIndex()`` accept the result (tested), and later inserts and
deletes maintain it as usual.

Everything happens inside the caller's write transaction: a crash or an error leaves the store as it was. When
the ids the rows got are not the ones predicted (checked after the insert), a geometry is empty, or the node
size is not the expected one, the caller rebuilds the index the ordinary way.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np
import shapely

_SHADOWS = ("node", "rowid", "parent")
_CELL = np.dtype([("id", ">i8"), ("box", ">f4", (4,))])
_DOWN, _UP = 1.0 - 1.0 / 8388608.0, 1.0 + 1.0 / 8388608.0  # SQLite's RNDTOWARDS, RNDAWAY


def float32_down(d: np.ndarray) -> np.ndarray:
    """SQLite's ``rtreeValueDown``: the double as float32, moved down when the cast rounded it up."""
    f = d.astype(np.float32)
    fix = f.astype(np.float64) > d
    f[fix] = (d[fix] * np.where(d[fix] < 0, _UP, _DOWN)).astype(np.float32)
    return f


def float32_up(d: np.ndarray) -> np.ndarray:
    """SQLite's ``rtreeValueUp``: the double as float32, moved up when the cast rounded it down."""
    f = d.astype(np.float32)
    fix = f.astype(np.float64) < d
    f[fix] = (d[fix] * np.where(d[fix] < 0, _DOWN, _UP)).astype(np.float32)
    return f


def _str_order(box: np.ndarray, capacity: int) -> np.ndarray:
    """Sort-Tile-Recursive order of boxes (n x 4: xmin, xmax, ymin, ymax) into nodes of ``capacity``."""
    n = len(box)
    cx = box[:, 0].astype(np.float64) + box[:, 1]
    cy = box[:, 2].astype(np.float64) + box[:, 3]
    nodes = -(-n // capacity)
    per_slice = int(np.ceil(np.sqrt(nodes))) * capacity
    by_x = np.argsort(cx, kind="stable")
    slice_of = np.empty(n, dtype=np.int64)
    slice_of[by_x] = np.arange(n) // per_slice
    return np.lexsort((cy, slice_of))


class PackedRTree:
    """The packed tree of ``geoms`` with ids ``first``, ``first + 1``, ... (computed on :meth:`install`)."""

    def __init__(self, geoms: np.ndarray, *, first: int):
        b = shapely.bounds(geoms)  # xmin, ymin, xmax, ymax
        self.first, self.n = int(first), len(geoms)
        self.usable = bool(self.n) and bool(np.isfinite(b).all())  # empty geometries: leave them to SpatiaLite
        self._bounds = b
        self._pending: Any = None

    def prepare(self, node_size: int) -> None:
        """Start computing the shadow rows for nodes of ``node_size`` bytes in a background thread (numpy sorts
        release the GIL): they are ready, or nearly, when the rows are in and :meth:`install` needs them."""
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rtree")
        self._pending = (node_size, pool.submit(self.shadow_rows, node_size))
        pool.shutdown(wait=False)  # (the task runs on; install() waits for its result)

    def _levels(self, capacity: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Bottom-up levels, each (cell ids, cell boxes, node start offsets) with the cells in node order; a
        level's cell ids above the leaves are positions of the nodes of the level below (renumbered later)."""
        b = self._bounds
        box = np.column_stack([float32_down(b[:, 0]), float32_up(b[:, 2]), float32_down(b[:, 1]),
                               float32_up(b[:, 3])])
        ids = np.arange(self.first, self.first + self.n, dtype=np.int64)
        levels = []
        while True:
            order = _str_order(box, capacity) if len(box) > capacity else np.arange(len(box))
            ids, box = ids[order], box[order]
            starts = np.arange(0, len(box), capacity)
            levels.append((ids, box, starts))
            if len(starts) == 1:
                return levels
            box = np.column_stack([np.minimum.reduceat(box[:, 0], starts), np.maximum.reduceat(box[:, 1], starts),
                                   np.minimum.reduceat(box[:, 2], starts), np.maximum.reduceat(box[:, 3], starts)])
            ids = np.arange(len(starts), dtype=np.int64)

    def shadow_rows(self, node_size: int) -> dict[str, list[tuple]]:
        """Rows of the ``_node``, ``_rowid`` and ``_parent`` shadow tables; the root is node 1."""
        capacity = (node_size - 4) // _CELL.itemsize
        levels = self._levels(capacity)
        # node numbers from the root down: the root 1, then each level's nodes in order
        first_no, no = [], 1
        for _, _, starts in reversed(levels):
            first_no.append(no)
            no += len(starts)
        first_no.reverse()  # first_no[k]: number of level k's first node (k = 0: leaves)
        depth = len(levels) - 1
        nodes, rowids, parents = [], [], []
        for k, (ids, box, starts) in enumerate(levels):
            cell_ids = ids if k == 0 else ids + first_no[k - 1]  # children: their node numbers
            # every node of the level at once: a zeroed (nodes x node_size) block, counts and cells written in
            cells = np.zeros(len(starts) * capacity, dtype=_CELL)
            cells["id"][:len(ids)], cells["box"][:len(ids)] = cell_ids, box
            ends = np.r_[starts[1:], len(ids)]
            node_no = first_no[k] + np.arange(len(starts))
            block = np.zeros((len(starts), node_size), dtype=np.uint8)
            block[:, 2:4] = (ends - starts).astype(">u2").view(np.uint8).reshape(-1, 2)
            if k == len(levels) - 1:  # the root (node 1) carries the tree's depth
                block[0, 0:2] = np.array([depth], dtype=">u2").view(np.uint8)
            block[:, 4:4 + capacity * _CELL.itemsize] = cells.view(np.uint8).reshape(len(starts), -1)
            nodes += zip(node_no.tolist(), map(bytes, block))
            owner = np.repeat(node_no, ends - starts)
            by_id = np.empty(len(cell_ids), dtype=np.int64)  # key order (each insert appends to the b-tree):
            by_id[cell_ids - cell_ids.min()] = np.arange(len(cell_ids))  # the ids are consecutive in each level
            if k == 0:
                rowids = list(zip(cell_ids[by_id].tolist(), owner[by_id].tolist()))
            else:
                parents += list(zip(cell_ids[by_id].tolist(), owner[by_id].tolist()))
        nodes.sort()
        parents.sort()
        return {"node": nodes, "rowid": rowids, "parent": parents}

    def install(self, raw: sqlite3.Connection, table: str, *, inserted: int) -> bool:
        """Write the packed tree into ``idx_<table>_geom`` (created empty by ``CreateSpatialIndex`` before the
        rows went in) if the rows got the predicted ids; False (the caller rebuilds the index) otherwise.
        ``inserted``: how many rows went into the (empty) table; with the lowest and highest id as predicted, the
        ids are exactly the predicted ones (no ``count(*)``: a scan of the whole table)."""
        if not self.usable:
            return False
        # (two subqueries: min() and max() in one SELECT make SQLite scan the table instead of reading both ends)
        lo, hi = raw.execute(f'SELECT (SELECT min(rowid) FROM "{table}"), (SELECT max(rowid) FROM "{table}")'
                             ).fetchone()
        if (lo, hi, inserted) != (self.first, self.first + self.n - 1, self.n):
            return False
        root = raw.execute(f'SELECT length(data) FROM "idx_{table}_geom_node" WHERE nodeno = 1').fetchone()
        if root is None or root[0] < 4 + 2 * _CELL.itemsize:
            return False
        size = int(root[0])
        pending = self._pending
        rows = pending[1].result() if pending is not None and pending[0] == size else self.shadow_rows(size)
        for s in _SHADOWS:
            shadow = f'"idx_{table}_geom_{s}"'
            raw.execute(f"DELETE FROM {shadow}")
            if rows[s]:
                raw.executemany(f"INSERT INTO {shadow} VALUES ({', '.join('?' * len(rows[s][0]))})", rows[s])
        return True
