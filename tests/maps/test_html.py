"""Offline HTML maps: safety (escaping, scrubbing, suppression), CRS/empty/unknown-street errors, GCJ-02,
density warping, asset bundle, URL and payload scans of every generated file, sizes."""

from __future__ import annotations

import io
import json
import re
import subprocess
import warnings
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from gridmap.crs import to_working_xy, wgs84_to_gcj02
from gridmap.errors import CRSError, NotFoundError, ValidationError
from gridmap.maps import (AssetsMissingError, DensityGrid, EmptyLayerWarning, Privacy, build_map, check_assets,
                          district_map, escape_html, js_json, scrub_pii, street_map,
                          tile_url_templates, write_map)
from gridmap.planning import size_class
from gridmap.maps import layers as L
from gridmap.maps.bundle import VENDOR_URL_ALLOWLIST
from gridmap.maps.display import Display
from gridmap.maps.raster import png_bytes, warp_to_mercator
from gridmap.testing.maps import PAYLOADS, PII, sample_layers

ROOT = Path(__file__).resolve().parents[2]
FRAMES = ("communities", "streets", "cells", "components", "complaints", "hotspots", "alerts", "proposals")


pytestmark = pytest.mark.usefixtures("map_assets")  # the offline bundle (tests/maps/conftest.py)


@pytest.fixture(scope="session")
def small():
    return sample_layers(components_per_street=300, complaints_per_street=2000, payloads=True)


@pytest.fixture(scope="session")
def maps_dir(tmp_path_factory, small):
    """Every kind of map this module checks, written once."""
    out = tmp_path_factory.mktemp("maps")
    lay = {k: small[k] for k in FRAMES}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyLayerWarning)
        write_map(street_map("110101001", **lay), out / "street.html")
        write_map(district_map(**lay), out / "district.html")
        write_map(street_map("110101001", **lay, privacy="internal"), out / "internal.html")
        write_map(street_map("110101001", **lay, basemap="gaode", offline=False), out / "online-gaode.html")
        write_map(street_map("110101001", **lay, basemap="tianditu", tianditu_key="0123456789abcdef",
                             embed_key=True, offline=False), out / "online-tianditu.html")
        write_map(build_map(proposals=small["proposals"], communities=small["communities"]),
                  out / "proposals.html")
    return out


# --- escaping and scrubbing ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("电话13812345678", "电话[电话]"),
    ("+86 138 1234 5678 找我", "[电话] 找我"),
    ("0086-15912345678", "[电话]"),
    ("座机 010-65123456 转 12", "座机 [电话]"),
    ("(010)65123456", "[电话]"),
    ("6512 3456", "[电话]"),
    ("0571-8888 1234", "[电话]"),
    ("身份证110105194912310021", "身份证[身份证号]"),
    ("id 11010519491231002x end", "id [身份证号] end"),
    ("网格 110101001001001 部件 01010023 国标 3205080101000001", "网格 110101001001001 部件 01010023 国标 3205080101000001"),
    ("2024年3月5日 12:30 共 120 件", "2024年3月5日 12:30 共 120 件"),
    (None, ""),
])
def test_scrub_pii(text, expected):
    assert scrub_pii(text) == expected


def test_escape_html_and_js_json_are_script_safe():
    for p in PAYLOADS:
        e = escape_html(p)
        assert "<" not in e and ">" not in e
        j = js_json({"t": p, "u": "a\u2028b\u2029c"})
        assert "</" not in j and "<!--" not in j and "<" not in j
        assert "\u2028" not in j and "\u2029" not in j
        assert json.loads(j)["t"] == p  # still the same data once parsed


def test_size_class_thresholds_and_aliases():
    assert [size_class(h).value for h in (0, 999, 1000, 3000, 3001, 5000, 5001)] == \
        ["below", "below", "in_range", "in_range", "adjust", "adjust", "super_large"]
    assert size_class(None) is None
    df = gpd.GeoDataFrame({"size_class": ["超大社区", "需调整", "standard", "偏小"]},
                          geometry=[shapely.box(0, 0, 1, 1)] * 4, crs="EPSG:4548")
    assert [c.value for c in L._size_classes(df)] == ["super_large", "adjust", "in_range", "below"]
    df["size_class"] = ["???"] * 4
    with pytest.raises(ValidationError, match="size_class"):
        L._size_classes(df)


