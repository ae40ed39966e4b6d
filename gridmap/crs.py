"""Coordinate reference systems: the working CRS, one validator, and China's web offsets.

gridmap stores and analyses everything in one projected *working CRS* (EPSG:4548,
CGCS2000 / 3-degree Gauss-Kruger CM 117E, by default; set ``GRIDMAP_CRS`` or pass
``crs=`` to change it). Maps reproject to WGS 84 at the edge.

Input coordinates may be declared in four lon/lat systems (:class:`LonLatSystem`):
WGS 84 and CGCS2000 (the same for our purposes), GCJ-02 (Amap/Gaode, Tencent) and
BD-09 (Baidu). GCJ-02 and BD-09 are converted to WGS 84 with an iterative inverse
whose error is far below a metre.

Coordinates are always ``(x, y)`` = ``(lon, lat)`` or ``(easting, northing)``
inside gridmap; every transformer is built with ``always_xy=True``.

Examples
--------
>>> x, y = to_working_xy([116.397477], [39.908692])   # Tiananmen, WGS 84
>>> round(float(x[0])), round(float(y[0]))
(448480, 4419565)
>>> lon, lat = wgs84_to_gcj02(116.397477, 39.908692)
>>> back = gcj02_to_wgs84(lon, lat)
>>> abs(float(back[0]) - 116.397477) < 1e-8
True
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as _PyprojCRSError

from gridmap._enums import ChoiceEnum
from gridmap.errors import CRSError, message

__all__ = [
    "DEFAULT_WORKING_CRS",
    "LonLatSystem",
    "working_crs",
    "parse_crs",
    "check_crs",
    "transformer",
    "to_working_xy",
    "to_wgs84_xy",
    "lonlat_to_wgs84",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "wgs84_to_bd09",
    "bd09_to_wgs84",
    "check_lonlat_order",
]

DEFAULT_WORKING_CRS = "EPSG:4548"
WGS84 = "EPSG:4326"


class LonLatSystem(ChoiceEnum, what="lon/lat coordinate system"):
    """Geographic coordinate systems accepted for lon/lat input."""

    WGS84 = "wgs84"
    CGCS2000 = "cgcs2000"
    GCJ02 = "gcj02"
    BD09 = "bd09"

    @classmethod
    def _key(cls, value: object) -> str:
        return str(value).strip().lower().replace("-", "").replace("_", "").replace(" ", "")

    @classmethod
    def _aliases(cls) -> dict[str, "LonLatSystem"]:
        return {"wgs84": cls.WGS84, "epsg4326": cls.WGS84, "4326": cls.WGS84,
                "cgcs2000": cls.CGCS2000, "epsg4490": cls.CGCS2000, "4490": cls.CGCS2000,
                "gcj02": cls.GCJ02, "amap": cls.GCJ02, "gaode": cls.GCJ02, "tencent": cls.GCJ02,
                "bd09": cls.BD09, "baidu": cls.BD09}

    @classmethod
    def _unknown(cls, value: object) -> CRSError:
        return CRSError(message("unknown lon/lat coordinate system", got=repr(value),
                                fix="use one of " + cls.choices()))


def parse_crs(value: Any, *, where: str = "crs") -> CRS:
    """Parse an EPSG code, ``'EPSG:nnnn'``, WKT, PROJ string or :class:`pyproj.CRS`, with a clear error."""
    if value is None:
        raise CRSError(message("no CRS given", where=where, fix="pass an EPSG code such as 'EPSG:4548' or a WKT"))
    if isinstance(value, CRS):
        return value
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        value = f"EPSG:{int(value)}"
    try:
        return CRS.from_user_input(value)
    except _PyprojCRSError as exc:
        raise CRSError(message("cannot understand this CRS", where=where, got=repr(value)[:200],
                               fix="pass 'EPSG:nnnn' or a full WKT (for local systems, the WKT your surveyor gave)")) from exc


def working_crs(crs: Any = None) -> CRS:
    """The working CRS: ``crs`` if given, else ``$GRIDMAP_CRS``, else EPSG:4548. Must be projected in metres."""
    crs_obj = parse_crs(crs if crs is not None else os.environ.get("GRIDMAP_CRS", DEFAULT_WORKING_CRS),
                        where="working CRS")
    if not crs_obj.is_projected:
        raise CRSError(message("the working CRS must be projected (metres)", got=crs_obj.to_string(),
                               fix="use a projected CRS such as EPSG:4548 (CGCS2000 / 3-degree GK CM 117E)"))
    unit = crs_obj.axis_info[0].unit_name if crs_obj.axis_info else ""
    if unit not in ("metre", "meter"):
        raise CRSError(message("the working CRS must use metres", got=f"{crs_obj.to_string()} in {unit}"))
    return crs_obj


def _name(crs: CRS | None) -> str:
    if crs is None:
        return "no CRS"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def check_crs(frame: Any, *, where: str, expected: Any = None, metric: bool = False) -> CRS:
    """Validate a GeoDataFrame/GeoSeries CRS at a public entry point and return it.

    Raises :class:`~gridmap.errors.CRSError` when the CRS is missing, differs from ``expected``,
    or is geographic while ``metric=True`` (an operation in metres).

    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> check_crs(gpd.GeoDataFrame(geometry=[Point(0, 0)]), where="cells")
    Traceback (most recent call last):
    ...
    gridmap.errors.CRSError: cells has no CRS; got None. Fix: declare it with .set_crs('EPSG:4548') (projected) or .set_crs('EPSG:4326') (lon/lat), never guess
    """
    crs = getattr(frame, "crs", None)
    if crs is None:
        raise CRSError(message(f"{where} has no CRS", got="None",
                               fix="declare it with .set_crs('EPSG:4548') (projected) or .set_crs('EPSG:4326') "
                                   "(lon/lat), never guess"))
    crs = CRS.from_user_input(crs)
    if expected is not None:
        exp = parse_crs(expected, where=where)
        if not crs.equals(exp, ignore_axis_order=True):
            raise CRSError(message(f"{where} is in {_name(crs)} but {_name(exp)} is expected", got=_name(crs),
                                   fix=f"reproject first with .to_crs('{_name(exp)}')"))
    if metric and not crs.is_projected:
        raise CRSError(message(f"{where} is in geographic {_name(crs)}; this operation works in metres",
                               got=_name(crs), fix=f"reproject with .to_crs('{DEFAULT_WORKING_CRS}') "
                                                   "(or your working CRS) first"))
    return crs


@lru_cache(maxsize=64)
def _cached_transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt), always_xy=True)


def transformer(src: Any, dst: Any) -> Transformer:
    """A cached ``always_xy=True`` transformer from ``src`` to ``dst``."""
    return _cached_transformer(parse_crs(src).to_wkt(), parse_crs(dst).to_wkt())


def to_working_xy(lon: Any, lat: Any, *, crs: Any = None, system: "str | LonLatSystem" = LonLatSystem.WGS84):
    """Lon/lat in ``system`` to (x, y) arrays in the working CRS."""
    lon, lat = lonlat_to_wgs84(lon, lat, system)
    return transformer(WGS84, working_crs(crs)).transform(lon, lat)


def to_wgs84_xy(x: Any, y: Any, *, crs: Any = None):
    """(x, y) in the working CRS (or ``crs``) to (lon, lat) arrays in WGS 84."""
    return transformer(working_crs(crs) if crs is None else parse_crs(crs), WGS84).transform(
        np.asarray(x, dtype=float), np.asarray(y, dtype=float))


# --- China's web offsets (GCJ-02, BD-09) -----------------------------------------------------------------

_A = 6378245.0
_EE = 0.00669342162296594323
_XPI = np.pi * 3000.0 / 180.0


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def _arrays(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 lon/lat to GCJ-02 (the published forward formula; applied everywhere, China or not)."""
    lon, lat = _arrays(lon, lat)
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def _invert(forward, u: np.ndarray, v: np.ndarray, tol: float = 1e-10, max_iter: int = 30):
    """Invert ``forward`` by fixed-point iteration starting at the target (the offsets are small and smooth)."""
    x, y = u.copy(), v.copy()
    for _ in range(max_iter):
        fu, fv = forward(x, y)
        du, dv = fu - u, fv - v
        x = x - du
        y = y - dv
        if np.nanmax(np.abs(du), initial=0.0) < tol and np.nanmax(np.abs(dv), initial=0.0) < tol:
            break
    return x, y


