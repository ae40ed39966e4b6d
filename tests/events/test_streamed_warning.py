"""Streamed kernel density and space-time early-warning scan equal the in-memory ones on the demo.

The in-memory references are gridmap.warning's own functions (kernel_density on cell_counts / bin_points,
space_time_alerts, scan_alerts, keyword_match_counts) on the complaints the ordinary import wrote to the store
(the same CSV read by a different route); the streamed side reads the events folder partition by partition.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from gridmap.events import analysis
from gridmap.events.dataset import EventDataset
from gridmap.events.density import stream_density
from gridmap.events.scan import (data_start, stream_keyword_counts, stream_scan_alerts, stream_space_time_alerts)
from gridmap.grid.lattice import Lattice
from gridmap.store import open_store
from gridmap.warning import bin_points, cell_counts, density_by, kernel_density, lattice_from_cells
from gridmap.warning.alerts import keyword_scan, scan_alerts
from gridmap.warning.counts import select_complaints
from gridmap.warning.keywords import expand_keywords, keyword_match_counts
from gridmap.warning.scan import space_time_alerts

LEAKS = expand_keywords("房屋漏雨")     # the 房屋漏雨 family: 漏雨, 渗水, 屋顶漏水 ...
EVAL = ("2025-03-03", "2025-12-29")    # weekly evaluations (the demo has one year: the baseline is recent)
#: the demo's leak cluster (June-July 2025) is flagged at this per-evaluation false-alarm rate
ALPHA = 0.05


@pytest.fixture(scope="module")
def memory(demo_events):
    db = demo_events[0]
    with open_store(db, mode="read") as store:
        return store.read("complaints"), store.read("cells")


@pytest.fixture(scope="module")
def files(demo_events):
    return EventDataset(demo_events[1]).files()


# -- kernel density ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale,bandwidth", [("per_km2", 300.0), ("pdf", 150.0)])
def test_streamed_kde_equals_in_memory_in_every_cell(files, memory, scale, bandwidth):
    complaints, cells = memory
    got = stream_density(files, cells, bandwidth_m=bandwidth, scale=scale)
    lat = lattice_from_cells(cells)
    counts = cell_counts(complaints, lat, cells=cells)
    want = kernel_density(counts, lat, bandwidth_m=bandwidth, scale=scale)
    assert got.events == len(complaints) and got.missed == 0
    np.testing.assert_array_equal(got.counts, counts)
    np.testing.assert_array_equal(got.density, want)  # every lattice square, bit for bit
    pd.testing.assert_frame_equal(density_by(got.density, cells, by="community", scale=scale),
                                  density_by(want, cells, by="community", scale=scale))


def test_streamed_kde_with_a_selection_equals_in_memory(files, memory):
    complaints, cells = memory
    sel = {"start": "2025-06-01", "end": "2025-09-01", "keywords": ",".join(LEAKS)}
    got = stream_density(files, cells, bandwidth_m=250.0, scale="per_cell", **sel)
    lat = lattice_from_cells(cells)
    want = kernel_density(cell_counts(complaints, lat, cells=cells, **sel), lat, bandwidth_m=250.0,
                          scale="per_cell")
    assert 0 < got.events < len(complaints)
    np.testing.assert_array_equal(got.density, want)


def test_streamed_kde_of_points_equals_bin_points(files):
    """On any lattice the points' x/y are binned as bin_points does (the maps' DensityGrid.from_points)."""
    rows = pq.read_table(files, columns=["x", "y"]).to_pandas()  # the reference reads every row at once
    x0, y0 = np.floor(rows["x"].min()) - 500, np.floor(rows["y"].min()) - 500
    lat = Lattice(x0, y0, 50.0, int((rows["x"].max() - x0) // 50) + 11, int((rows["y"].max() - y0) // 50) + 11)
    got = stream_density(files, bandwidth_m=150.0, lattice=lat, scale="per_km2", binning_correction=False)
    want = kernel_density(bin_points(rows["x"].to_numpy(), rows["y"].to_numpy(), lat), lat, bandwidth_m=150.0,
                          scale="per_km2", binning_correction=False)
    assert got.events == len(rows)
    np.testing.assert_array_equal(got.density, want)


def test_streamed_kde_is_close_to_the_exact_kernel_sum(files, memory):
    """Independent reference: sklearn's exact Gaussian kernel sum at cell centres (binning error, ~1 %)."""
    sk = pytest.importorskip("sklearn.neighbors")
    _, cells = memory
    rows = pq.read_table(files, columns=["x", "y"]).to_pandas()
    got = stream_density(files, cells, bandwidth_m=400.0, scale="pdf")
    lat = got.lattice
    kde = sk.KernelDensity(bandwidth=400.0).fit(rows[["x", "y"]].to_numpy())
    iy, ix = np.nonzero(got.density > np.percentile(got.density, 75))
    centres = np.column_stack([lat.x0 + (ix + 0.5) * lat.cell_size_m, lat.y0 + (iy + 0.5) * lat.cell_size_m])
    exact = np.exp(kde.score_samples(centres))
    np.testing.assert_allclose(got.density[iy, ix], exact, rtol=0.05)


