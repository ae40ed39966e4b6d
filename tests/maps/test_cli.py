"""``gridmap map`` over SpatiaLite and PostGIS: district, street and community maps from the store, early-warning
hot spots and alerts (computed, or read from ``gridmap warn --geojson``), split proposals from
``gridmap split propose --out``; clear errors for an unknown code, an empty store and an empty layer file; every
written file scanned for external URLs, planted payloads and personal data."""

from __future__ import annotations

import json
import re
import subprocess
import warnings
from pathlib import Path

import geopandas as gpd
import pytest

from gridmap.cli import main
from gridmap.maps import AssetsMissingError, check_assets
from gridmap.testing.maps import PAYLOADS, PII
from gridmap.store import open_store

from tests.maps.conftest import STREET
from tests.maps.test_html import ROOT, external_urls, page_data

pytestmark = pytest.mark.usefixtures("map_assets")  # the offline bundle (tests/maps/conftest.py)


def _fill(store, layers):
    for name in ("streets", "communities", "cells", "components", "complaints"):
        store.write(name, layers[name])


def _run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _check_page(path: Path, *, internal: bool = False) -> str:
    html = path.read_text(encoding="utf-8")
    assert external_urls(html) == [], external_urls(html)[:5]
    assert "default-src 'none'" in html
    for p in PAYLOADS:
        assert p not in html, (path.name, p)
    for p in PII:
        assert p not in html, (path.name, p)
    assert ("内部资料" in html) is internal
    if not internal:
        assert "屋顶漏雨" not in html and "反映" not in html      # no complaint text on shared maps
    return html


def overlay_names(html: str) -> list[str]:
    """Names of the toggleable layers in the page's layer control (built by the runtime from the page data)."""
    (spec,) = _specs(html, "layerControl")
    return [name for _, name, overlay in spec["layers"] if overlay]


def _specs(html: str, fn: str) -> list[dict]:
    data = page_data(html)
    return [data[k] for k in re.findall(rf'gridmap\.{fn}\((?:\w+, )*(?:\{{[^}}]*\}}, )?gridmap\.data\("(\w+)"\)\)', html)]


def test_map_command_over_the_store(store_url, tmp_path, capsys, layers):
    db = ["--db", store_url]
    _fill(open_store(store_url, crs="EPSG:4548"), layers)

    rc, out, err = _run(capsys, "map", *db, "-o", tmp_path / "district.html")
    assert rc == 0, err
    html = _check_page(tmp_path / "district.html")
    # Communities, streets and every cell of the store are drawn on the district map.
    assert sorted(len(a["f"]) for a in _specs(html, "areas")) == sorted([len(layers["communities"]),
                                                                        len(layers["streets"])])
    (cells,) = _specs(html, "cells")
    assert sorted(cells["codes"]) == sorted(layers["cells"]["code"])

    rc, out, err = _run(capsys, "map", *db, "--street", STREET, "-o", tmp_path / "street.html")
    assert rc == 0, err
    html = _check_page(tmp_path / "street.html")
    comm_spec = next(a for a in _specs(html, "areas") if len(a["styles"]) == 5)
    assert {f[3] for f in comm_spec["f"]} == set(layers["communities"].query("street_code == @STREET")["code"])
    pts = _specs(html, "points")
    assert sum(len(p["codes"]) for p in pts) == int((layers["components"]["street_code"] == STREET).sum())

    # by name as well as by code
    rc, _, err = _run(capsys, "map", *db, "--street", "示范2街道", "-o", tmp_path / "by-name.html")
    assert rc == 0, err

    code = f"{STREET}005"
    rc, out, err = _run(capsys, "map", *db, "--community", code, "-o", tmp_path / "community.html")
    assert rc == 0, err
    html = _check_page(tmp_path / "community.html")
    (cell_spec,) = _specs(html, "cells")
    assert sorted(cell_spec["codes"]) == sorted(layers["cells"].query("community_code == @code")["code"])
    assert cell_spec["labels"][1] == [c[-3:] for c in cell_spec["codes"]]

    rc, out, err = _run(capsys, "map", *db, "--street", STREET, "--privacy", "internal", "-o",
                        tmp_path / "internal.html")
    assert rc == 0, err
    html = _check_page(tmp_path / "internal.html", internal=True)
    assert "[电话]" in html                                     # complaint text shown, number masked


