"""Real district outlines from the optional ``geotool-cn`` package (not a dependency; nothing of it is committed).

``pip install geotool-cn`` ships, inside its wheel, the outlines of China's 34 provinces, 363 cities and 2,874
districts (``GeoToolCN/data/china.full.gtc``), taken from DataV.GeoAtlas (阿里云 DataV 地理小工具), which
republishes Amap (高德) boundaries; the package converted them from GCJ-02 to WGS 84 (about 0.6 m median, up to
about 5 m residual per vertex) and quantised them to 1e-5 degree. **Licence:** the package's code is MIT, but the
data is *not*: its notice reads 数据来源于高德开放平台，仅供学习交流使用 — "for learning and exchange only"; ask the
Amap Open Platform before commercial use or redistribution. These outlines are a convenience, not an official
statement of administrative boundaries.

geotool-cn's public API geocodes points and does not return polygons; :func:`district_outline` reads the
polygons through its reader object (``GeoTool()._data.geometry``), checked for shape so that a changed package
fails with a clear message rather than wrong data.

Examples
--------
>>> frame = district_outline("110101")            # doctest: +SKIP
>>> round(frame.area.iloc[0] / 1e6, 2), frame.attrs["licence"][:20]   # doctest: +SKIP
(41.83, 'DataV.GeoAtlas (Amap)')
"""

from __future__ import annotations

import importlib.metadata
import logging
from typing import Any

import geopandas as gpd
import shapely

from gridmap.crs import working_crs
from gridmap.errors import GridmapError, NotFoundError, message
from gridmap.io.validate import normalise_code

__all__ = ["OUTLINE_SOURCE", "OUTLINE_LICENCE", "OutlinesUnavailable", "district_outline", "outlines_available"]

log = logging.getLogger(__name__)

OUTLINE_SOURCE = ("geotool-cn {version} (PyPI), data from DataV.GeoAtlas (阿里云 DataV 地理小工具, "
                  "https://datav.aliyun.com/tools/atlas), boundaries of the Amap (高德) Open Platform, "
                  "GCJ-02 converted to WGS 84 by the package (≈0.6 m median, ≤≈5 m residual)")
OUTLINE_LICENCE = ("DataV.GeoAtlas (Amap): 数据来源于高德开放平台，仅供学习交流使用 — for learning and exchange only; "
                   "not covered by geotool-cn's MIT licence; ask the Amap Open Platform before commercial use or "
                   "redistribution; not an official statement of administrative boundaries")

INSTALL_HINT = ("install the optional package: `.venv/bin/pip install geotool-cn` (its outline data is for learning "
                "and exchange only), or import your own outline: `gridmap import districts FILE --map code=...`")


class OutlinesUnavailable(GridmapError, ImportError):
    """``geotool-cn`` is not installed (or no longer exposes outlines); the message says how to fix it."""


def outlines_available() -> bool:
    """True when ``geotool-cn`` is installed."""
    try:
        import GeoToolCN  # noqa: F401
    except ImportError:
        return False
    return True


def _tool():
    try:
        from GeoToolCN import GeoTool
    except ImportError as exc:
        raise OutlinesUnavailable(message("real district outlines need the optional package geotool-cn",
                                          got="it is not installed", fix=INSTALL_HINT)) from exc
    return GeoTool()


def district_outline(code: str, *, crs: Any = None) -> gpd.GeoDataFrame:
    """The outline of district ``code`` (6 digits, e.g. ``110101`` 东城区) in the working CRS.

    Returns a one-row GeoDataFrame with ``code``, ``name`` and the geometry (MultiPolygon), with
    ``frame.attrs['source']`` and ``frame.attrs['licence']`` stating where the data comes from and how it may
    be used. Raises :class:`OutlinesUnavailable` without ``geotool-cn`` and
    :class:`~gridmap.errors.NotFoundError` for an unknown code.
    """
    code = normalise_code(code) or ""
    if not (code.isdigit() and len(code) == 6):
        raise NotFoundError(message("a district code has 6 digits", got=repr(code), fix="e.g. 110101 for 东城区"))
    tool = _tool()
    data = getattr(tool, "_data", None)
    if data is None or not hasattr(data, "geometry") or not hasattr(data, "index_of") or not hasattr(data, "scale"):
        raise OutlinesUnavailable(message("this geotool-cn version does not expose outlines the way gridmap reads "
                                          "them", got=_version(), fix="install geotool-cn 3.1 "
                                          "(`pip install 'geotool-cn==3.1.*'`) or import your own outline"))
    index = data.index_of(code, "district")
    if index is None:
        near = [r.code + " " + r.name for r in tool.search(code[:4], level="district")][:5] if code[:4] else []
        raise NotFoundError(f"district {code} is not in geotool-cn's list", suggestions=near,
                            fix="use a current 6-digit district code (GB/T 2260)")
    decoded = data.geometry(index)
    if decoded is None:
        raise OutlinesUnavailable(message(f"geotool-cn has no outline for {code}", got=_version(),
                                          fix="use the package's full data tier, or import your own outline"))
    _, polygons = decoded
    scale = float(data.scale)
    parts = []
    for rings in polygons:
        shell = list(zip((x / scale for x in rings[0][0]), (y / scale for y in rings[0][1])))
        holes = [list(zip((x / scale for x in xs), (y / scale for y in ys))) for xs, ys in rings[1:]]
        parts.append(shapely.Polygon(shell, holes))
    geom = shapely.make_valid(shapely.MultiPolygon(parts))
    name = tool.get_region(code).name if tool.get_region(code) else None
    tool.close()
    target = working_crs(crs)
    frame = gpd.GeoDataFrame({"code": [code], "name": [name]}, geometry=[geom], crs="EPSG:4326").to_crs(target)
    frame.attrs["source"] = OUTLINE_SOURCE.format(version=_version())
    frame.attrs["licence"] = OUTLINE_LICENCE
    log.info("outline of %s %s from geotool-cn: %.2f km²", code, name, frame.area.iloc[0] / 1e6)
    return frame


def _version() -> str:
    try:
        return importlib.metadata.version("geotool-cn")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"
