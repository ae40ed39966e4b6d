"""``gridmap check``: the demo store is healthy; stores damaged here (a dropped spatial index, a duplicate code, a gap
between cells, overlapping cells, orphans) are reported problem by problem, on SpatiaLite and PostGIS, and the
check itself changes nothing."""

from __future__ import annotations

import json
import sqlite3

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from gridmap.cli import main
from gridmap.store import open_store
from gridmap.store.health import CHECKS, check_store

from tests.store.test_paths import fingerprint


def _strict_json(raw: str) -> dict:
    def no_constant(name: str):
        raise AssertionError(f"not strict JSON: {name}")

    return json.loads(raw, parse_constant=no_constant)


def _check(capsys, url: str, *extra: str) -> tuple[int, dict]:
    capsys.readouterr()
    rc = main(["--db", url, "check", "--json", *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return rc, _strict_json(out)


def test_the_demo_store_is_healthy(demo, capsys):
    db, _, _ = demo
    before = fingerprint(str(db))
    rc, report = _check(capsys, str(db))
    assert rc == 0 and report["healthy"] and report["findings"] == []
    assert [c["check"] for c in report["checks"]] == list(CHECKS) and all(c["ok"] for c in report["checks"])
    con = sqlite3.connect(db)  # counts read without gridmap
    assert report["counts"]["cells"] == con.execute("SELECT count(*) FROM cells").fetchone()[0] > 0
    con.close()
    capsys.readouterr()
    assert main(["--db", str(db), "check"]) == 0
    out = capsys.readouterr().out
    assert "存储完好 / the store is healthy" in out and "✗" not in out
    assert fingerprint(str(db)) == before


def _sql(url: str, *statements: str) -> None:
    s = open_store(url, mode="write")
    with s.transaction() as conn:
        for sql in statements:
            conn.exec_driver_sql(sql)
    s.close()


def _drop_spatial_index(url: str, layer: str) -> None:
    if url.startswith("postgresql"):
        _sql(url, f'DROP INDEX "idx_{layer}_geom"')
    else:
        _sql(url, f"SELECT DisableSpatialIndex('{layer}', 'geom')", f'DROP TABLE "idx_{layer}_geom"')


def _findings(report: dict, check: str) -> list[dict]:
    return [f for f in report["findings"] if f["check"] == check]


def test_the_small_store_is_healthy(small, capsys):
    rc, report = _check(capsys, small)
    assert rc == 0 and report["healthy"], report["findings"]


def test_a_dropped_spatial_index_is_named(small, capsys):
    _drop_spatial_index(small, "cells")
    before = fingerprint(small)
    rc, report = _check(capsys, small)
    assert rc == 1 and not report["healthy"]
    found = _findings(report, "spatial_index")
    assert [f["layer"] for f in found] == ["cells"] and "spatial index" in found[0]["problem_en"]
    assert [f["check"] for f in report["findings"]] == ["spatial_index"]
    assert fingerprint(small) == before  # the check changes nothing


def test_a_duplicate_code_is_named(small, capsys):
    _sql(small, "DROP INDEX ix_streets_code",
         "INSERT INTO streets (code, district_code, name, geom) SELECT code, district_code, name, geom FROM streets")
    rc, report = _check(capsys, small)
    assert rc == 1
    found = _findings(report, "unique_codes")
    assert len(found) == 1 and found[0]["layer"] == "streets" and found[0]["examples"] == ["110199001 ×2"]


def test_a_gap_between_cells_is_named(small, capsys):
    s = open_store(small, mode="read")
    cells = s.read("cells")
    s.close()
    victim = cells.sort_values("code").iloc[0]
    _sql(small, f"DELETE FROM cells WHERE code = '{victim['code']}'")
    rc, report = _check(capsys, small)
    assert rc == 1
    found = _findings(report, "tiling")
    assert len(found) == 1 and found[0]["count"] == 1
    community, area = found[0]["examples"][0].split(": ")
    assert community == victim["community_code"]
    assert float(area.removesuffix(" m²").replace(",", "")) == pytest.approx(victim.geometry.area, abs=0.1)
    assert "gaps" in found[0]["problem_en"] and "缺口" in found[0]["problem_zh"]


def test_overlapping_cells_are_named(small, capsys):
    s = open_store(small, mode="read")
    first = s.read("cells").sort_values("code").iloc[0]
    s.close()
    _sql(small, "INSERT INTO cells (code, community_code, ix, iy, area_m2, geom) SELECT '110199001001999', "
                f"community_code, ix, iy, area_m2, geom FROM cells WHERE code = '{first['code']}'")
    rc, report = _check(capsys, small)
    assert rc == 1
    found = _findings(report, "tiling")
    assert len(found) == 1 and "overlap" in found[0]["problem_en"]
    assert found[0]["examples"][0].startswith(f"{first['code']} × 110199001001999")


def test_orphans_are_named(small, capsys):
    s = open_store(small, mode="write")
    cell = s.read("cells").sort_values("code").iloc[0]
    s.write("complaints", gpd.GeoDataFrame(
        {"source_id": ["x1"], "received_at": ["2025-06-01 08:00:00"], "cell_code": ["110199001001777"]},
        geometry=[cell.geometry.centroid], crs=4548))
    s.close()
    _sql(small, "UPDATE communities SET street_code = '110199099' WHERE code = '110199001002'")
    rc, report = _check(capsys, small)
    assert rc == 1
    found = {f["layer"]: f for f in _findings(report, "orphans")}
    assert set(found) == {"complaints", "communities"}
    assert found["complaints"]["examples"] == ["x1 → 110199001001777"]
    assert found["communities"]["examples"] == ["110199001002 → 110199099"]
    assert [f["check"] for f in report["findings"]] == ["orphans", "orphans"]


def test_several_problems_each_named_in_plain_words(small, capsys):
    _drop_spatial_index(small, "streets")
    _sql(small, "UPDATE cells SET community_code = '110199001009' WHERE code = "
                "(SELECT min(code) FROM cells WHERE community_code = '110199001001')")
    capsys.readouterr()
    assert main(["--db", small, "check"]) == 1
    out = capsys.readouterr().out
    assert "✗ 空间索引 / spatial indexes: 1 个问题 problem(s)" in out and "[streets]" in out
    assert "cells whose community is not stored" in out and "→ 110199001009" in out
    assert "gaps" in out and "110199001001" in out
    assert "✓ 编码唯一 / unique codes: 正常 ok" in out
    report = check_store(open_store(small, mode="read"))
    assert {f.check for f in report.findings} == {"spatial_index", "orphans", "tiling"}


def test_postgis_store_made_after_a_spatialite_store_has_its_spatial_indexes(tmp_path, postgis_url):
    """Found by ``gridmap check``: the cached table definitions, once created in SpatiaLite, gave a later PostGIS
    store of the same process no GiST index."""
    open_store(tmp_path / "first.sqlite").close()
    s = open_store(postgis_url)
    with s.engine.connect() as conn:
        gist = {r[0] for r in conn.execute(text("SELECT tablename FROM pg_indexes WHERE schemaname = "
                                                "current_schema() AND indexdef ILIKE '%USING gist%'"))}
    s.close()
    from gridmap.store.schema import LAYERS

    assert gist == set(LAYERS)
    assert check_store(open_store(postgis_url, mode="read")).healthy
