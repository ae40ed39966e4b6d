"""Complaint times: the ways a source writes a date and time, read as naive China Standard Time (Asia/Shanghai).

Read: epoch seconds / milliseconds (UTC), ISO 8601 naive or with a zone (``/`` accepted as the date separator),
``2024年7月1日 8时30分``, and whatever :class:`pandas.Timestamp` reads as a last resort. A time without a zone is
taken in the given IANA zone (default Asia/Shanghai); a value that cannot be read, or lies outside
:data:`TIME_RANGE`, becomes ``None`` / ``NaT`` (the importer rejects its row), never a guess.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from gridmap.errors import message
from gridmap.io.text import arrow_strings, clean_text

__all__ = ["CST", "TIME_RANGE", "parse_timestamp", "parse_timestamps"]


CST = "Asia/Shanghai"


_ZH_DT = re.compile(r"^\s*(\d{4})年(\d{1,2})月(\d{1,2})日\s*(?:(\d{1,2})[时:：](\d{1,2})?(?:分)?(?:(\d{1,2})秒?)?)?\s*$")


#: The range a stored time can take (datetime64[ns]); a time outside it rejects its row.
TIME_RANGE = (pd.Timestamp.min.ceil("s"), pd.Timestamp.max.floor("s"))


def _parse_one(value: object) -> tuple[pd.Timestamp | None, bool]:
    """One time value -> (timestamp, carried its own zone); a zoned time is returned in CST, tz-naive."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None, False
    if isinstance(value, (int, float, np.integer, np.floating)) or (isinstance(value, str) and
                                                                      re.fullmatch(r"\d{10}(\d{3})?", value.strip())):
        v = float(value)
        unit = "ms" if v > 1e11 else "s"
        try:
            return pd.Timestamp(v, unit=unit, tz="UTC").tz_convert(CST).tz_localize(None), True
        except (ValueError, OverflowError):  # OutOfBoundsDatetime is a ValueError
            return None, True
    if isinstance(value, (pd.Timestamp, datetime)):
        ts = pd.Timestamp(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
        if not text:
            return None, False
        m = _ZH_DT.match(text)
        if m:
            y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
            try:
                return pd.Timestamp(y, mo, d, h, mi, s), False
            except (ValueError, OverflowError):
                return None, False
        try:
            ts = pd.Timestamp(text.replace("/", "-"))
        except (ValueError, TypeError, OverflowError):
            return None, False
    if ts is pd.NaT:
        return None, False
    if ts.tzinfo is not None:
        return ts.tz_convert(CST).tz_localize(None), True
    return ts, False


def _localize(ts: pd.Timestamp | None, tz: str) -> pd.Timestamp | None:
    """A naive time read in zone ``tz`` -> naive CST."""
    if ts is None or tz == CST:
        return ts
    try:
        return ts.tz_localize(tz).tz_convert(CST).tz_localize(None)
    except (ValueError, OverflowError):  # a time that does not exist (or exists twice) in tz, or out of range
        return None


def parse_timestamp(value: object, *, tz: str = CST) -> pd.Timestamp | None:
    """One time value -> naive China Standard Time, or ``None`` if it cannot be read.

    A time without a zone is taken as a time in ``tz`` (default Asia/Shanghai, i.e. already CST).

    >>> str(parse_timestamp("2024-07-01T00:30:00Z"))
    '2024-07-01 08:30:00'
    >>> str(parse_timestamp("2024年7月1日 8时30分"))
    '2024-07-01 08:30:00'
    >>> str(parse_timestamp(1719793800))      # epoch seconds (UTC)
    '2024-07-01 08:30:00'
    >>> str(parse_timestamp("2024-07-01 00:30", tz="UTC"))
    '2024-07-01 08:30:00'
    >>> parse_timestamp("next tuesday") is None
    True
    """
    ts, aware = _parse_one(value)
    ts = ts if aware else _localize(ts, tz)
    if ts is not None and not (TIME_RANGE[0] <= ts <= TIME_RANGE[1]):
        return None
    return ts


_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


def _ns(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """datetime64 values of any unit (or Timestamps/None) -> (datetime64[ns], out-of-range mask)."""
    arr = np.asarray(values)
    if arr.dtype == object:
        arr = np.array([np.datetime64("NaT") if v is None or v is pd.NaT else np.datetime64(pd.Timestamp(v).to_datetime64())
                        for v in arr], dtype="datetime64[us]") if len(arr) else np.array([], dtype="datetime64[us]")
    if arr.dtype.kind != "M":
        arr = arr.astype("datetime64[us]")
    # compare in seconds: comparing a microsecond value with a nanosecond bound would convert (and wrap) it first
    sec = arr.astype("datetime64[s]")
    lo, hi = (np.datetime64(t.to_pydatetime().replace(tzinfo=None), "s") for t in TIME_RANGE)
    nat = np.isnat(arr)
    out_of_range = ~nat & ((sec < lo) | (sec > hi))
    ok = ~nat & ~out_of_range
    out = np.full(arr.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    out[ok] = arr[ok].astype("datetime64[ns]")
    return out, out_of_range


def parse_timestamps(values: pd.Series, *, tz: str = CST, info: dict[str, pd.Series] | None = None) -> pd.Series:
    """Vectorised :func:`parse_timestamp`: a Series of naive China Standard Time (``NaT`` where unreadable).

    Common shapes are parsed in bulk (epoch seconds/milliseconds, ISO 8601 naive or with a zone, ``/`` as the
    date separator, ``2024年7月1日 8时30分``); anything else falls back to :func:`parse_timestamp`, once per
    distinct value. Times without a zone are taken in ``tz`` (default Asia/Shanghai). ``info``, when given, is
    filled with boolean Series ``naive`` (read without a zone) and ``out_of_range`` (a date outside
    :data:`TIME_RANGE`, e.g. year 9999: NaT, never wrapped around).

    >>> [str(t) for t in parse_timestamps(pd.Series(["2024-07-01T00:30:00Z", "2024/07/01 08:30",
    ...                                              "2024年7月1日 8时30分", "1719793800", None, "next tuesday"]))]
    ['2024-07-01 08:30:00', '2024-07-01 08:30:00', '2024-07-01 08:30:00', '2024-07-01 08:30:00', 'NaT', 'NaT']
    """
    tz = _check_tz(tz)  # an unknown zone fails here, before any row is read
    idx = values.index
    out = pd.Series(pd.NaT, index=idx, dtype="datetime64[ns]")
    naive = pd.Series(False, index=idx)
    far = pd.Series(False, index=idx)
    if info is not None:
        info["naive"], info["out_of_range"] = naive, far
    if len(values) == 0:
        return out
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _from_datetimes(values, tz=tz, naive=naive, far=far)
    if pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(values.dtype):
        obj, is_num = values, pd.Series(False, index=idx)
    else:
        obj = values.astype(object)
        is_num = obj.map(lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool))
    text = clean_text(obj.where(~is_num) if is_num.any() else obj)
    # the common shape first, in bulk: 2024-07-01 08:30[:00] (what the general path below reads the same way)
    hit, fixed = _fixed_iso(text)
    if hit.any():
        out[hit] = fixed[hit]
        naive[hit] = True
        if not (text.notna().to_numpy() & ~hit).any() and not is_num.any():
            return _in_zone(out, naive, far, tz)
        text = text.where(~hit)
    # epoch seconds / milliseconds (numbers, or 10/13-digit strings): UTC, so zoned
    digits = text.str.fullmatch(r"\d{10}(?:\d{3})?").fillna(False).astype(bool)
    num = pd.to_numeric(obj.where(is_num), errors="coerce") if is_num.any() else pd.Series(np.nan, index=idx)
    num = num.where(is_num, pd.to_numeric(text.where(digits), errors="coerce"))
    epoch = num.notna()
    if epoch.any():
        _fill_epochs(num, epoch, out=out, far=far)
    rest = text[text.notna() & ~epoch].str.replace("/", "-", regex=False)
    if len(rest):
        _fill_text(rest, values, out=out, naive=naive, far=far)
    return _in_zone(out, naive, far, tz)


def _in_zone(out: pd.Series, naive: pd.Series, far: pd.Series, tz: str) -> pd.Series:
    """``out`` with its naive times (read without a zone) taken in ``tz`` and converted to CST. A time within two
    days of the ends of :data:`TIME_RANGE` is converted on its own: the shift can carry it out of range (it is
    then out of range, where the bulk conversion raised)."""
    if tz == CST or not naive.any():
        return out
    v = out.to_numpy()
    edge = naive.to_numpy() & ~np.isnat(v) & ((v < (TIME_RANGE[0] + pd.Timedelta(days=2)).to_datetime64())
                                             | (v > (TIME_RANGE[1] - pd.Timedelta(days=2)).to_datetime64()))
    bulk = naive & ~edge
    if bulk.any():
        conv = out[bulk].dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert(CST)
        arr, oor = _ns(conv.dt.tz_localize(None).to_numpy())
        out[bulk] = arr
        far[bulk[bulk].index[oor]] = True
    for p in np.flatnonzero(edge):  # (the same rule as the bulk conversion, one time at a time)
        try:
            t = pd.Timestamp(v[p]).tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
            t = t if t is pd.NaT else t.tz_convert(CST).tz_localize(None)
            too_far = t is not pd.NaT and not TIME_RANGE[0] <= t <= TIME_RANGE[1]
        except (pd.errors.OutOfBoundsDatetime, OverflowError):
            t, too_far = pd.NaT, True
        out.iloc[p] = pd.NaT if too_far else t
        far.iloc[p] = far.iloc[p] or too_far
    return out


#: Byte positions of the digits in ``YYYY-MM-DD HH:MM:SS``, and the separators each position may hold.
_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
_SEPARATORS = {4: b"-/", 7: b"-/", 10: b" T", 13: b":", 16: b":"}
_FAST_YEARS = (1700, 2200)  # inside TIME_RANGE with room: nothing out of range is read here


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's ``days_from_civil``, years >= 0)."""
    y = year.astype(np.int64) - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _fixed_iso(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(rows read, datetime64[ns] values) for the texts shaped exactly ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM`` or
    ``YYYY-MM-DD HH:MM:SS`` (``/`` for ``-``, ``T`` for the space) that are real dates and times of the years
    1700-2200, read from the Arrow buffer in bulk (milliseconds for 300,000 rows, where the general path takes a
    tenth of a second a column). Every other text (other shapes, 2025-02-30, 24:00, fractions, zones) is left to
    the general path, which would read these the same way (a test compares the two on every shape)."""
    n = len(text)
    hit = np.zeros(n, dtype=bool)
    got = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if n == 0:
        return hit, got
    arr = arrow_strings(text)
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    _, off_buf, data_buf = arr.buffers()
    if data_buf is None:
        return hit, got
    offsets = np.frombuffer(off_buf, dtype=np.int64)[arr.offset:arr.offset + n + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8)
    length = np.diff(offsets)
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    for size in (19, 16, 10):
        rows = np.flatnonzero(valid & (length == size))
        if not len(rows):
            continue
        start = offsets[rows]
        if start[-1] - start[0] == size * (len(rows) - 1) and (np.diff(start) == size).all():
            block = data[start[0]:start[0] + size * len(rows)].reshape(-1, size)  # (the usual file: a view)
            byte_at = lambda at: block[:, at]  # noqa: E731
        else:
            byte_at = lambda at: data[start + at]  # noqa: E731
        ok = np.ones(len(rows), dtype=bool)
        for at, allowed in _SEPARATORS.items():
            if at < size:
                byte = byte_at(at)
                ok &= (byte == allowed[0]) | (byte == allowed[-1])
        d = []
        for at in _DIGITS[_DIGITS < size]:
            digit = byte_at(at).astype(np.int32) - 48
            ok &= (digit >= 0) & (digit <= 9)
            d.append(digit)
        zero = np.zeros(len(rows), dtype=np.int32)
        year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3]
        month, day = d[4] * 10 + d[5], d[6] * 10 + d[7]
        hour, minute = (d[8] * 10 + d[9], d[10] * 10 + d[11]) if size > 10 else (zero, zero)
        second = d[12] * 10 + d[13] if size > 16 else zero
        ok &= (year >= _FAST_YEARS[0]) & (year <= _FAST_YEARS[1]) & (month >= 1) & (month <= 12) & (day >= 1)
        ok &= (hour < 24) & (minute < 60) & (second < 60)
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        ok &= day <= _MONTH_DAYS[np.clip(month, 1, 12)] + (leap & (month == 2))
        sec = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
        hit[rows[ok]] = True
        got[rows[ok]] = (sec[ok] * 1_000_000_000).view("datetime64[ns]")
    return hit, got


def _from_datetimes(values: pd.Series, *, tz: str, naive: pd.Series, far: pd.Series) -> pd.Series:
    """:func:`parse_timestamps` of a datetime64 column: zoned values to CST, naive ones read in ``tz``."""
    v = pd.to_datetime(values)
    if v.dt.tz is not None:
        v = v.dt.tz_convert(CST).dt.tz_localize(None)
    else:
        naive[:] = v.notna().to_numpy()
        if tz != CST:
            v = v.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert(CST).dt.tz_localize(None)
    arr, oor = _ns(v.to_numpy())
    far[:] = oor
    return pd.Series(arr, index=values.index)


def _fill_epochs(num: pd.Series, epoch: pd.Series, *, out: pd.Series, far: pd.Series) -> None:
    """Fill ``out`` (and ``far``) at the rows ``epoch`` from epoch seconds / milliseconds ``num`` (UTC)."""
    e = num[epoch].astype(float).to_numpy()
    secs = np.where(e > 1e11, e / 1000.0, e)
    lo, hi = (t.timestamp() for t in TIME_RANGE)
    fits = np.isfinite(secs) & (secs >= lo) & (secs <= hi)
    got = np.full(len(secs), np.datetime64("NaT"), dtype="datetime64[ns]")
    if fits.any():
        got[fits] = (pd.to_datetime(secs[fits], unit="s", utc=True).tz_convert(CST).tz_localize(None)).to_numpy()
    out[epoch] = got
    far[epoch[epoch].index[~fits & np.isfinite(secs)]] = True


def _fill_text(rest: pd.Series, values: pd.Series, *, out: pd.Series, naive: pd.Series, far: pd.Series) -> None:
    """Fill ``out``, ``naive`` and ``far`` at the rows of ``rest`` (text, ``/`` already ``-``): ISO 8601 in bulk,
    then ``2024年7月1日 8时30分``, then what is left one distinct value at a time."""
    # ISO 8601, naive (in tz) or with a zone (converted to CST)
    aware = rest.str.contains(_TZ_SUFFIX.pattern, regex=True).fillna(False).astype(bool)
    if (~aware).any():
        arr, oor = _ns(pd.to_datetime(rest[~aware], format="ISO8601", errors="coerce").to_numpy())
        out[rest.index[~aware]] = arr
        far[rest.index[~aware][oor]] = True
        naive[rest.index[~aware][~np.isnat(arr)]] = True
    if aware.any():
        ta = pd.to_datetime(rest[aware], format="ISO8601", errors="coerce", utc=True)
        arr, oor = _ns(ta.dt.tz_convert(CST).dt.tz_localize(None).to_numpy())
        out[rest.index[aware]] = arr
        far[rest.index[aware][oor]] = True
    left = rest[(out[rest.index].isna() & ~far[rest.index]).to_numpy()]
    # 2024年7月1日 8时30分
    zh = left.str.match(_ZH_DT.pattern).fillna(False).astype(bool)
    if zh.any():
        parts = left[zh].str.extract(_ZH_DT.pattern).astype(float).fillna(0)
        parts.columns = ["year", "month", "day", "hour", "minute", "second"]
        arr, oor = _ns(pd.to_datetime(parts, errors="coerce").to_numpy())
        out[parts.index] = arr
        far[parts.index[oor]] = True
        naive[parts.index[~np.isnat(arr)]] = True
    # anything the bulk parsers could not read: one value at a time (each distinct value once)
    left = left.index[(out[left.index].isna() & ~far[left.index]).to_numpy()]
    if len(left):
        raw = values[left].astype(object).astype(str)
        uniq = {v: _parse_one(v) for v in pd.unique(raw)}
        arr, oor = _ns([uniq[v][0] for v in raw])
        out[left] = arr
        far[left[oor]] = True
        naive[left[~np.isnat(arr) & np.array([not uniq[v][1] for v in raw], dtype=bool)]] = True


def _check_tz(tz: str) -> str:
    """``tz`` as an IANA zone name, or a clear error listing examples."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from gridmap.errors import UsageError

    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise UsageError(message("unknown time zone", where="--tz", got=repr(tz),
                                 fix="use an IANA name such as Asia/Shanghai (Beijing time), UTC or Asia/Hong_Kong")) \
            from None
    return str(tz)
