"""Static HTML maps that open offline and are safe to share.

The maps are the only part of gridmap that reprojects to WGS 84 (or GCJ-02 for Gaode tiles) and writes
``[lat, lon]``. The drawing modules never import the store: :mod:`gridmap.maps.service` reads the layers from
the store (``map_from_store``, ``locate_map``) for ``gridmap map``, ``gridmap locate --html``, ``gridmap demo``
and notebooks, and passes them here.

Set-up: ``scripts/fetch_assets.sh`` installs Leaflet and Leaflet.markercluster from the npm registry; every
written map inlines them, so the HTML file needs no network when viewed (default ``basemap='none'``).

Maps: :func:`district_map`, :func:`street_map`, :func:`community_map` (or :func:`build_map` of any layers).
Analysis outputs go in as they come: ``build_map(**warning_layers(early_warning(...), cells=cells))`` draws
hot spots and alerts, ``hotspots=emerging_cells(emerging_hot_spots(cube), cells)`` every emerging category,
``proposals=proposals_frame(...)`` the split proposals side by side with the current boundary.

Examples
--------
>>> import geopandas as gpd, shapely
>>> comm = gpd.GeoDataFrame({"code": ["110101001001"], "name": ["示例社区"], "households": [3500],
...                          "street_code": ["110101001"]},
...                         geometry=[shapely.box(448000, 4419000, 449000, 4420000)], crs="EPSG:4548")
>>> m = street_map("110101001", communities=comm)            # doctest: +SKIP
>>> write_map(m, "out/street.html")                            # doctest: +SKIP
"""

from gridmap.maps.basemaps import Basemap, tile_url_templates
from gridmap.maps.area import community_map, district_map, street_map
from gridmap.maps.build import EmptyLayerWarning, KeyEmbeddedWarning, build_map
from gridmap.maps.frames import emerging_cells, warning_layers
from gridmap.maps.bundle import AssetsMissingError, check_assets
from gridmap.maps.options import MapOptions, Scale
from gridmap.maps.page import PagePolicy, page_policy, to_html, write_map
from gridmap.maps.raster import DensityGrid
from gridmap.maps.safety import DEFAULT_MIN_COUNT, Privacy, escape_html, js_json, scrub_pii

__all__ = [
    "build_map", "district_map", "street_map", "community_map", "write_map", "to_html",
    "warning_layers", "emerging_cells",
    "MapOptions", "PagePolicy", "page_policy",
    "DensityGrid", "Privacy", "Basemap", "Scale",
    "EmptyLayerWarning", "KeyEmbeddedWarning", "AssetsMissingError", "check_assets", "tile_url_templates",
    "scrub_pii", "escape_html", "js_json", "DEFAULT_MIN_COUNT",
]
