"""How a map looks: panes (what draws over what), the offline basemap's runtime, labels, the located target,
the page header and the print title block. Inlined after the runtime of :mod:`gridmap.maps.page`.

Drawing order, bottom to top (Leaflet panes, z-index):

===========  ====  ==============================================================================
pane         z     what
===========  ====  ==============================================================================
gmBase       310   water, green, compound outlines (offline basemap)
gmFill       320   community fills by size class
gmRoads      330   roads by class, width by zoom (offline basemap)
overlayPane  400   density image, street boundaries, unit cells, split proposals
gmTop        450   hot spots and alerts: what a warning map exists to show
markerPane   600   components (switched off on street and district maps; drawn from zoom 16)
gmLabels     620   street, community and road names (placed by zoom, no two overlapping)
gmTarget     640   the located component, its cell and community outline
===========  ====  ==============================================================================

The header (internal banner, then title) is a strip across the top of the map; Leaflet's top controls sit below
it and the initial view is fitted inside what the header, the legend and the layer control leave free, so no
panel covers the title or the data's centre. Only a metric scale bar is drawn.
"""

from __future__ import annotations

__all__ = ["LOOK_JS", "LOOK_CSS", "LOOK_FUNCTIONS", "CJK_FONTS", "PANES"]

#: Font stack for labels: the CJK fonts of the test set-up (fonts-noto-cjk) first, then common desktop ones.
CJK_FONTS = ('"Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Zen Hei","Microsoft YaHei","PingFang SC",'
             '"Hiragino Sans GB",sans-serif')

#: Pane names a layer may draw in (style key ``pane``).
PANES = ("gmBase", "gmFill", "gmRoads", "gmTop", "gmLabels", "gmTarget")

#: Runtime functions this module adds (callable from :class:`~gridmap.maps.page.ScriptLayer`).
LOOK_FUNCTIONS = frozenset({"lines", "labels", "target"})

LOOK_CSS = """
.leaflet-container{font-family:%(fonts)s}
.gm-head{position:absolute;top:0;left:0;right:0;z-index:1001;pointer-events:none;text-align:center}
.gm-head .gm-title,.gm-head .gm-banner{position:static;transform:none;left:auto;top:auto;display:block;border-radius:0;
 box-shadow:0 1px 3px rgba(0,0,0,.25);white-space:normal;font-family:%(fonts)s}
.gm-head .gm-title{background:rgba(255,255,255,.95);padding:4px 10px}
.leaflet-top{top:var(--gm-head,0px)}
.leaflet-container{background:#f3f1ec}
.gm-legend{max-width:300px;font-family:%(fonts)s}
.gm-lbl{pointer-events:none}
.gm-lbl span{position:absolute;transform:translate(-50%%,-50%%);white-space:nowrap;font-family:%(fonts)s;color:#222;
 text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff}
.gm-lbl-street span{font-size:15px;font-weight:bold;color:#111;letter-spacing:2px}
.gm-lbl-community span{font-size:12px;color:#333}
.gm-lbl-road span{font-size:11px;color:#555}
.gm-lbl-water span{font-size:11px;color:#2b6ca3;font-style:italic}
.gm-target-label{font:bold 13px/1.3 %(fonts)s;background:#fff;border:2px solid #d4002a;color:#d4002a}
.gm-print{position:absolute;right:10px;bottom:24px;z-index:1000;background:#fff;border:1.5px solid #222;
 padding:6px 10px;font:12px/1.5 %(fonts)s;max-width:340px;box-shadow:0 1px 4px rgba(0,0,0,.3)}
.gm-print-title{font-weight:bold;font-size:15px}
.gm-print-notice{color:#b00020;font-weight:bold}
.gm-north{position:absolute;right:12px;top:calc(var(--gm-head,0px) + 10px);z-index:1000;width:34px;text-align:center;
 font:bold 14px/1 sans-serif;background:rgba(255,255,255,.9);border:1px solid #444;border-radius:3px;padding:3px 0}
.gm-north .gm-arrow{display:block;width:0;height:0;margin:0 auto 2px;border-left:8px solid transparent;
 border-right:8px solid transparent;border-bottom:18px solid #111}
.gm-printing .leaflet-control-layers,.gm-printing .gm-search,.gm-printing .leaflet-control-zoom,
.gm-printing .gm-legend-toggle{display:none}
.gm-printing .gm-legend .gm-legend-body{display:block!important}
.gm-printing .gm-legend{max-height:none}
@media (max-width:700px){
 .gm-has-compare .gm-compare{top:auto;left:0;right:0;bottom:0;width:100%%!important;height:42%%;grid-auto-rows:minmax(120px,1fr)}
 .gm-has-compare>.folium-map{width:100%%!important;height:58%%!important}
 .gm-head .gm-title{font-size:13px;padding:3px 6px}
}
""" % {"fonts": CJK_FONTS}

