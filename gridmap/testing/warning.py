"""A small synthetic complaint generator with planted anomalies, for tests and benchmarks (not the 示范区
generator of :mod:`gridmap.demo`).

Background complaints are Poisson in space (a smooth population surface) and time (weekly, with a rainy-season
bump for 漏雨/渗水 in June-August and a heating bump from 15 November). Anomalies are clusters of extra
complaints of one category/keyword starting at an onset date and lasting ``days``.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.grid.lattice import Lattice

__all__ = ["SyntheticDistrict", "TEXTS", "make_cells", "generate", "default_anomalies"]

TEXTS = {
    "房屋漏雨": ["屋顶漏雨，雨天严重", "墙面渗水发霉", "楼顶防水层破损漏雨", "阳台渗水"],
    "交通": ["外卖电动车乱停放堵塞胡同", "饭点外卖车辆占道", "机动车违停"],
    "噪音": ["夜间施工噪音", "广场舞噪音扰民"],
    "市容环境": ["垃圾清运不及时", "小广告乱贴"],
    "供暖": ["暖气不热", "供暖温度不达标"],
    "物业": ["物业不作为", "电梯故障"],
    "市政设施": ["路灯不亮", "井盖破损"],
    "其他": ["咨询政策"],
}


@dataclass
class SyntheticDistrict:
    lattice: Lattice
    cells: gpd.GeoDataFrame
    complaints: gpd.GeoDataFrame
    anomalies: pd.DataFrame


def make_cells(lattice: Lattice, *, crs: str = "EPSG:4548", community_size: int = 10) -> gpd.GeoDataFrame:
    ny, nx = lattice.shape
    iy, ix = np.mgrid[0:ny, 0:nx]
    ix, iy = ix.ravel(), iy.ravel()
    c = lattice.cell_size_m
    geom = shapely.box(lattice.x0 + ix * c, lattice.y0 + iy * c, lattice.x0 + (ix + 1) * c, lattice.y0 + (iy + 1) * c)
    comm = (iy // community_size) * ((nx + community_size - 1) // community_size) + ix // community_size
    street = comm // 4
    community_code = np.array([f"110199{s + 1:03d}{k + 1:03d}" for s, k in zip(street, comm)])
    seq = pd.Series(np.arange(len(ix))).groupby(community_code).cumcount().to_numpy() + 1
    code = np.array([f"{cc}{q:03d}" for cc, q in zip(community_code, seq)])
    return gpd.GeoDataFrame({"code": code, "community_code": community_code, "street_code":
                             [cc[:9] for cc in community_code], "ix": ix, "iy": iy, "area_m2": c * c},
                            geometry=geom, crs=crs)


def generate(*, nx: int = 40, ny: int = 30, cell_size_m: float = 100.0, start: str = "2022-01-01",
             end: str = "2024-09-01", per_day: float = 60.0, seed: int = 0,
             anomalies: list[dict] | None = None) -> SyntheticDistrict:
    rng = np.random.default_rng(seed)
    lat = Lattice(440000.0, 4420000.0, cell_size_m, nx, ny)
    cells = make_cells(lat)
    days = pd.date_range(start, end, freq="D", inclusive="left")
    # smooth population surface
    cx, cy = lat.centres()
    pop = 0.3 + np.exp(-(((cx - cx.mean()) / (0.35 * nx * cell_size_m)) ** 2 +
                         ((cy - cy.mean()) / (0.35 * ny * cell_size_m)) ** 2))
    pop = (pop / pop.sum()).ravel()
    cats = list(TEXTS)
    base_mix = np.array([0.10, 0.20, 0.12, 0.18, 0.08, 0.14, 0.10, 0.08])
    frames = []
    for d in days:
        m = d.month
        mix = base_mix.copy()
        if m in (6, 7, 8):
            mix[0] *= 3.0
        if (m == 11 and d.day >= 15) or m in (12, 1, 2) or (m == 3 and d.day <= 15):
            mix[4] *= 3.0
        mix /= mix.sum()
        n = rng.poisson(per_day * (1.3 if m in (6, 7, 8) else 1.0))
        k = rng.choice(len(pop), size=n, p=pop)
        frames.append((d, k, rng.choice(len(cats), size=n, p=mix)))
    t = np.concatenate([np.full(len(k), d.value) + rng.integers(0, 86_400_000_000_000, len(k)) for d, k, _ in frames])
    cell = np.concatenate([k for _, k, _ in frames])
    cat = np.concatenate([c for _, _, c in frames])
    iy, ix = np.divmod(cell, nx)
    x = lat.x0 + (ix + rng.uniform(size=len(ix))) * cell_size_m
    y = lat.y0 + (iy + rng.uniform(size=len(iy))) * cell_size_m
    cat_names = np.array(cats, dtype=object)[cat]
    if anomalies is None:
        anomalies = default_anomalies(lat, start=start, end=end)
    extra = []
    for a in anomalies:
        nd = int(a["days"])
        for i in range(nd):
            day = pd.Timestamp(a["onset"]) + pd.Timedelta(days=i)
            if day >= pd.Timestamp(end):
                break
            n = rng.poisson(a["per_day"])
            r = a["radius_m"] * np.sqrt(rng.uniform(size=n))
            th = rng.uniform(0, 2 * np.pi, n)
            extra.append(pd.DataFrame({"t": day.value + rng.integers(0, 86_400_000_000_000, n),
                                       "x": a["x"] + r * np.cos(th), "y": a["y"] + r * np.sin(th),
                                       "category": a["category"], "anomaly": a["id"]}))
    df = pd.DataFrame({"t": t, "x": x, "y": y, "category": cat_names, "anomaly": None})
    if extra:
        df = pd.concat([df, *extra], ignore_index=True)
    df = df.sort_values("t", kind="stable").reset_index(drop=True)
    df["received_at"] = pd.to_datetime(df.pop("t"))
    df["text"] = [TEXTS[c][i % len(TEXTS[c])] for i, c in enumerate(df["category"])]
    jx = np.clip(np.floor((df["x"] - lat.x0) / cell_size_m).astype(int), 0, nx - 1)
    jy = np.clip(np.floor((df["y"] - lat.y0) / cell_size_m).astype(int), 0, ny - 1)
    codes = cells.set_index(["ix", "iy"])
    key = pd.MultiIndex.from_arrays([jx, jy])
    df["cell_code"] = codes["code"].reindex(key).to_numpy()
    df["community_code"] = codes["community_code"].reindex(key).to_numpy()
    df["street_code"] = codes["street_code"].reindex(key).to_numpy()
    df["source_id"] = [f"S{i:08d}" for i in range(len(df))]
    df["address"] = [f"示范区{c[-6:-3]}社区{(i % 7) + 1}号楼" for i, c in enumerate(df["cell_code"])]
    closed = rng.uniform(size=len(df)) < 0.85
    df["status"] = np.where(closed, "办结", "处理中")
    df["closed_at"] = df["received_at"].where(closed) + pd.Timedelta(days=3)
    gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs="EPSG:4548")
    an = pd.DataFrame(anomalies)
    an["onset"] = pd.to_datetime(an["onset"])
    return SyntheticDistrict(lat, cells, gdf, an)


def default_anomalies(lat: Lattice, *, start: str, end: str) -> list[dict]:
    c = lat.cell_size_m
    w, h = lat.nx * c, lat.ny * c
    t1 = pd.Timestamp(end)
    return [
        {"id": 1, "kind": "leak cluster", "category": "房屋漏雨", "keyword": "漏雨", "onset": t1 - pd.Timedelta(days=70),
         "days": 40, "per_day": 2.0, "x": lat.x0 + 0.2 * w, "y": lat.y0 + 0.3 * h, "radius_m": 150.0},
        {"id": 2, "kind": "delivery bikes (堂子胡同)", "category": "交通", "keyword": "外卖",
         "onset": t1 - pd.Timedelta(days=45), "days": 45, "per_day": 2.5, "x": lat.x0 + 0.7 * w,
         "y": lat.y0 + 0.6 * h, "radius_m": 100.0},
        {"id": 3, "kind": "noise", "category": "噪音", "keyword": "噪音", "onset": t1 - pd.Timedelta(days=120),
         "days": 30, "per_day": 2.0, "x": lat.x0 + 0.5 * w, "y": lat.y0 + 0.85 * h, "radius_m": 120.0},
    ]
