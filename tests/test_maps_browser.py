"""The written maps in real headless Chromium: not blank, no console errors, no network, fast, payloads inert."""

from __future__ import annotations

import subprocess
import warnings

import pytest

from gridmap.maps import AssetsMissingError, EmptyLayerWarning, check_assets, build_map, district_map, street_map, write_map
from gridmap.maps.sample import PAYLOADS, sample_layers

from browser import Chromium, available, not_blank  # tests/ is on sys.path (rootdir conftest)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not available(), reason="needs headless Chromium (/usr/bin/chromium)")]

FRAMES = ("communities", "streets", "cells", "components", "complaints", "hotspots", "alerts", "proposals")
LOAD_LIMIT_S = 3.0


@pytest.fixture(scope="module")
def browser():
    with Chromium() as b:
        yield b


@pytest.fixture(scope="module")
def maps(tmp_path_factory):
    from test_maps import ROOT

    try:
        check_assets()
    except AssetsMissingError:
        subprocess.run(["bash", str(ROOT / "scripts" / "fetch_assets.sh")], check=True)
    d = sample_layers(payloads=True)          # full street scale: 10,000 components, 50,000 complaints
    lay = {k: d[k] for k in FRAMES}
    out = tmp_path_factory.mktemp("browser-maps")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyLayerWarning)
        files = {
            "street": write_map(street_map("110101001", **lay), out / "street.html"),
            "district": write_map(district_map(**lay), out / "district.html"),
            "internal": write_map(street_map("110101001", **lay, privacy="internal"), out / "internal.html"),
            "proposals": write_map(build_map(communities=d["communities"], proposals=d["proposals"],
                                             title="拆分方案 <b>split</b>"), out / "proposals.html"),
        }
    return d, files


@pytest.mark.parametrize("kind", ["street", "district", "internal", "proposals"])
def test_map_renders_offline_without_errors(browser, maps, kind):
    _, files = maps
    r = browser.open(files[kind])
    assert r.console_errors == [], r.console_errors[:3]
    assert r.external_requests == [], r.external_requests[:5]
    assert r.dialogs == []
    ok, stats = not_blank(r.screenshot_png)
    assert ok, stats
    assert r.ready_seconds < LOAD_LIMIT_S, f"{kind} took {r.ready_seconds:.2f} s to become ready"


def test_payloads_show_as_text_and_never_run(browser, maps):
    d, files = maps
    code = d["communities"]["code"].iloc[0]          # its name is "<script>alert(1)</script>"
    js = f"""(() => {{
        const hit = gridmap.index[{code!r}];
        hit.layer.openTooltip(hit.layer.getBounds().getCenter());
        const tip = document.querySelector('.leaflet-tooltip');
        return {{tip: tip ? tip.textContent : null,
                 injected: document.querySelectorAll('.leaflet-tooltip script, .leaflet-tooltip img').length,
                 imgs: document.querySelectorAll('img[onerror]').length}};
    }})()"""
    r = browser.open(files["street"], evaluate={"probe": js})
    probe = r.evaluations["probe"]
    assert PAYLOADS[0] in probe["tip"]            # shown literally, as text
    assert probe["injected"] == 0 and probe["imgs"] == 0
    assert r.dialogs == [] and r.console_errors == []


def test_component_search_by_code(browser, maps):
    d, files = maps
    code = d["components"].loc[d["components"]["street_code"] == "110101001", "code"].iloc[5]
    js = f"""new Promise(done => {{
        const inp = document.querySelector('.gm-search input');
        inp.value = {code!r};
        inp.dispatchEvent(new KeyboardEvent('keydown', {{key: 'Enter', bubbles: true}}));
        let n = 0;
        (function poll() {{
            const p = document.querySelector('.leaflet-popup-content');
            if (p || n++ > 100) return done(p ? p.textContent : null);
            setTimeout(poll, 50);
        }})();
    }})"""
    miss = """(() => { const inp = document.querySelector('.gm-search input'); inp.value = '<b>nope</b>';
        inp.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
        const m = document.querySelector('.gm-search-msg'); return [m.textContent, m.children.length]; })()"""
    r = browser.open(files["street"], evaluate={"hit": js, "miss": miss})
    assert r.evaluations["hit"] and code in r.evaluations["hit"]
    text, children = r.evaluations["miss"]
    assert "<b>nope</b>" in text and children == 0
    assert r.console_errors == []


def test_internal_banner_visible(browser, maps):
    _, files = maps
    r = browser.open(files["internal"], evaluate={
        "banner": "document.querySelector('.gm-banner') && document.querySelector('.gm-banner').innerText"})
    assert "内部资料" in r.evaluations["banner"]
    r = browser.open(files["street"], evaluate={"banner": "document.querySelectorAll('.gm-banner').length"})
    assert r.evaluations["banner"] == 0
