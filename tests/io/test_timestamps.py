"""The bulk reader of the common time shape (``timestamps._fixed_iso``) against the general path it short-cuts:
same times, same naive/out-of-range flags, on random texts of every shape near the common one (bad dates, 24:00,
leap days, other separators, fractions, zones, full-width digits), in Beijing time and in another zone; and each
value against the one-value reader ``parse_timestamp`` (pandas.Timestamp underneath), an independent parser."""

import random

import numpy as np
import pandas as pd
import pytest

import gridmap.io.timestamps as ts


def _without_fast_path(monkeypatch):
    monkeypatch.setattr(ts, "_fixed_iso", lambda text: (np.zeros(len(text), dtype=bool),
                                                       np.full(len(text), np.datetime64("NaT"), "datetime64[ns]")))


def _texts(seed: int, n: int = 4000) -> list:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        def pick(usual, *odd):  # mostly a usual value, sometimes an odd one
            return usual if rng.random() < 0.9 else rng.choice(odd)

        y = pick(rng.randint(1990, 2030), 1677, 1699, 1700, 2200, 2201, 2262, 999, 9999)
        mo, d = pick(rng.randint(1, 12), 0, 13), pick(rng.randint(1, 28), 29, 30, 31, 0, 32)
        h, mi, s = pick(rng.randint(0, 23), 24), pick(rng.randint(0, 59), 60), pick(rng.randint(0, 59), 60)
        sep1, sep2, mid = pick("-", "/", "."), pick("-", "/", "."), pick(" ", "T", "_", "  ")
        v = f"{y:04d}{sep1}{mo:02d}{sep2}{d:02d}"
        shape = rng.random()
        if shape < 0.5:
            v += f"{mid}{h:02d}:{mi:02d}:{s:02d}"
        elif shape < 0.7:
            v += f"{mid}{h:02d}:{mi:02d}"
        elif shape < 0.75:
            v += f"{mid}{h:02d}:{mi:02d}:{s:02d}.{rng.randint(0, 999)}"
        elif shape < 0.8:
            v += f"{mid}{h:02d}:{mi:02d}:{s:02d}" + rng.choice(["Z", "+08:00", "-0500"])
        elif shape < 0.85:
            v = f"{y}{sep1}{mo}{sep2}{d} {h}:{mi}"
        if rng.random() < 0.05:
            v = v.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        if rng.random() < 0.05:
            v = " " + v + "\u3000"
        out.append(None if rng.random() < 0.02 else v)
    return out


@pytest.mark.parametrize("tz", ["Asia/Shanghai", "America/New_York"])
@pytest.mark.parametrize("seed", [0, 1])
def test_fast_path_equals_general_path(monkeypatch, seed, tz):
    s = pd.Series(_texts(seed), dtype="str")
    hit, _ = ts._fixed_iso(ts.clean_text(s))
    assert 0.3 < hit.mean() < 0.9  # the comparison covers both paths
    info_fast: dict = {}
    fast = ts.parse_timestamps(s, tz=tz, info=info_fast)
    _without_fast_path(monkeypatch)
    info_slow: dict = {}
    slow = ts.parse_timestamps(s, tz=tz, info=info_slow)
    pd.testing.assert_series_equal(fast, slow)
    for k in ("naive", "out_of_range"):
        pd.testing.assert_series_equal(info_fast[k], info_slow[k])


def test_fast_path_equals_one_value_reader():
    values = _texts(7, 1500)
    got = ts.parse_timestamps(pd.Series(values, dtype="str"))
    hit, _ = ts._fixed_iso(ts.clean_text(pd.Series(values, dtype="str")))
    for v, g, h in zip(values, got, hit):
        if h:
            assert g == ts.parse_timestamp(v), v


def test_a_zone_shift_past_the_end_of_the_range_is_out_of_range():
    """Found by the comparison above: 2262-04-11 17:24 in New York is past the last representable time once in
    Beijing time; the bulk conversion raised OutOfBoundsDatetime (a traceback for the user)."""
    info: dict = {}
    got = ts.parse_timestamps(pd.Series(["2262-04-11 17:24:47", "2262-04-10 08:00:00", "2025-03-09 02:30:00"]),
                              tz="America/New_York", info=info)
    assert got.isna().tolist() == [True, False, True]  # past the range; in range; a time New York skipped (DST)
    assert got[1] == pd.Timestamp("2262-04-10 20:00:00")
    assert info["out_of_range"].tolist() == [True, False, False]
