"""Assemble maps: :func:`build_map` from any set of layers, :func:`district_map` and :func:`street_map`.

Inputs are plain GeoDataFrames in the working CRS (checked with :func:`gridmap.crs.check_crs`; a frame in
lon/lat or without a CRS raises :class:`~gridmap.errors.CRSError`), plus an optional
:class:`~gridmap.maps.raster.DensityGrid`. Empty layers: an *optional* layer that is empty is skipped with an
:class:`EmptyLayerWarning` (the legend says 无数据 / no data); a map with no non-empty layer at all raises
:class:`~gridmap.errors.ValidationError`. An unknown street code raises
:class:`~gridmap.errors.NotFoundError` with the closest codes.

Privacy: ``privacy='shared'`` (default) never draws individual complaints: complaint points given to a
shared map are turned into a density image with sparse areas hidden. ``privacy='internal'`` may draw them
(text scrubbed of phone and ID numbers) and shows a red 内部资料 banner.
"""

from __future__ import annotations

import difflib
import enum
import logging
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import check_crs
from gridmap.errors import CRSError, NotFoundError, ValidationError, Problem, message
from gridmap.maps import layers as L
from gridmap.maps.basemaps import Basemap, tile_specs
from gridmap.maps.display import Display
from gridmap.maps.page import ScriptControl
from gridmap.maps.raster import DensityGrid
from gridmap.maps.safety import DEFAULT_MIN_COUNT, Privacy, escape_html as esc, js_json

__all__ = ["Scale", "EmptyLayerWarning", "build_map", "district_map", "street_map", "LAYER_NAMES"]

log = logging.getLogger(__name__)

#: Frame arguments of the builders, in drawing order (bottom to top).
LAYER_NAMES = ("communities", "streets", "cells", "proposals", "hotspots", "alerts", "components", "complaints")


class Scale(str, enum.Enum):
    """Map scale: decides simplification (detail zoom) and whether unit cells are drawn as vectors."""

    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"

    @property
    def detail_zoom(self) -> int:
        return {"district": 15, "street": 17, "community": 18}[self.value]

    @classmethod
    def parse(cls, value: "str | Scale") -> "Scale":
        try:
            return cls(value if isinstance(value, cls) else str(value).strip().lower())
        except ValueError:
            raise ValidationError(message("unknown map scale", got=repr(value),
                                          fix="use one of " + ", ".join(m.value for m in cls))) from None


class EmptyLayerWarning(UserWarning):
    """An optional map layer was given but has no rows; it is left out of the map."""


def _checked_frames(frames: Mapping[str, Any]) -> tuple[dict[str, gpd.GeoDataFrame], Any, list[str]]:
    out: dict[str, gpd.GeoDataFrame] = {}
    crs = None
    empty: list[str] = []
    for name in LAYER_NAMES:
        frame = frames.get(name)
        if frame is None:
            continue
        if not isinstance(frame, gpd.GeoDataFrame):
            raise ValidationError(message(f"{name} must be a GeoDataFrame", where=f"layer {name!r}",
                                          got=type(frame).__name__, fix="pass a GeoDataFrame in the working CRS"))
        crs = check_crs(frame, where=f"map layer {name!r}", expected=crs, metric=True)
        if len(frame) == 0 or frame.geometry.isna().all():
            warnings.warn(f"map layer {name!r} is empty; it is left out of the map", EmptyLayerWarning, stacklevel=3)
            empty.append(name)
            continue
        frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
        out[name] = frame
    return out, crs, empty


