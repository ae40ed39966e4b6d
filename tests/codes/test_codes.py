"""Cell, area and component codes; the component catalog and user extensions."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from gridmap.codes import (MAX_SERIAL, CellCode, ComponentCode, format_cell_code, format_component_code,
                           load_catalog, next_free_serials, parse_any_component_code, parse_cell_code,
                           parse_component_code, parse_national_id, street_kind, to_national_id)
from gridmap.codes.catalog import UnknownClassError, default_catalog
from gridmap.errors import CapacityError, CodeError, ValidationError

# every minor class of the old national scheme (CJ/T 214-2007, GB/T 30428.2-2013) known with a code, with its name
STANDARD_MINORS = {
    "0101": "上水井盖", "0102": "污水井盖", "0103": "雨水井盖", "0104": "雨水箅子", "0105": "电力井盖",
    "0106": "路灯井盖", "0107": "通讯井盖", "0108": "电视井盖", "0109": "网络井盖", "0110": "热力井盖",
    "0111": "燃气井盖", "0112": "公安井盖", "0113": "消防设施", "0201": "停车场", "0202": "停车咪表",
    "0203": "公交站亭", "0204": "出租车站牌", "0205": "过街天桥", "0206": "地下通道", "0207": "高架立交桥",
    "0208": "跨河桥", "0209": "交通标志牌", "0301": "公共厕所", "0302": "化粪池", "0303": "公厕指示牌",
    "0304": "垃圾间(楼)", "0305": "垃圾箱", "0306": "灯箱霓虹灯", "0307": "广告牌匾", "0401": "古树名木",
    "0402": "行道树", "0404": "花架花钵", "0405": "绿地", "0406": "雕塑", "0407": "街头座椅", "0501": "宣传栏",
    "0502": "人防工事", "0503": "公房地下室",
}


# -- cell and area codes ---------------------------------------------------------------------------------


def test_cell_code_parts_and_format():
    c = parse_cell_code("110101001002003")
    assert isinstance(c, CellCode)
    assert (c.district, c.street, c.community, c.sequence) == ("110101", "110101001", "110101001002", 3)
    assert format_cell_code("110101001002", 999) == "110101001002999"
    assert [street_kind(s) for s in ("110101001", "110101100", "110101200")] == ["街道", "镇", "乡"]


@pytest.mark.parametrize("bad, match", [
    ("11010100100200", "15 digits, has 14"),
    ("1101010010020031", "15 digits, has 16"),
    ("11010100100200A", "digits only"),
    ("１１０１０１００１００２００３", "full-width"),
    ("110101 001002003", "remove spaces"),
    ("110101000002003", "street number must be 001-399"),
    ("110101001002000", "sequence 000"),
    (110101001002003, "string of digits"),
    (None, "missing"),
])
def test_cell_code_errors(bad, match):
    with pytest.raises(CodeError, match=match):
        parse_cell_code(bad)


def test_cell_sequence_overflow_is_capacity_error():
    with pytest.raises(CapacityError, match="110101001002.*999"):
        format_cell_code("110101001002", 1000)


@given(st.from_regex(r"110[0-9]{3}0[0-9][1-9][0-9]{3}[0-9]{2}[1-9]", fullmatch=True))
def test_cell_code_round_trip(code):
    c = parse_cell_code(code)
    assert format_cell_code(c.community, c.sequence) == code


# -- component codes -------------------------------------------------------------------------------------


def test_component_code_and_national_id():
    c = parse_component_code("01010023")
    assert c == ComponentCode("0101", 23) and c.major == "01"
    assert c.national_id("320508") == "3205080101000023"
    assert parse_national_id("3205080101000001") == ("320508", ComponentCode("0101", 1))
    assert to_national_id("06010007", "110101") == "1101010601000007"
    assert parse_any_component_code("1101010101000023") == ("110101", ComponentCode("0101", 23))
    assert parse_any_component_code("0101 0023", district_code="110101") == ("110101", ComponentCode("0101", 23))


@pytest.mark.parametrize("bad, exc, match", [
    ("0101002", CodeError, "8 digits, has 7"),
    ("0101002X", CodeError, "digits only"),
    ("０１０１００２３", CodeError, "full-width"),
    ("01010000", CodeError, "serial 0000"),
    ("09010001", UnknownClassError, "no major class 09"),
    ("01140001", UnknownClassError, "did you mean: 0113 消防设施"),
])
def test_component_code_errors(bad, exc, match):
    with pytest.raises(exc, match=match):
        parse_component_code(bad)


def test_national_id_errors():
    with pytest.raises(CapacityError, match="exceeds 9,999"):
        parse_national_id("1101010101010000")
    with pytest.raises(CodeError, match="16 digits"):
        parse_national_id("110101010100001")
    with pytest.raises(CodeError, match="8 or 16 digits, has 12"):
        parse_any_component_code("110101010100")
    with pytest.raises(CodeError, match="belongs to district 110102"):
        parse_any_component_code("1101020101000001", district_code="110101")


def test_serial_overflow_and_next_free():
    assert format_component_code("0101", 9999) == "01019999"
    with pytest.raises(CapacityError, match="0001-9999"):
        format_component_code("0101", 10_000)
    used = ["01010001", "01010005", "01020009", "1101010101000007", 3]
    assert next_free_serials(used, "0101", 3) == [8, 9, 10]
    assert next_free_serials(used, "0101", 3, reuse_gaps=True) == [2, 4, 6]
    assert next_free_serials([], "0601", 2) == [1, 2]
    with pytest.raises(CapacityError, match="class 0101 needs 2 new serial\\(s\\) but only 1 remain"):
        next_free_serials(["01019998"], "0101", 2)
    full = [f"0101{i:04d}" for i in range(1, MAX_SERIAL + 1)]
    with pytest.raises(CapacityError, match="only 0 free"):
        next_free_serials(full, "0101", 1, reuse_gaps=True)


@given(st.sampled_from(sorted(STANDARD_MINORS)), st.integers(1, 9999), st.from_regex(r"[1-6][0-9]{5}", fullmatch=True))
def test_component_round_trip(cls, serial, district):
    code = format_component_code(cls, serial)
    assert parse_component_code(code) == ComponentCode(cls, serial)
    nid = to_national_id(code, district)
    assert parse_national_id(nid) == (district, ComponentCode(cls, serial))


# -- catalog ---------------------------------------------------------------------------------------------


def test_catalog_has_every_documented_class():
    cat = load_catalog()
    assert {k: v[0] for k, v in cat.majors.items()} == {"01": "公用设施", "02": "道路交通", "03": "市容环境",
                                                        "04": "园林绿化", "05": "房屋土地", "06": "其他设施"}
    for code, name in STANDARD_MINORS.items():
        assert cat.name(code) == name
        assert cat.get(code).source == "national"
    local = {c.code: c.name for c in cat.classes.values() if c.source == "local"}
    assert local == {"0601": "路灯", "0602": "立杆/电线杆", "0603": "报刊亭", "0604": "邮筒", "0605": "健身设施"}
    frame = cat.to_frame()
    assert frame["code"].is_unique and len(frame) == len(STANDARD_MINORS) + 5
    assert [c.code for c in cat.find("井盖")][:3] == ["0101", "0102", "0103"]


def test_catalog_suggestions_by_name():
    cat = load_catalog()
    assert cat.suggest("路灯")[0] == "0601 路灯"
    with pytest.raises(CodeError, match="class code"):
        cat.check("01a1")


def test_user_catalog_json_and_csv(tmp_path, monkeypatch):
    j = tmp_path / "local.json"
    j.write_text(json.dumps({"majors": [{"code": "07", "name": "扩展部件"}],
                             "classes": [{"code": "0114", "name": "中水井盖"}, {"code": "0701", "name": "充电桩"},
                                         {"code": "0601", "name": "路灯(本地)"}]}, ensure_ascii=False),
                 encoding="utf-8")
    cat = load_catalog(j)
    assert cat.name("0114") == "中水井盖" and cat.major_name("0701") == "扩展部件"
    assert cat.name("0601") == "路灯(本地)"
    assert "0114" not in load_catalog()  # the built-in catalog is not changed
    c = tmp_path / "local.csv"
    c.write_text("code,name,name_en\n0115,中水井盖2,reclaimed water cover\n", encoding="utf-8")
    assert load_catalog(c).get("0115").name_en == "reclaimed water cover"
    monkeypatch.setenv("GRIDMAP_CATALOG", str(c))
    assert "0115" in default_catalog()
    assert parse_component_code("01150001").class_code == "0115"


def test_user_catalog_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name\n0901,x\n01a,y\n0116,\n", encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        load_catalog(bad)
    assert len(err.value.problems) == 2
    orphan = tmp_path / "orphan.csv"
    orphan.write_text("code,name\n0901,x\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="unknown major"):
        load_catalog(orphan)
    with pytest.raises(FileNotFoundError):
        load_catalog(tmp_path / "missing.json")
