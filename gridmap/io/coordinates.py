"""Source coordinate systems on import: EPSG codes, user WKT (files or text), and the working CRS's zone.

:func:`source_crs` accepts what a surveyor hands over: ``4548``, ``'EPSG:4527'``, a PROJ string, the WKT text, or
the path of a ``.prj``/``.wkt`` file holding it (the Beijing local grid's parameters are not public, so it only
ever arrives as such a file). :func:`zone_warnings` says when data lies outside the area the working CRS is
meant for (EPSG:4548 is the 3-degree Gauss-Krüger zone at 117°E, usable from 115.5°E to 118.5°E): distances and
areas there are distorted, or the declared CRS is wrong.

Examples
--------
>>> source_crs(4548).to_epsg()
4548
>>> import geopandas as gpd, shapely
>>> far = gpd.GeoDataFrame(geometry=[shapely.Point(121.47, 31.23)], crs="EPSG:4326")  # Shanghai
>>> zone_warnings(far, "EPSG:4548")[0][:60]
'1 of 1 feature(s) lie outside the area of use of EPSG:4548 ('
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from pyproj import CRS

from gridmap.crs import parse_crs, transformer

__all__ = ["source_crs", "zone_warnings"]


def source_crs(value: Any, *, where: str = "--src-crs") -> CRS:
    """Parse a source CRS: EPSG code, WKT/PROJ text, :class:`pyproj.CRS`, or a path to a ``.prj``/``.wkt`` file."""
    if isinstance(value, (str, os.PathLike)) and not isinstance(value, CRS):
        text = os.fspath(value).strip()
        if len(text) < 1024 and not text.upper().startswith(("EPSG", "PROJCS", "GEOGCS", "PROJCRS", "GEOGCRS",
                                                            "+PROJ", "{")):
            path = Path(text).expanduser()
            if path.suffix.lower() in (".prj", ".wkt", ".txt") or path.is_file():
                if not path.is_file():
                    raise FileNotFoundError(f"CRS file not found: {path}")
                return parse_crs(path.read_text(encoding="utf-8-sig", errors="replace").strip(),
                                 where=f"{where} ({path.name})")
    return parse_crs(value, where=where)


def zone_warnings(frame: gpd.GeoDataFrame, working: Any) -> list[str]:
    """Warnings when features (by centroid of their envelope) lie outside the working CRS's area of use."""
    crs = parse_crs(working)
    aou = crs.area_of_use
    if aou is None or frame.crs is None or frame.empty:
        return []
    bounds = frame.geometry.bounds.dropna()
    if bounds.empty:
        return []
    cx = ((bounds["minx"] + bounds["maxx"]) / 2).to_numpy()
    cy = ((bounds["miny"] + bounds["maxy"]) / 2).to_numpy()
    lon, lat = transformer(frame.crs, "EPSG:4326").transform(cx, cy)
    lon, lat = np.asarray(lon), np.asarray(lat)
    out = (lon < aou.west) | (lon > aou.east) | (lat < aou.south) | (lat > aou.north)
    if not out.any():
        return []
    name = f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else crs.name
    return [f"{int(out.sum())} of {len(out)} feature(s) lie outside the area of use of {name} "
            f"({aou.west:g}–{aou.east:g}°E, {aou.south:g}–{aou.north:g}°N), e.g. at {lon[out][0]:.4f}°E "
            f"{lat[out][0]:.4f}°N: check the declared source CRS (--src-crs / --lonlat), or create the store in "
            "the zone that covers your city"]
