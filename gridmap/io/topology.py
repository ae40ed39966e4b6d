"""Gaps and overlaps between neighbouring areas (communities, streets): find, report, optionally repair.

Hand-digitised boundaries rarely tile: neighbours overlap by a metre here and leave a sliver there. Cells,
point-in-community lookups and split proposals all assume a seamless tiling, so the importer checks it.

* :func:`find_topology_problems` reports every **overlap** (which two features, area, centroid x/y), every **gap**
  (holes in the union of the features, and, when an outer ``boundary`` such as the street or district outline is
  given, everything inside it that no feature covers; with the features that touch it) and every part of a
  feature **outside** the boundary.
* :func:`repair_topology` (opt-in) snaps vertices to neighbours within ``snap_m``, clips to the boundary, then
  gives every overlap and gap sliver to the neighbour with the longest shared edge (an overlap only to one of
  the features that overlapped there). :func:`check_seamless` verifies the result: the union equals the outer
  boundary within ``1e-6`` relative area and pairwise overlaps are zero.

Examples
--------
>>> import geopandas as gpd, shapely
>>> f = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=[shapely.box(0, 0, 101, 100), shapely.box(100, 0, 200, 100)],
...                      crs="EPSG:4548")
>>> report = find_topology_problems(f)
>>> report.overlaps[["a", "b", "area_m2"]].to_dict("records")
[{'a': 'a', 'b': 'b', 'area_m2': 100.0}]
>>> fixed, _ = repair_topology(f)
>>> check_seamless(fixed, boundary=shapely.box(0, 0, 200, 100))["ok"]
True
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.crs import check_crs

__all__ = ["TopologyMode", "TopologyReport", "find_topology_problems", "repair_topology", "check_seamless"]

log = logging.getLogger(__name__)


class TopologyMode(str, enum.Enum):
    """What an import does about gaps and overlaps between polygons."""

    OFF = "off"
    REPORT = "report"
    REPAIR = "repair"


_EPS = 1e-3  # metres: "touching" for shared-edge lengths and neighbour searches


def _polygonal(g: BaseGeometry | None) -> BaseGeometry:
    """The polygonal part of ``g`` (valid), or an empty polygon."""
    if g is None or g.is_empty:
        return shapely.Polygon()
    if not g.is_valid:
        g = shapely.make_valid(g)
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _pieces(g: BaseGeometry, min_area_m2: float) -> list[BaseGeometry]:
    g = _polygonal(g)
    return [p for p in shapely.get_parts(g) if p.area > min_area_m2]


def _frame(rows: list[dict], crs: Any, columns: list[str]) -> gpd.GeoDataFrame:
    if not rows:
        return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in columns}, geometry=gpd.GeoSeries([], crs=crs),
                                crs=crs)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


@dataclass
class TopologyReport:
    """Overlaps, gaps and parts outside the boundary, each a GeoDataFrame with ``area_m2``, ``x``, ``y``."""

    overlaps: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    outside: gpd.GeoDataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing overlaps, nothing is missing and nothing sticks out."""
        return self.overlaps.empty and self.gaps.empty and self.outside.empty

    def table(self) -> pd.DataFrame:
        """One row per problem: kind, features, area_m2, x, y (centroid in the working CRS)."""
        rows = [{"kind": "overlap", "features": f"{r.a} / {r.b}", "area_m2": r.area_m2, "x": r.x, "y": r.y}
                for r in self.overlaps.itertuples()]
        rows += [{"kind": "gap", "features": r.neighbours, "area_m2": r.area_m2, "x": r.x, "y": r.y}
                 for r in self.gaps.itertuples()]
        rows += [{"kind": "outside boundary", "features": r.feature, "area_m2": r.area_m2, "x": r.x, "y": r.y}
                 for r in self.outside.itertuples()]
        return pd.DataFrame(rows, columns=["kind", "features", "area_m2", "x", "y"])

    def lines(self, limit: int = 20) -> list[str]:
        """Human-readable summary lines."""
        out = [f"topology: {len(self.overlaps)} overlap(s) ({self.overlaps['area_m2'].sum():.1f} m²), "
               f"{len(self.gaps)} gap(s) ({self.gaps['area_m2'].sum():.1f} m²), "
               f"{len(self.outside)} part(s) outside the boundary"]
        for r in self.table().head(limit).itertuples():
            out.append(f"  {r.kind}: {r.features}, {r.area_m2:.2f} m² at x={r.x:.1f}, y={r.y:.1f}")
        if len(self.table()) > limit:
            out.append(f"  ... and {len(self.table()) - limit} more")
        return out + self.notes


def _key_values(frame: gpd.GeoDataFrame, key: str | None) -> list[str]:
    if key and key in frame.columns:
        return [str(v) if v is not None and v == v else f"row {i}" for i, v in zip(frame.index, frame[key])]
    return [f"row {i}" for i in frame.index]


