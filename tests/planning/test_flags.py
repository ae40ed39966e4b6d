"""Community size flags and the street-office standard."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridmap.errors import CRSError, ValidationError
from gridmap.planning import SizeClass, check_streets, flag_communities, summarize_flags, Zone

CRS = "EPSG:4548"


def _communities(hh, streets=None):
    n = len(hh)
    return gpd.GeoDataFrame({"code": [f"110101001{i:03d}" for i in range(n)],
                             "street_code": streets or ["110101001"] * n, "households": hh},
                            geometry=[shapely.box(i, 0, i + 1, 1) for i in range(n)], crs=CRS)


def test_classes_at_the_thresholds():
    c = _communities([0, 999, 1000, 3000, 3001, 5000, 5001])
    f = flag_communities(c)
    assert [s.name for s in f["size_class"]] == ["BELOW", "BELOW", "IN_RANGE", "IN_RANGE", "ADJUST", "ADJUST",
                                                 "SUPER_LARGE"]
    assert all(isinstance(s, SizeClass) for s in f["size_class"])
    assert f["size_label"].iloc[-1].startswith("超大社区")
    assert f["min_parts"].tolist() == [1, 1, 1, 1, 2, 2, 2]
    assert "size_class" not in c.columns  # input untouched
    assert f.crs == c.crs and f.index.equals(c.index)


def test_configurable_thresholds_and_errors():
    c = _communities([1500, 2500])
    f = flag_communities(c, floor=500, adjust=2000, super_large=2400)
    assert [s.name for s in f["size_class"]] == ["IN_RANGE", "SUPER_LARGE"]
    with pytest.raises(ValidationError, match="floor must not be above the ceiling"):
        flag_communities(c, floor=4000, adjust=3000)
    with pytest.raises(ValidationError, match="super-large threshold must be above"):
        flag_communities(c, super_large=2000)
    with pytest.raises(ValidationError, match="positive"):
        flag_communities(c, floor=-1)


def test_bad_households_and_crs():
    c = _communities([1500, 2500])
    c.loc[1, "households"] = None
    with pytest.raises(ValidationError, match="missing"):
        flag_communities(c)
    c = _communities([1500, -3])
    with pytest.raises(ValidationError, match="negative"):
        flag_communities(c)
    with pytest.raises(CRSError):
        flag_communities(_communities([1]).set_crs(None, allow_override=True))


def test_summary_by_street_with_totals():
    c = _communities([800, 1500, 3500, 6000, 2000], streets=["A", "A", "A", "B", "B"])
    s = summarize_flags(flag_communities(c))
    assert s["street_code"].tolist() == ["A", "B", "合计 total"]
    row = s.set_index("street_code").loc["合计 total"]
    assert row["communities"] == 5 and row["households"] == 13800
    assert (row["below"], row["in_range"], row["adjust"], row["super_large"], row["oversized"]) == (1, 2, 1, 1, 2)


def test_street_standard_by_zone():
    box = lambda km2: shapely.box(0, 0, 1000, 1000 * km2)  # noqa: E731
    s = gpd.GeoDataFrame({"code": ["110101001", "110105001", "110115001", "110101002"],
                          "population": [60_000, 160_000, 35_000, 120_000]},
                         geometry=[box(2.5), box(3.5), box(4.0), box(1.5)], crs=CRS)
    r = check_streets(s)
    assert r["zone"].tolist() == ["core", "inner", "other", "core"]
    assert r["ok"].tolist() == [True, False, False, False]
    assert "population 160,000 above 150,000" in r["reasons"].iloc[1]
    assert "area 4.00 km² below 5 km²" in r["reasons"].iloc[2]
    assert "面积" in r["reasons"].iloc[3] and "人口" in r["reasons"].iloc[3]
    r2 = check_streets(s, zone="其他")
    assert set(r2["zone"]) == {Zone.OTHER.value}
    with pytest.raises(ValidationError, match="zone"):
        check_streets(s, zone="moon")


def test_street_population_from_communities():
    s = gpd.GeoDataFrame({"code": ["110101001"], "zone": ["东城"]}, geometry=[shapely.box(0, 0, 2000, 1500)],
                         crs=CRS)
    c = _communities([1000, 2000], streets=["110101001", "110101001"])
    c["population"] = [30_000, 25_000]
    c["active"] = [True, True]
    r = check_streets(s, c)
    assert r["population"].iloc[0] == 55_000 and bool(r["ok"].iloc[0])
    c["active"] = [True, False]  # retired communities do not count
    assert check_streets(s, c)["population"].iloc[0] == 30_000
    with pytest.raises(CRSError):
        check_streets(s.to_crs(4326))
