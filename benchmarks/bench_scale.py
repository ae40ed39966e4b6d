"""A whole city's 12345 history out of core: N complaints (default 100 M) over one year on 1,600 km² with
160,000 cells of 100 m, generated in seeded chunks, then, same run:

  1. import to GeoParquet with cell/community/street codes (gridmap.events: typed Parquet chunks -> partitioned
     events store); goal >= 1 M rows/s on 2 cores;
  2. the full-year weekly space-time cube streamed from the partitions, then Gi* per bin and the emerging
     hot-spot categories (gridmap.warning's pure functions on the reduced cube); goal < 3 min;
  3. peak memory of each step (forked child's peak RSS); goal < 6 GiB;
  4. baseline: dask-geopandas' own pipeline on the same source files: ``points_from_xy`` + ``sjoin(within)`` with
     the cells + ``groupby([cell, week]).size()`` (the same cube counts), then the same Gi*/emerging;
  4b. kernel density (300 m) and the early-warning space-time scan (weekly evaluations, one family per category
     and a keyword watch list) streamed from the partitions, each vs reading every row into one pandas frame and
     running gridmap.warning's in-memory code (same density / same alerts checked);
  5. with --postgis URL: M rows (--pg-n, default 10 M) imported into a PostGIS events table partitioned by
     month, the weekly cube counted in SQL (GROUP BY) vs pulling the rows into pandas and grouping there;
  6. the monthly 三率 by street (gridmap.events.rates: each partition reduced to sums through the rule of
     gridmap.performance) vs dask.dataframe reading the same files and grouping the flags a user computes with
     pandas; with --postgis, the same 三率 in SQL vs the rows pulled into pandas and grouped there.

The complaints carry handling records (seeded, own generator per chunk: the other columns are unchanged): about
4 % excluded (1 % unknown), 10 % with no response time, response delays log-normal (median 3 h; 0.8 h for the urgent
categories), 15 % without a return visit (resolved and satisfied unknown), resolution 65-90 % from west to east.

Usage:  python benchmarks/bench_scale.py [--n 100000000] [--chunk 2000000] [--dir DIR] [--skip-baseline]
                                         [--postgis URL --pg-n 10000000]
        On a shared machine run a reduced --n (e.g. 5000000) and say so; the figures scale linearly.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import machine, run_case  # noqa: E402

X0, Y0 = 440_000.0, 4_400_000.0  # south-west corner (EPSG:4548)
SIDE = 400                       # 400 x 400 cells of 100 m = 40 km x 40 km = 1,600 km²
CELL = 100.0
YEAR = pd.Timestamp("2025-01-01")
CATS = np.array(["房屋漏雨", "供暖", "噪音", "市容环境", "交通", "物业", "供水", "城市管理"])
WEEK0, WEEK_END = "2025-01-06", "2025-12-29"  # 51 whole weeks from the first Monday


def make_cells():
    """160,000 square cells; communities of 10 x 10 cells (1 km²), streets of 4 x 4 communities."""
    import geopandas as gpd
    import shapely

    iy, ix = np.divmod(np.arange(SIDE * SIDE), SIDE)
    x0, y0 = X0 + ix * CELL, Y0 + iy * CELL
    cx, cy = ix // 10, iy // 10                     # community 40 x 40
    street = (cy // 4) * 10 + cx // 4 + 1            # 100 streets
    comm = (cy % 4) * 4 + cx % 4 + 1                 # 16 per street
    seq = (iy % 10) * 10 + ix % 10 + 1               # 100 per community
    comm_code = np.char.add(np.char.add("110199", np.char.zfill(street.astype(str), 3)),
                            np.char.zfill(comm.astype(str), 3))
    code = np.char.add(comm_code, np.char.zfill(seq.astype(str), 3))
    cells = gpd.GeoDataFrame({"code": code.astype(object), "community_code": comm_code.astype(object),
                              "ix": (X0 // CELL + ix).astype(int), "iy": (Y0 // CELL + iy).astype(int),
                              "area_m2": CELL * CELL},
                             geometry=shapely.box(x0, y0, x0 + CELL, y0 + CELL), crs="EPSG:4548")
    cells.attrs["lattice"] = {"cell_size_m": CELL, "origin": (0.0, 0.0)}
    return cells


def generate(folder: Path, n: int, chunk: int, seed: int = 20251205) -> list[Path]:
    """Typed Parquet chunks of complaints: 70 % around 400 hot centres (some of them emerging), 30 % uniform."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    centres = rng.uniform([X0 + 2000, Y0 + 2000], [X0 + SIDE * CELL - 2000, Y0 + SIDE * CELL - 2000], (400, 2))
    growth = rng.uniform(-1, 2, 400)  # some centres grow over the year, some fade
    files = []
    for k, start in enumerate(range(0, n, chunk)):
        m = min(chunk, n - start)
        r = np.random.default_rng([seed, k])
        day = r.uniform(0, 365, m)
        hot = r.random(m) < 0.7
        c = r.integers(0, 400, m)
        keep = r.random(m) < (1 + growth[c] * day / 365) / 3  # thin the centres by their trend
        hot &= keep
        x = np.where(hot, centres[c, 0] + r.normal(0, 250, m), r.uniform(X0, X0 + SIDE * CELL, m))
        y = np.where(hot, centres[c, 1] + r.normal(0, 250, m), r.uniform(Y0, Y0 + SIDE * CELL, m))
        np.clip(x, X0 + 0.01, X0 + SIDE * CELL - 0.01, out=x)
        np.clip(y, Y0 + 0.01, Y0 + SIDE * CELL - 0.01, out=y)
        t = (np.datetime64(YEAR.to_datetime64(), "us") + (day * 86_400e6).astype("timedelta64[us]"))
        cat = r.integers(0, len(CATS), m)
        ids = pa.array(np.char.add("B", np.char.zfill((start + np.arange(m)).astype(str), 10)).astype(object))
        table = pa.table({"source_id": ids, "received_at": pa.array(t),
                          "category": pa.DictionaryArray.from_arrays(pa.array(cat.astype(np.int32)), pa.array(CATS)),
                          "text": pa.DictionaryArray.from_arrays(pa.array(cat.astype(np.int32)),
                                                                  pa.array([f"市民反映{c}问题" for c in CATS])),
                          "x": x, "y": y, **handling_records(np.random.default_rng([seed, k, 14]), t, cat, x)})
        f = folder / f"chunk-{k:04d}.parquet"
        pq.write_table(table, f, compression="zstd")
        files.append(f)
    return files