def test_planning_flags_are_drawn_as_flagged(caplog):
    """The map draws the classes gridmap.planning assigned (custom thresholds included), not its own guess."""
    from gridmap.planning import flag_communities

    c = gpd.GeoDataFrame({"code": [f"11010100100{i}" for i in range(4)], "households": [800, 2500, 3500, 4500]},
                         geometry=[shapely.box(i, 0, i + 1, 1) for i in range(4)], crs="EPSG:4548")
    flags = flag_communities(c, super_large=4000)  # 4,500 households: 超大 under this district's own rule
    with caplog.at_level("WARNING", logger="gridmap.maps.layers"):
        got = [x.value for x in L._size_classes(flags)]
    assert got == ["below", "in_range", "adjust", "super_large"]
    assert "not all recognised" not in caplog.text


def test_size_legend_uses_the_thresholds_the_flags_were_computed_with():
    """Legend and tooltips give the ranges flag_communities used (here super-large above 4,000), not 5,000."""
    from gridmap.planning import flag_communities

    c = gpd.GeoDataFrame({"code": [f"11010100100{i}" for i in range(4)], "households": [800, 2500, 3500, 4500]},
                         geometry=[shapely.box(448000 + 100 * i, 4419000, 448100 + 100 * i, 4419100)
                                   for i in range(4)], crs="EPSG:4548")
    html = build_map(communities=flag_communities(c, floor=900, adjust=2800, super_large=4000)).get_root().render()
    for label in ("偏小 \\u0026lt;900户 small", "标准 900–2800户 standard", "需调整 \\u0026gt;2800户 to adjust",
                  "超大社区 \\u0026gt;4000户 super-large"):
        assert label in html
    assert "5000户" not in html and "3000户" not in html and "1000户" not in html
    # without flags the map classifies by Beijing's thresholds, as before
    plain = build_map(communities=c).get_root().render()
    assert "超大社区 \\u0026gt;5000户 super-large" in plain and "4000户" not in plain


# --- errors ----------------------------------------------------------------------------------------------
def test_unknown_street_code_suggests(small):
    with pytest.raises(NotFoundError) as exc:
        street_map("110101019", communities=small["communities"], streets=small["streets"])
    assert exc.value.suggestions and "110101001" in " ".join(exc.value.suggestions)
    assert "not found" in str(exc.value)
    # A street name works as well as its code.
    m = street_map("示范2街道", communities=small["communities"], streets=small["streets"])
    assert "110101002" in m.get_root().render()


def test_wrong_crs_raises(small):
    with pytest.raises(CRSError, match="geographic"):
        build_map(communities=small["communities"].to_crs("EPSG:4326"))
    with pytest.raises(CRSError, match="no CRS"):
        build_map(cells=gpd.GeoDataFrame(small["cells"].drop(columns="geometry"),
                                         geometry=list(small["cells"].geometry)))
    with pytest.raises(CRSError, match="expected"):
        build_map(communities=small["communities"], cells=small["cells"].to_crs("EPSG:32650"))
    with pytest.raises(CRSError):
        street_map("110101001", communities=small["communities"].to_crs("EPSG:4326"))


def test_empty_layers(small):
    with pytest.warns(EmptyLayerWarning, match="alerts"):
        m = build_map(communities=small["communities"], alerts=small["alerts"].iloc[:0])
    assert "no data: alerts" in page_spec(m.get_root().render())["legend"]
    with pytest.warns(EmptyLayerWarning), pytest.raises(ValidationError, match="nothing to draw"):
        build_map(communities=small["communities"].iloc[:0])
    with pytest.raises(ValidationError, match="nothing to draw"):
        build_map()


def test_option_errors(small):
    c = small["communities"]
    with pytest.raises(ValidationError, match="internet"):
        build_map(communities=c, basemap="osm")
    with pytest.raises(ValidationError, match="tk"):
        build_map(communities=c, basemap="tianditu", offline=False)
    with pytest.raises(ValidationError, match="tk"):
        build_map(communities=c, basemap="tianditu", tianditu_key="abc'><script>", offline=False)
    with pytest.raises(ValidationError, match="privacy"):
        build_map(communities=c, privacy="public")
    with pytest.raises(ValidationError, match="basemap"):
        build_map(communities=c, basemap="google")


def test_assets_missing_says_how_to_fix(tmp_path):
    with pytest.raises(AssetsMissingError, match="scripts/fetch_assets.sh"):
        check_assets(tmp_path)


