"""A space-time scenario with every emerging hot-spot category planted, for tests and benchmarks.

A ``side x side`` lattice of 100 m cells, ``slices`` weeks of complaints: Poisson background at ``rate`` per
cell and week everywhere, and 16 planted 3 x 3 blocks, one per category (8 hot, 8 cold), spaced so their Gi*
neighbourhoods never touch. The planted cell is each block's centre (its queen neighbourhood is the block).
Hot bins add ``lift`` complaints to every cell of the block; cold bins thin the block to ``cold_share`` of the
background. Block counts are exact (the rounded mean), the background Poisson. Per category (``T`` slices,
``k`` = slice index):

========================  ==============================================================
new                       hot in the final slice only
consecutive               hot in the last three slices only
intensifying              hot in every slice, the lift growing with k
persistent                hot in every slice, lift alternating 1.25 / 0.75 (no trend)
diminishing               hot in every slice, the lift shrinking with k
sporadic                  hot in the final slice and two earlier ones, never cold
oscillating               hot in the final slice and two earlier ones, cold in one earlier
historical                hot in every slice but the final one
========================  ==============================================================

and the same for cold (cold bins instead of hot; an intensifying cold spot gets colder). The final slice ends
exactly at ``end``: the new spots are a pattern that ends in the final slice. Complaints are points spread
uniformly in their cell and their week (deterministic for a seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.grid.lattice import Lattice
from gridmap.testing.warning import make_cells

__all__ = ["PLANTED", "EmergingScenario", "planted_counts", "emerging_scenario"]

#: The 16 planted categories (ArcGIS names), in block order.
PLANTED = [f"{kind} {side} spot" for side in ("hot", "cold") for kind in
           ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating",
            "historical")]


@dataclass
class EmergingScenario:
    lattice: Lattice
    cells: gpd.GeoDataFrame
    complaints: gpd.GeoDataFrame
    counts: np.ndarray          # (T, ny, nx)
    planted: pd.DataFrame       # code, ix, iy (local), pattern
    start: pd.Timestamp
    end: pd.Timestamp


def _schedule(kind: str, t: int) -> tuple[np.ndarray, np.ndarray]:
    """(strength per slice for the planted side, the opposite side's bins) of one category."""
    k = np.arange(t, dtype=float)
    on = np.zeros(t)
    other = np.zeros(t, dtype=bool)
    if kind == "new":
        on[-1] = 1
    elif kind == "consecutive":
        on[-3:] = 1
    elif kind == "intensifying":
        on[:] = 0.5 + k / (t - 1)
    elif kind == "persistent":
        on[:] = np.where(np.arange(t) % 2 == 0, 1.25, 0.75)  # no trend: high, low, high, low ...
    elif kind == "diminishing":
        on[:] = 1.5 - k / (t - 1)
    elif kind == "sporadic":
        on[[2, t // 2, t - 1]] = 1
    elif kind == "oscillating":
        on[[1, t // 2 + 1, t - 1]] = 1
        other[3] = True
    elif kind == "historical":
        on[:-1] = 1
    return on, other


def planted_counts(*, side: int = 24, slices: int = 12, rate: float = 8.0, lift: float = 10.0,
                   cold_share: float = 0.1, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    """Counts ``(T, side, side)`` and the planted centres (``ix``, ``iy``, ``pattern``)."""
    rng = np.random.default_rng(seed)
    mean = np.full((slices, side, side), rate)
    centres = []
    planted_mask = np.zeros(mean.shape, dtype=bool)
    spacing = side // 4
    for b, pattern in enumerate(PLANTED):
        kind, hot_side = pattern.split()[0], pattern.split()[1]
        cy, cx = spacing // 2 + (b // 4) * spacing, spacing // 2 + (b % 4) * spacing
        on, other = _schedule(kind, slices)
        blk = (slice(None), slice(cy - 1, cy + 2), slice(cx - 1, cx + 2))
        hot_lift = lift * on if hot_side == "hot" else lift * other
        cold_bins = (on > 0) if hot_side == "cold" else other
        planted_mask[blk] = True
        m = mean[blk]
        m += hot_lift[:, None, None]
        if hot_side == "cold":
            # the colder, the lower: strength s thins the block to cold_share ** s of the background
            m *= np.where(cold_bins, cold_share ** on, 1.0)[:, None, None]
        else:
            m *= np.where(cold_bins, cold_share, 1.0)[:, None, None]
        centres.append((cx, cy, pattern))
    counts = rng.poisson(mean).astype(float)
    counts[planted_mask] = np.round(mean[planted_mask])  # planted blocks exact: the pattern, not noise
    planted = pd.DataFrame(centres, columns=["ix", "iy", "pattern"])
    return counts, planted


def emerging_scenario(*, side: int = 24, slices: int = 12, rate: float = 8.0, lift: float = 10.0,
                      cold_share: float = 0.1, seed: int = 0, start: str = "2025-03-03",
                      x0: float = 500000.0, y0: float = 4400000.0, crs: str = "EPSG:4548") -> EmergingScenario:
    """The scenario as cells (100 m squares with codes) and complaint points (``received_at``, ``category``,
    ``text``, ``cell_code``, ``community_code``, ``street_code``)."""
    counts, planted = planted_counts(side=side, slices=slices, rate=rate, lift=lift, cold_share=cold_share,
                                     seed=seed)
    lat = Lattice(x0, y0, 100.0, side, side, ix0=int(x0 // 100), iy0=int(y0 // 100))
    cells = make_cells(lat, crs=crs)
    cells["ix"] += lat.ix0
    cells["iy"] += lat.iy0
    rng = np.random.default_rng(seed + 1)
    t0 = pd.Timestamp(start)
    t_idx, iy, ix = np.nonzero(counts)
    reps = counts[t_idx, iy, ix].astype(np.int64)
    t_idx, iy, ix = (np.repeat(a, reps) for a in (t_idx, iy, ix))
    n = len(t_idx)
    x = x0 + (ix + rng.uniform(0.05, 0.95, n)) * 100.0
    y = y0 + (iy + rng.uniform(0.05, 0.95, n)) * 100.0
    secs = rng.integers(0, 7 * 86400, n)
    when = t0 + pd.to_timedelta(t_idx * 7 * 86400 + secs, unit="s")
    code = cells["code"].to_numpy()[iy * side + ix]
    frame = gpd.GeoDataFrame({
        "source_id": [f"E{k:07d}" for k in range(n)], "received_at": when, "category": "市容环境",
        "text": "垃圾清运不及时", "cell_code": code,
        "community_code": cells["community_code"].to_numpy()[iy * side + ix],
        "street_code": cells["street_code"].to_numpy()[iy * side + ix]},
        geometry=gpd.points_from_xy(x, y), crs=crs)
    planted["code"] = cells["code"].to_numpy()[planted["iy"] * side + planted["ix"]]
    end = t0 + pd.Timedelta(weeks=slices)
    return EmergingScenario(lat, cells, frame.sort_values("received_at", kind="stable").reset_index(drop=True),
                            counts, planted[["code", "ix", "iy", "pattern"]], t0, end)