def ours_import(sources: list[Path], events: Path, cells_path: Path) -> dict:
    import geopandas as gpd

    from gridmap.events.dataset import EventDataset
    from gridmap.events.importer import Coder, import_events
    from gridmap.memory import bulk_allocators

    cells = gpd.read_parquet(cells_path)
    cells.attrs["lattice"] = {"cell_size_m": CELL, "origin": (0.0, 0.0)}
    t0, c0 = time.perf_counter(), time.process_time()
    coder = Coder(cells)
    ds = EventDataset(events, crs="EPSG:4548", create=True)
    # all files in one import: the writer thread commits batch k while the caller reads and checks batch k+1
    with bulk_allocators():  # as `gridmap events import` does
        written = import_events(ds, sources, coder=coder, batch_rows=2_000_000).written
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "rows": written}


def ours_analysis(events: Path, cells_path: Path) -> dict:
    import geopandas as gpd

    from gridmap.events.analysis import stream_emerging
    from gridmap.events.dataset import EventDataset

    cells = gpd.read_parquet(cells_path, columns=["code", "ix", "iy", "geometry"])
    t0, c0 = time.perf_counter(), time.process_time()
    cube, res = stream_emerging(EventDataset(events).files(), cells, start=WEEK0, end=WEEK_END)
    dt = time.perf_counter() - t0
    pats = res.cells["pattern"].value_counts()
    return {"seconds": dt, "cpu": time.process_time() - c0, "events": int(cube.counts.sum()), "hot": int(pats.filter(like="hot").sum()),
            "z_sum": float(np.nansum(res.z)), "patterns": pats.to_dict()}


