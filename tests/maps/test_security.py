"""Data never runs as code.

Template payloads (Jinja2 ``{{ }}`` / ``{% %}`` / ``{# #}`` / ``{%- raw %}``, quote-free forms, Mako ``${}`` /
``<% %>``, forms that are template syntax errors) are planted in street, community, compound and component
names, component owners and complaint texts, categories and addresses, imported through the real importers
(``gridmap import ...``) into SpatiaLite and PostGIS, and then go through every command that writes HTML or
Markdown: ``gridmap map`` (district, street, community, internal, split proposals), ``gridmap locate --html``,
``gridmap split propose --out`` and ``gridmap warn --md``. Asserted: no side effect (the marker files the
payloads would create never appear), no crash, nothing evaluated (no ``uid=``, no ``Undefined``, no computed
results), and every payload present verbatim (as text) in the page's JSON data; Markdown rendered by an
independent renderer (markdown-it-py) shows payloads as text, with no HTML element or link made from data.

Also: the page's Content-Security-Policy lists a sha256 hash for each executable inline script (recomputed here
with hashlib) and no ``'unsafe-inline'``; a Tianditu key is refused in a shared map without ``embed_key`` /
``--embed-key``, and with it the page and the CLI warn.
"""

from __future__ import annotations

import base64
import hashlib
import html as htmlmod
import json
import re
import subprocess
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.cli import main
from gridmap.crs import to_wgs84_xy
from gridmap.errors import ValidationError
from gridmap.maps import (AssetsMissingError, EmptyLayerWarning, KeyEmbeddedWarning, build_map, check_assets,
                          escape_html, street_map, to_html)
from gridmap.testing.maps import sample_layers
from gridmap.store import open_store

from tests.maps.test_html import ROOT, page_data

X0, Y0 = 450000.0, 4418000.0
STREET = "110101001"
BIG = STREET + "001"          # the community with compounds, split by `gridmap split propose`
SIDE = 150.0                  # side of the small communities (m)
COLS = 8
#: Directory the quote-free payloads create in the working directory (``lipsum.__globals__.__name__``).
QUOTE_FREE_DIR = "jinja2.utils"


pytestmark = pytest.mark.usefixtures("map_assets")  # the offline bundle (tests/maps/conftest.py)


# --- the payloads ---------------------------------------------------------------------------------------------
def executing_payloads(marker: Path) -> list[str]:
    """Forms that run a command or make a directory if a template engine ever evaluates them."""
    m = str(marker)
    quoted = [f"lipsum.__globals__.os.popen('id > {m}').read()",                     # the payload
              f"lipsum.__globals__.os.popen('touch {m}').read()",
              f"cycler.__init__.__globals__.os.popen('touch {m}').read()",
              f"self.__init__.__globals__.__builtins__.__import__('os').system('touch {m}')",
              f"namespace.__init__.__globals__.os.system(\"touch {m}\")"]
    # no quotes at all: these survive HTML escaping and JSON encoding unchanged
    quote_free = ["lipsum.__globals__.os.mkdir(lipsum.__globals__.__name__)",
                  "cycler.__init__.__globals__.os.mkdir(cycler.__init__.__globals__.__name__)",
                  "joiner.__init__.__globals__.os.mkdir(joiner.__init__.__globals__.__name__)",
                  "lipsum.__globals__.os.popen(cycler.__init__.__globals__.os.name)"]
    forms = []
    for expr in quoted + quote_free:
        forms += [f"{{{{ {expr} }}}}", f"{{{{{expr}}}}}", f"{{%- if {expr} -%}}{{%- endif -%}}",
                  f"{{% set x = {expr} %}}"]
    forms += [f"${{__import__('os').system('touch {m}')}}",                            # Mako
              f"<% import os; os.system('touch {m}') %>",
              f"<%! import os %>${{os.system('touch {m}')}}"]
    return forms


