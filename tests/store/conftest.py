"""Fixtures shared by the store suites: ``small``, a store with two communities of one street (once per backend)."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from gridmap.store import open_store


def small_store(url: str) -> None:
    """Two communities of one street, their cells, one component: enough for map, export, locate."""
    from gridmap.grid import build_cells

    s = open_store(url, crs="EPSG:4548")
    s.write("streets", gpd.GeoDataFrame({"code": ["110199001"], "district_code": "110199", "name": ["街道"]},
                                        geometry=[shapely.box(450000, 4418000, 451000, 4418500)], crs=4548))
    com = gpd.GeoDataFrame({"code": ["110199001001", "110199001002"], "street_code": "110199001",
                            "name": ["甲社区", "乙社区"], "households": [1500, 2500]},
                           geometry=[shapely.box(450000, 4418000, 450500, 4418500),
                                     shapely.box(450500, 4418000, 451000, 4418500)], crs=4548)
    s.write("communities", com)
    s.write("cells", build_cells(s.read("communities")))
    s.close()


@pytest.fixture
def small(store_url) -> str:
    small_store(store_url)
    return store_url
