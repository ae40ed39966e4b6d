"""Atoms of a community split: residential compounds (never cut) plus the rest of the community area.

A split proposal assigns every *atom* to one new community. Atoms tile the community: the compounds and
buildings with their households (``indivisible`` ones are never cut), and the remaining area cut into pieces
(by cells when given, else by a square block lattice, and always along barrier lines) with 0 households.

Two atoms are *adjacent* when their shared boundary has positive length (at least ``min_shared_m``) off the
barrier lines (roads, rivers, rail given as lines): a part may follow a barrier, but adjacency never crosses it.

Examples
--------
>>> import geopandas as gpd, shapely
>>> com = gpd.GeoDataFrame({"code": ["110101001001"]}, geometry=[shapely.box(0, 0, 200, 100)], crs="EPSG:4548")
>>> cmp = gpd.GeoDataFrame({"code": ["A"], "households": [1500]}, geometry=[shapely.box(0, 0, 100, 100)],
...                        crs="EPSG:4548")
>>> atoms = build_atoms(com, cmp, block_size_m=100)
>>> atoms[["kind", "households"]].values.tolist()
[['compound', 1500], ['block', 0]]
>>> adjacency(atoms)[["i", "j", "adjacent"]].values.tolist()
[['A', 'B0000', True]]
"""

from __future__ import annotations

import logging
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import check_crs
from gridmap.errors import Problem, ValidationError
from gridmap.planning.flags import as_float

__all__ = ["build_atoms", "adjacency", "check_atoms", "as_geometry"]

log = logging.getLogger(__name__)

#: Overlay precision in metres (snap-rounding makes GEOS overlays robust).
GRID = 0.001


def as_geometry(obj: object) -> shapely.Geometry:
    """One (multi)polygon from a GeoDataFrame / GeoSeries / geometry (several rows are unioned)."""
    if isinstance(obj, (gpd.GeoDataFrame, gpd.GeoSeries)):
        geoms = obj.geometry if isinstance(obj, gpd.GeoDataFrame) else obj
        return shapely.union_all(geoms.values)
    if isinstance(obj, shapely.Geometry):
        return obj
    raise TypeError(f"expected a GeoDataFrame, GeoSeries or shapely geometry, got {type(obj).__name__}")


def _polygonal(g: shapely.Geometry) -> shapely.Geometry:
    """Only the polygon parts of an overlay result (drops stray lines and points)."""
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and p.area > 0]
    if not parts:
        return shapely.Polygon()
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def _split_by_lines(poly: shapely.Geometry, lines: shapely.Geometry | None) -> list[shapely.Geometry]:
    if lines is None or lines.is_empty or not poly.intersects(lines):
        return [poly]
    cut = shapely.intersection(lines, poly, grid_size=GRID)
    if cut.is_empty or shapely.length(cut) == 0:
        return [poly]
    edges = shapely.union_all([poly.boundary, cut])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(edges)))
    keep = []
    for f in faces:  # faces may fill holes of ``poly``: clip them back to it
        if f.area > 0 and poly.contains(f.representative_point()):
            keep += [q for q in shapely.get_parts(shapely.intersection(f, poly, grid_size=GRID))
                     if q.geom_type == "Polygon" and q.area > 0]
    return keep or [poly]


