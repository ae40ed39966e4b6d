"""Beijing street-office establishment standard (街道办事处设置标准, January 2021).

=========================================  =========  ===================
zone                                       min area   resident population
=========================================  =========  ===================
东城, 西城 (``core``)                       2 km²      50,000 – 100,000
朝阳, 海淀, 丰台, 石景山, 通州 (``inner``)   3 km²      50,000 – 150,000
other areas (``other``)                     5 km²      30,000 – 150,000
=========================================  =========  ===================

The urbanisation-rate conditions of the standard are not checked (the data is not in the store).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap._enums import ChoiceEnum
from gridmap.crs import check_crs
from gridmap.errors import Problem, ValidationError
from gridmap.planning.flags import as_float

__all__ = ["Zone", "StreetStandard", "STANDARDS", "zone_for_district", "check_streets"]

log = logging.getLogger(__name__)


class Zone(ChoiceEnum, what="street-office zone"):
    """Zones of the street-office standard."""

    CORE = "core"      # 东城 西城
    INNER = "inner"    # 朝阳 海淀 丰台 石景山 通州
    OTHER = "other"

    @classmethod
    def _aliases(cls) -> dict[str, "Zone"]:
        return _ALIASES

    @classmethod
    def _unknown(cls, value: object) -> ValidationError:
        return ValidationError("unknown street-office zone", [Problem(None, "zone", "not a zone", value)],
                               fix="use core (东城/西城), inner (朝阳/海淀/丰台/石景山/通州) or other")


_ALIASES = {"东城": Zone.CORE, "西城": Zone.CORE, "东城西城": Zone.CORE, "朝阳": Zone.INNER, "海淀": Zone.INNER,
            "丰台": Zone.INNER, "石景山": Zone.INNER, "通州": Zone.INNER, "其他": Zone.OTHER}
_DISTRICT_ZONES = {"110101": Zone.CORE, "110102": Zone.CORE, "110105": Zone.INNER, "110108": Zone.INNER,
                   "110106": Zone.INNER, "110107": Zone.INNER, "110112": Zone.INNER}


@dataclass(frozen=True)
class StreetStandard:
    zone: Zone
    min_area_km2: float
    min_population: int
    max_population: int


STANDARDS: dict[Zone, StreetStandard] = {
    Zone.CORE: StreetStandard(Zone.CORE, 2.0, 50_000, 100_000),
    Zone.INNER: StreetStandard(Zone.INNER, 3.0, 50_000, 150_000),
    Zone.OTHER: StreetStandard(Zone.OTHER, 5.0, 30_000, 150_000),
}


def zone_for_district(district_code: str) -> Zone:
    """Zone of a Beijing district by its 6-digit GB/T 2260 code (unknown codes: ``OTHER``).

    >>> zone_for_district("110101"), zone_for_district("110105"), zone_for_district("110115")
    (<Zone.CORE: 'core'>, <Zone.INNER: 'inner'>, <Zone.OTHER: 'other'>)
    """
    return _DISTRICT_ZONES.get(str(district_code)[:6], Zone.OTHER)


def check_streets(streets: gpd.GeoDataFrame, communities: gpd.GeoDataFrame | None = None, *,
                  zone: "str | Zone | None" = None) -> gpd.GeoDataFrame:
    """Check streets against the street-office standard and say why each one falls outside.

    Parameters
    ----------
    streets : GeoDataFrame (projected CRS) with ``code``; ``population`` if ``communities`` is not given.
    communities : optional; its active rows' ``population`` (or ``households`` × 2.31 when population is
        missing, the 2020 census mean) are summed per ``street_code``.
    zone : one zone for all streets; default the ``zone`` column, else derived from the district code prefix.

    Returns
    -------
    Copy of ``streets`` with ``zone``, ``area_km2``, ``population``, ``ok`` and ``reasons`` (中文 / English).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> s = gpd.GeoDataFrame({"code": ["110101001"], "population": [42000]},
    ...                      geometry=[shapely.box(0, 0, 1000, 1500)], crs="EPSG:4548")
    >>> r = check_streets(s)
    >>> bool(r["ok"].iloc[0]), r["reasons"].iloc[0]
    (False, '面积 1.50 km² 小于 2 km² / area 1.50 km² below 2 km²; 人口 42,000 少于 50,000 / population 42,000 below 50,000')
    """
    check_crs(streets, where="streets", metric=True)
    out = streets.copy()
    if communities is not None:
        check_crs(communities, where="communities", metric=True)
        c = communities
        if "active" in c.columns:
            c = c[c["active"].fillna(True).astype(bool)]
        pop = as_float(c["population"]) if "population" in c.columns else None
        hh = as_float(c["households"]) if "households" in c.columns else None
        if pop is None and hh is None:
            raise ValidationError("communities have neither population nor households",
                                  [Problem(None, "population", "missing")])
        est = pop if pop is not None else hh * 2.31
        if pop is not None and hh is not None:
            est = pop.fillna(hh * 2.31)
        by = est.groupby(c["street_code"].astype(str)).sum()
        out["population"] = out["code"].astype(str).map(by).fillna(0).round().astype(int)
    elif "population" not in out.columns:
        raise ValidationError("streets have no population", [Problem(None, "population", "missing")],
                              fix="pass communities= to sum their population per street")
    else:
        pop = as_float(out["population"])
        labels = out["code"] if "code" in out.columns else pd.Series(out.index, index=out.index)
        bad = [Problem(labels.loc[i], "population", "missing or not a number") for i in pop.index[pop.isna()]]
        bad += [Problem(labels.loc[i], "population", "negative", int(pop.loc[i])) for i in pop.index[pop < 0]]
        if bad:
            raise ValidationError("bad street population", bad,
                                  fix="fill in each street's resident population, or pass communities= to sum "
                                      "their population per street")
        out["population"] = pop
    if zone is not None:
        zones = [Zone.parse(zone)] * len(out)
    elif "zone" in out.columns and out["zone"].notna().all():
        zones = [Zone.parse(z) for z in out["zone"]]
    else:
        codes = out["district_code"] if "district_code" in out.columns else out["code"]
        zones = [zone_for_district(str(c)) for c in codes]
    out["zone"] = [z.value for z in zones]
    out["area_km2"] = out.geometry.area / 1e6
    oks, reasons = [], []
    for z, a, p in zip(zones, out["area_km2"], out["population"]):
        st = STANDARDS[z]
        r = []
        if a < st.min_area_km2:
            r.append(f"面积 {a:.2f} km² 小于 {st.min_area_km2:g} km² / area {a:.2f} km² below {st.min_area_km2:g} km²")
        if p < st.min_population:
            r.append(f"人口 {p:,.0f} 少于 {st.min_population:,} / population {p:,.0f} below {st.min_population:,}")
        if p > st.max_population:
            r.append(f"人口 {p:,.0f} 多于 {st.max_population:,} / population {p:,.0f} above {st.max_population:,}")
        oks.append(not r)
        reasons.append("; ".join(r))
    out["ok"] = np.array(oks, dtype=bool)
    out["reasons"] = reasons
    log.info("checked %d streets against the street-office standard: %d outside", len(out), int((~out["ok"]).sum()))
    return out
