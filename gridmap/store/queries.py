"""Backend-neutral queries: SQL that SpatiaLite and PostGIS both run, named for what they ask.

Workflows outside the store (e.g. :mod:`gridmap.grid.service`) call these instead of writing SQL themselves;
dialect-specific SQL lives in :mod:`gridmap.store.spatialite` and :mod:`gridmap.store.postgis`.

Examples
--------
>>> from gridmap.store import open_store
>>> store = open_store(":memory:")
>>> with store.transaction() as tx:
...     located_points(store, "complaints", connection=tx).id.tolist()
[]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import Connection, text

__all__ = ["LocatedPoints", "located_points", "set_cell_codes"]


class LocatedPoints(NamedTuple):
    """Rows of a point layer that have a geometry: ``id``, coordinates ``x``/``y`` (working CRS) and the
    ``cell_code``/``community_code`` stored now (object arrays, None where empty)."""

    id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    cell_code: np.ndarray
    community_code: np.ndarray


def located_points(store: Any, layer: str, *, connection: Connection) -> LocatedPoints:
    """Every row of the point layer ``layer`` (``components``, ``complaints``) with a geometry, with its codes."""
    t = store.table(layer).name
    rows = connection.execute(text(f'SELECT id, ST_X(geom), ST_Y(geom), cell_code, community_code FROM "{t}" '
                                   "WHERE geom IS NOT NULL")).fetchall()
    return LocatedPoints(id=np.array([r[0] for r in rows], dtype=np.int64),
                         x=np.array([r[1] for r in rows], dtype=float),
                         y=np.array([r[2] for r in rows], dtype=float),
                         cell_code=np.array([r[3] for r in rows], dtype=object),
                         community_code=np.array([r[4] for r in rows], dtype=object))


def set_cell_codes(store: Any, layer: str, ids: Sequence[int], cell_codes: Sequence[str | None],
                   community_codes: Sequence[str | None], street_codes: Sequence[str | None], *,
                   connection: Connection) -> None:
    """Give the rows ``ids`` of the point layer ``layer`` new ``cell_code``, ``community_code`` and ``street_code``
    (one executemany, in the caller's transaction)."""
    if not len(ids):
        return
    t = store.table(layer).name
    connection.execute(text(f'UPDATE "{t}" SET cell_code = :cell, community_code = :comm, street_code = :street '
                            "WHERE id = :id"),
                       [{"id": int(i), "cell": c, "comm": m, "street": s}
                        for i, c, m, s in zip(ids, cell_codes, community_codes, street_codes)])
