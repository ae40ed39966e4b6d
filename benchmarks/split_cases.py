"""Generated oversized communities for the split tests and benchmark (deterministic by case number).

Each case is a community with residential compounds on a block grid (shapes: rectangle, L, T, irregular),
cells on a 100 m lattice, street centre lines (``roads``) and sometimes a river / rail line (``barriers``)
crossing it fully or partly. Households per community range from about 3,200 to 12,000.

>>> c = make_case(0)
>>> sorted(c)
['barriers', 'cells', 'community', 'compounds', 'name', 'roads']
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

CRS = "EPSG:4548"
X0, Y0 = 450_000.0, 4_420_000.0
SHAPES = ("rect", "L", "T", "irregular")


def _cuts(rng: np.random.Generator, length: float) -> list[float]:
    xs = [0.0]
    while xs[-1] < length - 60:
        xs.append(xs[-1] + rng.uniform(90, 190))
    xs[-1] = length
    return xs


def make_case(i: int, *, households: tuple[float, float] = (3200, 12000)) -> dict:
    """Case number ``i``: dict with community, compounds, cells, roads, barriers (GeoDataFrames or None), name."""
    rng = np.random.default_rng(10_000 + i)
    shape = SHAPES[i % len(SHAPES)]
    w, h = rng.uniform(500, 1100), rng.uniform(400, 900)
    xs, ys = _cuts(rng, w), _cuts(rng, h)
    w, h = xs[-1], ys[-1]
    full = shapely.box(X0, Y0, X0 + w, Y0 + h)
    if shape == "rect":
        com = full
    elif shape == "L":
        com = full.difference(shapely.box(X0 + xs[len(xs) // 2], Y0 + ys[len(ys) // 2], X0 + w + 1, Y0 + h + 1))
    elif shape == "T":
        a, b = xs[len(xs) // 3], xs[max(len(xs) // 3 + 1, 2 * len(xs) // 3)]
        yb = ys[len(ys) // 2]
        com = full.difference(shapely.box(X0 - 1, Y0 - 1, X0 + a, Y0 + yb)).difference(
            shapely.box(X0 + b, Y0 - 1, X0 + w + 1, Y0 + yb))
    else:
        pts = [(X0 + w / 2 + np.cos(t) * w / 2 * rng.uniform(0.65, 1.0), Y0 + h / 2 + np.sin(t) * h / 2 *
                rng.uniform(0.65, 1.0)) for t in np.linspace(0, 2 * np.pi, 13)[:-1]]
        com = shapely.Polygon(pts).intersection(full)
    com = shapely.normalize(com)
    blocks = [shapely.box(X0 + xs[a], Y0 + ys[b], X0 + xs[a + 1], Y0 + ys[b + 1])
              for b in range(len(ys) - 1) for a in range(len(xs) - 1)]
    comps, areas = [], []
    for bl in blocks:
        inner = bl.buffer(-8, join_style="mitre").intersection(com)
        if inner.is_empty or inner.area < 0.5 * bl.area or rng.random() < 0.2:
            continue
        if inner.geom_type != "Polygon":
            continue
        if rng.random() < 0.25 and inner.area > 15000:  # two compounds in one block
            x0, y0, x1, y1 = inner.bounds
            xm = x0 + (x1 - x0) * rng.uniform(0.35, 0.65)
            for part in (inner.intersection(shapely.box(x0, y0, xm - 4, y1)),
                         inner.intersection(shapely.box(xm + 4, y0, x1, y1))):
                if part.area > 1000 and part.geom_type == "Polygon":
                    comps.append(part)
                    areas.append(part.area)
        else:
            comps.append(inner)
            areas.append(inner.area)
    target = rng.uniform(*households)
    raw = np.array(areas) * rng.lognormal(0, 0.45, len(areas))
    hh = np.maximum(np.round(raw / raw.sum() * target), 30).astype(int)
    hh = np.minimum(hh, 2600)
    compounds = gpd.GeoDataFrame({
        "code": [f"C{i:03d}{j:03d}" for j in range(len(comps))],
        "name": [f"小区{j + 1}" for j in range(len(comps))],
        "kind": "compound", "households": hh, "population": np.round(hh * 2.31),
        "indivisible": True}, geometry=comps, crs=CRS)
    lines = [shapely.LineString([(X0 + x, Y0 - 20), (X0 + x, Y0 + h + 20)]) for x in xs[1:-1]]
    lines += [shapely.LineString([(X0 - 20, Y0 + y), (X0 + w + 20, Y0 + y)]) for y in ys[1:-1]]
    roads = gpd.GeoDataFrame({"code": [f"R{j}" for j in range(len(lines))], "kind": "branch"}, geometry=lines,
                             crs=CRS)
    bars = []
    cx = np.array([g.centroid.x - X0 for g in comps])
    cy = np.array([g.centroid.y - Y0 for g in comps])

    def ok(mask_sets: list[np.ndarray]) -> bool:  # every side of the barriers keeps enough households
        return all(hh[m].sum() >= 1300 for m in mask_sets)
    r = rng.random()
    river_y = rail_x = None
    if r < 0.45 and len(ys) > 2:  # a river along an inner street gap, wiggling inside the 16 m gap
        cand = [y for y in ys[1:-1] if ok([cy < y, cy > y])]
        if cand:
            river_y = cand[rng.integers(len(cand))]
            n = 12
            px = np.linspace(-30, w + 30, n)
            py = river_y + rng.uniform(-5, 5, n)
            end = n if rng.random() < 0.75 else n // 2 + 1   # sometimes only part way across
            if end < n:
                river_y = None
            bars.append(("river", shapely.LineString(list(zip(X0 + px[:end], Y0 + py[:end])))))
    if 0.3 < r < 0.6 and len(xs) > 2:
        cand = [x for x in xs[1:-1] if ok([cx < x, cx > x] if river_y is None else
                                          [(cx < x) & (cy < river_y), (cx < x) & (cy > river_y),
                                           (cx > x) & (cy < river_y), (cx > x) & (cy > river_y)])]
        if cand:
            rail_x = cand[rng.integers(len(cand))]
            bars.append(("rail", shapely.LineString([(X0 + rail_x, Y0 - 30), (X0 + rail_x, Y0 + h + 30)])))
    barriers = gpd.GeoDataFrame({"code": [f"B{j}" for j in range(len(bars))], "kind": [b[0] for b in bars]},
                                geometry=[b[1] for b in bars], crs=CRS) if bars else None
    nx, ny = int(np.ceil(w / 100)), int(np.ceil(h / 100))
    cg, cix, ciy = [], [], []
    for b in range(ny):
        for a in range(nx):
            c = shapely.box(X0 + a * 100, Y0 + b * 100, X0 + (a + 1) * 100, Y0 + (b + 1) * 100).intersection(com)
            if not c.is_empty and c.area > 1:
                cg.append(c)
                cix.append(a)
                ciy.append(b)
    order = sorted(range(len(cg)), key=lambda k: (-ciy[k], cix[k]))
    code = f"110101001{i % 1000:03d}"
    cells = gpd.GeoDataFrame({"code": [f"{code}{n + 1:03d}" for n in range(len(order))],
                              "community_code": code, "ix": [cix[k] for k in order], "iy": [ciy[k] for k in order],
                              "area_m2": [cg[k].area for k in order]}, geometry=[cg[k] for k in order], crs=CRS)
    community = gpd.GeoDataFrame({"code": [code], "street_code": ["110101001"], "name": [f"测试社区{i}"],
                                  "households": [int(hh.sum())], "population": [float(np.round(hh.sum() * 2.31))],
                                  "active": [True], "retired_at": [pd.NaT], "parent_code": [None]},
                                 geometry=[com], crs=CRS)
    return {"name": f"case{i:03d}-{shape}", "community": community, "compounds": compounds, "cells": cells,
            "roads": roads, "barriers": barriers}


def case_atoms(case: dict) -> gpd.GeoDataFrame:
    from gridmap.planning import build_atoms

    return build_atoms(case["community"], case["compounds"], cells=case["cells"], barriers=case["barriers"])


def cases(n: int = 120) -> list[dict]:
    return [make_case(i) for i in range(n)]
