"""One builder per map layer: working-CRS GeoDataFrame in, a toggleable layer and its legend entry out.

Builders take frames that have already been checked (CRS, non-empty) by :mod:`gridmap.maps.build`; every
string they put on the page goes through :func:`~gridmap.maps.safety.escape_html` (and free text through
:func:`~gridmap.maps.safety.scrub_pii`). Each layer is a :class:`~gridmap.maps.page.ScriptLayer`: a runtime
function name and a spec that goes into the page's JSON data block (written with
:func:`~gridmap.maps.safety.js_json`), never into template or script source.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import Problem, ValidationError
from gridmap.maps.display import Display
from gridmap.maps.page import ScriptLayer
from gridmap.maps.raster import RAMP, DensityGrid, colorize, png_data_uri, warp_to_mercator
from gridmap.maps.safety import Privacy, escape_html as esc, scrub_pii
from gridmap.planning.flags import DEFAULT_THRESHOLDS, THRESHOLDS_ATTR, SizeClass, size_class
from gridmap.warning.labels import UNIT_LABEL

__all__ = ["LayerOut", "communities_layer", "cells_layer", "components_layers",
           "density_layer", "hotspots_layer", "alerts_layer", "proposal_layers", "streets_layer",
           "complaints_layer", "MAJOR_CLASSES"]

log = logging.getLogger(__name__)


@dataclass
class LayerOut:
    """What a builder returns: folium layers (in drawing order) and a legend section (escaped HTML)."""

    layers: list[Any] = field(default_factory=list)
    legend: str = ""
    #: Data for page-level runtime calls (e.g. ``compare`` for split proposals side by side).
    extra: dict[str, Any] = field(default_factory=dict)


#: Fill colour of each community size class (classes and thresholds: :mod:`gridmap.planning.flags`).
_SIZE_COLORS = {SizeClass.BELOW: "#9ecae1", SizeClass.IN_RANGE: "#a1d99b", SizeClass.ADJUST: "#fdae6b",
               SizeClass.SUPER_LARGE: "#e34a33"}


def _size_thresholds(frame: pd.DataFrame) -> tuple[int, int, int]:
    """The thresholds the flags were computed with (recorded by ``flag_communities``), else Beijing's."""
    th = frame.attrs.get(THRESHOLDS_ATTR)
    return tuple(int(t) for t in th) if th is not None else DEFAULT_THRESHOLDS


def _size_classes(frame: pd.DataFrame) -> list[SizeClass | None]:
    """The classes in ``size_class`` as :func:`~gridmap.planning.flag_communities` computed them; only a frame
    without (understood) flags is classified from ``households`` by the same rule and thresholds."""
    if "size_class" in frame:
        parsed = [SizeClass.parse(v) for v in frame["size_class"]]
        if all(p is not None for p in parsed):
            return parsed
        if "households" not in frame:
            raise ValidationError("communities: size_class values not understood and no households column",
                                  [Problem(None, "size_class", "unknown values",
                                           sorted({str(v) for v, p in zip(frame["size_class"], parsed) if p is None}))],
                                  fix="use below/in_range/adjust/super_large (or 偏小/标准/需调整/超大社区) or give "
                                      "households")
        log.warning("communities: size_class values not all recognised; computing them from households")
    if "households" not in frame:
        raise ValidationError("communities need a households or size_class column",
                              [Problem(None, "households", "missing column")])
    th = _size_thresholds(frame)
    return [size_class(h, thresholds=th) for h in frame["households"]]


def _swatch(color: str, label: str, *, border: str = "#555", fill: bool = True) -> str:
    bg = color if fill else "transparent"
    return f'<div><i style="background:{bg};border-color:{border}"></i>{esc(label)}</div>'


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series([None] * len(frame), index=frame.index)


def _missing(v: Any) -> bool:
    try:
        return v is None or bool(pd.isna(v))
    except (TypeError, ValueError):  # arrays and other non-scalars
        return False


def _tooltip(*pairs: tuple[str, Any]) -> str:
    """'<b>label</b> value<br>...' with every value escaped; skips empty values."""
    rows = [f"<b>{esc(k)}</b> {esc(v)}" for k, v in pairs if not _missing(v) and str(v) != ""]
    return "<br>".join(rows)


def _fmt_int(v: Any) -> Any:
    return None if v is None or pd.isna(v) else f"{int(v):,}"


