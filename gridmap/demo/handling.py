"""Handling records (接诉即办) for the demo complaints: dispatch, response, return visit, exclusions.

Each complaint's chance of being answered in time, resolved and found satisfactory is a logistic model
``sigmoid(base + street + category + unit (+ month for the improving street))`` with effects below, so the three
rates vary by street, department and category the way a monthly review sees them:

- **Streets**: most streets have a small random effect (N(0, 0.25)); :data:`WORSE_EFFECT` for the planted worse
  streets (2 of 17; 1 when the district has fewer than 6 streets), and the planted improving street runs from
  :data:`IMPROVING_FROM` in January to :data:`IMPROVING_TO` in December (linear by month).
- **Categories**: heating and roof leaks are harder (-0.5), noise -0.3, community services +0.3.
- **Units** (承办单位): every complaint goes to its street office (``<street name>办事处``); by category also to a
  department (区供热办, 区水务局, 区城管委, 交通支队, 区园林绿化局, 城管执法队) or, for housing, to one of four
  property companies (物业: 示范物业一公司 ... 四公司, one worse than the rest). A share of 30 % of complaints with a
  department are 双派单 (street office and department); the rest go to the department alone.
- **Response**: in time with ``sigmoid(3.5 + effects)``: inside the limit (2 h for heating and water, 24 h
  otherwise) uniformly, else late by an exponential delay (mean 20 h); 3 % have no response time (unknown).
- **Return visit** after closing: resolved ``sigmoid(2.4 + effects)`` (False where the status is 未解决); a
  satisfaction score 1–5 (≥ 4 satisfied) with ``sigmoid(3.0 + effects)`` if resolved, ``sigmoid(0 + effects)``
  if not; 8 % of closed complaints have no return visit (resolved and satisfaction unknown); open ones have none.
- **Exclusions**: 4 % excluded (重复诉求 60 %, 超出职责范围 30 %, 恶意诉求 10 %); redispatches Poisson
  (0.08, or 0.3 for late responses).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

__all__ = ["HandlingPlan", "plan_streets", "build_handling", "WORSE_EFFECT", "IMPROVING_FROM", "IMPROVING_TO",
           "DEPARTMENTS", "PROPERTY_COMPANIES"]

log = logging.getLogger(__name__)

WORSE_EFFECT = -1.6
IMPROVING_FROM, IMPROVING_TO = -1.8, 0.9
_CATEGORY_EFFECT = {"供暖": -0.5, "房屋漏雨": -0.5, "噪音扰民": -0.3, "社区服务": 0.3}
#: demo category -> department (承办部门); 住房/物业 goes to a property company.
DEPARTMENTS = {"供暖": "区供热办", "供水/排水": "区水务局", "房屋漏雨": "区住建委", "市政设施": "区城管委",
               "交通/停车": "交通支队", "园林绿化": "区园林绿化局", "城市管理": "城管执法队"}
PROPERTY_COMPANIES = ("示范物业一公司", "示范物业二公司", "示范物业三公司", "示范物业四公司")
_UNIT_EFFECT = {"示范物业四公司": -0.8, "区住建委": -0.3, "交通支队": 0.2}
_URGENT = ("供暖", "供水/排水")


@dataclass(frozen=True)
class HandlingPlan:
    """Which streets are planted worse and which improves (codes)."""

    worse_streets: tuple[str, ...]
    improving_street: str
    street_effect: dict[str, float]


def plan_streets(street_codes: list[str], rng: np.random.Generator) -> HandlingPlan:
    """The planted streets: worse ones at about 1/3 and 2/3 of the code order, the improving one in the middle."""
    codes = sorted(street_codes)
    n = len(codes)
    worse = (codes[n // 3], codes[(2 * n) // 3]) if n >= 6 else (codes[0],)
    improving = codes[n // 2] if codes[n // 2] not in worse else codes[-1]
    effect = {c: float(rng.normal(0, 0.25)) for c in codes}
    for c in worse:
        effect[c] = WORSE_EFFECT
    effect[improving] = 0.0
    return HandlingPlan(tuple(worse), improving, effect)


def _sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _street_of(complaints: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> np.ndarray:
    """The street code of each complaint's community (None outside every community)."""
    tree_idx = communities.sindex.query(complaints.geometry.values, predicate="within")
    out = np.full(len(complaints), None, dtype=object)
    codes = communities["street_code"].to_numpy(dtype=object)
    out[tree_idx[0]] = codes[tree_idx[1]]
    return out


