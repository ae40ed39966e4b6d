"""The 示范区 as one object: :class:`DemoDistrict` and :func:`generate`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.demo.complaints import build_complaints
from gridmap.demo.components import build_components
from gridmap.demo.handling import build_handling
from gridmap.demo.layout import build_layout

__all__ = ["DemoDistrict", "LAYER_NAMES", "generate", "DEFAULT_SEED", "FULL_STREETS", "FULL_COMPLAINTS"]

log = logging.getLogger(__name__)

DEFAULT_SEED = 20041001
FULL_STREETS = 17
COMMUNITIES_PER_STREET = 10.0
#: Complaints in the synthetic year at scale 1 (before planted anomalies).
FULL_COMPLAINTS = 300_000
#: The store layers the demo produces (``cells`` are built later by gridmap.grid).
LAYER_NAMES = ("districts", "streets", "communities", "compounds", "roads", "components", "complaints")


@dataclass
class DemoDistrict:
    """The synthetic district: one GeoDataFrame per store layer (EPSG:4548, columns of ``gridmap.store.schema``)
    plus ``anomalies``, a table of the planted anomalies (see ``gridmap.demo.complaints.ANOMALY_COLUMNS``).

    ``infeasible_community`` is the code of the oversized community whose split is infeasible because one
    indivisible compound alone holds more than 3,000 households.
    """

    districts: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    components: gpd.GeoDataFrame
    complaints: gpd.GeoDataFrame
    anomalies: pd.DataFrame
    scale: float
    seed: int
    infeasible_community: str
    #: the planted 接诉即办 streets (:class:`gridmap.demo.handling.HandlingPlan`): worse ones and the improving one
    handling: Any = None

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """The store layers by name, in load order."""
        return {name: getattr(self, name) for name in LAYER_NAMES}


def generate(*, scale: float = 1.0, seed: int = DEFAULT_SEED) -> DemoDistrict:
    """Generate the synthetic 示范区 (pure: no files, no database).

    Parameters
    ----------
    scale
        1.0 is the full district (17 streets, ~170 communities, ~42 km², ~110,000 components, ~300,000 complaints).
        Below 1 the area shrinks to ``max(3, round(17 * scale))`` streets and components/complaints shrink with
        ``scale``; above 1 (at most 4) only the number of complaints grows.
    seed
        Seed of the random generator; the same ``(scale, seed)`` gives identical frames.

    Returns
    -------
    DemoDistrict

    Examples
    --------
    >>> demo = generate(scale=0.05)
    >>> demo.districts.code.tolist(), demo.streets.crs.to_epsg()
    (['110199'], 4548)
    """
    from gridmap.errors import UsageError, message

    if not (isinstance(scale, (int, float)) and 0 < scale <= 4):
        raise UsageError(message("scale must be a number in (0, 4]", where="gridmap.demo.generate", got=repr(scale),
                                 fix="use 1.0 for the full district or e.g. 0.05 for a quick test version"))
    t0 = time.perf_counter()
    rng = np.random.default_rng([int(seed), int(round(scale * 1_000_000))])
    n_streets = FULL_STREETS if scale >= 1 else max(3, int(round(FULL_STREETS * scale)))
    area_share = n_streets / FULL_STREETS
    layout = build_layout(n_streets=n_streets, communities_per_street=COMMUNITIES_PER_STREET,
                          rng=np.random.default_rng(rng.integers(2**63)))
    components = build_components(layout, fraction=min(1.0, scale / area_share),
                                  rng=np.random.default_rng(rng.integers(2**63)))
    intensity = float(scale) if scale > 1 else float(min(1.0, max(0.35, np.sqrt(scale))))
    complaints, anomalies = build_complaints(layout, n_target=FULL_COMPLAINTS * scale, anomaly_intensity=intensity,
                                             rng=np.random.default_rng(rng.integers(2**63)))
    # handling records (接诉即办) draw from their own generator, after every other draw: the rest is unchanged
    handling, plan = build_handling(complaints, layout.communities, layout.streets,
                                    np.random.default_rng(rng.integers(2**63)))
    complaints = complaints.join(handling)[[*complaints.columns.drop("geometry"), *handling.columns, "geometry"]]
    demo = DemoDistrict(districts=layout.districts, streets=layout.streets, communities=layout.communities,
                        compounds=layout.compounds, roads=layout.roads, components=components,
                        complaints=complaints, anomalies=anomalies, scale=float(scale), seed=int(seed),
                        infeasible_community=layout.infeasible_community, handling=plan)
    log.info("demo district (scale %.3g, seed %d): %d streets, %d communities, %d compounds, %d components, "
             "%d complaints, %d anomalies in %.1f s", scale, seed, len(demo.streets), len(demo.communities),
             len(demo.compounds), len(components), len(complaints), len(anomalies), time.perf_counter() - t0)
    return demo


