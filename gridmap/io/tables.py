"""Attribute tables (Excel ``.xlsx`` or CSV) joined to a layer by code or by name.

Household counts usually live in a spreadsheet keyed by community name, not in the GIS. :func:`join_table` brings
the mapped columns of such a table onto a layer and reports, both ways, what did not match:

* by **code**: codes are normalised first (full-width digits, spaces, ``.0`` from Excel floats);
* by **name**: names are normalised (:func:`gridmap.io.names.normalise_name`: full-width, spaces, 社区居委会/社区/
  村委会 ... suffixes);
* rows repeated verbatim in the table are dropped once (noted); rows with the same key but different values are
  a conflict: that key is not joined and every such row is reported;
* keys on the layer side that are ambiguous after normalisation (two communities both 新村) are not joined.

Rows are numbered as a spreadsheet shows them (the header is row 1, the first data row is row 2).

Examples
--------
>>> import pandas as pd
>>> layer = pd.DataFrame({"name": ["东华门社区", "景山社区", "交道口社区"]})
>>> table = pd.DataFrame({"社区名称": ["东华门社区居委会", "景山", "和平里社区"], "户数": ["1200", "2400", "900"]})
>>> joined, report = join_table(layer, table, on="name", table_key="社区名称", columns={"households": "户数"})
>>> joined["households"].tolist()
['1200', '2400', None]
>>> report.unmatched_layer, report.unmatched_table
(['交道口社区'], [(4, '和平里社区')])
"""

from __future__ import annotations

import enum
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from gridmap.errors import InputFileError, Problem, ValidationError, message
from gridmap.io.encoding import detect_encoding
from gridmap.io.mapping import resolve_mapping
from gridmap.io.names import normalise_names
from gridmap.io.validate import normalise_code

__all__ = ["JoinOn", "JoinReport", "read_table", "join_table"]

log = logging.getLogger(__name__)


class JoinOn(str, enum.Enum):
    """How a table is matched to a layer."""

    CODE = "code"
    NAME = "name"


