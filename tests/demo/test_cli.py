"""``gridmap demo`` end to end (the README's main job, at a small scale): the store file it builds is read by GDAL
with every layer, count and EPSG:4548; the report states what the store holds; it writes the district map and one
map per street, each offline, with no complaint text or personal data, and drawn in real Chromium."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


from gridmap.store.schema import LAYERS

from tests.support.browser import Chromium, available, not_blank
from tests.maps.test_html import external_urls


def _sqlite_counts(db: Path) -> dict[str, int]:
    """Row counts read with the plain sqlite3 module (no gridmap code)."""
    con = sqlite3.connect(db)
    try:
        return {name: con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in LAYERS}
    finally:
        con.close()


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo not installed")
def test_ogrinfo_reads_the_demo_store(demo):
    db, out, _ = demo
    counts = _sqlite_counts(db)
    assert counts["communities"] > 20 and counts["cells"] > 500 and counts["components"] > 1000
    assert counts["complaints"] > 5000
    info = subprocess.run(["ogrinfo", "-ro", "-so", "-al", str(db)], capture_output=True, text=True,
                          check=True).stdout
    blocks = {b.split("\n", 1)[0].strip(): b for b in info.split("Layer name: ")[1:]}
    assert set(LAYERS) <= set(blocks)
    for name in LAYERS:
        assert f"Feature Count: {counts[name]}\n" in blocks[name], (name, counts[name])
        assert 'ID["EPSG",4548]' in blocks[name], name


def test_report_states_what_the_store_holds(demo):
    db, out, r = demo
    report = (out / "report.md").read_text(encoding="utf-8")
    counts = _sqlite_counts(db)
    for name in LAYERS:
        row = re.search(rf"`{name}` \| ([\d,]+) \|", report)
        assert row and int(row.group(1).replace(",", "")) == counts[name], name
    assert "合成数据" in report and "recall" in report
    assert "report:" in r.stdout and str(out / "report.md") in r.stdout


def test_district_and_street_maps_are_offline_and_private(demo):
    db, out, _ = demo
    con = sqlite3.connect(db)
    streets = [c for (c,) in con.execute("SELECT code FROM streets ORDER BY code")]
    texts = [t for (t,) in con.execute("SELECT text FROM complaints WHERE text IS NOT NULL LIMIT 200")]
    addresses = [a for (a,) in con.execute("SELECT address FROM complaints WHERE address IS NOT NULL LIMIT 200")]
    con.close()
    maps = out / "maps"
    expected = {"district.html"} | {f"street_{c}.html" for c in streets}
    assert {p.name for p in maps.glob("*.html")} == expected
    for p in sorted(maps.glob("*.html")):
        html = p.read_text(encoding="utf-8")
        assert external_urls(html) == [], (p.name, external_urls(html)[:3])
        assert "default-src 'none'" in html
        assert "内部资料" not in html  # a shared map, not the internal mode
        for t in set(texts):
            assert t not in html, (p.name, t)
        for a in set(addresses):
            assert a not in html, (p.name, a)
        # no mobile phone numbers (an 11-digit run standing alone; image data URIs are not text)
        text = re.sub(r"data:[a-z]+/[a-z+]+;base64,[A-Za-z0-9+/=]+", "", html)
        assert not re.search(r"(?<![\d.])1[3-9]\d{9}(?![\d.])", text), p.name
    district = (maps / "district.html").read_text(encoding="utf-8")
    assert "热点" in district  # the early-warning hot spots / alerts are drawn on the district map


@pytest.mark.browser
@pytest.mark.skipif(not available(), reason="needs headless Chromium (/usr/bin/chromium)")
def test_demo_maps_render_in_chromium(demo):
    _, out, _ = demo
    with Chromium() as browser:
        for p in sorted((out / "maps").glob("*.html"))[:2]:
            page = browser.open(p)
            assert page.console_errors == [], (p.name, page.console_errors)
            assert all(u.startswith("file:") or u.startswith("data:") for u in page.requests), page.requests[:5]
            ok, stats = not_blank(page.screenshot_png)
            assert ok, (p.name, stats)


@pytest.mark.browser
@pytest.mark.skipif(not available(), reason="needs headless Chromium (/usr/bin/chromium)")
def test_demo_maps_run_under_the_strict_policy(demo, tmp_path):
    """Every kind of map over the demo store (district, a street, internal, split proposals, locate) loads in
    Chromium under its strict policy (scripts by sha256 hash only, no 'unsafe-inline'): no CSP violation, no
    error, and the map drew its layers."""
    db, out, _ = demo
    con = sqlite3.connect(db)
    big = [c for (c,) in con.execute("SELECT code FROM communities WHERE households > 3000 ORDER BY households DESC")]
    street = con.execute("SELECT code FROM streets ORDER BY code").fetchone()[0]
    component = con.execute("SELECT code FROM components ORDER BY code").fetchone()[0]
    con.close()

    def gridmap(*argv: object) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gridmap", "--db", str(db), *map(str, argv)],
                              capture_output=True, text=True, timeout=600)

    r = gridmap("map", "--street", street, "--privacy", "internal", "-o", tmp_path / "internal.html")
    assert r.returncode == 0, r.stderr[-2000:]
    r = gridmap("locate", component, "--html", tmp_path / "locate.html")
    assert r.returncode == 0, r.stderr[-2000:]
    for code in big:                               # the first oversized community the planner can split
        if gridmap("split", "propose", code, "--out", tmp_path / "plans").returncode == 0:
            break
    else:
        pytest.fail(f"no oversized demo community could be split: {big}")
    r = gridmap("map", "--community", code, "--proposals", tmp_path / "plans" / f"{code}.gpkg",
                "-o", tmp_path / "split.html")
    assert r.returncode == 0, r.stderr[-2000:]
    pages = {"district": out / "maps" / "district.html", "street": out / "maps" / f"street_{street}.html",
             "internal": tmp_path / "internal.html", "split": tmp_path / "split.html",
             "locate": tmp_path / "locate.html"}
    stats = """(() => {
        const m = Object.keys(window).filter(k => k.startsWith('map_') && window[k] instanceof L.Map)
                                     .map(k => window[k])[0];
        let layers = 0, drawn = 0;
        m.eachLayer(l => { layers++; if (l instanceof L.Path || l instanceof L.ImageOverlay) drawn++; });
        return {ready: window.gridmapReady === true, layers: layers, drawn: drawn,
                panels: document.querySelectorAll('.gm-panel').length,
                banner: document.querySelectorAll('.gm-banner').length};
    })()"""
    with Chromium() as browser:
        for kind, path in pages.items():
            html = path.read_text(encoding="utf-8")
            csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1)
            assert "'unsafe-inline'" not in re.search(r"script-src ([^;]*)", csp).group(1), kind
            page = browser.open(path, evaluate={"stats": stats})
            assert page.csp_violations == [] and page.console_errors == [], (kind, page.csp_violations,
                                                                              page.console_errors)
            assert page.external_requests == [], (kind, page.external_requests[:3])
            s = page.evaluations["stats"]
            assert s["ready"] and s["drawn"] > 0, (kind, s)
            assert (s["banner"] == 1) is (kind == "internal"), (kind, s)
            assert (s["panels"] > 1) is (kind == "split"), (kind, s)
            ok, shot = not_blank(page.screenshot_png)
            assert ok, (kind, shot)
