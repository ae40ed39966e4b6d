"""Maps from the store: the one workflow that ``gridmap map``, ``gridmap locate --html``, ``gridmap demo`` and
notebooks call.

The drawing modules of :mod:`gridmap.maps` never touch the store; this module reads the layers a map needs
(shared maps read no complaint categories or text), runs the early warning when asked, adds hot spots, alerts
and split proposals, and builds the district, street or community map. Writing the HTML is the caller's
(:func:`gridmap.maps.write_map`), so output paths are checked where the command line is.

Examples
--------
>>> from gridmap.maps import write_map
>>> from gridmap.store import open_store
>>> store = open_store("gridmap.sqlite", mode="read")                        # doctest: +SKIP
>>> made = map_from_store(store, street="110101001", warn_from="2025-06-01",
...                       warn_to="2025-06-15", keywords="漏雨")              # doctest: +SKIP
>>> write_map(made.map, "street.html")                                      # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import pandas as pd

from gridmap.errors import CRSError, ValidationError, message
from gridmap.maps.area import community_map, district_map, street_map
from gridmap.maps.build import build_map
from gridmap.maps.frames import warning_layers
from gridmap.maps.page import page_policy
from gridmap.maps.safety import Privacy

__all__ = ["StoreMap", "map_from_store", "read_map_layers", "read_layer_file", "locate_map"]

#: Complaint columns a map reads: shared maps only place complaints (density), internal maps show their text.
COMPLAINT_COLUMNS = {Privacy.SHARED: ["street_code", "community_code"],
                     Privacy.INTERNAL: ["street_code", "community_code", "category", "text"]}


@dataclass(frozen=True)
class StoreMap:
    """A map built from the store: the folium map, its privacy, and the early-warning report it ran (if any)."""

    map: folium.Map
    privacy: Privacy
    warning: Any = None


def read_layer_file(path: str | os.PathLike, *, option: str, crs: Any) -> gpd.GeoDataFrame:
    """A vector file to draw (``option`` names it in messages, e.g. ``--alerts``), in ``crs``; a file without a
    CRS or without features raises."""
    from gridmap.io import read_vector

    frame = read_vector(path)
    if frame.crs is None:
        raise CRSError(message(f"{option} file has no CRS", where=str(path), got="no .prj / CRS in the file",
                               fix="write it with its CRS (gridmap warn --geojson and gridmap split propose do), or "
                                   "add a .prj"))
    if len(frame) == 0:
        raise ValidationError(message(f"{option} file has no features: nothing to draw", where=str(path),
                                      got="0 features", fix=f"check the file, or leave out {option}"))
    return frame.to_crs(crs)


def read_map_layers(store: Any, *, street: str | None = None, community: str | None = None,
                    privacy: "str | Privacy" = Privacy.SHARED) -> dict[str, Any]:
    """The stored layers of a map (empty ones as None): active communities, streets, cells, and the components
    and complaints of the area when it is given by code; complaints with the columns ``privacy`` allows."""
    privacy = Privacy.parse(privacy)
    communities = store.read("communities", where={"active": True})
    if len(communities) == 0:
        raise ValidationError(message("the store has no communities to map", where=store.safe_url,
                                      got="0 active communities",
                                      fix="import communities first (gridmap import communities FILE)"))
    frames: dict[str, Any] = {"communities": communities}
    code = street or community
    for layer in ("streets", "cells", "components", "complaints"):
        where = None
        if code and code.isdigit() and layer in ("components", "complaints"):
            where = {"street_code": code} if street else {"community_code": code}
        frame = store.read(layer, where=where)
        if layer == "complaints":
            frame = frame[[*COMPLAINT_COLUMNS[privacy], "geometry"]]
        frames[layer] = frame if len(frame) else None
    return frames


def map_from_store(store: Any, *, street: str | None = None, community: str | None = None,
                   privacy: "str | Privacy" = Privacy.SHARED, warn_from: Any = None, warn_to: Any = None,
                   keywords: str | None = None, alerts: Any = None, proposals: Any = None,
                   layers: dict[str, Any] | None = None,
                   progress: Callable[[int, int, str], None] | None = None, **drawing: Any) -> StoreMap:
    """The map of the district, one ``street`` or one ``community`` (code or name) from the layers in ``store``.

    Parameters
    ----------
    privacy : 'shared' (default: no individual complaints, sparse areas hidden) or 'internal'.
    warn_from, warn_to : run :func:`gridmap.warning.alerts.early_warning` over ``[warn_from, warn_to)`` on the
        stored complaints and draw its hot spots and alerts (``keywords``: the watch list).
    alerts : hot spots and alerts to draw: an early-warning report, a frame, or a vector file
        (``gridmap warn --geojson``).
    proposals : split proposals: a frame or a vector file (``gridmap split propose CODE --out DIR``).
    layers : frames already read with :func:`read_map_layers` (to draw several maps from one read); the store is
        then not read again.
    progress : called as ``progress(done, 4, label)`` before each step.
    drawing : options of :func:`gridmap.maps.build_map` (``basemap``, ``tianditu_key``, ``embed_key``,
        ``offline``, ``min_count``, ``title`` ...).

    Returns
    -------
    StoreMap
        The map (write it with :func:`gridmap.maps.write_map`), its privacy and the early-warning report run.
    """
    def step(done: int, label: str) -> None:
        if progress:
            progress(done, 4, label)

    step(0, "read layers")
    files = {k: read_layer_file(v, option=f"--{k}", crs=store.crs) if isinstance(v, (str, os.PathLike)) else v
             for k, v in (("alerts", alerts), ("proposals", proposals)) if v is not None}
    frames = dict(layers) if layers is not None else read_map_layers(store, street=street, community=community,
                                                                     privacy=privacy)
    report = None
    if warn_from:
        step(1, "early warning")
        report = _early_warning(store, warn_from=warn_from, warn_to=warn_to, keywords=keywords,
                                cells=frames["cells"])
        frames.update(warning_layers(report, cells=frames["cells"], communities=frames["communities"]))
    if "alerts" in files:
        got = warning_layers(files["alerts"], cells=frames["cells"], communities=frames["communities"])
        for k, v in got.items():
            if v is not None:
                frames[k] = v if frames.get(k) is None else _concat(frames[k], v)
    if "proposals" in files:
        frames["proposals"] = files["proposals"]
    step(2, "build the map")
    if street:
        m = street_map(street, **frames, privacy=privacy, **drawing)
    elif community:
        m = community_map(community, **frames, privacy=privacy, **drawing)
    else:
        m = district_map(**frames, privacy=privacy, **drawing)
    return StoreMap(m, page_policy(m).privacy, report)


def _early_warning(store: Any, *, warn_from: Any, warn_to: Any, keywords: str | None, cells: Any) -> Any:
    from gridmap.warning.alerts import early_warning

    complaints = store.read("complaints")
    if len(complaints) == 0:
        raise ValidationError(message("--warn-from: the store has no complaints", where=store.safe_url,
                                      fix="import complaints first (gridmap complaints import FILE)"))
    return early_warning(complaints, start=warn_from, end=warn_to, cells=cells, keywords=keywords)


def _concat(a: Any, b: Any) -> Any:
    return gpd.GeoDataFrame(pd.concat([a.to_crs(b.crs), b], ignore_index=True), crs=b.crs)


def locate_map(store: Any, component: "str | gpd.GeoDataFrame", *, district_code: str | None = None,
               radius_m: float = 150.0) -> folium.Map:
    """An offline map centred on a component (its 8- or 16-digit code, or the frame
    :func:`gridmap.store.components.locate` returned): the cells and components within ``radius_m`` around it, at
    community scale."""
    from gridmap.store.components import locate, search_components

    found = locate(store, component, district_code=district_code) if isinstance(component, str) else component
    p = found.geometry.iloc[0]
    box = (p.x - radius_m, p.y - radius_m, p.x + radius_m, p.y + radius_m)
    around = search_components(store, bbox=box)
    cells = store.read("cells", bbox=box)
    row = found.iloc[0]
    return build_map(components=around if len(around) else found, cells=cells if len(cells) else None,
                     scale="community", title=f"部件 {row['code']} {row.get('class_name') or ''}")
