"""``gridmap events``: import, info, counts and emerging through the CLI contract (exit codes, strict JSON)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd

from gridmap.events.analysis import stream_counts
from gridmap.events.dataset import EventDataset


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
