"""The complaint CSV reader (pyarrow first, pandas' C parser as fallback) must give exactly the frame pandas' C
parser gives on the awkward files real exports contain, and a broken file must still be refused with the line."""

from __future__ import annotations

import pandas as pd
import pytest

from gridmap.errors import InputFileError
from gridmap.io.complaints import _read_text_table, read_complaints

CASES = {
    "leading zeros and empty cells": ("utf-8", "source_id,lon,lat,text\n007,116.1,,a\n0010,,39.9,\n"),
    "quoted newline and comma": ("utf-8", 'source_id,text\n001,"漏雨\n第二行"\n002,"x,y"\n'),
    "BOM": ("utf-8-sig", "source_id,text\n001,漏雨\n"),
    "GB18030": ("gb18030", "source_id,text,地址\n001,楼顶漏雨,朝阳区\n"),
    "duplicate headers and blank line": ("utf-8", "a,a,b\n1,2,3\n\n4,5,6\n"),
    "spaces and NA kept as text": ("utf-8", "a, b\n 1 , NA\nnull,N/A\n"),
    "tab separated": ("utf-8", "source_id\ttext\n001\ta b\n"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_reader_equals_pandas_c_parser(tmp_path, name):
    codec, text = CASES[name]
    p = tmp_path / "x.csv"
    p.write_bytes(text.encode(codec))
    sep = "\t" if "\t" in text else ","
    encoding = "gb18030" if codec == "gb18030" else "utf-8-sig"
    ours = _read_text_table(p, sep=sep, encoding=encoding)
    ref = pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False, na_values=[""], encoding=encoding, engine="c")
    pd.testing.assert_frame_equal(ours, ref)


def test_a_ragged_file_is_refused_naming_the_file(tmp_path):
    p = tmp_path / "ragged.csv"
    p.write_text("source_id,lon,lat\n001,116.4,39.9\n002,116.4,39.9,extra\n", encoding="utf-8")
    with pytest.raises(InputFileError) as err:
        read_complaints(p)
    assert "ragged.csv" in str(err.value) and "line 3" in str(err.value)


def test_a_file_cut_inside_a_quoted_field_is_refused(tmp_path):
    p = tmp_path / "cut.csv"
    p.write_text("source_id,received_at,lon,lat,text\n001,2025-07-01 08:00,116.4,39.9,ok\n"
                 '002,2025-07-01 09:00,116.4,39.9,"屋顶漏雨\n003,', encoding="utf-8")
    with pytest.raises(InputFileError):
        read_complaints(p)


def test_a_stray_quote_inside_an_unquoted_field_reads_as_the_c_parser_reads_it(tmp_path):
    p = tmp_path / "stray.csv"
    p.write_text('source_id,text\n001,屏幕5"大\n002,ok\n', encoding="utf-8")
    ref = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig", engine="c")
    pd.testing.assert_frame_equal(_read_text_table(p, sep=",", encoding="utf-8-sig"), ref)
