"""Small synthetic layers for map examples, tests and benchmarks (not the 示范区 generator of ``gridmap.demo``).

A district of ``nx_streets`` x ``ny_streets`` streets near Tiananmen in EPSG:4548, each street 2 km x 1.5 km
with 12 communities of 500 m x 500 m and 300 unit cells of 100 m, random components and complaints.
``payloads=True`` plants script/HTML payloads and personal data in the text fields, for safety tests.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["sample_layers", "PAYLOADS", "PII"]

#: Strings planted by ``payloads=True``; none of them may appear raw in a written map.
PAYLOADS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>",
            "<!--<script>")
#: Personal data planted by ``payloads=True``; none of it may appear in any map.
PII = ("13812345678", "11010519491231002X", "010-65123456")

_CLASSES = [("0101", "上水井盖"), ("0103", "雨水井盖"), ("0105", "电力井盖"), ("0201", "停车场"),
            ("0209", "交通标志牌"), ("0301", "公共厕所"), ("0305", "垃圾箱"), ("0402", "行道树"),
            ("0407", "街头座椅"), ("0501", "宣传栏")]


def _places(rng: np.random.Generator, nx_streets: int, ny_streets: int, *, x0: float, y0: float
            ) -> tuple[list[dict], list[dict], list[dict]]:
    """Rows of the streets (2 x 1.5 km), their 500 m communities and their 100 m cells, coded per DB11/T 2157."""
    sw, sh, cs, cell = 2000.0, 1500.0, 500.0, 100.0
    streets, comms, cells = [], [], []
    for sj in range(ny_streets):
        for si in range(nx_streets):
            s_no = sj * nx_streets + si + 1
            s_code = f"110101{s_no:03d}"
            sx, sy = x0 + si * sw, y0 + (ny_streets - 1 - sj) * sh
            streets.append({"code": s_code, "district_code": "110101", "name": f"示范{s_no}街道", "zone": "core",
                            "geometry": shapely.box(sx, sy, sx + sw, sy + sh)})
            c_no = 0
            for cj in range(int(sh // cs)):
                for ci in range(int(sw // cs)):
                    c_no += 1
                    c_code = f"{s_code}{c_no:03d}"
                    cx, cy = sx + ci * cs, sy + sh - (cj + 1) * cs
                    hh = int(rng.choice([600, 1500, 2500, 3500, 5600]) + rng.integers(-200, 200))
                    comms.append({"code": c_code, "street_code": s_code, "name": f"示范{s_no}-{c_no}社区",
                                  "households": hh, "population": int(hh * 2.3),
                                  "geometry": shapely.box(cx, cy, cx + cs, cy + cs)})
                    seq = 0
                    for kj in range(int(cs // cell)):          # north to south
                        for ki in range(int(cs // cell)):      # west to east
                            seq += 1
                            bx, by = cx + ki * cell, cy + cs - (kj + 1) * cell
                            cells.append({"code": f"{c_code}{seq:03d}", "community_code": c_code,
                                          "ix": int((bx - x0) // cell), "iy": int((by - y0) // cell),
                                          "area_m2": cell * cell, "street_code": s_code,
                                          "geometry": shapely.box(bx, by, bx + cell, by + cell)})
    return streets, comms, cells


def _components(rng: np.random.Generator, streets: list[dict], components_per_street: int) -> pd.DataFrame:
    """Components: uniform per street, class drawn from the catalog sample (``x``/``y`` columns)."""
    comp_rows = []
    serial: dict[str, int] = {}
    for s in streets:
        bx0, by0, bx1, by1 = s["geometry"].bounds
        n = components_per_street
        xs, ys = rng.uniform(bx0, bx1, n), rng.uniform(by0, by1, n)
        cls = rng.integers(0, len(_CLASSES), n)
        for x, y, k in zip(xs, ys, cls):
            cc, name = _CLASSES[k]
            serial[cc] = serial.get(cc, 0) + 1
            comp_rows.append((f"{cc}{serial[cc]:04d}", cc, cc[:2], name, s["code"], x, y))
    return pd.DataFrame(comp_rows, columns=["code", "class_code", "major", "name", "street_code", "x", "y"])


def _complaint_points(rng: np.random.Generator, streets: list[dict], complaints_per_street: int) -> pd.DataFrame:
    """Complaint positions: clustered around a few centres per street plus background."""
    pts = []
    for s in streets:
        bx0, by0, bx1, by1 = s["geometry"].bounds
        n = complaints_per_street
        centres = np.column_stack([rng.uniform(bx0, bx1, 4), rng.uniform(by0, by1, 4)])
        k = rng.integers(0, 4, n)
        xy = centres[k] + rng.normal(0, 150, (n, 2))
        bg = rng.random(n) < 0.3
        xy[bg] = np.column_stack([rng.uniform(bx0, bx1, bg.sum()), rng.uniform(by0, by1, bg.sum())])
        xy[:, 0] = np.clip(xy[:, 0], bx0, bx1 - 1e-6)
        xy[:, 1] = np.clip(xy[:, 1], by0, by1 - 1e-6)
        pts.append(pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "street_code": s["code"]}))
    return pd.concat(pts, ignore_index=True)


def _hot_spots_and_alerts(rng: np.random.Generator, cells_g: gpd.GeoDataFrame, cats: np.ndarray
                          ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Hot spots on 40 random cells, and alerts on the first eight of them."""
    hot_idx = rng.choice(len(cells_g), size=min(40, len(cells_g)), replace=False)
    hot = cells_g.iloc[hot_idx][["code", "geometry"]].rename(columns={"code": "cell_code"}).reset_index(drop=True)
    hot["category"] = cats[rng.integers(0, len(cats), len(hot))]
    hot["pattern"] = np.array(["new", "intensifying", "persistent"])[rng.integers(0, 3, len(hot))]
    hot["z"] = rng.uniform(2.0, 5.0, len(hot))
    hot["count"] = rng.integers(1, 40, len(hot))
    al = hot.iloc[: min(8, len(hot))][["cell_code", "category", "count", "geometry"]].copy()
    al["level"] = np.array(["red", "orange", "yellow"])[np.arange(len(al)) % 3]
    al["message"] = "近7天诉求激增 surge in last 7 days"
    al["count"] = np.maximum(al["count"], 5)
    return hot, al