def build_handling(complaints: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, streets: gpd.GeoDataFrame,
                   rng: np.random.Generator) -> tuple[pd.DataFrame, HandlingPlan]:
    """Handling columns (:data:`gridmap.io.handling.HANDLING_FIELDS`) for ``complaints`` and the plan."""
    n = len(complaints)
    plan = plan_streets(streets["code"].tolist(), rng)
    street = _street_of(complaints, communities)
    names = dict(zip(streets["code"], streets["name"]))
    rec = pd.to_datetime(complaints["received_at"]).to_numpy(dtype="datetime64[ns]")
    month = pd.DatetimeIndex(rec).month.to_numpy()
    cat = complaints["category"].to_numpy(dtype=object)
    eff = np.array([plan.street_effect.get(s, 0.0) for s in street])
    imp = street == plan.improving_street
    eff[imp] = IMPROVING_FROM + (IMPROVING_TO - IMPROVING_FROM) * (month[imp] - 1) / 11.0
    eff += np.array([_CATEGORY_EFFECT.get(c, 0.0) for c in cat])
    # units: street office, department or property company, 双派单 for 30 % of those with a department
    office = np.array([f"{names.get(s, '示范区')}办事处" for s in street], dtype=object)
    dept = np.array([DEPARTMENTS.get(c) for c in cat], dtype=object)
    housing = cat == "住房/物业"
    dept[housing] = np.asarray(PROPERTY_COMPANIES, dtype=object)[rng.integers(0, len(PROPERTY_COMPANIES),
                                                                            int(housing.sum()))]
    has_dept = dept != None  # noqa: E711 (object array)
    double = has_dept & (rng.random(n) < 0.30)
    units = np.where(double, office + ";" + dept.astype(str), np.where(has_dept, dept, office)).astype(object)
    eff += np.array([_UNIT_EFFECT.get(d, 0.0) if d is not None else 0.0 for d in dept])
    # dispatch and response
    dispatched = rec + (rng.uniform(5, 60, n) * 60e9).astype("timedelta64[ns]")
    limit_h = np.where(np.isin(cat, _URGENT), 2.0, 24.0)
    in_time = rng.random(n) < _sig(3.5 + eff)
    delay_h = np.where(in_time, rng.uniform(0.05, 1.0, n) * limit_h, limit_h + rng.exponential(20.0, n))
    responded = rec + (delay_h * 3600e9).astype("timedelta64[ns]")
    closed = pd.to_datetime(complaints["closed_at"]).to_numpy(dtype="datetime64[ns]")
    responded = np.where(~np.isnat(closed) & (closed < responded), closed, responded)  # answered by closing at latest
    responded = np.where(rng.random(n) < 0.03, np.datetime64("NaT"), responded).astype("datetime64[ns]")
    # return visit after closing
    visited = ~np.isnat(closed) & (rng.random(n) >= 0.08)
    resolved = (rng.random(n) < _sig(2.4 + eff)) & (complaints["status"].to_numpy(dtype=object) != "未解决")
    p_sat = np.where(resolved, _sig(3.0 + eff), _sig(0.0 + eff))
    satisfied = rng.random(n) < p_sat
    score = np.where(satisfied, rng.choice([4, 5], n, p=[0.35, 0.65]), rng.choice([1, 2, 3], n, p=[0.3, 0.3, 0.4]))
    revisit = closed + (rng.uniform(2, 72, n) * 3600e9).astype("timedelta64[ns]")
    # exclusions and redispatches
    excluded = rng.random(n) < 0.04
    reason = np.where(excluded, rng.choice(["重复诉求", "超出职责范围", "恶意诉求"], n, p=[0.6, 0.3, 0.1]), None)
    redispatch = rng.poisson(np.where(in_time, 0.08, 0.3))

    def known(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = np.full(n, None, dtype=object)
        out[mask] = values[mask]
        return out

    frame = pd.DataFrame({
        "dispatched_at": dispatched, "dispatched_to": units, "responded_at": responded,
        "resolved": known(resolved.astype(object), visited), "satisfied": known(satisfied.astype(object), visited),
        "satisfaction_score": pd.array(np.where(visited, score, 0), dtype="Int64"),
        "revisit_at": np.where(visited, revisit, np.datetime64("NaT")).astype("datetime64[ns]"),
        "excluded": excluded.astype(object), "exclusion_reason": reason.astype(object),
        "redispatches": pd.array(redispatch, dtype="Int64")}, index=complaints.index)
    frame.loc[~visited, "satisfaction_score"] = pd.NA
    for c in ("dispatched_at", "responded_at", "revisit_at"):  # whole seconds, as an export writes them
        frame[c] = frame[c].dt.floor("s")
    log.info("demo handling: worse streets %s, improving %s, %d 双派单, %d excluded", ", ".join(plan.worse_streets),
             plan.improving_street, int(double.sum()), int(excluded.sum()))
    return frame, plan
