"""Codes (mixed-case, full-width, district prefixes, assignment) and household tables joined by name or code."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from gridmap.io import import_file, import_frame
from gridmap.io.admin_codes import assign_codes
from gridmap.io.names import normalise_name
from gridmap.io.tables import join_table, read_table
from gridmap.io.validate import normalise_code

MAP = {"code": "SQDM", "street_code": "JDDM", "name": "SQMC", "households": "HS"}


def layer(codes, names=None, hs=None, *, street="110101001"):
    n = len(codes)
    polys = [shapely.box(450000 + i * 1000, 4418000, 451000 + i * 1000, 4419000) for i in range(n)]
    return gpd.GeoDataFrame({"SQDM": codes, "JDDM": street, "SQMC": names or [f"社区{i}" for i in range(n)],
                             "HS": hs or [1500] * n}, geometry=polys, crs="EPSG:4548")


def test_full_width_spaced_and_excel_codes_are_normalised(store):
    f = layer(["１１０１０１００１００１", " 110101 001 002", "110101-001-003", "1.10101001004E+11"],
              hs=[1000, 1100, 1200, 1300])
    f["JDDM"] = ["１１０１０１００１", "110101001", "110101001", "110101001"]
    res = import_frame(store, "communities", f, mapping=MAP)
    assert res.written == 4, str(res)
    assert sorted(store.read("communities")["code"]) == [f"110101001{i:03d}" for i in range(1, 5)]


def test_mixed_case_codes_are_upper_cased_then_rejected_row_by_row(store):
    f = layer(["110101001001", "11010100100a", "110101002003"])
    res = import_frame(store, "communities", f, mapping=MAP, district="110101")
    reasons = {p.row: (p.reason, p.value) for p in res.rejected}
    assert res.written == 1
    assert reasons[1] == ("community code must be digits only", "11010100100A")
    assert "does not start with its street_code" in reasons[2][0]


def test_codes_must_belong_to_the_district_and_to_stored_streets(store):
    streets = gpd.GeoDataFrame({"code": ["110101001"], "district_code": ["110101"], "name": ["东华门街道"]},
                               geometry=[shapely.box(449000, 4417000, 456000, 4420000)], crs="EPSG:4548")
    assert import_frame(store, "streets", streets).written == 1
    f = layer(["110101001001", "110101002001", "110102001001"])
    f["JDDM"] = ["110101001", "110101002", "110102001"]
    res = import_frame(store, "communities", f, mapping=MAP, district="110101")
    by_row = {}
    for p in res.rejected:
        by_row.setdefault(p.row, []).append(p.reason)
    assert res.written == 1
    assert any("no such street in the store" in r for r in by_row[1])
    assert any("not in district 110101" in r for r in by_row[2])


def test_street_district_code_filled_from_code(store):
    s = gpd.GeoDataFrame({"code": ["110101001", "110101002"], "district_code": [None, "110101"]},
                         geometry=[shapely.box(450000, 4418000, 451000, 4419000),
                                   shapely.box(451000, 4418000, 452000, 4419000)],
                         crs="EPSG:4548")
    res = import_frame(store, "streets", s)
    assert res.written == 2 and any("district_code" in n for n in res.notes)
    assert set(store.read("streets")["district_code"]) == {"110101"}


def test_missing_codes_assigned_in_reading_order_after_stored_ones(store):
    import_frame(store, "communities", layer(["110101001001", "110101001005"]), mapping=MAP)
    # four new communities without codes: two rows (north, south), shuffled input order
    boxes = {"ne": (452000, 4421000), "nw": (450000, 4421000), "sw": (450000, 4418000), "se": (452000, 4418000)}
    names = ["se", "nw", "sw", "ne"]
    f = gpd.GeoDataFrame({"SQDM": [None] * 4, "JDDM": "110101001", "SQMC": names, "HS": 1500},
                         geometry=[shapely.box(x, y, x + 900, y + 900) for x, y in (boxes[n] for n in names)],
                         crs="EPSG:4548")
    res = import_frame(store, "communities", f, mapping=MAP, assign_codes=True)
    assert res.written == 4, str(res)
    got = dict(zip(store.read("communities")["name"], store.read("communities")["code"]))
    assert [got[n] for n in ("nw", "ne", "sw", "se")] == ["110101001006", "110101001007", "110101001008",
                                                          "110101001009"]
    assert "reading order" in str(res)


def test_assignment_capacity_error():
    from gridmap.errors import CapacityError

    f = layer([None, None])
    f = f.rename(columns={"SQDM": "code", "JDDM": "street_code"})
    with pytest.raises(CapacityError, match="cannot assign 2 more codes"):
        assign_codes(f, layer="communities", taken=["110101001998"])


@given(st.text(alphabet="0123456789", min_size=6, max_size=15))
def test_full_width_digits_round_trip(digits):
    full = "".join(chr(ord(c) + 0xFEE0) for c in digits)
    assert normalise_code(full) == normalise_code(f" {digits} ") == digits


@pytest.mark.parametrize("raw,expected", [("东华门社区居委会", "东华门"), ("东华门社区", "东华门"), (" 东华门　", "东华门"),
                                          ("东华门社区居民委员会", "东华门"), ("北新桥村", "北新桥"), ("社区", "社区"),
                                          ("ＡＢ小区", "AB小区")])
def test_names_normalised(raw, expected):
    assert normalise_name(raw) == expected


def household_table():
    """Names differing by suffix and width, one repeated row, one conflicting duplicate, one unknown community."""
    return pd.DataFrame({
        "社区名称": ["东华门社区居委会", "景山", "交道口 社区", "交道口社区", "北新桥社区", "北新桥社区居委会", "和平里社区"],
        "户数": ["1200", "2400", "3100", "3100", "900", "950", "800"],
    })


@pytest.mark.parametrize("fmt", ["xlsx", "csv-gbk", "csv-utf8"])
def test_household_table_joined_by_name(store, tmp_path, fmt):
    t = household_table()
    path = tmp_path / ("hs.xlsx" if fmt == "xlsx" else "hs.csv")
    if fmt == "xlsx":
        t.to_excel(path, index=False)
    else:
        t.to_csv(path, index=False, encoding="gbk" if fmt == "csv-gbk" else "utf-8")
    f = layer(["110101001001", "110101001002", "110101001003", "110101001004", "110101001005"],
              names=["东华门社区", "景山社区", "交道口社区", "北新桥社区", "东四社区"], hs=[None] * 5)
    shp = tmp_path / "sq.gpkg"
    f.to_file(shp, engine="pyogrio")
    res = import_file(store, "communities", shp, mapping={"code": "SQDM", "street_code": "JDDM", "name": "SQMC"},
                      table=path, join_on="name", table_key="社区名称", table_mapping={"households": "户数"})
    stored = dict(zip(store.read("communities")["name"], store.read("communities")["households"]))
    assert stored == {"东华门社区": 1200, "景山社区": 2400, "交道口社区": 3100}, str(res)
    j = res.join
    assert j.matched == 3
    assert j.duplicates_dropped == [5]                     # 交道口社区 repeated verbatim (spreadsheet row 5)
    assert sorted(j.unmatched_layer) == ["东四社区", "北新桥社区"]  # 北新桥: conflicting rows; 东四: not in the table
    assert j.unmatched_table == [(8, "和平里社区")]
    conflicts = [p for p in j.problems if "several rows" in p.reason]
    assert [p.row for p in conflicts] == ["table row 6", "table row 7"]
    # the communities without households are rejected row by row, nothing else
    assert {p.row for p in res.rejected} == {3, 4}
    assert "not in the layer: row 8 和平里社区" in str(res)


def test_table_joined_by_code_with_full_width_codes():
    lay = pd.DataFrame({"code": ["110101001001", "110101001002"]})
    t = pd.DataFrame({"SQDM": ["１１０１０１００１００１", "110101001009"], "HS": ["1500", "700"]})
    out, rep = join_table(lay, t, on="code", table_key="sqdm", columns={"households": "hs"})
    assert out["households"].tolist() == ["1500", None]
    assert rep.unmatched_layer == ["110101001002"] and rep.unmatched_table == [(3, "110101001009")]


def test_read_table_refuses_xls(tmp_path):
    from gridmap.errors import ValidationError

    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ValidationError, match="save it as .xlsx"):
        read_table(tmp_path / "old.xls")
