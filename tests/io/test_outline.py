"""The real Dongcheng outline from the optional geotool-cn package (skipped, with the reason, when not installed)."""

from __future__ import annotations

import pytest

from gridmap.io.outlines import OutlinesUnavailable, district_outline, outlines_available


def test_dongcheng_outline_area_and_licence(store):
    pytest.importorskip("GeoToolCN", reason="geotool-cn is not installed (optional: pip install geotool-cn); "
                                            "the real Dongcheng outline comes from it")
    from gridmap.io import import_outline

    res = import_outline(store, "110101")
    assert res.written == 1
    stored = store.read("districts")
    area_km2 = stored.area.iloc[0] / 1e6
    print(f"Dongcheng (110101) from geotool-cn: {area_km2:.2f} km² (published 41.84 km²)")
    assert stored["name"].tolist() == ["东城区"] and abs(area_km2 - 41.84) < 0.2
    text = str(res)
    assert "仅供学习交流使用" in text and "DataV.GeoAtlas" in text and "km²" in text
    assert district_outline("110101").attrs["licence"].startswith("DataV.GeoAtlas")


def test_without_geotool_cn_the_message_says_how_to_install(monkeypatch, tmp_path, capsys):
    import sys

    from gridmap.cli import main

    monkeypatch.setitem(sys.modules, "GeoToolCN", None)  # import GeoToolCN now raises ImportError
    assert not outlines_available()
    with pytest.raises(OutlinesUnavailable, match="pip install geotool-cn") as info:
        district_outline("110101")
    exc = info.value
    assert exc.what == "real district outlines need the optional package geotool-cn"
    assert exc.got == "it is not installed"
    assert exc.fix.startswith("install the optional package: `.venv/bin/pip install geotool-cn`")
    assert "gridmap import districts FILE" in exc.fix  # the way without it: your own outline file
    assert str(exc) == f"{exc.what}; got {exc.got}. Fix: {exc.fix}"
    # and the user of the CLI reads the same message, not a traceback
    assert main(["--db", str(tmp_path / "s.sqlite"), "import", "districts", "110101"]) == 1
    err = capsys.readouterr().err
    assert "pip install geotool-cn" in err and "gridmap import districts FILE" in err and "Traceback" not in err


def test_pipeline_end_to_end_on_the_real_dongcheng_outline(tmp_path):
    """CLI, end to end, on the real outline: import it (area and licence reported), cut it into synthetic
    communities (the outline is real, the communities are not), build the unit grid, flag, map."""
    pytest.importorskip("GeoToolCN", reason="geotool-cn is not installed (optional: pip install geotool-cn); "
                                            "the real Dongcheng outline comes from it")
    import json
    import re
    import subprocess
    import sys

    import geopandas as gpd
    import numpy as np
    import shapely

    from gridmap.store import open_store

    db = tmp_path / "dc.sqlite"

    def gm(*argv):
        r = subprocess.run([sys.executable, "-m", "gridmap", "--db", str(db), *argv], capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, (argv, r.stdout[-2000:], r.stderr[-2000:])
        return r.stdout

    out = gm("import", "districts", "110101")
    area = float(re.search(r"([\d.]+) km²", out).group(1))
    print(f"Dongcheng outline: {area:.2f} km² (published 41.84 km²)")
    assert abs(area - 41.84) < 0.2 and "仅供学习交流使用" in out
    s = open_store(db)
    outline = s.read("districts").geometry.iloc[0]
    s.close()
    # one street over the whole outline; communities = the outline cut by a 1.5 km grid (synthetic households)
    x0, y0, x1, y1 = outline.bounds
    boxes = [shapely.box(x, y, x + 1500, y + 1500) for x in np.arange(x0, x1, 1500) for y in np.arange(y1 - 1500,
                                                                                                         y0 - 1500,
                                                                                                         -1500)]
    pieces = [shapely.intersection(b, outline) for b in boxes]
    pieces = [p for p in pieces if p.area > 50_000]
    n = len(pieces)
    rng = np.random.default_rng(5)
    gpd.GeoDataFrame({"code": ["110101001"], "district_code": ["110101"], "name": ["整区（合成街道）"]},
                     geometry=[outline], crs="EPSG:4548").to_file(tmp_path / "jd.gpkg", engine="pyogrio")
    gpd.GeoDataFrame({"code": [f"110101001{i + 1:03d}" for i in range(n)], "street_code": "110101001",
                      "name": [f"合成社区{i + 1}" for i in range(n)],
                      "households": rng.integers(600, 6500, n)},
                     geometry=pieces, crs="EPSG:4548").to_file(tmp_path / "sq.gpkg", engine="pyogrio")
    gm("import", "streets", str(tmp_path / "jd.gpkg"))
    gm("import", "communities", str(tmp_path / "sq.gpkg"))
    built = json.loads(gm("cells", "build", "--json"))
    s = open_store(db)
    cells, communities = s.read("cells"), s.read("communities")
    s.close()
    assert len(cells) == built["cells"] > 3500 and built["communities"] == n
    covered = shapely.union_all(communities.geometry.values).area
    assert abs(cells.area.sum() - covered) < 1e-6 * covered
    assert abs(cells.area.sum() / 1e6 - area) < 0.1  # the grid covers the real district (slivers < 50,000 m² left out)
    flags = json.loads(gm("communities", "flag", "--json"))
    assert flags
    html_path = tmp_path / "dongcheng.html"
    gm("map", "-o", str(html_path), "--title", "东城区 真实边界 / 合成社区")
    html = html_path.read_text(encoding="utf-8")
    assert "东城区" in html and "default-src 'none'" in html and not re.search(r'src="https?://', html)
