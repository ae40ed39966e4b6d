"""From working-CRS geometry to what the page draws: WGS 84 (or GCJ-02 for Gaode), [lat, lon], compact.

This is the only place in gridmap that turns (x, y) into [lat, lon]. Coordinates are rounded to
``1e-5`` degree (about 1 m) and written as integers in that unit, delta-coded along each ring, which the
inline runtime decodes (``gridmap.ring``). Geometry is simplified in the working CRS first, with a tolerance
of half a screen pixel at the zoom the map is meant to be read at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import CRS

from gridmap.crs import transformer, wgs84_to_gcj02, gcj02_to_wgs84

__all__ = ["Display", "tolerance_m", "COORD_SCALE"]

WGS84 = "EPSG:4326"
#: Integer units per degree in the page (1e-5 degree, about 1.1 m north-south at Beijing).
COORD_SCALE = 100_000
_EARTH_M = 6378137.0


def tolerance_m(zoom: float, *, lat: float = 39.9, pixels: float = 0.5) -> float:
    """Metres that ``pixels`` screen pixels cover at web-map ``zoom`` and latitude ``lat``.

    >>> round(tolerance_m(17), 2)
    0.46
    """
    return pixels * 2 * math.pi * _EARTH_M * math.cos(math.radians(lat)) / (256 * 2 ** zoom)


@dataclass(frozen=True)
class Display:
    """How a map draws coordinates: source CRS, whether to shift into GCJ-02, simplification zoom."""

    crs: CRS
    gcj02: bool = False
    detail_zoom: float = 17.0

    # -- points ---------------------------------------------------------------------------------------
    def lonlat(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) in ``crs`` to display lon/lat (WGS 84, or GCJ-02 when drawing on Gaode tiles)."""
        lon, lat = transformer(self.crs, WGS84).transform(np.asarray(x, float), np.asarray(y, float))
        if self.gcj02:
            lon, lat = wgs84_to_gcj02(lon, lat)
        return np.asarray(lon, float), np.asarray(lat, float)

    def to_source(self, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        """Display lon/lat back to (x, y) in ``crs`` (inverse of :meth:`lonlat`)."""
        lon, lat = np.asarray(lon, float), np.asarray(lat, float)
        if self.gcj02:
            lon, lat = gcj02_to_wgs84(lon, lat)
        return transformer(WGS84, self.crs).transform(lon, lat)

    def latlon_int(self, x: Any, y: Any) -> np.ndarray:
        """(n, 2) int array of [lat, lon] in 1e-5 degree."""
        lon, lat = self.lonlat(x, y)
        return np.column_stack([np.rint(lat * COORD_SCALE), np.rint(lon * COORD_SCALE)]).astype(np.int64)

    def bounds_latlon(self, bounds: tuple[float, float, float, float]) -> list[list[float]]:
        """[[south, west], [north, east]] of a working-CRS box (its corners and edge midpoints)."""
        x0, y0, x1, y1 = bounds
        xs = np.array([x0, x1, x0, x1, (x0 + x1) / 2, (x0 + x1) / 2, x0, x1])
        ys = np.array([y0, y0, y1, y1, y0, y1, (y0 + y1) / 2, (y0 + y1) / 2])
        lon, lat = self.lonlat(xs, ys)
        return [[round(float(lat.min()), 5), round(float(lon.min()), 5)],
                [round(float(lat.max()), 5), round(float(lon.max()), 5)]]

    # -- polygons -------------------------------------------------------------------------------------
    @property
    def tolerance_m(self) -> float:
        return tolerance_m(self.detail_zoom)

    def encode_areas(self, geoms: Any) -> list[list[list[list[int]]]]:
        """Polygons/multipolygons to [[ring, ...] per part] with delta-coded [lat, lon] integer rings."""
        geoms = np.asarray(geoms, dtype=object)
        geoms = shapely.simplify(geoms, self.tolerance_m, preserve_topology=True)
        out: list[list[list[list[int]]]] = []
        for geom in geoms:
            parts = []
            for poly in shapely.get_parts(geom):
                if poly.is_empty or poly.geom_type != "Polygon":
                    continue
                rings = [poly.exterior, *poly.interiors]
                enc = [self._ring(np.asarray(r.coords)) for r in rings]
                enc = [r for r in enc if len(r) >= 6]
                if enc:
                    parts.append(enc)
            out.append(parts)
        return out

    def _ring(self, coords: np.ndarray) -> list[int]:
        pts = self.latlon_int(coords[:, 0], coords[:, 1])
        if len(pts) > 1 and (pts[0] == pts[-1]).all():
            pts = pts[:-1]
        keep = np.ones(len(pts), bool)
        keep[1:] = (np.diff(pts, axis=0) != 0).any(axis=1)
        pts = pts[keep]
        delta = pts.copy()
        delta[1:] = np.diff(pts, axis=0)
        return delta.ravel().tolist()

    def encode_points(self, x: Any, y: Any) -> list[int]:
        """Points to a flat delta-coded [lat, lon, lat, lon, ...] integer list (in the given order)."""
        pts = self.latlon_int(x, y)
        if len(pts) == 0:
            return []
        delta = pts.copy()
        delta[1:] = np.diff(pts, axis=0)
        return delta.ravel().tolist()
