"""The offline basemap, the map's layer order and zoom rules, the locate target and PDF normalisation, checked in
the written page data (no browser; the browser checks are in tests/maps/test_demo_look.py)."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from gridmap.maps import build_map, street_map, to_html
from gridmap.maps.display import Display
from gridmap.maps.layers import MAJOR_CLASSES
from gridmap.maps.offline_basemap import ROAD_CLASSES, encode_lines
from gridmap.maps.printing import normalise_pdf, paper_px
from gridmap.testing.maps import sample_layers

from tests.maps.test_html import _specs, page_spec


@pytest.fixture(scope="module")
def lay():
    return sample_layers(nx_streets=2, ny_streets=1, components_per_street=300, complaints_per_street=2000)


def _decode(parts):
    out = []
    for flat in parts:
        a = np.asarray(flat, dtype=np.int64).reshape(-1, 2).cumsum(axis=0)
        out.append(a / 1e5)
    return out


def test_encoded_lines_match_pyproj():
    """Road lines in the page decode to the vertices pyproj gives (within the page's 1e-5 degree)."""
    line = shapely.LineString([(446000, 4418000), (446500, 4418300), (447000, 4418100)])
    (parts,) = encode_lines(Display(gpd.GeoSeries([line], crs=4548).crs), [line])
    (got,) = _decode(parts)
    lon, lat = Transformer.from_crs(4548, 4326, always_xy=True).transform(*np.asarray(line.coords).T)
    assert np.abs(got - np.column_stack([lat, lon])).max() <= 1e-5


def test_roads_by_class_with_widths_and_zooms(lay):
    """Roads become a 'lines' layer whose classes carry the stored width in metres, a minimum pixel width and the
    class's first zoom; the river is its own water layer; compounds show from zoom 16, buildings from 17."""
    html = to_html(street_map("110101001", communities=lay["communities"], streets=lay["streets"],
                              roads=lay["roads"], compounds=lay["compounds"]))
    lines = _specs(html, "lines")
    assert len(lines) == 2                                    # water, roads
    water, roads = lines
    assert {c[0]["color"] for c in water["classes"]} == {ROAD_CLASSES["river"][1]}
    got = {(c[0]["color"], c[1], c[3]) for c in roads["classes"]}
    assert got == {(ROAD_CLASSES[k][1], w, ROAD_CLASSES[k][4]) for k, w in (("main", 40.0), ("secondary", 24.0),
                                                                             ("hutong", 6.0))}
    assert all(c[0]["pane"] == "gmRoads" for c in roads["classes"])
    comp = [s for s in _specs(html, "areas") if s.get("minZoom") in (16, 17)]
    assert sorted(s["minZoom"] for s in comp) == [16, 17]


def test_names_are_labels_in_placement_order(lay):
    """Street names first (from zoom 11), then community names (zoom 14), then water and roads."""
    html = to_html(street_map("110101001", communities=lay["communities"], streets=lay["streets"],
                              roads=lay["roads"]))
    (lab,) = _specs(html, "labels")
    kinds = [lab["kinds"][k] for k in lab["k"]]
    assert kinds == sorted(kinds, key=["street", "community", "water", "road"].index)
    assert lab["t"][0] == "示范1街道" and lab["z"][0] == 11
    comm = lay["communities"][lay["communities"]["street_code"] == "110101001"]
    assert [t for t, k in zip(lab["t"], kinds) if k == "community"] == list(comm.sort_values("code")["name"])
    assert "示范河" in lab["t"]


def test_subject_first_components_off_and_by_zoom(lay):
    """Street and district maps, and any map of hot spots or alerts: components switched off, drawn from zoom 16;
    a plain community map: on. Cells from zoom 16. Hot spots and alerts in the top pane, community fills low."""
    from gridmap.maps import community_map, district_map

    base = {k: lay[k] for k in ("communities", "streets", "cells", "components")}
    kw = {**base, "hotspots": lay["hotspots"], "alerts": lay["alerts"]}
    for make, shown in ((lambda: street_map("110101001", **base), False), (lambda: district_map(**base), False),
                        (lambda: community_map("110101001001", **kw), False),
                        (lambda: community_map("110101001001", **base), True)):
        m = make()
        html = to_html(m)
        pts = _specs(html, "points")
        assert pts and all(s["minZoom"] == 16 for s in pts)
        shows = [c.show for c in m._children.values() if getattr(c, "fn", None) == "points"]
        assert shows and all(s is shown for s in shows)
        assert all(s["minZoom"] == 16 for s in _specs(html, "cells"))
    html = to_html(street_map("110101001", **kw))
    panes = {st.get("pane") for s in _specs(html, "areas") for st in s["styles"]}
    assert {"gmTop", "gmFill"} <= panes


def test_class_colours_are_distinct_and_match_the_legend(lay):
    """One colour per major class, far apart; every dot of a class (its minor classes) has that colour, which
    is also the legend's swatch."""
    rgb = {k: np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)]) for k, (_, c) in MAJOR_CLASSES.items()}
    assert min(np.linalg.norm(rgb[a] - rgb[b]) for a, b in itertools.combinations(rgb, 2)) > 90
    html = to_html(build_map(components=lay["components"], scale="community"))
    legend = page_spec(html)["legend"]
    for spec in _specs(html, "points"):
        assert {c[1] for c in spec["classes"]} == {spec["color"]}
        assert f"background:{spec['color']}" in legend