def _compound_atoms(community: object, compounds: gpd.GeoDataFrame | None, geom: shapely.Geometry, crs: Any
                    ) -> tuple[list[dict], shapely.Geometry]:
    """The compound atoms (each clipped to the community and to what earlier compounds left), after checking
    every compound's code and households; and the area they take."""
    rows: list[dict] = []
    taken = shapely.Polygon()
    if compounds is None or not len(compounds):
        return rows, taken
    check_crs(compounds, where="compounds", expected=crs)
    if "households" not in compounds.columns:
        raise ValidationError("compounds have no 'households' column", [Problem(None, "households", "missing")])
    # float64 with NaN: the stores give nullable Int64 columns whose missing values are <NA>
    hh = as_float(compounds["households"])
    codes = compounds["code"].astype(str) if "code" in compounds.columns else compounds.index.astype(str)
    indiv = compounds["indivisible"] if "indivisible" in compounds.columns else pd.Series(True, compounds.index)
    pop = as_float(compounds["population"]) if "population" in compounds.columns \
        else pd.Series(np.nan, compounds.index)
    raw = compounds["households"]
    problems = [Problem(c, "households", "missing or not a number", None if pd.isna(raw.loc[i]) else raw.loc[i])
                for i, c in zip(compounds.index, codes) if np.isnan(hh.loc[i])]
    problems += [Problem(c, "households", "negative", int(hh.loc[i]))
                 for i, c in zip(compounds.index, codes) if hh.loc[i] < 0]
    problems += [Problem(c, "households", "not a whole number", float(hh.loc[i]))
                 for i, c in zip(compounds.index, codes)
                 if not np.isnan(hh.loc[i]) and hh.loc[i] != np.round(hh.loc[i])]
    if codes.duplicated().any():
        problems += [Problem(c, "code", "duplicate compound code") for c in codes[codes.duplicated()].unique()]
    if problems:
        code = community["code"].iloc[0] if isinstance(community, gpd.GeoDataFrame) and "code" in \
            community.columns and len(community) == 1 else None
        raise ValidationError(f"bad compounds for the split{f' of community {code}' if code else ''}", problems,
                              fix="give every compound a unique code and a household count >= 0")
    for i, code in zip(compounds.index, codes):
        g = shapely.intersection(compounds.geometry.loc[i], geom, grid_size=GRID)
        g = shapely.difference(g, taken, grid_size=GRID) if not taken.is_empty else g
        g = _polygonal(g)
        if g.is_empty or g.area < 1e-6:
            if hh.loc[i] > 0:
                log.warning("compound %s lies outside the community; ignored", code)
            continue
        rows.append({"id": code, "kind": str(compounds["kind"].loc[i]) if "kind" in compounds.columns else
                     "compound", "name": str(compounds["name"].loc[i]) if "name" in compounds.columns else code,
                     "households": int(hh.loc[i]), "population": float(pop.loc[i]),
                     "indivisible": bool(indiv.loc[i]) if pd.notna(indiv.loc[i]) else True, "geometry": g})
        taken = shapely.union(taken, g, grid_size=GRID)
    return rows, taken


def _remainder_pieces(rest: shapely.Geometry, cells: gpd.GeoDataFrame | None, crs: Any, *, has_compounds: bool,
                      block_size_m: float) -> list[tuple[str, shapely.Geometry, int]]:
    """The community outside the compounds cut into pieces ``(id, polygon, households)``: along the cells (which
    carry the households when there are no compounds), else on a square lattice of ``block_size_m``."""
    pieces: list[tuple[str, shapely.Geometry, int]] = []
    if cells is not None and len(cells):
        check_crs(cells, where="cells", expected=crs)
        with_hh = "households" in cells.columns and not has_compounds
        if with_hh:
            cell_hh = as_float(cells["households"])
            cc = cells["code"].astype(str) if "code" in cells.columns else cells.index.astype(str)
            bad = [Problem(c, "households", "missing or not a number") for c, h in zip(cc, cell_hh) if np.isnan(h)]
            bad += [Problem(c, "households", "negative", int(h)) for c, h in zip(cc, cell_hh) if h < 0]
            bad += [Problem(c, "households", "not a whole number", float(h)) for c, h in zip(cc, cell_hh)
                    if h != np.round(h) and not np.isnan(h)]
            if bad:
                raise ValidationError("bad cells for the split (their households are the atoms' households)", bad,
                                      fix="give every cell a household count >= 0 (0 where nobody lives)")
        ccodes = cells["code"].astype(str) if "code" in cells.columns else cells.index.astype(str)
        for i, cc in zip(cells.index, ccodes):
            g = _polygonal(shapely.intersection(cells.geometry.loc[i], rest, grid_size=GRID))
            if g.is_empty or g.area <= 0:
                continue
            h = int(cell_hh.loc[i]) if with_hh else 0
            pieces.append(("C" + cc, g, h))
        covered = shapely.union_all(cells.geometry.values)
        left = shapely.difference(rest, covered, grid_size=GRID)
        for n, g in enumerate(shapely.get_parts(left)):
            if g.area > 0:
                pieces.append((f"R{n:04d}", g, 0))
    elif not rest.is_empty and rest.area > 0:
        x0, y0, x1, y1 = rest.bounds
        nx, ny = max(1, math.ceil((x1 - x0) / block_size_m)), max(1, math.ceil((y1 - y0) / block_size_m))
        boxes = [shapely.box(x0 + a * block_size_m, y1 - (b + 1) * block_size_m, x0 + (a + 1) * block_size_m,
                             y1 - b * block_size_m) for b in range(ny) for a in range(nx)]
        k = 0
        for g in shapely.intersection(boxes, rest, grid_size=GRID):
            for p in shapely.get_parts(g):
                if p.geom_type == "Polygon" and p.area > 0:
                    pieces.append((f"B{k:04d}", p, 0))
                    k += 1
    return pieces