def build_map(*, communities: gpd.GeoDataFrame | None = None, streets: gpd.GeoDataFrame | None = None,
              cells: gpd.GeoDataFrame | None = None, components: gpd.GeoDataFrame | None = None,
              density: DensityGrid | None = None, hotspots: gpd.GeoDataFrame | None = None,
              alerts: gpd.GeoDataFrame | None = None, proposals: gpd.GeoDataFrame | None = None,
              complaints: gpd.GeoDataFrame | None = None,
              privacy: "str | Privacy" = Privacy.SHARED, basemap: "str | Basemap" = Basemap.NONE,
              tianditu_key: str | None = None, offline: bool = True, title: str = "",
              scale: "str | Scale" = Scale.STREET, min_count: int = DEFAULT_MIN_COUNT,
              max_cells: int = 5000, cell_labels: bool | None = None,
              density_cell_m: float = 50.0, density_bandwidth_m: float = 150.0) -> folium.Map:
    """Build a folium map of the given layers; write it with :func:`gridmap.maps.write_map`.

    Parameters
    ----------
    communities, streets, cells, components, hotspots, alerts, proposals : GeoDataFrame, optional
        Layers in the working CRS with the columns of :mod:`gridmap.store.schema` (communities: ``code``,
        ``name``, ``households`` and/or ``size_class``; hotspots: ``category``, ``pattern``/``kind``, ``z``,
        ``count``; alerts: ``level``, ``category``, ``message``, ``count``; proposals: ``proposal``,
        ``code``, ``name``, ``households``, ``parent_code``). Each becomes a toggleable layer.
    density : DensityGrid, optional
        Complaint density lattice; drawn as one image overlay.
    complaints : GeoDataFrame of points, optional
        Individual complaints. Shared maps turn them into a density image (if ``density`` is not given) and
        never draw them; internal maps also draw them as clustered points with scrubbed text.
    privacy : 'shared' (default) or 'internal'
    basemap : 'none' (default, offline), 'osm', 'tianditu' (needs ``tianditu_key``) or 'gaode' (overlays are
        shifted into GCJ-02). Online basemaps need ``offline=False``.
    scale : 'district', 'street' (default) or 'community': simplification and cell drawing.
    min_count : cells/areas with fewer complaints are hidden on shared maps (default 3).
    max_cells : more unit cells than this are not drawn as vectors (district scale); the legend says so.

    Returns
    -------
    folium.Map
    """
    privacy = Privacy.parse(privacy)
    basemap = Basemap.parse(basemap)
    scale = Scale.parse(scale)
    if basemap is not Basemap.NONE and offline:
        raise ValidationError(message(f"basemap {basemap.value!r} loads tiles from the internet",
                                      where="build_map(basemap=...)", got="offline=True",
                                      fix="use basemap='none' for offline maps, or pass offline=False"))
    frames, crs, empty = _checked_frames(dict(communities=communities, streets=streets, cells=cells,
                                              components=components, hotspots=hotspots, alerts=alerts,
                                              proposals=proposals, complaints=complaints))
    if density is not None:
        density = density.validated()
        if crs is not None and not density.crs.equals(crs, ignore_axis_order=True):
            raise CRSError(message("density grid is in a different CRS from the layers", where="density",
                                   got=f"{density.crs.to_string()} vs {crs.to_string()}",
                                   fix="build the lattice in the working CRS of the layers"))
        if not np.isfinite(density.values).any() or np.nanmax(density.values) <= 0:
            warnings.warn("map layer 'density' is empty (all zero); it is left out of the map",
                          EmptyLayerWarning, stacklevel=2)
            empty.append("density")
            density = None
        crs = crs if crs is not None else density.crs if density is not None else None
    pts = frames.pop("complaints", None)
    if pts is not None and density is None:
        density = DensityGrid.from_points(pts, cell_size_m=density_cell_m, bandwidth_m=density_bandwidth_m)
    if not frames and density is None:
        raise ValidationError("nothing to draw: every layer given to the map is missing or empty",
                              [Problem(None, n, "empty") for n in empty],
                              fix="pass at least one non-empty layer (communities, cells, components ...)")

    display = Display(crs, gcj02=basemap.gcj02, detail_zoom=scale.detail_zoom)
    bounds = _bounds(frames, density, display)
    center = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    m = folium.Map(location=center, zoom_start=14, tiles=None, control_scale=True, prefer_canvas=True,
                   max_zoom=19)
    # Without tiles folium does not pass maxZoom to the map, and MarkerCluster needs it.
    m.options["maxZoom"] = 19
    m.options["minZoom"] = 5
    m._gridmap_privacy = privacy  # noqa: SLF001 (read by tests and the CLI)
    csp_img = ["data:"]
    for i, t in enumerate(tile_specs(basemap, tianditu_key=tianditu_key)):
        folium.TileLayer(tiles=t.url, attr=t.attribution, name=esc(t.name), subdomains=t.subdomains,
                         max_zoom=t.max_zoom, overlay=i > 0, control=True).add_to(m)
        host = ".".join("*" if "{s}" in part or "{" in part else part for part in urlsplit(t.url).netloc.split("."))
        csp_img.append(f"https://{host}")
    m._gridmap_csp = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src "
                      + " ".join(dict.fromkeys(csp_img)))

    legend: list[str] = []
    outs: list[L.LayerOut] = []
    if "communities" in frames:
        outs.append(L.communities_layer(frames["communities"], display))
    if density is not None:
        outs.append(L.density_layer(density, display, privacy=privacy, min_count=min_count))
    if "streets" in frames:
        outs.append(L.streets_layer(frames["streets"], display))
    labels = cell_labels if cell_labels is not None else scale is not Scale.DISTRICT
    if "cells" in frames:
        outs.append(L.cells_layer(frames["cells"], display, max_cells=max_cells, labels=labels))
    if "proposals" in frames:
        cur = None
        if "communities" in frames and "parent_code" in frames["proposals"]:
            c = frames["communities"]
            cur = c[c["code"].isin(frames["proposals"]["parent_code"])] if "code" in c else None
        outs.append(L.proposal_layers(frames["proposals"], display, current=cur))
    if "hotspots" in frames:
        outs.append(L.hotspots_layer(frames["hotspots"], display, privacy=privacy, min_count=min_count))
    if "alerts" in frames:
        outs.append(L.alerts_layer(frames["alerts"], display, privacy=privacy, min_count=min_count))
    if "components" in frames:
        # At district scale component clusters start hidden (tick them on): tens of thousands of markers.
        outs.append(L.components_layers(frames["components"], display, show=scale is not Scale.DISTRICT))
    if pts is not None and privacy is Privacy.INTERNAL:
        outs.append(L.complaints_layer(pts, display))
    for out in outs:
        for layer in out.layers:
            layer.add_to(m)
        if out.legend:
            legend.append(out.legend)
    if empty:
        legend.append("<div class='gm-note'>" + esc("无数据 no data: " + ", ".join(empty)) + "</div>")
    if basemap.gcj02:
        legend.append("<div class='gm-note'>" + esc("叠加图层已转换为 GCJ-02 以配合高德底图 overlays shifted to GCJ-02")
                      + "</div>")
    n_layers = sum(len(o.layers) for o in outs)
    folium.LayerControl(collapsed=n_layers > 12, position="topright").add_to(m)

    js = [f"gridmap.legend(__MAP__, {js_json(''.join(legend))});"]
    if title:
        js.append(f"gridmap.overlayText(__MAP__, 'gm-title', {js_json(str(title))});")
    if privacy is Privacy.INTERNAL:
        js.append("gridmap.overlayText(__MAP__, 'gm-banner', "
                  f"{js_json('内部资料 · 请勿外传 — INTERNAL USE ONLY, do not share')});")
    if "components" in frames or "cells" in frames:
        js.append(f"gridmap.search(__MAP__, {js_json('编码搜索 search code')});")
    js.append(f"gridmap.init(__MAP__, {js_json({'bounds': bounds, 'labelZoom': 17 if labels else 0})});")
    ScriptControl("\n".join(js)).add_to(m)
    log.info("map built: %d layers, scale %s, privacy %s, basemap %s", sum(len(o.layers) for o in outs),
             scale.value, privacy.value, basemap.value)
    return m


