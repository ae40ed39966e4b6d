"""CLI: communities flag, split propose/accept/undo, outputs (GeoPackage, GeoJSON, Markdown)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyogrio

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.split_cases import make_case  # noqa: E402
from test_planning_accept import _load  # noqa: E402

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
    assert main(["split", "undo", code, "--db", db, "--journal", j]) == 2  # nothing left to undo
