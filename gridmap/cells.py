"""Unit cells (万米单元网格) in the store: build them from the stored communities, in one transaction.

:func:`build_store_cells` reads the active communities, checks them all at once (invalid or overlapping polygons,
bad codes: one :class:`~gridmap.errors.ValidationError` naming every bad community), cuts them into cells with
:func:`gridmap.grid.build_cells` street by street (the result is the same as one call over all communities:
cells never cross a community and are numbered per community), writes the cells and re-assigns the stored
components and complaints to the new cells, all in one transaction. A store that already has cells is only
rebuilt with ``replace=True``; ``dry_run=True`` does everything but write.

Examples
--------
>>> from gridmap.store import open_store          # doctest: +SKIP
>>> print(build_store_cells(open_store("city.sqlite"), replace=True))   # doctest: +SKIP
cells: 1,652 written for 17 communities (100 m lattice at (0, 0)); replaced 1,650 ...
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text

from gridmap.errors import NotFoundError, StoreError, message

__all__ = ["CellBuildResult", "build_store_cells", "REASSIGNED_LAYERS"]

log = logging.getLogger(__name__)

#: Point layers whose ``cell_code``, ``community_code`` and ``street_code`` follow the cells.
REASSIGNED_LAYERS = ("components", "complaints")


@dataclass
class CellBuildResult:
    """What :func:`build_store_cells` did (or, in a dry run, would do)."""

    cells: int
    communities: int
    streets: int
    cell_size_m: float
    origin: tuple[float, float]
    replaced: int = 0
    dry_run: bool = False
    reassigned: dict[str, int] = field(default_factory=dict)
    on_no_cell: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def __str__(self) -> str:
        verb = "would be written (dry run, nothing written)" if self.dry_run else "written"
        s = (f"单元网格 cells: {self.cells:,} {verb} for {self.communities:,} communities in {self.streets} streets "
             f"({self.cell_size_m:g} m lattice at ({self.origin[0]:g}, {self.origin[1]:g}), {self.seconds:.1f} s)")
        if self.replaced:
            s += f"; replaced {self.replaced:,} cells"
        for layer in REASSIGNED_LAYERS:
            if layer in self.reassigned:
                s += (f"\n  {layer}: {self.reassigned[layer]:,} re-assigned to another cell"
                      f"{', ' + format(self.on_no_cell[layer], ',') + ' now on no cell' if self.on_no_cell.get(layer) else ''}")
        return s


def build_store_cells(store: Any, *, cell_size_m: float = 100.0, origin: tuple[float, float] = (0.0, 0.0),
                      sliver_share: float = 0.1, allow_overflow: bool = False, replace: bool = False,
                      reassign: bool = True, dry_run: bool = False,
                      progress: Callable[[int, int, str], None] | None = None) -> CellBuildResult:
    """Build the unit cells of every active community in ``store`` and write them in one transaction.

    Parameters
    ----------
    store : gridmap.store.Store
    cell_size_m, origin, sliver_share, allow_overflow : see :func:`gridmap.grid.build_cells`. Keep ``origin``
        fixed (the default ``(0, 0)`` of the working CRS) so rebuilds give the same lattice and codes.
    replace : bool, default False
        Rebuild when the store already has cells (otherwise that is an error, so nothing is lost by accident).
    reassign : bool, default True
        Give stored components and complaints the ``cell_code`` / ``community_code`` / ``street_code`` of the cell
        they now fall in (same transaction). Unchanged communities give identical cells, so nothing moves.
    dry_run : bool, default False
        Build and check everything, report, write nothing.
    progress : callable ``(done, total, label)``, optional
        Called after each street and each write step (the CLI draws a progress bar with it).

    Raises
    ------
    NotFoundError
        The store has no active communities.
    StoreError
        The store already has cells and ``replace`` is False.
    ValidationError
        Some communities are invalid, overlap or are badly coded (all listed), or ``origin`` is not two numbers.
    CapacityError
        A community has more than 999 cells (unless ``allow_overflow``).
    """
    from gridmap.grid import CellIndex, build_cells, check_communities

    t0 = time.perf_counter()
    origin = _origin(origin)
    existing = store.count("cells")
    if existing and not replace:
        raise StoreError(message(f"the store already has {existing:,} cells", where=store.safe_url,
                                 fix="pass replace=True (CLI: --replace) to rebuild them; stored components and "
                                     "complaints are re-assigned in the same transaction"))
    communities = store.read("communities", where={"active": True})
    if not len(communities):
        raise NotFoundError(message("the store has no active communities to cut into cells", where=store.safe_url,
                                    fix="import them first: gridmap import communities FILE --map code=...,"
                                        "street_code=..."))
    check_communities(communities)
    street = communities["code"].astype(str).str[:9]
    groups = list(communities.groupby(street, sort=True).groups.items())
    total = len(groups) + (1 if dry_run else 2)
    parts = []
    for i, (code, index) in enumerate(groups):
        parts.append(build_cells(communities.loc[index], cell_size_m=cell_size_m, origin=origin,
                                 sliver_share=sliver_share, allow_overflow=allow_overflow))
        if progress:
            progress(i + 1, total, f"street {code}")
    cells = pd.concat(parts, ignore_index=True)
    cells.attrs["lattice"] = {"cell_size_m": float(cell_size_m), "origin": origin}
    result = CellBuildResult(cells=len(cells), communities=len(communities), streets=len(groups),
                             cell_size_m=float(cell_size_m), origin=origin, replaced=existing if replace else 0,
                             dry_run=dry_run)
    index = CellIndex(cells) if reassign else None
    with store.transaction() as tx:
        if not dry_run:
            now = store.count("cells", connection=tx)
            if now and not replace:  # written by someone else since we looked
                raise StoreError(message(f"the store already has {now:,} cells", where=store.safe_url,
                                         fix="pass replace=True (CLI: --replace) to rebuild them"))
            store.write("cells", cells, mode="replace" if replace else "append", connection=tx)
            if progress:
                progress(len(groups) + 1, total, "write cells")
        if index is not None:
            for layer in REASSIGNED_LAYERS:
                moved, none = _reassign(store, tx, layer, index, cells, write=not dry_run)
                result.reassigned[layer] = moved
                result.on_no_cell[layer] = none
            if progress:
                progress(total, total, "re-assign components and complaints")
    result.seconds = time.perf_counter() - t0
    log.info("%s %d cells for %d communities (%d streets)%s", "checked" if dry_run else "wrote", len(cells),
             len(communities), len(groups), f", re-assigned {result.reassigned}" if reassign else "")
    return result


def _origin(origin: Any) -> tuple[float, float]:
    from gridmap.errors import Problem, ValidationError

    try:
        x, y = (float(v) for v in origin)
    except (TypeError, ValueError):
        raise ValidationError(message("origin must be two numbers (x, y) in the working CRS", got=origin),
                              [Problem(None, "origin", "not two numbers", origin)],
                              fix="e.g. origin=(0, 0), the default, so rebuilds keep the same lattice") from None
    if not (np.isfinite(x) and np.isfinite(y)):
        raise ValidationError(message("origin must be finite", got=origin),
                              [Problem(None, "origin", "not finite", origin)])
    return (x, y)


def _reassign(store: Any, conn: Any, layer: str, index: Any, cells: Any, *, write: bool) -> tuple[int, int]:
    """Re-assign one point layer's rows to ``cells``; return (rows whose cell changed, rows now on no cell)."""
    t = store.table(layer).name
    rows = conn.execute(text(f'SELECT id, ST_X(geom), ST_Y(geom), cell_code, community_code FROM "{t}" '
                             "WHERE geom IS NOT NULL")).fetchall()
    if not rows:
        return 0, 0
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    x = np.array([r[1] for r in rows], dtype=float)
    y = np.array([r[2] for r in rows], dtype=float)
    old_cell = np.array([r[3] for r in rows], dtype=object)
    old_comm = np.array([r[4] for r in rows], dtype=object)
    pos = index.lookup(x, y)
    got = pos >= 0
    codes = cells["code"].to_numpy(dtype=object)
    comm = cells["community_code"].to_numpy(dtype=object)
    new_cell = np.where(got, codes[np.maximum(pos, 0)], None)
    new_comm = np.where(got, comm[np.maximum(pos, 0)], None)
    changed = np.flatnonzero((new_cell != old_cell) | (new_comm != old_comm))
    if write and len(changed):
        conn.execute(text(f'UPDATE "{t}" SET cell_code = :cell, community_code = :comm, street_code = :street '
                          "WHERE id = :id"),
                     [{"id": int(ids[i]), "cell": new_cell[i], "comm": new_comm[i],
                       "street": None if new_comm[i] is None else str(new_comm[i])[:9]} for i in changed])
    n_none = int((~got).sum())
    if n_none:
        log.warning("%d %s are on no cell after the rebuild", n_none, layer)
    return int((new_cell != old_cell).sum()), n_none
