"""Your own categories on import: a category map (``--category-map FILE``) from your values or keywords to the
catalog's categories (:mod:`gridmap.warning.categories`), and the count of what still fell into 其他.

A map is a TOML file::

    # values: a category value in your data -> a catalog category (exact, after NFKC and trimming)
    [values]
    "Noise - Residential" = "噪音"
    "房屋质量问题" = "住房"
    # keywords: a word in the complaint text -> a catalog category, for rows whose value is still unknown
    [keywords]
    "漏雨" = "房屋漏雨"
    "飞线充电" = "社区服务"

or a CSV with columns ``theirs,ours`` and optionally ``match`` (``value``, the default, or ``keyword``). Every
target must be a catalog category (or one of its aliases); a map naming anything else is refused before any
row is read. Order per row: your value map, then the catalog and its aliases, then your keywords (first listed
wins), else 其他 with a warning (or rejected, ``--unknown-category reject``).

Examples
--------
>>> m = CategoryMap(values={"Noise - Residential": "噪音"}, keywords={"漏雨": "房屋漏雨"})
>>> import pandas as pd
>>> raw = pd.Series(["Noise - Residential", "噪声", "Misc", None])
>>> cats, how = assign_categories(raw, pd.Series(["楼上吵", "广场舞", "屋顶漏雨", "咨询"]), m)
>>> cats.tolist(), how.tolist()
(['噪音', '噪音', '房屋漏雨', None], ['value_map', 'catalog', 'keyword', None])
>>> s = category_summary(raw, how, cats.fillna("其他"))
>>> s["by_value_map"], s["by_catalog"], s["by_keyword"], s["unmapped"], s["other"], s["unmapped_values"]
(1, 1, 1, 1, 1, {None: 1})
"""

from __future__ import annotations

import csv
import io
import os
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridmap.errors import Problem, UsageError, ValidationError, message
from gridmap.io.text import per_distinct
from gridmap.warning.categories import CATEGORIES, FALLBACK_CATEGORY, normalise_category

__all__ = ["CategoryMap", "load_category_map", "assign_categories", "category_summary", "import_categories"]


def _key(value: object) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip()


@dataclass(frozen=True)
class CategoryMap:
    """Your values -> catalog categories, and text keywords -> catalog categories."""

    values: dict[str, str] = field(default_factory=dict)
    keywords: dict[str, str] = field(default_factory=dict)
    where: str = "category map"

    def __post_init__(self) -> None:
        bad = [Problem(None, k, "not a catalog category", v) for table in (self.values, self.keywords)
               for k, v in table.items() if normalise_category(v) is None]
        if bad:
            raise UsageError(message(f"{self.where}: {len(bad)} target(s) are not catalog categories",
                                     got=", ".join(f"{p.field} -> {p.value}" for p in bad[:5]),
                                     fix="map onto one of " + "、".join(CATEGORIES)))
        object.__setattr__(self, "values", {_key(k): normalise_category(v) for k, v in self.values.items()})
        object.__setattr__(self, "keywords", {str(k).strip(): normalise_category(v)
                                              for k, v in self.keywords.items() if str(k).strip()})


def load_category_map(path: str | os.PathLike) -> CategoryMap:
    """Read a TOML or CSV category map (see the module docstring)."""
    p = Path(path)
    if not p.exists():
        raise UsageError(message("category map not found", where="--category-map", got=str(p)))
    text = p.read_text(encoding="utf-8-sig")
    if p.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError(message(f"cannot read the category map {p}", got=str(exc),
                                          fix='write [values] and [keywords] tables: "their value" = "噪音"')) \
                from None
        values, keywords = data.get("values", {}), data.get("keywords", {})
        if not values and not keywords:  # top-level pairs are values
            values = {k: v for k, v in data.items() if isinstance(v, str)}
        for name, table in (("values", values), ("keywords", keywords)):
            if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
                raise ValidationError(message(f"category map {p}: [{name}] must map text to a category name",
                                              fix='"their value" = "噪音"'))
        return CategoryMap(dict(values), dict(keywords), where=str(p))
    if p.suffix.lower() in (".csv", ".txt"):
        rows = list(csv.DictReader(io.StringIO(text)))
        cols = {c.strip().lower(): c for c in (rows[0].keys() if rows else [])}
        if not rows or "theirs" not in cols or "ours" not in cols:
            raise ValidationError(message(f"category map {p}: expected columns theirs,ours[,match]",
                                          got=", ".join(cols) or "no rows"))
        values, keywords = {}, {}
        for k, r in enumerate(rows, start=2):
            kind = (r.get(cols.get("match", ""), "") or "value").strip().lower()
            if kind not in ("value", "keyword"):
                raise ValidationError(message(f"category map {p}, line {k}: match must be value or keyword",
                                              got=repr(kind)))
            (values if kind == "value" else keywords)[r[cols["theirs"]]] = r[cols["ours"]]
        return CategoryMap(values, keywords, where=str(p))
    raise UsageError(message("unsupported category map", where="--category-map", got=p.suffix or str(p),
                             fix="use a .toml or .csv file"))


