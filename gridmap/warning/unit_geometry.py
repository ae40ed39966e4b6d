"""Polygons for the rows of an alert table: each row's cell, community or street, taken from the layers.

:func:`~gridmap.warning.alerts.early_warning` attaches them when it is given cells with geometry, and the map
(:func:`gridmap.maps.warning_layers`) fills rows of a table that has none (one way for both).

Examples
--------
>>> import geopandas as gpd, pandas as pd, shapely
>>> cells = gpd.GeoDataFrame({"code": ["110101001001001", "110101001001002"],
...                           "community_code": ["110101001001"] * 2},
...                          geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)], crs="EPSG:4548")
>>> table = pd.DataFrame({"unit_type": ["cell", "community", "cell"],
...                       "unit": ["110101001001002", "110101001001", "999"]})
>>> out = attach_unit_geometry(table, cells=cells)
>>> out.geometry.area.tolist()[:2], bool(out.geometry.isna().iloc[2])
([10000.0, 20000.0], True)
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import ValidationError, message

__all__ = ["attach_unit_geometry", "unit_columns"]


def unit_columns(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """``(unit_type, unit)`` of an alert table (``unit`` or ``cell_code``; no ``unit_type`` means cells)."""
    unit = next((frame[n] for n in ("unit", "cell_code") if n in frame.columns), None)
    unit = pd.Series(pd.NA, index=frame.index, dtype="string") if unit is None else unit.astype("string")
    if "unit_type" in frame.columns:
        utype = frame["unit_type"].astype("string")
    else:
        utype = pd.Series(np.where(unit.notna(), "cell", pd.NA), index=frame.index, dtype="string")
    return utype, unit


def _union(geoms: Any) -> Any:
    return shapely.union_all(geoms.values) if isinstance(geoms, gpd.GeoSeries) else geoms


def _area_of(unit_type: str, unit: str, cells: gpd.GeoDataFrame | None,
             communities: gpd.GeoDataFrame | None) -> Any:
    """Union of the cells (or communities) of a community or street: by its code column, else by code prefix."""
    key = f"{unit_type}_code"
    for src in (cells, communities):
        if src is not None and key in src.columns:
            sub = src[src[key] == unit]
            return shapely.union_all(sub.geometry.values) if len(sub) else None
    for src, col in ((communities, "code"), (cells, "community_code")):
        if src is not None and col in src.columns:
            sub = src[src[col].astype(str).str.startswith(str(unit))]
            return shapely.union_all(sub.geometry.values) if len(sub) else None
    return None


def attach_unit_geometry(table: pd.DataFrame, *, cells: gpd.GeoDataFrame | None = None,
                         communities: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """``table`` with each row's polygon: its cell, its community, or the union of a community's / street's cells.

    Rows are located by ``unit_type`` and ``unit`` (see :func:`unit_columns`). A community is its polygon in
    ``communities`` when given, else the union of its cells; a street is the union of its cells (by
    ``street_code``, else by the community codes it prefixes). Units not found get no geometry (None). Any
    geometry ``table`` had is replaced; the CRS is the layers'.
    """
    if cells is None and communities is None:
        raise ValidationError(message("the alert table has no geometry and no layer to take it from",
                                      where="warning_layers", got=f"{len(table)} rows without geometry",
                                      fix="pass cells= (and communities=) from the store, or run early_warning "
                                          "with cells that have geometry"))
    crs = (cells if cells is not None else communities).crs
    cell_geom = None if cells is None else \
        cells.set_index(cells["code"].astype(str)).geometry if "code" in cells.columns else cells.geometry
    comm_geom = communities.set_index(communities["code"].astype(str)).geometry \
        if communities is not None and "code" in communities.columns else None
    utype, unit = unit_columns(table)
    geoms = []
    for t, u in zip(utype, unit):
        g = None
        if pd.isna(u):
            pass
        elif t == "cell" and cell_geom is not None and u in cell_geom.index:
            g = _union(cell_geom.loc[u])
        elif t == "community" and comm_geom is not None and u in comm_geom.index:
            g = _union(comm_geom.loc[u])
        elif t in ("community", "street"):
            g = _area_of(t, u, cells, communities)
        geoms.append(g)
    plain = pd.DataFrame(table).drop(columns=[c for c in ("geometry",) if c in table.columns])
    return gpd.GeoDataFrame(plain, geometry=gpd.GeoSeries(geoms, index=plain.index, crs=crs), crs=crs)