#: Forms whose evaluation would leave a visible trace (the computed word), and forms that are template syntax
#: errors (the issue: a quoted {{ }} in a community name crashed every map).
TRACE_PAYLOADS = ["{{ 'gm' ~ 'evaluated' }}", "{% set gmx = 'gm' ~ 'setran' %}{{ gmx }}", "{# gm comment #}",
                  "{%- raw %}{{ 'gm' ~ 'raw' }}{% endraw %}", "{{ \"gm\" ~ \"dq\" }}", "${'gm' + 'mako'}",
                  "<%text>gm</%text>", "{{ undefined_gm.attr }}", "{{ \"", "{% endfor %}", "{{", "}}", "{%",
                  "{{ 7*191 }}gm", "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))", "`code` *em* #h |t|"]
TRACES = ("gmevaluated", "gmsetran", "gmdq", "gmmako", "uid=", "Undefined", "_wrap_close", "1337gm")


def all_payloads(marker: Path) -> list[str]:
    return executing_payloads(marker) + TRACE_PAYLOADS


def no_side_effect(tmp_path: Path, marker: Path) -> None:
    assert not marker.exists(), f"a payload ran: {marker} was created"
    assert not (tmp_path / QUOTE_FREE_DIR).exists(), "a quote-free payload ran (os.mkdir in the working directory)"


def data_strings(html: str) -> list[str]:
    """Every string value in the page's JSON data block."""
    out: list[str] = []

    def walk(v):
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    if _DATA_RE.search(html):
        walk(page_data(html))
    return out


_DATA_RE = re.compile(r'<script type="application/json" id="gridmap-data">.*?</script>', re.S)
_VENDOR_RE = re.compile(r"<(script|style) data-gridmap-(?:vendor|runtime)[^>]*>.*?</\1>", re.S)


def check_page(html: str, payloads: list[str], *, where: str) -> None:
    """Nothing evaluated, the executable part free of data, every payload present as text in the data."""
    strings = "\n".join(data_strings(html))
    rest = _VENDOR_RE.sub("", _DATA_RE.sub("", html))     # folium's markup and scripts: identifiers only
    for t in TRACES:
        assert t not in strings and t not in rest, (where, t)
    for p in payloads:
        assert p in strings or escape_html(p) in strings, (where, p)
    # the markup and executable scripts outside the data block carry none of the data
    for token in ("gm", "lipsum", "{{", "{%", "${", "<%"):
        assert token not in rest, (where, token, rest[max(0, rest.find(token) - 80):rest.find(token) + 80])


def rendered_markdown_ok(md: str, payloads: list[str], *, where: str) -> str:
    """Render with markdown-it-py (CommonMark + tables, raw HTML allowed as a viewer would): no element, link or
    image may come from data; returns the visible text."""
    from markdown_it import MarkdownIt

    out = MarkdownIt("commonmark").enable("table").render(md)
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", out))
    assert tags <= {"h1", "h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "strong",
                    "blockquote", "em", "code"} - {"em", "code"}, (where, tags)
    assert "javascript:" not in re.sub(r">[^<]*<", "><", out), where      # not in any attribute
    text = htmlmod.unescape(re.sub(r"<[^>]+>", "", out))
    for t in TRACES:
        assert t not in text, (where, t)
    return text