def _merge_small_pieces(out_pieces: list[tuple[str, shapely.Geometry, int]], bar: shapely.Geometry | None, *,
                        min_piece_m2: float) -> list[tuple[str, shapely.Geometry, int]]:
    """Merge pieces under ``min_piece_m2`` without households into the neighbour that shares the most boundary
    off the barriers ``bar``; a crumb under 1 m² that touches no piece along a line is dropped."""
    bar_zone = shapely.buffer(bar, 1.0) if bar is not None else None
    big = [p for p in out_pieces if p[1].area >= min_piece_m2 or p[2] > 0]
    small = [p for p in out_pieces if not (p[1].area >= min_piece_m2 or p[2] > 0)]
    for pid, g, h in small:
        best, best_len = None, 0.0
        for j, (qid, q, qh) in enumerate(big):
            if q.distance(g) < 0.01:
                line = shapely.intersection(g.boundary, q.buffer(0.01), grid_size=GRID)
                if bar_zone is not None:  # never merge across a barrier
                    line = shapely.difference(line, bar_zone)
                ln = shapely.length(line)
                if ln > best_len:
                    best, best_len = j, ln
        if best is None or best_len < 1.0:
            if g.area < 1.0:  # a degenerate crumb (e.g. where a barrier clips a cell corner): not a place
                log.debug("dropped a %.3f m² crumb %s that touches no piece along a line", g.area, pid)
                continue
            big.append((pid, g, h))
        else:
            qid, q, qh = big[best]
            big[best] = (qid, _polygonal(shapely.union(q, g, grid_size=GRID)), qh + h)
    return big


