"""What a street office sees (issue 12), on the demo district in real headless Chromium and poppler:

- every demo map built twice is byte-identical (HTML, and the printed PDF and PNG), and the privacy checks run
  20 times in a loop over freshly built maps (they cannot fail by chance: the bytes never change);
- screenshots at 1280×900 and 390×844 of the district, a street, a warning, a split and a locate map, judged on
  pixels and the page's own geometry as a person would: the subject (hot spots, size colours, proposals, the
  located component) is on screen and not covered by a panel, labels are there and do not overlap, the title is
  not covered. The PNGs are kept under ``$GRIDMAP_TEST_ARTIFACTS`` (default ``test-output/maps/``, not committed);
- an A3 PDF opens in ``pdftoppm`` and its first page shows the title block and the legend.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.browser import Chromium, available
from tests.maps.test_html import ROOT, external_urls

needs_browser = pytest.mark.skipif(not available() and os.environ.get("GRIDMAP_REQUIRE_BROWSER") != "1",
                                   reason="needs headless Chromium (/usr/bin/chromium)")
needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None and os.environ.get("GRIDMAP_REQUIRE_BROWSER") != "1",
                                   reason="needs poppler-utils (pdftoppm)")
SIZES = ((1280, 900), (390, 844))
KINDS = ("district", "street", "warning", "split", "locate", "internal")
WARN = ("--warn-from", "2025-06-01", "--warn-to", "2025-06-15", "--keywords", "漏雨,渗水,屋顶")
PHONE_RE = re.compile(r"(?<![\d.])1[3-9]\d{9}(?![\d.])")


def artifacts() -> Path:
    d = Path(os.environ.get("GRIDMAP_TEST_ARTIFACTS") or ROOT / "test-output") / "maps"
    d.mkdir(parents=True, exist_ok=True)
    return d


def gridmap(db: Path, *argv: object) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "gridmap", "--db", str(db), *map(str, argv)], capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, (argv, r.stderr[-3000:])
    return r


def _build_all(db: Path, out: Path) -> dict[str, Path]:
    """Every kind of demo map, through the command line."""
    con = sqlite3.connect(db)
    street = con.execute("SELECT code FROM streets ORDER BY code").fetchone()[0]
    component = con.execute("SELECT code FROM components WHERE class_code = '0101' ORDER BY code").fetchone()[0]
    big = [c for (c,) in con.execute("SELECT code FROM communities WHERE households > 3000 ORDER BY households DESC")]
    con.close()
    out.mkdir(parents=True, exist_ok=True)
    gridmap(db, "map", "-o", out / "district.html", *WARN)
    gridmap(db, "map", "--street", street, "-o", out / "street.html")
    gridmap(db, "map", "--street", street, "-o", out / "internal.html", "--privacy", "internal")
    # the warning map: the street with the most hot spots in the demo's rainy-season window
    streets = [c for (c,) in sqlite3.connect(db).execute("SELECT code FROM streets ORDER BY code")]
    best = (-1, None)
    for code in streets:
        gridmap(db, "map", "--street", code, "-o", out / f"warning_{code}.html", *WARN)
        html = (out / f"warning_{code}.html").read_text(encoding="utf-8")
        n = int(m.group(1)) if (m := re.search(r"hot spots \((\d+)\)", html)) else 0
        best = max(best, (n, code), key=lambda t: t[0])
    shutil.copy(out / f"warning_{best[1]}.html", out / "warning.html")
    gridmap(db, "locate", component, "--html", out / "locate.html")
    for code in big:
        r = subprocess.run([sys.executable, "-m", "gridmap", "--db", str(db), "split", "propose", code, "--out",
                            str(out / "plans")], capture_output=True, text=True, timeout=600)
        if r.returncode == 0:
            break
    else:
        pytest.fail(f"no oversized demo community could be split: {big}")
    gridmap(db, "map", "--community", code, "--proposals", out / "plans" / f"{code}.gpkg", "-o", out / "split.html")
    gridmap(db, "map", "--street", street, "-o", out / "street.pdf", "--pdf", "A3", "--date", "2025-06-15")
    gridmap(db, "map", "--street", street, "-o", out / "street.png", "--orientation", "portrait", "--date",
            "2025-06-15")
    return {p.stem if p.suffix == ".html" else p.name: p for p in out.iterdir() if p.is_file()}


@pytest.fixture(scope="module")
def demo_twice(tmp_path_factory):
    """The demo run twice into two stores and folders, and every kind of map built from each."""
    runs = []
    for i in range(2):
        d = tmp_path_factory.mktemp(f"look{i}")
        db, out = d / "gridmap.sqlite", d / "out"
        gridmap(db, "demo", "--scale", "0.05", "--out", out)
        runs.append((db, out, _build_all(db, d / "maps")))
    return runs


def test_every_demo_map_is_byte_identical_twice(demo_twice):
    """Two demo runs give the same bytes: the demo's own maps (district, every street) and the warning, split
    and locate maps, the printed A3 PDF and the PNG."""
    (db1, out1, made1), (db2, out2, made2) = demo_twice
    demo1 = sorted(p.name for p in (out1 / "maps").glob("*.html"))
    assert demo1 == sorted(p.name for p in (out2 / "maps").glob("*.html")) and len(demo1) >= 4
    for name in demo1:
        assert (out1 / "maps" / name).read_bytes() == (out2 / "maps" / name).read_bytes(), name
    assert set(made1) == set(made2) and {*KINDS, "street.pdf", "street.png"} <= set(made1)
    for name in sorted(made1):
        assert made1[name].read_bytes() == made2[name].read_bytes(), name


def test_privacy_holds_in_20_fresh_builds(demo_twice):
    """The demo's privacy test, 20 times over freshly built district and street maps: no complaint text or
    address, no external URL, no 11-digit mobile-like run; and every build is the same bytes as the first."""
    from gridmap.maps import EmptyLayerWarning, to_html
    from gridmap.maps.service import map_from_store, read_map_layers
    from gridmap.store import open_store

    import warnings

    db, out, _ = demo_twice[0]
    con = sqlite3.connect(db)
    texts = {t for (t,) in con.execute("SELECT text FROM complaints WHERE text IS NOT NULL LIMIT 300")}
    addresses = {a for (a,) in con.execute("SELECT address FROM complaints WHERE address IS NOT NULL LIMIT 300")}
    streets = [c for (c,) in con.execute("SELECT code FROM streets ORDER BY code")]
    con.close()
    store = open_store(str(db), mode="read")
    layers = read_map_layers(store)
    first: dict[str, str] = {}
    for i in range(20):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EmptyLayerWarning)
            pages = {"district": to_html(map_from_store(store, layers=layers, title="示范区 总图 (合成数据)").map)}
            for code in streets:
                pages[code] = to_html(map_from_store(store, street=code, layers=layers).map)
        for name, html in pages.items():
            assert external_urls(html) == [], (i, name)
            assert "default-src 'none'" in html and "内部资料" not in html
            assert not any(t in html for t in texts) and not any(a in html for a in addresses), (i, name)
            text = re.sub(r"data:[a-z]+/[a-z+]+;base64,[A-Za-z0-9+/=]+", "", html)
            assert not PHONE_RE.search(text), (i, name, PHONE_RE.search(text).group(0))
            assert html == first.setdefault(name, html), (i, name)


# --- screenshots ---------------------------------------------------------------------------------------------
_GEOMETRY = """(() => {
  const m = Object.keys(window).filter(k => k.startsWith('map_') && window[k] instanceof L.Map).map(k => window[k])[0];
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const vis = e => { const r = e.getBoundingClientRect(), s = getComputedStyle(e);
                     return r.width > 0 && r.height > 0 && s.display !== 'none' && s.visibility !== 'hidden'; };
  const title = document.querySelector('.gm-title');
  const panels = Array.from(document.querySelectorAll(
      '.gm-legend, .leaflet-control-layers, .gm-search, .leaflet-control-zoom, .leaflet-control-scale, '
      + '.gm-banner, .gm-panel, .leaflet-control-attribution')).filter(vis).map(box);
  let tb = null, titleHits = 0;
  if (title) {
    tb = box(title);
    const [l, t, r, b] = tb;
    // the header lets clicks through to the map (pointer-events: none); hit-test it as if it did not
    const head = title.parentNode, was = [head.style.pointerEvents, title.style.pointerEvents];
    head.style.pointerEvents = title.style.pointerEvents = 'auto';
    for (const fx of [0.1, 0.3, 0.5, 0.7, 0.9]) {
      const e = document.elementFromPoint(l + (r - l) * fx, (t + b) / 2);
      if (e && (e === title || title.contains(e))) titleHits++;
    }
    [head.style.pointerEvents, title.style.pointerEvents] = was;
  }
  // the subject: hot spot / alert polygons (pane gmTop), proposals (the first proposal layer), the target
  const subject = [];
  m.eachLayer(l => {
    if (!(l instanceof L.Path) || !l._map) return;
    const pane = l.options.pane;
    if (pane === 'gmTop' && l instanceof L.Polygon && l.options.fillOpacity >= 0.6) {
      // the point inside the shape nearest its box's centre (hot spots may be L-shaped groups of cells)
      const b = l.getBounds(), a = m.latLngToContainerPoint(b.getNorthWest()), z = m.latLngToContainerPoint(b.getSouthEast());
      const cx = (a.x + z.x) / 2, cy = (a.y + z.y) / 2;
      let best = null;
      for (let i = 1; i < 16; i++) for (let j = 1; j < 16; j++) {
        const p = L.point(a.x + (z.x - a.x) * i / 16, a.y + (z.y - a.y) * j / 16);
        if (l._containsPoint(p) && (!best || p.distanceTo(L.point(cx, cy)) < best.distanceTo(L.point(cx, cy)))) best = p;
      }
      if (best) subject.push(['hot', best.x, best.y, l.options.fillColor]);
    }
    if (pane === 'gmTarget' && l instanceof L.CircleMarker && l.options.fillOpacity === 1) {
      const c = m.latLngToContainerPoint(l.getLatLng());
      subject.push(['target', c.x, c.y, l.options.fillColor]);
    }
    if (pane === 'gmFill' && l instanceof L.Polygon) {
      const c = m.latLngToContainerPoint(l.getBounds().getCenter());
      subject.push(['fill', c.x, c.y, l.options.fillColor]);
    }
  });
  const labels = Array.from(document.querySelectorAll('.gm-lbl span')).filter(vis).map(e => [e.textContent, ...box(e)]);
  return {title: tb, titleHits, panels, subject, labels, w: innerWidth, h: innerHeight,
          clusters: document.querySelectorAll('.marker-cluster, .leaflet-marker-pane .leaflet-interactive').length,
          popup: (document.querySelector('.leaflet-popup-content') || {}).textContent || null,
          targetLabel: (document.querySelector('.gm-target-label') || {}).textContent || null,
          scales: Array.from(document.querySelectorAll('.leaflet-control-scale-line')).filter(vis).map(e => e.textContent),
          layersOpen: !!document.querySelector('.leaflet-control-layers-expanded'),
          legendOpen: vis(document.querySelector('.gm-legend-body')),
          banner: title && document.querySelector('.gm-banner') ? box(document.querySelector('.gm-banner')) : null,
          compare: Array.from(document.querySelectorAll('.gm-panel-map')).map(box)};
})()"""


def _overlap(a, b) -> bool:
    return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5


def _inside(x: float, y: float, r) -> bool:
    return r[0] <= x <= r[2] and r[1] <= y <= r[3]


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[i:i + 2], 16) for i in (1, 3, 5))


@pytest.fixture(scope="module")
def shots(demo_twice):
    """Each kind of map at both sizes: (page result, geometry, screenshot image); PNGs kept as artefacts."""
    from PIL import Image

    _, _, made = demo_twice[0]
    keep = artifacts()
    out = {}
    for w, h in SIZES:
        with Chromium(width=w, height=h) as browser:
            for kind in KINDS:
                # let the popup's and markers' fade animations finish before the screenshot
                r2 = browser.open(made[kind], evaluate={"settle": "new Promise(r => setTimeout(r, 400))",
                                                        "geo": _GEOMETRY})
                (keep / f"{kind}_{w}x{h}.png").write_bytes(r2.screenshot_png)
                out[kind, w] = (r2, r2.evaluations["geo"], Image.open(io.BytesIO(r2.screenshot_png)).convert("RGB"))
                assert r2.console_errors == [], (kind, w, r2.console_errors[:3])
                assert r2.external_requests == [] and r2.csp_violations == [], (kind, w)
    return out


@needs_browser
@pytest.mark.browser
@pytest.mark.parametrize("w", [s[0] for s in SIZES])
@pytest.mark.parametrize("kind", KINDS)
def test_title_is_not_covered(shots, kind, w):
    """The title is on screen, the topmost element along its whole width, and no panel overlaps it."""
    _, geo, _ = shots[kind, w]
    t = geo["title"]
    assert t is not None and t[0] >= 0 and t[2] <= geo["w"] + 1 and t[1] >= 0, (kind, w, t)
    assert geo["titleHits"] == 5, (kind, w, geo["titleHits"])
    assert not [p for p in geo["panels"] if _overlap(p, t)], (kind, w, t, geo["panels"])


@needs_browser
@pytest.mark.browser
@pytest.mark.parametrize("w", [s[0] for s in SIZES])
@pytest.mark.parametrize("kind", KINDS)
def test_panels_fold_on_phones_and_the_scale_is_metric(shots, kind, w):
    """On a phone the legend and the layer control start folded; on a desktop the legend is open. One scale
    bar, in metres or kilometres only. The internal banner sits above the title, not over it."""
    _, geo, _ = shots[kind, w]
    if w < 700:
        assert not geo["legendOpen"] and not geo["layersOpen"], (kind, w)
    else:
        assert geo["legendOpen"], (kind, w)
    assert len(geo["scales"]) == 1 and re.fullmatch(r"\d+ k?m", geo["scales"][0]), (kind, w, geo["scales"])
    if kind == "internal":
        assert geo["banner"] is not None and geo["banner"][3] <= geo["title"][1] + 0.5, (geo["banner"], geo["title"])


@needs_browser
@pytest.mark.browser
@pytest.mark.parametrize("w", [s[0] for s in SIZES])
@pytest.mark.parametrize("kind", ["district", "warning"])
def test_hot_spots_show_at_first_view(shots, kind, w):
    """Warning maps: the hot spots are on screen at first view, under no panel and no component bubble, and the
    screenshot's pixel at each one's centre has the hot-spot colour (blended over what lies under it)."""
    _, geo, img = shots[kind, w]
    hot = [s for s in geo["subject"] if s[0] == "hot"]
    assert hot, (kind, w)
    assert geo["clusters"] == 0, (kind, w, "components are drawn at first view")
    seen = 0
    for _, x, y, color in hot:
        if not (0 <= x < geo["w"] and 0 <= y < geo["h"]):
            continue
        assert not [p for p in geo["panels"] if _inside(x, y, p)], (kind, w, (x, y))
        px = img.getpixel((int(x), int(y)))
        # the hot spot's colour shows (drawn at 70 % over whatever lies under it)
        assert sum((a - b) ** 2 for a, b in zip(px, _rgb(color))) ** 0.5 < 100, (kind, w, (x, y), px, color)
        seen += 1
    assert seen == len(hot), (kind, w, seen, len(hot))


@needs_browser
@pytest.mark.browser
@pytest.mark.parametrize("w", [s[0] for s in SIZES])
@pytest.mark.parametrize("kind", ["district", "street"])
def test_size_colours_and_names_show(shots, kind, w):
    """District and street maps: community fills on screen and not under a panel (pixel not the paper colour),
    no component bubbles at first view, street/community names present as labels, no two labels overlapping."""
    _, geo, img = shots[kind, w]
    fills = [s for s in geo["subject"] if s[0] == "fill" and 0 <= s[1] < geo["w"] and 0 <= s[2] < geo["h"]]
    assert fills and geo["clusters"] == 0, (kind, w, len(fills), geo["clusters"])
    free = [s for s in fills if not [p for p in geo["panels"] if _inside(s[1], s[2], p)]]
    assert len(free) >= 0.8 * len(fills), (kind, w, len(free), len(fills))
    paper = (243, 241, 236)
    coloured = [s for s in free if max(abs(a - b) for a, b in zip(img.getpixel((int(s[1]), int(s[2]))), paper)) > 12]
    assert len(coloured) >= 0.8 * len(free), (kind, w, len(coloured), len(free))
    texts = [lb[0] for lb in geo["labels"]]
    assert any(t.endswith("街道") for t in texts), (kind, w, texts)
    if kind == "street" or w > 1000:     # a whole district on a phone is read by its street names
        assert sum(t.endswith("社区") for t in texts) >= 2, (kind, w, texts)
    boxes = [lb[1:] for lb in geo["labels"]]
    clashes = [(texts[i], texts[j]) for i in range(len(boxes)) for j in range(i) if _overlap(boxes[i], boxes[j])]
    assert clashes == [], (kind, w, clashes[:5])


@needs_browser
@pytest.mark.browser
@pytest.mark.parametrize("w", [s[0] for s in SIZES])
def test_locate_map_marks_the_component(shots, demo_twice, w):
    """``gridmap locate CODE --html``: the component is at the view's centre, drawn in its major class's
    colour (the legend's) under no panel, its code labelled and its popup open; its cell is outlined."""
    from gridmap.maps.layers import MAJOR_CLASSES
    from gridmap.maps.target import TARGET_RING

    r, geo, img = shots["locate", w]
    target = [s for s in geo["subject"] if s[0] == "target"]
    assert len(target) == 1, geo["subject"][:3]
    _, x, y, color = target[0]
    assert color == MAJOR_CLASSES["01"][1]
    assert abs(x - geo["w"] / 2) < 2 and abs(y - geo["h"] / 2) < 2, (x, y)
    assert not [p for p in geo["panels"] if _inside(x, y, p)]
    assert img.getpixel((int(x), int(y))) == _rgb(color)
    html = (demo_twice[0][2]["locate"]).read_text(encoding="utf-8")
    code = re.search(r"部件 (\d{8})", html).group(1)
    assert geo["targetLabel"] == code and code in (geo["popup"] or ""), (geo["targetLabel"], geo["popup"])
    ring = _rgb(TARGET_RING)
    near = [img.getpixel((int(x) + dx, int(y) + dy)) for dx in range(-25, 26) for dy in range(-25, 26)
            if 0 <= int(x) + dx < img.width and 0 <= int(y) + dy < img.height]
    assert sum(1 for p in near if max(abs(a - b) for a, b in zip(p, ring)) < 40) > 30   # the red ring is drawn
    assert "its cell" in html and "its community" in html


@needs_browser
@pytest.mark.browser
@pytest.mark.parametrize("w", [s[0] for s in SIZES])
def test_split_panels_fit_the_screen(shots, w):
    """The split proposals' small maps are all on screen (not cut off) at both sizes, each with its map drawn."""
    _, geo, img = shots["split", w]
    panels = geo["compare"]
    assert len(panels) >= 2, panels
    for p in panels:
        assert p[0] >= -1 and p[1] >= -1 and p[2] <= geo["w"] + 1 and p[3] <= geo["h"] + 1, (w, p)
        assert p[2] - p[0] > 80 and p[3] - p[1] > 80, (w, p)
        crop = img.crop(tuple(int(v) for v in p)).resize((20, 20))
        assert len({tuple(v) for v in np.asarray(crop).reshape(-1, 3)}) > 3, (w, p)   # something is drawn in it


@needs_poppler
def test_a3_pdf_opens_in_pdftoppm_with_title_block_and_legend(demo_twice, tmp_path):
    """The A3 landscape PDF: poppler reads one page of 420 × 297 mm; its text has the title block (date, data
    source, 合成数据 notice) and the legend; rendered, the title block's corner is a framed white box."""
    from PIL import Image

    pdf = demo_twice[0][2]["street.pdf"]
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Pages:\s+1\n", info)
    w_pt, h_pt = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups())
    assert abs(w_pt - 420 / 25.4 * 72) < 3 and abs(h_pt - 297 / 25.4 * 72) < 3, (w_pt, h_pt)
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for needle in ("制图日期 date: 2025-06-15", "数据来源 data:", "合成数据", "社区规模 community size", "北"):
        assert needle in text, (needle, text[:500])
    assert re.search(r"^N$", text, re.M)                        # the north arrow's letter
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True)
    page = Image.open(next(tmp_path.glob("page*.png"))).convert("RGB")
    shutil.copy(next(tmp_path.glob("page*.png")), artifacts() / "street_A3.png")
    W, H = page.size
    corner = page.crop((int(W * 0.70), int(H * 0.80), W - 2, H - 2))
    px = [tuple(v) for v in np.asarray(corner).reshape(-1, 3)]
    white = sum(1 for p in px if min(p) > 245) / len(px)
    dark = sum(1 for p in px if max(p) < 90) / len(px)
    assert white > 0.15 and dark > 0.005, (white, dark)   # the white title block with its frame and text
    legend = page.crop((2, int(H * 0.45), int(W * 0.25), H - 2))
    assert int((np.asarray(legend).max(axis=2) < 90).sum()) > 50   # legend text


