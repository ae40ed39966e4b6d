"""Assemble maps: :func:`build_map` from any set of layers (the area maps of :mod:`gridmap.maps.area` call it).

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

import dataclasses
import logging
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import folium
import geopandas as gpd
import numpy as np

from gridmap.crs import check_crs
from gridmap.errors import CRSError, UsageError, ValidationError, Problem, message
from gridmap.maps import layers as L
from gridmap.maps.basemaps import Basemap, tile_specs
from gridmap.maps.display import Display
from gridmap.maps.frames import canonical_alerts, canonical_hotspots, canonical_proposals
from gridmap.maps.options import MapOptions, Scale
from gridmap.maps.page import LayerControl, PagePolicy, ScriptControl, ScriptLayer, page_figure
from gridmap.maps.raster import DensityGrid
from gridmap.maps.safety import Privacy, escape_html as esc

__all__ = ["EmptyLayerWarning", "KeyEmbeddedWarning", "build_map", "LAYER_NAMES"]

log = logging.getLogger(__name__)

#: Frame arguments of the builders, in drawing order (bottom to top).
LAYER_NAMES = ("communities", "streets", "cells", "proposals", "hotspots", "alerts", "components", "complaints")


class EmptyLayerWarning(UserWarning):
    """An optional map layer was given but has no rows; it is left out of the map."""


class KeyEmbeddedWarning(UserWarning):
    """The map carries a basemap key (Tianditu ``tk``) in its HTML: anyone with the file can read it."""


KEY_WARNING = ("the map carries your Tianditu key (tk) in its HTML: anyone who gets the file can read and reuse "
               "it; share it only with people who may use your key")
KEY_NOTE = "此图含天地图密钥，勿外传 — this file contains a Tianditu key (tk): do not share it"


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
        frame = _canonical(name, frame)
        ok = (frame.geometry.notna() & ~frame.geometry.is_empty).to_numpy()
        if not ok.all():
            warnings.warn(f"map layer {name!r}: {int((~ok).sum())} of {len(frame)} rows have no geometry (unit not "
                          "found in the cells/communities given) and are left out", UserWarning, stacklevel=3)
        if not ok.any():
            empty.append(name)
            continue
        out[name] = frame[ok]
    return out, crs, empty


_CANONICAL = {"hotspots": canonical_hotspots, "alerts": canonical_alerts, "proposals": canonical_proposals}


def _canonical(name: str, frame: Any) -> Any:
    """Analysis outputs (warning report, planning proposals) or simple frames -> the columns layers draw."""
    if name in _CANONICAL and isinstance(frame, gpd.GeoDataFrame):
        return _CANONICAL[name](frame)
    return frame


def build_map(*, communities: gpd.GeoDataFrame | None = None, streets: gpd.GeoDataFrame | None = None,
              cells: gpd.GeoDataFrame | None = None, components: gpd.GeoDataFrame | None = None,
              density: DensityGrid | None = None, hotspots: gpd.GeoDataFrame | None = None,
              alerts: gpd.GeoDataFrame | None = None, proposals: gpd.GeoDataFrame | None = None,
              complaints: gpd.GeoDataFrame | None = None, options: MapOptions | None = None,
              **drawing: Any) -> folium.Map:
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
    options : MapOptions, optional
        How the map is drawn; any of its fields may also be given as a keyword (``privacy='internal'``,
        ``basemap=``, ``tianditu_key=``, ``embed_key=``, ``offline=``, ``title=``, ``scale=``, ``min_count=``,
        ``max_cells=``, ``cell_labels=``, ``density_cell_m=``, ``density_bandwidth_m=``,
        ``compare_proposals=``), which overrides ``options``. See :class:`~gridmap.maps.options.MapOptions`.
        ``embed_key``: the Tianditu key ends up in the page (tiles are requested with it). A shared map refuses
        to carry it unless ``embed_key=True``; a page that carries a key says so in its legend, and a
        :class:`KeyEmbeddedWarning` is issued. ``compare_proposals``: with split proposals, the map narrows to
        the left and a grid of small maps on the right shows the current boundary and each proposal over it.
        ``max_cells``: cells are written compactly (about 70 bytes each, tooltips built on hover): the default
        12,000 is about three times a 42 km² district of 100 m cells (see benchmarks/bench_maps.py).

    Returns
    -------
    folium.Map, whose :func:`~gridmap.maps.page.page_policy` tells its privacy and what its page may load.
    """
    opts = MapOptions.of(options, **drawing)
    privacy, basemap, scale = opts.privacy, opts.basemap, opts.scale
    tiles, keyed = _basemap_tiles(opts)
    frames, crs, empty = _checked_frames(dict(communities=communities, streets=streets, cells=cells,
                                              components=components, hotspots=hotspots, alerts=alerts,
                                              proposals=proposals, complaints=complaints))
    density, crs = _checked_density(density, crs, empty)
    _check_extents(frames, density)
    pts = frames.pop("complaints", None)
    if pts is not None and density is None:
        density = DensityGrid.from_points(pts, cell_size_m=opts.density_cell_m,
                                             bandwidth_m=opts.density_bandwidth_m)
    if not frames and density is None:
        raise ValidationError("nothing to draw: every layer given to the map is missing or empty",
                              [Problem(None, n, "empty") for n in empty],
                              fix="pass at least one non-empty layer (communities, cells, components ...)")

    display = Display(crs, gcj02=basemap.gcj02, detail_zoom=scale.detail_zoom)
    bounds = _bounds(frames, density, display)
    center = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    m = _base_map(center, tiles, PagePolicy(privacy=privacy, key_embedded=keyed))
    legend: list[str] = []
    labels = opts.cell_labels if opts.cell_labels is not None else scale is not Scale.DISTRICT
    outs = _layer_outs(frames, density, pts, display, opts, labels=labels)
    for out in outs:
        for layer in out.layers:
            layer.add_to(m)
        if out.legend:
            legend.append(out.legend)
    legend += _legend_notes(empty, basemap=basemap, keyed=keyed)
    n_layers = sum(len(o.layers) for o in outs)
    LayerControl(collapsed=n_layers > 12, position="topright").add_to(m)

    # Everything page-level is data for the runtime's gridmap.page (in the page's JSON block).
    ScriptControl(_page_spec(frames, outs, display, opts, legend=legend, bounds=bounds, labels=labels)).add_to(m)
    log.info("map built: %d layers, scale %s, privacy %s, basemap %s", sum(len(o.layers) for o in outs),
             scale.value, privacy.value, basemap.value)
    return m