LOOK_JS = r"""
(function (g) {
  "use strict";
  var PANES = [["gmBase", 310], ["gmFill", 320], ["gmRoads", 330], ["gmTop", 450], ["gmLabels", 620],
               ["gmTarget", 640]];
  L.Map.addInitHook(function () {
    var map = this;
    PANES.forEach(function (p) {
      var el = map.createPane(p[0]); el.style.zIndex = p[1];
      if (p[0] === "gmLabels") el.style.pointerEvents = "none";
    });
  });
  function mpp(map) {  // metres per screen pixel at the map's centre
    var z = map.getZoom(), lat = map.getCenter().lat;
    return 40075016.686 * Math.cos(lat * Math.PI / 180) / (256 * Math.pow(2, z));
  }
  function decodeLine(a) { return g.ring(a); }
  // Roads/rivers: spec {classes: [[style, widthM, minPx, minZoom]], f: [[classIndex, [flatDeltaLine, ...]]]}.
  // Width follows the zoom (the road's width in metres, at least minPx); a class shows from its minZoom.
  function lines(spec) {
    var group = L.featureGroup(), byClass = spec.classes.map(function () { return []; }), map = null;
    spec.f.forEach(function (f) {
      var cls = spec.classes[f[0]], st = {}, k;
      for (k in cls[0]) st[k] = cls[0][k];
      st.interactive = false;
      byClass[f[0]].push(L.polyline(f[1].map(decodeLine), st));
    });
    function restyle() {
      if (!map) return;
      var z = map.getZoom(), m = mpp(map);
      spec.classes.forEach(function (cls, i) {
        var on = z >= cls[3], w = Math.min(Math.max(cls[1] / m, cls[2]), 40);
        byClass[i].forEach(function (l) {
          if (on) { l.setStyle({weight: w}); if (!group.hasLayer(l)) group.addLayer(l); }
          else if (group.hasLayer(l)) group.removeLayer(l);
        });
      });
    }
    group.on("add", function () { map = group._map; map.on("zoomend", restyle); restyle(); });
    group.on("remove", function () { if (map) map.off("zoomend", restyle); map = null; });
    return group;
  }
  // Name labels: spec {pts: flatDeltaPoints, t: [escapedText], z: [minZoom], k: [kindIndex], kinds: [cssSuffix]}.
  // Placed after every move in the given order (streets, communities, water, roads): a label shows from its
  // zoom only where its box overlaps no label already placed and no filled shape of the map's subject (hot
  // spots, the located component), so no two labels overlap and no label covers the subject.
  function labels(spec) {
    var group = L.layerGroup(), pts = g.ring(spec.pts), map = null, icons = {};
    function box(i, p) {
      var t = spec.t[i].replace(/&[a-z#0-9]+;/g, "x"), w = 0, fs = [15, 12, 11, 11][spec.k[i]] || 11;
      for (var c = 0; c < t.length; c++) w += t.charCodeAt(c) > 255 ? fs : fs * 0.6;
      w += (spec.k[i] === 0 ? 2 * t.length : 0) + 6;
      return [p.x - w / 2, p.y - fs * 0.75 - 2, p.x + w / 2, p.y + fs * 0.75 + 2];
    }
    function place() {
      if (!map) return;
      group.clearLayers();
      var z = map.getZoom(), size = map.getSize(), placed = [];
      map.eachLayer(function (l) {
        var o = l.options || {};
        // filled shapes only: hot spots, the target (an alert's light outline may carry a name)
        if ((o.pane !== "gmTop" && o.pane !== "gmTarget") || !(o.fillOpacity >= 0.5)) return;
        if (l.getRadius && l.getLatLng) {
          var q = map.latLngToContainerPoint(l.getLatLng()), rr = l.getRadius() + 12;
          placed.push([q.x - rr, q.y - rr, q.x + rr, q.y + rr]);
          return;
        }
        if (!l.getBounds) return;
        var b = l.getBounds(), a = map.latLngToContainerPoint(b.getNorthWest()), c = map.latLngToContainerPoint(b.getSouthEast());
        placed.push([a.x - 2, a.y - 2, c.x + 2, c.y + 2]);
      });
      for (var i = 0; i < pts.length; i++) {
        if (z < spec.z[i]) continue;
        var p = map.latLngToContainerPoint(pts[i]);
        if (p.x < -50 || p.y < -20 || p.x > size.x + 50 || p.y > size.y + 20) continue;
        var b = box(i, p), hit = false;
        for (var j = 0; j < placed.length && !hit; j++) {
          var q = placed[j];
          hit = b[0] < q[2] && q[0] < b[2] && b[1] < q[3] && q[1] < b[3];
        }
        if (hit) continue;
        placed.push(b);
        if (!icons[i]) icons[i] = L.marker(pts[i], {pane: "gmLabels", interactive: false, keyboard: false,
          icon: L.divIcon({className: "gm-lbl gm-lbl-" + spec.kinds[spec.k[i]], html: "<span>" + spec.t[i] + "</span>",
                           iconSize: [0, 0]})});
        group.addLayer(icons[i]);
      }
    }
    group.on("add", function () { map = group._map; map.on("moveend zoomend", place); place(); });
    group.on("remove", function () { if (map) map.off("moveend zoomend", place); map = null; });
    return group;
  }
  // The located component: spec {pt: [lat, lon] (1e-5 degree), color, label, popup: [[k, v]], cell, community
  // (area parts or null), cellStyle, communityStyle}. Marker, permanent label, popup opened once drawn.
  function target(spec) {
    var group = L.featureGroup(), ll = g.ring(spec.pt)[0];
    [[spec.community, spec.communityStyle], [spec.cell, spec.cellStyle]].forEach(function (a) {
      if (a[0]) group.addLayer(L.polygon(a[0].map(function (part) { return part.map(g.ring); }), a[1]));
    });
    L.circleMarker(ll, {pane: "gmTarget", radius: 18, color: "#d4002a", weight: 3, fill: false}).addTo(group);
    var mk = L.circleMarker(ll, {pane: "gmTarget", radius: 9, color: "#fff", weight: 3, fillColor: spec.color,
                                 fillOpacity: 1});
    var div = document.createElement("div");
    spec.popup.forEach(function (r, i) {
      if (i) div.appendChild(document.createElement("br"));
      var b = document.createElement("b"); b.textContent = r[0]; div.appendChild(b);
      div.appendChild(document.createTextNode(" " + r[1]));
    });
    mk.bindPopup(div, {autoPan: false, offset: [0, -8]});
    mk.bindTooltip(spec.label, {permanent: true, direction: "right", offset: [20, 0], className: "gm-target-label",
                                pane: "gmTarget"});
    group.addLayer(mk);
    group.on("add", function () { setTimeout(function () { mk.openPopup(); }, 0); });
    group.gmTarget = mk;
    return group;
  }
  // Header: banner and title in one strip across the top; the top controls move below it.
  function header(map, spec) {
    if (!spec.title && !spec.banner) return 0;
    var c = map.getContainer(), head = document.createElement("div");
    head.className = "gm-head";
    if (spec.banner) { var b = document.createElement("div"); b.className = "gm-banner"; b.textContent = spec.banner; head.appendChild(b); }
    if (spec.title) { var t = document.createElement("div"); t.className = "gm-title"; t.textContent = spec.title; head.appendChild(t); }
    c.appendChild(head);
    var h = head.offsetHeight;
    c.style.setProperty("--gm-head", h + "px");
    return h;
  }
  // Print title block: spec {title, date, source, notice, scaleNote}; the legend is kept open, controls hidden.
  function printBlock(map, spec) {
    var c = map.getContainer(), box = document.createElement("div"), n = document.createElement("div");
    L.DomUtil.addClass(c, "gm-printing");
    box.className = "gm-print";
    [["gm-print-title", spec.title], ["", spec.date], ["", spec.source], ["gm-print-notice", spec.notice]]
      .forEach(function (r) { if (r[1]) { var d = document.createElement("div"); d.className = r[0]; d.textContent = r[1]; box.appendChild(d); } });
    c.appendChild(box);
    n.className = "gm-north"; n.title = "north";
    var a = document.createElement("span"); a.className = "gm-arrow"; n.appendChild(a);
    n.appendChild(document.createTextNode("N 北"));
    c.appendChild(n);
  }
  function rect(sel, c) {
    var e = c.querySelector(sel);
    if (!e) return null;
    var r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 ? r : null;
  }
  // The view: fitted inside what the header, the legend, the layer control and the print block leave free (or
  // centred on a target). Each panel reserves either its width (at its side) or its height (at its edge):
  // of the combinations, the one that lets the data be drawn largest.
  function view(map, opts, headH) {
    if (opts.center) { map.setView(opts.center, opts.zoom || 18, {animate: false}); return; }
    if (!opts.bounds) return;
    var c = map.getContainer(), cr = c.getBoundingClientRect(), W = cr.width, H = cr.height;
    // [rect, side ("l"/"r"), edge ("t"/"b")]
    var panels = [[rect(".gm-legend", c), "l", "b"], [rect(".leaflet-control-layers", c), "r", "t"],
                  [rect(".gm-print", c), "r", "b"]].filter(function (p) { return p[0]; });
    var sw = map.project(L.latLng(opts.bounds[0]), 0), ne = map.project(L.latLng(opts.bounds[1]), 0);
    var bw = Math.max(Math.abs(ne.x - sw.x), 1e-9), bh = Math.max(Math.abs(ne.y - sw.y), 1e-9), best = null;
    for (var mask = 0; mask < (1 << panels.length); mask++) {
      var pad = {l: 10, r: 10, t: headH + 10, b: 24};
      panels.forEach(function (p, i) {
        var r = p[0];
        if (mask & (1 << i)) pad[p[1]] = Math.max(pad[p[1]], p[1] === "l" ? r.right - cr.left + 10 : cr.right - r.left + 10);
        else pad[p[2]] = Math.max(pad[p[2]], p[2] === "t" ? r.bottom - cr.top + 8 : cr.bottom - r.top + 8);
      });
      var k = Math.min((W - pad.l - pad.r) / bw, (H - pad.t - pad.b) / bh);
      if (best === null || k > best[0]) best = [k, pad];
    }
    var pd = best[1];
    map.fitBounds(opts.bounds, {animate: false, paddingTopLeft: [pd.l, pd.t], paddingBottomRight: [pd.r, pd.b]});
  }
  g.lines = lines; g.labels = labels; g.target = target; g.header = header; g.printBlock = printBlock; g.view = view;
  g.mpp = mpp;
})(gridmap);
"""