# --- a district whose every name is a payload, written as files and imported ---------------------------------
def write_files(d: Path, payloads: list[str]) -> dict[str, Path]:
    rows = -(-len(payloads) // COLS)
    n = rows * COLS                                   # full rows of small communities, payloads cycled
    names = [payloads[i % len(payloads)] for i in range(n)]
    width, height = 600 + COLS * SIDE, max(800.0, rows * SIDE)
    joined = " ".join(payloads)
    files = {}
    gpd.GeoDataFrame({"code": [STREET], "name": [joined]}, geometry=[shapely.box(X0, Y0, X0 + width, Y0 + height)],
                     crs="EPSG:4548").to_file(files.setdefault("streets", d / "streets.gpkg"), engine="pyogrio")
    boxes = [shapely.box(X0, Y0, X0 + 600, Y0 + height)]
    for i in range(n):
        r, c = divmod(i, COLS)
        top = Y0 + height if r == rows - 1 else Y0 + (r + 1) * SIDE
        boxes.append(shapely.box(X0 + 600 + c * SIDE, Y0 + r * SIDE, X0 + 600 + (c + 1) * SIDE, top))
    codes = [BIG] + [f"{STREET}{i + 2:03d}" for i in range(n)]
    gpd.GeoDataFrame({"code": codes, "street_code": STREET, "name": [joined] + names,
                      "households": [4200] + [1500] * n}, geometry=boxes, crs="EPSG:4548").to_file(
        files.setdefault("communities", d / "communities.gpkg"), engine="pyogrio")
    comp = [shapely.box(X0 + i * 200, Y0 + j * height / 2, X0 + (i + 1) * 200, Y0 + (j + 1) * height / 2)
            for j in range(2) for i in range(3)]
    gpd.GeoDataFrame({"code": [f"XQ{k:02d}" for k in range(6)], "community_code": BIG,
                      "name": payloads[:6], "households": 700, "kind": "compound"},
                     geometry=comp, crs="EPSG:4548").to_file(files.setdefault("compounds", d / "compounds.gpkg"),
                                                             engine="pyogrio")
    # one component per payload, in the middle of the community named with it
    cx = np.array([b.centroid.x for b in boxes[1:]]) + 10
    cy = np.array([b.centroid.y for b in boxes[1:]]) + 10
    lon, lat = to_wgs84_xy(cx, cy)
    pd.DataFrame({"lon": lon, "lat": lat, "class_code": "0101", "name": names, "owner": names,
                  "status": "完好"}).to_csv(files.setdefault("components", d / "components.csv"), index=False)
    # complaints: a leak history in every payload community (for the 回头看 list) and a surge in the big one
    rng = np.random.default_rng(7)
    recs = []
    for i, p in enumerate(names):
        for k in range(3):
            recs.append((cx[i] + rng.uniform(-20, 20), cy[i] + rng.uniform(-20, 20),
                         pd.Timestamp("2024-05-01") + pd.Timedelta(days=int(rng.integers(0, 300))),
                         p, f"房屋漏雨 {p}", f"{p} 1号楼"))
    for k in range(120):
        recs.append((X0 + 300 + rng.uniform(-60, 60), Y0 + 400 + rng.uniform(-60, 60),
                     pd.Timestamp("2025-06-02") + pd.Timedelta(hours=int(rng.integers(0, 240))),
                     names[k % n], f"屋顶漏雨 {names[k % n]}", f"{names[k % n]} 2号楼"))
    for k in range(400):
        recs.append((X0 + rng.uniform(1, width - 1), Y0 + rng.uniform(1, height - 1),
                     pd.Timestamp("2024-06-01") + pd.Timedelta(hours=int(rng.integers(0, 24 * 380))),
                     "噪声扰民", "夜间施工噪声", None))
    x, y, t, cat, text, addr = zip(*recs)
    lon, lat = to_wgs84_xy(np.array(x), np.array(y))
    pd.DataFrame({"source_id": [f"S{i:05d}" for i in range(len(recs))], "received_at": [str(v) for v in t],
                  "category": cat, "text": text, "address": addr, "lon": lon, "lat": lat}).to_csv(
        files.setdefault("complaints", d / "complaints.csv"), index=False)
    return files


def run(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_payloads_through_every_importer_and_every_writer(store_url, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)                       # where the quote-free payloads would make their directory
    marker = tmp_path / "MARKER"
    payloads = all_payloads(marker)
    files = write_files(tmp_path, payloads)
    db = ["--db", store_url]
    for layer in ("streets", "communities", "compounds"):
        # small synthetic blocks with real household counts: denser than the plausibility rule allows
        extra = ["--allow-implausible"] if layer != "streets" else []
        rc, out, err = run(capsys, "import", layer, files[layer], *extra, *db)
        assert rc == 0 and " 0 rejected" in out, (layer, out, err)
    rc, out, err = run(capsys, "cells", "build", "--origin", f"{X0:.0f},{Y0:.0f}", *db)
    assert rc == 0, (out, err)
    rc, out, err = run(capsys, "import", "components", files["components"], "--lonlat", "wgs84", *db)
    assert rc == 0, (out, err)
    rc, out, err = run(capsys, "import", "complaints", files["complaints"], "--lonlat", "wgs84", *db)
    assert rc == 0, (out, err)
    no_side_effect(tmp_path, marker)
    store = open_store(store_url)
    try:
        stored = {name: store.read(name) for name in ("streets", "communities", "compounds", "components",
                                                     "complaints")}
    finally:
        store.close()
    # the importers kept every payload as it was (the data is honest; only its use must be safe)
    assert set(payloads) <= set(stored["communities"]["name"])
    assert set(payloads) <= set(stored["components"]["name"]) and set(payloads) <= set(stored["components"]["owner"])
    assert stored["streets"]["name"].tolist() == [" ".join(payloads)]
    assert {f"房屋漏雨 {p}" for p in payloads} <= set(stored["complaints"]["text"])

    comm_payloads = payloads                       # community names: tooltips on every map of the street
    pages = {}
    for name, extra in (("district", []), ("street", ["--street", STREET]),
                        ("community", ["--community", STREET + "002"]),
                        ("internal", ["--street", STREET, "--privacy", "internal"]),
                        ("warning", ["--street", STREET, "--warn-from", "2025-06-01", "--warn-to", "2025-06-15",
                                     "--keywords", "漏雨"])):
        rc, out, err = run(capsys, "map", *db, "-o", tmp_path / f"{name}.html", *extra)
        assert rc == 0, (name, out, err)
        pages[name] = (tmp_path / f"{name}.html").read_text(encoding="utf-8")
        no_side_effect(tmp_path, marker)
    for name in ("district", "street", "internal"):
        check_page(pages[name], comm_payloads, where=name)
    # the street name (every payload joined) is the street map's title and a tooltip
    assert escape_html(" ".join(payloads)) in "\n".join(data_strings(pages["street"]))
    # components: their names in the popups' class labels (text, shown with textContent)
    comp_labels = "\n".join(data_strings(pages["street"]))
    for p in payloads:
        assert f"0101 {p}" in comp_labels, p
    # internal map: complaint texts (scrubbed, as text)
    check_page(pages["internal"], [f"房屋漏雨 {p}" for p in payloads], where="internal complaints")

    # gridmap locate --html: the map around one component
    code = stored["components"].sort_values("code")["code"].iloc[0]
    rc, out, err = run(capsys, "locate", code, *db, "--html", tmp_path / "locate.html")
    assert rc == 0, (out, err)
    check_page((tmp_path / "locate.html").read_text(encoding="utf-8"), [], where="locate")
    no_side_effect(tmp_path, marker)

    # gridmap split propose --out (Markdown + GeoPackage), then the split map from its file
    rc, out, err = run(capsys, "split", "propose", BIG, *db, "--out", tmp_path / "plans")
    assert rc == 0, (out, err)
    md = (tmp_path / "plans" / f"{BIG}.md").read_text(encoding="utf-8")
    text = rendered_markdown_ok(md, payloads, where="split report")
    assert " ".join(payloads) in text                 # the community's name, shown as text
    rc, out, err = run(capsys, "map", *db, "--community", BIG, "--proposals", tmp_path / "plans" / f"{BIG}.gpkg",
                       "-o", tmp_path / "split.html")
    assert rc == 0, (out, err)
    split = (tmp_path / "split.html").read_text(encoding="utf-8")
    check_page(split, [" ".join(payloads)], where="split")
    assert "compare" in page_data(split)[re.search(r'gridmap\.page\(\w+, gridmap\.data\("(\w+)"\)', split).group(1)]
    no_side_effect(tmp_path, marker)

    # gridmap warn --md: alert tables and the 回头看 list (addresses are payloads), keywords from the command line
    rc, out, err = run(capsys, "warn", *db, "--from", "2025-06-01", "--to", "2025-06-15",
                       "--keywords", "漏雨,{{ 'gm' ~ 'evaluated' }},<img src=x onerror=alert(1)>",
                       "--md", tmp_path / "warn.md")
    assert rc == 0, (out, err)
    md = (tmp_path / "warn.md").read_text(encoding="utf-8")
    assert "回头看" in md
    text = rendered_markdown_ok(md, payloads, where="warn --md")
    assert "<img" in text and "onerror=alert(1)>" in text   # the keyword (split into words), shown as text
    places = [p for p in payloads if "\n" not in p and f"{p}1号楼".replace(" ", "") in text.replace(" ", "")]
    assert len(places) >= 10, "the re-check list shows the payload addresses as text"
    check_page(pages["warning"], [], where="warning map")
    no_side_effect(tmp_path, marker)


# --- the same payloads at the API level: the markers a template engine would make ------------------------------
@pytest.fixture(scope="module")
def small_layers():
    d = sample_layers(nx_streets=1, ny_streets=1, components_per_street=6, complaints_per_street=12)
    d["communities"] = d["communities"].iloc[:3]
    return d


@pytest.mark.parametrize("field", ["community name", "component name", "complaint text", "complaint category",
                                   "title"])
def test_executing_payloads_never_run_in_any_map(small_layers, tmp_path, monkeypatch, field):
    """Each executing form alone in one field of a small map (shared and internal): nothing runs, nothing
    crashes, the payload is in the page data as text. (Before the fix the quote-free forms made their
    directory and the quoted ones ran or crashed the build.)"""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "MARKER"
    d = small_layers
    problems = []
    for payload in executing_payloads(marker):
        comm, comps, pts = d["communities"].copy(), d["components"].copy(), d["complaints"].copy()
        title = "t"
        if field == "community name":
            comm["name"] = payload
        elif field == "component name":
            comps["name"] = payload
        elif field == "complaint text":
            pts["text"] = payload
        elif field == "complaint category":
            pts["category"] = payload
        else:
            title = payload
        for privacy in ("shared", "internal"):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", EmptyLayerWarning)
                    html = to_html(build_map(communities=comm, components=comps, complaints=pts, privacy=privacy,
                                             title=title, scale="street"))
            except Exception as exc:  # noqa: BLE001 -- every payload is tried; all failures reported at the end
                problems.append((privacy, payload, f"{type(exc).__name__}: {exc}"[:200]))
                continue
            if marker.exists() or (tmp_path / QUOTE_FREE_DIR).exists():
                problems.append((privacy, payload, "RAN"))
                marker.unlink(missing_ok=True)
                if (tmp_path / QUOTE_FREE_DIR).exists():
                    (tmp_path / QUOTE_FREE_DIR).rmdir()
                continue
            # shared maps never carry complaint texts or categories (they are drawn as density only)
            if field not in ("complaint text", "complaint category") or privacy == "internal":
                strings = "\n".join(data_strings(html))
                if escape_html(payload) not in strings and payload not in strings:
                    problems.append((privacy, payload, "not in the page data as text"))
    assert problems == []
    no_side_effect(tmp_path, marker)


def test_same_map_same_bytes():
    d = sample_layers(nx_streets=1, ny_streets=1, components_per_street=40, complaints_per_street=80,
                      payloads=True)
    kw = dict(communities=d["communities"], components=d["components"], complaints=d["complaints"], title="t")
    a, b = to_html(build_map(**kw)), to_html(build_map(**kw))
    assert a == b


# --- the policy --------------------------------------------------------------------------------------------
_SCRIPT_RE = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.I | re.S)


def policy(html: str) -> dict[str, list[str]]:
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html).group(1)
    return {d.split()[0]: d.split()[1:] for d in (s.strip() for s in meta.split(";")) if d}