def test_map_command_errors(store_url, tmp_path, capsys, layers):
    db = ["--db", store_url]
    rc, _, err = _run(capsys, "map", *db, "--create", "-o", tmp_path / "empty.html")  # an empty new store
    assert rc == 1 and "no communities" in err and "import communities" in err  # refusals exit 1
    assert not (tmp_path / "empty.html").exists()

    _fill(open_store(store_url, crs="EPSG:4548"), layers)
    rc, _, err = _run(capsys, "map", *db, "--street", "110101019", "-o", tmp_path / "x.html")
    assert rc == 1 and "street '110101019' not found" in err and "110101001" in err and "9-digit" in err
    rc, _, err = _run(capsys, "map", *db, "--community", "110101002099", "-o", tmp_path / "x.html")
    assert rc == 1 and "community '110101002099' not found" in err and "12-digit" in err
    assert not (tmp_path / "x.html").exists()

    empty = tmp_path / "empty.geojson"
    layers["communities"].iloc[:0].to_crs(4326).to_file(empty, driver="GeoJSON")
    rc, _, err = _run(capsys, "map", *db, "--alerts", empty, "-o", tmp_path / "x.html")
    assert rc == 1 and "--alerts file has no features" in err and str(empty) in err
    rc, _, err = _run(capsys, "map", *db, "--proposals", tmp_path / "missing.gpkg", "-o", tmp_path / "x.html")
    assert rc == 1 and "not found" in err
    rc, _, err = _run(capsys, "map", *db, "--warn-from", "2024-06-15", "-o", tmp_path / "x.html")
    assert rc == 2 and "--warn-to" in err  # a usage error
    assert not (tmp_path / "x.html").exists()

    # A layer file without a CRS is refused, not guessed ...
    part = layers["cells"].iloc[:5].assign(kind="count jump", unit_type="cell", unit=lambda f: f["code"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)         # pyogrio: "'crs' was not provided" (intended)
        part[["kind", "unit_type", "unit", "geometry"]].set_crs(None, allow_override=True).to_file(
            tmp_path / "nocrs.shp")
    rc, _, err = _run(capsys, "map", *db, "--alerts", tmp_path / "nocrs.shp", "-o", tmp_path / "x.html")
    assert rc == 1 and "--alerts file has no CRS" in err and "nocrs.shp" in err
    # ... and one whose coordinates are in another CRS than declared (4527 eastings labelled 4548) too.
    shifted = part[["kind", "unit_type", "unit", "geometry"]].translate(39_000_000, 0)
    gpd.GeoDataFrame(part[["kind", "unit_type", "unit"]], geometry=shifted, crs="EPSG:4548").to_file(
        tmp_path / "zone.gpkg")
    rc, _, err = _run(capsys, "map", *db, "--alerts", tmp_path / "zone.gpkg", "-o", tmp_path / "x.html")
    assert rc == 1 and "map layer 'alerts' lies 38,9" in err and "km away" in err and "EPSG:4527" in err
    assert not (tmp_path / "x.html").exists()


def test_map_command_warning_layers(store_url, tmp_path, capsys, layers):
    """Hot spots and alerts computed by the map command equal those of `gridmap warn --geojson` read back,
    and both equal the API's early_warning on the same data (independent path: no map code involved)."""
    from gridmap.warning.alerts import early_warning

    db = ["--db", store_url]
    store = open_store(store_url, crs="EPSG:4548")
    _fill(store, layers)
    window = ["2024-06-15", "2024-06-29"]
    report = early_warning(store.read("complaints"), start=window[0], end=window[1], cells=store.read("cells"))
    kinds = report.alerts["kind"].value_counts().to_dict()
    assert kinds.get("count jump", 0) >= 1 and sum(v for k, v in kinds.items() if "hot spot" in k) >= 1, kinds
    want_alerts = set(report.alerts.loc[~report.alerts["kind"].str.contains("hot spot"), "unit"])
    want_hot = set(report.alerts.loc[report.alerts["kind"].str.contains("hot spot"), "unit"])

    def drawn(html):
        specs = _specs(html, "areas")
        tips = [f[1] for s in specs for f in s["f"]]
        hot = {u for t in tips if "hot spot" in t for u in re.findall(r"\b(\d{15})\b", t)}
        al = {u for t in tips if "预警 alert" in t for u in re.findall(r"\b(\d{12,15})\b", t)}
        return hot, al

    rc, out, err = _run(capsys, "map", *db, "--warn-from", window[0], "--warn-to", window[1], "--min-count", "0",
                        "-o", tmp_path / "warn.html")
    assert rc == 0, err
    html = _check_page(tmp_path / "warn.html")
    assert f"{len(report.alerts)} alert(s)" in out
    assert drawn(html) == (want_hot, want_alerts)

    gj = tmp_path / "alerts.geojson"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)       # pyogrio: NaN statistics are written as null
        rc, _, err = _run(capsys, "warn", *db, "--from", window[0], "--to", window[1], "--geojson", gj, "--md",
                          tmp_path / "w.md")
    assert rc == 0, err
    rc, _, err = _run(capsys, "map", *db, "--street", STREET, "--alerts", gj, "--min-count", "0", "-o",
                      tmp_path / "warn-file.html")
    assert rc == 0, err
    html = _check_page(tmp_path / "warn-file.html")
    hot, al = drawn(html)
    assert hot == {u for u in want_hot if u.startswith(STREET)}
    assert al == {u for u in want_alerts if u.startswith(STREET)}

    # Shared maps hide units with fewer than --min-count complaints: with a threshold above every count,
    # nothing of the warning is drawn, and the legend says why.
    rc, _, err = _run(capsys, "map", *db, "--alerts", gj, "--min-count", "100000", "-o", tmp_path / "hidden.html")
    assert rc == 0, err
    html = _check_page(tmp_path / "hidden.html")
    assert drawn(html) == (set(), set())
    assert "fewer than 100000 complaints hidden" in html


