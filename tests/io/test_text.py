"""gridmap.io.text.clean_text against Python's own ``unicodedata.normalize("NFKC", v).strip()``, value by value."""

import random
import sys
import unicodedata

import pandas as pd
import pytest

from gridmap.io.text import WHITESPACE, clean_text


def _python(v):
    if v is None:
        return None
    t = unicodedata.normalize("NFKC", str(v)).strip()
    return t or None


def test_whitespace_is_pythons():
    assert WHITESPACE == "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_text_equals_python(seed):
    rng = random.Random(seed)
    pool = [chr(c) for c in range(0x20000) if not 0xD800 <= c < 0xE000]
    # compatibility forms (full-width, ideographic space, ligatures, circled digits) are where NFKC changes text
    special = "２０２４／年月日　\u00a0\ufb01\u2460ｱ\u3000\u2028\x1c" + WHITESPACE
    values = []
    for _ in range(5000):
        k = rng.randint(0, 8)
        v = "".join(rng.choice(pool) if rng.random() < 0.4 else rng.choice(special + "ab12-: ") for _ in range(k))
        values.append(None if rng.random() < 0.05 else v)
    got = [None if v is pd.NA else v for v in clean_text(pd.Series(values, dtype=object))]
    assert got == [_python(v) for v in values]


def test_other_types_read_as_str():
    s = pd.Series([5, 2.5, True, None, " x "], dtype=object)
    assert [None if v is pd.NA else v for v in clean_text(s)] == ["5", "2.5", "True", None, "x"]


def test_csv_columns_keep_index():
    s = pd.Series(["a", " ", "ｂ"], index=[10, 11, 12], dtype="str")
    out = clean_text(s)
    assert out.index.tolist() == [10, 11, 12] and out.isna().tolist() == [False, True, False] and out[12] == "b"


def test_numbers_equal_pandas_and_python():
    from gridmap.io.text import numbers

    rng = random.Random(5)
    values = [f"{rng.choice('+-') if rng.random() < 0.2 else ''}{rng.randint(0, 999)}.{rng.randint(0, 10 ** 17):017d}"
              + (f"e{rng.randint(-300, 300)}" if rng.random() < 0.2 else "") for _ in range(20_000)]
    values += ["inf", "-Infinity", "nan", ".5", "1.", "7", None]
    s = pd.Series(values, dtype="str")
    got = numbers(s)
    want = pd.to_numeric(s, errors="coerce").astype(float)
    pd.testing.assert_series_equal(got, want)
    assert [float(v) for v in values[:20_000]] == got[:20_000].tolist()  # Python's own (correctly rounded) reading
    # a column Arrow cannot read whole goes to pandas: spaces, underscores, full-width digits, words
    odd = pd.Series([" 1.5", "1_000", "１２", "abc", "2"], dtype="str")
    pd.testing.assert_series_equal(numbers(odd), pd.to_numeric(odd, errors="coerce").astype(float))
