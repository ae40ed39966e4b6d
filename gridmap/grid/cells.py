"""Unit cells (万米单元网格) cut from community polygons on a fixed lattice, coded per DB11/T 2157-2023.

How cells are made
------------------
1. Every lattice square (:class:`~gridmap.grid.lattice.Lattice`, 100 m by default, fixed origin) that meets a
   community is clipped to it. Squares wholly inside a community are kept as they are (no overlay needed).
2. A clipped piece smaller than ``sliver_share`` x the nominal square area is a *sliver*. It is merged into the
   adjacent cell of the same community with which it shares the longest edge (ties: the northern-most, then
   western-most cell). Slivers touching only other slivers are merged in further passes. Slivers that reach no
   larger piece (a small detached part of a community cut by lattice lines) are united into one cell kept at the
   square of their largest member; a lone sliver with no neighbour at all stays with its own square's cell.
3. Several non-sliver pieces of one square in one community (a square cut twice by a concave boundary) stay one
   cell, a MultiPolygon. So ``(community_code, ix, iy)`` identifies a cell; a merged cell keeps the square
   ``(ix, iy)`` of the cell that received the sliver.

How cells are coded
-------------------
``code = community_code (12) + sequence (3)``. Within a community, cells are numbered in rows from north to
south (``iy`` descending), and within a row from west to east (``ix`` ascending): the reading order of
DB11/T 2157-2023 ("west to east, then north to south"). A merged cell is numbered at the square it keeps. The
numbering depends only on the lattice indices, so unchanged input gives identical codes. More than 999 cells
in one community raise :class:`~gridmap.errors.CapacityError` naming it; ``allow_overflow=True`` instead gives
that community a (non-standard) 4-digit sequence, i.e. 16-digit codes, with a warning.

Examples
--------
>>> import geopandas as gpd, shapely
>>> comm = gpd.GeoDataFrame({"code": ["110101001001"]}, geometry=[shapely.box(0, 0, 250, 180)], crs="EPSG:4548")
>>> cells = build_cells(comm)
>>> cells[["code", "ix", "iy", "area_m2"]].to_string(index=False)
'           code  ix  iy  area_m2\\n110101001001001   0   1   8000.0\\n110101001001002   1   1   8000.0\\n110101001001003   2   1   4000.0\\n110101001001004   0   0  10000.0\\n110101001001005   1   0  10000.0\\n110101001001006   2   0   5000.0'
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.codes.areal import MAX_CELL_SEQUENCE, check_community_code
from gridmap.crs import check_crs
from gridmap.errors import CapacityError, CodeError, Problem, ValidationError, message
from gridmap.grid.lattice import Lattice

__all__ = ["build_cells", "assemble_cells", "check_communities", "CELL_COLUMNS"]

log = logging.getLogger(__name__)

#: Columns of the frame :func:`build_cells` returns (the ``cells`` layer of the store).
CELL_COLUMNS = ("code", "community_code", "ix", "iy", "area_m2", "geometry")


def check_communities(communities: gpd.GeoDataFrame, *, code_column: str = "code",
                      overlap_tolerance_m2: float = 0.01, where: str = "communities") -> None:
    """Raise one :class:`~gridmap.errors.ValidationError` listing every unusable community.

    Checks: a projected CRS; codes present, 12 ASCII digits and unique; geometry present, polygonal, non-empty
    and valid; no two communities overlapping by more than ``overlap_tolerance_m2``.
    """
    check_crs(communities, where=where, metric=True)
    if code_column not in communities.columns:
        raise ValidationError(f"{where} has no {code_column!r} column",
                              [Problem(None, code_column, "column missing", list(communities.columns)[:10])],
                              fix="pass code_column= naming the 12-digit community code column")
    problems: list[Problem] = []
    codes = communities[code_column]
    for label, value in codes.items():
        try:
            check_community_code(value)
        except CodeError as exc:
            problems.append(Problem(label, code_column, exc.what, value))
    dup = codes.duplicated(keep="first") & codes.notna()
    for label in codes.index[dup]:
        problems.append(Problem(label, code_column, "duplicate community code", codes[label]))
    geoms = np.asarray(communities.geometry.values, dtype=object)
    labels = communities.index
    missing = shapely.is_missing(geoms)
    for i in np.flatnonzero(missing):
        problems.append(Problem(labels[i], "geometry", "geometry is missing"))
    ok = ~missing
    types = shapely.get_type_id(geoms)
    poly = ok & np.isin(types, [3, 6])
    for i in np.flatnonzero(ok & ~poly):
        problems.append(Problem(labels[i], "geometry", "not a polygon", geoms[i].geom_type))
    empty = np.zeros(len(geoms), dtype=bool)
    empty[poly] = shapely.is_empty(geoms[poly])
    for i in np.flatnonzero(empty):
        problems.append(Problem(labels[i], "geometry", "geometry is empty"))
    usable = poly & ~empty
    invalid = np.zeros(len(geoms), dtype=bool)
    invalid[usable] = ~shapely.is_valid(geoms[usable])
    for i in np.flatnonzero(invalid):
        problems.append(Problem(labels[i], "geometry", "invalid polygon: " + shapely.is_valid_reason(geoms[i]),
                                codes.iloc[i]))
    good = np.flatnonzero(usable & ~invalid)
    if len(good) > 1:
        g = geoms[good]
        tree = shapely.STRtree(g)
        a, b = tree.query(g, predicate="intersects")
        keep = a < b
        a, b = a[keep], b[keep]
        if len(a):
            area = shapely.area(shapely.intersection(g[a], g[b]))
            for i, j, ar in zip(a[area > overlap_tolerance_m2], b[area > overlap_tolerance_m2],
                                area[area > overlap_tolerance_m2]):
                problems.append(Problem(labels[good[i]], "geometry",
                                        f"overlaps community {codes.iloc[good[j]]} (row {labels[good[j]]}) "
                                        f"by {ar:.1f} m²", codes.iloc[good[i]]))
    if problems:
        raise ValidationError(f"{len(problems)} problem(s) in {where}; cannot build cells", problems,
                              fix="repair invalid polygons (QGIS: Fix geometries / shapely.make_valid), remove "
                                  "overlaps between neighbouring communities, and give each a unique 12-digit code")


def _polygon_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Polygon parts of each geometry (lines and points of collections dropped) with the index of their source."""
    parts, idx = shapely.get_parts(geoms, return_index=True)
    nested = shapely.get_type_id(parts) == 7  # a GeometryCollection inside a collection: flatten once more
    if nested.any():
        sub, sidx = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], sub])
        idx = np.concatenate([idx[~nested], idx[nested][sidx]])
    keep = shapely.get_type_id(parts) == 3
    parts, idx = parts[keep], idx[keep]
    area = shapely.area(parts)
    keep = area > 0
    return parts[keep], idx[keep]


