"""Fixtures shared by the map suites: the offline asset bundle, and sample layers shaped like the store's tables."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.testing.maps import sample_layers

#: the street whose community gets the complaint surge in ``layers``
STREET = "110101002"


@pytest.fixture(scope="session")
def map_assets():
    """The offline map bundle (Leaflet and its plugins from the npm registry), installed if missing (idempotent,
    quick when present). Map test modules use it with ``pytestmark = pytest.mark.usefixtures("map_assets")``."""
    import subprocess
    from pathlib import Path

    from gridmap.maps import AssetsMissingError, check_assets

    try:
        check_assets()
    except AssetsMissingError:
        subprocess.run(["bash", str(Path(__file__).resolve().parents[2] / "scripts" / "fetch_assets.sh")], check=True)


@pytest.fixture(scope="module")
def layers():
    """Sample layers with planted payloads and personal data, shaped like the store's tables, plus a
    complaint history with a surge in one community (so the early warning has something to find)."""
    d = sample_layers(components_per_street=200, complaints_per_street=600, payloads=True)
    rng = np.random.default_rng(3)
    comm = d["communities"].copy()
    comm.geometry = comm.geometry.map(lambda g: shapely.MultiPolygon([g]))
    cells = d["cells"].drop(columns="street_code").copy()
    cells["community_code"] = cells["code"].str[:12]           # the payload planted there is for map-only tests
    cells.geometry = cells.geometry.map(lambda g: shapely.MultiPolygon([g]))
    streets = d["streets"].copy()
    streets.geometry = streets.geometry.map(lambda g: shapely.MultiPolygon([g]))
    comps = d["components"].copy()
    comps["district_code"] = "110101"
    comps["serial"] = comps["code"].str[4:].astype(int)
    comps["national_id"] = "110101" + comps["class_code"] + comps["serial"].map("{:06d}".format)
    comps["community_code"] = None
    # Complaints: a year of background, plus a surge in one street-2 community in the last two weeks.
    pts = d["complaints"].copy()
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 180, len(pts)), unit="D")
    pts["received_at"] = days + pd.to_timedelta(rng.integers(0, 86400, len(pts)), unit="s")
    hot = cells[cells["code"].str.startswith(STREET + "005")].geometry.union_all()
    n = 400
    x0, y0, x1, y1 = hot.bounds
    surge = gpd.GeoDataFrame({"street_code": STREET, "category": "房屋漏雨 roof leak",
                              "text": ["屋顶漏雨，联系 13812345678"] * n,
                              "source_id": [f"H{i:06d}" for i in range(n)],
                              "received_at": pd.Timestamp("2024-06-15") + pd.to_timedelta(rng.integers(0, 14 * 86400, n),
                                                                                         unit="s")},
                             geometry=gpd.points_from_xy(rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)),
                             crs=pts.crs)
    pts = gpd.GeoDataFrame(pd.concat([pts, surge], ignore_index=True), crs=pts.crs)
    join = gpd.sjoin(pts[["geometry"]], cells[["code", "community_code", "geometry"]], predicate="within")
    join = join[~join.index.duplicated()]
    pts["cell_code"] = join["code"].reindex(pts.index)
    pts["community_code"] = join["community_code"].reindex(pts.index)
    return {"streets": streets, "communities": comm, "cells": cells, "components": comps, "complaints": pts}
