"""Value conversion for store writes (gridmap.store.values) against independent formatters and lookups."""

import numpy as np
import pandas as pd
from sqlalchemy import Boolean

from gridmap.store.values import _to_sql, datetime_text


def test_datetime_text_equals_strftime_and_numpy():
    rng = np.random.default_rng(1)
    ns = rng.integers(pd.Timestamp.min.value, pd.Timestamp.max.value, 200_000).view("datetime64[ns]")
    ns[::13] = np.datetime64("NaT")
    ns[:3] = np.array(["1969-12-31T23:59:59.5", "1900-01-01T00:00:00.999999999", "2024-02-29T23:59:59"],
                      dtype="datetime64[ns]")
    s = pd.Series(ns)
    want = s.dt.strftime("%Y-%m-%d %H:%M:%S").astype(object).where(s.notna(), None).tolist()
    assert datetime_text(ns) == want
    assert want[:3] == ["1969-12-31 23:59:59", "1900-01-01 00:00:00", "2024-02-29 23:59:59"]
    # dates: numpy's own ISO formatting (strftime wraps around near the top of the range)
    days = np.datetime_as_string(ns.astype("datetime64[D]"), unit="D").astype(object)
    days[np.isnat(ns)] = None
    assert datetime_text(ns, with_time=False) == days.tolist()


def test_booleans_each_spelling_and_bad_values():
    s = pd.Series([True, False, None, "是", "否", "maybe", 1, 0, "TRUE", "0", np.nan, 2], dtype=object)
    out, bad = _to_sql(s, Boolean())
    assert out == [1, 0, None, 1, 0, None, 1, 0, 1, 0, None, None]
    assert bad.tolist() == [False] * 5 + [True] + [False] * 5 + [True]
    out, bad = _to_sql(pd.Series([True, None, False], dtype="boolean"), Boolean())
    assert out == [1, None, 0] and not bad.any()
