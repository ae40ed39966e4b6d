"""An offline basemap drawn from the store's own data: roads by class (width by zoom), water, green, compound
outlines at high zoom, and street, community, water and road names placed by zoom without overlapping.

No tiles and no network: the layers come from the store's ``roads`` (kind ``main``/``secondary``/``branch``/
``hutong``/``river``/``rail``, ``width_m``), ``compounds`` (kind ``compound``/``building``), ``streets`` and
``communities`` (names), and an optional ``green`` frame of polygons (parks, if a store has them). Online tiles
(Tianditu, Gaode, OSM) stay options of :mod:`gridmap.maps.basemaps`; this basemap is drawn under them too.

Each builder returns a :class:`~gridmap.maps.layers.LayerOut` whose layers draw in the basemap panes of
:mod:`gridmap.maps.look` (under the map's subject).
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.maps.display import Display
from gridmap.maps.layers import LayerOut
from gridmap.maps.page import ScriptLayer
from gridmap.maps.safety import escape_html as esc

__all__ = ["ROAD_CLASSES", "roads_layers", "compounds_layer", "green_layer", "names_layer", "encode_lines"]

log = logging.getLogger(__name__)

#: Road classes: label, colour, default width (m), minimum width (px), first zoom shown, dash.
ROAD_CLASSES: dict[str, tuple[str, str, float, float, int, str | None]] = {
    "main": ("主干路 main road", "#e59a2f", 40.0, 3.0, 0, None),
    "secondary": ("次干路 secondary road", "#f2c45a", 24.0, 2.0, 0, None),
    "branch": ("支路 branch road", "#b8b8b8", 14.0, 1.5, 14, None),
    "hutong": ("胡同 hutong", "#c4c4c4", 6.0, 1.0, 15, None),
    "rail": ("铁路 railway", "#6f6f6f", 10.0, 1.5, 0, "6 4"),
    "river": ("河流 river", "#8cbfe8", 30.0, 2.0, 0, None),
}
_OTHER_ROAD = ("道路 road", "#c4c4c4", 8.0, 1.0, 15, None)

#: Label kinds in placement order (the runtime places earlier kinds first); first zoom at each map scale.
LABEL_KINDS = ("street", "community", "water", "road")


def encode_lines(display: Display, geoms: Any) -> list[list[list[int]]]:
    """Lines/multilines to [delta-coded [lat, lon] integer line, ...] per geometry (simplified like areas)."""
    geoms = shapely.simplify(np.asarray(geoms, dtype=object), display.tolerance_m, preserve_topology=False)
    out = []
    for geom in geoms:
        parts = []
        for line in shapely.get_parts(geom):
            if line is None or line.is_empty or line.geom_type not in ("LineString", "LinearRing"):
                continue
            xy = np.asarray(line.coords)[:, :2]
            pts = display.latlon_int(xy[:, 0], xy[:, 1])
            keep = np.ones(len(pts), bool)
            keep[1:] = (np.diff(pts, axis=0) != 0).any(axis=1)
            pts = pts[keep]
            if len(pts) < 2:
                continue
            delta = pts.copy()
            delta[1:] = np.diff(pts, axis=0)
            parts.append(delta.ravel().tolist())
        out.append(parts)
    return out


def _kinds(frame: pd.DataFrame) -> list[str]:
    return [str(k) if isinstance(k, str) else "" for k in (frame["kind"] if "kind" in frame else [""] * len(frame))]


def roads_layers(frame: gpd.GeoDataFrame, display: Display) -> LayerOut:
    """Water (rivers) and roads as two toggleable layers; each class has its colour, width (its ``width_m``
    in metres at the current zoom, at least a few pixels) and the zoom it shows from."""
    kinds = _kinds(frame)
    widths = frame["width_m"] if "width_m" in frame else pd.Series([np.nan] * len(frame), index=frame.index)
    enc = encode_lines(display, frame.geometry.values)
    out = LayerOut(legend="<h4>底图 basemap</h4>")
    for name, pane, water in (("水系 water", "gmBase", True), ("道路 roads", "gmRoads", False)):
        classes: list[list[Any]] = []
        index: dict[tuple[str, float], int] = {}
        feats = []
        for kind, w, parts in zip(kinds, widths, enc):
            if (kind == "river") is not water or not parts:
                continue
            label, color, w0, min_px, min_zoom, dash = ROAD_CLASSES.get(kind, _OTHER_ROAD)
            width = float(w) if w is not None and np.isfinite(float(w)) and float(w) > 0 else w0
            key = (kind, width)
            if key not in index:
                style = {"color": color, "opacity": 0.95, "lineCap": "round", "lineJoin": "round", "pane": pane}
                if dash:
                    style["dashArray"] = dash
                index[key] = len(classes)
                classes.append([style, width, min_px, min_zoom])
            feats.append([index[key], parts])
        if not feats:
            continue
        out.layers.append(ScriptLayer("lines", {"classes": classes, "f": feats}, name=esc(name)))
        seen = dict.fromkeys(k for k in kinds if (k == "river") is water)
        for kind in seen:
            label, color, *_ = ROAD_CLASSES.get(kind, _OTHER_ROAD)
            out.legend += (f'<div><i style="background:{color};border-color:{color};height:4px"></i>'
                           f"{esc(label)}</div>")
    log.info("offline basemap: %d road/water lines", len(frame))
    return out


def compounds_layer(frame: gpd.GeoDataFrame, display: Display, *, min_zoom: int = 16) -> LayerOut:
    """Compound (小区) and building outlines, drawn from ``min_zoom`` (buildings one zoom later)."""
    kinds = _kinds(frame)
    styles = [{"color": "#9a8f80", "weight": 1, "fillColor": "#e4ddd0", "fillOpacity": 0.5, "pane": "gmBase",
               "interactive": False},
              {"color": "#b5aa9a", "weight": 0.6, "fillColor": "#d9d0c1", "fillOpacity": 0.6, "pane": "gmBase",
               "interactive": False}]
    enc = display.encode_areas(frame.geometry.values)
    out = LayerOut(legend="")
    for j, (kind, zoom, name) in enumerate((("compound", min_zoom, "小区 compounds"),
                                            ("building", min_zoom + 1, "楼栋 buildings"))):
        feats = [[j, "", e, None] for k, e in zip(kinds, enc) if (k == "building") == (kind == "building") and e]
        if feats:
            out.layers.append(ScriptLayer("areas", {"styles": styles, "f": feats, "minZoom": zoom}, name=esc(name)))
    if out.layers:
        out.legend = (f'<div><i style="background:#e4ddd0;border-color:#9a8f80"></i>'
                      + esc(f"小区/楼栋 compounds (zoom ≥ {min_zoom})") + "</div>")
    return out


def green_layer(frame: gpd.GeoDataFrame, display: Display) -> LayerOut:
    """Green space polygons (parks) under everything else."""
    style = {"color": "#8fc58a", "weight": 0.5, "fillColor": "#c6e5bf", "fillOpacity": 0.8, "pane": "gmBase",
             "interactive": False}
    feats = [[0, "", e, None] for e in display.encode_areas(frame.geometry.values) if e]
    return LayerOut([ScriptLayer("areas", {"styles": [style], "f": feats}, name=esc("绿地 green"))],
                    '<div><i style="background:#c6e5bf;border-color:#8fc58a"></i>' + esc("绿地 green") + "</div>")


def _label_points(geoms: Any) -> tuple[np.ndarray, np.ndarray]:
    pts = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    return shapely.get_x(pts), shapely.get_y(pts)


def _line_points(geoms: Any) -> tuple[np.ndarray, np.ndarray]:
    """Midpoint of the longest part of each line."""
    xs, ys = [], []
    for g in geoms:
        parts = [p for p in shapely.get_parts(g) if not p.is_empty]
        if not parts:
            xs.append(np.nan)
            ys.append(np.nan)
            continue
        longest = max(parts, key=lambda p: p.length)
        mid = longest.interpolate(0.5, normalized=True)
        xs.append(mid.x)
        ys.append(mid.y)
    return np.asarray(xs, float), np.asarray(ys, float)


def names_layer(display: Display, *, streets: gpd.GeoDataFrame | None = None,
                communities: gpd.GeoDataFrame | None = None, roads: gpd.GeoDataFrame | None = None,
                zooms: tuple[int, int, int, int] = (11, 14, 14, 16)) -> LayerOut:
    """Street, community, water and road names as labels: each shows from its kind's zoom (``zooms`` in
    :data:`LABEL_KINDS` order) where it overlaps no label placed before it (streets first)."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    texts: list[str] = []
    z: list[int] = []
    k: list[int] = []

    def add(kind: int, x: np.ndarray, y: np.ndarray, names: Any, first: Any = None) -> None:
        first = [zooms[kind]] * len(x) if first is None else first
        for xi, yi, n, zi in zip(x, y, names, first):
            if not isinstance(n, str) or not n.strip() or not np.isfinite(xi) or not np.isfinite(yi):
                continue
            xs.append(xi)
            ys.append(yi)
            texts.append(esc(n.strip()))
            z.append(int(zi))
            k.append(kind)

    if streets is not None and len(streets) and "name" in streets:
        add(0, *_label_points(streets.geometry.values), streets["name"])
    if communities is not None and len(communities) and "name" in communities:
        order = communities.sort_values("code") if "code" in communities else communities
        add(1, *_label_points(order.geometry.values), order["name"])
    if roads is not None and len(roads) and "name" in roads:
        r = roads[roads["name"].notna()]
        kinds = _kinds(r)
        rank = {"river": 0, "main": 1, "secondary": 2, "branch": 3, "hutong": 4}
        # One label per road name (the longest piece carries it).
        seen: set[str] = set()
        pick = []
        lengths = r.geometry.length.to_numpy()
        for i in sorted(range(len(r)), key=lambda i: (rank.get(kinds[i], 5), -lengths[i], str(r["name"].iloc[i]))):
            n = str(r["name"].iloc[i])
            if n not in seen:
                seen.add(n)
                pick.append(i)
        pick.sort(key=lambda i: (rank.get(kinds[i], 5), str(r["name"].iloc[i])))
        sub = r.iloc[pick]
        lx, ly = _line_points(sub.geometry.values)
        water = np.array([kinds[i] == "river" for i in pick], bool)
        add(2, lx[water], ly[water], sub["name"][water])
        # main and secondary road names one zoom before branch roads and hutongs
        add(3, lx[~water], ly[~water], sub["name"][~water],
            [zooms[3] - (1 if kinds[i] in ("main", "secondary") else 0) for i in np.asarray(pick)[~water]])
    if not texts:
        return LayerOut()
    spec = {"pts": display.encode_points(np.asarray(xs), np.asarray(ys)), "t": texts, "z": z, "k": k,
            "kinds": list(LABEL_KINDS)}
    return LayerOut([ScriptLayer("labels", spec, name=esc("地名 names"))])