def baseline_dask(sources: list[Path], cells_path: Path) -> dict:
    """dask-geopandas: points, sjoin with the cells, groupby(cell, week).size(); then the same Gi*/emerging."""
    import dask.dataframe as dd
    import dask_geopandas
    import geopandas as gpd

    from gridmap.events.analysis import cells_mask
    from gridmap.warning.emerging import SpaceTimeCube, SliceFreq, emerging_hot_spots
    from gridmap.warning.lattice_ops import localise_cells

    cells = gpd.read_parquet(cells_path, columns=["code", "ix", "iy", "geometry"])
    t0, c0 = time.perf_counter(), time.process_time()
    df = dd.read_parquet([str(s) for s in sources], columns=["received_at", "x", "y"])
    start = pd.Timestamp(WEEK0)
    df = df[(df.received_at >= start) & (df.received_at < pd.Timestamp(WEEK_END))]
    df["week"] = ((df.received_at - start).dt.days // 7).astype("int64")
    pts = dask_geopandas.from_dask_dataframe(df, geometry=dask_geopandas.points_from_xy(df, "x", "y"))
    pts = pts.set_crs("EPSG:4548")
    joined = dask_geopandas.sjoin(pts, cells[["code", "geometry"]], predicate="within")
    counts = joined.groupby(["code", "week"]).size().compute(scheduler="threads")
    lat, cix, ciy = localise_cells(cells)
    ny, nx = lat.shape
    pos = pd.Index(cells["code"]).get_indexer(counts.index.get_level_values(0))
    weeks = counts.index.get_level_values(1).to_numpy()
    cube = np.zeros((51, ny, nx))
    np.add.at(cube, (weeks, ciy[pos], cix[pos]), counts.to_numpy())
    starts = pd.date_range(start, periods=51, freq="7D")
    res = emerging_hot_spots(SpaceTimeCube(cube, starts, SliceFreq.WEEK, lat, []), mask=cells_mask(cells))
    dt = time.perf_counter() - t0
    return {"seconds": dt, "cpu": time.process_time() - c0, "events": int(cube.sum()),
            "z_sum": float(np.nansum(res.z))}


# -- kernel density and the early-warning scan: streamed vs every row in one frame --------------------------------
KDE_BANDWIDTH_M = 300.0
SCAN_FROM, SCAN_TO = "2025-07-01", "2025-08-05"   # five weekly scan evaluations (Tuesdays) in the rainy season
SCAN_WATCH = "房屋漏雨"                           # a keyword watch list (its family expanded) as one more family


def _kde_cells(cells_path: Path):
    import geopandas as gpd

    return gpd.read_parquet(cells_path, columns=["code", "ix", "iy", "geometry"])


def ours_kde(events: Path, cells_path: Path) -> dict:
    """gridmap.events.density: binned counts per partition file, summed, then gridmap.warning.kernel_density."""
    import hashlib

    from gridmap.events.dataset import EventDataset
    from gridmap.events.density import stream_density

    cells = _kde_cells(cells_path)
    t0, c0 = time.perf_counter(), time.process_time()
    res = stream_density(EventDataset(events).files(), cells, bandwidth_m=KDE_BANDWIDTH_M, scale="per_km2")
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "events": res.events,
            "sha": hashlib.sha256(res.density.tobytes()).hexdigest()}


