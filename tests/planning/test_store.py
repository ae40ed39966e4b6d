"""Planning on layers read back from the store (SpatiaLite and PostGIS): nullable Int64 counts with <NA>.

Both backends return ``households`` / ``population`` as pandas' nullable ``Int64``; an unknown value is
``<NA>``, on which ``float()`` and ``if`` raise. Regression: build_atoms crashed with
"float() argument must be ... not 'NAType'" on compounds whose population is unknown.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.split_cases import make_case  # noqa: E402
from tests.planning.verify import verify  # noqa: E402

from gridmap.errors import ValidationError  # noqa: E402
from gridmap.planning import build_atoms, check_streets, flag_communities, propose_splits  # noqa: E402


def _write_case(store, *, population):
    case = make_case(1)
    code = case["community"]["code"].iloc[0]
    com = case["community"].copy()
    com["population"] = None
    store.write("communities", com)
    cmp = case["compounds"].copy()
    cmp["community_code"] = code
    cmp["population"] = population(cmp)
    store.write("compounds", cmp)
    return case, code


def test_split_on_compounds_read_back_with_unknown_population(store):
    # population unknown for every compound but two
    case, code = _write_case(store, population=lambda c: [None] * (len(c) - 2) + [2000, 3000])
    com = store.read("communities", where={"code": code})
    cmp = store.read("compounds", where={"community_code": code})
    # the precondition this test is about: the store gives nullable integers with <NA>
    assert str(cmp["population"].dtype) == "Int64" and cmp["population"].isna().sum() == len(cmp) - 2
    assert str(cmp["households"].dtype) == "Int64" and str(com["population"].dtype) == "Int64"
    atoms = build_atoms(com, cmp, cells=case["cells"], barriers=case["barriers"])
    assert atoms["households"].dtype.kind == "i" and atoms["population"].dtype == np.float64
    props = propose_splits(com, atoms, barriers=case["barriers"], roads=case["roads"], cells=case["cells"],
                           time_limit_s=20.0)
    assert not verify(com, atoms, props, floor=1000, ceiling=3000, barriers=case["barriers"], compounds=cmp)
    best = props[0]
    assert best.parts["households"].sum() == int(case["compounds"]["households"].sum())
    # known population is summed per part; a part with none known says NaN, not 0
    known = cmp.set_index("code")["population"].dropna()
    for pid, row in best.parts.iterrows():
        mine = [a for a in row["atoms"] if a in known.index]
        if mine:
            assert row["population"] == pytest.approx(float(known.loc[mine].sum()))
        else:
            assert np.isnan(row["population"])
    # flags and the street standard on the same read-back frames (population <NA>: estimated from households)
    f = flag_communities(com)
    assert f["size_class"].iloc[0].name in ("ADJUST", "SUPER_LARGE")
    streets = gpd.GeoDataFrame({"code": com["street_code"].tolist()}, geometry=list(com.geometry), crs=com.crs)
    s = check_streets(streets, com)
    assert s["population"].iloc[0] == round(int(com["households"].iloc[0]) * 2.31)


def test_missing_households_read_back_are_a_clear_error(store):
    def pop(c):
        return [None] * len(c)
    case, code = _write_case(store, population=pop)
    cmp = store.read("compounds", where={"community_code": code})
    com = store.read("communities", where={"code": code})
    missing = cmp["code"].iloc[3]
    with store.engine.begin() as conn:  # a household count lost after import (e.g. edited in QGIS)
        from sqlalchemy import text
        conn.execute(text("UPDATE compounds SET households = NULL WHERE code = :c"), {"c": missing})
    cmp = store.read("compounds", where={"community_code": code})
    assert cmp["households"].isna().sum() == 1
    with pytest.raises(ValidationError) as ei:
        build_atoms(com, cmp)
    assert f"row {missing}, field 'households': missing" in str(ei.value)
    com2 = com.copy()
    com2["households"] = pd.array([None], dtype="Int64")
    with pytest.raises(ValidationError, match="missing or not a number"):
        flag_communities(com2)
