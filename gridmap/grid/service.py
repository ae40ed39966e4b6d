"""Unit cells (万米单元网格) in the store: build them from the stored communities, in one transaction.

The store-facing workflow of the grid package (the pure cell building is :mod:`gridmap.grid.cells`).

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

from gridmap.errors import NotFoundError, Problem, StoreError, ValidationError, message
from gridmap.grid.assign import CellIndex, cell_codes
from gridmap.grid.cells import build_cells, check_communities
from gridmap.store.queries import located_points, set_cell_codes

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
    _write(store, cells, result, replace=replace, reassign=reassign, progress=progress, total=total)
    result.seconds = time.perf_counter() - t0
    log.info("%s %d cells for %d communities (%d streets)%s", "checked" if dry_run else "wrote", len(cells),
             len(communities), len(groups), f", re-assigned {result.reassigned}" if reassign else "")
    return result


def _write(store: Any, cells: pd.DataFrame, result: CellBuildResult, *, replace: bool, reassign: bool,
           progress: Callable[[int, int, str], None] | None, total: int) -> None:
    """One transaction: write ``cells`` (unless a dry run) and re-assign the point layers to them."""
    index = CellIndex(cells) if reassign else None
    with store.transaction() as tx:
        if not result.dry_run:
            now = store.count("cells", connection=tx)
            if now and not replace:  # written by someone else since we looked
                raise StoreError(message(f"the store already has {now:,} cells", where=store.safe_url,
                                         fix="pass replace=True (CLI: --replace) to rebuild them"))
            store.write("cells", cells, mode="replace" if replace else "append", connection=tx)
            if progress:
                progress(total - 1, total, "write cells")
        if index is not None:
            for layer in REASSIGNED_LAYERS:
                moved, none = _reassign(store, tx, layer, index, cells, write=not result.dry_run)
                result.reassigned[layer] = moved
                result.on_no_cell[layer] = none
            if progress:
                progress(total, total, "re-assign components and complaints")


def _origin(origin: Any) -> tuple[float, float]:
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


def _reassign(store: Any, conn: Any, layer: str, index: CellIndex, cells: Any, *, write: bool) -> tuple[int, int]:
    """Re-assign one point layer's rows to ``cells``; return (rows whose cell changed, rows now on no cell)."""
    found = located_points(store, layer, connection=conn)
    if not len(found.id):
        return 0, 0
    codes = cell_codes(found.x, found.y, cells, index=index)
    new_cell = codes["cell_code"].to_numpy(dtype=object)
    new_comm = codes["community_code"].to_numpy(dtype=object)
    changed = np.flatnonzero((new_cell != found.cell_code) | (new_comm != found.community_code))
    if write:
        set_cell_codes(store, layer, found.id[changed], new_cell[changed], new_comm[changed],
                       codes["street_code"].to_numpy(dtype=object)[changed], connection=conn)
    n_none = int(pd.isna(new_cell).sum())
    if n_none:
        log.warning("%d %s are on no cell after the rebuild", n_none, layer)
    return int((new_cell != found.cell_code).sum()), n_none
