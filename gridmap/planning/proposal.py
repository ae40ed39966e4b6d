"""One ranked split proposal (:class:`Proposal`): what :func:`~gridmap.planning.split.propose_splits` returns,
:mod:`~gridmap.planning.explain` explains, :mod:`~gridmap.planning.report` writes and
:mod:`~gridmap.planning.accept` writes into the store.

Examples
--------
>>> import geopandas as gpd, pandas as pd, shapely
>>> parts = gpd.GeoDataFrame({"households": [1500, 1400]}, index=pd.Index(["A", "B"], name="part_id"),
...                          geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs="EPSG:4548")
>>> p = Proposal(rank=1, k=2, parts=parts, assignment=pd.Series(["A", "B"]), score=0.1,
...              metrics={"balance_cv": 0.034, "compactness_mean": 0.79})
>>> p.summary()
'#1: 2 parts (1,500/1,400 households), balance CV 0.034, compactness 0.79'
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

__all__ = ["Proposal"]


@dataclass(frozen=True)
class Proposal:
    """One ranked split proposal.

    Attributes
    ----------
    rank : 1 = best score.
    k : number of new communities.
    parts : GeoDataFrame indexed by ``part_id`` ('A', 'B', ... north-west first) with ``households``,
        ``population`` (sum of known compound population, NaN if none known), ``area_m2``, ``compactness``
        (Polsby–Popper), ``n_atoms``, ``atoms`` (tuple of atom ids) and ``geometry``.
    assignment : Series atom id -> part_id.
    metrics : balance_cv, max_deviation, compactness_mean, compactness_min, new_boundary_m,
        along_roads_share, along_cells_share, outline_share, score.
    explanation_zh, explanation_en : why it ranks where it does.
    exhaustive : True when every valid partition was enumerated (the ranking is then over all of them).
    search : how the search ran: ``seed``, ``work_budget``, ``work_used`` (units), ``time_limit_s`` and
        ``time_limit_hit`` (True: the wall-clock safety net stopped the search before the work budget was
        spent, so the result may differ between runs and machines).
    """

    rank: int
    k: int
    parts: gpd.GeoDataFrame
    assignment: pd.Series
    metrics: dict
    score: float
    explanation_zh: str = ""
    explanation_en: str = ""
    exhaustive: bool = False
    community_code: str | None = None
    floor: int = 1000
    ceiling: int = 3000
    search: dict = field(default_factory=dict)

    def summary(self) -> str:
        hh = "/".join(f"{h:,}" for h in self.parts["households"])
        return (f"#{self.rank}: {self.k} parts ({hh} households), balance CV {self.metrics['balance_cv']:.3f}, "
                f"compactness {self.metrics['compactness_mean']:.2f}")