def test_fetch_assets_is_idempotent():
    out = subprocess.run(["bash", str(ROOT / "scripts" / "fetch_assets.sh")], check=True, capture_output=True,
                         text=True).stdout
    assert "up to date" in out
    assert not subprocess.run(["git", "ls-files", "gridmap/maps/assets"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip(), "third-party assets must not be committed"


# --- GCJ-02 -------------------------------------------------------------------------------------------------
def test_gaode_overlays_are_shifted_to_gcj02_at_tiananmen():
    lon, lat = 116.397477, 39.908692
    x, y = to_working_xy([lon], [lat])
    pt = gpd.GeoDataFrame({"code": ["01010001"], "class_code": ["0101"], "name": ["上水井盖"]},
                          geometry=gpd.points_from_xy(x, y), crs="EPSG:4548")
    glon, glat = (float(v) for v in wgs84_to_gcj02(lon, lat))
    # Size and direction of the shift from the formula: about 556 m towards east-north-east.
    az, _, dist = Geod(ellps="WGS84").inv(lon, lat, glon, glat)
    assert 540 < dist < 570 and 55 < az < 80
    for basemap, want in (("none", (lat, lon)), ("gaode", (glat, glon))):
        html = build_map(components=pt, basemap=basemap, offline=basemap == "none").get_root().render()
        pts = json.loads(re.search(r'"pts":(\[[^\]]*\])', html).group(1))
        assert pts == [round(want[0] * 1e5), round(want[1] * 1e5)]


# --- density image --------------------------------------------------------------------------------------
@pytest.mark.parametrize("gcj", [False, True])
def test_density_warp_puts_a_hot_cell_where_it_is(gcj):
    vals = np.zeros((40, 50))
    vals[30, 7] = 10.0                                  # row 30 from the south, column 7
    grid = DensityGrid(vals, (446000.0, 4417000.0, 451000.0, 4421000.0), "EPSG:4548")
    disp = Display(grid.validated().crs, gcj02=gcj)
    img, ((s, w), (n, e)) = warp_to_mercator(grid, disp)
    h, wd = img.shape
    r, c = np.argwhere(img == 10.0).mean(axis=0)
    # Pixel centre back to lon/lat (Web Mercator rows), then to the working CRS.
    R = 6378137.0
    my0, my1 = R * np.log(np.tan(np.pi / 4 + np.radians([s, n]) / 2))
    plon = w + (c + 0.5) / wd * (e - w)
    plat = np.degrees(2 * np.arctan(np.exp((my1 - (r + 0.5) / h * (my1 - my0)) / R)) - np.pi / 2)
    x, y = disp.to_source(plon, plat)
    assert 446000 + 7 * 100 - 60 < x < 446000 + 8 * 100 + 60
    assert 4417000 + 30 * 100 - 60 < y < 4417000 + 31 * 100 + 60


def test_png_encoder_round_trip():
    Image = pytest.importorskip("PIL.Image")
    rgba = np.random.default_rng(1).integers(0, 255, (7, 5, 4), dtype=np.uint8)
    back = np.asarray(Image.open(io.BytesIO(png_bytes(rgba))).convert("RGBA"))
    assert (back == rgba).all()


# --- privacy ----------------------------------------------------------------------------------------------
def page_data(html: str) -> dict:
    """The page's JSON data block: every data-derived value of a map is there, under the key its script names."""
    return json.loads(re.search(r'<script type="application/json" id="gridmap-data">(.*?)</script>', html,
                                re.S).group(1))


def page_spec(html: str) -> dict:
    """The spec of the page-level runtime call ``gridmap.page(map, ...)`` (legend, title, compare, init)."""
    return page_data(html)[re.search(r'gridmap\.page\(\w+, gridmap\.data\("(\w+)"\)\);', html).group(1)]


def _specs(html: str, fn: str) -> list[dict]:
    data = page_data(html)
    return [data[k] for k in re.findall(rf'gridmap\.{fn}\(gridmap\.data\("(\w+)"\)\)', html)]


def test_shared_hotspots_suppress_small_counts(small):
    hot = small["hotspots"].copy()
    hot["count"] = [1, 2] + [5] * (len(hot) - 2)
    html = build_map(hotspots=hot).get_root().render()
    (spec,) = _specs(html, "areas")
    assert len(spec["f"]) == len(hot) - 2
    html = build_map(hotspots=hot, privacy="internal").get_root().render()
    assert len(_specs(html, "areas")[0]["f"]) == len(hot)


def test_density_hides_sparse_areas_on_shared_maps(small):
    one = small["complaints"].iloc[:1]
    grid = DensityGrid.from_points(one, cell_size_m=50, bandwidth_m=100)
    shared, _ = warp_to_mercator(grid, Display(grid.validated().crs),
                                 mask=np.ones_like(grid.values, bool))
    assert np.isnan(shared).all()
    html = build_map(complaints=one).get_root().render()   # a single complaint: nothing drawn, but no crash
    assert "ImageOverlay" in html or "imageOverlay" in html


def test_shared_maps_never_carry_complaint_text(maps_dir):
    for name in ("street", "district", "proposals", "online-gaode", "online-tianditu"):
        html = (maps_dir / f"{name}.html").read_text()
        assert "反映" not in html, name           # complaint texts
        assert "内部资料" not in html, name
    internal = (maps_dir / "internal.html").read_text()
    assert "内部资料" in internal and "INTERNAL USE ONLY" in internal
    assert "[电话]" in internal and "[身份证号]" in internal  # shown, but scrubbed


# --- scans of every written file -------------------------------------------------------------------------
_VENDOR_RE = re.compile(r"<(script|style) data-gridmap-vendor[^>]*>(.*?)</\1>", re.S)
_URL_RE = re.compile(r"(?:https?:)?//[A-Za-z0-9{}*-]+(?:\.[A-Za-z0-9{}*-]+)+(?::\d+)?(?:/[^\s\"'<>)\\]*)?")


class _Tags(HTMLParser):
    """Real tags of the page (script/style bodies are not parsed as markup) and their URL attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts = 0
        self.data_blocks = 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script" and ("type", "application/json") not in attrs
        self.data_blocks += tag == "script" and ("type", "application/json") in attrs
        self.urls += [v for k, v in attrs if k in ("src", "href", "action", "poster", "srcset", "data") and v]


def external_urls(html: str) -> list[str]:
    """URLs in a page that a browser could fetch or follow: anything outside the vendored library blocks,
    plus anything in them that is not on the documented allowlist (namespace id, attribution link)."""
    found: list[str] = []
    for _, body in _VENDOR_RE.findall(html):
        found += [u for u in _URL_RE.findall(body) if u not in VENDOR_URL_ALLOWLIST]
        found += [u for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", body) if not u.startswith(("data:", "#"))]
    rest = _VENDOR_RE.sub("", html)
    found += _URL_RE.findall(rest)
    tags = _Tags()
    tags.feed(html)
    found += [u for u in tags.urls if not u.startswith(("data:", "#"))]
    found += [u for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", rest) if not u.startswith(("data:", "#"))]
    return found


def test_every_map_file_is_offline_and_has_no_raw_payload(maps_dir):
    files = sorted(maps_dir.glob("*.html"))
    assert len(files) == 6
    for f in files:
        html = f.read_text()
        urls = external_urls(html)
        if f.name.startswith("online-"):
            basemap = f.stem.split("-")[1]
            allowed = tile_url_templates(basemap, tianditu_key="0123456789abcdef")
            hosts = {re.sub(r"^https?:", "", u).split("/")[2] for u in allowed}
            assert urls, f.name
            for u in urls:
                host = re.sub(r"^https?:", "", u).split("/")[2]
                assert host in hosts or any(host == h.replace("{s}", "*") or host.endswith(h.split(".", 1)[1])
                                            for h in hosts), (f.name, u)
        else:
            assert urls == [], (f.name, urls[:5])
            assert "Content-Security-Policy" in html and "default-src 'none'" in html
        for p in PAYLOADS:
            assert p not in html, (f.name, p)
        for p in PII:
            assert p not in html, (f.name, p)
        tags = _Tags()
        tags.feed(html)
        assert tags.scripts == 4, f.name  # vendor, runtime, folium's two: nothing injected by data
        assert tags.data_blocks == 1, f.name  # the data, as JSON that does not execute


def test_street_map_alone_is_written_as_one_file(tmp_path, small):
    p = write_map(street_map("110101003", communities=small["communities"]), tmp_path / "sub" / "m.html")
    assert p.is_file() and list(p.parent.iterdir()) == [p]


# --- size ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_sizes_at_full_scale(tmp_path):
    d = sample_layers()    # 3x3 streets, 10,000 components and 50,000 complaints per street
    lay = {k: d[k] for k in FRAMES}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyLayerWarning)
        street = write_map(street_map("110101005", **lay), tmp_path / "street.html")
        district = write_map(district_map(**lay), tmp_path / "district.html")
    assert street.stat().st_size <= 3_000_000
    assert district.stat().st_size <= 15_000_000


def test_proposals_side_by_side_can_be_turned_off(small):
    lay = dict(proposals=small["proposals"], communities=small["communities"])
    html = build_map(**lay).get_root().render()
    spec = page_spec(html)["compare"]
    assert [p["title"].split("：")[0] for p in spec["panels"]] == ["方案 proposal A", "方案 proposal B"]
    assert spec["current"] is not None and len(spec["current"]["f"]) == 1    # the parent community
    assert "compare" not in page_spec(build_map(**lay, compare_proposals=False).get_root().render())
