"""File size and headless-Chromium load time of gridmap's offline maps vs a plain folium map of the same layers.

Cases (synthetic layers of ``gridmap.testing.maps``):

- street: one street of 300 unit cells, 10,000 components, 50,000 complaints (the issue's street map);
- district: 20 streets, 30 km², 6,000 unit cells, 100,000 components, 300,000 complaints (the scale of the
  示范区 demo district: 5,592 cells, 106,437 components, 300,516 complaints). Every cell is drawn.

Ours: communities, streets, cells (compact, codes on hover), components clustered per class, complaint density as
one image, hot spots, alerts and split proposals. Plain folium baseline: communities and cells as
``folium.GeoJson``, components as ``FastMarkerCluster``, complaints as ``HeatMap`` of points. As folium writes
it, that page loads Leaflet from CDNs and is blank offline; so that both are timed doing the same work, the
baseline's Leaflet, MarkerCluster and Leaflet.heat tags are pointed at local copies of the same npm packages
(Leaflet.heat and Leaflet.awesome-markers are installed for the benchmark into .cache/npm-bench/) and its
jQuery/Bootstrap/Font Awesome tags, which draw nothing, are dropped. Both pages are timed until drawn: ours until ``gridmap.init`` ran, the
baseline until its GeoJSON paths and heat-map canvas are in the DOM; then two animation frames. Best of 3 loads in one Chromium; build time and peak RSS of
writing our map in a forked child (RSS includes the parent's frames, inherited at fork).

Run: ``.venv/bin/python benchmarks/bench_maps.py``
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.*
sys.path.insert(0, str(Path(__file__).resolve().parent))

FRAMES = ("communities", "streets", "cells", "components", "complaints", "hotspots", "alerts", "proposals")


def plain_folium(d: dict, street: str | None, path: Path) -> Path:
    import folium
    from folium.plugins import FastMarkerCluster, HeatMap

    comm, cells, comps, pts = d["communities"], d["cells"], d["components"], d["complaints"]
    if street:
        comm = comm[comm.street_code == street]
        cells = cells[cells.community_code.isin(comm.code)]
        comps = comps[comps.street_code == street]
        pts = pts[pts.street_code == street]
    c = comm.to_crs(4326).total_bounds
    m = folium.Map(location=[(c[1] + c[3]) / 2, (c[0] + c[2]) / 2], zoom_start=14, tiles=None, maxZoom=19)  # MarkerCluster needs a maxZoom
    folium.GeoJson(comm.to_crs(4326)[["code", "name", "households", "geometry"]], name="communities").add_to(m)
    folium.GeoJson(cells.to_crs(4326)[["code", "geometry"]], name="cells").add_to(m)
    cp = comps.to_crs(4326)
    FastMarkerCluster(list(zip(cp.geometry.y, cp.geometry.x)), name="components").add_to(m)
    pp = pts.to_crs(4326)
    HeatMap(list(zip(pp.geometry.y.round(6), pp.geometry.x.round(6))), name="complaints").add_to(m)
    folium.LayerControl().add_to(m)
    m.save(str(path))
    return path


ROOT = Path(__file__).resolve().parents[1]
PLAIN_READY = ("document.querySelectorAll('.leaflet-overlay-pane path').length > 0 && "
               "document.querySelector('canvas.leaflet-heatmap-layer') !== null && "
               "document.querySelectorAll('.marker-cluster').length > 0")


def _npm_bench() -> Path:
    """Leaflet.heat and Leaflet.awesome-markers from the npm registry, for the baseline only (folium's HeatMap
    and FastMarkerCluster need them; gridmap's maps do not)."""
    import subprocess

    cache = ROOT / ".cache" / "npm-bench"
    mods = cache / "node_modules"
    if not (mods / "leaflet.heat").exists() or not (mods / "leaflet.awesome-markers").exists():
        subprocess.run(["npm", "install", "--prefix", str(cache), "--no-audit", "--no-fund", "--ignore-scripts",
                        "--no-package-lock", "--loglevel=error", "leaflet.heat@0.2.0",
                        "leaflet.awesome-markers@2.0.5"], check=True)
    return mods


def offline_folium(path: Path) -> Path:
    """Point a folium page's Leaflet/plugin tags at local files and drop the tags that draw nothing."""
    import re

    assets = ROOT / "gridmap" / "maps" / "assets"
    local = {"leaflet.js": assets / "leaflet.js", "leaflet.css": assets / "leaflet.css",
             "leaflet.markercluster.js": assets / "leaflet.markercluster.js",
             "MarkerCluster.css": assets / "MarkerCluster.css",
             "MarkerCluster.Default.css": assets / "MarkerCluster.Default.css"}
    mods = _npm_bench()
    local["leaflet_heat.min.js"] = mods / "leaflet.heat" / "dist" / "leaflet-heat.js"
    for ext in ("js", "css"):
        local[f"leaflet.awesome-markers.{ext}"] = mods / "leaflet.awesome-markers" / "dist" / f"leaflet.awesome-markers.{ext}"
    html = path.read_text(encoding="utf-8")

    def swap(m: re.Match) -> str:
        url = m.group(2)
        name = url.rsplit("/", 1)[-1]
        if name in local:
            return m.group(1) + local[name].as_uri() + m.group(3)
        return ""  # jQuery, Bootstrap, glyphicons, Font Awesome, folium's rotate CSS: styling only

    html = re.sub(r'(<script src=")(https?://[^"]+)("></script>)', swap, html)
    html = re.sub(r'(<link rel="stylesheet" href=")(https?://[^"]+)("\s*/?>)', swap, html)
    left = re.findall(r'(?:src|href)="(https?://[^"]+)"', html)
    if left:
        raise RuntimeError(f"baseline still references {left[:3]}")
    out = path.with_name(path.stem + "-offline.html")
    out.write_text(html, encoding="utf-8")
    return out


def _ours(kind: str, lay: dict, path: Path) -> dict:
    import time

    from gridmap.maps import district_map, street_map, write_map

    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    m = street_map("110101005", **lay) if kind == "street" else district_map(**lay)
    write_map(m, path)
    return {"seconds": time.perf_counter() - t0}


def main() -> None:
    from tests.support.browser import Chromium

    from _harness import machine, run_case
    from gridmap.testing.maps import sample_layers

    street_data = sample_layers()                                    # 3 x 3 streets, 10k comp. / 50k compl. each
    district_data = sample_layers(nx_streets=5, ny_streets=4, components_per_street=5_000,
                                  complaints_per_street=15_000)
    out = Path(tempfile.mkdtemp(prefix="bench-maps-"))
    cases = {
        "street (300 cells, 10k comp., 50k compl.)": ("street", street_data, "110101005"),
        "district (6,000 cells, 100k comp., 300k compl.)": ("district", district_data, None),
    }
    print(machine())
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{'map':50} {'ours MB':>8} {'plain MB':>9} {'size ×':>7} {'ours s':>7} {'plain s':>8} {'build s':>8} "
          f"{'peak MiB':>9}")
    verdicts: list[tuple[str, bool]] = []
    with Chromium() as browser:
        for name, (kind, d, street) in cases.items():
            lay = {k: d[k] for k in FRAMES}
            p_ours = out / f"{kind}.html"
            _, build_s, rss = run_case(_ours, kind, lay, p_ours)
            p_plain = offline_folium(plain_folium(d, street, out / f"{kind}-plain.html"))
            t_ours = min(browser.open(p_ours, screenshot=False).ready_seconds for _ in range(3))
            t_plain = min(browser.open(p_plain, screenshot=False, ready_expr=PLAIN_READY).ready_seconds
                          for _ in range(3))
            s_ours, s_plain = p_ours.stat().st_size / 1e6, p_plain.stat().st_size / 1e6
            limit = 3.0 if kind == "street" else 15.0
            verdicts.append((kind, s_ours <= limit and t_ours < 3.0))
            print(f"{name:50} {s_ours:8.2f} {s_plain:9.2f} {s_plain / s_ours:7.1f} {t_ours:7.2f} {t_plain:8.2f} "
                  f"{build_s:8.2f} {rss:9.0f}")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("limits: street <= 3 MB, district <= 15 MB, each drawn in under 3 s: "
          + ", ".join(f"{k} {'met' if ok else 'NOT met'}" for k, ok in verdicts))
    print("ours s / plain s: until drawn (plain folium pointed at local Leaflet, MarkerCluster, Leaflet.heat; "
          "as folium writes it, it is blank offline); best of 3 loads")


if __name__ == "__main__":
    main()