# ------------------------------------------------------------------------------------------------------------
def communities_layer(frame: gpd.GeoDataFrame, display: Display) -> LayerOut:
    """Communities filled by size flag; tooltip with code, name, households."""
    classes = _size_classes(frame)
    th = _size_thresholds(frame)
    order = list(SizeClass)
    styles = [{"color": "#444", "weight": 1.5, "fillColor": _SIZE_COLORS[c], "fillOpacity": 0.45, "pane": "gmFill"}
              for c in order]
    styles.append({"color": "#444", "weight": 1.5, "fillColor": "#cccccc", "fillOpacity": 0.3, "pane": "gmFill"})
    parts = display.encode_areas(frame.geometry.values)
    feats = []
    for (_, row), cls, enc in zip(frame.iterrows(), classes, parts):
        tip = _tooltip(("社区 community", row.get("name")), ("代码 code", row.get("code")),
                       ("户数 households", _fmt_int(row.get("households"))),
                       ("规模 size", cls.range_label(th) if cls else "未知 unknown"))
        feats.append([order.index(cls) if cls else len(order), tip, enc, str(row.get("code") or "") or None])
    spec = {"styles": styles, "f": feats}
    legend = "<h4>社区规模 community size</h4>" + "".join(_swatch(_SIZE_COLORS[c], c.range_label(th)) for c in order)
    counts = pd.Series([c.value for c in classes if c]).value_counts()
    log.info("communities layer: %d communities (%s)", len(frame), dict(counts))
    return LayerOut([ScriptLayer("areas", spec, name=esc("社区 communities"))], legend)


def streets_layer(frame: gpd.GeoDataFrame, display: Display) -> LayerOut:
    """Street (街道) boundaries as thick outlines."""
    style = {"color": "#222", "weight": 3, "fill": False, "dashArray": "6 4"}
    feats = [[0, _tooltip(("街道 street", row.get("name")), ("代码 code", row.get("code"))), enc, None]
             for (_, row), enc in zip(frame.iterrows(), display.encode_areas(frame.geometry.values))]
    return LayerOut([ScriptLayer("areas", {"styles": [style], "f": feats}, name=esc("街道边界 streets"))],
                    '<h4>街道 streets</h4><div><i style="border:2px dashed #222;background:transparent"></i>'
                    + esc("街道边界 street boundary") + "</div>")


def cells_layer(frame: gpd.GeoDataFrame, display: Display, *, max_cells: int, labels: bool,
                label_zoom: int = 17, show: bool = True, min_zoom: int = 16) -> LayerOut:
    """Unit-cell outlines with their 15-digit codes (hover), sequence numbers as labels when zoomed in.

    Cells are written compactly (geometry, code, community index, area; the tooltip is built on hover), about
    80 bytes a cell, so a whole district's cells fit in a shared map. More than ``max_cells`` cells are not
    drawn: the legend says to open a street map. Cells are drawn from ``min_zoom`` (where a 100 m cell is
    about 55 px wide), so they never hide the size colours of a whole-street view.
    """
    if len(frame) > max_cells:
        log.info("cells layer: %d cells > max_cells=%d, not drawn at this scale", len(frame), max_cells)
        return LayerOut([], "<h4>单元网格 unit cells</h4><div class='gm-note'>"
                        + esc(f"{len(frame):,} 个网格，请打开街道图查看 — {len(frame):,} cells: open a street map")
                        + "</div>")
    style = {"color": "#3366cc", "weight": 0.8, "fill": True, "fillOpacity": 0.0, "opacity": 0.8}
    codes = _col(frame, "code").astype("string").fillna("")
    comm = _col(frame, "community_code").astype("string").fillna("")
    comms = list(dict.fromkeys(comm))
    pos = {c: i for i, c in enumerate(comms)}
    area = [None if _missing(a) else int(round(float(a))) for a in _col(frame, "area_m2")]
    spec: dict[str, Any] = {"style": style, "f": display.encode_areas(frame.geometry.values),
                            "codes": [str(c) for c in codes], "comm": [pos[c] for c in comm],
                            "comms": [str(c) for c in comms], "area": area,
                            "tip": ["网格 cell", "社区 community", "面积 area m²"], "minZoom": min_zoom}
    if labels:
        rp = shapely.point_on_surface(frame.geometry.values)
        spec["labels"] = [display.encode_points(shapely.get_x(rp), shapely.get_y(rp)),
                          [esc(c[-3:]) for c in codes]]
    legend = ("<h4>单元网格 unit cells</h4><div><i style='border:1px solid #3366cc;background:transparent'></i>"
              + esc(f"{len(frame):,} 个网格 cells（悬停看编码 hover for code; zoom ≥ {min_zoom}）") + "</div>")
    log.info("cells layer: %d cells", len(frame))
    return LayerOut([ScriptLayer("cells", spec, name=esc("单元网格 cells"), show=show)], legend)


