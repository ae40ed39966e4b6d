"""Store-facing planning workflows: what ``gridmap communities`` and ``gridmap split`` do, one call each.

Each function takes an open store (passed in, never opened here) and returns what the command prints:

- :func:`community_flags` size classes of the active communities, the table by street and the oversized ones;
- :func:`street_check` every street against the street-office standard;
- :func:`propose_for_community` reads one community's layers and returns its ranked split proposals;
- :func:`save_proposals` writes them as GeoPackage, GeoJSON and Markdown;
- :func:`accept_split` accepts proposal ``rank`` and writes the undo journal;
- :func:`undo_split` undoes the last accepted split of a community from its journal.

The pure steps stay where they are (:mod:`~gridmap.planning.atoms`, :mod:`~gridmap.planning.split`,
:mod:`~gridmap.planning.accept`); this module only reads the store, assembles their inputs and writes back.

Examples
--------
>>> journal_path("gridmap-journal", "110199001003").as_posix()
'gridmap-journal/split-110199001003.pkl'
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap.errors import NotFoundError
from gridmap.planning.accept import AcceptResult, accept_proposal, undo_accept
from gridmap.planning.atoms import build_atoms
from gridmap.planning.flags import flag_communities, summarize_flags
from gridmap.planning.proposal import Proposal
from gridmap.planning.split import propose_splits
from gridmap.planning.streets import check_streets

__all__ = ["DEFAULT_BARRIER_KINDS", "community_flags", "street_check", "propose_for_community", "save_proposals",
           "accept_split", "undo_split", "journal_path"]

log = logging.getLogger(__name__)

#: Road kinds a split may not cross unless told otherwise.
DEFAULT_BARRIER_KINDS: tuple[str, ...] = ("river", "rail", "main")

Progress = Callable[[int, int, str], None]


def community_flags(store: Any, *, floor: int = 1000, adjust: int = 3000,
                    super_large: int = 5000) -> tuple[gpd.GeoDataFrame, pd.DataFrame, gpd.GeoDataFrame]:
    """Flag the store's active communities: (flags, table by street, oversized communities largest first)."""
    c = store.read("communities")
    c = c[c["active"].fillna(True).astype(bool)]
    flags = flag_communities(c, floor=floor, adjust=adjust, super_large=super_large)
    over = flags[flags["households"] > adjust].sort_values("households", ascending=False)
    return flags, summarize_flags(flags), over


def street_check(store: Any, *, zone: str | None = None) -> pd.DataFrame:
    """:func:`~gridmap.planning.streets.check_streets` on the store's streets and communities."""
    return check_streets(store.read("streets"), store.read("communities"), zone=zone)


def propose_for_community(store: Any, community_code: str, *, floor: int = 1000, ceiling: int = 3000,
                          alternatives: int = 3, seed: int = 0,
                          barrier_kinds: Sequence[str] = DEFAULT_BARRIER_KINDS,
                          progress: Progress | None = None) -> tuple[gpd.GeoDataFrame, list[Proposal]]:
    """Ranked split proposals for one stored community: (the community's row, the proposals).

    Reads the community, its compounds and cells, and the roads over it (those of ``barrier_kinds`` are
    barriers), builds the atoms and runs :func:`~gridmap.planning.split.propose_splits`. Deterministic for a
    given ``seed``. Raises :class:`~gridmap.errors.NotFoundError` when the community is not in the store.
    """
    if progress:
        progress(0, 4, "read layers")
    com = store.read("communities", where={"code": community_code})
    if com.empty:
        raise NotFoundError(f"community {community_code} is not in the store")
    cmp = store.read("compounds", where={"community_code": community_code})
    cells = store.read("cells", where={"community_code": community_code})
    g = com.geometry.iloc[0]
    roads = store.read("roads", bbox=g.bounds)
    roads = roads[roads.intersects(g)]
    bars = roads[roads["kind"].isin(list(barrier_kinds))]
    if progress:
        progress(1, 4, "build atoms")
    atoms = build_atoms(com, cmp, cells=cells if len(cells) else None, barriers=bars)
    props = propose_splits(com, atoms, floor=floor, ceiling=ceiling, barriers=bars, roads=roads,
                           cells=cells if len(cells) else None, n_alternatives=alternatives, seed=seed,
                           community_code=community_code,
                           progress=(lambda d, t, label: progress(2 + d, 2 + t, label)) if progress else None)
    return com, props


def save_proposals(proposals: Sequence[Proposal], community: gpd.GeoDataFrame, *, community_code: str,
                   targets: Mapping[str, Path]) -> None:
    """Write the proposals to ``targets["gpkg"]``, ``targets["geojson"]`` (the frame the maps draw) and
    ``targets["md"]`` (the report), each atomically. Close the store first (GDAL/pyogrio I/O)."""
    from gridmap.outputs import atomic_output, write_text_atomic
    from gridmap.planning.report import markdown_report, proposals_frame, write_proposals

    frame = proposals_frame(proposals, community, community_code=community_code)
    for ext in ("gpkg", "geojson"):
        with atomic_output(targets[ext]) as tmp:
            write_proposals(frame, tmp)
    write_text_atomic(targets["md"],
                      markdown_report(proposals, community_code=community_code, name=community["name"].iloc[0]))


def journal_path(journal: str | Path, community_code: str) -> Path:
    """Where the undo journal of a community's accepted split lives in the folder ``journal``."""
    return Path(journal) / f"split-{community_code}.pkl"


def accept_split(store: Any, community_code: str, *, rank: int = 1, journal: str | Path,
                 floor: int = 1000, ceiling: int = 3000, alternatives: int = 3, seed: int = 0,
                 barrier_kinds: Sequence[str] = DEFAULT_BARRIER_KINDS,
                 progress: Progress | None = None) -> tuple[AcceptResult, Path]:
    """Accept proposal ``rank`` of a stored community and write its undo journal: (result, journal file).

    Proposals are not stored between ``split propose`` and ``split accept``: the proposal is **recomputed**
    here by :func:`propose_for_community` with the options given, which (the search being deterministic for a
    given ``seed``) yields the same ranking ``split propose`` showed when given the same options. Then
    :func:`~gridmap.planning.accept.accept_proposal` writes it (one transaction) and the result is saved to
    :func:`journal_path`. Raises :class:`~gridmap.errors.NotFoundError` (with the ranks there are) when there
    is no proposal of that rank.
    """
    _, props = propose_for_community(store, community_code, floor=floor, ceiling=ceiling,
                                     alternatives=alternatives, seed=seed, barrier_kinds=barrier_kinds,
                                     progress=progress)
    chosen = [p for p in props if p.rank == rank]
    if not chosen:
        raise NotFoundError(f"there is no proposal of rank {rank}", suggestions=[str(p.rank) for p in props])
    result = accept_proposal(store, chosen[0])
    return result, result.save(journal_path(journal, community_code))


def undo_split(store: Any, community_code: str, *, journal: str | Path,
               discard_cell_changes: bool = False) -> dict[str, int]:
    """Undo the last accepted split of a community from its journal in ``journal``; the journal file is then
    renamed ``*.undone``. Returns the counts of :func:`~gridmap.planning.accept.undo_accept`."""
    path = journal_path(journal, community_code)
    if not path.exists():
        raise NotFoundError(f"no split journal for {community_code} in {journal}")
    counts = undo_accept(store, path, discard_cell_changes=discard_cell_changes)
    path.rename(path.with_suffix(".undone"))
    return counts
