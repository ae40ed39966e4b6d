"""A SpatiaLite R*Tree built on a second thread while the rows are inserted (bulk loads into an empty table).

SQLite's R*Tree has no bulk load: ``CreateSpatialIndex`` inserts every row's box one at a time, about 8 µs a
row (2.5 s of a 300,000-complaint import, a quarter of it). When a bulk load goes into an **empty** table, the
rows' ids and boxes are known before they are written, so :class:`PrebuiltRTree` builds the same R*Tree in a
private in-memory SQLite database on another thread (SQLite releases the GIL while it works) while the caller's
thread inserts the rows and rebuilds the b-tree indexes; :meth:`PrebuiltRTree.install` then copies its three
shadow tables (``_node``, ``_rowid``, ``_parent``) into the store's ``idx_<table>_geom``.

The result is the R*Tree ``CreateSpatialIndex`` builds, byte for byte: the same boxes (SQLite rounds the doubles
to float32 outward itself, as it does for SpatiaLite's ``MbrMinX()``... values), inserted in the same order
(ascending id, SpatiaLite's full-table scan) into nodes of the same size (the store's page size). Everything
happens inside the caller's write transaction: a crash or an error leaves the store as it was. When the ids the
rows got are not the ones predicted (checked after the insert) or a copy fails, the caller rebuilds the index
the ordinary way.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import numpy as np
import shapely

_SHADOWS = ("node", "rowid", "parent")


class PrebuiltRTree:
    """Start building the R*Tree of ``geoms`` (ids ``first``, ``first + 1``, ...) on a background thread."""

    def __init__(self, geoms: np.ndarray, *, first: int, page_size: int):
        bounds = shapely.bounds(geoms)
        self.first, self.n = int(first), len(geoms)
        self.usable = bool(np.isfinite(bounds).all())  # empty geometries are not indexed: leave those to SpatiaLite
        self._rows: dict[str, list[tuple[Any, ...]]] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._build, args=(bounds, int(page_size)),
                                        name="gridmap-rtree-build", daemon=True)
        if self.usable:
            self._thread.start()

    def _build(self, bounds: np.ndarray, page_size: int) -> None:
        try:
            db = sqlite3.connect(":memory:", check_same_thread=False)
            try:
                db.execute(f"PRAGMA page_size = {page_size}")  # node size = page size - 64, as in the store
                db.execute("CREATE VIRTUAL TABLE r USING rtree(pkid, xmin, xmax, ymin, ymax)")
                db.execute("BEGIN")
                db.executemany("INSERT INTO r VALUES (?, ?, ?, ?, ?)",
                               zip(range(self.first, self.first + self.n), bounds[:, 0].tolist(),
                                   bounds[:, 2].tolist(), bounds[:, 1].tolist(), bounds[:, 3].tolist()))
                db.execute("COMMIT")
                self._rows = {s: db.execute(f"SELECT * FROM r_{s}").fetchall() for s in _SHADOWS}
            finally:
                db.close()
        except BaseException as exc:  # reported to install(), which then falls back
            self._error = exc

    def install(self, raw: sqlite3.Connection, table: str) -> bool:
        """Copy the built tree into ``idx_<table>_geom`` (created empty by ``CreateSpatialIndex`` before the
        rows went in) if the rows got the predicted ids; False (nothing copied that matters: the caller rebuilds
        the index) otherwise."""
        if not self.usable:
            return False
        self._thread.join()
        if self._error is not None or self._rows is None:
            return False
        lo, hi, count = raw.execute(f'SELECT min(rowid), max(rowid), count(*) FROM "{table}"').fetchone()
        if (lo, hi, count) != (self.first, self.first + self.n - 1, self.n):
            return False
        try:
            for s in _SHADOWS:
                shadow = f'"idx_{table}_geom_{s}"'
                raw.execute(f"DELETE FROM {shadow}")
                rows = self._rows[s]
                if rows:
                    marks = ", ".join("?" * len(rows[0]))
                    raw.executemany(f"INSERT INTO {shadow} VALUES ({marks})", rows)
        except sqlite3.Error:
            return False
        return True
