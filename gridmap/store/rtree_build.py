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
            cells = np.empty(len(ids), dtype=_CELL)
            cells["id"], cells["box"] = cell_ids, box
            raw = cells.tobytes()
            ends = np.r_[starts[1:], len(ids)]
            node_no = first_no[k] + np.arange(len(starts))
            for j, (a, e) in enumerate(zip(starts.tolist(), ends.tolist())):
                head = (depth if node_no[j] == 1 else 0).to_bytes(2, "big") + (e - a).to_bytes(2, "big")
                body = raw[a * _CELL.itemsize:e * _CELL.itemsize]
                nodes.append((int(node_no[j]), head + body + bytes(node_size - 4 - len(body))))
            owner = np.repeat(node_no, ends - starts)
            by_id = np.argsort(cell_ids, kind="stable")  # (key order: each insert appends to the b-tree)
            if k == 0:
                rowids = list(zip(cell_ids[by_id].tolist(), owner[by_id].tolist()))
            else:
                parents += list(zip(cell_ids[by_id].tolist(), owner[by_id].tolist()))
        nodes.sort()
        parents.sort()
        return {"node": nodes, "rowid": rowids, "parent": parents}

    def install(self, raw: sqlite3.Connection, table: str) -> bool:
        """Write the packed tree into ``idx_<table>_geom`` (created empty by ``CreateSpatialIndex`` before the
        rows went in) if the rows got the predicted ids; False (the caller rebuilds the index) otherwise."""
        if not self.usable:
            return False
        lo, hi, count = raw.execute(f'SELECT min(rowid), max(rowid), count(*) FROM "{table}"').fetchone()
        if (lo, hi, count) != (self.first, self.first + self.n - 1, self.n):
            return False
        root = raw.execute(f'SELECT length(data) FROM "idx_{table}_geom_node" WHERE nodeno = 1').fetchone()
        if root is None or root[0] < 4 + 2 * _CELL.itemsize:
            return False
        rows = self.shadow_rows(int(root[0]))
        for s in _SHADOWS:
            shadow = f'"idx_{table}_geom_{s}"'
            raw.execute(f"DELETE FROM {shadow}")
            if rows[s]:
                raw.executemany(f"INSERT INTO {shadow} VALUES ({', '.join('?' * len(rows[s][0]))})", rows[s])
        return True
