"""CLI: communities flag, split propose/accept/undo, outputs (GeoPackage, GeoJSON, Markdown)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyogrio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.split_cases import make_case  # noqa: E402
from tests.planning.test_accept import _load  # noqa: E402

from gridmap.cli import main  # noqa: E402
from gridmap.store import open_store  # noqa: E402


def test_flag_propose_accept_undo(tmp_path, capsys):
    db = str(tmp_path / "t.sqlite")
    code = _load(open_store(db), make_case(0))
    assert main(["communities", "flag", "--db", db, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["by_street"][-1]["oversized"] == 1 and out["oversized"][0]["code"] == code
    assert main(["split", "propose", code, "--db", db, "--barrier-kinds", "river,rail", "--out",
                 str(tmp_path / "p")]) == 0
    text = capsys.readouterr().out
    assert "Rank 1" in text and "第 1/3 名" in text
    info = pyogrio.read_info(tmp_path / "p" / f"{code}.gpkg")
    assert info["features"] > 3
    assert (tmp_path / "p" / f"{code}.geojson").exists()
    assert "方案 1 / proposal 1" in (tmp_path / "p" / f"{code}.md").read_text(encoding="utf-8")
    j = str(tmp_path / "j")
    assert main(["split", "accept", code, "--db", db, "--barrier-kinds", "river,rail", "--journal", j]) == 0
    assert "新社区" in capsys.readouterr().out
    assert main(["communities", "flag", "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["by_street"][-1]["oversized"] == 0
    assert main(["split", "undo", code, "--db", db, "--journal", j]) == 0
    c = open_store(db).read("communities")
    assert c.set_index("code").loc[code, "active"] and len(c) == 2
    assert main(["split", "undo", code, "--db", db, "--journal", j]) == 1  # nothing left to undo


# -- bad input through the CLI: a clear error (exit 2, what/where/fix) or a stated infeasibility ------------

X0, Y0 = 450_000.0, 4_420_000.0
CODE = "110101001001"


def _bad_store(tmp_path, households, *, community_geom=None, boxes=None, community_households=None):
    import geopandas as gpd
    import shapely

    db = str(tmp_path / "bad.sqlite")
    s = open_store(db, crs="EPSG:4548")
    boxes = boxes or [shapely.box(X0 + i * 100, Y0, X0 + (i + 1) * 100, Y0 + 100) for i in range(len(households))]
    geom = community_geom or shapely.union_all(boxes)
    known = [h for h in households if h is not None]
    s.write("communities", gpd.GeoDataFrame(
        {"code": [CODE], "street_code": ["110101001"], "name": ["测试社区"],
         "households": [community_households if community_households is not None else sum(known)]},
        geometry=[geom], crs="EPSG:4548"))
    s.write("compounds", gpd.GeoDataFrame(
        {"code": [f"{CODE}{i + 1:04d}" for i in range(len(households))], "community_code": CODE,
         "name": [f"小区{'甲乙丙丁戊'[i]}" for i in range(len(households))], "households": households},
        geometry=boxes, crs="EPSG:4548"))
    s.close()
    return db


def test_cli_missing_and_negative_households_are_clear_errors(tmp_path, capsys):
    db = _bad_store(tmp_path, [1500, -5, None, 1600])
    assert main(["split", "propose", CODE, "--db", db]) == 1
    err = capsys.readouterr().err
    assert f"row {CODE}0002, field 'households': negative (got -5)" in err
    assert f"row {CODE}0003, field 'households': missing or not a number" in err
    assert f"bad compounds for the split of community {CODE}" in err
    assert "Fix: give every compound" in err and "Traceback" not in err


def test_cli_negative_or_missing_community_households_in_flags(tmp_path, capsys):
    db = _bad_store(tmp_path, [1500, 1600], community_households=-3)
    assert main(["communities", "flag", "--db", db]) == 1
    err = capsys.readouterr().err
    assert f"row {CODE}, field 'households': negative" in err and "Fix:" in err


def test_cli_compound_over_the_ceiling_is_a_stated_infeasibility(tmp_path, capsys):
    db = _bad_store(tmp_path, [3400, 1200, 900])
    assert main(["split", "propose", CODE, "--db", db]) == 1
    err = capsys.readouterr().err
    assert "no valid split exists" in err
    assert "小区甲 单独就有 3,400 户" in err and "小区甲 alone holds 3,400 households" in err
    assert "Could be relaxed" in err and "raise the ceiling to 3,400" in err


def test_cli_disconnected_community_polygons(tmp_path, capsys):
    import shapely

    boxes = [shapely.box(X0, Y0, X0 + 100, Y0 + 100), shapely.box(X0 + 500, Y0, X0 + 600, Y0 + 100)]
    db = _bad_store(tmp_path, [2500, 400], boxes=boxes, community_geom=shapely.MultiPolygon(boxes))
    assert main(["split", "propose", CODE, "--db", db]) == 1
    err = capsys.readouterr().err
    assert "is a separate piece of the community and holds only 400 households" in err
    assert "是与其余部分不相连的独立地块" in err
    assert "Could be relaxed" in err and "give the east piece to the neighbouring community" in err


def test_cli_floor_above_ceiling(tmp_path, capsys):
    db = _bad_store(tmp_path, [1500, 1600, 1700])
    assert main(["split", "propose", CODE, "--db", db, "--floor", "3000", "--ceiling", "1000"]) == 2
    err = capsys.readouterr().err
    assert "the floor must not be above the ceiling (got (3000, 1000))" in err and "Fix:" in err
    assert main(["communities", "flag", "--db", db, "--floor", "4000"]) == 2
    assert "the floor must not be above the ceiling" in capsys.readouterr().err
    # the same store with sane thresholds works: the errors above came from the thresholds alone
    assert main(["split", "propose", CODE, "--db", db]) == 0


def test_undo_after_cells_changed_needs_discard_cell_changes(tmp_path, capsys):
    db = str(tmp_path / "t.sqlite")
    code = _load(open_store(db), make_case(0))
    j = str(tmp_path / "j")
    assert main(["split", "accept", code, "--db", db, "--barrier-kinds", "river,rail", "--journal", j]) == 0
    s = open_store(db)
    comm = s.read("communities")
    new = comm[comm["parent_code"] == code]["code"].tolist()
    assert len(new) >= 2
    victim = s.read("cells", where={"community_code": new[0]})["code"].iloc[0]
    s.delete("cells", where={"code": victim})
    s.close()
    capsys.readouterr()
    assert main(["split", "undo", code, "--db", db, "--journal", j]) == 1  # refused: cells changed since
    assert victim in capsys.readouterr().err
    assert main(["split", "undo", code, "--db", db, "--journal", j, "--discard-cell-changes"]) == 0
    s = open_store(db)
    assert s.read("communities").set_index("code").loc[code, "active"]
    assert not set(s.read("cells")["community_code"]) & set(new)
    assert code in set(s.read("cells")["community_code"])
    s.close()


def test_propose_json_carries_the_search_record(tmp_path, capsys):
    """--json shows how the search ran (seed, work budget and use, the safety net); the same seed, the same run."""
    db = str(tmp_path / "t.sqlite")
    code = _load(open_store(db), make_case(0))
    runs = []
    for _ in range(2):
        assert main(["split", "propose", code, "--db", db, "--barrier-kinds", "river,rail", "--seed", "3",
                     "--json"]) == 0
        runs.append(json.loads(capsys.readouterr().out))
    search = runs[0][0]["search"]
    assert search["seed"] == 3 and search["time_limit_hit"] is False
    assert 0 < search["work_used"] <= search["work_budget"]
    assert [r["search"] for r in runs[0]] == [r["search"] for r in runs[1]]
    assert [r["metrics"] for r in runs[0]] == [r["metrics"] for r in runs[1]]