def assign_categories(raw: pd.Series, text: pd.Series, category_map: CategoryMap | None = None
                      ) -> tuple[pd.Series, pd.Series]:
    """Catalog category per row (``None`` where unknown) and how it was found (``value_map``, ``catalog``,
    ``keyword`` or ``None``); :func:`category_summary` counts them."""
    cmap = category_map or CategoryMap()
    from_map = pd.Series(per_distinct(raw, lambda v: cmap.values.get(_key(v))), index=raw.index, dtype=object)
    from_cat = pd.Series(per_distinct(raw, normalise_category), index=raw.index, dtype=object)
    out = from_map.where(from_map.notna(), from_cat)
    from_kw = pd.Series(None, index=raw.index, dtype=object)
    if cmap.keywords:
        t = text.astype("string")
        for kw, cat in cmap.keywords.items():
            hit = out.isna() & from_kw.isna() & t.str.contains(kw, regex=False, na=False).astype(bool)
            from_kw[hit] = cat
    how_arr = np.full(len(raw), None, dtype=object)
    how_arr[from_kw.notna().to_numpy()] = "keyword"
    how_arr[from_cat.notna().to_numpy()] = "catalog"
    how_arr[from_map.notna().to_numpy()] = "value_map"
    how = pd.Series(how_arr, index=raw.index, dtype=object)
    out = out.where(out.notna(), from_kw).astype(object)
    return out.where(out.notna(), None), how


def category_summary(raw: pd.Series, how: pd.Series, final: pd.Series) -> dict[str, Any]:
    """Counts of how rows got their category: ``by_value_map``, ``by_catalog``, ``by_keyword``, ``unmapped``
    (unknown: made 其他 or rejected), ``other`` (rows in 其他, whether mapped there or unknown) and
    ``unmapped_values`` (each unknown value and its rows, most frequent first; ``null`` = no value)."""
    unknown = how.isna().to_numpy()
    vals = [None if pd.isna(v) else str(v) for v in raw[unknown].to_numpy(dtype=object)]
    counts = pd.Series(vals, dtype=object).value_counts(dropna=False)
    ways = how.value_counts()
    return {"by_value_map": int(ways.get("value_map", 0)), "by_catalog": int(ways.get("catalog", 0)),
            "by_keyword": int(ways.get("keyword", 0)), "unmapped": int(unknown.sum()),
            "other": int((final == FALLBACK_CATEGORY).sum()),
            "unmapped_values": {(None if pd.isna(k) else k): int(n) for k, n in counts.items()}}


def import_categories(raw: pd.Series, text: pd.Series, category_map: CategoryMap | None, *, unknown_category: str,
                      reject: Any) -> tuple[pd.Series, np.ndarray, pd.Series]:
    """The complaint import's categories: :func:`assign_categories`, then the importer's rule for what is still
    unknown (其他, or rejected); returns the categories, which kept rows were unknown, and how each was found."""
    from gridmap.io.complaint_fields import _categories

    known, how = assign_categories(raw, text, category_map)
    category, unknown_kept = _categories(raw, unknown_category=unknown_category, reject=reject, known=known)
    return category, unknown_kept, how
