"""The events import: hive-partitioned GeoParquet, codes equal to an independent sjoin, atomic batches,
idempotent re-import, typed Parquet checks, handling-record columns, and resumption after ``kill -9``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gridmap.events.dataset import EventDataset
from gridmap.events.importer import Coder, import_events
from gridmap.events.schema import HANDLING_COLUMNS
from gridmap.events.service import import_events_file
from gridmap.store import open_store


def test_layout_is_hive_geoparquet_by_month(demo_events):
    ev = demo_events[1]
    ds = EventDataset(ev)
    months = ds.months()
    assert months == [f"2025-{m:02d}" for m in range(1, 13)]
    for f in ds.files():
        assert f.parent.name.startswith("month=")
        t = pd.to_datetime(pq.read_table(f, columns=["received_at"]).column(0).to_pandas())
        assert (t.dt.strftime("%Y-%m") == f.parent.name.split("=")[1]).all()
    # GeoParquet readers see the points in the store's CRS, with the hive partition column
    f = ds.files()[0]
    g = gpd.read_parquet(f)
    assert g.crs.to_epsg() == 4548 and (g.geom_type == "Point").all()
    np.testing.assert_array_equal(g.geometry.x.to_numpy(), g["x"].to_numpy())
    dataset = pq.ParquetDataset(ev, partitioning="hive")
    assert "month" in dataset.schema.names


def test_codes_equal_an_independent_sjoin(demo_events):
    db, ev = demo_events[:2]
    rows = EventDataset(ev).read(columns=["source_id", "x", "y", "cell_code", "community_code", "street_code"])
    with open_store(db, mode="read") as store:
        cells = store.read("cells", columns=["code", "community_code"])
    pts = gpd.GeoDataFrame(rows[["source_id"]], geometry=gpd.points_from_xy(rows["x"], rows["y"]), crs=cells.crs)
    joined = gpd.sjoin(pts, cells, predicate="within", how="left")
    joined = joined[~joined.index.duplicated()]  # (a point within one cell only: within is exclusive)
    assert joined["code"].notna().mean() > 0.99
    inside = joined["code"].notna()
    assert (rows.loc[inside, "cell_code"].astype(str) == joined.loc[inside, "code"]).all()
    assert (rows.loc[inside, "community_code"].astype(str) == joined.loc[inside, "community_code_right"]
            if "community_code_right" in joined else True)
    assert (rows["street_code"].astype(str) == rows["community_code"].astype(str).str[:9]).all()


def test_reimport_writes_nothing_twice(demo_events, tmp_path):
    db, ev, csv, first = demo_events
    before = sorted(p.relative_to(ev).as_posix() for p in ev.rglob("*"))
    with open_store(db, mode="read") as store:
        again = import_events_file(store, csv, events=ev, batch_rows=5_000)  # other batches: no resume shortcut
    assert again.written == 0 and again.already_stored == first.written
    assert sorted(p.relative_to(ev).as_posix() for p in ev.rglob("*")) == before
    ids = EventDataset(ev).read(columns=["source_id"])["source_id"]
    assert ids.is_unique and len(ids) == first.written


def _cells_frame():
    import shapely

    x0, y0 = 450_000.0, 4_420_000.0
    codes, geoms = [], []
    for i in range(4):
        for j in range(3):
            codes.append(f"110199001{j + 1:03d}{i + 1:03d}")
            geoms.append(shapely.box(x0 + i * 100, y0 + j * 100, x0 + i * 100 + 100, y0 + j * 100 + 100))
    return gpd.GeoDataFrame({"code": codes, "community_code": [c[:12] for c in codes]}, geometry=geoms,
                            crs="EPSG:4548")


def test_typed_parquet_rows_are_checked_and_handling_columns_kept(tmp_path):
    t = pd.to_datetime(["2025-01-03 08:00", None, "2025-02-01 09:00", "2025-02-02 10:00", "2025-02-03 11:00",
                        "2025-03-01 12:00", "2025-03-01 12:00"])
    src = pd.DataFrame({
        "source_id": ["A", "B", "C", "D", "E", "F", "F"],
        "received_at": t,
        "category": ["房屋漏雨", "噪音", "外星人", "噪声", "噪音", "供暖", "供暖"],
        "text": ["漏雨", "吵", "?", "", "吵", "不热", "不热"],
        "x": [450_050.0, 450_050, 450_150, 450_250, 999.0, 450_350, 450_350],
        "y": [4_420_050.0, 4_420_050, 4_420_150, 4_420_250, 4_420_050, 4_420_250, 4_420_250],
        "satisfied": [True, None, False, None, None, True, True],
        "dispatched_to": ["城管;街道", None, None, None, None, "供热", "供热"],
        "redispatches": [2, None, 0, None, None, None, 1],
    })
    path = tmp_path / "typed.parquet"
    src.to_parquet(path)
    ds = EventDataset(tmp_path / "ev", crs="EPSG:4548", create=True)
    res = import_events(ds, path, coder=Coder(_cells_frame()))
    reasons = dict(res.by_reason())
    assert res.read == 7 and res.written == 3 and res.rejected_rows == 4
    assert reasons == {"time missing": 1, "complaint text is empty": 1,
                       "outside the district (no cell covers this point)": 1,
                       "repeated source_id in this input (the first row is kept)": 1}
    got = ds.read().sort_values("source_id").reset_index(drop=True)
    assert got["source_id"].tolist() == ["A", "C", "F"]
    assert got["category"].astype(str).tolist() == ["房屋漏雨", "其他", "供暖"] and res.warnings == 1
    assert got["cell_code"].astype(str).tolist() == ["110199001001001", "110199001002002", "110199001003004"]
    assert got["satisfied"].tolist() == [True, False, True]
    assert [None if pd.isna(v) else v for v in got["dispatched_to"]] == ["城管;街道", None, "供热"]
    assert [None if pd.isna(v) else int(v) for v in got["redispatches"]] == [2, 0, None]
    assert set(HANDLING_COLUMNS) <= set(got.columns) and got["revisit_at"].isna().all()


#: The child process of the kill test: an import of CSV in batches of 1,500 rows.
_CHILD = textwrap.dedent("""
    import sys
    from gridmap.events.service import import_events_file
    from gridmap.store import open_store
    with open_store(sys.argv[1], mode="read") as store:
        import_events_file(store, sys.argv[2], events=sys.argv[3], batch_rows=1500)