def _legend_notes(empty: list[str], *, basemap: Basemap, keyed: bool) -> list[str]:
    """The notes under the legend: empty layers, GCJ-02 overlays, an embedded Tianditu key."""
    legend: list[str] = []
    if empty:
        legend.append("<div class='gm-note'>" + esc("无数据 no data: " + ", ".join(empty)) + "</div>")
    if basemap.gcj02:
        legend.append("<div class='gm-note'>" + esc("叠加图层已转换为 GCJ-02 以配合高德底图 overlays shifted to GCJ-02")
                      + "</div>")
    if keyed:
        legend.append("<div class='gm-note'>" + esc(KEY_NOTE) + "</div>")
    return legend


def _page_spec(frames: Mapping[str, gpd.GeoDataFrame], outs: list[Any], display: Display, opts: MapOptions, *,
               legend: list[str], bounds: list[list[float]], labels: bool) -> dict[str, Any]:
    """The page-level data of the runtime's ``gridmap.page``: legend, title, banner, search, comparison panels
    and the initial view."""
    title, privacy = opts.title, opts.privacy
    spec: dict[str, Any] = {"legend": "".join(legend)}
    if title:
        spec["title"] = str(title)
    if privacy is Privacy.INTERNAL:
        spec["banner"] = "内部资料 · 请勿外传 — INTERNAL USE ONLY, do not share"
    if "components" in frames or "cells" in frames:
        spec["search"] = "编码搜索 search code"
    compare = next((o.extra["compare"] for o in outs if "compare" in o.extra), None)
    if compare is not None and opts.compare_proposals:
        compare["bounds"] = display.bounds_latlon(tuple(frames["proposals"].total_bounds))
        spec["compare"] = compare
    spec["init"] = {"bounds": bounds, "labelZoom": 17 if labels else 0}
    return spec


