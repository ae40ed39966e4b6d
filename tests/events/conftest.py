"""Fixtures of the events tests: a small demo store (scale 0.1: about 30,000 complaints on 950 cells), built once
through the CLI like a user would, and its complaints imported into an events folder in several batches."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Source rows per batch in these tests (the demo's ~30,000 complaints make 5 batches).
BATCH_ROWS = 7_000


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory):
    """(store path, complaints CSV) of a demo built at scale 0.1 (complaints also imported into the store)."""
    d = tmp_path_factory.mktemp("events-demo")
    db, out = d / "demo.sqlite", d / "out"
    r = subprocess.run([sys.executable, "-m", "gridmap", "--db", str(db), "demo", "--scale", "0.1", "--out", str(out),
                        "-q"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return db, out / "input" / "complaints.csv"


@pytest.fixture(scope="session")
def demo_events(demo_store, tmp_path_factory):
    """(store path, events folder, complaints CSV, import result): the demo's complaints in an events folder."""
    from gridmap.events.service import import_events_file
    from gridmap.store import open_store

    db, csv = demo_store
    ev = tmp_path_factory.mktemp("events") / "demo.events"
    with open_store(db, mode="read") as store:
        res = import_events_file(store, csv, events=ev, batch_rows=BATCH_ROWS)
    return db, ev, csv, res
