"""``gridmap events``: import, info, counts, rates and emerging through the CLI contract (exit codes, strict
JSON)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from gridmap.events.analysis import stream_counts
from gridmap.events.dataset import EventDataset
from gridmap.events.rates import stream_rates


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gridmap", *argv], capture_output=True, text=True, timeout=600)


def test_events_cli_round_trip(demo_store, tmp_path):
    db, csv = demo_store
    ev = tmp_path / "cli.events"
    missing = _run("--db", str(db), "events", "info", "--events", str(ev))
    assert missing.returncode == 1 and "no events store here" in missing.stderr and "Traceback" not in missing.stderr
    r = _run("--db", str(db), "events", "import", str(csv), "--events", str(ev), "--batch-rows", "10000", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["written"] == summary["read"] > 20_000 and summary["batches"] == 4
    again = json.loads(_run("--db", str(db), "events", "import", str(csv), "--events", str(ev), "--json").stdout)
    assert again["written"] == 0 and again["already_stored"] == summary["written"]
    info = json.loads(_run("--db", str(db), "events", "info", "--events", str(ev), "--json").stdout)
    assert info["rows"] == summary["written"] and len(info["months"]) == 12
    r = _run("--db", str(db), "events", "counts", "--events", str(ev), "--by", "community", "--period", "month",
             "--json")
    assert r.returncode == 0, r.stderr
    got = pd.DataFrame(json.loads(r.stdout)["counts"])
    want = stream_counts(EventDataset(ev).files(), by="community", period="month").reset_index()
    assert got["count"].sum() == want["count"].sum() == summary["written"]
    assert len(got) == len(want)
    r = _run("--db", str(db), "events", "emerging", "--events", str(ev), "--from", "2025-01-06", "--to", "2025-12-29",
             "--csv", str(tmp_path / "patterns.csv"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["slices"] == 51 and len(out["cells"]) > 0
    assert len(pd.read_csv(tmp_path / "patterns.csv", encoding="utf-8-sig")) > 900
    bad = _run("--db", str(db), "events", "counts", "--events", str(ev), "--dask", "localhost")
    assert bad.returncode == 2 and "scheduler address" in bad.stderr
    assert _run("--db", str(db), "events", "import", "--help").stdout.count("gridmap events import") >= 2


def test_events_rates_cli(demo_events, tmp_path):
    db, ev = (str(p) for p in demo_events[:2])
    want = stream_rates(EventDataset(ev).files(), by="community", first="2025-02", last="2025-04")
    r = _run("--db", db, "events", "rates", "--events", ev, "--by", "community", "--first", "2025-02", "--last",
             "2025-04", "-o", str(tmp_path / "rates.csv"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"{c} in strict JSON"))
    assert out["level"] == "community" and out["weights"] == {"response": 0.1, "resolution": 0.45, "satisfaction": 0.45}
    got = pd.DataFrame(out["rates"]).rename(columns={"community_code": "unit"})
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    csv = pd.read_csv(tmp_path / "rates.csv", encoding="utf-8-sig", dtype={"community_code": str})
    pd.testing.assert_frame_equal(csv.rename(columns={"community_code": "unit"}), want, check_dtype=False)
    # a missing rate is null in the JSON file (never NaN); the weights and limits are those given
    r = _run("--db", db, "events", "rates", "--events", ev, "--period", "all", "--weights", "0.2,0.4,0.4",
             "--response-limit-h", "1", "-o", str(tmp_path / "all.json"), "-q")
    assert r.returncode == 0, r.stderr
    saved = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"),
                       parse_constant=lambda c: pytest.fail(f"{c} in strict JSON"))
    assert saved["period"] == "all" and saved["response_limit_h"] == 1.0 and len(saved["rates"]) == 3
    assert all(set(row) >= {"street_code", "score", "satisfaction_n"} for row in saved["rates"])
    # exit codes: 1 nothing in the window, 2 usage errors
    empty = _run("--db", db, "events", "rates", "--events", ev, "--first", "2030-01", "--json")
    assert empty.returncode == 1 and json.loads(empty.stdout)["rates"] == []
    for argv, needle in ((["--first", "June"], "not a month"), (["--first", "2025-06", "--last", "2025-01"], "before"),
                         (["-o", str(tmp_path / "rates.txt")], "unknown output format"),
                         (["--weights", "1,1"], "three numbers"), (["--by", "department"], "invalid choice")):
        bad = _run("--db", db, "events", "rates", "--events", ev, *argv)
        assert bad.returncode == 2 and needle in bad.stderr and "Traceback" not in bad.stderr, (argv, bad.stderr)
    assert "gridmap events rates --by street" in _run("events", "rates", "--help").stdout
def test_events_density_and_warn_cli(demo_events, tmp_path):
    """`events density` and `events warn`: the API's numbers, strict JSON, files, exit codes 0/1/2, --help."""
    import geopandas as gpd

    from gridmap.events.density import stream_density
    from gridmap.store import open_store
    from gridmap.warning import density_by

    db, ev = demo_events[:2]
    r = _run("--db", str(db), "events", "density", "--events", str(ev), "--by", "community", "--bandwidth", "250",
             "--csv", str(tmp_path / "d.csv"), "--geojson", str(tmp_path / "d.geojson"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    with open_store(db, mode="read") as store:
        cells = store.read("cells")
    want = density_by(stream_density(EventDataset(ev).files(), cells, bandwidth_m=250.0, scale="per_km2").density,
                      cells, by="community", scale="per_km2")
    got = pd.DataFrame(out["units"]).set_index("community_code").sort_index()
    assert out["events"] == EventDataset(ev).count() and len(got) == len(want)
    pd.testing.assert_series_equal(got["per_km2"], want["per_km2"], check_names=False, check_index_type=False)
    assert len(pd.read_csv(tmp_path / "d.csv", encoding="utf-8-sig")) == len(want)
    shapes = gpd.read_file(tmp_path / "d.geojson")
    assert len(shapes) == len(want) and shapes.crs.to_epsg() == 4326 and shapes.geometry.notna().all()
    # a selection with no events: exit 1; a bad option: exit 2
    none = _run("--db", str(db), "events", "density", "--events", str(ev), "--keywords", "外星人")
    assert none.returncode == 1 and "Traceback" not in none.stderr
    bad = _run("--db", str(db), "events", "density", "--events", str(ev), "--bandwidth", "-5")
    assert bad.returncode == 2 and "--bandwidth" in bad.stderr
    r = _run("--db", str(db), "events", "warn", "--events", str(ev), "--from", "2025-06-01", "--to", "2025-07-28",
             "--keywords", "房屋漏雨", "--scan-alpha", "0.05", "--md", str(tmp_path / "w.md"), "--geojson",
             str(tmp_path / "w.geojson"), "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    kinds = {a["kind"] for a in rep["alerts"]}
    assert {"space-time cluster", "keyword watch"} <= kinds and rep["recheck"] and rep["keywords"]
    assert "关键词监测" in (tmp_path / "w.md").read_text(encoding="utf-8")
    assert len(gpd.read_file(tmp_path / "w.geojson")) == len(rep["alerts"])
    bad = _run("--db", str(db), "events", "warn", "--events", str(ev), "--from", "2025-06-01", "--to", "2025-07-28",
               "--scan-alpha", "2")
    assert bad.returncode == 2 and "--scan-alpha" in bad.stderr
    # an empty window is said in the notes (as `gridmap warn` does); no events folder there: exit 1
    empty = _run("--db", str(db), "events", "warn", "--events", str(ev), "--from", "2025-06-01", "--to", "2025-06-01",
                 "--json")
    assert empty.returncode == 0 and any("scan skipped" in n for n in json.loads(empty.stdout)["notes"])
    missing = _run("--db", str(db), "events", "warn", "--events", str(tmp_path / "none"), "--from", "2025-06-01",
                   "--to", "2025-07-28")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    for action in ("density", "warn"):
        assert _run("--db", str(db), "events", action, "--help").stdout.count(f"gridmap events {action}") >= 2