def find_topology_problems(frame: gpd.GeoDataFrame, *, key: str | None = "code",
                           boundary: BaseGeometry | None = None, min_area_m2: float = 0.01) -> TopologyReport:
    """Overlaps between features, gaps among them (and inside ``boundary``), parts outside ``boundary``.

    Parameters
    ----------
    frame : polygons in a projected CRS (not modified).
    key : column naming the features in the report (default ``code``; row labels when missing).
    boundary : the outer outline they should tile (street, district), in the same CRS; optional.
    min_area_m2 : pieces smaller than this are numerical noise and not reported.
    """
    check_crs(frame, where="topology check", metric=True)
    names = _key_values(frame, key)
    geoms = np.array([_polygonal(g) for g in frame.geometry.values], dtype=object)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    rows = []
    for i, j in zip(left, right):
        if i >= j:
            continue
        for piece in _pieces(shapely.intersection(geoms[i], geoms[j]), min_area_m2):
            c = piece.centroid
            rows.append({"a": names[i], "b": names[j], "area_m2": round(piece.area, 3), "x": c.x, "y": c.y,
                         "geometry": piece})
    overlaps = _frame(rows, frame.crs, ["a", "b", "area_m2", "x", "y"])
    union = shapely.union_all(geoms)
    filled = shapely.union_all([shapely.Polygon(p.exterior) for p in shapely.get_parts(union) if p.area > 0])
    target = boundary if boundary is not None else filled
    rows = []
    for piece in _pieces(shapely.difference(target, union), min_area_m2):
        near = tree.query(piece, predicate="dwithin", distance=_EPS)
        c = piece.centroid
        rows.append({"neighbours": ", ".join(sorted(names[k] for k in near)), "area_m2": round(piece.area, 3),
                     "x": c.x, "y": c.y, "geometry": piece})
    gaps = _frame(rows, frame.crs, ["neighbours", "area_m2", "x", "y"])
    rows = []
    if boundary is not None:
        for k, g in enumerate(geoms):
            for piece in _pieces(shapely.difference(g, boundary), min_area_m2):
                c = piece.centroid
                rows.append({"feature": names[k], "area_m2": round(piece.area, 3), "x": c.x, "y": c.y,
                             "geometry": piece})
    outside = _frame(rows, frame.crs, ["feature", "area_m2", "x", "y"])
    report = TopologyReport(overlaps, gaps, outside)
    log.info("topology of %d features: %d overlaps, %d gaps, %d outside", len(frame), len(overlaps), len(gaps),
             len(outside))
    return report


def _snap(geoms: np.ndarray, boundary: BaseGeometry | None, snap_m: float) -> np.ndarray:
    tree = shapely.STRtree(geoms)
    out = geoms.copy()
    for i, g in enumerate(geoms):
        near = [k for k in tree.query(g, predicate="dwithin", distance=snap_m) if k != i]
        refs = [geoms[k].boundary for k in near]
        if boundary is not None:
            refs.append(boundary.boundary)
        if refs:
            out[i] = _polygonal(shapely.snap(g, shapely.union_all(refs), snap_m))
    return out


def _slivers(geoms: np.ndarray, tree: shapely.STRtree, target: BaseGeometry
             ) -> list[tuple[BaseGeometry, list[int] | None]]:
    """The pieces :func:`repair_topology` hands out: each pairwise overlap (minus what earlier pairs took: triple
    corners go once), then the gaps; each with the features allowed to receive it (None: any). Whatever
    floating-point noise is left comes later."""
    slivers: list[tuple[BaseGeometry, list[int] | None]] = []
    taken = shapely.Polygon()
    left, right = tree.query(geoms, predicate="intersects")
    for i, j in zip(left, right):
        if i < j:
            o = _polygonal(shapely.difference(_polygonal(shapely.intersection(geoms[i], geoms[j])), taken))
            if o.area > 0:
                slivers += [(p, [int(i), int(j)]) for p in shapely.get_parts(o) if p.area > 0]
                taken = shapely.union(taken, o)
    slivers += [(p, None) for p in shapely.get_parts(_polygonal(shapely.difference(target, shapely.union_all(geoms))))
                if p.area > 0]
    return slivers