#: Major component classes (CJ/T 214-2007) with colours: one distinct colour per major class, used for the
#: cluster bubbles, the dots and the legend alike.
MAJOR_CLASSES = {"01": ("公用设施 public utilities", "#1f4e9c"), "02": ("道路交通 roads & traffic", "#f28e00"),
                 "03": ("市容环境 city appearance", "#8e3fb5"), "04": ("园林绿化 greening", "#2e9e3a"),
                 "05": ("房屋土地 buildings & land", "#8c5a2b"), "06": ("其他设施 other", "#e377c2")}
#: Components are drawn from this zoom when their layer is on.
COMPONENTS_MIN_ZOOM = 16
_MINOR_PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666")


def components_layers(frame: gpd.GeoDataFrame, display: Display, *, show: bool = True,
                      min_zoom: int = COMPONENTS_MIN_ZOOM) -> LayerOut:
    """Components clustered per major class (one toggleable layer each, drawn from ``min_zoom``), searchable by
    code; every dot and bubble of a major class has that class's colour (the legend's)."""
    code = _col(frame, "code").astype("string").fillna("")
    cls_code = _col(frame, "class_code").astype("string").fillna("")
    major = (frame["major"].astype("string") if "major" in frame else cls_code.str[:2]).fillna("")
    name = _col(frame, "name").astype("string").fillna("")
    xs, ys = frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()
    out = LayerOut(legend="<h4>城市部件 components</h4><div class='gm-note'>"
                   + esc(f"图层控制中打开，放大至 {min_zoom} 级显示 tick on in the layers, shown from zoom {min_zoom}")
                   + "</div>")
    for mj in sorted(major.unique()):
        sel = (major == mj).to_numpy()
        label, color = MAJOR_CLASSES.get(mj, (f"{mj} 类 class {mj}", "#555555"))
        # Minor classes inside the major class.
        minor_keys = sorted(set(zip(cls_code[sel], name[sel])))
        minor_idx = {k: i for i, k in enumerate(minor_keys)}
        # Popups are filled with textContent by the runtime: plain (JSON-escaped) text, not HTML.
        classes = [[scrub_pii(f"{k[0]} {k[1]}".strip()), color] for k in minor_keys]
        cls = [minor_idx[k] for k in zip(cls_code[sel], name[sel])]
        spec = {"pts": display.encode_points(xs[sel], ys[sel]), "cls": cls,
                "codes": [str(c) for c in code[sel]], "classes": classes, "color": color, "minZoom": min_zoom}
        n = int(sel.sum())
        out.layers.append(ScriptLayer("points", spec, name=esc(f"部件 {label}（{n:,}）"), show=show))
        out.legend += _swatch(color, f"{mj} {label} · {n:,}")
    log.info("components layer: %d components in %d major classes", len(frame), len(out.layers))
    return out


def density_layer(grid: DensityGrid, display: Display, *, privacy: Privacy, min_count: int) -> LayerOut:
    """Complaint density as one PNG image overlay (warped to Web Mercator), not per-cell polygons."""
    g = grid.validated()
    mask = None
    note = ""
    if privacy is Privacy.SHARED and min_count > 0:
        if g.counts is not None:
            from scipy import ndimage

            near = ndimage.uniform_filter(g.counts, size=3, mode="constant") * 9
            mask = near < min_count - 1e-9
            note = f"少于 {min_count} 件的区域不显示 areas with fewer than {min_count} complaints hidden"
        else:
            import warnings

            warnings.warn("density grid has no counts: shared map cannot hide sparse areas exactly; "
                          "pass DensityGrid(counts=...) (DensityGrid.from_points does)", UserWarning, stacklevel=3)
    vals, bounds = warp_to_mercator(g, display, mask=mask)
    img, vmax = colorize(vals)
    ramp = "linear-gradient(to right," + ",".join(RAMP) + ")"
    legend = (f"<h4>{esc(g.label)}</h4><div><span class='gm-ramp' style='background:{ramp}'></span> "
              f"0–{esc(f'{vmax:,.0f}')} {esc(g.unit)}</div>")
    if note:
        legend += f"<div class='gm-note'>{esc(note)}</div>"
    layer = ScriptLayer("imageOverlay", {"url": png_data_uri(img), "bounds": bounds, "opacity": 0.75, "zIndex": 2},
                        name=esc("诉求密度 complaint density"))
    log.info("density layer: lattice %s -> image %s", g.values.shape, img.shape[:2])
    return LayerOut([layer], legend)


