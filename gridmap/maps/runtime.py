"""The page's inline runtime: the CSS and the JavaScript (``gridmap.*``) that every map page carries.

The runtime reads the page's one JSON data block (``gridmap.data(key)``) and builds the layers, controls and
panels from it; :mod:`gridmap.maps.page` inlines both strings into the page and hashes the script for the
Content-Security-Policy. :data:`LAYER_FUNCTIONS` names the runtime functions a script-backed layer may call.
"""

from __future__ import annotations

__all__ = ["RUNTIME_CSS", "RUNTIME_JS", "LAYER_FUNCTIONS"]


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
    return group;
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
      group.addLayers(ms);
      return ms;
    }
    group.on("add", fill);
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
    return L.control.layers(base, over, {position: spec.position, collapsed: spec.collapsed, autoZIndex: true})
      .addTo(map);
  }
  // Everything page-level, from one spec: legend, title, banner, search, comparison panels, initial view.
  function page(map, spec) {
    legend(map, spec.legend);
    if (spec.title) overlayText(map, "gm-title", spec.title);
    if (spec.banner) overlayText(map, "gm-banner", spec.banner);
    if (spec.search) search(map, spec.search);
    if (spec.compare) compare(map, spec.compare);
    init(map, spec.init);
  }
  function init(map, opts) {
    if (map.attributionControl) map.attributionControl.setPrefix("Leaflet");
    if (opts.labelZoom) {
      var f = function () { L.DomUtil[map.getZoom() < opts.labelZoom ? "addClass" : "removeClass"](map.getContainer(), "gm-hide-labels"); };
      map.on("zoomend", f); f();
    }
    if (opts.bounds) map.fitBounds(opts.bounds, {animate: false});
    window.gridmapReady = true;
  }
  return {data: data, ring: ring, areas: areas, cells: cells, points: points, tiles: tiles, imageOverlay: imageOverlay,
          layerControl: layerControl, compare: compare, legend: legend, overlayText: overlayText, search: search,
          page: page, init: init, index: index};
})();
"""


#: Runtime functions a :class:`ScriptLayer` may call (each takes its spec from the page data).
LAYER_FUNCTIONS = frozenset({"areas", "cells", "points", "tiles", "imageOverlay"})