@dataclass
class JoinReport:
    """What a table join matched, and everything it could not match, both ways."""

    on: str
    matched: int = 0
    unmatched_layer: list[str] = field(default_factory=list)
    unmatched_table: list[tuple[int, str]] = field(default_factory=list)
    duplicates_dropped: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report as text lines (for the CLI and :class:`~gridmap.io.ImportResult`)."""
        out = [f"table joined by {self.on}: {self.matched} matched, {len(self.unmatched_layer)} layer feature(s) "
               f"without a table row, {len(self.unmatched_table)} table row(s) without a feature"]
        if self.unmatched_layer:
            out.append("  not in the table: " + ", ".join(self.unmatched_layer[:30])
                       + (" ..." if len(self.unmatched_layer) > 30 else ""))
        if self.unmatched_table:
            out.append("  not in the layer: " + ", ".join(f"row {r} {k}" for r, k in self.unmatched_table[:30])
                       + (" ..." if len(self.unmatched_table) > 30 else ""))
        if self.duplicates_dropped:
            out.append("  repeated rows dropped: " + ", ".join(f"row {r}" for r in self.duplicates_dropped))
        out += [f"  {p}" for p in self.problems]
        return out


def read_table(path: str | os.PathLike, *, sheet: str | int | None = None, encoding: str | None = None) -> pd.DataFrame:
    """Read an ``.xlsx`` sheet or a CSV as text columns (codes keep their leading zeros).

    CSV encoding is detected (UTF-8 with or without BOM, else GB18030) unless ``encoding`` is given.
    """
    from gridmap.io._reading import check_not_empty, reading

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(message("table file not found", got=str(p)))
    check_not_empty(p)
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        try:
            with reading(p):
                df = pd.read_excel(p, sheet_name=sheet if sheet is not None else 0, dtype=str, engine="openpyxl")
        except ImportError as exc:
            raise ValidationError(f"{p.name}: reading Excel needs openpyxl", [Problem(None, None, str(exc))],
                                  fix="pip install 'gridmap[excel]' (or openpyxl), or save the sheet as CSV") from exc
        except (KeyError, ValueError) as exc:  # openpyxl: a zip without a workbook, a missing sheet ...
            if isinstance(exc, InputFileError):
                raise
            raise InputFileError("the Excel workbook cannot be read", path=p, got=str(exc).splitlines()[0] if str(exc)
                                 else type(exc).__name__,
                                 fix="open it in Excel/WPS and save it again as .xlsx (check --sheet / --table-sheet), "
                                     "or export the sheet as CSV") from exc
    elif suffix == ".xls":
        raise ValidationError(f"{p.name}: old .xls workbooks are not read", [Problem(None, None, "format .xls")],
                              fix="save it as .xlsx (Excel/WPS: Save As > Excel Workbook) or as CSV")
    else:
        enc = detect_encoding(p, encoding=encoding).encoding
        with reading(p, encoding=enc):
            df = pd.read_csv(p, sep="\t" if suffix == ".tsv" else ",", dtype=str, encoding=enc,
                             keep_default_na=False, na_values=[""])
    df.columns = [str(c).strip() for c in df.columns]
    df = df.dropna(how="all")
    return df


def _keys(values: pd.Series, on: JoinOn) -> pd.Series:
    if on is JoinOn.CODE:
        return values.map(normalise_code).astype(object)
    return normalise_names(values)


def join_table(layer: pd.DataFrame, table: pd.DataFrame, *, on: str | JoinOn = JoinOn.CODE,
               layer_key: str | None = None, table_key: str, columns: dict[str, str],
               where: str = "table") -> tuple[pd.DataFrame, JoinReport]:
    """Bring ``columns`` (ours = table's) of ``table`` onto ``layer`` where the keys match; report the rest.

    Parameters
    ----------
    layer : the layer's frame (already renamed to gridmap columns); not modified.
    table : the attribute table (see :func:`read_table`).
    on : ``'code'`` or ``'name'``.
    layer_key : the layer's key column (default: ``on``).
    table_key : the table's key column (matched ignoring case and width).
    columns : ``{our column: table column}`` to bring over; table values replace the layer's.

    Returns
    -------
    (a new frame with the columns filled where matched, the :class:`JoinReport`)
    """
    on = JoinOn(on)
    layer_key = layer_key or on.value
    if layer_key not in layer.columns:
        raise ValidationError(f"cannot join {where}: the layer has no {layer_key!r} column",
                              [Problem(None, layer_key, "missing")], fix=f"map it with --map {layer_key}=COLUMN")
    resolved = resolve_mapping({"__key__": table_key, **columns}, table, where=where)
    tkey = resolved.pop("__key__")
    report = JoinReport(on=on.value)
    t = table[[tkey, *resolved.values()]].copy()
    rownum = pd.Series(range(2, len(table) + 2), index=table.index)  # spreadsheet row numbers
    t["__key"] = _keys(t[tkey], on)
    for i in t.index[t["__key"].isna()]:
        report.problems.append(Problem(f"{where} row {rownum[i]}", tkey, "key is empty"))
    t = t[t["__key"].notna()]
    value_cols = list(resolved.values())
    exact = t.duplicated(subset=["__key", *value_cols], keep="first")
    report.duplicates_dropped = [int(rownum[i]) for i in t.index[exact]]
    t = t[~exact]
    conflict = t["__key"].duplicated(keep=False)
    for i in t.index[conflict]:
        report.problems.append(Problem(f"{where} row {rownum[i]}", tkey, "the same key appears in several rows with "
                                       "different values; not joined", t.at[i, tkey]))
    t = t[~conflict]
    lkeys = _keys(layer[layer_key], on)
    ambiguous = lkeys.notna() & lkeys.duplicated(keep=False)
    for i in layer.index[ambiguous]:
        report.problems.append(Problem(i, layer_key, f"several features share this {on.value} after normalisation; "
                                       "join by code instead", layer.at[i, layer_key]))
    lookup = t.set_index("__key")
    out = layer.copy()
    hit = lkeys.isin(lookup.index) & ~ambiguous
    for ours, theirs in resolved.items():
        values = lkeys[hit].map(lookup[theirs])
        if ours not in out.columns:
            out[ours] = pd.Series([None] * len(out), index=out.index, dtype=object)
        else:
            out[ours] = out[ours].astype(object)
        out.loc[hit, ours] = values.astype(object)
    report.matched = int(hit.sum())
    report.unmatched_layer = [str(layer.at[i, layer_key]) for i in layer.index[~hit & ~ambiguous]]
    used = set(lkeys[hit])
    report.unmatched_table = [(int(rownum[i]), str(t.at[i, tkey])) for i in t.index if t.at[i, "__key"] not in used]
    log.info("joined %s by %s: %d matched, %d layer and %d table rows unmatched", where, on.value, report.matched,
             len(report.unmatched_layer), len(report.unmatched_table))
    return out, report
