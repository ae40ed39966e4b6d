"""Optional online basemaps. The default is none: the map then works with no network at all.

===========  ==========================================================  ============================
basemap      tiles                                                       overlays drawn in
===========  ==========================================================  ============================
none         no tiles (offline)                                          WGS 84
osm          OpenStreetMap standard tiles                                WGS 84
tianditu     天地图 vector + annotation, Web Mercator (needs ``tk``)     WGS 84 (CGCS2000, no shift)
gaode        高德 road map tiles                                         **GCJ-02** (shifted to fit)
===========  ==========================================================  ============================

Any basemap other than ``none`` loads tiles from the internet when the page is viewed; ``build_map`` refuses
them unless ``offline=False`` is passed, and then the tile URL template(s) below are the only external URLs
in the page (:func:`tile_url_templates`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gridmap._enums import ChoiceEnum
from gridmap.errors import ValidationError, message

__all__ = ["Basemap", "TileSpec", "tile_specs", "tile_url_templates"]


class Basemap(ChoiceEnum, what="basemap"):
    """Basemap choice: ``none`` (offline, default), ``osm``, ``tianditu`` (needs a key), ``gaode`` (GCJ-02)."""

    NONE = "none"
    OSM = "osm"
    TIANDITU = "tianditu"
    GAODE = "gaode"

    @classmethod
    def parse(cls, value: "str | Basemap | None") -> "Basemap":
        return cls.NONE if value is None else super().parse(value)

    @property
    def gcj02(self) -> bool:
        """True when overlays must be shifted into GCJ-02 to sit on this basemap's streets."""
        return self is Basemap.GAODE


@dataclass(frozen=True)
class TileSpec:
    url: str
    attribution: str
    name: str
    subdomains: str = "abc"
    max_zoom: int = 19


_TK_RE = re.compile(r"^[0-9A-Za-z]{8,64}$")


def tile_specs(basemap: "str | Basemap", *, tianditu_key: str | None = None) -> list[TileSpec]:
    """The tile layer(s) for ``basemap`` (empty for ``none``)."""
    b = Basemap.parse(basemap)
    if b is Basemap.NONE:
        return []
    if b is Basemap.OSM:
        return [TileSpec("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                         "&copy; OpenStreetMap contributors", "OpenStreetMap", "abc", 19)]
    if b is Basemap.GAODE:
        return [TileSpec("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
                         "&x={x}&y={y}&z={z}", "&copy; 高德地图 AutoNavi", "高德 Gaode", "1234", 18)]
    # Tianditu: the key is a hex token; refuse anything else so it cannot inject into the URL or the page.
    if not tianditu_key or not _TK_RE.match(tianditu_key):
        raise ValidationError(message("the Tianditu basemap needs your key (tk)", where="basemap='tianditu'",
                                      got="no key" if not tianditu_key else "a key that is not 8-64 letters/digits",
                                      fix="pass tianditu_key='...' (or --tianditu-key / $GRIDMAP_TIANDITU_KEY)"))
    base = ("https://t{s}.tianditu.gov.cn/%s_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=%s"
            "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=" + tianditu_key)
    return [TileSpec(base % ("vec", "vec"), "&copy; 天地图 Tianditu", "天地图 Tianditu", "01234567", 18),
            TileSpec(base % ("cva", "cva"), "&copy; 天地图 Tianditu", "天地图注记 labels", "01234567", 18)]


def tile_url_templates(basemap: "str | Basemap", *, tianditu_key: str | None = None) -> list[str]:
    """The URL templates a page with this basemap may contact (for URL scans)."""
    return [t.url for t in tile_specs(basemap, tianditu_key=tianditu_key)]
