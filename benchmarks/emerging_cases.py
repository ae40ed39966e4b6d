"""The full-period emerging hot-spot case of bench_warning.py: gridmap vs the esda + pymannkendall pipeline.

Data: ``n`` complaints on ``side x side`` cells of 100 m over ``weeks`` weeks: a third uniform background, the
rest in 40 Gaussian clusters whose activity rises, falls, starts late or stops early over the period (so every
kind of category occurs). Both sides start from the same arrays (x, y, time) built in their own process.

Ours: ``space_time_cube`` (a DataFrame with x, y, received_at) -> ``emerging_hot_spots`` (Gi* per slice with the
slice's moments, Mann-Kendall, the 17 categories).

Baseline (what an analyst writes with the usual stack): counts per (week, cell) with a pandas groupby, then per
week ``esda.G_Local(star=True, transform='B', permutations=0)`` on ``libpysal.weights.lat2W`` (queen), then
``pymannkendall.original_test`` on every cell's z series, then ArcGIS's published category rules per cell in
Python. ``mk_sample`` cells (drawn at random) run pymannkendall and the rules when given; that part's time is
extrapolated to every cell (said in the output).

Agreement (same run): the categories of the baseline equal ours at every cell it classified; z equal within
1e-9.
"""

from __future__ import annotations

import time

import numpy as np

CELL = 100.0
X0, Y0 = 440000.0, 4410000.0
T0 = np.datetime64("2025-01-06T00:00:00", "ns")
WEEK_NS = 7 * 86400 * 10**9