def baseline_kde(events: Path, cells_path: Path) -> dict:
    """Every row read into one pandas frame, then the in-memory code (cell_counts + kernel_density)."""
    import hashlib

    import pyarrow.parquet as pq

    from gridmap.events.dataset import EventDataset
    from gridmap.warning import cell_counts, kernel_density, lattice_from_cells

    cells = _kde_cells(cells_path)
    t0, c0 = time.perf_counter(), time.process_time()
    frame = pq.read_table([str(f) for f in EventDataset(events).files()], columns=["received_at", "cell_code"]) \
        .to_pandas()
    lat = lattice_from_cells(cells)
    dens = kernel_density(cell_counts(frame, lat, cells=cells), lat, bandwidth_m=KDE_BANDWIDTH_M, scale="per_km2")
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "events": len(frame),
            "sha": hashlib.sha256(dens.tobytes()).hexdigest()}


def _watch() -> tuple[list[str], list[str]]:
    from gridmap.warning.keywords import expand_keywords, split_keywords

    return split_keywords(SCAN_WATCH), expand_keywords(SCAN_WATCH)


def ours_scan(events: Path, cells_path: Path) -> dict:
    """gridmap.events.scan: per-family day x square counts per partition file, then the in-memory scan code."""
    from gridmap.events.dataset import EventDataset
    from gridmap.events.scan import stream_scan_alerts
    from gridmap.warning.alerts import keyword_scan

    cells = _kde_cells(cells_path)
    files = EventDataset(events).files()
    kws, terms = _watch()
    t0, c0 = time.perf_counter(), time.process_time()
    alerts = keyword_scan(lambda **o: stream_scan_alerts(files, cells, start=SCAN_FROM, end=SCAN_TO, **o),
                          kws=kws, terms=terms)
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "alerts": alerts}


def baseline_scan(events: Path, cells_path: Path) -> dict:
    """Every row read into one pandas frame, then gridmap.warning's scan_alerts (what `gridmap warn` runs)."""
    import pyarrow.parquet as pq

    from gridmap.events.dataset import EventDataset
    from gridmap.warning.alerts import keyword_scan, scan_alerts

    cells = _kde_cells(cells_path)
    kws, terms = _watch()
    t0, c0 = time.perf_counter(), time.process_time()
    frame = pq.read_table([str(f) for f in EventDataset(events).files()],
                          columns=["received_at", "category", "text", "cell_code"]).to_pandas()
    alerts = keyword_scan(lambda **o: scan_alerts(frame, cells, start=SCAN_FROM, end=SCAN_TO, **o), kws=kws,
                          terms=terms)
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "alerts": alerts}


def kde_and_scan_steps(events: Path, cells_path: Path, *, baseline: bool = True) -> float:
    """Run the streamed KDE and scan (and, with ``baseline``, the all-rows-in-one-frame baselines); print one
    line per step; return the peak RSS (MiB) of our steps."""
    out, dt, rss = run_case(ours_kde, events, cells_path)
    peak = rss
    line = (f"kernel density (streamed, {KDE_BANDWIDTH_M:.0f} m, {out['events']:,} events): {dt:.1f} s "
            f"({out['cpu']:.1f} CPU s), peak {rss / 1024:.2f} GiB")
    if baseline:
        base, dt_b, rss_b = run_case(baseline_kde, events, cells_path)
        line += (f"; all rows in one frame + in-memory KDE: {dt_b:.1f} s, peak {rss_b / 1024:.2f} GiB; "
                 f"identical density: {base['sha'] == out['sha']}; ratio {dt_b / dt:.1f}x time, "
                 f"{rss_b / rss:.1f}x memory")
    print(line, flush=True)
    out, dt, rss = run_case(ours_scan, events, cells_path)
    peak = max(peak, rss)
    line = (f"space-time scan [{SCAN_FROM}, {SCAN_TO}) with watch list {SCAN_WATCH} (streamed): {dt:.1f} s "
            f"({out['cpu']:.1f} CPU s), peak {rss / 1024:.2f} GiB, {len(out['alerts'])} place(s)")
    if baseline:
        try:
            base, dt_b, rss_b = run_case(baseline_scan, events, cells_path)
        except RuntimeError as exc:  # at 100 M rows the all-in-one-frame baseline outgrows a 24 GiB machine
            line += f"; all rows in one frame + in-memory scan: FAILED ({exc})"
        else:
            try:
                pd.testing.assert_frame_equal(out["alerts"], base["alerts"])
                same = True
            except AssertionError:
                same = False
            line += (f"; all rows in one frame + in-memory scan: {dt_b:.1f} s, peak {rss_b / 1024:.2f} GiB; same "
                     f"alerts: {same}; ratio {dt_b / dt:.1f}x time, {rss_b / rss:.1f}x memory")
    print(line, flush=True)
    return peak