def _bounds(frames: Mapping[str, gpd.GeoDataFrame], density: DensityGrid | None,
            display: Display) -> list[list[float]]:
    boxes = [f.total_bounds for f in frames.values()]
    if density is not None:
        boxes.append(np.asarray(density.bounds))
    b = np.array(boxes)
    return display.bounds_latlon((b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()))


def district_map(*, title: str = "区级总图 district map", **kwargs: Any) -> folium.Map:
    """A district-scale map of whatever layers are given (see :func:`build_map`); cells above ``max_cells``
    are left out with a note, and cell labels are off."""
    kwargs.setdefault("scale", Scale.DISTRICT)
    return build_map(title=title, **kwargs)


def _street_index(communities: gpd.GeoDataFrame | None, streets: gpd.GeoDataFrame | None) -> dict[str, str]:
    names: dict[str, str] = {}
    if streets is not None and "code" in streets:
        names.update({str(c): str(n) for c, n in zip(streets["code"], streets.get("name", streets["code"]))})
    if communities is not None and "street_code" in communities:
        for c in communities["street_code"].dropna().unique():
            names.setdefault(str(c), str(c))
    return names


def _within(frame: gpd.GeoDataFrame | None, area: Any, *, by: str | None = None,
            codes: Any = None) -> gpd.GeoDataFrame | None:
    if frame is None:
        return None
    if by is not None and by in frame and codes is not None:
        return frame[frame[by].astype("string").isin([str(c) for c in codes])]
    return frame[frame.geometry.intersects(area)]