# -- the space-time scan ----------------------------------------------------------------------------------------------
def test_data_start_is_the_earliest_event(files, memory):
    complaints, _ = memory
    assert data_start(files) == pd.to_datetime(complaints["received_at"]).min()


def test_streamed_scan_equals_space_time_alerts_with_a_keyword_family(files, memory):
    complaints, cells = memory
    opts = {"keyword_sets": {"房屋漏雨": LEAKS}, "alpha": ALPHA}
    got = stream_space_time_alerts(files, cells, start=EVAL[0], end=EVAL[1], **opts)
    want = space_time_alerts(complaints, cells, start=EVAL[0], end=EVAL[1], **opts)
    assert len(want) > 0 and (want["family"] == "keywords:房屋漏雨").any()
    pd.testing.assert_frame_equal(got, want)  # same alerts, same places, same observed/expected/p/q


def test_streamed_scan_with_a_keyword_selection_equals_in_memory(files, memory):
    """Selection(keywords=...) first, then one family per category of what is left (and FDR control)."""
    complaints, cells = memory
    first = pd.to_datetime(complaints["received_at"]).min()
    kw = ",".join(LEAKS)
    got = stream_space_time_alerts(files, cells, start=EVAL[0], end=EVAL[1], select={"keywords": kw},
                                   control="fdr", alpha=ALPHA)
    want = space_time_alerts(select_complaints(complaints, keywords=kw), cells, start=EVAL[0], end=EVAL[1],
                             data_start=first, control="fdr", alpha=ALPHA)
    assert len(want) > 0
    pd.testing.assert_frame_equal(got, want)


def test_streamed_scan_alerts_equal_the_warning_scan(files, memory):
    """The `gridmap warn` scan (weekly evaluations in a window, one row per place, watch list as a family)."""
    complaints, cells = memory
    t0, t1 = "2025-06-01", "2025-07-28"  # evaluations on Mondays, as above
    kws = ["房屋漏雨"]
    got = keyword_scan(lambda **o: stream_scan_alerts(files, cells, start=t0, end=t1, **o), kws=kws,
                       terms=LEAKS, scan_options={"alpha": ALPHA})
    want = keyword_scan(lambda **o: scan_alerts(complaints, cells, start=t0, end=t1, **o), kws=kws, terms=LEAKS,
                        scan_options={"alpha": ALPHA})
    assert len(want) > 0 and (want["kind"] == "keyword watch").any()
    pd.testing.assert_frame_equal(got, want)
    # and restricted to categories
    got = stream_scan_alerts(files, cells, start=t0, end=t1, categories=["房屋漏雨", "噪音"])
    want = scan_alerts(complaints, cells, start=t0, end=t1, categories=["房屋漏雨", "噪音"])
    pd.testing.assert_frame_equal(got, want)


def test_streamed_keyword_counts_equal_in_memory(files, memory):
    complaints, _ = memory
    window = select_complaints(complaints, start="2025-06-01", end="2025-09-01")
    got = stream_keyword_counts(files, LEAKS, start="2025-06-01", end="2025-09-01")
    pd.testing.assert_frame_equal(got, keyword_match_counts(window, LEAKS))


