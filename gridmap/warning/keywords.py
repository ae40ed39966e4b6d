"""Keyword families for keyword watch: what an analyst means by 漏雨 is every way residents write it.

A watch list entry may be a plain keyword (matched as a substring of the complaint text), the name of a family
(``房屋漏雨`` or ``漏雨``), or any member of a family; a family entry expands to all its members, so
``--keywords 房屋漏雨`` watches 漏雨, 渗水, 屋顶漏水 ... and finds what the texts actually say. The report shows
each term with the number of texts it matches (:func:`keyword_match_counts`), so a term that matches nothing is
visible rather than silently empty.

Examples
--------
>>> expand_keywords("房屋漏雨")[:4]
['房屋漏雨', '漏雨', '渗水', '屋顶漏水']
>>> expand_keywords("外星人,噪音")[:3]
['外星人', '噪音', '噪声']
>>> import pandas as pd
>>> df = pd.DataFrame({"text": ["屋顶漏雨", "墙面渗水", "夜间噪音"]})
>>> keyword_match_counts(df, ["漏雨", "渗水", "房屋漏雨"])["matches"].tolist()
[1, 1, 0]
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

__all__ = ["KEYWORD_FAMILIES", "expand_keywords", "keyword_match_counts", "split_keywords"]

#: Family name -> its members (the name itself first). Members are plain substrings of complaint texts.
KEYWORD_FAMILIES: dict[str, tuple[str, ...]] = {
    "房屋漏雨": ("房屋漏雨", "漏雨", "渗水", "屋顶漏水", "房顶漏水", "渗漏", "防水层破损", "雨水顺墙", "返潮发霉"),
    "噪音": ("噪音", "噪声", "扰民", "施工声"),
    "供暖": ("供暖", "暖气不热", "暖气", "室温不达标"),
    "占道停车": ("占道", "乱停", "违停", "外卖车辆", "外卖电动车"),
    "垃圾": ("垃圾", "清运", "堆放杂物"),
    "积水": ("积水", "排水不畅", "雨水井", "下水道堵"),
}

_ALIAS = {"漏雨": "房屋漏雨", "漏水": "房屋漏雨", "leak": "房屋漏雨", "noise": "噪音", "heating": "供暖",
          "parking": "占道停车", "garbage": "垃圾", "flooding": "积水"}


def split_keywords(keywords: str | Iterable[str] | None) -> list[str]:
    """A comma/space/、-separated string or a list -> the non-empty terms, in order, without repeats."""
    if keywords is None:
        return []
    items = re.split(r"[,，、\s]+", keywords) if isinstance(keywords, str) else list(keywords)
    return list(dict.fromkeys(str(k).strip() for k in items if k and str(k).strip()))


def _family_of(term: str) -> str | None:
    if term in KEYWORD_FAMILIES:
        return term
    if term in _ALIAS:
        return _ALIAS[term]
    for name, members in KEYWORD_FAMILIES.items():
        if term in members:
            return name
    return None


def expand_keywords(keywords: str | Iterable[str] | None, *, families: bool = True) -> list[str]:
    """The watch terms of ``keywords``: each entry, and with ``families`` every member of its family."""
    out: list[str] = []
    for term in split_keywords(keywords):
        out.append(term)
        fam = _family_of(term) if families else None
        if fam:
            out.extend(KEYWORD_FAMILIES[fam])
    return list(dict.fromkeys(out))


def keyword_match_counts(complaints: pd.DataFrame, terms: Iterable[str], *,
                         fields: tuple[str, ...] = ("text",)) -> pd.DataFrame:
    """How many complaints each term matches (substring of any of ``fields``): ``term``, ``matches``."""
    terms = list(terms)
    counts = []
    for t in terms:
        hit = pd.Series(False, index=complaints.index)
        for f in fields:
            if f in complaints.columns:
                hit |= complaints[f].astype("string").str.contains(t, regex=False, na=False).astype(bool)
        counts.append(int(hit.sum()))
    return pd.DataFrame({"term": terms, "matches": counts})