def build_cells(communities: gpd.GeoDataFrame, *, cell_size_m: float = 100.0,
                origin: tuple[float, float] = (0.0, 0.0), sliver_share: float = 0.1, allow_overflow: bool = False,
                code_column: str = "code", overlap_tolerance_m2: float = 0.01) -> gpd.GeoDataFrame:
    """Cut communities into unit cells on a fixed square lattice and code them.

    Parameters
    ----------
    communities : GeoDataFrame
        Community polygons in a projected CRS (EPSG:4548 or the working CRS) with a 12-digit ``code`` column.
    cell_size_m : float, default 100
        Lattice square side in metres.
    origin : (x, y), default (0, 0)
        Lattice anchor; keep it fixed so rebuilds give the same ``ix``/``iy`` and codes.
    sliver_share : float, default 0.1
        Pieces smaller than this share of ``cell_size_m**2`` are merged into a neighbouring cell of the same
        community (longest shared edge). 0 keeps every piece.
    allow_overflow : bool, default False
        Opt in to a 4-digit sequence (16-digit, non-standard codes) for communities with more than 999 cells
        instead of raising :class:`~gridmap.errors.CapacityError`.
    code_column : str, default 'code'
        Column holding the community code.
    overlap_tolerance_m2 : float, default 0.01
        Overlaps between communities up to this area are tolerated as digitising noise.

    Returns
    -------
    GeoDataFrame
        One row per cell, columns ``code, community_code, ix, iy, area_m2, geometry``, sorted by code, in the
        CRS of ``communities``. Cells never cross a community boundary; a community's cells tile it.

    Raises
    ------
    ValidationError
        Listing every community that is invalid, not polygonal, badly coded, duplicated or overlapping another.
    CapacityError
        A community has more than 999 cells (unless ``allow_overflow``).
    """
    lattice = Lattice(cell_size_m=cell_size_m, origin=origin)
    if not 0 <= float(sliver_share) < 1:
        raise ValidationError(message("sliver_share must be in [0, 1)", got=sliver_share),
                              [Problem(None, "sliver_share", "out of range", sliver_share)])
    check_communities(communities, code_column=code_column, overlap_tolerance_m2=overlap_tolerance_m2)
    crs = communities.crs
    codes = communities[code_column].astype(str).to_numpy()
    # private prepared copies: the caller's geometries are left untouched
    geoms = shapely.from_wkb(shapely.to_wkb(np.asarray(communities.geometry.values, dtype=object)))
    shapely.prepare(geoms)

    row, ix, iy = lattice.candidates(shapely.bounds(geoms))
    boxes = lattice.boxes(ix, iy)
    covered = shapely.covers(geoms[row], boxes)
    rest = np.flatnonzero(~covered)
    meets = shapely.intersects(geoms[row[rest]], boxes[rest])
    rest = rest[meets]
    clipped = shapely.intersection(boxes[rest], geoms[row[rest]])
    parts, src = _polygon_parts(clipped)
    full = np.flatnonzero(covered)

    p_geom = np.concatenate([boxes[full], parts])
    p_row = np.concatenate([row[full], row[rest][src]])
    p_ix = np.concatenate([ix[full], ix[rest][src]])
    p_iy = np.concatenate([iy[full], iy[rest][src]])
    p_area = np.concatenate([np.full(len(full), lattice.nominal_area_m2), shapely.area(parts)])
    out, n_slivers = _assemble(p_geom, p_row, p_ix, p_iy, p_area, codes, cell_size_m=lattice.cell_size_m,
                               sliver_share=sliver_share, allow_overflow=allow_overflow, crs=crs, stacklevel=3)
    out.attrs["lattice"] = {"cell_size_m": lattice.cell_size_m, "origin": lattice.origin}
    log.info("built %d cells for %d communities (%.0f m lattice, %d slivers merged)", len(out), len(codes),
             lattice.cell_size_m, n_slivers)
    return out


