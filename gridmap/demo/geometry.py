"""Geometry of the 示范区 generator: the superblock lattice, bent road lines, the district outline, and the
partition of blocks into connected groups of similar area (streets' communities).

Pure functions of their arguments (and of the ``rng`` they are given); :mod:`gridmap.demo.layout` calls them in
a fixed order, so the same seed gives the same district.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon


def _grid_dims(n_streets: int) -> tuple[int, int]:
    """Superblock lattice (nx, ny) with about 2 superblocks per street, wider than tall."""
    target = 2 * n_streets + 1
    best = None
    for ny in range(2, 12):
        for nx in range(ny, 3 * ny + 1):
            score = (abs(nx * ny - target), abs(nx / ny - 1.4))
            if nx * ny >= 2 * n_streets and (best is None or score < best[0]):
                best = (score, nx, ny)
    assert best is not None
    return best[1], best[2]


def _polyline(start: float, stop: float, step: float, base: float, jitter: np.ndarray, *,
              vertical: bool) -> LineString:
    t = np.arange(start, stop + step / 2, step)
    off = base + jitter[: len(t)]
    return LineString(np.c_[off, t] if vertical else np.c_[t, off])


def _boundary(x0: float, y0: float, w: float, h: float, rng: np.random.Generator) -> Polygon:
    """A rectangle with gently jittered edges (vertices every 500 m)."""
    def edge(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        n = max(2, int(np.hypot(*(b - a)) // 500))
        t = np.linspace(0, 1, n, endpoint=False)
        pts = a + np.outer(t, b - a)
        normal = np.array([-(b - a)[1], (b - a)[0]]) / np.hypot(*(b - a))
        jit = np.clip(rng.normal(0, 35, n), -70, 70)
        jit[0] = 0
        return pts + np.outer(jit, normal)
    c = [np.array(p, dtype=float) for p in ((x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h))]
    ring = np.vstack([edge(c[i], c[(i + 1) % 4]) for i in range(4)])
    poly = Polygon(ring)
    return poly if poly.is_valid else shapely.make_valid(poly)


def _snake_order(nx: int, ny: int) -> list[tuple[int, int]]:
    order = []
    for row in range(ny):
        cols = range(nx) if row % 2 == 0 else range(nx - 1, -1, -1)
        order += [(c, row) for c in cols]
    return order


def _cell_index(px: np.ndarray, py: np.ndarray, lines: list[LineString], *, vertical: bool) -> np.ndarray:
    """How many of the (sorted) lattice lines lie west of (vertical) / south of (horizontal) each point."""
    idx = np.zeros(len(px), dtype=int)
    for line in lines:
        xy = np.asarray(line.coords)
        if vertical:
            idx += px > np.interp(py, xy[:, 1], xy[:, 0])
        else:
            order = np.argsort(xy[:, 0])
            idx += py > np.interp(px, xy[order, 0], xy[order, 1])
    return idx


def _adjacency(geoms: np.ndarray) -> list[set[int]]:
    """Blocks sharing more than 1 m of boundary."""
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(geoms[a]), shapely.boundary(geoms[b])))
    nbrs: list[set[int]] = [set() for _ in range(len(geoms))]
    for i, j in zip(a[shared > 1.0], b[shared > 1.0]):
        nbrs[i].add(int(j))
        nbrs[j].add(int(i))
    return nbrs


def _components(members: list[int], nbrs: list[set[int]]) -> list[list[int]]:
    todo, out = set(members), []
    while todo:
        start = min(todo)
        stack, comp = [start], []
        todo.discard(start)
        while stack:
            k = stack.pop()
            comp.append(k)
            for m in nbrs[k] & todo:
                todo.discard(m)
                stack.append(m)
        out.append(sorted(comp))
    return sorted(out, key=len, reverse=True)


def _partition(blocks: list[int], k: int, cx: np.ndarray, cy: np.ndarray, area: np.ndarray,
               nbrs: list[set[int]]) -> np.ndarray:
    """Split a street's blocks into ``k`` contiguous groups (k-means on centroids, then connectivity repair)."""
    b = np.asarray(blocks)
    pts = np.c_[cx[b], cy[b]]
    # farthest-point seeds from the north-west block: deterministic
    seeds = [int(np.argmin(pts[:, 0] - pts[:, 1]))]
    d = np.hypot(*(pts - pts[seeds[0]]).T)
    while len(seeds) < k:
        seeds.append(int(np.argmax(d)))
        d = np.minimum(d, np.hypot(*(pts - pts[seeds[-1]]).T))
    centres = pts[seeds].astype(float)
    label = np.zeros(len(b), dtype=int)
    for _ in range(12):
        dist = np.hypot(pts[:, None, 0] - centres[None, :, 0], pts[:, None, 1] - centres[None, :, 1])
        label = np.argmin(dist, axis=1)
        for j in range(k):
            sel = label == j
            if sel.any():
                centres[j] = np.average(pts[sel], axis=0, weights=area[b][sel])
            else:                                   # re-seed an empty group at the worst-served block
                far = int(np.argmax(dist[np.arange(len(b)), label]))
                centres[j] = pts[far]
    for j in range(k):                              # no empty group
        if not (label == j).any():
            counts = np.bincount(label, minlength=k)
            donor = int(np.argmax(counts))
            label[np.flatnonzero(label == donor)[0]] = j
    pos = {int(blk): i for i, blk in enumerate(b)}
    for _ in range(30):
        moved = False
        for j in range(k):
            members = [int(x) for x in b[label == j]]
            comps = _components(members, nbrs)
            for comp in comps[1:]:
                for blk in comp:
                    cand = [label[pos[m]] for m in nbrs[blk] if m in pos and label[pos[m]] != j]
                    if cand:
                        label[pos[blk]] = np.bincount(cand).argmax()
                        moved = True
        if not moved:
            break
    return label


def _merge_slivers(geoms: np.ndarray, group: np.ndarray, *, min_area_m2: float) -> tuple[np.ndarray, np.ndarray]:
    """Merge blocks smaller than ``min_area_m2`` into the neighbour of the same superblock they share most edge with.

    Returns the new block array and the indices (into the input) of the blocks kept.
    """
    geoms = geoms.copy()
    alive = np.ones(len(geoms), dtype=bool)
    for _ in range(5):
        area = shapely.area(geoms)
        small = np.flatnonzero(alive & (area < min_area_m2))
        if len(small) == 0:
            break
        nbrs = _adjacency(np.where(alive, geoms, shapely.Point()))
        for i in small[np.argsort(area[small])]:
            if not alive[i]:
                continue
            cand = [j for j in nbrs[i] if alive[j] and group[j] == group[i]]
            if not cand:
                continue
            shared = [shapely.intersection(geoms[i].boundary, geoms[j].boundary).length for j in cand]
            j = cand[int(np.argmax(shared))]
            geoms[j] = shapely.unary_union([geoms[j], geoms[i]])
            alive[i] = False
            nbrs[j] |= nbrs[i] - {j}
    keep = np.flatnonzero(alive)
    return geoms[keep], keep


def _to_multi(geoms: np.ndarray | list) -> np.ndarray:
    arr = np.asarray(geoms, dtype=object)
    out = np.empty(len(arr), dtype=object)
    for i, g in enumerate(arr):
        if g.geom_type == "Polygon":
            out[i] = shapely.MultiPolygon([g])
        elif g.geom_type == "LineString":
            out[i] = shapely.MultiLineString([g])
        else:
            out[i] = g
    return out