def gcj02_to_wgs84(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 lon/lat to WGS 84 by iterating the forward formula (error well below 1 mm)."""
    return _invert(wgs84_to_gcj02, *_arrays(lon, lat))


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 lon/lat to BD-09 (Baidu's published forward formula)."""
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _XPI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _XPI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 lon/lat to GCJ-02 by iterating the forward formula."""
    return _invert(gcj02_to_bd09, *_arrays(lon, lat))


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 to BD-09 (via GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 to WGS 84 (via GCJ-02, both steps iterative)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def lonlat_to_wgs84(lon: Any, lat: Any, system: "str | LonLatSystem") -> tuple[np.ndarray, np.ndarray]:
    """Convert lon/lat declared in ``system`` to WGS 84 (CGCS2000 is taken as equal to WGS 84)."""
    system = LonLatSystem.parse(system)
    lon, lat = _arrays(lon, lat)
    if system is LonLatSystem.GCJ02:
        return gcj02_to_wgs84(lon, lat)
    if system is LonLatSystem.BD09:
        return bd09_to_wgs84(lon, lat)
    return lon, lat


# China's bounding box, generously: used to tell swapped lon/lat from real coordinates.
_CHINA_LON = (73.0, 136.0)
_CHINA_LAT = (3.0, 54.0)


def check_lonlat_order(lon: Any, lat: Any, *, where: str = "input") -> None:
    """Raise if lon/lat look swapped or out of range (the commonest input mistake).

    >>> check_lonlat_order([39.9], [116.4], where="complaints.csv")
    Traceback (most recent call last):
    ...
    gridmap.errors.CRSError: longitude and latitude look swapped (at complaints.csv); got lon=39.9, lat=116.4 for the first row. Fix: swap the columns (lon is east-west, 73-136 in China; lat is 3-54), or map them with --map lon=...,lat=...
    """
    lon, lat = _arrays(lon, lat)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return
    lo, la = lon[ok], lat[ok]
    if (np.abs(la) > 90).any() and (np.abs(lo) <= 90).all():
        raise CRSError(message("longitude and latitude look swapped", where=where,
                               got=f"lon={lo[0]:g}, lat={la[0]:g} for the first row",
                               fix="swap the columns (lon is east-west, 73-136 in China; lat is 3-54), "
                                   "or map them with --map lon=...,lat=..."))
    in_china = (lo >= _CHINA_LON[0]) & (lo <= _CHINA_LON[1]) & (la >= _CHINA_LAT[0]) & (la <= _CHINA_LAT[1])
    swapped = (la >= _CHINA_LON[0]) & (la <= _CHINA_LON[1]) & (lo >= _CHINA_LAT[0]) & (lo <= _CHINA_LAT[1])
    if swapped.mean() > 0.5 and in_china.mean() < 0.5:
        raise CRSError(message("longitude and latitude look swapped", where=where,
                               got=f"lon={lo[0]:g}, lat={la[0]:g} for the first row",
                               fix="swap the columns (lon is east-west, 73-136 in China; lat is 3-54), "
                                   "or map them with --map lon=...,lat=..."))
    if (np.abs(lo) > 180).any() or (np.abs(la) > 90).any():
        raise CRSError(message("coordinates are not lon/lat degrees", where=where,
                               got=f"x={lo[0]:g}, y={la[0]:g} for the first row",
                               fix="declare the projected CRS of these coordinates (e.g. --crs EPSG:4548)"))
