"""Random community layouts (Voronoi tilings) for tests, benchmarks and examples.

Examples
--------
>>> comm = voronoi_communities(12, bounds=(450000, 4410000, 452000, 4412000), seed=1)
>>> len(comm), comm.crs.to_epsg(), comm["code"].iloc[0]
(12, 4548, '110199001001')
>>> round(comm.area.sum())
4000000
"""

from __future__ import annotations

import numpy as np
import geopandas as gpd
import shapely

__all__ = ["voronoi_communities"]


def voronoi_communities(n: int, *, bounds: tuple[float, float, float, float], seed: int = 0,
                        district_code: str = "110199", per_street: int = 30, crs: str = "EPSG:4548",
                        wiggle_m: float = 0.0) -> gpd.GeoDataFrame:
    """``n`` communities tiling ``bounds`` exactly (a clipped Voronoi diagram of random seeds).

    Codes are ``district_code`` + street (``per_street`` communities per street) + community sequence.
    ``wiggle_m`` > 0 densifies the shared edges and displaces their inner vertices (the same way on both sides),
    giving irregular, road-like boundaries.
    """
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = bounds
    pts = shapely.points(rng.uniform(x0, x1, n), rng.uniform(y0, y1, n))
    env = shapely.box(x0, y0, x1, y1)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=env))
    cells = shapely.intersection(cells, env)
    # order by the seed each cell holds, so codes follow the random seeds deterministically
    tree = shapely.STRtree(cells)
    p_idx, c_idx = tree.query(pts, predicate="within")
    order = np.empty(n, dtype=np.int64)
    order[p_idx] = c_idx
    cells = cells[order]
    if wiggle_m > 0:
        cells = _wiggle(cells, wiggle_m, rng)
    codes = [f"{district_code}{i // per_street + 1:03d}{i % per_street + 1:03d}" for i in range(n)]
    return gpd.GeoDataFrame({"code": codes, "street_code": [c[:9] for c in codes]},
                            geometry=gpd.GeoSeries(cells, crs=crs), crs=crs)


def _wiggle(cells: np.ndarray, amp: float, rng: np.random.Generator) -> np.ndarray:
    """Displace densified vertices by a smooth function of position (identical for both neighbours)."""
    dense = shapely.segmentize(cells, amp * 4)
    fx, fy, px, py = rng.uniform(0.5, 2.0, 4) / (amp * 20)

    def move(xy: np.ndarray) -> np.ndarray:
        dx = amp * np.sin(xy[:, 1] * fx + px * 1e3)
        dy = amp * np.sin(xy[:, 0] * fy + py * 1e3)
        return np.column_stack([xy[:, 0] + dx, xy[:, 1] + dy])

    out = shapely.transform(dense, move)
    return shapely.make_valid(out)