def _pg_engine(url: str):
    """A plain engine on the benchmark database (no gridmap store is created there)."""
    from sqlalchemy import create_engine

    from gridmap.store.postgis import normalise_url

    return create_engine(normalise_url(url))


def pg_ours(url: str, sources: list[Path], cells_path: Path, n: int) -> dict:
    import geopandas as gpd

    from gridmap.events.analysis import Selection
    from gridmap.events.importer import Coder, import_events
    from gridmap.events.postgis import PostgisEvents

    cells = gpd.read_parquet(cells_path)
    cells.attrs["lattice"] = {"cell_size_m": CELL, "origin": (0.0, 0.0)}
    engine = _pg_engine(url)
    sink = PostgisEvents(engine, srid=4548, table="bench_events")
    coder = Coder(cells)
    t0 = time.perf_counter()
    done = 0
    for f in sources:
        if done >= n:
            break
        done += import_events(sink, f, coder=coder, batch_rows=500_000).written
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    agg = sink.cube_counts(start=pd.Timestamp(WEEK0), stop=pd.Timestamp(WEEK_END), freq="week", sel=Selection.of())
    t_sql = time.perf_counter() - t0
    engine.dispose()
    return {"seconds": t_sql, "import_s": t_import, "rows": done, "bins": len(agg), "events": int(agg["count"].sum())}


def pg_pandas(url: str) -> dict:
    from sqlalchemy import text

    engine = _pg_engine(url)
    t0 = time.perf_counter()
    with engine.connect() as conn:
        res = conn.execute(text("SELECT cell_code, received_at FROM bench_events WHERE received_at >= :a AND "
                                "received_at < :b"), {"a": pd.Timestamp(WEEK0), "b": pd.Timestamp(WEEK_END)})
        rows = pd.DataFrame(res.fetchall(), columns=["cell_code", "received_at"])
    k = (pd.to_datetime(rows["received_at"]) - pd.Timestamp(WEEK0)).dt.days // 7
    agg = rows.groupby([rows["cell_code"], k]).size()
    dt = time.perf_counter() - t0
    engine.dispose()
    return {"seconds": dt, "bins": len(agg), "events": int(agg.sum())}


def pg_drop(url: str) -> None:
    from sqlalchemy import text

    engine = _pg_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_events CASCADE"))
        conn.execute(text("DROP TABLE IF EXISTS bench_events_batches"))
        conn.execute(text("DROP TABLE IF EXISTS bench_events_ids"))  # else a re-run skips every id as stored
    engine.dispose()


# -- the monthly 三率 by street (接诉即办 handling records) -----------------------------------------------------------
RATE_COLUMNS = ["street_code", "received_at", "responded_at", "category", "resolved", "satisfied", "excluded"]
URGENT = ("供暖", "供水")  # gridmap.performance.rules.RateRules' default urgent categories (2 h; others 24 h)


