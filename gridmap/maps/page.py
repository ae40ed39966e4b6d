"""The page: gridmap's inline runtime, script-backed layers and controls, and the single-file writer.

Data never meets a template engine. Branca turns the output of every element's template into a new Jinja2
template and renders it again, so a name like ``{{ lipsum.__globals__.os.popen('id').read() }}`` in an element's
output would run. gridmap's elements therefore print identifiers only (``gridmap.areas(gridmap.data("k"))``);
every data-derived value (geometry, tooltips, layer names, legend, title, comparison panels, tile URLs) goes into
one ``<script type="application/json" id="gridmap-data">`` block, written with
:func:`~gridmap.maps.safety.js_json` and inserted after branca has rendered the page (:class:`PageFigure`), and
the runtime (``gridmap.data(key)``) reads it. gridmap's own templates run in a sandboxed Jinja2 environment with
no globals. Element names are numbered in tree order, so the same map gives the same bytes.

:func:`to_html` removes every CDN ``<script>``/``<link>`` folium would add, inlines Leaflet,
Leaflet.markercluster (:mod:`gridmap.maps.bundle`) and the runtime below, so the file opens from ``file://``
with no network, and sets a strict Content-Security-Policy: ``default-src 'none'``, scripts only by the sha256
hash of each inline script of the final page (no ``'unsafe-inline'``, no ``eval``), images only as ``data:``
URIs (plus the tile hosts of an online basemap). It refuses to write a page that references an external
script or stylesheet, or has an inline event handler or a ``javascript:`` URL.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
from branca.element import Element, Figure, MacroElement
from folium.elements import ElementAddToElement
from jinja2.sandbox import ImmutableSandboxedEnvironment

from gridmap.errors import GridmapError, message
from gridmap.maps.bundle import inline_head
from gridmap.maps.look import LOOK_CSS, LOOK_FUNCTIONS, LOOK_JS
from gridmap.maps.safety import Privacy, js_json

__all__ = ["ScriptLayer", "ScriptControl", "LayerControl", "PageFigure", "PagePolicy", "page_figure", "page_policy",
           "to_html", "write_map", "content_security_policy", "script_hashes", "RUNTIME_JS", "RUNTIME_CSS", "DATA_ID"]

log = logging.getLogger(__name__)

#: id of the page's JSON data block.
DATA_ID = "gridmap-data"

#: Resources folium elements may ask for that the bundle provides (name in folium's default_js/css lists).
_BUNDLED = {"leaflet", "leaflet_css", "markerclusterjs", "markerclustercss", "markerclusterdefaultcss"}
#: Resources of folium.Map that gridmap pages do not use (no awesome-markers icons, no bootstrap popups).
_DROPPED_FOR_MAP = {"jquery", "bootstrap", "awesome_markers", "bootstrap_css", "glyphicons_css",
                    "awesome_markers_font_css", "awesome_markers_css", "awesome_rotate_css"}

RUNTIME_CSS = """
.gm-title{position:absolute;top:8px;left:50%;transform:translateX(-50%);z-index:1000;background:rgba(255,255,255,.92);
 padding:4px 12px;border-radius:4px;font:bold 15px/1.4 sans-serif;box-shadow:0 1px 4px rgba(0,0,0,.3);pointer-events:none}
.gm-banner{position:absolute;top:0;left:0;right:0;z-index:1001;background:#b00020;color:#fff;text-align:center;
 font:bold 14px/1.6 sans-serif;letter-spacing:1px;pointer-events:none}
.gm-legend{background:rgba(255,255,255,.94);padding:6px 9px;font:12px/1.45 sans-serif;max-height:55vh;overflow:auto;
 border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3)}