def assemble_cells(pieces: gpd.GeoDataFrame, *, cell_size_m: float = 100.0, sliver_share: float = 0.1,
                   allow_overflow: bool = False, code_column: str = "community_code") -> gpd.GeoDataFrame:
    """Merge slivers and code cells from pieces already cut along community boundaries (steps 2-3 above).

    This is the part of :func:`build_cells` after the clipping, for callers that cut the pieces themselves
    (e.g. old cells cut along new community boundaries after a split): the same sliver rule, the same
    same-square union and the same DB11/T 2157-2023 numbering.

    Parameters
    ----------
    pieces : GeoDataFrame
        Polygonal pieces in a projected CRS with ``code_column`` (12-digit community code), ``ix`` and ``iy``
        (the lattice square each piece is counted in). Multi-part pieces are split into their polygons, each
        judged as a sliver on its own; empty pieces and non-polygonal parts are dropped.
    cell_size_m : float, default 100
        Lattice square side; the nominal cell area is its square.
    sliver_share, allow_overflow : see :func:`build_cells`.
    code_column : str, default 'community_code'
        Column holding the community code of each piece.

    Returns
    -------
    GeoDataFrame
        Cells as :func:`build_cells` returns them (columns ``code, community_code, ix, iy, area_m2, geometry``).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> pieces = gpd.GeoDataFrame({"community_code": ["110101001001"] * 3, "ix": [0, 1, 2], "iy": [0, 0, 0]},
    ...     geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100), shapely.box(200, 0, 205, 100)],
    ...     crs="EPSG:4548")
    >>> assemble_cells(pieces)[["code", "ix", "area_m2"]].values.tolist()
    [['110101001001001', 0, 10000.0], ['110101001001002', 1, 10500.0]]
    """
    lattice = Lattice(cell_size_m=cell_size_m)
    if not 0 <= float(sliver_share) < 1:
        raise ValidationError(message("sliver_share must be in [0, 1)", got=sliver_share),
                              [Problem(None, "sliver_share", "out of range", sliver_share)])
    check_crs(pieces, where="pieces", metric=True)
    missing = [c for c in (code_column, "ix", "iy") if c not in pieces.columns]
    if missing:
        raise ValidationError(message("pieces lack columns", got=missing),
                              [Problem(None, c, "column missing") for c in missing],
                              fix=f"give every piece its {code_column!r}, 'ix' and 'iy'")
    geoms = np.asarray(pieces.geometry.values, dtype=object)
    ok = ~shapely.is_missing(geoms)
    parts, src = _polygon_parts(geoms[ok])
    src = np.flatnonzero(ok)[src]
    codes, row = np.unique(pieces[code_column].astype(str).to_numpy(), return_inverse=True)
    out, n_slivers = _assemble(parts, row[src], pieces["ix"].to_numpy(np.int64)[src],
                               pieces["iy"].to_numpy(np.int64)[src], shapely.area(parts), codes,
                               cell_size_m=lattice.cell_size_m, sliver_share=sliver_share,
                               allow_overflow=allow_overflow, crs=pieces.crs, stacklevel=3)
    log.info("assembled %d cells from %d pieces of %d communities (%d slivers merged)", len(out), len(parts),
             len(codes), n_slivers)
    return out


