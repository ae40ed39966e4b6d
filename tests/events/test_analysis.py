"""Out-of-core analysis of the events store equals the in-memory analysis of the same complaints (the demo's).

The in-memory reference is gridmap.warning on the complaints the ordinary import wrote to the store (the same
CSV, read by a different route): every count, every cube bin, every Gi* z-score and every emerging category.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from gridmap.events.analysis import cells_mask, stream_counts, stream_cube
from gridmap.events.dataset import EventDataset
from gridmap.events.service import events_counts, events_emerging
from gridmap.store import open_store
from gridmap.warning import counts_by, emerging_hot_spots, space_time_cube
from gridmap.warning.lattice_ops import localise_cells

START, END = "2025-01-06", "2025-12-29"  # 51 whole weeks from a Monday


@pytest.fixture(scope="module")
def memory(demo_events):
    """The stored complaints (in memory) and the cells of the demo store."""
    db = demo_events[0]
    with open_store(db, mode="read") as store:
        return store.read("complaints"), store.read("cells")


def test_import_kept_every_row(demo_events, memory):
    _, ev, _, res = demo_events
    complaints, _ = memory
    assert res.read == len(complaints) and res.written == len(complaints) and res.rejected_rows == 0
    assert res.batches >= 4
    assert EventDataset(ev).count() == len(complaints)


@pytest.mark.parametrize("by", ["cell", "community", "street"])
def test_counts_per_unit_equal_in_memory(demo_events, memory, by):
    db, ev = demo_events[:2]
    complaints, _ = memory
    with open_store(db, mode="read") as store:
        got = events_counts(store, events=ev, by=by)
    want = counts_by(complaints, by=by)
    assert got["count"].sum() == len(complaints)
    pd.testing.assert_series_equal(got["count"].sort_index(), want["count"].sort_index().astype("int64"),
                                   check_names=False, check_index_type=False)


@pytest.mark.parametrize("period,freq", [("month", "MS"), ("week", "W-MON")])
def test_counts_per_unit_and_period_equal_pandas(demo_events, memory, period, freq):
    ev = demo_events[1]
    complaints, _ = memory
    got = stream_counts(EventDataset(ev).files(), by="community", period=period, categories=["房屋漏雨", "供暖"])
    sel = complaints[complaints["category"].isin(["房屋漏雨", "供暖"])]
    t = pd.to_datetime(sel["received_at"])
    start = t.dt.to_period("M").dt.start_time if period == "month" else (t - pd.to_timedelta(t.dt.day_of_week, "D"))
    want = sel.assign(period=start.dt.normalize()).groupby(["community_code", "period"]).size()
    assert len(got) == len(want) > 100
    pd.testing.assert_series_equal(got["count"].sort_index(), want.sort_index().astype("int64"), check_names=False,
                                   check_index_type=False)


def test_keyword_window_counts_equal_in_memory(demo_events, memory):
    ev = demo_events[1]
    complaints, _ = memory
    opts = {"start": "2025-06-01", "end": "2025-09-01", "keywords": "漏雨,渗水"}
    got = stream_counts(EventDataset(ev).files(), by="street", **opts)
    want = counts_by(complaints, by="street", **opts)
    assert want["count"].sum() > 0
    pd.testing.assert_series_equal(got["count"].sort_index(), want["count"].sort_index().astype("int64"),
                                   check_names=False, check_index_type=False)


@pytest.mark.parametrize("freq,start,end,moments", [("week", START, END, "cube"), ("month", "2025-01-01",
                                                                                    "2026-01-01", "slice")])
def test_cube_gi_and_emerging_equal_in_memory(demo_events, memory, freq, start, end, moments):
    db, ev = demo_events[:2]
    complaints, cells = memory
    with open_store(db, mode="read") as store:
        cube, res, _ = events_emerging(store, events=ev, start=start, end=end, freq=freq, moments=moments,
                                       time_window=1 if moments == "cube" else 0)
    lat, cix, ciy = localise_cells(cells)
    want_cube = space_time_cube(complaints, lat, start=start, end=end, freq=freq, cells=cells)
    np.testing.assert_array_equal(cube.counts, want_cube.counts)
    assert list(cube.starts) == list(want_cube.starts)
    mask = np.zeros(lat.shape, dtype=bool)
    mask[ciy, cix] = True
    want = emerging_hot_spots(want_cube, mask=mask, moments=moments, time_window=1 if moments == "cube" else 0)
    np.testing.assert_array_equal(res.z, want.z)  # every z-score, bit for bit (NaN outside the cells)
    pd.testing.assert_frame_equal(res.cells, want.cells)  # every category, trend and total
    assert (res.cells["pattern"] != "no pattern").sum() > 0


def test_cube_with_category_filter_equals_in_memory(demo_events, memory):
    ev = demo_events[1]
    complaints, cells = memory
    lat = localise_cells(cells)[0]
    got = stream_cube(EventDataset(ev).files(), cells, start=START, end=END, categories="噪音")
    want = space_time_cube(complaints, lat, start=START, end=END, cells=cells, categories="噪音")
    assert want.counts.sum() > 0
    np.testing.assert_array_equal(got.counts, want.counts)


@pytest.mark.slow
def test_dask_local_cluster_equals_single_process(demo_events, memory):
    distributed = pytest.importorskip("distributed")
    ev = demo_events[1]
    _, cells = memory
    files = EventDataset(ev).files()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            distributed.Client(lc) as client:
        on_dask = stream_counts(files, by="cell", period="month", client=client)
        cube_dask = stream_cube(files, cells, start=START, end=END, client=client)
        # the tasks ran on the workers' processes, not here
        assert len(client.scheduler_info()["workers"]) == 2
        # the CLI reaches the same cluster by its address (--dask tcp://...)
        r = subprocess.run([sys.executable, "-m", "gridmap", "--db", str(demo_events[0]), "events", "counts",
                            "--events", str(ev), "--by", "cell", "--period", "month", "--dask", lc.scheduler_address,
                            "--json"], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        cli = pd.DataFrame(json.loads(r.stdout)["counts"])
    here = stream_counts(files, by="cell", period="month")
    pd.testing.assert_frame_equal(on_dask.sort_index(), here.sort_index())
    cli["period"] = pd.to_datetime(cli["period"])
    pd.testing.assert_series_equal(cli.set_index(["cell_code", "period"])["count"].sort_index(),
                                   here["count"].sort_index(), check_index_type=False)
    cube_here = stream_cube(files, cells, start=START, end=END)
    np.testing.assert_array_equal(cube_dask.counts, cube_here.counts)
    mask = cells_mask(cells)
    a, b = emerging_hot_spots(cube_dask, mask=mask), emerging_hot_spots(cube_here, mask=mask)
    np.testing.assert_array_equal(a.z, b.z)
    pd.testing.assert_frame_equal(a.cells, b.cells)