def test_metric_scale_only(lay):
    """folium's scale control (metres and feet) is off; the runtime adds a metric one."""
    html = to_html(build_map(communities=lay["communities"]))
    assert "L.control.scale({metric: true, imperial: false" in html
    assert "L.control.scale(\n" not in html and '"imperial": true' not in html


def test_locate_target_is_centred_and_outlined(lay):
    """A target: the view opens centred on it at zoom 18; its cell and community outlines are in its spec."""
    comp = lay["components"].iloc[[5]].copy()
    x, y = comp.geometry.iloc[0].x, comp.geometry.iloc[0].y
    cells = lay["cells"]
    cell = cells[cells.contains(comp.geometry.iloc[0])].iloc[0]
    comp["cell_code"] = cell["code"]
    comp["community_code"] = cell["community_code"]
    html = to_html(build_map(components=lay["components"].iloc[:50], cells=cells.iloc[:400], target=comp,
                             communities=lay["communities"], scale="community"))
    (spec,) = _specs(html, "target")
    init = page_spec(html)["init"]
    lon, lat = Transformer.from_crs(4548, 4326, always_xy=True).transform(x, y)
    assert init["zoom"] == 18 and abs(init["center"][0] - lat) < 2e-5 and abs(init["center"][1] - lon) < 2e-5
    assert spec["cell"] and spec["community"] and spec["label"] == comp["code"].iloc[0]
    assert spec["color"] == MAJOR_CLASSES[comp["major"].iloc[0]][1]


def test_normalise_pdf_keeps_length_and_removes_the_print_time():
    """Two PDFs that differ only in print time and id become the same bytes, of the same length."""
    def pdf(stamp: str, ident: str) -> bytes:
        return (b"%PDF-1.4\n1 0 obj\n<< /Creator (Chromium) /CreationDate (D:" + stamp.encode()
                + b"+00'00') /ModDate (D:" + stamp.encode() + b"+00'00') >>\nendobj\ntrailer\n<< /ID [<"
                + ident.encode() + b"> <" + ident.encode() + b">] >>\n%%EOF\n")

    a, b = pdf("20261205013000", "A1B2" * 8), pdf("20261205023117", "FFEE" * 8)
    na, nb = normalise_pdf(a, date="2025-06-15"), normalise_pdf(b, date="2025-06-15")
    assert na == nb and len(na) == len(a)
    assert b"(D:20250615000000+00'00')" in na and b"A1B2A1B2" not in na
    assert paper_px("A3", "landscape") == (1587, 1123) and paper_px("a4", "portrait") == (794, 1123)
