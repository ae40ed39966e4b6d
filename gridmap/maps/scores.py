"""A street's communities coloured by a score (the 接诉即办 composite score of :mod:`gridmap.performance`).

Built on :func:`gridmap.maps.build.build_map` (offline assets, page policy, legend, escaping): the street outline is
drawn by the map as usual, and the communities are one more ``gridmap.areas`` layer whose fill is the score class.
Nothing of the map's look is changed; the classes are fixed bands so two months' maps compare.
"""

from __future__ import annotations

import logging
from typing import Any

import folium
import geopandas as gpd
import pandas as pd

from gridmap.maps.build import build_map
from gridmap.maps.display import Display
from gridmap.maps.options import MapOptions
from gridmap.maps.page import LayerControl, ScriptControl, ScriptLayer
from gridmap.maps.safety import escape_html as esc
from gridmap.performance.rules import NO_SCORE as _NO_SCORE, SCORE_BANDS, score_class

__all__ = ["score_map"]

log = logging.getLogger(__name__)

def _fmt(v: Any, pattern: str) -> str | None:
    return None if v is None or pd.isna(v) else pattern.format(v)


def score_map(communities: gpd.GeoDataFrame, *, streets: gpd.GeoDataFrame | None = None, title: str | None = None,
              value_label: str = "综合成绩 composite score", options: MapOptions | None = None) -> folium.Map:
    """The communities of ``communities`` (``code``, ``name``, ``score`` 0-100; optional ``response_rate``,
    ``resolution_rate``, ``satisfaction_rate`` 0-1 and ``complaints``) filled by score band, over ``streets``
    (outlines). Write it with :func:`gridmap.maps.write_map`."""
    opts = MapOptions.of(options, title=title) if title else MapOptions.of(options)
    outline = streets if streets is not None and len(streets) else communities.dissolve()[["geometry"]]
    m = build_map(streets=outline, options=opts)
    display = Display(communities.crs, gcj02=opts.basemap.gcj02, detail_zoom=opts.scale.detail_zoom)
    styles = [{"color": "#333", "weight": 1.5, "fillColor": c, "fillOpacity": 0.7} for _, c, _ in SCORE_BANDS]
    styles.append({"color": "#333", "weight": 1.5, "fillColor": _NO_SCORE[0], "fillOpacity": 0.5})
    feats = []
    for (_, row), enc in zip(communities.iterrows(), display.encode_areas(communities.geometry.values)):
        pairs = [("社区 community", row.get("name")), ("代码 code", row.get("code")),
                 (value_label, _fmt(row.get("score"), "{:.1f}")),
                 ("响应率 response", _fmt(row.get("response_rate"), "{:.1%}")),
                 ("解决率 resolution", _fmt(row.get("resolution_rate"), "{:.1%}")),
                 ("满意率 satisfaction", _fmt(row.get("satisfaction_rate"), "{:.1%}")),
                 ("诉求 complaints", _fmt(row.get("complaints"), "{:,.0f}"))]
        tip = "<br>".join(f"<b>{esc(k)}</b> {esc(v)}" for k, v in pairs if v is not None and str(v) != "")
        feats.append([score_class(row.get("score")), tip, enc, str(row.get("code") or "") or None])
    # the layer control and the page script refer to the layers by name: they must come after the new layer
    tail = [(k, c) for k, c in m._children.items() if isinstance(c, (LayerControl, ScriptControl))]
    for k, _ in tail:
        del m._children[k]
    ScriptLayer("areas", {"styles": styles, "f": feats}, name=esc(f"社区{value_label}")).add_to(m)
    for k, c in tail:
        m._children[k] = c
    legend = f"<h4>{esc(value_label)}</h4>" + "".join(
        f'<div><i style="background:{c};border-color:#333"></i>{esc(label)}</div>'
        for _, c, label in (*SCORE_BANDS, (None, *_NO_SCORE)))
    for child in m._children.values():
        if isinstance(child, ScriptControl):
            child.spec["legend"] = legend + child.spec.get("legend", "")
    log.info("score map: %d communities", len(communities))
    return m
