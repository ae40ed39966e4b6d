"""Importing files: every bad row rejected with its reason, good rows kept, nothing else changed (both backends)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon

from gridmap.crs import wgs84_to_bd09, wgs84_to_gcj02
from gridmap.errors import CRSError, ValidationError
from gridmap.io import import_file, import_frame, read_vector


def communities(n=4):
    polys = [shapely.box(450000 + i * 1000, 4418000, 451000 + i * 1000, 4419000) for i in range(n)]
    return gpd.GeoDataFrame({"SQDM": [f"110199001{i + 1:03d}" for i in range(n)], "JDDM": "110199001",
                             "SQMC": [f"示范{i}社区" for i in range(n)], "HS": [1200, 3400, 5600, 800][:n]},
                            geometry=polys, crs="EPSG:4548")


MAP = {"code": "SQDM", "street_code": "JDDM", "name": "SQMC", "households": "HS"}


def test_bad_rows_are_reported_and_good_rows_kept(store, tmp_path):
    import_frame(store, "communities", communities(1), mapping=MAP)  # already stored: 110199001001
    before = store.read("communities")
    f = communities(4)
    f["SQDM"] = f["SQDM"].astype(object)
    f["HS"] = f["HS"].astype(object)
    f.loc[0, "SQDM"] = "110199001001"          # duplicate of a stored code
    f.loc[1, "SQDM"] = "11019900100A"          # non-numeric code
    f.loc[2, "HS"] = -5                        # negative households
    f.loc[3, "geometry"] = Polygon([(453000, 4418000), (454000, 4419000), (454000, 4418000), (453000, 4419000)])
    extra = communities(1).assign(SQDM="110199001009", HS=None)  # missing households
    good = communities(1).assign(SQDM="１１０１９９００１０１０")  # full-width digits are folded
    f = pd.concat([f, extra, good], ignore_index=True)
    path = tmp_path / "communities.gpkg"
    f.to_file(path, engine="pyogrio")
    res = import_file(store, "communities", path, mapping=MAP)
    reasons = {p.row: p.reason for p in res.rejected}
    assert res.written == 1
    assert "already in the store" in reasons[0]
    assert "digits only" in reasons[1]
    assert "must not be negative" in reasons[2]
    assert "invalid geometry" in reasons[3]
    assert "households are missing" in reasons[4]
    assert len(res.rejected) == 5 and set(res.rejected_frame.columns) == {"row", "field", "reason", "value"}
    after = store.read("communities")
    assert len(after) == len(before) + 1
    assert set(after["code"]) == set(before["code"]) | {"110199001010"}


def test_communities_without_a_households_column_are_rejected_with_the_fix(store):
    store.write("communities", gpd.GeoDataFrame(
        {"code": ["110199002001"], "street_code": "110199002", "households": [1500]},
        geometry=[shapely.MultiPolygon([shapely.box(460000, 4418000, 461000, 4419000)])], crs="EPSG:4548"))
    before = store.read("communities")
    f = communities(3).drop(columns="HS")
    r = import_frame(store, "communities", f, mapping={k: v for k, v in MAP.items() if k != "households"})
    assert r.written == 0 and len(r.rejected) == 3
    assert all("no households column" in p.reason and "--map households=" in p.reason for p in r.rejected)
    pd.testing.assert_frame_equal(store.read("communities"), before)  # the store holds what it held


def test_abort_mode_writes_nothing(store):
    f = communities(3)
    f["HS"] = f["HS"].astype(object)
    f.loc[1, "HS"] = "n/a"
    with pytest.raises(ValidationError, match="nothing was imported"):
        import_frame(store, "communities", f, mapping=MAP, on_error="abort")
    assert store.count("communities") == 0


def test_code_prefix_must_match_parent(store):
    f = communities(1).assign(JDDM="110199002")
    res = import_frame(store, "communities", f, mapping=MAP)
    assert res.written == 0 and "does not start with its street_code" in res.rejected[0].reason


def test_missing_crs_is_an_error(store, tmp_path):
    f = communities(2).set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="has no CRS"):
        import_frame(store, "communities", f, mapping=MAP)
    pd.DataFrame({"x": [452000.0], "y": [4418000.0], "wkt": ["POINT (452000 4418000)"]}).to_csv(tmp_path / "a.csv")
    with pytest.raises(CRSError, match="no declared CRS"):
        read_vector(tmp_path / "a.csv")


def test_swapped_lat_lon_is_an_error(tmp_path):
    pd.DataFrame({"lat": [116.39, 116.40], "lon": [39.90, 39.91]}).to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(CRSError, match="swapped"):
        read_vector(tmp_path / "p.csv")


@pytest.mark.parametrize("system,forward", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_csv_lonlat_systems_land_on_the_same_ground(tmp_path, system, forward):
    lon, lat = np.array([116.397477, 116.41]), np.array([39.908692, 39.92])
    slon, slat = forward(lon, lat)
    pd.DataFrame({"lon": slon, "lat": slat}).to_csv(tmp_path / "p.csv", index=False)
    g = read_vector(tmp_path / "p.csv", lonlat=system).to_crs(4548)
    ref = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(4548)
    assert g.geometry.distance(ref).max() < 0.01  # metres


def test_unparseable_coordinates_are_rejected_not_dropped(store, tmp_path):
    pd.DataFrame({"source_id": ["a", "b"], "received_at": ["2025-06-01 08:00", "2025-06-01 09:00"],
                  "lon": ["116.40", "abc"], "lat": ["39.91", "39.92"]}).to_csv(tmp_path / "c.csv", index=False)
    res = import_file(store, "complaints", tmp_path / "c.csv")
    assert res.written == 1 and res.rejected[0].row == 1 and "missing" in res.rejected[0].reason
