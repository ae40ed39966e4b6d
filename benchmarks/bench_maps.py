"""File size and headless-Chromium load time of gridmap's offline maps vs a plain folium map of the same layers.

Plain folium baseline: communities and cells as ``folium.GeoJson``, components as 10k ``MarkerCluster`` markers
(``FastMarkerCluster``), complaints as ``HeatMap`` of points; its CDN links are left as folium writes them,
so it is loaded with the network blocked (it then shows a blank page: the time is an upper bound on parsing).

Run: ``.venv/bin/python benchmarks/bench_maps.py``
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

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
    m = folium.Map(location=[(c[1] + c[3]) / 2, (c[0] + c[2]) / 2], zoom_start=14, tiles=None)
    folium.GeoJson(comm.to_crs(4326)[["code", "name", "households", "geometry"]], name="communities").add_to(m)
    folium.GeoJson(cells.to_crs(4326)[["code", "geometry"]], name="cells").add_to(m)
    cp = comps.to_crs(4326)
    FastMarkerCluster(list(zip(cp.geometry.y, cp.geometry.x)), name="components").add_to(m)
    pp = pts.to_crs(4326)
    HeatMap(list(zip(pp.geometry.y.round(6), pp.geometry.x.round(6))), name="complaints").add_to(m)
    folium.LayerControl().add_to(m)
    m.save(str(path))
    return path


def main() -> None:
    from browser import Chromium

    from _harness import machine
    from gridmap.maps import EmptyLayerWarning, district_map, street_map, write_map
    from gridmap.maps.sample import sample_layers

    warnings.simplefilter("ignore", EmptyLayerWarning)
    d = sample_layers()
    lay = {k: d[k] for k in FRAMES}
    out = Path(tempfile.mkdtemp(prefix="bench-maps-"))
    cases = {
        "street (300 cells, 10k comp., 50k compl.)": (
            lambda: write_map(street_map("110101005", **lay), out / "street.html"),
            lambda: plain_folium(d, "110101005", out / "street-plain.html")),
        "district (2,700 cells, 90k comp., 450k compl.)": (
            lambda: write_map(district_map(**lay), out / "district.html"),
            lambda: plain_folium(d, None, out / "district-plain.html")),
    }
    print(machine())
    print(f"{'map':48} {'ours MB':>8} {'plain MB':>9} {'size ×':>7} {'ours s':>7} {'plain s':>8} {'time ×':>7}")
    with Chromium() as browser:
        for name, (ours, plain) in cases.items():
            p_ours, p_plain = ours(), plain()
            t_ours = min(browser.open(p_ours, screenshot=False).ready_seconds for _ in range(3))
            t_plain = min(browser.open(p_plain, screenshot=False, ready_expr="true").load_seconds for _ in range(3))
            s_ours, s_plain = p_ours.stat().st_size / 1e6, p_plain.stat().st_size / 1e6
            print(f"{name:48} {s_ours:8.2f} {s_plain:9.2f} {s_plain / s_ours:7.1f} {t_ours:7.2f} {t_plain:8.2f} "
                  f"{t_plain / t_ours:7.1f}")
    print("plain folium pages reference CDNs and render blank offline (L is not defined); their time is load only")


if __name__ == "__main__":
    main()