_HOTSPOT_COLORS = {
    "new hot spot": "#d7191c", "consecutive hot spot": "#e6550d", "intensifying hot spot": "#fd8d3c",
    "persistent hot spot": "#a50f15", "diminishing hot spot": "#fcae91", "sporadic hot spot": "#fee08b",
    "oscillating hot spot": "#c994c7", "historical hot spot": "#bdbdbd", "hot spot": "#e31a1c",
    "new cold spot": "#2166ac", "consecutive cold spot": "#4393c3", "intensifying cold spot": "#053061",
    "persistent cold spot": "#2c7bb6", "diminishing cold spot": "#92c5de", "sporadic cold spot": "#d1e5f0",
    "oscillating cold spot": "#b2abd2", "historical cold spot": "#d9d9d9", "cold spot": "#2c7bb6",
    "no pattern": "#f0f0f0"}


def _area_or_point_layer(frame: gpd.GeoDataFrame, display: Display, *, keys: list[int], tips: list[str],
                         styles: list[dict]) -> dict[str, Any]:
    """``gridmap.areas`` spec for polygons (areas) or points (drawn as 50 m squares around the point) of a small layer."""
    geoms = frame.geometry.values
    pts = shapely.get_type_id(geoms) == 0
    if pts.any():
        geoms = np.where(pts, shapely.buffer(geoms, 25, cap_style="square"), geoms)
    feats = [[k, t, enc, None] for k, t, enc in zip(keys, tips, display.encode_areas(geoms))]
    return {"styles": styles, "f": feats}


def _suppress(frame: gpd.GeoDataFrame, *, privacy: Privacy, min_count: int, what: str) -> gpd.GeoDataFrame:
    """Shared maps: drop rows counting fewer than ``min_count`` complaints (rows without a count are kept:
    they are statistics of areas, e.g. Gi* z-scores, not counts of people)."""
    if privacy is not Privacy.SHARED or min_count <= 0:
        return frame
    small = frame["count"].notna() & (frame["count"] < min_count)
    if small.any():
        log.info("%s: %d row(s) with fewer than %d complaints hidden (shared map)", what, int(small.sum()), min_count)
    return frame[~small.to_numpy()]


def hotspots_layer(frame: gpd.GeoDataFrame, display: Display, *, privacy: Privacy, min_count: int) -> LayerOut:
    """Hot spots and emerging categories: cells coloured by pattern, tooltip with category, z, count.

    ``frame`` is :func:`gridmap.maps.frames.canonical_hotspots` output (``build_map`` converts)."""
    frame = _suppress(frame, privacy=privacy, min_count=min_count, what="hotspots layer")
    keys = frame["pattern"].fillna("hot spot").astype(str).tolist()
    order = sorted(set(keys), key=lambda k: (list(_HOTSPOT_COLORS).index(k) if k in _HOTSPOT_COLORS else 99, k))
    label_of = dict(zip(keys, frame["label"].fillna("").astype(str)))
    styles = [{"color": _HOTSPOT_COLORS.get(k, "#e31a1c"), "weight": 2,
               "fillColor": _HOTSPOT_COLORS.get(k, "#e31a1c"), "fillOpacity": 0.7, "pane": "gmTop"} for k in order]
    tips = [_tooltip(("热点 hot spot", scrub_pii(lb)), ("类别 category", None if pd.isna(c) else scrub_pii(c)),
                     (UNIT_LABEL.get(str(t), "单元 unit"), None if pd.isna(u) else u),
                     ("z", None if pd.isna(z) else f"{float(z):.2f}"), ("件数 count", _fmt_int(n)))
            for lb, c, t, u, z, n in zip(frame["label"], frame["category"], frame["unit_type"], frame["unit"],
                                         frame["z"], frame["count"])]
    legend = "<h4>热点与新兴类别 hot spots</h4>" + "".join(
        _swatch(s["fillColor"], scrub_pii(label_of.get(k) or k), border=s["color"]) for k, s in zip(order, styles))
    if not len(frame):
        return LayerOut([], legend + "<div class='gm-note'>" + esc(
            f"少于 {min_count} 件的热点不显示 hot spots with fewer than {min_count} complaints hidden") + "</div>")
    spec = _area_or_point_layer(frame, display, keys=[order.index(k) for k in keys], tips=tips, styles=styles)
    log.info("hotspots layer: %d cells", len(frame))
    return LayerOut([ScriptLayer("areas", spec, name=esc(f"热点与新兴类别 hot spots ({len(frame)})"))], legend)


