"""Events in PostGIS: a table partitioned by month with indexes on cell and time; counts and 三率 are GROUP BY in SQL
and equal pandas on the same rows (read out of the table) and the streamed Parquet results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from gridmap.events.analysis import stream_counts, stream_cube
from gridmap.events.dataset import EventDataset
from gridmap.events.rates import RATE_SOURCE_COLUMNS, stream_rates
from gridmap.events.service import events_counts, events_cube, events_rates, import_events_file, open_events
from gridmap.performance import monthly_rates
from gridmap.store import open_store

pytestmark = pytest.mark.postgis

START, END = "2025-01-06", "2025-12-29"


@pytest.fixture
def pg_events(postgis_url, demo_events):
    """A PostGIS store holding the demo's cells, its complaints imported into its events table."""
    db, ev, csv, _ = demo_events
    with open_store(db, mode="read") as src:
        cells = src.read("cells")
    store = open_store(postgis_url, crs="EPSG:4548")
    store.write("cells", cells)
    res = import_events_file(store, csv, batch_rows=7_000)
    yield store, res, ev
    store.close()


def test_table_is_partitioned_by_month_and_indexed(pg_events):
    store, res, _ = pg_events
    assert res.written == EventDataset(pg_events[2]).count() and res.batches >= 4
    with store.engine.connect() as conn:
        parts = conn.execute(text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass")).scalar()
        kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = 'events'::regclass")).scalar()
        idx = {r[0] for r in conn.execute(text("SELECT indexdef FROM pg_indexes WHERE tablename = 'events'"))}
        plan = "\n".join(r[0] for r in conn.execute(text(
            "EXPLAIN SELECT count(*) FROM events WHERE received_at >= '2025-03-01' AND received_at < '2025-04-01'")))
    assert kind == "p" and parts == 12
    assert any("(cell_code, received_at)" in d for d in idx) and any("(received_at)" in d for d in idx)
    assert "events_2025_03" in plan and "events_2025_05" not in plan  # partition pruning


def test_reimport_into_postgis_writes_nothing(pg_events, demo_events):
    store, res, _ = pg_events
    again = import_events_file(store, demo_events[2], batch_rows=5_000)
    assert again.written == 0 and again.already_stored == res.written
    assert open_events(store).count() == res.written


@pytest.mark.parametrize("by,period", [("cell", None), ("community", "month"), ("street", "week")])
def test_sql_group_by_equals_pandas_on_the_same_rows(pg_events, by, period):
    store, _, ev = pg_events
    got = events_counts(store, by=by, period=period)
    rows = open_events(store).read(columns=[f"{by}_code", "received_at"])  # the same rows, pulled into pandas
    t = pd.to_datetime(rows["received_at"])
    keys = [rows[f"{by}_code"].fillna("(unassigned)")]
    if period == "month":
        keys.append(t.dt.to_period("M").dt.start_time.rename("period"))
    elif period == "week":
        keys.append((t - pd.to_timedelta(t.dt.day_of_week, "D")).dt.normalize().rename("period"))
    want = rows.groupby(keys).size()
    pd.testing.assert_series_equal(got["count"].sort_index(), want.sort_index().astype("int64"), check_names=False,
                                   check_index_type=False)
    streamed = stream_counts(EventDataset(ev).files(), by=by, period=period)
    pd.testing.assert_series_equal(got["count"].sort_index(), streamed["count"].sort_index(), check_names=False,
                                   check_index_type=False)


@pytest.mark.parametrize("freq,start,end", [("week", START, END), ("month", "2025-01-01", "2026-01-01")])
def test_sql_cube_equals_the_streamed_cube(pg_events, freq, start, end):
    store, _, ev = pg_events
    cube, cells = events_cube(store, start=start, end=end, freq=freq, categories=["噪音", "供暖"])
    want = stream_cube(EventDataset(ev).files(), cells, start=start, end=end, freq=freq, categories=["噪音", "供暖"])
    assert want.counts.sum() > 1000
    np.testing.assert_array_equal(cube.counts, want.counts)
    assert list(cube.starts) == list(want.starts)


@pytest.mark.parametrize("by", ["street", "community"])
def test_sql_rates_equal_pandas_on_the_same_rows(pg_events, by):
    store, _, ev = pg_events
    got = events_rates(store, by=by)
    # the same rows pulled into pandas, and the in-memory rates of gridmap.performance on them
    rows = open_events(store).read(columns=[f"{by}_code", *RATE_SOURCE_COLUMNS])
    assert rows["resolved"].isna().sum() > 100 and rows["excluded"].astype("boolean").sum() > 100
    want = monthly_rates(rows, level=by, first="2025-01", last="2025-12")
    pd.testing.assert_frame_equal(got, want)
    pd.testing.assert_frame_equal(got, stream_rates(EventDataset(ev).files(), by=by))
def test_density_from_sql_counts_equals_streamed(pg_events, demo_events):
    """KDE on PostGIS: the counts per cell are a GROUP BY, the density the same kernel_density (identical)."""
    from gridmap.events.service import events_density

    store, _, ev = pg_events
    got, table, _ = events_density(store, bandwidth_m=300.0, by="community", keywords="漏雨,渗水")
    with open_store(demo_events[0], mode="read") as local:
        want, want_table, _ = events_density(local, events=ev, bandwidth_m=300.0, by="community",
                                             keywords="漏雨,渗水")
    assert got.events == want.events > 0
    np.testing.assert_array_equal(got.density, want.density)
    pd.testing.assert_frame_equal(table, want_table)