def handling_records(r, t, cat, x) -> dict:
    """Handling columns for one chunk (see the module docstring for the shares): Arrow arrays with nulls."""
    import pyarrow as pa

    m = len(t)
    urgent = np.isin(CATS[cat], URGENT)
    hours = np.where(urgent, r.lognormal(np.log(0.8), 1.0, m), r.lognormal(np.log(3.0), 1.5, m))
    responded = t + (hours * 3_600e6).astype("timedelta64[us]")
    has_response = r.random(m) >= 0.10
    visited = r.random(m) >= 0.15
    p_resolved = 0.65 + 0.25 * (x - X0) / (SIDE * CELL)
    resolved = r.random(m) < p_resolved
    satisfied = r.random(m) < np.where(resolved, 0.85, 0.25)
    excluded = r.random(m) < 0.04
    exc_known = r.random(m) >= 0.01
    return {"responded_at": pa.array(responded, mask=~has_response),
            "resolved": pa.array(resolved, mask=~visited), "satisfied": pa.array(satisfied, mask=~visited),
            "excluded": pa.array(excluded, mask=~exc_known)}


def pandas_rate_counts(df: pd.DataFrame) -> pd.DataFrame:
    """The sums a user writes in pandas from the documented rules (docs/performance.md), per street and month."""
    counted = ~df["excluded"].fillna(False).astype(bool)
    delay = pd.to_datetime(df["responded_at"]) - pd.to_datetime(df["received_at"])
    limit = pd.to_timedelta(np.where(df["category"].astype(str).isin(URGENT), 2, 24), unit="h").to_numpy()
    known = df["responded_at"].notna() & counted
    resolved, satisfied = df["resolved"], df["satisfied"]
    t = pd.to_datetime(df["received_at"])
    flags = pd.DataFrame({
        "street_code": df["street_code"].astype(str), "month": t.dt.year * 100 + t.dt.month,
        "complaints": 1, "excluded": ~counted, "counted": counted, "response_n": known,
        "response_ok": known & (delay <= limit), "resolution_n": resolved.notna() & counted,
        "resolved": resolved.fillna(False).astype(bool) & counted, "satisfaction_n": satisfied.notna() & counted,
        "satisfied": satisfied.fillna(False).astype(bool) & counted})
    flags = flags[df["street_code"].notna().to_numpy()]
    return flags.groupby(["street_code", "month"]).sum().astype("int64")


def rates_ours(events: Path) -> dict:
    from gridmap.events.dataset import EventDataset
    from gridmap.events.rates import stream_rates

    t0, c0 = time.perf_counter(), time.process_time()
    out = stream_rates(EventDataset(events).files(), by="street")
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "rows": len(out),
            "sums": _rate_sums(out)}


def rates_baseline_dask(events: Path) -> dict:
    """dask.dataframe: read the same partition files (the columns the rates need), flag and group in pandas."""
    import dask.dataframe as dd

    from gridmap.events.dataset import EventDataset

    t0, c0 = time.perf_counter(), time.process_time()
    df = dd.read_parquet([str(f) for f in EventDataset(events).files()], columns=RATE_COLUMNS)
    sums = df.map_partitions(lambda p: pandas_rate_counts(p).reset_index()) \
        .groupby(["street_code", "month"]).sum().compute(scheduler="threads")
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "rows": len(sums),
            "sums": _rate_sums(sums.reset_index())}


def _rate_sums(frame: pd.DataFrame) -> pd.DataFrame:
    """The counts per (street, month as YYYYMM), sorted: what both sides must agree on, every value."""
    from gridmap.performance.rates import COUNT_COLUMNS

    f = frame.rename(columns={"unit": "street_code"})
    month = f["month"]
    if month.dtype.kind not in "iu":  # 'YYYY-MM'
        month = month.astype(str).str.replace("-", "").astype("int64")
    out = pd.DataFrame({"street_code": f["street_code"].astype(str).to_numpy(),
                        "month": month.to_numpy(dtype="int64"), **{c: f[c].to_numpy(dtype="int64") for c in COUNT_COLUMNS}})
    return out.sort_values(["street_code", "month"]).reset_index(drop=True)


def rates_pg_ours(url: str) -> dict:
    from gridmap.events.postgis import PostgisEvents
    from gridmap.events.rates import sql_rates

    engine = _pg_engine(url)
    t0 = time.perf_counter()
    out = sql_rates(PostgisEvents(engine, srid=4548, table="bench_events"), by="street")
    dt = time.perf_counter() - t0
    engine.dispose()
    return {"seconds": dt, "rows": len(out), "sums": _rate_sums(out)}