_ALERT_COLORS = {"red": "#b2182b", "红": "#b2182b", "1": "#b2182b", "high": "#b2182b",
                 "orange": "#ef8a62", "橙": "#ef8a62", "2": "#ef8a62", "medium": "#ef8a62",
                 "yellow": "#fddc5c", "黄": "#fddc5c", "3": "#fddc5c", "low": "#fddc5c",
                 "blue": "#67a9cf", "蓝": "#67a9cf", "4": "#67a9cf",
                 "count jump": "#e66101", "keyword watch": "#5e3c99", "new hot spot": "#d7191c",
                 "consecutive hot spot": "#e6550d", "intensifying hot spot": "#fd8d3c"}


def alerts_layer(frame: gpd.GeoDataFrame, display: Display, *, privacy: Privacy, min_count: int) -> LayerOut:
    """Alerts (count jumps, keyword watch, or levels): dashed outlines by kind; text scrubbed and escaped.

    ``frame`` is :func:`gridmap.maps.frames.canonical_alerts` output (``build_map`` converts)."""
    frame = _suppress(frame, privacy=privacy, min_count=min_count, what="alerts layer")
    keys = frame["key"].fillna("alert").astype(str).tolist()
    order = sorted(set(keys))
    label_of = dict(zip(keys, frame["label"].fillna("").astype(str)))
    styles = [{"color": _ALERT_COLORS.get(k.lower(), "#b2182b"), "weight": 3, "dashArray": "4 3",
               "fillColor": _ALERT_COLORS.get(k.lower(), "#b2182b"), "fillOpacity": 0.15, "pane": "gmTop"}
              for k in order]
    tips = [_tooltip(("预警 alert", scrub_pii(lb)), ("类别 category", None if pd.isna(c) else scrub_pii(c)),
                     (UNIT_LABEL.get(str(t), "单元 unit"), None if pd.isna(u) else u),
                     ("说明 note", None if pd.isna(m) else scrub_pii(m)), ("件数 count", _fmt_int(n)))
            for lb, c, t, u, m, n in zip(frame["label"], frame["category"], frame["unit_type"], frame["unit"],
                                         frame["message"], frame["count"])]
    legend = "<h4>预警 alerts</h4>" + "".join(
        _swatch(s["fillColor"], scrub_pii(label_of.get(k) or k), border=s["color"]) for k, s in zip(order, styles))
    if not len(frame):
        return LayerOut([], legend + "<div class='gm-note'>" + esc(
            f"少于 {min_count} 件的预警不显示 alerts with fewer than {min_count} complaints hidden") + "</div>")
    spec = _area_or_point_layer(frame, display, keys=[order.index(k) for k in keys], tips=tips, styles=styles)
    log.info("alerts layer: %d alerts", len(frame))
    return LayerOut([ScriptLayer("areas", spec, name=esc(f"预警 alerts ({len(frame)})"))], legend)


_PROPOSAL_PALETTE = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628")


