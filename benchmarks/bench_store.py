"""Load 1,000,000 points and 160,000 polygons into each backend: gridmap's bulk path vs the baselines.

Baselines (same data, same target table with the same indexes, same run):
  * SQLite/SpatiaLite: plain SQLAlchemy Core ``insert()`` executemany with GeoAlchemy2 ``WKBElement`` values.
  * PostGIS: ``GeoDataFrame.to_postgis(if_exists='append')``.
Goals: SQLite >= 30,000 rows/s; PostGIS >= 2x to_postgis.

Usage:  python benchmarks/bench_store.py [--quick] [--postgis URL]
        (PostGIS URL also from $GRIDMAP_BENCH_POSTGIS_URL; without one the PostGIS rows are skipped, said so.)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import machine, run_case  # noqa: E402


def make_points(n: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(1)
    x = rng.uniform(430000, 470000, n)
    y = rng.uniform(4400000, 4440000, n)
    t = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365 * 86400, n), unit="s")
    cats = np.array(["供暖", "房屋漏雨", "噪音扰民", "交通停车", "市容环境"])[rng.integers(0, 5, n)]
    return gpd.GeoDataFrame({"source_id": [f"B{i:09d}" for i in range(n)], "received_at": t, "category": cats,
                             "text": "小区暖气不热，请尽快处理"}, geometry=shapely.points(x, y), crs="EPSG:4548")


def make_polygons(n: int) -> gpd.GeoDataFrame:
    side = int(np.ceil(np.sqrt(n)))
    ix, iy = np.divmod(np.arange(n), side)
    x0 = 430000 + ix * 100.0
    y0 = 4400000 + iy * 100.0
    return gpd.GeoDataFrame({"code": [f"110199001{i // 999 % 1000:03d}{i % 999 + 1:03d}" for i in range(n)],
                             "community_code": "110199001001", "ix": ix, "iy": iy, "area_m2": 10000.0},
                            geometry=shapely.multipolygons(shapely.box(x0, y0, x0 + 100, y0 + 100)[:, None]),
                            crs="EPSG:4548")


def _fresh(url: str):
    from gridmap.store import open_store

    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        if os.path.exists(path):
            os.remove(path)
        return open_store(url)
    s = open_store(url)
    with s.engine.begin() as conn:
        for layer in ("complaints", "cells"):
            conn.exec_driver_sql(f'TRUNCATE "{layer}"')
    return s


def ours(url: str, layer: str, frame: gpd.GeoDataFrame) -> dict:
    import time

    s = _fresh(url)
    t0 = time.perf_counter()
    s.write(layer, frame)
    dt = time.perf_counter() - t0
    assert s.count(layer) == len(frame)
    s.close()
    return {"seconds": dt}


def core_insert(url: str, layer: str, frame: gpd.GeoDataFrame) -> dict:
    import time

    from geoalchemy2 import WKBElement

    s = _fresh(url)
    t = s.table(layer)
    cols = [c for c in frame.columns if c != "geometry"]
    t0 = time.perf_counter()
    recs = frame[cols].to_dict("records")
    for r, g in zip(recs, shapely.to_wkb(frame.geometry.values)):
        for k, v in r.items():
            if isinstance(v, pd.Timestamp):
                r[k] = v.to_pydatetime()
            elif isinstance(v, np.generic):
                r[k] = v.item()
        r["geom"] = WKBElement(g, srid=s.srid)
    with s.engine.begin() as conn:
        conn.execute(t.insert(), recs)
    dt = time.perf_counter() - t0
    assert s.count(layer) == len(frame)
    s.close()
    return {"seconds": dt}


def to_postgis(url: str, layer: str, frame: gpd.GeoDataFrame) -> dict:
    import time

    s = _fresh(url)
    t0 = time.perf_counter()
    frame.rename_geometry("geom").to_postgis(layer, s.engine, if_exists="append", index=False)
    dt = time.perf_counter() - t0
    assert s.count(layer) == len(frame)
    s.close()
    return {"seconds": dt}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100k points / 16k polygons")
    ap.add_argument("--postgis", default=os.environ.get("GRIDMAP_BENCH_POSTGIS_URL"))
    a = ap.parse_args()
    n_pts, n_poly = (100_000, 16_000) if a.quick else (1_000_000, 160_000)
    data = {"complaints": make_points(n_pts), "cells": make_polygons(n_poly)}
    tmp = tempfile.mkdtemp(prefix="gridmap-bench-")
    backends = [("SpatiaLite", f"sqlite:///{tmp}/bench.sqlite", core_insert, "SQLAlchemy Core insert")]
    if a.postgis:
        backends.append(("PostGIS", a.postgis, to_postgis, "GeoDataFrame.to_postgis"))
    print(f"# store bulk load — {machine()}")
    print("peak MiB = the loader's peak RSS above what the forked child already held (the input frame)")
    print(f"{'backend':<11} {'layer':<11} {'rows':>9} {'ours rows/s':>12} {'peak MiB':>9} "
          f"{'baseline':<24} {'base rows/s':>12} {'peak MiB':>9} {'ratio':>6}")
    verdicts = []
    for name, url, base, base_name in backends:
        for layer, frame in data.items():
            _, t_ours, m_ours = run_case(ours, url, layer, frame, above_fork=True)
            _, t_base, m_base = run_case(base, url, layer, frame, above_fork=True)
            n = len(frame)
            print(f"{name:<11} {layer:<11} {n:>9,} {n / t_ours:>12,.0f} {m_ours:>9.0f} {base_name:<24} "
                  f"{n / t_base:>12,.0f} {m_base:>9.0f} {t_base / t_ours:>5.1f}x", flush=True)
            if name == "SpatiaLite":
                verdicts.append((f"SpatiaLite {layer} >= 30,000 rows/s", n / t_ours >= 30_000))
            else:
                verdicts.append((f"PostGIS {layer} >= 2x to_postgis", t_base / t_ours >= 2.0))
    if not a.postgis:
        print("PostGIS: skipped (no --postgis URL / $GRIDMAP_BENCH_POSTGIS_URL; scripts/postgis.sh start gives one)")
    for goal, ok in verdicts:
        print(f"goal {goal}: {'met' if ok else 'NOT met'}" + (" (quick sizes)" if a.quick else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