def rates_pg_pandas(url: str) -> dict:
    from sqlalchemy import text

    engine = _pg_engine(url)
    t0 = time.perf_counter()
    with engine.connect() as conn:
        res = conn.execute(text(f"SELECT {', '.join(RATE_COLUMNS)} FROM bench_events"))
        rows = pd.DataFrame(res.fetchall(), columns=RATE_COLUMNS)
    sums = pandas_rate_counts(rows)
    dt = time.perf_counter() - t0
    engine.dispose()
    return {"seconds": dt, "rows": len(sums), "sums": _rate_sums(sums.reset_index())}


def rates_step(events: Path, *, baseline: bool) -> float:
    """Monthly 三率 by street streamed vs the dask.dataframe baseline; prints one line; returns our peak (MiB)."""
    out, dt, rss = run_case(rates_ours, events)
    n = int(out["sums"]["complaints"].sum())
    line = (f"monthly 三率 by street (streamed through gridmap.performance's rule): {dt:.1f} s ({out['cpu']:.1f} CPU "
            f"s), peak {rss / 1024:.2f} GiB, {out['rows']:,} street-months, {n:,} complaints")
    if baseline:
        base, dt_b, rss_b = run_case(rates_baseline_dask, events)
        line += (f"; baseline dask.dataframe read + pandas flags + groupby: {dt_b:.1f} s ({base['cpu']:.1f} CPU s in "
                 f"the driver), peak {rss_b / 1024:.2f} GiB; same counts: {base['sums'].equals(out['sums'])}; ours "
                 f"{dt_b / dt:.1f}x faster")
    print(line, flush=True)
    return rss