def events(n: int, side: int, weeks: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = side * CELL
    k = 40
    cx, cy = rng.uniform(0.1 * w, 0.9 * w, k), rng.uniform(0.1 * w, 0.9 * w, k)
    sd = rng.uniform(150, 800, k)
    a, b = rng.uniform(0.5, 4, k), rng.uniform(0.5, 4, k)          # beta shapes: rising, falling, humped ...
    n_bg = n // 3
    which = rng.integers(0, k, n - n_bg)
    x = np.concatenate([rng.uniform(0, w, n_bg), cx[which] + rng.normal(0, 1, n - n_bg) * sd[which]])
    y = np.concatenate([rng.uniform(0, w, n_bg), cy[which] + rng.normal(0, 1, n - n_bg) * sd[which]])
    u = np.concatenate([rng.uniform(0, 1, n_bg), rng.beta(a[which], b[which])])
    ok = (x >= 0) & (x < w) & (y >= 0) & (y < w)
    t = T0 + (u[ok] * weeks * WEEK_NS).astype(np.int64).astype("timedelta64[ns]")
    return X0 + x[ok], Y0 + y[ok], t


def ours(n: int, side: int, weeks: int) -> dict:
    import pandas as pd

    from gridmap.grid import Lattice
    from gridmap.warning import emerging_hot_spots, space_time_cube

    x, y, t = events(n, side, weeks)
    frame = pd.DataFrame({"x": x, "y": y, "received_at": t})
    del x, y, t
    lat = Lattice(X0, Y0, CELL, side, side)
    end = pd.Timestamp(T0) + pd.Timedelta(weeks=weeks)
    t0 = time.perf_counter()
    cube = space_time_cube(frame, lat, start=pd.Timestamp(T0), end=end, freq="week", data_start=None)
    t1 = time.perf_counter()
    res = emerging_hot_spots(cube, moments="slice", time_window=0)
    t2 = time.perf_counter()
    cats = res.cells.sort_values(["iy", "ix"])["pattern"].to_numpy(dtype=object)
    return {"seconds": t2 - t0, "cube": t1 - t0, "analysis": t2 - t1, "n": int(cube.counts.sum()),
            "categories": cats, "z": res.z.reshape(len(cube.starts), -1)}


def _arcgis(hot: np.ndarray, cold: np.ndarray, trend_p: float, trend_z: float, alpha: float = 0.05) -> str:
    """ArcGIS Pro's pattern definitions for one location (hot/cold significant bins in time order)."""
    n = len(hot)
    for sig, opp, side in ((hot, cold, "hot"), (cold, hot, "cold")):
        share = sig.sum() / n
        final = bool(sig[-1])
        up = trend_p < alpha and (trend_z > 0 if side == "hot" else trend_z < 0)
        down = trend_p < alpha and (trend_z < 0 if side == "hot" else trend_z > 0)
        run = 0
        while run < n and sig[n - 1 - run]:
            run += 1
        before = sig[: n - run].any()
        if share >= 0.9:
            if not final:
                return f"historical {side} spot"
            return f"intensifying {side} spot" if up else f"diminishing {side} spot" if down \
                else f"persistent {side} spot"
        if final and not before:
            return f"new {side} spot" if run == 1 else f"consecutive {side} spot"
        if final:
            return f"oscillating {side} spot" if opp[:-1].any() else f"sporadic {side} spot"
    return "no pattern"


def baseline(n: int, side: int, weeks: int, mk_sample: int | None = None) -> dict:
    import esda
    import pandas as pd
    import pymannkendall
    from libpysal.weights import lat2W
    from scipy import stats

    x, y, t = events(n, side, weeks)
    t0 = time.perf_counter()
    df = pd.DataFrame({"week": ((t - T0).astype(np.int64) // WEEK_NS), "ix": ((x - X0) // CELL).astype(np.int64),
                       "iy": ((y - Y0) // CELL).astype(np.int64)})
    del x, y, t
    g = df.groupby(["week", "iy", "ix"]).size()
    counts = np.zeros((weeks, side, side))
    wk, iy, ix = (g.index.get_level_values(k).to_numpy() for k in range(3))
    counts[wk, iy, ix] = g.to_numpy()
    del df, g
    t1 = time.perf_counter()
    w = lat2W(side, side, rook=False)
    z = np.vstack([esda.G_Local(counts[k].ravel(), w, transform="B", star=True, permutations=0).Zs
                   for k in range(weeks)])
    t2 = time.perf_counter()
    p = 2 * stats.norm.sf(np.abs(z))
    hot, cold = (p < 0.05) & (z > 0), (p < 0.05) & (z < 0)
    cells = np.arange(side * side)
    if mk_sample and mk_sample < len(cells):
        cells = np.sort(np.random.default_rng(3).choice(len(cells), mk_sample, replace=False))
    empty = counts.sum(axis=0).ravel() == 0
    cats = np.full(side * side, None, dtype=object)
    for i in cells:
        r = pymannkendall.original_test(z[:, i])
        cats[i] = "no pattern" if empty[i] else _arcgis(hot[:, i], cold[:, i], r.p, r.z)
    t3 = time.perf_counter()
    scale = side * side / len(cells)
    return {"seconds": (t1 - t0) + (t2 - t1) + (t3 - t2) * scale, "counts": t1 - t0, "gi": t2 - t1,
            "mk": (t3 - t2) * scale, "mk_measured": t3 - t2, "mk_cells": len(cells), "categories": cats, "z": z}


def report(o: dict, t_o: float, m_o: float, b: dict, t_b: float, m_b: float, *, n: int, side: int,
           weeks: int) -> bool:
    """Print the comparison and the agreement; True if they agree."""
    print(f"\n# emerging hot spots, full period: {n:,} complaints, {side}x{side} = {side * side:,} cells, "
          f"{weeks} weeks")
    print(f"ours      {t_o:9.2f} s  (cube {o['cube']:.2f}, Gi* + Mann-Kendall + categories {o['analysis']:.2f})  "
          f"peak {m_o:,.0f} MiB")
    mk = "measured" if b["mk_cells"] == side * side else \
        f"measured {b['mk_measured']:.1f} s on {b['mk_cells']:,} random cells, extrapolated"
    print(f"baseline  {t_b:9.2f} s  (pandas groupby {b['counts']:.2f}, esda G_Local x{weeks} {b['gi']:.2f}, "
          f"pymannkendall + rules {b['mk']:.2f} [{mk}])  peak {m_b:,.0f} MiB")
    print(f"ratio     {t_b / t_o:9.1f}x faster; peak memory {m_b / max(m_o, 1):.2f}x of ours")
    done = np.array([c is not None for c in b["categories"]])
    same = (o["categories"][done] == b["categories"][done])
    zdiff = float(np.nanmax(np.abs(o["z"] - b["z"])))
    counts = {str(k): int(v) for k, v in zip(*np.unique(o["categories"].astype(str), return_counts=True))}
    print(f"categories: {int(same.sum()):,} of {int(done.sum()):,} cells equal to the baseline's; max |z - esda z| "
          f"{zdiff:.1e}; ours: {counts}")
    ok = bool(same.all()) and zdiff <= 1e-9
    print(f"agreement: {'all checks passed' if ok else 'FAILED'}")
    return ok