.gm-legend h4{margin:6px 0 2px;font-size:12px}.gm-legend h4:first-child{margin-top:0}
.gm-legend i{display:inline-block;width:14px;height:10px;margin-right:5px;vertical-align:middle;border:1px solid #555}
.gm-legend .gm-ramp{display:inline-block;width:120px;height:10px;vertical-align:middle}
.gm-legend .gm-note{color:#666;font-style:italic}
.gm-legend-toggle{display:block;width:100%;margin:0 0 2px;padding:1px 4px;border:0;background:none;cursor:pointer;
 font:bold 12px/1.45 sans-serif;text-align:left;color:#333}
.gm-legend.gm-closed .gm-legend-body{display:none}
@media (max-width:600px),(max-height:500px){.gm-legend:not(.gm-open) .gm-legend-body{display:none}}
.gm-search{background:#fff;padding:4px}.gm-search input{width:170px;font-size:13px;padding:2px 4px}
.gm-search-msg{font-size:12px;color:#b00020;max-width:200px}
.gm-label{font:10px sans-serif;color:#333;white-space:nowrap;text-shadow:0 0 2px #fff,0 0 2px #fff;pointer-events:none}
.gm-hide-labels .gm-label{display:none}
.gm-cluster div{color:#fff;font-weight:bold;opacity:.85}
.gm-compare{position:absolute;top:0;right:0;bottom:0;width:42%;display:grid;gap:4px;padding:4px;box-sizing:border-box;
 background:#e8e8e8;overflow:auto;grid-auto-rows:minmax(200px,1fr)}
.gm-panel{display:flex;flex-direction:column;background:#fff;border:1px solid #bbb;min-height:0}
.gm-panel-title{font:bold 12px/1.6 sans-serif;padding:0 6px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.gm-panel-map{flex:1;min-height:150px}
"""

RUNTIME_JS = r"""
var gridmap = (function () {
  "use strict";
  var S = 1e5, index = {}, store = null;
  // Every data-derived value of the page is in one JSON block (not executable); scripts name keys only.
  function data(key) {
    if (store === null) {
      var el = document.getElementById("gridmap-data");
      store = el ? JSON.parse(el.textContent) : {};
    }
    if (!(key in store)) throw new Error("gridmap: no page data for " + key);
    return store[key];
  }
  function ring(a) {
    var out = new Array(a.length / 2), la = 0, lo = 0;
    for (var i = 0, j = 0; i < a.length; i += 2, j++) { la += a[i]; lo += a[i + 1]; out[j] = [la / S, lo / S]; }
    return out;
  }
  function text(tag, s, cls) { var e = document.createElement(tag); e.textContent = s; if (cls) e.className = cls; return e; }
  // spec: {styles: [...], f: [[styleIndex, tooltipHtml, parts, code]], labels: [flatDeltaPoints, [text...]]}
  // tooltipHtml and label texts are HTML-escaped by gridmap before they get here.
  function areas(spec) {
    var group = L.featureGroup();
    spec.f.forEach(function (f) {
      var lyr = L.polygon(f[2].map(function (part) { return part.map(ring); }), spec.styles[f[0]]);
      if (f[1]) lyr.bindTooltip(f[1], {sticky: true});
      if (f[3]) index[f[3]] = {layer: lyr, group: group};
      group.addLayer(lyr);
    });
    if (spec.labels) {
      var pts = ring(spec.labels[0]);
      pts.forEach(function (p, i) {
        group.addLayer(L.marker(p, {interactive: false, keyboard: false,
          icon: L.divIcon({className: "gm-label", html: spec.labels[1][i], iconSize: null})}));
      });
    }
    return spec.minZoom ? gate(group, spec.minZoom) : group;
  }
  // A group whose children are drawn only from zoom minZoom (the group stays ticked in the layer control).
  function gate(group, minZoom) {
    var kids = null, map = null;
    function apply() {
      if (!map) return;
      var on = map.getZoom() >= minZoom;
      if (!on && kids === null) { kids = group.getLayers(); group.clearLayers(); }
      else if (on && kids !== null) { var k = kids; kids = null; k.forEach(function (l) { group.addLayer(l); }); }
    }
    group.on("add", function () { map = group._map; map.on("zoomend", apply); apply(); });
    group.on("remove", function () { if (map) map.off("zoomend", apply); map = null; });
    return group;
  }
  // Unit cells, compactly: spec {style, f: [parts], codes: [code], comm: [i], comms: [community code],
  // area: [m2], tip: [cellLabel, communityLabel, areaLabel], labels?}. Tooltips are built on hover as DOM
  // text (no HTML from data), so a cell costs its geometry, its code and two small integers in the file.
  function cells(spec) {
    var group = L.featureGroup();
    function tip(i) {
      return function () {
        var d = document.createElement("div"), rows = [[spec.tip[0], spec.codes[i]],
          [spec.tip[1], spec.comms[spec.comm[i]]], [spec.tip[2], spec.area[i] == null ? "" : spec.area[i].toLocaleString("en-US")]];
        rows.forEach(function (r, k) {
          if (r[1] === "" || r[1] == null) return;
          if (d.childNodes.length) d.appendChild(document.createElement("br"));
          d.appendChild(text("b", r[0])); d.appendChild(document.createTextNode(" " + r[1]));
        });
        return d;
      };
    }
    for (var i = 0; i < spec.f.length; i++) {
      var lyr = L.polygon(spec.f[i].map(function (part) { return part.map(ring); }), spec.style);
      lyr.bindTooltip(tip(i), {sticky: true});
      if (spec.codes[i]) index[spec.codes[i]] = {layer: lyr, group: group};
      group.addLayer(lyr);
    }
    if (spec.labels) {
      ring(spec.labels[0]).forEach(function (p, i) {
        group.addLayer(L.marker(p, {interactive: false, keyboard: false,
          icon: L.divIcon({className: "gm-label", html: spec.labels[1][i], iconSize: null})}));
      });
    }
    return spec.minZoom ? gate(group, spec.minZoom) : group;
  }
  // spec: {pts: flatDeltaPoints, cls: [classIndex], codes: [code], classes: [[label, color]], color: clusterColor}
  function points(spec) {
    var group = L.markerClusterGroup({chunkedLoading: true, maxClusterRadius: 60, showCoverageOnHover: false,
      disableClusteringAtZoom: 18,
      iconCreateFunction: function (c) {
        var n = c.getChildCount(), size = n < 100 ? 30 : (n < 1000 ? 36 : 42);
        return L.divIcon({html: '<div style="background:' + spec.color + '"><span>' + n + '</span></div>',
          className: "marker-cluster gm-cluster", iconSize: L.point(size, size)});
      }});
    var ms = null;
    function popup(layer) {
      var i = layer._gmIndex, div = document.createElement("div"), cls = spec.classes[spec.cls[i]];
      div.appendChild(text("b", spec.codes[i])); div.appendChild(document.createElement("br"));
      div.appendChild(text("span", cls[0]));
      return div;
    }
    // Markers are made when the layer is first shown (or searched), so hidden layers cost nothing at load.
    function fill() {
      if (ms) return ms;
      var ll = ring(spec.pts);
      ms = new Array(ll.length);
      for (var i = 0; i < ll.length; i++) {
        var m = L.circleMarker(ll[i], {radius: 5, color: "#333", weight: 1,
          fillColor: spec.classes[spec.cls[i]][1], fillOpacity: 0.9});
        m._gmIndex = i; m.bindPopup(popup); ms[i] = m;
      }
      return ms;
    }
    // Drawn from zoom spec.minZoom when switched on (hundreds of cluster bubbles would bury the map's subject).
    var shown = false, gmap = null;
    function byZoom() {
      if (!gmap) return;
      var on = !spec.minZoom || gmap.getZoom() >= spec.minZoom;
      if (on && !shown) { group.addLayers(fill()); shown = true; }
      else if (!on && shown) { group.clearLayers(); shown = false; }
    }
    group.on("add", function () { gmap = group._map; gmap.on("zoomend", byZoom); byZoom(); });
    group.on("remove", function () { if (gmap) gmap.off("zoomend", byZoom); gmap = null; shown = false; });
    if (spec.search !== false) {
      spec.codes.forEach(function (c, i) { index[c] = {group: group, marker: function () { return fill()[i]; }}; });
    }
    return group;
  }
  function control(map, position, build) {
    var C = L.Control.extend({options: {position: position}, onAdd: function () {
      var div = build(); L.DomEvent.disableClickPropagation(div); L.DomEvent.disableScrollPropagation(div); return div; }});
    return new C().addTo(map);
  }
  // html: built and escaped by gridmap in Python.
  // Collapsible: open on large screens, closed on small ones (CSS media query), a button toggles either way.
  function legend(map, html) {
    control(map, "bottomleft", function () {
      var d = L.DomUtil.create("div", "gm-legend"), btn = L.DomUtil.create("button", "gm-legend-toggle", d);
      var body = L.DomUtil.create("div", "gm-legend-body", d);
      btn.type = "button"; btn.textContent = "\u56fe\u4f8b legend";  // 图例
      body.innerHTML = html;
      function shown() { return getComputedStyle(body).display !== "none"; }
      function mark() { btn.setAttribute("aria-expanded", shown() ? "true" : "false"); }
      btn.onclick = function () {
        var open = !shown();
        L.DomUtil[open ? "addClass" : "removeClass"](d, "gm-open");
        L.DomUtil[open ? "removeClass" : "addClass"](d, "gm-closed");
        mark();
      };
      setTimeout(mark, 0);
      return d;
    });
  }
  function overlayText(map, cls, s) { map.getContainer().appendChild(text("div", s, cls)); }
  function search(map, placeholder) {
    control(map, "topleft", function () {
      var div = L.DomUtil.create("div", "gm-search leaflet-bar"), inp = L.DomUtil.create("input", "", div);
      var msg = L.DomUtil.create("div", "gm-search-msg", div);
      inp.type = "search"; inp.placeholder = placeholder; inp.setAttribute("aria-label", placeholder);
      L.DomEvent.on(inp, "keydown", function (e) { if (e.key === "Enter") go(inp.value.trim(), msg); });
      return div;
    });
    function go(q, msg) {
      var hit = index[q];
      msg.textContent = "";
      if (!q) return;
      if (!hit) {
        var keys = Object.keys(index).filter(function (k) { return k.indexOf(q) === 0; }).slice(0, 5);
        msg.textContent = keys.length ? "未找到 not found; 可能 maybe: " + keys.join(", ") : "未找到 not found: " + q;
        return;
      }
      if (!map.hasLayer(hit.group)) map.addLayer(hit.group);
      if (hit.marker) {
        var mk = hit.marker(), tries = 0;
        // Clustering is off from zoom 18: jump there, then open the popup once the marker is drawn
        // (clustering is chunked, so wait for it).
        map.setView(mk.getLatLng(), Math.max(map.getZoom(), 18), {animate: false});
        (function show() {
          if (map.hasLayer(mk)) { mk.openPopup(); return; }
          if (tries++ < 100) setTimeout(show, 50);
        })();
      }
      else { map.fitBounds(hit.layer.getBounds(), {maxZoom: 18, animate: false}); hit.layer.openTooltip(hit.layer.getBounds().getCenter()); }
    }
  }
  // Side-by-side comparison: the main map narrows to the left, and a grid of small maps on the right shows
  // the current boundary and each proposal over it, all fitted to the same extent (titles set as text).
  // spec: {bounds, current: areasSpec|null, currentTitle, panels: [{title, spec: areasSpec}]}
  function compare(map, spec) {
    var box = document.createElement("div"), minis = [], n = spec.panels.length + (spec.current ? 1 : 0);
    box.className = "gm-compare";
    box.style.gridTemplateColumns = "repeat(" + (n > 2 ? 2 : 1) + ", minmax(0, 1fr))";
    map.getContainer().parentNode.appendChild(box);
    L.DomUtil.addClass(map.getContainer().parentNode, "gm-has-compare");
    map.getContainer().style.width = "58%";
    function panel(title, specs) {
      var p = document.createElement("div"), d = document.createElement("div");
      p.className = "gm-panel"; d.className = "gm-panel-map"; p.title = title;
      p.appendChild(text("div", title, "gm-panel-title")); p.appendChild(d); box.appendChild(p);
      var m = L.map(d, {zoomControl: false, attributionControl: false, dragging: false, scrollWheelZoom: false,
        doubleClickZoom: false, boxZoom: false, keyboard: false, touchZoom: false, preferCanvas: true, zoomSnap: 0});
      specs.forEach(function (s) { areas(s).addTo(m); });
      minis.push(m);
    }
    if (spec.current) panel(spec.currentTitle, [spec.current]);
    spec.panels.forEach(function (p) { panel(p.title, spec.current ? [p.spec, spec.current] : [p.spec]); });
    map.invalidateSize({animate: false});
    minis.forEach(function (m) { m.invalidateSize(false); m.fitBounds(spec.bounds, {animate: false, padding: [8, 8]}); });
    return minis;
  }
  // Online basemap tiles: {url, attribution, subdomains, maxZoom} (fixed templates; a key only if embedded).
  function tiles(spec) {
    return L.tileLayer(spec.url, {attribution: spec.attribution, subdomains: spec.subdomains, maxZoom: spec.maxZoom,
      maxNativeZoom: spec.maxZoom});
  }
  // Density image: {url: PNG data URI, bounds, opacity, zIndex}.
  function imageOverlay(spec) {
    return L.imageOverlay(spec.url, spec.bounds, {opacity: spec.opacity, interactive: false, zIndex: spec.zIndex});
  }
  // The layer control: vars maps element names to layers; spec.layers = [[name, label, overlay]] (labels are
  // escaped HTML: Leaflet sets them with innerHTML).
  function layerControl(map, vars, spec) {
    var base = {}, over = {};
    spec.layers.forEach(function (l) { (l[2] ? over : base)[l[1]] = vars[l[0]]; });
    return L.control.layers(base, over, {position: spec.position, collapsed: spec.collapsed || window.innerWidth < 700 || window.innerHeight < 500, autoZIndex: true})
      .addTo(map);
  }
  // Everything page-level, from one spec: legend, title, banner, search, comparison panels, initial view.
  function page(map, spec) {
    legend(map, spec.legend);
    var headH = gridmap.header(map, spec);
    if (spec.search) search(map, spec.search);
    if (spec.compare) compare(map, spec.compare);
    if (spec.print) gridmap.printBlock(map, spec.print);
    init(map, spec.init, headH);
  }
  function init(map, opts, headH) {
    if (map.attributionControl) map.attributionControl.setPrefix("Leaflet");
    L.control.scale({metric: true, imperial: false, position: "bottomright", maxWidth: 150}).addTo(map);
    if (opts.labelZoom) {
      var f = function () { L.DomUtil[map.getZoom() < opts.labelZoom ? "addClass" : "removeClass"](map.getContainer(), "gm-hide-labels"); };
      map.on("zoomend", f); f();
    }
    gridmap.view(map, opts, headH || 0);
    window.gridmapReady = true;
  }
  return {data: data, ring: ring, areas: areas, cells: cells, points: points, tiles: tiles, imageOverlay: imageOverlay,
          layerControl: layerControl, compare: compare, legend: legend, overlayText: overlayText, search: search,
          page: page, init: init, index: index};
})();
"""


#: Runtime functions a :class:`ScriptLayer` may call (each takes its spec from the page data).
LAYER_FUNCTIONS = frozenset({"areas", "cells", "points", "tiles", "imageOverlay"}) | LOOK_FUNCTIONS

# The few templates gridmap itself gives branca. They print identifiers only (element names numbered by
# PageFigure, and fixed runtime function names): every data-derived value goes into the page
# data (one JSON block, read by the runtime), never into template output, because branca compiles each
# element's output as a new Jinja2 template. They run in a sandbox with no globals, so even a template
# that reached data could not call into Python.
_ENV = ImmutableSandboxedEnvironment(autoescape=True)
_ENV.globals.clear()

_LAYER_TEMPLATE = _ENV.from_string(
    "{% macro script(this, kwargs) %}var {{ this.get_name() }} = gridmap.{{ this.fn }}"
    "(gridmap.data({{ this.get_name()|tojson }}));{% endmacro %}")
_CONTROL_TEMPLATE = _ENV.from_string(
    "{% macro script(this, kwargs) %}gridmap.page({{ this.parent_name }}, "
    "gridmap.data({{ this.get_name()|tojson }}));{% endmacro %}")
_LAYER_CONTROL_TEMPLATE = _ENV.from_string(
    "{% macro script(this, kwargs) %}var {{ this.get_name() }} = gridmap.layerControl({{ this.parent_name }}, "
    "{{ '{' }}{% for v in this.layer_vars %}{{ v|tojson }}: {{ v }}{% if not loop.last %}, {% endif %}"
    "{% endfor %}{{ '}' }}, gridmap.data({{ this.get_name()|tojson }}));{% endmacro %}")


def _page_data(element: Any) -> dict[str, Any]:
    root = element.get_root()
    if not isinstance(root, PageFigure):
        raise GridmapError(message(f"{type(element).__name__} must be rendered in a gridmap page",
                                   got=type(root).__name__, fix="write maps with gridmap.maps.write_map / to_html"))
    return root.data


class ScriptLayer(folium.map.Layer):
    """A layer built by the runtime function ``gridmap.<fn>`` from ``spec`` (shown in the layer control).

    ``spec`` (any JSON value) goes into the page data; the script only names the function and the key.
    """

    _template = _LAYER_TEMPLATE

    def __init__(self, fn: str, spec: Any, *, name: str, show: bool = True, overlay: bool = True,
                 control: bool = True):
        if fn not in LAYER_FUNCTIONS:
            raise GridmapError(message("unknown map layer function", got=repr(fn),
                                       fix="use one of " + ", ".join(sorted(LAYER_FUNCTIONS))))
        super().__init__(name=name, overlay=overlay, control=control, show=show)
        self._name = "GridmapLayer"
        self.fn = fn
        self.spec = spec

    def render(self, **kwargs: Any) -> None:
        _page_data(self)[self.get_name()] = self.spec
        super().render(**kwargs)


class ScriptControl(MacroElement):
    """The page-level runtime call ``gridmap.page(map, spec)``: legend, title, banner, search, comparison
    panels and the initial view, all from ``spec`` (in the page data)."""

    _template = _CONTROL_TEMPLATE

    def __init__(self, spec: dict[str, Any]):
        super().__init__()
        self._name = "GridmapScript"
        self.spec = spec

    @property
    def parent_name(self) -> str:
        return self._parent.get_name()

    def render(self, **kwargs: Any) -> None:
        _page_data(self)[self.get_name()] = self.spec
        super().render(**kwargs)


class LayerControl(MacroElement):
    """Leaflet's layer control, built by the runtime (``gridmap.layerControl``): the script lists the layer
    variables only; their names (which may carry data: class labels, proposal keys) are in the page data."""

    _template = _LAYER_CONTROL_TEMPLATE

    def __init__(self, *, position: str = "topright", collapsed: bool = True):
        super().__init__()
        self._name = "GridmapLayerControl"
        self.options = {"position": position, "collapsed": bool(collapsed)}
        self.layer_vars: list[str] = []

    @property
    def parent_name(self) -> str:
        return self._parent.get_name()

    def render(self, **kwargs: Any) -> None:
        layers = [item for item in self._parent._children.values()
                  if isinstance(item, folium.map.Layer) and item.control]
        self.layer_vars = [item.get_name() for item in layers]
        _page_data(self)[self.get_name()] = {
            **self.options, "layers": [[item.get_name(), str(item.layer_name), bool(item.overlay)] for item in layers]}
        super().render(**kwargs)


@dataclass(frozen=True)
class PagePolicy:
    """What a built map is allowed to carry, set by :func:`~gridmap.maps.build_map` and read by :func:`to_html`
    and the callers (:func:`page_policy`): its privacy, the image hosts its Content-Security-Policy admits
    (``data:`` plus the tile hosts of an online basemap) and whether its HTML carries a basemap key."""

    privacy: Privacy = Privacy.SHARED
    img_src: tuple[str, ...] = ("data:",)
    key_embedded: bool = False


class PageFigure(Figure):
    """The page of a gridmap map: branca's figure, rendered with deterministic element names and with every
    data-derived value in one ``<script type="application/json" id="gridmap-data">`` block.

    The block is built with :func:`~gridmap.maps.safety.js_json` and inserted after branca has rendered the
    page (plain string operations), so data never meets a template engine.
    """

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, Any] = {}
        self.policy = PagePolicy()

    def _reset(self) -> None:
        """Start from an empty header/html/script (branca fills them while rendering) and number the
        elements 0, 1, 2 ... in tree order, so the same map renders to the same bytes every time."""
        self.header, self.html, self.script = Element(), Element(), Element()
        for part in (self.header, self.html, self.script):
            part._parent = self
        self.header.add_child(Element('<meta http-equiv="content-type" content="text/html; charset=UTF-8" />'),
                              name="meta_http")
        self.data = {}
        stack, order = [self], []
        while stack:
            el = stack.pop()
            # Drop what a previous render attached (folium's "addTo" helpers); render adds it again.
            for key, child in list(el._children.items()):
                if isinstance(child, ElementAddToElement):
                    del el._children[key]
            order.append(el)
            stack.extend(reversed(list(el._children.values())))
        for i, el in enumerate(order):
            el._id = str(i)

    def render(self, **kwargs: Any) -> str:
        self._reset()
        page = super().render(**kwargs)
        i = page.find("<body>")
        if i < 0:
            raise GridmapError("branca rendered a page without <body>")
        i += len("<body>")
        block = f'\n<script type="application/json" id="{DATA_ID}">{js_json(self.data)}</script>\n'
        return page[:i] + block + page[i:]


def page_figure(m: folium.Map) -> PageFigure:
    """Put ``m`` in a :class:`PageFigure` (once) and return it."""
    root = m.get_root()
    if isinstance(root, PageFigure):
        return root
    fig = PageFigure()
    fig.add_child(m, name="map")
    return fig


def page_policy(m: folium.Map) -> PagePolicy:
    """The :class:`PagePolicy` of map ``m`` (privacy, admitted image hosts, whether it carries a key)."""
    return page_figure(m).policy


def _strip_cdn_resources(element: Any) -> None:
    """Empty folium's CDN lists on every element, after checking the bundle provides what is needed."""
    stack = [element]
    while stack:
        el = stack.pop()
        stack.extend(el._children.values())
        for attr in ("default_js", "default_css"):
            wanted = getattr(el, attr, None)
            if not wanted:
                continue
            names = {name for name, _ in wanted}
            unknown = names - _BUNDLED - (_DROPPED_FOR_MAP if isinstance(el, folium.Map) else set())
            if unknown:
                raise GridmapError(message(
                    f"{type(el).__name__} needs resources that are not in the offline bundle",
                    got=", ".join(sorted(unknown)),
                    fix="use gridmap's layers, or add the package to scripts/fetch_assets.sh and the bundle"))
            setattr(el, attr, [])


_EXTERNAL_TAG_RE = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*['\"]?(?:https?:)?//", re.I)


_SCRIPT_RE = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.I | re.S)
_JSON_TYPE_RE = re.compile(r"""\btype\s*=\s*["']?application/json["']?""", re.I)
# An inline event handler attribute or a javascript: URL in markup (outside script and style bodies).
_INLINE_CODE_RE = re.compile(r"<[a-z][^>]*?\s(?:on[a-z]+\s*=|(?:href|src|action)\s*=\s*[\"']?\s*javascript:)", re.I)
_BODIES_RE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.I | re.S)


def script_hashes(page: str) -> list[str]:
    """CSP source expressions (``'sha256-...'``) of every executable inline ``<script>`` of ``page``, in order
    (JSON data blocks are not executed and need none)."""
    out = []
    for attrs, body in _SCRIPT_RE.findall(page):
        if _JSON_TYPE_RE.search(attrs):
            continue
        if re.search(r"\bsrc\s*=", attrs, re.I):
            raise GridmapError(message("the page has an external script", got=attrs.strip()[:120],
                                       fix="report this: gridmap pages inline every script"))
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
        out.append(f"'sha256-{digest}'")
    return list(dict.fromkeys(out))


def content_security_policy(page: str, *, img_src: tuple[str, ...] = ("data:",)) -> str:
    """The page's policy: nothing from the network but images from ``img_src``; scripts only the page's own
    inline scripts, by hash (no ``'unsafe-inline'``, no ``eval``); inline styles allowed (Leaflet positions
    everything with them)."""
    return ("default-src 'none'; script-src " + " ".join(script_hashes(page)) + "; style-src 'unsafe-inline'; "
            "img-src " + " ".join(dict.fromkeys(img_src)) + "; base-uri 'none'; form-action 'none'")


def to_html(m: folium.Map) -> str:
    """The complete, self-contained HTML of ``m``, with a strict Content-Security-Policy.

    Branca renders the page once (its templates see element names only, see :class:`PageFigure`); then the
    vendor bundle, the runtime and the policy (sha256 hashes of each inline script of the final page) are
    inserted by string operations.
    """
    _strip_cdn_resources(m)
    page = page_figure(m).render()
    if _EXTERNAL_TAG_RE.search(page):
        raise GridmapError(message("the rendered page still references an external script or stylesheet",
                                   got=_EXTERNAL_TAG_RE.search(page).group(0)[:120],
                                   fix="report this: a folium element bypassed the offline bundle"))
    head = (inline_head() + f"<style data-gridmap-runtime>{RUNTIME_CSS}{LOOK_CSS}</style>\n"
            f"<script data-gridmap-runtime>{RUNTIME_JS}{LOOK_JS}</script>\n")
    i = page.find("<head>")
    if i < 0:
        raise GridmapError("folium rendered a page without <head>")
    i += len("<head>")
    page = page[:i] + head + page[i:]
    bad = _INLINE_CODE_RE.search(_BODIES_RE.sub("", page))
    if bad:
        raise GridmapError(message("the page has an inline event handler or javascript: URL", got=bad.group(0)[:120],
                                   fix="report this: the strict policy would block it"))
    # Tell the browser the page itself may load nothing from the network (images only as data: URIs; maps
    # with an online basemap add their tile hosts) and may run only its own scripts, by hash.
    csp = content_security_policy(page, img_src=page_policy(m).img_src)
    meta = f'\n<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
    return page[:i] + meta + page[i:]


def write_map(m: folium.Map, path: str | os.PathLike) -> Path:
    """Write ``m`` as one self-contained HTML file (written to a temporary name, then renamed)."""
    path = Path(path)
    page = to_html(m)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    log.info("wrote map %s (%.1f KB)", path, path.stat().st_size / 1024)
    return path