def test_csp_lists_the_hash_of_every_inline_script_and_nothing_unsafe(tmp_path):
    d = sample_layers(nx_streets=1, ny_streets=1, components_per_street=40, complaints_per_street=80,
                      payloads=True)
    html = to_html(street_map("110101001", communities=d["communities"], components=d["components"],
                              complaints=d["complaints"], privacy="internal"))
    csp = policy(html)
    assert csp["default-src"] == ["'none'"] and csp["img-src"] == ["data:"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    executable = [body for attrs, body in _SCRIPT_RE.findall(html) if "application/json" not in attrs]
    want = {"'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'" for b in executable}
    assert set(csp["script-src"]) == want and len(executable) == 4
    # the data block is JSON, not code, and is the only place data is
    (blocks,) = [body for attrs, body in _SCRIPT_RE.findall(html) if 'type="application/json"' in attrs],
    assert len(blocks) == 1 and json.loads(blocks[0])
    # no inline event handlers or javascript: URLs in the markup
    markup = re.sub(r"<(script|style)\b[^>]*>.*?</\1>", "", html, flags=re.S)
    assert not re.search(r"\son[a-z]+\s*=", markup) and "javascript:" not in markup


# --- keys ----------------------------------------------------------------------------------------------------
KEY = "0123456789abcdef0123"


def test_tianditu_key_needs_an_explicit_flag_in_shared_maps(tmp_path):
    c = sample_layers(nx_streets=1, ny_streets=1, components_per_street=5, complaints_per_street=5)["communities"]
    with pytest.raises(ValidationError, match="embed_key=True") as exc:
        build_map(communities=c, basemap="tianditu", tianditu_key=KEY, offline=False)
    assert "--embed-key" in str(exc.value)
    with pytest.warns(KeyEmbeddedWarning, match="Tianditu key"):
        html = to_html(build_map(communities=c, basemap="tianditu", tianditu_key=KEY, offline=False, embed_key=True))
    assert KEY in html
    legend = page_data(html)[re.search(r'gridmap\.page\(\w+, gridmap\.data\("(\w+)"\)', html).group(1)]["legend"]
    assert "密钥" in legend and "Tianditu key" in legend
    assert any(h.startswith("https://") and h.endswith(".tianditu.gov.cn") for h in policy(html)["img-src"])
    # without a key-bearing basemap nothing is said
    with warnings.catch_warnings():
        warnings.simplefilter("error", KeyEmbeddedWarning)
        html = to_html(build_map(communities=c, basemap="osm", offline=False))
    assert "密钥" not in html and KEY not in html


def test_cli_refuses_the_key_without_embed_key_and_warns_with_it(store_url, tmp_path, capsys):
    d = sample_layers(nx_streets=1, ny_streets=1, components_per_street=5, complaints_per_street=5)
    store = open_store(store_url, crs="EPSG:4548")
    comm = d["communities"].copy()
    comm.geometry = comm.geometry.map(lambda g: shapely.MultiPolygon([g]))
    store.write("communities", comm[["code", "name", "households", "street_code", "geometry"]])
    store.close()
    db = ["--db", store_url, "--basemap", "tianditu", "--online", "--tianditu-key", KEY]
    rc, out, err = run(capsys, "map", *db, "-o", tmp_path / "shared.html")
    assert rc == 2 and "--embed-key" in err and not (tmp_path / "shared.html").exists()
    assert KEY not in out + err
    rc, out, err = run(capsys, "map", *db, "--embed-key", "-o", tmp_path / "keyed.html")
    assert rc == 0 and "warning:" in err and "Tianditu key" in err
    html = (tmp_path / "keyed.html").read_text(encoding="utf-8")
    assert KEY in html and "密钥" in html


# --- Markdown reports: names as text -------------------------------------------------------------------------
MD_PAYLOADS = ["<img src=x onerror=alert(1)>", "[x](javascript:alert(1))", "<script>alert(2)</script>",
               "![i](http://x/y.png)", "**bold** _em_ `code`", "a | b", "# heading\n- item", "<http://x.example>",
               "{{ 'gm' ~ 'evaluated' }}", "&lt;b&gt;"]


@pytest.mark.parametrize("payload", MD_PAYLOADS)
def test_markdown_reports_show_names_as_text(payload):
    """The split report (community name) and the accept summary (codes) render as text in markdown-it-py: no
    element, link or image from data (the warning summary's addresses and keywords: the CLI test above)."""
    from markdown_it import MarkdownIt

    from gridmap.markdown import escape_markdown
    from gridmap.planning.accept import AcceptResult
    from gridmap.planning.report import markdown_report

    def render(md: str) -> tuple[set, str]:
        out = MarkdownIt("commonmark").enable("table").render(md)
        return set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", out)), htmlmod.unescape(re.sub(r"<[^>]+>", "", out))

    flat = " ".join(payload.splitlines())
    tags, text = render(f"名称 {escape_markdown(payload)} 结束")
    assert tags == {"p"} and f"名称 {flat} 结束" in text
    tags, text = render(markdown_report([], community_code="110101001001", name=payload))
    assert tags <= {"h1", "p"} and flat in text
    res = AcceptResult(old_code=payload, new_codes=[payload, "110101001099"], before={}, diff=pd.DataFrame())
    tags, text = render(res.markdown())
    assert tags <= {"h1", "ul", "li"} and text.count(flat) == 3