def _layer_outs(frames: dict[str, gpd.GeoDataFrame], density: DensityGrid | None, pts: Any, display: Display,
                opts: MapOptions, *, labels: bool) -> list[L.LayerOut]:
    """The drawn layers, bottom to top (:mod:`gridmap.maps.layers`)."""
    outs: list[L.LayerOut] = []
    if "communities" in frames:
        outs.append(L.communities_layer(frames["communities"], display))
    if density is not None:
        outs.append(L.density_layer(density, display, privacy=opts.privacy, min_count=opts.min_count))
    if "streets" in frames:
        outs.append(L.streets_layer(frames["streets"], display))
    if "cells" in frames:
        outs.append(L.cells_layer(frames["cells"], display, max_cells=opts.max_cells, labels=labels))
    if "proposals" in frames:
        cur = None
        if "communities" in frames and "parent_code" in frames["proposals"]:
            c = frames["communities"]
            cur = c[c["code"].isin(frames["proposals"]["parent_code"])] if "code" in c else None
        outs.append(L.proposal_layers(frames["proposals"], display, current=cur))
    if "hotspots" in frames:
        outs.append(L.hotspots_layer(frames["hotspots"], display, privacy=opts.privacy, min_count=opts.min_count))
    if "alerts" in frames:
        outs.append(L.alerts_layer(frames["alerts"], display, privacy=opts.privacy, min_count=opts.min_count))
    if "components" in frames:
        # At district scale component clusters start hidden (tick them on): tens of thousands of markers.
        outs.append(L.components_layers(frames["components"], display, show=opts.scale is not Scale.DISTRICT))
    if pts is not None and opts.privacy is Privacy.INTERNAL:
        outs.append(L.complaints_layer(pts, display))
    return outs


def _basemap_tiles(opts: MapOptions) -> tuple[list[Any], bool]:
    """The basemap's tile layers and whether they carry a key; an online basemap on an offline map, or a key on a
    shared map without ``embed_key``, is refused."""
    if opts.basemap is not Basemap.NONE and opts.offline:
        raise UsageError(message(f"basemap {opts.basemap.value!r} loads tiles from the internet",
                                 where="--basemap / build_map(basemap=...)",
                                 got="an offline map (no --online; offline=True)",
                                 fix="use basemap='none' for offline maps, or pass offline=False (CLI: "
                                     "--basemap none, or add --online)"))
    tiles = tile_specs(opts.basemap, tianditu_key=opts.tianditu_key)
    keyed = opts.basemap is Basemap.TIANDITU
    if keyed and opts.privacy is Privacy.SHARED and not opts.embed_key:
        raise UsageError(message(
            "a shared map would carry your Tianditu key (tk) in its HTML, where anyone who gets the file can "
            "read and reuse it", where="build_map(basemap='tianditu', privacy='shared') / --basemap tianditu",
            got="embed_key=False (no --embed-key)",
            fix="pass embed_key=True (CLI: --embed-key) to write it anyway (the page then says so), make an "
                "internal map (--privacy internal), or use basemap='none' / 'osm'"))
    if keyed:
        warnings.warn(KEY_WARNING, KeyEmbeddedWarning, stacklevel=3)
    return tiles, keyed


def _checked_density(density: DensityGrid | None, crs: Any, empty: list[str]) -> tuple[DensityGrid | None, Any]:
    """The density lattice checked against the layers' CRS (an all-zero one is left out, noted in ``empty``),
    and the map's CRS."""
    if density is not None:
        density = density.validated()
        if crs is not None and not density.crs.equals(crs, ignore_axis_order=True):
            raise CRSError(message("density grid is in a different CRS from the layers", where="density",
                                   got=f"{density.crs.to_string()} vs {crs.to_string()}",
                                   fix="build the lattice in the working CRS of the layers"))
        if not np.isfinite(density.values).any() or np.nanmax(density.values) <= 0:
            warnings.warn("map layer 'density' is empty (all zero); it is left out of the map",
                          EmptyLayerWarning, stacklevel=3)
            empty.append("density")
            density = None
        crs = crs if crs is not None else density.crs if density is not None else None
    return density, crs


