"""The CLI complaint import end to end on the demo's complaints: ``gridmap complaints import`` vs the plain code
a user would write, same run, each in a fresh process (Python start-up included, as a user sees it).

Cases (each into a fresh copy of the demo store, complaints emptied first):
  * ours: ``gridmap complaints import complaints.csv`` (parse mixed time formats, check every row, categories,
    ids, cell/community/street codes by the compiled point-to-cell index, one transaction into SpatiaLite);
  * baseline ``to_file``: ``pandas.read_csv`` + pyproj to EPSG:4548 + ``GeoDataFrame.to_file(driver="SQLite",
    spatialite=True)`` into a new table (no checks, no codes);
  * baseline Core insert: the same frame through SQLAlchemy Core ``insert()`` executemany with GeoAlchemy2
    ``WKBElement`` into the store's complaints table (no checks, no codes);
  * for reference: ``gridmap events import`` of the same file into the columnar events store (GeoParquet).
Goal: ours >= 40,000 rows/s end to end. Shared machine: the CPU seconds of each process are printed beside the
wall time (rows per CPU second is the steadier figure under load).

Usage:  python benchmarks/bench_import.py [--db DEMO.sqlite --csv complaints.csv] [--repeat 2]
        (without --db/--csv the demo is generated first, about a minute)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import machine  # noqa: E402

_READ = textwrap.dedent("""
    import sys, pandas as pd, geopandas as gpd
    from pyproj import Transformer
    raw = pd.read_csv(sys.argv[2])
    x, y = Transformer.from_crs(4326, 4548, always_xy=True).transform(raw["lon"].to_numpy(), raw["lat"].to_numpy())
    raw["received_at"] = pd.to_datetime(raw["received_at"])
    raw["closed_at"] = pd.to_datetime(raw["closed_at"])
    frame = gpd.GeoDataFrame(raw.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(x, y), crs=4548)
""")

TO_FILE = _READ + textwrap.dedent("""
    frame.to_file(sys.argv[1], layer="complaints_plain", driver="SQLite", spatialite=True)
""")

CORE = _READ + textwrap.dedent("""
    import numpy as np, shapely
    from geoalchemy2 import WKBElement
    from gridmap.store import open_store
    s = open_store(sys.argv[1])
    t = s.table("complaints")
    cols = ["source_id", "received_at", "category", "text", "address", "status", "closed_at"]
    recs = frame[cols].astype(object).where(frame[cols].notna(), None).to_dict("records")
    for r, g in zip(recs, shapely.to_wkb(frame.geometry.values)):
        for k in ("received_at", "closed_at"):
            if r[k] is not None:
                r[k] = r[k].to_pydatetime()
        r["geom"] = WKBElement(g, srid=s.srid)
    with s.engine.begin() as conn:
        conn.execute(t.insert(), recs)
    s.close()
""")


def _fresh(template: Path, tmp: Path, name: str) -> Path:
    from gridmap.store import open_store

    db = tmp / f"{name}.sqlite"
    shutil.copyfile(template, db)
    with open_store(db) as s:
        s.clear(["complaints"])
    return db


def _timed(cmd: list[str], *, pythonpath: str | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of a command that must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "SPATIALITE_LIBRARY_PATH": "mod_spatialite"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    t0 = time.perf_counter()
    # a neutral working folder: `python -m gridmap` must not find a checkout in the current folder first
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        raise RuntimeError(f"{cmd[:4]} failed: {r.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, help="a demo store (gridmap demo) to copy")
    ap.add_argument("--csv", type=Path, help="its complaints.csv (gridmap-out/input/complaints.csv)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each case; the best and the median are reported (default 2)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: the demo at scale 0.2, one run of each case")
    ap.add_argument("--before", metavar="DIR", help="also time `gridmap complaints import` of an older gridmap "
                                                    "checked out in DIR (e.g. git archive COMMIT gridmap | tar -x "
                                                    "-C DIR, plus the built kernel), same run")
    a = ap.parse_args()
    scale = ["--scale", "0.2"] if a.quick else []
    if a.quick:
        a.repeat = 1
    tmp = Path(tempfile.mkdtemp(prefix="gridmap-bench-import-"))
    py = sys.executable
    if a.db is None or a.csv is None:
        print("generating the demo ...", flush=True)
        subprocess.run([py, "-m", "gridmap", "--db", str(tmp / "demo.sqlite"), "demo", "--out", str(tmp / "out"),
                        "-q", *scale], check=True, capture_output=True)
        a.db, a.csv = tmp / "demo.sqlite", tmp / "out" / "input" / "complaints.csv"
    n = sum(1 for _ in open(a.csv, encoding="utf-8")) - 1
    cases = {
        "ours: gridmap complaints import": lambda db: [py, "-m", "gridmap", "--db", str(db), "complaints", "import",
                                                       str(a.csv), "-q"],
        "baseline: GeoDataFrame.to_file (SpatiaLite)": lambda db: [py, "-c", TO_FILE, str(db), str(a.csv)],
        "baseline: SQLAlchemy Core insert": lambda db: [py, "-c", CORE, str(db), str(a.csv)],
        "reference: gridmap events import (GeoParquet)": lambda db: [py, "-m", "gridmap", "--db", str(db), "events",
                                                                     "import", str(a.csv), "-q", "--events",
                                                                     str(db.with_suffix(".events"))],
    }
    paths: dict[str, str | None] = {name: None for name in cases}
    if a.before:
        cases = {"before: gridmap complaints import (--before)": cases["ours: gridmap complaints import"], **cases}
        paths["before: gridmap complaints import (--before)"] = a.before
    print(f"# CLI complaint import, {n:,} demo complaints — {machine()} — {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"{'case':<48} {'wall s':>7} {'rows/s':>9} {'CPU s':>7} {'rows/CPU s':>11}")
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for rep in range(a.repeat):
        for k, (name, cmd) in enumerate(cases.items()):
            db = _fresh(a.db, tmp, f"case{k}-{rep}")
            runs[name].append(_timed(cmd(db), pythonpath=paths[name]))
            db.unlink()
            shutil.rmtree(db.with_suffix(".events"), ignore_errors=True)
    best = {name: min(r) for name, r in runs.items()}
    median = {name: sorted(r)[(len(r) - 1) // 2] for name, r in runs.items()}  # (the lower middle of an even count)
    for name, (wall, cpu) in best.items():
        print(f"{name:<48} {wall:>7.1f} {n / wall:>9,.0f} {cpu:>7.1f} {n / cpu:>11,.0f}   median of "
              f"{len(runs[name])}: {median[name][0]:.1f} s = {n / median[name][0]:,.0f} rows/s")
    ours = best["ours: gridmap complaints import"]
    base = best["baseline: GeoDataFrame.to_file (SpatiaLite)"]
    print(f"ours vs to_file: {base[0] / ours[0]:.2f}x wall, {base[1] / ours[1]:.2f}x CPU (best runs)")
    mid = median["ours: gridmap complaints import"]
    print(f"goal >= 40,000 rows/s end to end: {'met' if n / ours[0] >= 40_000 else 'NOT met'} by the best run "
          f"({n / ours[0]:,.0f} rows/s wall, {n / ours[1]:,.0f} rows per CPU second), "
          f"{'met' if n / mid[0] >= 40_000 else 'NOT met'} by the median ({n / mid[0]:,.0f} rows/s)")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
