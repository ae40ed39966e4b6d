"""Value conversion between pandas columns and SQL parameters for :class:`~gridmap.store.Store` writes and reads.

Integer columns are range-checked (64-bit counts, 32-bit others) so that nothing wraps on either backend; a value
that does not fit its column is reported with the reason, never silently coerced.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Boolean, Date, DateTime, Float, Integer


def _py(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def _type_name(t: Any) -> str:
    for kind, name in ((Integer, "whole number"), (Float, "number"), (Boolean, "true/false"),
                       (DateTime, "date and time"), (Date, "date")):
        if isinstance(t, kind):
            return name
    return "text"


#: Inclusive range of each integer column type (the same on both backends: PostGIS int4/int8; SQLite holds
#: 64 bits but a 32-bit column is kept to what its PostGIS twin can hold).
def _int_range(t: Any) -> tuple[int, int]:
    return (-(2 ** 63), 2 ** 63 - 1) if isinstance(t, BigInteger) else (-(2 ** 31), 2 ** 31 - 1)


def _bad_value_reason(value: Any, t: Any) -> str:
    if isinstance(t, Integer):
        n = _exact_int(value)
        if n is not None:
            lo, hi = _int_range(t)
            bits = 64 if isinstance(t, BigInteger) else 32
            return (f"out of range for a {bits}-bit whole number ({lo:,} to {hi:,}); it would wrap or overflow "
                    "in the database")
    return f"not a valid {_type_name(t)}"


def _exact_int(v: Any) -> int | None:
    """``v`` as an exact Python int (ints, integral floats and decimals, digit strings like '3000000000',
    '1e12', '12.0'), None if it is not a whole number. Never goes through a float for ints or text."""
    import decimal
    import unicodedata

    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return int(v) if np.isfinite(v) and float(v).is_integer() else None
    if isinstance(v, decimal.Decimal):
        d = v
    elif isinstance(v, str):
        try:
            d = decimal.Decimal(unicodedata.normalize("NFKC", v).strip())
        except decimal.InvalidOperation:
            return None
    else:
        return None
    if not d.is_finite() or d != d.to_integral_value():
        return None
    return int(d)


def _to_sql(s: pd.Series, t: Any) -> tuple[list[Any], np.ndarray]:
    """Convert a column to DB-API values; return the values and a mask of unconvertible entries."""
    na = pd.isna(s).to_numpy()
    if isinstance(t, Boolean):
        return _to_sql_bool(s, na)
    if isinstance(t, Integer):
        return _to_sql_int(s, na, *_int_range(t))
    if isinstance(t, Float):
        num = pd.to_numeric(s, errors="coerce")
        bad = num.isna().to_numpy() & ~na
        arr = num.to_numpy(dtype=float, na_value=np.nan)
        nan = np.isnan(arr)
        out = arr.astype(object)
        out[nan] = None
        return out.tolist(), bad
    if isinstance(t, (DateTime, Date)):
        if pd.api.types.is_datetime64_any_dtype(s):
            dt = s
            if getattr(dt.dt, "tz", None) is not None:
                dt = dt.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
        else:
            dt = pd.to_datetime(s, errors="coerce", format="mixed")
        bad = dt.isna().to_numpy() & ~na
        return datetime_text(dt.to_numpy(dtype="datetime64[ns]"), with_time=isinstance(t, DateTime)), bad
    arr = s.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(arr, skipna=True) in ("string", "empty"):  # text already (a C check): no str()
        if na.any():
            arr = arr.copy()
            arr[na] = None
        return arr.tolist(), np.zeros(len(s), dtype=bool)
    vals = [None if m else str(v) for v, m in zip(s.tolist(), na)]
    return vals, np.zeros(len(s), dtype=bool)


_BOOL = {True: 1, False: 0, 1: 1, 0: 0, "true": 1, "false": 0, "1": 1, "0": 0, "是": 1, "否": 0}


def _to_sql_bool(s: pd.Series, na: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """True/False (and 1/0, "true"/"false", "1"/"0", 是/否) as 1/0; anything else is marked bad. Each distinct
    value is looked up once (a column of True/False/None has three)."""
    codes, distinct = pd.factorize(s.astype(object), use_na_sentinel=True)
    found = [_BOOL.get(v.lower() if isinstance(v, str) else v) for v in distinct] + [None]
    out = np.array(found, dtype=object)[codes]
    bad = np.array([f is None for f in found], dtype=bool)[codes] & ~na
    out[na] = None
    return out.tolist(), bad


def datetime_text(ns: np.ndarray, *, with_time: bool = True) -> list[Any]:
    """datetime64[ns] values as the store's text, ``YYYY-MM-DD HH:MM:SS`` (fractions of a second dropped, as
    ``strftime`` does) or ``YYYY-MM-DD``; None for NaT. Arrow's cast to text, a third of the time
    ``Series.dt.strftime`` takes (0.1 s a column of 300,000), with the same text (tested)."""
    import pyarrow as pa

    return pa.array(ns.astype("datetime64[s]" if with_time else "datetime64[D]"), from_pandas=True) \
        .cast(pa.string()).to_numpy(zero_copy_only=False).tolist()


def _to_sql_int(s: pd.Series, na: np.ndarray, lo: int, hi: int) -> tuple[list[Any], np.ndarray]:
    """Whole numbers exactly (no float detour for big ints), with entries outside ``lo..hi`` marked bad."""
    dtype = s.dtype
    if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_unsigned_integer_dtype(dtype) \
            and np.dtype(getattr(dtype, "numpy_dtype", dtype)).itemsize <= 8:
        arr = s.to_numpy(dtype=np.int64, na_value=0)
        bad = ((arr < lo) | (arr > hi)) & ~na
        out = arr.astype(object)
    elif pd.api.types.is_float_dtype(dtype):
        arr = s.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(arr)
        whole = finite & (arr == np.round(arr))
        # float(2**63) == 2**63: compare against the bounds as floats, strictly above hi
        inside = whole & (arr >= float(lo)) & (arr < float(hi) + 1.0)
        bad = ~inside & ~na
        out = np.where(inside, arr, 0.0).astype(np.int64).astype(object)
    else:
        ints = [None if m else _exact_int(v) for v, m in zip(s.tolist(), na)]
        bad = np.array([(i is None or not lo <= i <= hi) and not m for i, m in zip(ints, na)], dtype=bool)
        out = np.array(ints, dtype=object) if len(ints) else np.array([], dtype=object)
    out[na | bad] = None
    return out.tolist(), bad


def _from_sql(s: pd.Series, t: Any) -> pd.Series:
    if isinstance(t, Integer):
        return pd.to_numeric(s).astype("Int64")
    if isinstance(t, Float):
        return pd.to_numeric(s).astype("float64")
    if isinstance(t, Boolean):
        # a NULL read next to 0/1 values may arrive as NaN (float), which bool() would make True
        return s.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else bool(v)) \
            .astype("boolean")
    if isinstance(t, DateTime):
        return pd.to_datetime(s)
    if isinstance(t, Date):
        return pd.to_datetime(s).dt.normalize()
    return s.astype(object).where(s.notna(), None)