def _sliver_owners(p_geom: np.ndarray, p_row: np.ndarray, p_ix: np.ndarray, p_iy: np.ndarray, p_area: np.ndarray,
                   sliver: np.ndarray, *, cell_size_m: float) -> np.ndarray:
    """The owner of each piece: the piece whose square it joins (itself for non-slivers); a sliver joins the
    non-sliver neighbour of its community with the longest shared edge (ties: northern-most, then western-most
    receiving square), repeatedly; slivers with no such neighbour are placed by :func:`_place_strays`."""
    n = len(p_geom)
    owner = np.where(sliver, -1, np.arange(n))
    if not sliver.any():
        return owner
    tree = shapely.STRtree(p_geom)
    boundaries = shapely.boundary(p_geom)
    merged_any = True
    while merged_any and (owner < 0).any():
        todo = np.flatnonzero(owner < 0)
        s_idx, n_idx = tree.query(p_geom[todo], predicate="intersects")
        s_idx = todo[s_idx]
        ok = (n_idx != s_idx) & (p_row[n_idx] == p_row[s_idx]) & (owner[n_idx] >= 0)
        s_idx, n_idx = s_idx[ok], n_idx[ok]
        if not len(s_idx):
            break
        shared = shapely.length(shapely.intersection(boundaries[s_idx], boundaries[n_idx]))
        edge = shared > 1e-9 * cell_size_m
        s_idx, n_idx, shared = s_idx[edge], n_idx[edge], shared[edge]
        if not len(s_idx):
            break
        target = owner[n_idx]
        # longest shared edge first; ties: northern-most then western-most receiving square
        order = np.lexsort((p_ix[target], -p_iy[target], -shared, s_idx))
        s_sorted = s_idx[order]
        first = np.r_[True, s_sorted[1:] != s_sorted[:-1]]
        owner[s_sorted[first]] = target[order][first]
        merged_any = bool(first.any())
    stray = owner < 0
    if stray.any():
        _place_strays(owner, stray, tree, boundaries, p_geom, p_row, p_ix, p_iy, p_area, sliver,
                      cell_size_m=cell_size_m)
    return owner