def build_atoms(community: object, compounds: gpd.GeoDataFrame | None = None, *,
                cells: gpd.GeoDataFrame | None = None, barriers: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
                block_size_m: float = 100.0, min_piece_m2: float = 50.0) -> gpd.GeoDataFrame:
    """Cut a community into atoms: compounds plus remainder pieces (cells or blocks, split by barriers).

    Parameters
    ----------
    community : GeoDataFrame (one row, or several unioned) in a projected CRS.
    compounds : residential compounds / buildings with ``households`` (``code``, ``name``, ``indivisible``
        optional; indivisible defaults to True). Clipped to the community.
    cells : optional unit cells; the remainder is cut along cell edges. If there are no compounds and the
        cells carry ``households``, the cells themselves are the atoms.
    barriers : optional lines (roads, rivers, rail); remainder pieces are split along them.
    block_size_m : side of the square lattice used for the remainder when no cells are given.
    min_piece_m2 : remainder slivers smaller than this are merged into the neighbour sharing most boundary
        (off the barriers); a sliver without households under 1 m² that shares no boundary line with any piece
        (a crumb left where a barrier clips a cell corner) is dropped.

    Returns
    -------
    GeoDataFrame indexed by atom id (compound code, ``C`` + cell code, or ``B`` + sequence) with ``kind``,
    ``name``, ``households`` (int), ``population`` (float, NaN if unknown), ``indivisible`` (bool), ``geometry``.
    """
    crs = check_crs(community, where="community", metric=True)
    geom = as_geometry(community)
    rows, taken = _compound_atoms(community, compounds, geom, crs)
    rest = shapely.difference(geom, taken, grid_size=GRID) if not taken.is_empty else geom
    bar = None
    if barriers is not None and len(barriers):
        check_crs(barriers, where="barriers", expected=crs)
        bar = shapely.union_all(barriers.geometry.values if isinstance(barriers, gpd.GeoDataFrame) else barriers.values)
    pieces = _remainder_pieces(rest, cells, crs, has_compounds=bool(rows), block_size_m=block_size_m)
    out_pieces: list[tuple[str, shapely.Geometry, int]] = []
    for pid, g, h in pieces:
        parts = [p for q in shapely.get_parts(g) if q.geom_type == "Polygon" for p in _split_by_lines(q, bar)]
        if len(parts) == 1:
            out_pieces.append((pid, parts[0], h))
        else:
            for j, p in enumerate(sorted(parts, key=lambda p: (-p.centroid.y, p.centroid.x))):
                out_pieces.append((f"{pid}.{j}", p, h if j == 0 else 0))
    big = _merge_small_pieces(out_pieces, bar, min_piece_m2=min_piece_m2)
    for pid, g, h in big:
        rows.append({"id": pid, "kind": "cell" if pid.startswith("C") and cells is not None else "block",
                     "name": pid, "households": h, "population": np.nan, "indivisible": False, "geometry": g})
    atoms = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs).set_index("id")
    atoms.index.name = "atom"
    atoms["households"] = atoms["households"].astype(int)
    log.info("built %d atoms (%d with households) for a community of %.0f m²", len(atoms),
             int((atoms["households"] > 0).sum()), geom.area)
    return atoms


def check_atoms(atoms: gpd.GeoDataFrame, *, community: object | None = None, tolerance: float = 0.01) -> None:
    """Validate atoms; raise one :class:`ValidationError` listing every problem.

    Checks: projected CRS, unique index, households present, integral and >= 0, polygon geometry, and (with
    ``community``) that the atoms tile it (area difference below ``tolerance`` of its area).
    """
    check_crs(atoms, where="atoms", metric=True)
    problems: list[Problem] = []
    if not atoms.index.is_unique:
        problems += [Problem(i, None, "duplicate atom id") for i in atoms.index[atoms.index.duplicated()].unique()]
    if "households" not in atoms.columns:
        raise ValidationError("atoms have no 'households' column", [Problem(None, "households", "missing")],
                              fix="give each compound/cell its household count (0 where nobody lives)")
    hh = as_float(atoms["households"])
    for i in atoms.index[hh.isna().to_numpy()]:
        problems.append(Problem(i, "households", "missing household count", atoms.loc[i, "households"]))
    for i in atoms.index[(hh < 0).to_numpy()]:
        problems.append(Problem(i, "households", "negative household count", int(hh.loc[i])))
    for i in atoms.index[(hh.notna() & (hh != np.round(hh))).to_numpy()]:
        problems.append(Problem(i, "households", "household count must be a whole number", hh.loc[i]))
    gt = atoms.geometry.geom_type
    for i in atoms.index[~gt.isin(["Polygon", "MultiPolygon"]).to_numpy()]:
        problems.append(Problem(i, "geometry", "not a polygon", gt.loc[i]))
    if community is not None and not problems:
        g = as_geometry(community)
        u = shapely.union_all(atoms.geometry.values)
        diff = shapely.symmetric_difference(u, g).area
        if diff > tolerance * max(g.area, 1.0):
            problems.append(Problem(None, "geometry", f"atoms do not tile the community: {diff:,.0f} m² differ "
                                    f"({100 * diff / g.area:.1f} %)"))
        inter = float(atoms.geometry.area.sum()) - u.area
        if inter > tolerance * max(g.area, 1.0):
            problems.append(Problem(None, "geometry", f"atoms overlap by {inter:,.0f} m²"))
    if problems:
        raise ValidationError("the atoms of the split are not valid", problems,
                              fix="build them with gridmap.planning.build_atoms, or fix the listed rows")