def street_map(street_code: str, *, communities: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None = None,
               cells: gpd.GeoDataFrame | None = None, components: gpd.GeoDataFrame | None = None,
               density: DensityGrid | None = None, hotspots: gpd.GeoDataFrame | None = None,
               alerts: gpd.GeoDataFrame | None = None, proposals: gpd.GeoDataFrame | None = None,
               complaints: gpd.GeoDataFrame | None = None, title: str | None = None,
               **kwargs: Any) -> folium.Map:
    """The map of one street (街道): layers cut to its communities (by code columns where present, else by
    geometry); the density lattice is cropped to the street with a 500 m margin.

    Raises :class:`~gridmap.errors.NotFoundError` (with the closest codes) for an unknown ``street_code``.
    """
    check_crs(communities, where="map layer 'communities'", metric=True)
    code = str(street_code).strip()
    index = _street_index(communities, streets)
    if "street_code" not in communities:
        raise ValidationError("communities need a street_code column to make a street map",
                              [Problem(None, "street_code", "missing column")])
    comm = communities[communities["street_code"].astype("string") == code]
    if len(comm) == 0:
        by_name = {v: k for k, v in index.items()}
        if code in by_name:  # a street name was given
            return street_map(by_name[code], communities=communities, streets=streets, cells=cells,
                              components=components, density=density, hotspots=hotspots, alerts=alerts,
                              proposals=proposals, complaints=complaints, title=title, **kwargs)
        close = difflib.get_close_matches(code, list(index), n=3, cutoff=0.5)
        close += [k for k in difflib.get_close_matches(code, list(by_name), n=2, cutoff=0.5)]
        raise NotFoundError(f"street {code!r} not found in the communities layer ({len(index)} streets)",
                            suggestions=[f"{c} {index.get(c, '')}".strip() for c in close]
                            or [f"{c} {n}" for c, n in list(index.items())[:5]],
                            fix="pass a 9-digit street code (district 6 + street 3) from the streets layer")
    area = shapely.union_all(comm.geometry.values)
    comm_codes = list(comm["code"]) if "code" in comm else None
    sel_cells = _within(cells, area, by="community_code", codes=comm_codes)
    cell_codes = list(sel_cells["code"]) if sel_cells is not None and "code" in sel_cells else None
    if components is not None and "street_code" in components:
        comps = components[components["street_code"].astype("string") == code]
    else:
        comps = _within(components, area, by="community_code", codes=comm_codes)
    if complaints is not None and "street_code" in complaints:
        pts = complaints[complaints["street_code"].astype("string") == code]
    else:
        pts = _within(complaints, area)
    st = streets[streets["code"].astype("string") == code] if streets is not None and "code" in streets else None
    if density is not None:
        density = _crop(density, area.bounds, margin_m=500.0)
    name = index.get(code, code)
    return build_map(communities=comm, streets=st, cells=sel_cells, components=comps, density=density,
                     hotspots=_within(hotspots, area, by="cell_code", codes=cell_codes),
                     alerts=_within(alerts, area, by="cell_code", codes=cell_codes),
                     proposals=_within(proposals, area, by="parent_code", codes=comm_codes),
                     complaints=pts, title=title if title is not None else f"{name} 街道图 street map ({code})",
                     **{"scale": Scale.STREET, **kwargs})


def _crop(grid: DensityGrid, box: tuple[float, float, float, float], *, margin_m: float) -> DensityGrid:
    g = grid.validated()
    ny, nx = g.values.shape
    x0, y0, x1, y1 = g.bounds
    dx, dy = (x1 - x0) / nx, (y1 - y0) / ny
    i0 = int(np.clip(np.floor((box[0] - margin_m - x0) / dx), 0, nx - 1))
    i1 = int(np.clip(np.ceil((box[2] + margin_m - x0) / dx), i0 + 1, nx))
    j0 = int(np.clip(np.floor((box[1] - margin_m - y0) / dy), 0, ny - 1))
    j1 = int(np.clip(np.ceil((box[3] + margin_m - y0) / dy), j0 + 1, ny))
    counts = None if g.counts is None else g.counts[j0:j1, i0:i1]
    return DensityGrid(g.values[j0:j1, i0:i1], (x0 + i0 * dx, y0 + j0 * dy, x0 + i1 * dx, y0 + j1 * dy), g.crs,
                       counts, "lower", g.unit, g.label)