""")


def _manifest_lines(ev) -> int:
    p = ev / "_manifest.jsonl"
    return p.read_text().count("\n") if p.exists() else 0


@pytest.mark.slow
def test_kill_9_mid_import_leaves_whole_batches_and_a_rerun_completes(demo_store, demo_events, tmp_path):
    db, csv = demo_store
    clean = EventDataset(demo_events[1])
    ev = tmp_path / "killed.events"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(db), str(csv), str(ev)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while _manifest_lines(ev) < 4 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert child.poll() is None, "the import finished before it could be killed: " + child.stderr.read().decode()[-500:]
    time.sleep(0.05 + 0.1 * np.random.default_rng().random())  # somewhere inside a later batch
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    # after the kill: the manifest lists only whole batches, each file readable, no id twice
    ds = EventDataset(ev)
    committed = ds.batches()
    assert 4 <= len(committed) < 21
    rows = ds.read(columns=["source_id"])
    assert len(rows) == sum(b.rows for b in committed) == 1500 * len(committed)
    assert rows["source_id"].is_unique
    # the re-run resumes after the last committed batch and completes the import
    with open_store(db, mode="read") as store:
        res = import_events_file(store, csv, events=ev, batch_rows=1500)
    assert res.skipped_batches == len(committed)
    assert res.already_stored == 0  # nothing re-written, nothing even re-checked twice
    final = EventDataset(ev)
    assert final.count() == clean.count()
    got = final.read(columns=["source_id", "received_at", "cell_code"]).sort_values("source_id", ignore_index=True)
    want = clean.read(columns=["source_id", "received_at", "cell_code"]).sort_values("source_id", ignore_index=True)
    assert got["source_id"].is_unique
    pd.testing.assert_frame_equal(got.astype({"cell_code": str}), want.astype({"cell_code": str}))
    # no file that a batch does not list is left behind
    listed = {f for b in final.batches() for f in b.files}
    on_disk = {p.relative_to(ev).as_posix() for p in ev.rglob("*.parquet")}
    assert on_disk == listed
    lines = (ev / "_manifest.jsonl").read_text().splitlines()
    assert all(json.loads(line)["source"]["batch_rows"] == 1500 for line in lines)


def test_a_torn_batch_is_invisible_and_cleaned(tmp_path):
    """A batch whose files were renamed but whose manifest line was never written (a kill between the two
    steps): readers do not see it and the next writer deletes it."""
    ds = EventDataset(tmp_path / "ev", crs="EPSG:4548", create=True)
    coder = Coder(_cells_frame())
    from gridmap.events.importer import _conform

    def batch(ids):
        n = len(ids)
        t = pa.table({"source_id": pa.array(ids), "received_at": pa.array(np.full(n, np.datetime64("2025-01-05"),
                                                                                  "datetime64[us]"))})
        return _conform(t, coder.arrays(np.zeros(n, dtype=np.int64)), np.full(n, 450_050.0), np.full(n, 4_420_050.0))

    ds.write_batch(batch(["a", "b"]))
    ds.commit(batch(["c"]), months=np.array(["2025-01"], dtype=object))
    manifest = tmp_path / "ev" / "_manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text(lines[0] + lines[1][:20])  # the second line torn mid-write
    again = EventDataset(tmp_path / "ev")
    assert again.count() == 2 and sorted(again.read(columns=["source_id"])["source_id"]) == ["a", "b"]
    assert again.recover() == 2  # its Parquet file and its id file
    assert again.write_batch(batch(["b", "c"])) == (1, 1)
    assert sorted(EventDataset(tmp_path / "ev").read(columns=["source_id"])["source_id"]) == ["a", "b", "c"]


def test_events_location_follows_the_store(tmp_path, monkeypatch):
    from gridmap.events.service import events_location

    monkeypatch.delenv("GRIDMAP_EVENTS", raising=False)
    with open_store(tmp_path / "city.sqlite", crs="EPSG:4548") as store:
        assert events_location(store) == str(tmp_path / "city.events")
        assert events_location(store, tmp_path / "elsewhere") == str(tmp_path / "elsewhere")
        monkeypatch.setenv("GRIDMAP_EVENTS", str(tmp_path / "env.events"))
        assert events_location(store) == str(tmp_path / "env.events")
        assert events_location(store, "postgresql://u@h/db") == "postgresql://u@h/db"


def test_typed_times_with_a_zone_become_beijing_time(tmp_path):
    src = pd.DataFrame({"source_id": ["U1", "U2"], "text": ["漏雨", "噪音"],
                        "received_at": pd.to_datetime(["2025-01-31 17:30", "2025-03-01 00:30"]).tz_localize("UTC"),
                        "x": [450_050.0, 450_150.0], "y": [4_420_050.0, 4_420_050.0]})
    src.to_parquet(tmp_path / "utc.parquet")
    ds = EventDataset(tmp_path / "ev", crs="EPSG:4548", create=True)
    import_events(ds, tmp_path / "utc.parquet", coder=Coder(_cells_frame()))
    got = ds.read(columns=["source_id", "received_at"]).sort_values("source_id")
    assert [str(t) for t in got["received_at"]] == ["2025-02-01 01:30:00", "2025-03-01 08:30:00"]
    assert ds.months() == ["2025-02", "2025-03"]  # partitioned by the Beijing month, not the UTC one


def test_several_files_in_one_import_equal_one_file_and_resume_per_file(demo_events, tmp_path):
    """The demo's complaints split into three CSV files: one import of the folder stores exactly the rows of the
    single-file import; rejected rows are named file:row; a re-run after the first file was committed (the others
    not) skips that file's batches and writes the rest, nothing twice."""
    db, ev, csv, first = demo_events
    raw = pd.read_csv(csv, dtype=str, keep_default_na=False)
    raw.loc[5, "lon"] = "999"  # one row outside the district, in the first file
    parts = tmp_path / "parts"
    parts.mkdir()
    bounds = [0, len(raw) // 3, 2 * len(raw) // 3, len(raw)]
    for k in range(3):
        raw.iloc[bounds[k]:bounds[k + 1]].to_csv(parts / f"part-{k}.csv", index=False)
    coder_cells = None
    with open_store(db, mode="read") as store:
        coder_cells = store.read("cells")
    coder = Coder(coder_cells)
    # first file alone (as an interrupted folder import would have committed it), then the whole folder
    ds = EventDataset(tmp_path / "ev", crs="EPSG:4548", create=True)
    one = import_events(ds, parts / "part-0.csv", coder=coder, batch_rows=4_000)
    res = import_events(ds, [parts / "part-0.csv", parts / "part-1.csv", parts / "part-2.csv"], coder=coder,
                        batch_rows=4_000)
    assert res.skipped_batches == -(-bounds[1] // 4_000)  # part-0's batches: committed before, skipped
    assert res.written == first.written - bounds[1] and one.written == bounds[1] - 1  # part-0 holds the bad row
    got = EventDataset(tmp_path / "ev").read(columns=["source_id", "cell_code"]).sort_values("source_id")
    want = EventDataset(ev).read(columns=["source_id", "cell_code"]).sort_values("source_id")
    want = want[want["source_id"] != raw.loc[5, "source_id"]]
    assert got["source_id"].tolist() == want["source_id"].tolist()
    assert got["cell_code"].astype(str).tolist() == want["cell_code"].astype(str).tolist()
    # the whole folder into a fresh dataset: the bad row is named by file and row
    fresh = EventDataset(tmp_path / "ev2", crs="EPSG:4548", create=True)
    whole = import_events(fresh, parts, coder=coder, batch_rows=4_000)
    assert whole.written == len(want) and whole.rejected_rows == 1
    assert [p.row for p in whole.rejected] == ["part-0.csv:5"]


def test_text_import_reads_the_handling_record_as_the_store_import_does(demo_store, tmp_path):
    """A CSV with the Chinese export headers (响应时间, 是否解决 是/否, 满意度 1-5 and no 是否满意): the events keep the
    handling record exactly as ``gridmap complaints import`` (gridmap.io.handling) reads it."""
    from gridmap.io.complaints import parse_complaints

    db, csv = demo_store
    src = pd.read_csv(csv, nrows=2_000, dtype=str).drop(columns=["satisfied"])
    src = src.rename(columns={"responded_at": "响应时间", "resolved": "是否解决", "satisfaction_score": "满意度"})
    src["是否解决"] = src["是否解决"].map({"True": "是", "False": "否"})
    zh = tmp_path / "zh.csv"
    src.to_csv(zh, index=False)
    with open_store(db, mode="read") as store:
        res = import_events_file(store, zh, events=tmp_path / "zh.events")
    assert res.written == len(src)
    got = EventDataset(tmp_path / "zh.events").read().set_index("source_id").sort_index()
    want = parse_complaints(src, crs="EPSG:4548").frame.set_index("source_id").sort_index()
    assert got["satisfied"].notna().sum() > 1_000 and got["responded_at"].notna().sum() > 1_000
    for name in ("responded_at", "resolved", "satisfied", "satisfaction_score"):
        a, b = got[name].astype(object), want[name].astype(object)
        assert (a.isna() == b.isna()).all(), name
        known = a.notna().to_numpy()
        if name == "responded_at":
            assert (pd.to_datetime(a[known]) == pd.to_datetime(b[known])).all()
        else:
            assert (a[known].astype(int) == b[known].astype(int)).all(), name


@pytest.mark.parametrize("dictionary", [False, True])
def test_blank_texts_are_judged_as_python_strip_judges_them(dictionary):
    from gridmap.events.importer import _blank

    values = ["漏雨", "", " ", "\u3000", None, " a ", "\t\n", "x", "\u3000屋顶\u3000"] * 3
    arr = pa.array(values)
    col = pa.chunked_array([arr.slice(0, 10).dictionary_encode(), arr.slice(10).dictionary_encode()]) if dictionary \
        else pa.chunked_array([arr.slice(0, 10), arr.slice(10)])
    assert _blank(col).tolist() == [v is None or v.strip() == "" for v in values]


def test_bulk_allocators_change_nothing_but_the_allocators(demo_store, tmp_path):
    """An import inside bulk_allocators() writes byte-identical files to one outside it, and the process's Arrow
    pool is the previous one again afterwards."""
    from gridmap.memory import bulk_allocators

    db, csv = demo_store
    with open_store(db, mode="read") as store:
        cells = store.read("cells")
    before = pa.default_memory_pool().backend_name
    outside = EventDataset(tmp_path / "a", crs="EPSG:4548", create=True)
    import_events(outside, csv, coder=Coder(cells), batch_rows=7_000)
    inside = EventDataset(tmp_path / "b", crs="EPSG:4548", create=True)
    with bulk_allocators():
        import_events(inside, csv, coder=Coder(cells), batch_rows=7_000)
    assert pa.default_memory_pool().backend_name == before
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.parquet"))
    assert files and files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.parquet"))
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel

