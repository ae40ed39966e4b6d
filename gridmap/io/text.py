"""Cell text as the importers compare it: NFKC, stripped of whitespace, empty -> missing; whole columns at a time.

:func:`clean_text` gives, for every value, exactly ``unicodedata.normalize("NFKC", str(v)).strip()`` (``None``
where that is empty or the value is missing), but in Arrow kernels: ASCII text is already NFKC-stable, so only
the non-ASCII values go through Python's ``unicodedata`` (each distinct value once), and the strip uses Python's
own set of whitespace characters (:data:`WHITESPACE`), not Arrow's, so the two cannot disagree.

>>> clean_text(pd.Series([" ２０２４-07-01 ", "\\u3000是", "", None, 5])).tolist()
['2024-07-01', '是', <NA>, <NA>, '5']
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["WHITESPACE", "arrow_strings", "clean_text", "numbers", "per_distinct"]

#: The characters ``str.strip()`` removes (``str.isspace``), listed once (a test checks it against Python).
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
              "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def arrow_strings(s: pd.Series) -> pa.Array:
    """The column as one Arrow string array (null where missing; other values as ``str()`` makes them, the way
    ``Series.astype("string")`` does). A column pyarrow's CSV reader made is taken without a copy of its text."""
    arr = getattr(s.array, "_pa_array", None)
    if arr is None or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        as_text = s.astype("string")
        arr = getattr(as_text.array, "_pa_array", None)
        if arr is None:  # a python-backed string array
            arr = pa.array(as_text.to_numpy(dtype=object, na_value=None), type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr


def clean_text(s: pd.Series) -> pd.Series:
    """NFKC-normalised, stripped text of every value (a ``string`` Series, NA where missing or empty)."""
    arr = arrow_strings(s)
    other = pc.invert(pc.fill_null(pc.string_is_ascii(arr), True))
    if pc.any(other).as_py():
        sub = pc.filter(arr, other).dictionary_encode()
        done = pa.array([unicodedata.normalize("NFKC", v) for v in sub.dictionary.to_pylist()], type=arr.type)
        arr = pc.replace_with_mask(arr, other, done.take(sub.indices))
    arr = pc.utf8_trim(arr, characters=WHITESPACE)
    arr = pc.if_else(pc.equal(pc.binary_length(arr), 0), pa.scalar(None, arr.type), arr)
    return pd.Series(pd.arrays.ArrowStringArray(arr if pa.types.is_large_string(arr.type) else arr.cast(
        pa.large_string())), index=s.index)


def numbers(s: pd.Series) -> pd.Series:
    """``pd.to_numeric(s, errors="coerce")`` as float64 (NaN where missing or not a number).

    A text column Arrow's parser reads whole (no value it cannot read) is read by it, in a third of the time,
    with the same doubles (both round correctly; a test compares them); any other column goes to pandas, which
    also reads what Arrow refuses (surrounding spaces, ``1_000``) or turns it into NaN. The one difference: ``-0``
    is -0.0 here and 0.0 in pandas, which compare equal."""
    arr = getattr(s.array, "_pa_array", None)
    if arr is not None and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        try:
            got = arr.cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        else:
            return pd.Series(got.to_numpy(zero_copy_only=False), index=s.index, dtype=float)
    return pd.to_numeric(s, errors="coerce").astype(float)


def per_distinct(s: pd.Series, fn: Callable[[Any], Any]) -> np.ndarray:
    """``fn`` of each row's value, called once per distinct value (an object array; None where ``s`` is missing).

    For the importers' lookups (category names, exclusion reasons): a column of 300,000 rows holds a few hundred
    distinct values at most, and ``Series.map`` on a text column calls Python once a row."""
    codes, distinct = pd.factorize(s, use_na_sentinel=True)
    found = np.empty(len(distinct) + 1, dtype=object)  # the last: missing values (code -1)
    found[:-1] = [fn(v) for v in distinct]
    return found[codes]