def proposal_layers(frame: gpd.GeoDataFrame, display: Display, *,
                    current: gpd.GeoDataFrame | None = None) -> LayerOut:
    """Split proposals: one toggleable layer per proposal (first shown), plus the current boundary.

    ``frame`` is :func:`gridmap.maps.frames.canonical_proposals` output: one row per proposed new community
    (``proposal``, ``name``, ``code``, ``households``, ``parent_code``) and ``current`` rows for the boundary
    today (else ``current`` communities are drawn). Compare proposals by ticking them on and off over the
    current boundary.
    """
    now = frame[frame["current"].to_numpy()]
    parts = frame[~frame["current"].to_numpy()]
    if len(now) == 0 and current is not None and len(current):
        now = gpd.GeoDataFrame({"name": _col(current, "name"), "code": _col(current, "code"),
                                "households": _col(current, "households")}, geometry=current.geometry.values,
                               crs=current.crs)
    out = LayerOut(legend="<h4>拆分方案 split proposals</h4>")
    current_spec = None
    if len(now):
        style = {"color": "#000", "weight": 4, "fill": False}
        feats = [[0, _tooltip(("现状 current", r.get("name")),
                              ("代码 code", r.get("parent_code") if _missing(r.get("code")) else r.get("code")),
                              ("户数 households", _fmt_int(r.get("households")))), enc, None]
                 for (_, r), enc in zip(now.iterrows(), display.encode_areas(now.geometry.values))]
        current_spec = {"styles": [style], "f": feats}
        out.layers.append(ScriptLayer("areas", current_spec, name=esc("现状边界 current boundary")))
        out.legend += "<div><i style='border:3px solid #000;background:transparent'></i>" + esc(
            "现状边界 current boundary") + "</div>"
    keys = parts["proposal"].fillna("?").astype(str)
    panels: list[dict[str, Any]] = []
    for i, key in enumerate(dict.fromkeys(keys)):
        sub = parts[(keys == key).to_numpy()]
        color = _PROPOSAL_PALETTE[i % len(_PROPOSAL_PALETTE)]
        # Alternate light/dark fills so neighbouring new communities are told apart.
        styles = [{"color": color, "weight": 2, "fillColor": color, "fillOpacity": a, "dashArray": "5 3"}
                  for a in (0.15, 0.35)]
        feats = [[j % 2, _tooltip(("方案 proposal", key), ("新社区 new community", r.get("name")),
                                   ("代码 code", r.get("code")), ("户数 households", _fmt_int(r.get("households"))),
                                   ("原社区 from", r.get("parent_code"))), enc, None]
                 for j, ((_, r), enc) in enumerate(zip(sub.iterrows(), display.encode_areas(sub.geometry.values)))]
        spec = {"styles": styles, "f": feats}
        out.layers.append(ScriptLayer("areas", spec, name=esc(f"方案 proposal {key}（{len(sub)} 个社区）"),
                                      show=(i == 0)))
        out.legend += _swatch(color, f"方案 proposal {key}")
        hh = "/".join(f"{int(h):,}" for h in sub["households"] if not _missing(h))
        panels.append({"title": f"方案 proposal {key}：{len(sub)} 个社区 parts" + (f"，户数 households {hh}" if hh else ""),
                       "spec": spec})
    if panels:
        cur_hh = ", ".join(f"{int(h):,}" for h in now["households"] if not _missing(h)) if len(now) else ""
        out.extra["compare"] = {"current": current_spec, "panels": panels,
                                "currentTitle": "现状 current" + (f"：户数 households {cur_hh}" if cur_hh else "")}
    log.info("proposals layer: %d proposal(s), %d new communities", keys.nunique(), len(parts))
    return out


def complaints_layer(frame: gpd.GeoDataFrame, display: Display) -> LayerOut:
    """Individual complaints (internal maps only): clustered points, text scrubbed and escaped."""
    cat = _col(frame, "category").astype("string").fillna("")
    text = _col(frame, "text")
    cats = sorted(cat.unique())
    spec = {"pts": display.encode_points(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()),
            "cls": [cats.index(c) for c in cat],
            "codes": [scrub_pii(t)[:200] for t in text],
            "classes": [[scrub_pii(c) or "未分类 uncategorised", _MINOR_PALETTE[i % len(_MINOR_PALETTE)]]
                        for i, c in enumerate(cats)],
            "color": "#b00020", "search": False}
    return LayerOut([ScriptLayer("points", spec, name=esc(f"诉求明细（内部）complaints, internal ({len(frame):,})"),
                                 show=False)],
                    "<h4>诉求明细 complaints</h4><div class='gm-note'>"
                    + esc("内部资料：个人信息已遮盖 internal: phone/ID masked") + "</div>")
