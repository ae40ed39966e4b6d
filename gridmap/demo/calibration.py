"""Target versus generated: the published figures the 示范区 is calibrated to, and what the generator produced.

``calibration_table(demo)`` computes the statistics independently from the frames (areas with shapely, household
shares with pandas); ``calibration_markdown(demo)`` renders the table for ``data/README.md``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from gridmap.demo.district import FULL_COMPLAINTS, FULL_STREETS, DemoDistrict

__all__ = ["calibration_table", "calibration_markdown"]

log = logging.getLogger(__name__)


def calibration_table(demo: DemoDistrict) -> pd.DataFrame:
    """One row per calibrated quantity: ``quantity, target, generated, met, source``.

    Targets are stated for the full district; counts and areas are scaled by the share of streets (area) or by
    ``scale`` (components, complaints) for smaller versions.
    """
    s = demo.scale
    n_st = len(demo.streets)
    a = n_st / FULL_STREETS
    comm = demo.communities
    hh = comm.households.to_numpy(dtype=float)
    pop = comm.population.to_numpy(dtype=float)
    st_area = demo.streets.area.to_numpy() / 1e6
    st_pop = comm.groupby("street_code").population.sum().reindex(demo.streets.code).fillna(0).to_numpy()
    cmp_sum = demo.compounds.groupby("community_code").households.sum().reindex(comm.code).fillna(0).to_numpy()
    comp_per_class = demo.components.groupby("class_code").size()
    c = demo.complaints
    month = pd.DatetimeIndex(c.received_at).month
    leak = (c.category == "房屋漏雨").to_numpy()
    heat = (c.category == "供暖").to_numpy()
    day = pd.DatetimeIndex(c.received_at).normalize()
    heat_days = pd.Series(1, index=day[heat]).groupby(level=0).size()
    first_week = heat_days[(heat_days.index >= "2025-11-15") & (heat_days.index <= "2025-11-21")].mean()
    season = heat_days[(heat_days.index >= "2025-12-01") | (heat_days.index <= "2025-03-15")].mean()
    wd = pd.Series(pd.DatetimeIndex(c.received_at).day_of_week).value_counts()
    infeasible = demo.compounds[demo.compounds.community_code == demo.infeasible_community]
    rows = [
        ("district area (km²)", f"≈ {42 * a:.1f} (东城 41.84 at full scale)", f"{demo.districts.area.sum() / 1e6:.2f}",
         abs(demo.districts.area.sum() / 1e6 - 42 * a) < 3 * a + 1, "standards.md: Dongcheng 41.84 km²"),
        ("streets", f"{FULL_STREETS if s >= 1 else n_st}", f"{n_st}", True, "Dongcheng: 17 streets"),
        ("streets ≥ 2 km²", "all but 1 (one deliberately small)", f"{int((st_area >= 2).sum())} of {n_st}",
         int((st_area < 2).sum()) >= 1, "street standard 东城/西城: 2 km²"),
        ("streets with 50,000–100,000 residents", "few (targets imply ~35k per street)",
         f"{int(((st_pop >= 50_000) & (st_pop <= 100_000)).sum())} of {n_st}", True,
         "street standard 东城/西城; 170 × 1,500 × 2.31 / 17 ≈ 34,650"),
        ("communities", f"≈ {170 * a:.0f} (169–177)", f"{len(comm)}", abs(len(comm) - 170 * a) <= 10 * a + 3,
         "Dongcheng: 169–177 communities"),
        ("mean households per community", "≈ 1,500", f"{hh.mean():,.0f}", abs(hh.mean() - 1500) < 150,
         "Dongcheng ≈ 1,500"),
        ("share of communities > 3,000 households", "≈ 20 % (Beijing 2020: 625/3,231 = 19.3 %)",
         f"{(hh > 3000).mean():.1%}", 0.12 <= (hh > 3000).mean() <= 0.28, "2020 community survey"),
        ("communities > 5,000 households", "≥ 3 (Beijing 2020: 82/3,231 = 2.5 %)", f"{int((hh > 5000).sum())}",
         (hh > 5000).sum() >= 3, "2020 community survey"),
        ("communities < 1,000 households", "(no target; flags 'too small')", f"{int((hh < 1000).sum())}", True,
         "size standard 1,000–3,000"),
        ("persons per household", "2.31", f"{pop.sum() / hh.sum():.3f}", abs(pop.sum() / hh.sum() - 2.31) < 0.02,
         "2020 census, Beijing family households"),
        ("residents", f"≈ {170 * 1500 * 2.31 * a:,.0f} (东城 2020: 709,000)", f"{pop.sum():,.0f}", True,
         "implied by the household targets"),
        ("households = sum of compounds", "every community", f"{int((cmp_sum == hh).sum())} of {len(comm)}",
         bool((cmp_sum == hh).all()), "construction rule"),
        ("oversized community with infeasible split", "≥ 1 (one compound > 3,000 households)",
         f"{demo.infeasible_community}: {int(comm.set_index('code').households.get(demo.infeasible_community, 0)):,} "
         f"households, largest compound {int(infeasible.households.max() if len(infeasible) else 0):,}",
         len(infeasible) > 0 and infeasible.households.max() > 3000, "split needs parts ≤ 3,000"),
        ("components", f"≥ {100_000 * min(s, 1):,.0f} (东城 2004: ~160,000)", f"{len(demo.components):,}",
         len(demo.components) >= (0.9 if s >= 1 else 0.6) * 100_000 * min(s, 1), "Dongcheng 2004 system"),
        ("largest class (8-digit code cap)", "≤ 9,999", f"{int(comp_per_class.max()):,}",
         comp_per_class.max() <= 9_999, "gridmap code convention"),
        ("component classes", "national 01–05 classes + local 06xx", f"{len(comp_per_class)}", True, "standards.md"),
        ("complaints in the year", f"{FULL_COMPLAINTS * s:,.0f} (200k–400k at full scale)", f"{len(c):,}",
         abs(len(c) - FULL_COMPLAINTS * s) < 0.05 * FULL_COMPLAINTS * s + 50, "≈ 1/70 of Beijing's 21 M (2023)"),
        ("roof-leak complaints in June–August", "70–80 % (share of rain in Jun–Aug)",
         f"{np.isin(month[leak], [6, 7, 8]).mean():.1%}", 0.6 <= np.isin(month[leak], [6, 7, 8]).mean() <= 0.9,
         "Beijing rain climatology"),
        ("heating complaints 15–21 Nov vs Dec–Mar daily mean", "spike (> 2×)", f"{first_week / season:.1f}×",
         first_week / season > 2, "heating season from 15 Nov"),
        ("complaints Monday / Sunday", "> 1 (weekly rhythm)", f"{wd.get(0, 0) / max(wd.get(6, 1), 1):.2f}",
         wd.get(0, 0) > wd.get(6, 0), "convention"),
        ("planted anomalies", "≥ 4", f"{len(demo.anomalies)}", len(demo.anomalies) >= 4, "issue 2"),
    ]
    table = pd.DataFrame(rows, columns=["quantity", "target", "generated", "met", "source"])
    table["met"] = table["met"].astype(bool)
    log.info("demo calibration: %d of %d targets met", int(table.met.sum()), len(table))
    return table


def calibration_markdown(demo: DemoDistrict) -> str:
    """The calibration table as a Markdown table."""
    t = calibration_table(demo)
    lines = ["| quantity | target | generated | met | source |", "|---|---|---|---|---|"]
    for r in t.itertuples(index=False):
        lines.append(f"| {r.quantity} | {r.target} | {r.generated} | {'yes' if r.met else 'NO'} | {r.source} |")
    return "\n".join(lines) + "\n"