def repair_topology(frame: gpd.GeoDataFrame, *, key: str | None = "code", boundary: BaseGeometry | None = None,
                    snap_m: float = 0.5, max_sliver_m2: float | None = None
                    ) -> tuple[gpd.GeoDataFrame, TopologyReport]:
    """Repair overlaps and gaps so that the features tile their outline; return (repaired copy, what was fixed).

    Steps: snap every vertex to neighbours (and the boundary) within ``snap_m``; clip to ``boundary`` (default:
    the union of the features with its holes filled); keep each feature's exclusive part; split what remains
    (overlaps and gaps) into slivers and give each to the touching feature with the longest shared edge (an
    overlap only to a feature that covered it). Slivers larger than ``max_sliver_m2`` (when given) are left as
    gaps and reported. The result should pass :func:`check_seamless`.
    """
    check_crs(frame, where="topology repair", metric=True)
    before = find_topology_problems(frame, key=key, boundary=boundary)
    geoms = np.array([_polygonal(g) for g in frame.geometry.values], dtype=object)
    if snap_m > 0:
        geoms = _snap(geoms, boundary, snap_m)
    union = shapely.union_all(geoms)
    target = boundary if boundary is not None else shapely.union_all(
        [shapely.Polygon(p.exterior) for p in shapely.get_parts(union) if p.area > 0])
    geoms = np.array([_polygonal(shapely.intersection(g, target)) for g in geoms], dtype=object)
    tree = shapely.STRtree(geoms)
    exclusive = geoms.copy()
    for i, g in enumerate(geoms):
        near = [k for k in tree.query(g, predicate="intersects") if k != i]
        if near:
            exclusive[i] = _polygonal(shapely.difference(g, shapely.union_all(geoms[near])))
    pending = _slivers(geoms, tree, target)
    left_over: list[BaseGeometry] = []
    moved = 0
    for _round in range(2):
        while pending:
            progress = False
            rest = []
            ex_tree = shapely.STRtree(exclusive)
            for s, allowed in pending:
                if max_sliver_m2 is not None and s.area > max_sliver_m2:
                    left_over.append(s)
                    continue
                candidates = allowed if allowed is not None else \
                    [int(k) for k in ex_tree.query(s, predicate="dwithin", distance=_EPS)]
                band = s.boundary
                shared = {k: shapely.intersection(band, shapely.buffer(exclusive[k], _EPS)).length for k in candidates}
                shared = {k: v for k, v in shared.items() if v > 0}
                if not shared:
                    rest.append((s, allowed))
                    continue
                best = max(shared, key=lambda k: (shared[k], -k))
                exclusive[best] = _polygonal(shapely.union(exclusive[best], s))
                moved += 1
                progress = True
            if not progress:  # slivers touching only other slivers: nearest allowed feature
                for s, allowed in rest:
                    pool = allowed if allowed is not None else range(len(exclusive))
                    best = min(pool, key=lambda k: (exclusive[k].distance(s), k))
                    exclusive[best] = _polygonal(shapely.union(exclusive[best], s))
                    moved += 1
                rest = []
            pending = rest
        # floating-point crumbs between the pieces
        covered = shapely.union_all(list(exclusive) + left_over)
        pending = [(p, None) for p in shapely.get_parts(_polygonal(shapely.difference(target, covered)))
                   if p.area > 0 and (max_sliver_m2 is None or p.area <= max_sliver_m2)]
    out = frame.copy()
    out["geometry"] = gpd.GeoSeries(exclusive, index=frame.index, crs=frame.crs)
    out = out.set_geometry("geometry")
    before.notes.append(f"repair: snapped within {snap_m:g} m, {moved} sliver(s) given to neighbours"
                        + (f", {len(left_over)} gap(s) above {max_sliver_m2:g} m² left as they are" if left_over
                           else ""))
    log.info("repaired topology of %d features: %d slivers reassigned, %d left", len(frame), moved, len(left_over))
    return out, before


def check_seamless(frame: gpd.GeoDataFrame, *, boundary: BaseGeometry | None = None,
                   rel_tol: float = 1e-6) -> dict[str, Any]:
    """Whether ``frame`` tiles ``boundary`` (default: its own union with holes filled).

    Returns ``{'ok', 'union_area_m2', 'boundary_area_m2', 'symmetric_difference_m2', 'relative_difference',
    'overlap_m2'}``; ``ok`` when the symmetric difference of union and boundary and the summed pairwise overlap
    are both within ``rel_tol`` of the boundary's area.
    """
    geoms = np.array([_polygonal(g) for g in frame.geometry.values], dtype=object)
    union = shapely.union_all(geoms)
    target = boundary if boundary is not None else shapely.union_all(
        [shapely.Polygon(p.exterior) for p in shapely.get_parts(union) if p.area > 0])
    sym = shapely.symmetric_difference(union, target).area
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    overlap = float(sum(shapely.intersection(geoms[i], geoms[j]).area for i, j in zip(left, right) if i < j))
    area = float(target.area) or 1.0
    return {"ok": bool(sym / area <= rel_tol and overlap / area <= rel_tol), "union_area_m2": float(union.area),
            "boundary_area_m2": float(target.area), "symmetric_difference_m2": float(sym),
            "relative_difference": float(sym / area), "overlap_m2": overlap}
