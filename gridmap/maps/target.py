"""The located component of ``gridmap locate CODE --html``: marker, code label, popup opened, its unit cell and
community outlined, drawn over everything else (pane ``gmTarget``/``gmTop`` of :mod:`gridmap.maps.look`)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap.maps.display import Display
from gridmap.maps.layers import MAJOR_CLASSES, LayerOut
from gridmap.maps.page import ScriptLayer
from gridmap.maps.safety import escape_html as esc, scrub_pii

__all__ = ["target_layer", "TARGET_RING"]

#: Colour of the ring around the located component (and of its label and cell outline).
TARGET_RING = "#d4002a"


def _value(row: Any, key: str) -> str:
    v = row.get(key)
    if v is None or (not isinstance(v, (list, tuple)) and pd.isna(v)):
        return ""
    return str(v)


def _outline(frame: gpd.GeoDataFrame | None, code: str, display: Display) -> Any:
    if frame is None or not code or "code" not in frame:
        return None
    hit = frame[frame["code"].astype("string") == code]
    if not len(hit):
        return None
    return display.encode_areas(hit.geometry.values[:1])[0] or None


def target_layer(frame: gpd.GeoDataFrame, display: Display, *, cells: gpd.GeoDataFrame | None = None,
                 communities: gpd.GeoDataFrame | None = None) -> tuple[LayerOut, list[float]]:
    """The first row of ``frame`` (a component) as the map's target; returns the layer and its [lat, lon]."""
    row = frame.iloc[0]
    p = row.geometry
    major = _value(row, "major") or _value(row, "class_code")[:2]
    label, color = MAJOR_CLASSES.get(major, (f"{major} 类", "#555555"))
    code = _value(row, "code")
    popup = [[k, scrub_pii(v)] for k, v in (
        ("部件 component", code), ("类别 class", f"{_value(row, 'class_code')} {_value(row, 'class_name') or _value(row, 'name')}".strip()),
        ("大类 major", label), ("状态 status", _value(row, "status")), ("网格 cell", _value(row, "cell_code")),
        ("社区 community", f"{_value(row, 'community_code')} {_value(row, 'community_name')}".strip())) if v]
    spec = {"pt": display.encode_points([p.x], [p.y]), "color": color, "label": esc(code), "popup": popup,
            "cell": _outline(cells, _value(row, "cell_code"), display),
            "community": (display.encode_areas([row["community_outline"]])[0] or None
                          if "community_outline" in frame and row["community_outline"] is not None
                          else _outline(communities, _value(row, "community_code"), display)),
            "cellStyle": {"color": TARGET_RING, "weight": 3, "fill": True, "fillColor": TARGET_RING,
                          "fillOpacity": 0.08, "pane": "gmTop", "interactive": False},
            "communityStyle": {"color": "#222", "weight": 2.5, "dashArray": "8 5", "fill": False, "pane": "gmTop",
                               "interactive": False}}
    ll = display.latlon_int([p.x], [p.y])[0] / 1e5
    legend = ("<h4>定位 located</h4>"
              f'<div><i style="background:{color};border:2px solid {TARGET_RING};border-radius:50%"></i>'
              + esc(f"{code} {label}") + "</div>"
              + f'<div><i style="border:2px solid {TARGET_RING};background:transparent"></i>'
              + esc("所在网格 its cell") + "</div>"
              + '<div><i style="border:2px dashed #222;background:transparent"></i>' + esc("所在社区 its community")
              + "</div>")
    return LayerOut([ScriptLayer("target", spec, name=esc(f"定位 {code}"))], legend), [float(ll[0]), float(ll[1])]