def _proposals(comm_g: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    """Two split proposals (west/east, north/south) of the community with the most households."""
    big = comm_g.sort_values("households", ascending=False).iloc[0]
    bx0, by0, bx1, by1 = big.geometry.bounds
    mx, my = (bx0 + bx1) / 2, (by0 + by1) / 2
    prop = gpd.GeoDataFrame(
        {"proposal": ["A", "A", "B", "B"], "code": ["new-1", "new-2", "new-1", "new-2"],
         "name": ["西 west", "东 east", "北 north", "南 south"],
         "households": [big.households // 2, big.households - big.households // 2] * 2,
         "parent_code": [big.code] * 4},
        geometry=[shapely.box(bx0, by0, mx, by1), shapely.box(mx, by0, bx1, by1),
                  shapely.box(bx0, my, bx1, by1), shapely.box(bx0, by0, bx1, my)], crs=crs)
    return prop


def sample_layers(*, nx_streets: int = 3, ny_streets: int = 3, components_per_street: int = 10_000,
                  complaints_per_street: int = 50_000, payloads: bool = False, seed: int = 7,
                  crs: str = "EPSG:4548") -> dict[str, Any]:
    """Frames ``districts, streets, communities, cells, components, complaints, hotspots, alerts, proposals``."""
    rng = np.random.default_rng(seed)
    x0, y0 = 445_000.0, 4_417_000.0
    streets, comms, cells = _places(rng, nx_streets, ny_streets, x0=x0, y0=y0)
    streets_g = gpd.GeoDataFrame(streets, crs=crs)
    comm_g = gpd.GeoDataFrame(comms, crs=crs)
    cells_g = gpd.GeoDataFrame(cells, crs=crs)
    if payloads:
        comm_g.loc[0, "name"] = PAYLOADS[0]
        comm_g.loc[1, "name"] = PAYLOADS[2]
        cells_g.loc[0, "community_code"] = PAYLOADS[3]

    comp = _components(rng, streets, components_per_street)
    comps_g = gpd.GeoDataFrame(comp.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(comp.x, comp.y), crs=crs)
    if payloads:
        comps_g.loc[0, "name"] = PAYLOADS[1]

    cp = _complaint_points(rng, streets, complaints_per_street)
    cats = np.array(["噪音扰民 noise", "垃圾清运 garbage", "违章停车 parking", "供暖 heating"])
    cp["category"] = cats[rng.integers(0, len(cats), len(cp))]
    cp["text"] = "反映" + cp["category"]
    cp["source_id"] = [f"S{i:08d}" for i in range(len(cp))]
    if payloads:
        cp.loc[0, "text"] = f"{PAYLOADS[0]} 我的电话 {PII[0]} 身份证 {PII[1]} 座机 {PII[2]}"
        cp.loc[1, "text"] = PAYLOADS[1]
    compl_g = gpd.GeoDataFrame(cp.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(cp.x, cp.y), crs=crs)

    hot, al = _hot_spots_and_alerts(rng, cells_g, cats)
    if payloads:
        hot.loc[0, "category"] = PAYLOADS[1]
        al.loc[al.index[0], "message"] = f"{PAYLOADS[0]} 联系 {PII[0]}，{PII[1]}"

    prop = _proposals(comm_g, crs)
    if payloads:
        prop.loc[0, "name"] = PAYLOADS[0]
    district = gpd.GeoDataFrame({"code": ["110101"], "name": ["示范区"]},
                                geometry=[shapely.union_all(streets_g.geometry.values)], crs=crs)
    return {"districts": district, "streets": streets_g, "communities": comm_g, "cells": cells_g,
            "components": comps_g, "complaints": compl_g, "hotspots": hot, "alerts": al, "proposals": prop}
