"""Every ``--json`` output is strict JSON (RFC 8259): parsed with a parser that refuses NaN/Infinity, with no
"NaT"/"nan"/"np.float64(...)" text standing in for a missing or numpy value.

Each command that prints data runs through the real console entry point on a small demo store (built once by
``gridmap demo --scale 0.05``; ``gridmap demo --json`` is checked on its own smaller run)."""

from __future__ import annotations

import json
from pathlib import Path
import math
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

BAD_TEXT = ("NaT", "nan", "NaN", "inf", "-inf", "Infinity", "<NA>", "None")


def _refuse(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def strict_json(text: str):
    """``json.loads`` that fails on NaN/Infinity, and on text values that are the str() of a missing or numpy
    value (what ``json.dumps(default=str)`` writes)."""
    obj = json.loads(text, parse_constant=_refuse)

    def walk(v, path="$"):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{path}.{k}")
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{path}[{i}]")
        elif isinstance(v, str):
            assert v not in BAD_TEXT and not v.startswith(("np.", "numpy.")), (path, v)
        elif isinstance(v, float):
            assert math.isfinite(v), (path, v)

    walk(obj)
    return obj


def gridmap(*argv, db=None):
    pre = ["--db", str(db)] if db else []
    return subprocess.run([sys.executable, "-m", "gridmap", *pre, *argv], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture
def scratch(demo, tmp_path):
    """A copy of the demo store that a test may write to."""
    db = tmp_path / "scratch.sqlite"
    shutil.copy(demo[0], db)
    return db


def _one(db, sql):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchone()
    finally:
        con.close()


# -- the helper itself -------------------------------------------------------------------------------------


def test_print_json_turns_missing_and_numpy_values_into_plain_json(capsys):
    from gridmap.cli._common import print_json

    print_json({"nan": float("nan"), "inf": np.inf, "ninf": -np.inf, "nat": pd.NaT, "na": pd.NA, "none": None,
                "i64": np.int64(7), "f32": np.float32(0.5), "b": np.bool_(True), "ts": pd.Timestamp("2025-06-01 08:00"),
                "arr": np.array([1.0, np.nan]), "frame": pd.DataFrame({"a": [1.5, np.nan], "t": [pd.NaT, "2025-01-02"]}),
                "series": pd.Series([np.nan, 2.0]), "text": "漏雨"})
    got = strict_json(capsys.readouterr().out)
    assert got == {"nan": None, "inf": None, "ninf": None, "nat": None, "na": None, "none": None, "i64": 7,
                   "f32": 0.5, "b": True, "ts": "2025-06-01T08:00:00", "arr": [1.0, None],
                   "frame": [{"a": 1.5, "t": None}, {"a": None, "t": "2025-01-02"}], "series": [None, 2.0],
                   "text": "漏雨"}


# -- every command with --json -----------------------------------------------------------------------------


def test_demo_json_summary(tmp_path):
    db, out = tmp_path / "d.sqlite", tmp_path / "out"
    r = gridmap("demo", "--scale", "0.02", "--out", str(out), "--json", db=db)
    assert r.returncode == 0, r.stderr[-3000:]
    got = strict_json(r.stdout)
    assert got["files"]["report"] == str(out / "report.md")
    assert got["imports"]["communities"]["written"] == _one(db, "SELECT count(*) FROM communities")[0]


def test_info_json(demo):
    r = gridmap("info", "--json", db=demo[0])
    assert r.returncode == 0, r.stderr
    got = strict_json(r.stdout)
    assert got["layers"]["cells"] == _one(demo[0], "SELECT count(*) FROM cells")[0]


def test_locate_json_has_null_for_missing_dates(demo):
    db = demo[0]
    code, = _one(db, "SELECT code FROM components WHERE change_date IS NULL ORDER BY code LIMIT 1")
    r = gridmap("locate", code, "--json", db=db)
    assert r.returncode == 0, r.stderr
    got = strict_json(r.stdout)
    assert got["code"] == code and got["change_date"] is None  # was the text "NaT"


def test_nearest_json(demo):
    db = demo[0]
    loc = strict_json(gridmap("locate", _one(db, "SELECT code FROM components ORDER BY code LIMIT 1")[0], "--json",
                              db=db).stdout)
    r = gridmap("nearest", "--lon", str(loc["wgs84"]["lon"]), "--lat", str(loc["wgs84"]["lat"]), "-k", "4", "--json",
                db=db)
    assert r.returncode == 0, r.stderr
    got = strict_json(r.stdout)
    assert len(got) == 4 and got[0]["code"] == loc["code"] and got[0]["distance_m"] < 0.01


def test_components_json(demo):
    db = demo[0]
    r = gridmap("components", "--class", "0101", "--limit", "30", "--json", db=db)
    assert r.returncode == 0, r.stderr
    got = strict_json(r.stdout)
    assert len(got) == 30 and all(g["class_code"] == "0101" for g in got)
    r = gridmap("components", "--classes", "--json", db=db)
    assert r.returncode == 0, r.stderr
    assert any(c.get("class_code") == "0101" or "0101" in json.dumps(c) for c in strict_json(r.stdout))


def test_communities_flag_and_streets_json(demo):
    db = demo[0]
    r = gridmap("communities", "flag", "--json", db=db)
    assert r.returncode == 0, r.stderr
    got = strict_json(r.stdout)
    n_over, = _one(db, "SELECT count(*) FROM communities WHERE households > 3000 AND active")
    assert len(got["oversized"]) == n_over > 0
    r = gridmap("communities", "streets", "--json", db=db)
    assert r.returncode == 0, r.stderr
    assert {s["code"] for s in strict_json(r.stdout)} == {c for c, in sqlite3.connect(db).execute(
        "SELECT code FROM streets")}


def test_split_propose_json(demo):
    db = demo[0]
    over = [c for c, in sqlite3.connect(db).execute(
        "SELECT code FROM communities WHERE households > 3000 ORDER BY households")]
    for code in over:  # the first one that a split exists for (some are infeasible by design)
        r = gridmap("split", "propose", code, "--json", db=db)
        if r.returncode == 0:
            break
    assert r.returncode == 0, r.stderr
    got = strict_json(r.stdout)
    assert got and got[0]["rank"] == 1
    assert all(1000 <= part["households"] <= 3000 for part in got[0]["parts"])


def test_warn_json(demo):
    r = gridmap("warn", "--from", "2025-06-01", "--to", "2025-06-15", "--keywords", "漏雨", "--json", db=demo[0])
    assert r.returncode == 0, r.stderr
    got = strict_json(r.stdout)
    assert got["from"] == "2025-06-01" and got["alerts"]  # the demo plants anomalies in June


def test_cells_build_json(scratch):
    r = gridmap("cells", "build", "--replace", "--dry-run", "--json", db=scratch)
    assert r.returncode == 0, r.stderr
    got = strict_json(r.stdout)
    assert got["dry_run"] is True and got["cells"] == _one(scratch, "SELECT count(*) FROM cells")[0]


def test_import_summaries_json(scratch, tmp_path):
    """``import`` (a layer file), ``import complaints``, ``complaints import`` and ``import-components``."""
    import geopandas as gpd
    import shapely

    comm = gpd.GeoDataFrame({"code": ["110199001099", "11019900109X"], "street_code": "110199001",
                             "households": [1200, 900], "name": ["新社区", "坏编码"]},
                            geometry=[shapely.box(470000, 4430000, 470500, 4430500),
                                      shapely.box(470600, 4430000, 470900, 4430500)], crs="EPSG:4548")
    src = tmp_path / "c.gpkg"
    comm.to_file(src, engine="pyogrio")
    r = gridmap("import", "communities", str(src), "--dry-run", "--json", db=scratch)
    got = strict_json(r.stdout)
    # done, with the rejected row reported: exit 0 (README "Exit codes"; exit 1 only when nothing could be done)
    assert r.returncode == 0 and got["rejected"] == 1 and got["would_write"] == 1, r.stderr
    assert list(got["rejected_by_reason"].values()) == [1]

    loc = strict_json(gridmap("locate", _one(scratch, "SELECT code FROM components ORDER BY code LIMIT 1")[0],
                              "--json", db=scratch).stdout)
    lon, lat = loc["wgs84"]["lon"], loc["wgs84"]["lat"]
    calls = tmp_path / "calls.csv"
    pd.DataFrame({"source_id": ["j1", "j2", "j3"], "received_at": ["2025-07-01 08:00", "2025-07-01 09:00", "bad"],
                  "category": ["房屋漏雨", "供暖", "房屋漏雨"], "text": ["屋顶漏雨", "暖气不热", "x"],
                  "lon": [lon, lon + 0.0001, lon], "lat": [lat, lat, lat]}).to_csv(calls, index=False)
    for argv in (["import", "complaints", str(calls), "--dry-run", "--json"],
                 ["complaints", "import", str(calls), "--json"]):
        r = gridmap(*argv, db=scratch)
        got = strict_json(r.stdout)
        assert r.returncode == 0, r.stderr  # one bad timestamp: reported, the other rows done
        assert got["accepted"] == 2 and got["rejected"] == 1, got
        assert got["rejections"][0]["field"] == "received_at"

    comps = tmp_path / "covers.csv"
    pd.DataFrame({"class_code": ["0101", "9999"], "lon": [lon + 0.0002, lon], "lat": [lat, lat]}).to_csv(comps,
                                                                                                     index=False)
    r = gridmap("import-components", str(comps), "--dry-run", "--json", db=scratch)
    got = strict_json(r.stdout)
    assert r.returncode == 0 and got["rejected"] == 1 and got["would_write"] == 1, r.stdout + r.stderr


def test_export_json(scratch, tmp_path):
    out = tmp_path / "c.geojson"
    r = gridmap("export", str(out), "--layers", "communities", "--json", db=scratch)
    assert r.returncode == 0, r.stderr
    got = strict_json(r.stdout)
    assert got == {**got, "path": str(out), "format": "GeoJSON", "driver": "GeoJSON", "crs": "EPSG:4326",
                   "layers": {"communities": _one(scratch, "SELECT count(*) FROM communities")[0]}}


def test_check_json(demo):
    r = gridmap("check", "--json", db=demo[0])
    assert r.returncode == 0, r.stderr
    got = strict_json(r.stdout)
    assert isinstance(got, dict) and got


def test_emerging_json(demo, tmp_path):
    out = tmp_path / "e.gpkg"
    r = gridmap("emerging", "--from", "2024-12-02", "--to", "2025-12-29", "--out", str(out), "--json", db=demo[0])
    assert r.returncode == 0, r.stderr
    got = strict_json(r.stdout)
    assert len(got["categories"]) == 17 and sum(got["categories"].values()) == got["locations"]
    assert got["dropped_slices"] and got["dropped_slices"][0] == "2024-12-02"  # before the data begin
    assert got["out"] == str(out) and got["cube"] is None
    assert all(p["pattern"] != "no pattern" for p in got["patterns"])


def test_warn_json_over_the_whole_year_has_no_nan_and_no_false_baseline(demo):
    """Issue 13 bugs 1-3 on the command line: the year-long window of the issue. Its alert table mixes kinds
    (columns one kind lacks are null, never NaN); no count-jump baseline can come from inside the window, so
    with no data before it that step is a note, and the other steps still run."""
    r = gridmap("warn", "--from", "2025-01-06", "--to", "2026-01-05", "--json", db=demo[0])
    assert r.returncode == 0, r.stderr
    got = strict_json(r.stdout)
    assert not [a for a in got["alerts"] if a["kind"] == "count jump"]
    assert any(n.startswith("count jumps per cell skipped") for n in got["notes"]), got["notes"]
    kinds = {a["kind"] for a in got["alerts"]}
    assert kinds and "count jump" not in kinds
    # a weekly report a week after the data start (the data start at some time of 2025-01-01) runs whole
    r = gridmap("warn", "--from", "2025-01-08", "--to", "2025-01-15", "--no-scan", "--json", db=demo[0])
    assert r.returncode == 0, r.stderr
    assert not any("skipped" in n for n in strict_json(r.stdout)["notes"] if n.startswith("count jumps"))


def test_warn_json_keyword_family_match_counts(demo):
    r = gridmap("warn", "--from", "2025-06-01", "--to", "2025-07-01", "--keywords", "房屋漏雨", "--no-scan", "--json",
                db=demo[0])
    assert r.returncode == 0, r.stderr
    terms = {k["term"]: k["matches"] for k in strict_json(r.stdout)["keywords"]}
    assert terms["房屋漏雨"] == 0 and terms["漏雨"] > 0 and terms["渗水"] > 0


#: every command with --json -> the test(s) of this module that parse its output strictly
COVERED = {
    "demo": "test_demo_json_summary", "info": "test_info_json", "locate": "test_locate_json_has_null_for_missing_dates",
    "nearest": "test_nearest_json", "components": "test_components_json",
    "communities flag": "test_communities_flag_and_streets_json",
    "communities streets": "test_communities_flag_and_streets_json", "split propose": "test_split_propose_json",
    "warn": "test_warn_json_over_the_whole_year_has_no_nan_and_no_false_baseline",
    "cells build": "test_cells_build_json", "import": "test_import_summaries_json",
    "complaints import": "test_import_summaries_json", "import-components": "test_import_summaries_json",
    "export": "test_export_json", "check": "test_check_json", "emerging": "test_emerging_json",
    "events import": "test_events_json", "events info": "test_events_json", "events counts": "test_events_json",
    "events emerging": "test_events_json", "events rates": "test_events_json",
    "rank": "test_rank_and_monthly_report_json", "report monthly": "test_rank_and_monthly_report_json",
}
COVERED.update({"events density": "test_events_density_and_warn_json", "events warn": "test_events_density_and_warn_json"})


def test_events_json(demo, tmp_path):
    db, out = demo[0], demo[1]
    ev = tmp_path / "events"
    r = gridmap("events", "import", str(out / "input" / "complaints.csv"), "--events", str(ev), "--json", db=db)
    assert r.returncode == 0, r.stderr
    imported = strict_json(r.stdout)
    assert imported["written"] == imported["read"] > 0
    r = gridmap("events", "info", "--events", str(ev), "--json", db=db)
    assert r.returncode == 0, r.stderr
    assert strict_json(r.stdout)["rows"] == imported["written"]
    r = gridmap("events", "counts", "--events", str(ev), "--by", "street", "--period", "month", "--json", db=db)
    assert r.returncode == 0, r.stderr
    assert sum(row["count"] for row in strict_json(r.stdout)["counts"]) == imported["written"]
    r = gridmap("events", "emerging", "--events", str(ev), "--from", "2025-01-06", "--to", "2025-12-29", "--json",
                db=db)
    assert r.returncode == 0, r.stderr
    assert strict_json(r.stdout)["slices"] == 51
    r = gridmap("events", "rates", "--events", str(ev), "--by", "community", "--json", db=db)
    assert r.returncode == 0, r.stderr
    rates = strict_json(r.stdout)["rates"]
    assert sum(row["complaints"] for row in rates) <= imported["written"]
    assert all(row["score"] is None or 0 <= row["score"] <= 100 for row in rates)


def test_events_density_and_warn_json(demo, tmp_path):
    db, out = demo[0], demo[1]
    ev = tmp_path / "events"
    r = gridmap("events", "import", str(out / "input" / "complaints.csv"), "--events", str(ev), "-q", db=db)
    assert r.returncode == 0, r.stderr
    r = gridmap("events", "density", "--events", str(ev), "--by", "street", "--json", db=db)
    assert r.returncode == 0, r.stderr
    dens = strict_json(r.stdout)
    assert dens["events"] > 0 and dens["units"] and all(u["per_km2"] >= 0 for u in dens["units"])
    r = gridmap("events", "warn", "--events", str(ev), "--from", "2025-06-01", "--to", "2025-09-01", "--keywords",
                "漏雨", "--scan-alpha", "0.05", "--json", db=db)
    assert r.returncode == 0, r.stderr
    rep = strict_json(r.stdout)  # ratios of clusters with no expectation are null, never Infinity
    assert rep["from"] == "2025-06-01" and rep["keywords"] and rep["notes"]


def test_rank_and_monthly_report_json(demo, tmp_path):
    db = demo[0]
    r = gridmap("rank", "--month", "2025-06", "--level", "community", "--json", db=db)
    assert r.returncode == 0, r.stderr
    ranked = strict_json(r.stdout)
    assert ranked["level"] == "community" and ranked["units"]
    assert all(u["score"] is None or 0 <= u["score"] <= 100 for u in ranked["units"])
    r = gridmap("rank", "--month", "2025-06", "--json", db=db)
    assert r.returncode == 0, r.stderr
    street = strict_json(r.stdout)
    code = _one(db, "SELECT street_code FROM complaints WHERE street_code IS NOT NULL LIMIT 1")[0]
    r = gridmap("report", "monthly", "--month", "2025-06", "--street", code, "-o", str(tmp_path / "pack"), "--no-map",
                "--json", db=db)
    assert r.returncode == 0, r.stderr
    pack = strict_json(r.stdout)
    assert pack["street"] == code and code in {u["unit"] for u in street["units"]}
    assert pack["files"] and all(Path(f).is_file() for f in pack["files"].values())


def test_every_command_with_json_is_parsed_strictly_here():
    """Walk the real parser: a command that gains --json without a strict parse in this module fails here."""
    import argparse

    from gridmap.cli import build_parser

    def walk(p, path=()):
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sp in a.choices.items():
                    yield from walk(sp, path + (name,))
        if any("--json" in a.option_strings for a in p._actions):
            yield " ".join(path)

    commands = set(walk(build_parser()))
    assert commands == set(COVERED), (sorted(commands - set(COVERED)), sorted(set(COVERED) - commands))
    assert all(callable(globals().get(name)) for name in COVERED.values())