def test_print_options_follow_the_cli_contract(demo_twice, tmp_path):
    """A file name that names one format cannot also ask for the other (exit 2, saying how); a bad --date is a
    usage error; -o map.html --pdf A4 --png writes all three, the prints beside the HTML."""
    db = demo_twice[0][0]

    def run(*argv):
        return subprocess.run([sys.executable, "-m", "gridmap", "--db", str(db), "map", *map(str, argv)],
                              capture_output=True, text=True, timeout=600)

    r = run("-o", tmp_path / "a.pdf", "--png")
    assert r.returncode == 2 and "cannot also name" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = run("-o", tmp_path / "b.html", "--pdf", "A4", "--date", "2025-13-01")
    assert r.returncode == 2 and "--date" in r.stderr, r.stderr
    assert not (tmp_path / "a.pdf").exists() and not (tmp_path / "b.html").exists()
    r = run("-o", tmp_path / "c.html", "--pdf", "a4", "--png", "--orientation", "portrait", "--date", "2025-06-15")
    assert r.returncode == 0, r.stderr[-2000:]
    assert {p.name for p in tmp_path.iterdir()} == {"c.html", "c.pdf", "c.png"}
    from PIL import Image

    assert Image.open(tmp_path / "c.png").size == (794 * 2, 1123 * 2)      # A4 portrait at 2 px per CSS px