def rates_pg_step(url: str, n: int) -> None:
    """On the PostGIS table pg_ours filled: 三率 GROUP BY in SQL vs the rows pulled into pandas."""
    pg, dt_pg, _ = run_case(rates_pg_ours, url)
    pd_, dt_pd, rss_pd = run_case(rates_pg_pandas, url)
    same = pg["sums"].equals(pd_["sums"])
    print(f"PostGIS, {n:,} rows: monthly 三率 by street GROUP BY in SQL {dt_pg:.1f} s vs rows pulled into pandas "
          f"{dt_pd:.1f} s (peak {rss_pd / 1024:.2f} GiB): {dt_pd / dt_pg:.1f}x; same counts: {same}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000_000, help="complaints (default 100 M)")
    ap.add_argument("--chunk", type=int, default=2_000_000, help="rows per generated source file")
    ap.add_argument("--dir", type=Path, help="work folder (default a temporary one, removed at the end)")
    ap.add_argument("--skip-baseline", action="store_true", help="skip the dask-geopandas baseline")
    ap.add_argument("--postgis", default=os.environ.get("GRIDMAP_BENCH_POSTGIS_URL"),
                    help="a PostGIS database for the in-database comparison (a table bench_events is made and "
                         "dropped there)")
    ap.add_argument("--pg-n", type=int, default=10_000_000, help="rows for the PostGIS comparison (default 10 M)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: N = 1 M, 500,000 rows on PostGIS")
    ap.add_argument("--steps", default="import,analysis,baseline,rates,kde,postgis",
                    help="steps to run, comma-separated (default all: import,analysis,baseline,rates,kde,postgis); "
                         "steps after import need its events folder in --dir")
    a = ap.parse_args()
    steps = set(a.steps.split(","))
    if a.skip_baseline:
        steps.discard("baseline")
    if a.quick:
        a.n, a.chunk, a.pg_n = 1_000_000, 500_000, 500_000
    work = a.dir or Path(tempfile.mkdtemp(prefix="gridmap-bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# out of core at scale — {machine()} — {time.strftime('%Y-%m-%d %H:%M')} — N = {a.n:,}", flush=True)
    cells = make_cells()
    cells_path = work / "cells.parquet"
    cells.to_parquet(cells_path)
    t0 = time.perf_counter()
    stamp = work / "src" / f"_generated-{a.n}-{a.chunk}"
    if stamp.exists():  # the same seeded chunks from an earlier run in this --dir
        sources = sorted((work / "src").glob("chunk-*.parquet"))
        print(f"reusing {a.n:,} generated complaints in {len(sources)} chunk(s) from {work / 'src'}", flush=True)
    else:
        shutil.rmtree(work / "src", ignore_errors=True)
        sources = generate(work / "src", a.n, a.chunk)
        stamp.touch()
        print(f"generated {a.n:,} complaints in {len(sources)} chunk(s), {len(cells):,} cells: "
              f"{time.perf_counter() - t0:.0f} s (not timed below)", flush=True)
    events = work / "city.events"
    peak = 0
    if "import" in steps:
        shutil.rmtree(events, ignore_errors=True)
        out, dt, rss = run_case(ours_import, sources, events, cells_path)
        ok_import = out["rows"] / dt >= 1_000_000
        print(f"import to GeoParquet with codes: {out['rows']:,} rows in {dt:.1f} s = {out['rows'] / dt:,.0f} rows/s "
              f"({out['cpu']:.1f} CPU s: {out['rows'] / out['cpu']:,.0f} rows per CPU second), peak "
              f"{rss / 1024:.2f} GiB  (goal >= 1 M rows/s: {'met' if ok_import else 'NOT met'})", flush=True)
        peak = rss
    if "analysis" in steps or "baseline" in steps:
        out, dt_an, rss = run_case(ours_analysis, events, cells_path)
        peak = max(peak, rss)
        print(f"weekly cube + Gi* + emerging (streamed): {dt_an:.1f} s ({out['cpu']:.1f} CPU s), peak "
              f"{rss / 1024:.2f} GiB, {out['events']:,} events, {out['hot']:,} hot-spot cells  "
              f"(goal < 3 min: {'met' if dt_an < 180 else 'NOT met'})", flush=True)
    if "baseline" in steps:
        base, dt_b, rss_b = run_case(baseline_dask, sources, cells_path)
        same = base["events"] == out["events"] and np.isclose(base["z_sum"], out["z_sum"])
        print(f"baseline dask-geopandas sjoin + groupby + same Gi*/emerging: {dt_b:.1f} s ({base['cpu']:.1f} CPU s "
              f"in the driver; dask threads included), peak {rss_b / 1024:.2f} "
              f"GiB; same cube: {same}; ours (analysis alone) {dt_b / dt_an:.1f}x faster", flush=True)
    if "rates" in steps:
        peak = max(peak, rates_step(events, baseline="baseline" in steps))
    if "kde" in steps:
        peak = max(peak, kde_and_scan_steps(events, cells_path, baseline=not a.skip_baseline))
    print(f"peak memory of our steps: {peak / 1024:.2f} GiB (goal < 6 GiB: {'met' if peak < 6 * 1024 else 'NOT met'})")
    if a.postgis and "postgis" in steps:
        pg_drop(a.postgis)  # a table left by an interrupted run
        pg, dt_pg, _ = run_case(pg_ours, a.postgis, sources, cells_path, a.pg_n)
        pd_, dt_pd, rss_pd = run_case(pg_pandas, a.postgis)
        print(f"PostGIS, {pg['rows']:,} rows: COPY import {pg['rows'] / pg['import_s']:,.0f} rows/s; weekly cube "
              f"GROUP BY in SQL {dt_pg:.1f} s vs rows pulled into pandas {dt_pd:.1f} s (peak {rss_pd / 1024:.2f} "
              f"GiB): {dt_pd / dt_pg:.1f}x; same counts: {pg['events'] == pd_['events'] and pg['bins'] == pd_['bins']}")
        rates_pg_step(a.postgis, pg["rows"])
        pg_drop(a.postgis)
    if a.dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