def test_map_command_split_proposals(store_url, tmp_path, capsys):
    """`gridmap split propose --out` then `gridmap map --proposals`: every proposal a layer, the current
    boundary drawn, and the parts' households as the planner wrote them."""
    import sys

    sys.path.insert(0, str(ROOT))
    from benchmarks.split_cases import make_case
    from tests.planning.test_accept import _load

    db = ["--db", store_url]
    code = _load(open_store(store_url, crs="EPSG:4548"), make_case(0))
    rc, _, err = _run(capsys, "split", "propose", code, *db, "--barrier-kinds", "river,rail", "--out",
                      tmp_path / "p")
    assert rc == 0, err
    gpkg = tmp_path / "p" / f"{code}.gpkg"
    frame = gpd.read_file(gpkg)
    ranks = sorted(set(frame.loc[frame["kind"] == "part", "proposal_rank"]))
    rc, out, err = _run(capsys, "map", *db, "--community", code, "--proposals", gpkg, "-o", tmp_path / "split.html")
    assert rc == 0, err
    html = _check_page(tmp_path / "split.html")
    names = overlay_names(html)
    assert "现状边界 current boundary" in names
    assert sorted(n for n in names if "proposal" in n) == sorted(
        f"方案 proposal {r}（{int(((frame['proposal_rank'] == r) & (frame['kind'] == 'part')).sum())} 个社区）"
        for r in ranks)
    tips = " ".join(f[1] for s in _specs(html, "areas") for f in s["f"])
    for hh in frame.loc[frame["kind"] == "part", "households"]:
        assert f"{int(hh):,}" in tips
