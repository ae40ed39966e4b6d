"""The store-facing workflows of 接诉即办 performance: ``gridmap rank`` and ``gridmap report monthly`` call these.

Examples
--------
>>> from gridmap.store import open_store
>>> store = open_store("gridmap.sqlite", mode="read")                                  # doctest: +SKIP
>>> r = rank_from_store(store, month="2025-06", level="street", bottom_n=3)             # doctest: +SKIP
>>> r.bottom.index.tolist()                                                            # doctest: +SKIP
>>> pack = monthly_pack(store, month="2025-06", street="110199003")                    # doctest: +SKIP
>>> write_pack(pack, "out/2025-06")                                                    # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.errors import NotFoundError, ValidationError, message
from gridmap.io.handling import HANDLING_FIELDS
from gridmap.performance.priorities import gap_contributions, proactive_candidates, repeat_complaints
from gridmap.performance.rankings import TREND_MONTHS, bottom, league_table, trends
from gridmap.performance.rates import RATE_COLUMNS, exclusion_counts, monthly_rates, parse_month, unit_rates
from gridmap.performance.report import MonthlyPack, write_pack_files
from gridmap.performance.rules import Level, RateRules

__all__ = ["RankResult", "read_rate_complaints", "rank_from_store", "monthly_pack", "write_pack"]

log = logging.getLogger(__name__)

#: Complaint columns the rates, repeats and 未诉先办 lists read (never the complaint text).
RATE_INPUT_COLUMNS = ["source_id", "received_at", "category", "address", "status", "closed_at", "cell_code",
                      "community_code", "street_code", *HANDLING_FIELDS]


def read_rate_complaints(store: Any) -> gpd.GeoDataFrame:
    """The complaints with their handling records (no text). A store older than schema 3 is refused by the store
    itself (read-only stores are not migrated: ``gridmap migrate``)."""
    return store.read("complaints", columns=RATE_INPUT_COLUMNS)


def _check_month(complaints: pd.DataFrame, month: pd.Period) -> None:
    months = pd.to_datetime(complaints["received_at"]).dt.to_period("M")
    if not (months == month).any():
        have = months.dropna()
        span = f"{have.min()} .. {have.max()}" if len(have) else "none (the store holds no complaints)"
        raise NotFoundError(message(f"no complaints received in {month}", where="--month",
                                    got=str(month), fix=f"choose a month with data: {span}"))


def _names(store: Any, level: Level) -> dict[str, str]:
    layer = {Level.STREET: "streets", Level.COMMUNITY: "communities"}.get(level)
    if layer is None or not store.count(layer):
        return {}
    f = store.read(layer, columns=["code", "name"])
    return dict(zip(f["code"], f["name"].fillna("")))


@dataclass
class RankResult:
    """``gridmap rank``: the league table of ``month``, the bottom N, and each unit's 12-month trend."""

    month: pd.Period
    level: Level
    table: pd.DataFrame
    bottom: pd.DataFrame
    trend: pd.DataFrame
    rules: RateRules
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (None for missing values, never NaN)."""
        def clean(v: Any) -> Any:
            if isinstance(v, (np.integer,)):
                return int(v)
            if isinstance(v, (float, np.floating)):
                return None if not np.isfinite(v) else float(v)
            return None if v is None or v is pd.NA else v

        trend_cols = [c for c in self.trend.columns if c not in ("slope_per_month", "change")]
        units = []
        for unit, row in self.table.iterrows():
            rec = {"unit": str(unit), **{k: clean(row[k]) for k in self.table.columns if k != "name"}}
            for k in ("rank", "rank_prev", "rank_change"):  # places are whole numbers (pandas ranks are floats)
                if rec.get(k) is not None:
                    rec[k] = int(rec[k])
            rec["name"] = row.get("name")
            t = self.trend.loc[unit] if unit in self.trend.index else None
            rec["trend"] = {m: clean(t[m]) for m in trend_cols} if t is not None else {}
            rec["trend_slope_per_month"] = clean(t["slope_per_month"]) if t is not None else None
            units.append(rec)
        return {"month": str(self.month), "level": self.level.value,
                "weights": {"response": self.rules.weights[0], "resolution": self.rules.weights[1],
                            "satisfaction": self.rules.weights[2]},
                "response_limit_h": self.rules.response_limit_h, "urgent_limit_h": self.rules.urgent_limit_h,
                "units": units, "bottom": [str(u) for u in self.bottom.index], "notes": self.notes}


def _rank(complaints: pd.DataFrame, *, month: pd.Period, level: Level, bottom_n: int, rules: RateRules,
          names: dict[str, str]) -> RankResult:
    monthly = monthly_rates(complaints, level=level, first=month - (TREND_MONTHS - 1), last=month, rules=rules)
    table = league_table(monthly, month=month)
    if names:
        table.insert(0, "name", [names.get(u) for u in table.index])
    notes = []
    unranked = int(table["rank"].isna().sum())
    if unranked:
        notes.append(f"{unranked} unit(s) without a score (a rate with no known complaint): listed, not ranked")
    if level is Level.DEPARTMENT:
        notes.append("承办单位 from dispatched_to; a 双派单 complaint counts for each unit")
    return RankResult(month, level, table, bottom(table, n=bottom_n), trends(monthly, month=month), rules, notes)


def rank_from_store(store: Any, *, month: Any, level: "str | Level" = Level.STREET, bottom_n: int = 3,
                    rules: RateRules | None = None) -> RankResult:
    """Rank the units of ``level`` for ``month`` ('YYYY-MM'); a month without complaints is a clear error."""
    rules = rules or RateRules()
    level = Level.parse(level)
    p = parse_month(month)
    complaints = read_rate_complaints(store)
    _check_month(complaints, p)
    result = _rank(complaints, month=p, level=level, bottom_n=bottom_n, rules=rules, names=_names(store, level))
    log.info("ranked %d %s unit(s) for %s; bottom %d: %s", len(result.table), level.value, p, bottom_n,
             ", ".join(map(str, result.bottom.index)))
    return result


def monthly_pack(store: Any, *, month: Any, street: str, rules: RateRules | None = None, bottom_n: int = 3,
                 repeat_days: int = 30, progress: Callable[[int, int, str], None] | None = None) -> MonthlyPack:
    """Every table of the 月度点评会 pack for ``street`` in ``month`` (the map is drawn by :func:`write_pack`)."""
    rules = rules or RateRules()
    p = parse_month(month)
    steps = 5

    def step(i: int, label: str) -> None:
        if progress:
            progress(i, steps, label)

    step(0, "read complaints")
    complaints = read_rate_complaints(store)
    _check_month(complaints, p)
    street_names = _names(store, Level.STREET)
    if street not in street_names and not (complaints["street_code"] == street).any():
        import difflib

        raise NotFoundError(message("unknown street", where="--street", got=repr(street),
                                    fix="use a street code of the store"),
                            suggestions=difflib.get_close_matches(street, list(street_names), n=3))
    step(1, "rank streets")
    league = _rank(complaints, month=p, level=Level.STREET, bottom_n=bottom_n, rules=rules, names=street_names)
    start, end = p.start_time, (p + 1).start_time
    mine = complaints[(complaints["street_code"] == street).fillna(False).to_numpy(dtype=bool)]
    step(2, "communities, units and categories")
    comm = _rank(mine, month=p, level=Level.COMMUNITY, bottom_n=bottom_n, rules=rules,
                 names=_names(store, Level.COMMUNITY))
    units = unit_rates(mine, level=Level.DEPARTMENT, start=start, end=end, rules=rules)
    cats = unit_rates(mine, level=Level.CATEGORY, start=start, end=end, rules=rules)
    step(3, "what to fix first")
    scored = league.table[league.table["rank"].notna()]
    benchmark = scored[["response_rate", "resolution_rate", "satisfaction_rate"]].median().to_dict()
    gap_comm = gap_contributions(complaints, street=street, level="community", benchmark=benchmark, start=start,
                                 end=end, rules=rules)
    gap_cat = gap_contributions(complaints, street=street, level="category", benchmark=benchmark, start=start,
                                end=end, rules=rules)
    comm_names = _names(store, Level.COMMUNITY)
    if comm_names:
        gap_comm.insert(0, "name", [comm_names.get(u) for u in gap_comm.index])
    repeats = repeat_complaints(complaints, start=start, end=end, within_days=repeat_days, street=street)
    proactive = proactive_candidates(complaints, month=p, street=street)
    excl = exclusion_counts(mine, level=Level.COMMUNITY, start=start, end=end)
    step(4, "community geometry")
    communities = store.read("communities", where={"street_code": street}, columns=["code", "name"]) \
        if store.count("communities") else None
    streets = store.read("streets", where={"code": street}, columns=["code", "name"]) \
        if store.count("streets") else None
    if communities is not None and len(communities):
        sc = comm.table.reindex(communities["code"])[["complaints", *RATE_COLUMNS]].reset_index(drop=True)
        communities = communities.reset_index(drop=True).join(sc)
    step(5, "done")
    return MonthlyPack(month=p, street=street, street_name=street_names.get(street) or street, rules=rules,
                       league=league, communities=comm, units=units, categories=cats, gap_communities=gap_comm,
                       gap_categories=gap_cat, benchmark=benchmark, repeats=repeats, proactive=proactive,
                       exclusions=excl, community_geometry=communities, street_geometry=streets,
                       repeat_days=repeat_days)


def write_pack(pack: MonthlyPack, out_dir: str | os.PathLike, *, map_: bool = True) -> dict[str, Path]:
    """Write the pack to ``out_dir``: ``report.html`` (inline SVG charts), ``map.html`` (the offline map of the
    street's communities coloured by composite score), ``tables.xlsx`` and one CSV per table."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    geo = pack.community_geometry
    if map_ and geo is not None and len(geo):
        from gridmap.maps import write_map
        from gridmap.maps.scores import score_map

        m = score_map(geo, streets=pack.street_geometry,
                      title=f"{pack.street_name} {pack.month} 接诉即办综合成绩 composite score")
        files["map"] = write_map(m, out / "map.html")
    elif map_:
        raise ValidationError(message("no communities stored for the street: the map cannot be drawn",
                                      where=pack.street, fix="import communities, or pass map_=False (--no-map)"))
    files.update(write_pack_files(pack, out, map_file="map.html" if "map" in files else None))
    return files