def adjacency(atoms: gpd.GeoDataFrame, *, barriers: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
              roads: gpd.GeoDataFrame | gpd.GeoSeries | None = None, cells: gpd.GeoDataFrame | None = None,
              tol_m: float = 0.5, min_shared_m: float = 2.0) -> pd.DataFrame:
    """Touching atom pairs with their shared boundary and whether they count as adjacent.

    Returns a DataFrame with ``i``, ``j`` (atom ids, i before j in atoms order), ``shared_m`` (shared boundary
    length), ``barrier_m`` (of it, along a barrier line), ``road_m`` (along a barrier or inside a road's
    corridor: half its ``width_m`` when the roads carry one, plus 5 m, from the centre line),
    ``cell_m`` (along a cell edge, when cells are given) and ``adjacent`` (``shared_m - barrier_m >=
    min_shared_m``).
    """
    check_crs(atoms, where="atoms", metric=True)
    geoms = atoms.geometry.values
    n = len(geoms)
    cols = ["i", "j", "shared_m", "barrier_m", "road_m", "cell_m", "adjacent"]
    if n < 2:
        return pd.DataFrame(columns=cols)
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="dwithin", distance=tol_m)
    keep = a < b
    a, b = a[keep], b[keep]
    bounds = shapely.boundary(geoms)
    shared = shapely.intersection(bounds[a], shapely.buffer(bounds[b], tol_m, quad_segs=2))
    shared_m = shapely.length(shared)
    ok = shared_m > tol_m * 2.5
    a, b, shared, shared_m = a[ok], b[ok], shared[ok], shared_m[ok]
    barrier_m = np.zeros(len(a))
    road_m = np.zeros(len(a))
    cell_m = np.full(len(a), np.nan)
    lines = []
    # only the lines near the atoms matter (a whole district's roads would make the unions slow)
    box = shapely.box(*shapely.total_bounds(geoms)).buffer(10.0, join_style="mitre")

    def near(frame: gpd.GeoDataFrame | gpd.GeoSeries, column: str | None = None) -> np.ndarray:
        g = np.asarray(frame.geometry.values if isinstance(frame, gpd.GeoDataFrame) else frame.values)
        hit = shapely.intersects(g, box)
        if column is None:
            return g[hit]
        if isinstance(frame, gpd.GeoDataFrame) and column in frame.columns:
            return as_float(frame[column]).to_numpy()[hit]
        return np.full(int(hit.sum()), np.nan)
    if barriers is not None and len(barriers):
        bz = shapely.buffer(shapely.union_all(near(barriers)), 1.0, quad_segs=2)
        barrier_m = shapely.length(shapely.intersection(shared, bz))
        lines.append(bz)
    if roads is not None and len(roads):
        # a boundary inside a road's corridor follows the road: half its width (when known) + 5 m
        half = np.nan_to_num(near(roads, "width_m") / 2, nan=0.0) + 5.0
        lines.append(shapely.union_all(shapely.buffer(near(roads), half, quad_segs=2)))
    if lines:
        road_m = shapely.length(shapely.intersection(shared, shapely.union_all(lines)))
    road_m = np.maximum(road_m, barrier_m)
    if cells is not None and len(cells):
        cz = shapely.buffer(shapely.union_all(shapely.boundary(near(cells))), 1.0, quad_segs=2)
        cell_m = shapely.length(shapely.intersection(shared, cz))
    ids = np.asarray(atoms.index)
    out = pd.DataFrame({"i": ids[a], "j": ids[b], "shared_m": shared_m, "barrier_m": barrier_m, "road_m": road_m,
                        "cell_m": cell_m})
    out["adjacent"] = (out["shared_m"] - out["barrier_m"]) >= min_shared_m
    return out.reset_index(drop=True)
