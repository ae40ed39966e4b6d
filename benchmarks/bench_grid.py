"""Unit grid benchmarks, ours against the named baseline in the same run.

(a) assign 1 M and 10 M points over a 40 km x 40 km area (~1,000 Voronoi communities, 100 m cells) to cells:
    ``gridmap.grid.assign_points`` vs ``geopandas.sjoin`` (predicate 'intersects'), both one-shot on a fresh cells
    layer (our index build and sjoin's STRtree build included) and in the steady state (the next batch of as many
    points, our index and sjoin's cached spatial index already built). On 10 M points sjoin is run on a 2 M sample
    and scaled, which the table says.
    Goal: >= 10x sjoin and >= 5 M points/s.
(b) ``build_cells`` for 1,600 km^2 cut by ~1,000 communities: seconds and peak RSS. Goal < 60 s, < 4 GiB.
(c) ``locate`` on 1,000,000 stored components per backend: p50 / p99 of 1,000 random lookups (the Python API call
    returning a GeoDataFrame, and the indexed SQL lookup alone). Goal p99 < 5 ms. PostGIS from
    $GRIDMAP_BENCH_POSTGIS_URL (or --postgis), skipped with a message otherwise.

Each case runs in a forked child; memory is that child's peak RSS (ru_maxrss).

Usage:  python benchmarks/bench_grid.py [--quick] [--postgis URL]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import machine, run_case  # noqa: E402

AREA = (430_000.0, 4_400_000.0, 470_000.0, 4_440_000.0)  # 40 km x 40 km in EPSG:4548


def communities(n: int, bounds=AREA):
    from gridmap.testing.grid import voronoi_communities

    return voronoi_communities(n, bounds=bounds, seed=7, district_code="110199", per_street=40, wiggle_m=5.0)


def case_build(n_comm: int, bounds) -> dict:
    comm = communities(n_comm, bounds)
    from gridmap.grid import build_cells

    t0 = time.perf_counter()
    cells = build_cells(comm)
    return {"seconds": time.perf_counter() - t0, "cells": len(cells)}


def _points(n: int, bounds, seed: int = 1):
    rng = np.random.default_rng(seed)
    return rng.uniform(bounds[0], bounds[2], n), rng.uniform(bounds[1], bounds[3], n)


def _cells(n_comm: int, bounds):
    from gridmap.grid import build_cells

    return build_cells(communities(n_comm, bounds))


def case_ours(n_comm: int, bounds, n: int, engine: str = "auto") -> dict:
    from gridmap.grid import CellIndex, assign_points
    from gridmap.grid.assign import default_threads

    cells = _cells(n_comm, bounds)
    x, y = _points(n, bounds)
    t0 = time.perf_counter()
    idx = CellIndex(cells, engine=engine)
    t1 = time.perf_counter()
    res = assign_points((x, y), idx, warn=False)
    t2 = time.perf_counter()
    codes = res.codes  # the code strings, built on first access (sjoin's result carries them too)
    t3 = time.perf_counter()
    # steady state: the next batch of as many points through the same index (as an import of many batches uses
    # it), on all threads and on one
    x2, y2 = _points(n, bounds, seed=2)
    t4 = time.perf_counter()
    again = assign_points((x2, y2), idx, warn=False)
    t5 = time.perf_counter()
    assign_points((x2, y2), idx, warn=False)  # (may have built the sub-square level: steady from here)
    t5b = time.perf_counter()
    idx.threads = 1
    t6 = time.perf_counter()
    one = assign_points((x2, y2), idx, warn=False)
    t7 = time.perf_counter()
    assert (one.cell == again.cell).all()
    return {"seconds": t2 - t0, "build": t1 - t0, "lookup": t2 - t1, "codes": t3 - t2, "assigned": res.n_assigned,
            "next": t5 - t4, "warm": t5b - t5, "warm_1": t7 - t6, "threads": default_threads(),
            "cells": res.cell[:200_000], "n_codes": int(codes.notna().sum())}


def case_sjoin(n_comm: int, bounds, n: int, m: int) -> dict:
    import geopandas as gpd

    cells = _cells(n_comm, bounds)[["code", "geometry"]]
    x, y = _points(n, bounds)
    x, y = x[:m], y[:m]  # the same points as ours (a prefix when sampled)
    t0 = time.perf_counter()
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=cells.crs)
    j = gpd.sjoin(pts, cells, predicate="intersects", how="left")
    dt = time.perf_counter() - t0
    j = j[~j.index.duplicated()]
    # steady state: the next batch, with the cells' spatial index (cached on the frame by geopandas) already built
    x2, y2 = _points(n, bounds, seed=2)
    x2, y2 = x2[:m], y2[:m]
    t1 = time.perf_counter()
    pts2 = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x2, y2), crs=cells.crs)
    gpd.sjoin(pts2, cells, predicate="intersects", how="left")
    warm = time.perf_counter() - t1
    return {"seconds": dt, "warm": warm, "codes": j["code"].to_numpy(dtype=object)[:200_000]}


def _fresh_store(url: str):
    from gridmap.store import open_store

    if url.startswith("postgresql"):
        from sqlalchemy import create_engine, text
        from urllib.parse import quote

        from gridmap.store.postgis import normalise_url

        schema = "bench_grid_" + uuid.uuid4().hex[:8]
        eng = create_engine(normalise_url(url))
        with eng.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        eng.dispose()
        sep = "&" if "?" in url else "?"
        return open_store(f"{url}{sep}options={quote(f'-csearch_path={schema},public')}", crs="EPSG:4548"), schema
    return open_store(url, crs="EPSG:4548"), None


def case_locate(url: str, n: int, lookups: int) -> dict:
    import geopandas as gpd
    from sqlalchemy import text

    from gridmap.store.components import locate, nearest_components
    from gridmap.crs import to_wgs84_xy

    store, schema = _fresh_store(url)
    try:
        rng = np.random.default_rng(3)
        classes = np.array(["0101", "0102", "0103", "0105", "0107", "0111", "0203", "0301", "0305", "0402",
                            "0601", "0602"])
        cls = classes[np.arange(n) % len(classes)]
        serial = np.arange(n) // len(classes) + 1
        # 1 M components in one district would overflow 9,999 per class: spread them over districts
        district = np.array([f"1101{(s - 1) // 9999 + 1:02d}" for s in serial])
        serial = (serial - 1) % 9999 + 1
        code = np.char.add(cls, np.char.zfill(serial.astype(str), 4))
        x, y = _points(n, (440_000, 4_410_000, 460_000, 4_430_000), seed=5)
        # 400 communities of 1 km² in 10 streets, so the lookup's joins (community and street names) hit real rows
        import shapely

        ci = np.clip(((x - 440_000) // 1000).astype(int), 0, 19)
        cj = np.clip(((y - 4_410_000) // 1000).astype(int), 0, 19)
        k = cj * 20 + ci
        comm_codes = np.array([f"110101{q // 40 + 1:03d}{q % 40 + 1:03d}" for q in range(400)])
        qi, qj = np.arange(400) % 20, np.arange(400) // 20
        boxes = shapely.box(440_000 + qi * 1000, 4_410_000 + qj * 1000, 441_000 + qi * 1000, 4_411_000 + qj * 1000)
        streets = gpd.GeoDataFrame(
            {"code": [f"110101{t + 1:03d}" for t in range(10)], "district_code": "110101",
             "name": [f"示范街道{t + 1}" for t in range(10)]},
            geometry=[shapely.multipolygons(shapely.get_parts(shapely.union_all(boxes[t * 40:(t + 1) * 40])))
                      for t in range(10)], crs="EPSG:4548")
        communities = gpd.GeoDataFrame(
            {"code": comm_codes, "street_code": [c[:9] for c in comm_codes],
             "name": [f"示范社区{q + 1}" for q in range(400)], "households": 1500},
            geometry=[shapely.MultiPolygon([b]) for b in boxes], crs="EPSG:4548")
        store.write("streets", streets)
        store.write("communities", communities)
        frame = gpd.GeoDataFrame({"code": code, "district_code": district,
                                  "community_code": comm_codes[k],
                                  "street_code": np.array([c[:9] for c in comm_codes])[k],
                                  "national_id": np.char.add(np.char.add(district, cls),
                                                             np.char.zfill(serial.astype(str), 6)),
                                  "class_code": cls, "major": np.char.ljust(cls, 2).astype("U2"), "serial": serial,
                                  "status": "完好", "dept": "城管委"},
                                 geometry=gpd.points_from_xy(x, y), crs="EPSG:4548")
        t0 = time.perf_counter()
        store.write("components", frame)
        load = time.perf_counter() - t0
        if store.backend == "postgis":  # steady state of a stored table: vacuumed and analysed after the bulk load
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE components"))
        del frame  # a CLI process does not hold a million Python objects while it looks up
        import gc

        gc.collect()
        pick = rng.integers(0, n, lookups)
        api, raw, near = [], [], []
        sql = text("SELECT code, class_code, status, cell_code FROM components WHERE district_code = :d AND code = :c")
        with store.engine.connect() as conn:
            for i in pick[:50]:  # warm-up
                conn.execute(sql, {"d": district[i], "c": code[i]}).fetchall()
            for i in pick:
                t = time.perf_counter()
                rows = conn.execute(sql, {"d": district[i], "c": code[i]}).fetchall()
                raw.append(time.perf_counter() - t)
                assert len(rows) == 1
        for i in pick:
            t = time.perf_counter()
            got = locate(store, str(code[i]), district_code=str(district[i]))
            api.append(time.perf_counter() - t)
            assert got["code"].iloc[0] == code[i]
            assert got["community_name"].iloc[0] == f"示范社区{k[i] + 1}" and isinstance(got["street_name"].iloc[0], str)
        for i in pick[: max(lookups // 5, 20)]:
            lon, lat = to_wgs84_xy([x[i] + 3.0], [y[i] + 3.0])
            t = time.perf_counter()
            nearest_components(store, float(lon[0]), float(lat[0]), k=5)
            near.append(time.perf_counter() - t)
        q = lambda v: (float(np.percentile(v, 50)) * 1e3, float(np.percentile(v, 99)) * 1e3)  # noqa: E731
        return {"seconds": load, "raw": q(raw), "api": q(api), "nearest": q(near)}
    finally:
        store.close()
        if schema:
            from sqlalchemy import create_engine, text as t2

            from gridmap.store.postgis import normalise_url

            eng = create_engine(normalise_url(url))
            with eng.begin() as conn:
                conn.execute(t2(f'DROP SCHEMA "{schema}" CASCADE'))
            eng.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run in well under a minute")
    ap.add_argument("--postgis", default=os.environ.get("GRIDMAP_BENCH_POSTGIS_URL"))
    ap.add_argument("--only", default="assign,build,locate")
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    only = set(a.only.split(","))
    print(f"bench_grid · {machine()} · load average {os.getloadavg()[0]:.2f} (2 cores shared: compare ratios)")
    if a.quick:
        n_comm, bounds, sizes, sj_cap, n_comp, lookups = 60, (430_000, 4_400_000, 440_000, 4_410_000), \
            [100_000], 100_000, 20_000, 200
    else:
        n_comm, bounds, sizes, sj_cap, n_comp, lookups = 1000, AREA, [1_000_000, 10_000_000], 2_000_000, \
            1_000_000, 1000
    area_km2 = (bounds[2] - bounds[0]) * (bounds[3] - bounds[1]) / 1e6
    if "build" in only:
        print(f"\n(b) build_cells: {area_km2:,.0f} km², {n_comm} communities, 100 m lattice")
        out, dt, rss = run_case(case_build, n_comm, bounds)
        print(f"  {'cells':>10} {'seconds':>9} {'peak RSS MiB':>13}   goal < 60 s, < 4096 MiB")
        print(f"  {out['cells']:>10,} {dt:>9.2f} {rss:>13.0f}")
        print(f"  goal (b) (< 60 s, < 4 GiB): {'met' if dt < 60 and rss < 4096 else 'NOT met'}"
              + (" (quick sizes)" if a.quick else ""))
    if "assign" in only:
        print(f"\n(a) assign points to cells over {area_km2:,.0f} km² ({n_comm} communities): ours vs geopandas.sjoin")
        from gridmap.grid.assign import ENGINES

        print("  one-shot: a fresh cells layer (ours: CellIndex build + assign_points; sjoin: builds its STRtree); "
              f"engines on this install: {', '.join(ENGINES)} (the first is the default)")
        print(f"  {'points':>11} {'ours s':>8} {'(index':>8} {'lookup)':>8} {'ours pts/s':>12} {'sjoin s':>9} "
              f"{'sjoin pts/s':>12} {'ratio':>7} {'+codes s':>9} {'ratio w/ codes':>15} "
              f"{'ours MiB':>9} {'sjoin MiB':>10}  agree")
        steady, verdicts = [], []
        layer_codes = _cells(n_comm, bounds)["code"].to_numpy(dtype=object)  # codes of our positions (agreement)
        for n in sizes:
            o, dt_o, rss_o = run_case(case_ours, n_comm, bounds, n)
            m = min(n, sj_cap)
            s, dt_s, rss_s = run_case(case_sjoin, n_comm, bounds, n, m)
            scaled = dt_s * n / m
            k = min(len(o["cells"]), len(s["codes"]))
            ours_codes = np.where(o["cells"][:k] >= 0, layer_codes[np.maximum(o["cells"][:k], 0)], None)
            theirs = s["codes"][:k]
            agree = np.mean([(a_ == b_) or (a_ is None and not isinstance(b_, str)) for a_, b_ in zip(ours_codes, theirs)])
            note = "" if m == n else f"  (sjoin on {m:,} points, time scaled x{n / m:g})"
            print(f"  {n:>11,} {dt_o:>8.2f} {o['build']:>8.2f} {o['lookup']:>8.2f} {n / dt_o:>12,.0f} {scaled:>9.2f} "
                  f"{n / scaled:>12,.0f} {scaled / dt_o:>6.1f}x {o['codes']:>9.2f} "
                  f"{scaled / (dt_o + o['codes']):>14.1f}x {rss_o:>9.0f} "
                  f"{rss_s:>10.0f}  {agree:.4%}{note}")
            steady.append((n, o, s["warm"] * n / m, note))
            verdicts.append((f"one-shot {n:,}", scaled / dt_o >= 10 and n / dt_o >= 5e6))
            if "c" in ENGINES:  # the numpy engine alone, for comparison (same answers, tested)
                p, dt_p, rss_p = run_case(case_ours, n_comm, bounds, n, "numpy")
                print(f"  {'':>11} {dt_p:>8.2f} {p['build']:>8.2f} {p['lookup']:>8.2f} {n / dt_p:>12,.0f} {'':>9} "
                      f"{'':>12} {scaled / dt_p:>6.1f}x {'':>9} {'':>15} {rss_p:>9.0f} {'':>10}  "
                      f"{np.mean(p['cells'][:k] == o['cells'][:k]):.4%} of the kernel's  (numpy engine)")
        print("  steady state: more batches of as many points on the same cells layer (ours: the index built once, "
              "'next' = the first such batch, then the same again; sjoin: its spatial index cached on the frame)")
        print(f"  {'points':>11} {'next s':>8} {'ours s':>8} {'ours pts/s':>12} {'1 thread s':>11} {'1 thr pts/s':>12} "
              f"{'sjoin s':>9} {'ratio':>7} {'ratio 1 thr':>12}")
        for n, o, warm_s, note in steady:
            verdicts.append((f"steady {n:,}", warm_s / o["warm"] >= 10 and n / o["warm"] >= 5e6))
            print(f"  {n:>11,} {o['next']:>8.3f} {o['warm']:>8.3f} {n / o['warm']:>12,.0f} {o['warm_1']:>11.3f} "
                  f"{n / o['warm_1']:>12,.0f} {warm_s:>9.2f} {warm_s / o['warm']:>6.1f}x {warm_s / o['warm_1']:>11.1f}x"
                  f"{note}")
        print(f"  goal: >= 10x sjoin and >= 5,000,000 points/s. Lookups use {steady[0][1]['threads']} thread(s) "
              "($GRIDMAP_THREADS; the '1 thread' columns use one); sjoin uses one. 'lookup' = assignment with the "
              "index just built; '+codes' = materialising every point's code string (PointAssignment.codes, built "
              "on first access)")
        print("  goal (a) (>= 10x sjoin and >= 5 M points/s): "
              + ", ".join(f"{k} {'met' if ok else 'NOT met'}" for k, ok in verdicts)
              + (" (quick sizes)" if a.quick else ""))
    if "locate" in only:
        print(f"\n(c) locate on {n_comp:,} stored components ({lookups} random lookups; ms)")
        backends = [("SpatiaLite", None)]
        if a.postgis:
            backends.append(("PostGIS", a.postgis))
        print(f"  {'backend':<11} {'load s':>7} {'SQL p50':>8} {'SQL p99':>8} {'locate p50':>11} {'locate p99':>11} "
              f"{'nearest p50':>12} {'nearest p99':>12} {'MiB':>6}")
        p99 = []
        with tempfile.TemporaryDirectory() as tmp:
            for name, url in backends:
                url = url or f"sqlite:///{tmp}/bench.sqlite"
                out, dt, rss = run_case(case_locate, url, n_comp, lookups)
                print(f"  {name:<11} {dt:>7.1f} {out['raw'][0]:>8.2f} {out['raw'][1]:>8.2f} {out['api'][0]:>11.2f} "
                      f"{out['api'][1]:>11.2f} {out['nearest'][0]:>12.2f} {out['nearest'][1]:>12.2f} {rss:>6.0f}")
                p99.append((name, out["api"][1]))
        if not a.postgis:
            print("  PostGIS: skipped (no --postgis URL / $GRIDMAP_BENCH_POSTGIS_URL; scripts/postgis.sh start gives one)")
        print("  goal (c) (locate p99 < 5 ms): " + ", ".join(f"{k} {'met' if v < 5 else 'NOT met'}" for k, v in p99)
              + (" (quick sizes)" if a.quick else ""))
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