def _place_strays(owner: np.ndarray, stray: np.ndarray, tree: shapely.STRtree, boundaries: np.ndarray,
                  p_geom: np.ndarray, p_row: np.ndarray, p_ix: np.ndarray, p_iy: np.ndarray, p_area: np.ndarray,
                  sliver: np.ndarray, *, cell_size_m: float) -> None:
    """Set ``owner`` of the slivers no non-sliver neighbour took (``stray``): slivers touching only each other
    become one cell led by their largest member; a leader or lone sliver joins a non-sliver piece of its own
    square, else the first stray of that square."""
    n = len(p_geom)
    log.debug("%d sliver(s) with no non-sliver neighbour in their community", stray.sum())
    # slivers touching only each other (a small detached part cut by lattice lines) become one cell,
    # kept at the square of their largest member (ties: northern-most, then western-most)
    todo = np.flatnonzero(stray)
    a, b = tree.query(p_geom[todo], predicate="intersects")
    a = todo[a]
    ok = (a != b) & stray[b] & (p_row[a] == p_row[b])
    a, b = a[ok], b[ok]
    if len(a):
        edge = shapely.length(shapely.intersection(boundaries[a], boundaries[b])) > 1e-9 * cell_size_m
        a, b = a[edge], b[edge]
    if len(a):
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        pos = np.full(n, -1)
        pos[todo] = np.arange(len(todo))
        graph = coo_matrix((np.ones(len(a)), (pos[a], pos[b])), shape=(len(todo), len(todo)))
        _, label = connected_components(graph, directed=False)
        best = np.lexsort((p_ix[todo], -p_iy[todo], -p_area[todo], label))
        first = np.r_[True, label[best][1:] != label[best][:-1]]
        leader = np.empty(label.max() + 1, dtype=np.int64)
        leader[label[best][first]] = todo[best][first]
        grouped = label[np.bincount(label)[label] > 1]
        members = todo[np.isin(label, grouped)]
        owner[members] = leader[label[pos[members]]]
        # the leaders stay unowned: they anchor their square below, and their group follows them
        owner[leader[np.unique(grouped)]] = -1
        lead = np.zeros(n, dtype=bool)
        lead[leader[np.unique(grouped)]] = True
    else:
        lead = np.zeros(n, dtype=bool)
    stray = owner < 0
    # group with a non-sliver piece of the same square if any, else with the first stray of the square
    key = pd.DataFrame({"r": p_row, "x": p_ix, "y": p_iy, "i": np.arange(n), "o": owner})
    anchor = key[key["o"] >= 0].groupby(["r", "x", "y"])["i"].min()
    stray_anchor = key[key["o"] < 0].groupby(["r", "x", "y"])["i"].min()
    anchors = anchor.combine_first(stray_anchor)
    sk = key[key["o"] < 0]
    target = anchors.loc[list(zip(sk["r"], sk["x"], sk["y"]))].to_numpy()
    group = owner.copy()
    owner[sk["i"].to_numpy()] = target
    # members of a sliver group follow their leader's (now resolved) square
    follow = (group >= 0) & sliver & lead[np.maximum(group, 0)]
    owner[follow] = owner[group[follow]]


def _cell_geometries(p_geom: np.ndarray, p_row: np.ndarray, p_ix: np.ndarray, p_iy: np.ndarray, owner: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """One geometry per cell: the union of the pieces of the same square and community (slivers with the piece
    that owns them); returns the head piece of each cell and the cell geometries."""
    n = len(p_geom)
    keyframe = pd.DataFrame({"r": p_row, "x": p_ix, "y": p_iy, "i": np.arange(n)})
    head = keyframe.groupby(["r", "x", "y"], sort=False)["i"].transform("min").to_numpy()
    cell_of = head[owner]
    uniq, inverse = np.unique(cell_of, return_inverse=True)
    counts = np.bincount(inverse)
    order = np.argsort(inverse, kind="stable")
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    cell_geom = p_geom[order[starts]].copy()
    multi = np.flatnonzero(counts > 1)
    if len(multi):
        for k in multi:
            members = p_geom[order[starts[k]:starts[k] + counts[k]]]
            cell_geom[k] = shapely.union_all(members)
    bad = ~shapely.is_valid(cell_geom)
    if bad.any():  # defensive: unions of exact lattice pieces are valid, but never hand out invalid cells
        log.warning("%d cell(s) needed make_valid after merging", bad.sum())
        fixed = shapely.make_valid(cell_geom[bad])
        cell_geom[bad] = [shapely.union_all(_polygon_parts(np.array([g]))[0]) for g in fixed]
    return uniq, cell_geom


def _assemble(p_geom: np.ndarray, p_row: np.ndarray, p_ix: np.ndarray, p_iy: np.ndarray, p_area: np.ndarray,
              codes: np.ndarray, *, cell_size_m: float, sliver_share: float, allow_overflow: bool, crs: Any,
              stacklevel: int = 2) -> tuple[gpd.GeoDataFrame, int]:
    """Pieces (polygons, their community row in ``codes``, lattice square, area) -> coded cells, slivers merged."""
    nominal = float(cell_size_m) * float(cell_size_m)
    # owner of each piece: the piece whose square it joins (itself for non-slivers)
    sliver = p_area < float(sliver_share) * nominal
    owner = _sliver_owners(p_geom, p_row, p_ix, p_iy, p_area, sliver, cell_size_m=cell_size_m)
    uniq, cell_geom = _cell_geometries(p_geom, p_row, p_ix, p_iy, owner)
    c_row = p_row[uniq]
    c_ix = p_ix[uniq]
    c_iy = p_iy[uniq]
    order = np.lexsort((c_ix, -c_iy, codes[c_row]))
    c_row, c_ix, c_iy, cell_geom = c_row[order], c_ix[order], c_iy[order], cell_geom[order]
    comm = codes[c_row]
    starts = np.r_[True, comm[1:] != comm[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(comm)), 0))
    seq = np.arange(len(comm)) - group_start + 1
    per = pd.Series(comm).value_counts()
    over = per[per > MAX_CELL_SEQUENCE]
    width = np.full(len(comm), 3)
    if len(over):
        names = ", ".join(f"{c} ({k} cells)" for c, k in over.items())
        if not allow_overflow:
            raise CapacityError(message(f"{len(over)} communit{'y has' if len(over) == 1 else 'ies have'} more than "
                                        "999 cells, which 15-digit DB11/T 2157-2023 codes cannot number",
                                        where=names, got=f"{int(over.max())} cells",
                                        fix="split the community, use a larger cell_size_m, or pass "
                                            "allow_overflow=True for a non-standard 4-digit sequence"))
        warnings.warn(f"non-standard 16-digit cell codes (4-digit sequence) for {names}", UserWarning, stacklevel=stacklevel)
        width[np.isin(comm, over.index.to_numpy())] = 4
    cell_codes = [f"{c}{s:0{w}d}" for c, s, w in zip(comm, seq, width)]
    out = gpd.GeoDataFrame({"code": cell_codes, "community_code": comm, "ix": c_ix.astype(np.int64),
                            "iy": c_iy.astype(np.int64), "area_m2": shapely.area(cell_geom)},
                           geometry=gpd.GeoSeries(cell_geom, crs=crs), crs=crs)
    return out, int(sliver.sum())