def _base_map(center: list[float], tiles: list[Any], policy: PagePolicy) -> folium.Map:
    """An empty folium map in a :class:`~gridmap.maps.page.PageFigure` with the basemap tiles, and its policy
    (the tile hosts admitted as image sources)."""
    m = folium.Map(location=center, zoom_start=14, tiles=None, control_scale=True, prefer_canvas=True,
                   max_zoom=19)
    # Without tiles folium does not pass maxZoom to the map, and MarkerCluster needs it.
    m.options["maxZoom"] = 19
    m.options["minZoom"] = 5
    page_figure(m)
    csp_img = ["data:"]
    for i, t in enumerate(tiles):
        ScriptLayer("tiles", {"url": t.url, "attribution": t.attribution, "subdomains": t.subdomains,
                              "maxZoom": t.max_zoom}, name=esc(t.name), overlay=i > 0).add_to(m)
        host = ".".join("*" if "{s}" in part or "{" in part else part for part in urlsplit(t.url).netloc.split("."))
        csp_img.append(f"https://{host}")
    page_figure(m).policy = dataclasses.replace(policy, img_src=tuple(dict.fromkeys(csp_img)))
    return m



#: Layers further apart than this (bounding boxes, metres) cannot belong to one map: one is in the wrong CRS.
MAX_LAYER_GAP_M = 20_000.0


def _check_extents(frames: Mapping[str, gpd.GeoDataFrame], density: DensityGrid | None) -> None:
    """Every layer must lie near the others: coordinates declared in the right CRS but given in another
    (EPSG:4527 eastings with the zone number 39 in front, lon/lat labelled as metres ...) fail here."""
    boxes = {name: np.asarray(f.total_bounds, float) for name, f in frames.items()}
    if density is not None:
        boxes["density"] = np.asarray(density.bounds, float)
    for name, b in boxes.items():
        if not np.isfinite(b).all():
            raise CRSError(message(f"map layer {name!r} has coordinates that do not transform (inf/NaN)",
                                   where=f"layer {name!r}", got=str(b.round(1).tolist()),
                                   fix="check the layer's CRS: its coordinates do not fit the CRS it declares"))
    if len(boxes) < 2:
        return
    ref_name = "communities" if "communities" in boxes else next(iter(boxes))
    r = boxes[ref_name]
    for name, b in boxes.items():
        gap = max(r[0] - b[2], b[0] - r[2], r[1] - b[3], b[1] - r[3], 0.0)
        if gap > MAX_LAYER_GAP_M:
            raise CRSError(message(f"map layer {name!r} lies {gap / 1000:,.0f} km away from layer {ref_name!r}",
                                   where=f"layer {name!r}",
                                   got=f"bounds {b.round(0).tolist()} vs {r.round(0).tolist()}",
                                   fix="its coordinates are probably in another CRS than the one declared "
                                       "(EPSG:4527 puts the zone number 39 in front of the easting; lon/lat is "
                                       "EPSG:4326): set the right CRS, then to_crs() the working CRS"))


def _bounds(frames: Mapping[str, gpd.GeoDataFrame], density: DensityGrid | None,
            display: Display) -> list[list[float]]:
    """The view the map opens on: the communities drawn (the area the map is about; a street map's street
    outline and the density margin reach beyond it), else every layer."""
    if "communities" in frames:
        boxes = [frames["communities"].total_bounds]
    else:
        boxes = [f.total_bounds for f in frames.values()]
        if density is not None:
            boxes.append(np.asarray(density.bounds))
    b = np.array(boxes)
    return display.bounds_latlon((b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()))


