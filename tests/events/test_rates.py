"""The 接诉即办 三率 streamed over the events store equal the in-memory tables of gridmap.performance.

References: ``gridmap.performance.monthly_rates`` / ``unit_rates`` on the complaints the ordinary import wrote to the
store (the same demo CSV, with its handling records, read by a different route), every street x month and
community x month value; a table of hand-counted rows at the edges of the rules (a delay of exactly the limit and
one microsecond over, urgent categories, unknown fields, excluded, no street); and the single-process run for Dask.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from gridmap.errors import UsageError
from gridmap.events.dataset import EventDataset
from gridmap.events.rates import stream_rates
from gridmap.events.schema import event_schema
from gridmap.events.service import events_rates
from gridmap.performance import monthly_rates, unit_rates
from gridmap.performance.rates import COUNT_COLUMNS
from gridmap.performance.rules import RateRules
from gridmap.performance.service import read_rate_complaints
from gridmap.store import open_store


@pytest.fixture(scope="module")
def handled(demo_events):
    """The stored complaints with their handling records (the in-memory input of ``gridmap rank``)."""
    with open_store(demo_events[0], mode="read") as store:
        return read_rate_complaints(store)


def test_the_demo_carries_handling_records_with_unknowns(handled):
    assert handled["excluded"].fillna(False).astype(bool).sum() > 100
    assert handled["responded_at"].isna().sum() > 100 and handled["resolved"].isna().sum() > 100
    assert handled["resolved"].dropna().astype(bool).mean() < 0.95  # not all resolved: the rates vary


@pytest.mark.parametrize("by", ["street", "community"])
def test_streamed_monthly_rates_equal_in_memory_performance(demo_events, handled, by):
    ev = demo_events[1]
    got = stream_rates(EventDataset(ev).files(), by=by)
    want = monthly_rates(handled, level=by, first="2025-01", last="2025-12")
    assert len(want) >= (36 if by == "street" else 300) and want["complaints"].sum() == len(handled)
    pd.testing.assert_frame_equal(got, want)  # every unit x month: counts exactly, rates and score to the bit


def test_small_read_batches_give_the_same_sums(demo_events, handled, monkeypatch):
    """A partition is read a batch of rows at a time (memory bounded by the batch, not the month); batches of 997
    rows, each with its own code dictionary, add up to the same table."""
    import gridmap.events.rates as rates

    monkeypatch.setattr(rates, "BATCH_ROWS", 997)
    got = stream_rates(EventDataset(demo_events[1]).files(), by="community")
    pd.testing.assert_frame_equal(got, monthly_rates(handled, level="community", first="2025-01", last="2025-12"))


def test_window_and_rules_equal_in_memory(demo_events, handled):
    db, ev = demo_events[:2]
    rules = RateRules(response_limit_h=6, urgent_limit_h=1, urgent_categories=("供暖", "噪音"),
                      weights=(0.2, 0.4, 0.4))
    opened = []
    with open_store(db, mode="read") as store:
        got = events_rates(store, events=ev, by="community", first="2025-03", last="2025-05", rules=rules,
                           progress=lambda k, n, label: opened.append(label))
        total = events_rates(store, events=ev, by="street", period="all", rules=rules)
    assert sorted(set(opened)) == ["month=2025-03", "month=2025-04", "month=2025-05"]  # only the window's files
    pd.testing.assert_frame_equal(got, monthly_rates(handled, level="community", first="2025-03", last="2025-05",
                                                     rules=rules))
    want = unit_rates(handled, level="street", rules=rules).reset_index()
    pd.testing.assert_frame_equal(total, want, check_dtype=False)
    assert total[COUNT_COLUMNS].dtypes.eq("int64").all()


def test_only_streets_and_communities_and_months_in_order(demo_events):
    files = EventDataset(demo_events[1]).files()
    with pytest.raises(UsageError, match="by street or community"):
        stream_rates(files, by="department")
    with pytest.raises(UsageError, match="before the first"):
        stream_rates(files, first="2025-06", last="2025-05")


# -- hand-counted rows at the edges of the rules ------------------------------------------------------------------
H = pd.Timedelta(hours=1)
US = pd.Timedelta(microseconds=1)


def edge_rows() -> pd.DataFrame:
    """Rows in the events schema whose rates are counted by hand in :data:`EDGE_EXPECTED`."""
    t = pd.Timestamp("2025-06-10 08:00:00")
    rows = [  # street, category, received, responded, resolved, satisfied, excluded
        ("A", "噪音", t, t + 24 * H, True, True, False),           # normal limit, exactly: in time
        ("A", "噪音", t, t + 24 * H + US, False, True, False),     # one microsecond over
        ("A", "供暖", t, t + 2 * H, None, False, False),           # urgent limit, exactly: in time
        ("A", "供水", t, t + 2 * H + US, True, None, None),        # urgent, over; excluded unknown: counted
        ("A", None, t, t + H, None, None, False),                  # no category: the normal limit
        ("A", "噪音", t, t + H, True, True, True),                 # excluded: in no rate
        ("A", "噪音", t, None, False, None, None),                 # response unknown
        (None, "噪音", t, t + H, True, True, False),               # no street: in no unit
        ("A", "噪音", pd.Timestamp("2025-07-31 23:59:59.999999"), pd.Timestamp("2025-08-03"), True, True, False),
        ("B", "供暖", pd.Timestamp("2025-06-30 23:00"), pd.Timestamp("2025-07-01 00:30"), None, None, False),
    ]
    f = pd.DataFrame(rows, columns=["street_code", "category", "received_at", "responded_at", "resolved", "satisfied",
                                    "excluded"])
    f["source_id"] = [f"E{i}" for i in range(len(f))]
    f["x"], f["y"] = 500_000.0, 4_400_000.0
    f["community_code"] = f["street_code"].map({"A": "A001", "B": "B001"})
    for c in ("resolved", "satisfied", "excluded"):
        f[c] = f[c].astype("boolean")
    return f


#: (street, month): complaints, excluded, counted, response_n, response_ok, resolution_n, resolved, satisfaction_n,
#: satisfied — counted by hand from the rows above.
EDGE_EXPECTED = {("A", "2025-06"): (7, 1, 6, 5, 3, 4, 2, 3, 2),
                 ("A", "2025-07"): (1, 0, 1, 1, 0, 1, 1, 1, 1),
                 ("B", "2025-06"): (1, 0, 1, 1, 1, 0, 0, 0, 0)}


def edge_table(frame: pd.DataFrame) -> pa.Table:
    schema = event_schema()
    cols = {}
    for field in schema:
        if field.name in frame.columns:
            v = frame[field.name]
            arr = pa.array(v.astype(object).where(v.notna(), None).tolist(),
                           type=field.type.value_type if pa.types.is_dictionary(field.type) else field.type)
            cols[field.name] = arr.dictionary_encode() if pa.types.is_dictionary(field.type) else arr
        else:
            cols[field.name] = pa.nulls(len(frame), field.type)
    return pa.table(cols, schema=schema)


def edge_dataset(path) -> EventDataset:
    rows = edge_rows()
    ds = EventDataset(path, crs="EPSG:4548", create=True)
    ds.commit(edge_table(rows), months=rows["received_at"].dt.strftime("%Y-%m").to_numpy())
    return ds


def expected_edges() -> pd.DataFrame:
    return pd.DataFrame([(u, m, *v) for (u, m), v in EDGE_EXPECTED.items()], columns=["unit", "month", *COUNT_COLUMNS])


def test_edges_of_the_rules_counted_by_hand(tmp_path):
    ds = edge_dataset(tmp_path / "edges.events")
    got = stream_rates(ds.files(), by="street")
    pd.testing.assert_frame_equal(got[["unit", "month", *COUNT_COLUMNS]], expected_edges(), check_dtype=False)
    assert got.loc[0, "response_rate"] == 3 / 5 and np.isnan(got.loc[2, "resolution_rate"])
    assert np.isnan(got.loc[2, "score"])  # a rate over no known complaint: no score
    pd.testing.assert_frame_equal(got, monthly_rates(edge_rows(), level="street", first="2025-06", last="2025-07"))
    # a longer limit moves the one-microsecond-late answers in time
    late = stream_rates(ds.files(), by="street", rules=RateRules(response_limit_h=25, urgent_limit_h=2.5))
    assert late.loc[0, "response_ok"] == 5


# -- the same partials on Dask ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_dask_local_cluster_equals_single_process(demo_events):
    distributed = pytest.importorskip("distributed")
    files = EventDataset(demo_events[1]).files()
    rules = RateRules(weights=(0.2, 0.4, 0.4))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            distributed.Client(lc) as client:
        on_dask = stream_rates(files, by="community", rules=rules, client=client)
        street_dask = stream_rates(files, by="street", period="all", client=lc.scheduler_address)
        assert len(client.scheduler_info()["workers"]) == 2
    pd.testing.assert_frame_equal(on_dask, stream_rates(files, by="community", rules=rules))
    pd.testing.assert_frame_equal(street_dask, stream_rates(files, by="street", period="all"))


# -- in PostGIS ----------------------------------------------------------------------------------------------------
@pytest.mark.postgis
def test_sql_rates_at_the_edges_equal_the_hand_count(postgis_url, tmp_path):
    from gridmap.events.postgis import PostgisEvents
    from gridmap.events.rates import sql_rates

    store = open_store(postgis_url, crs="EPSG:4548")
    try:
        sink = PostgisEvents(store.engine, srid=4548)
        sink.create()
        assert sink.write_batch(edge_table(edge_rows())) == (len(edge_rows()), 0)
        got = sql_rates(sink, by="street")
        late = sql_rates(sink, by="street", rules=RateRules(response_limit_h=25, urgent_limit_h=2.5))
        june = sql_rates(sink, by="community", period="all", first="2025-06", last="2025-06")
    finally:
        store.close()
    pd.testing.assert_frame_equal(got[["unit", "month", *COUNT_COLUMNS]], expected_edges(), check_dtype=False)
    ds = edge_dataset(tmp_path / "edges.events")
    pd.testing.assert_frame_equal(got, stream_rates(ds.files(), by="street"))
    assert late.loc[0, "response_ok"] == 5
    pd.testing.assert_frame_equal(june, stream_rates(ds.files(), by="community", period="all", first="2025-06",
                                                     last="2025-06"))