# -- bounded memory: the partial step reads one partition file at a time --------------------------------------------
def test_partials_read_one_partition_file_per_call(files, memory, monkeypatch):
    """Every read of the streamed KDE and scan is one partition file (read once), never the whole history.

    What this proves: no call materialises more than one file's selected columns (the rows of the largest file,
    here under a quarter of all rows); with ``$GRIDMAP_THREADS`` threads at most that many files are in memory at
    once, plus the reduced arrays (lattice x days), whatever the number of rows. It does not measure the process's
    peak memory (benchmarks/bench_scale.py does, on generated data)."""
    complaints, cells = memory
    reads: list[tuple[str, int]] = []
    real = pq.read_table

    def counting(path, *args, **kwargs):
        table = real(path, *args, **kwargs)
        reads.append((str(path), table.num_rows))
        return table

    monkeypatch.setattr(analysis.pq, "read_table", counting)
    stream_density(files, cells, bandwidth_m=300.0)
    assert sorted(p for p, _ in reads) == sorted(map(str, files))  # each file once, one file per read
    reads.clear()
    stream_space_time_alerts(files, cells, start=EVAL[0], end=EVAL[1], keyword_sets={"房屋漏雨": LEAKS})
    assert sorted(p for p, _ in reads) == sorted(map(str, files))
    largest = max(pq.ParquetFile(f).metadata.num_rows for f in files)
    assert max(n for _, n in reads) <= largest < len(complaints) / 4


# -- the same on a Dask cluster ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_dask_local_cluster_equals_single_process(files, memory):
    distributed = pytest.importorskip("distributed")
    _, cells = memory
    opts = {"keyword_sets": {"房屋漏雨": LEAKS}, "alpha": ALPHA}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            distributed.Client(lc) as client:
        dens = stream_density(files, cells, bandwidth_m=300.0, scale="per_km2", client=client)
        alerts = stream_space_time_alerts(files, cells, start=EVAL[0], end=EVAL[1], client=client, **opts)
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_array_equal(dens.density, stream_density(files, cells, bandwidth_m=300.0,
                                                               scale="per_km2").density)
    here = stream_space_time_alerts(files, cells, start=EVAL[0], end=EVAL[1], **opts)
    assert len(here) > 0
    pd.testing.assert_frame_equal(alerts, here)


def test_streamed_report_equals_early_warning_without_count_jumps(demo_events, memory):
    """`gridmap events warn`'s report: the scan with the watch list, its term counts and the 回头看 list."""
    from gridmap.events.service import events_warning
    from gridmap.events.warning import NOT_STREAMED
    from gridmap.warning.alerts import early_warning

    db, ev = demo_events[:2]
    complaints, cells = memory
    t0, t1 = "2025-06-01", "2025-07-28"
    with open_store(db, mode="read") as store:
        got = events_warning(store, events=ev, start=t0, end=t1, keywords="房屋漏雨", scan_options={"alpha": ALPHA})
    want = early_warning(complaints, start=t0, end=t1, cells=cells, keywords="房屋漏雨", units=(), hot_spots=False,
                         scan_options={"alpha": ALPHA})
    assert len(want.alerts) > 0 and len(want.recheck) > 0
    pd.testing.assert_frame_equal(got.alerts, want.alerts)
    pd.testing.assert_frame_equal(got.keyword_counts, want.keyword_counts)
    pd.testing.assert_frame_equal(got.recheck, want.recheck, check_dtype=False)
    assert got.notes == [NOT_STREAMED] + want.notes and got.keywords == want.keywords


def test_streamed_scan_with_one_family_and_edge_keyword_sets_equals_in_memory(files, memory):
    """families=None (all complaints one family), a keyword set given as a string and an empty one (every row)."""
    complaints, cells = memory
    opts = {"families": None, "keyword_sets": {"empty": [], "leak": "漏雨,渗水"}, "alpha": ALPHA}
    got = stream_space_time_alerts(files, cells, start="2025-06-02", end="2025-08-25", **opts)
    want = space_time_alerts(complaints, cells, start="2025-06-02", end="2025-08-25", **opts)
    assert {"all", "keywords:empty", "keywords:leak"} <= set(want["family"])
    pd.testing.assert_frame_equal(got, want)
