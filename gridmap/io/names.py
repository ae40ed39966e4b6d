"""Place names as keys: normalise community/street names so that tables join on them.

The same community is 东华门社区居委会 in the civil-affairs list, 东华门社区 in the GIS and ``东华门 `` (with a
full-width space) in a household spreadsheet. :func:`normalise_name` folds full-width characters to half-width
(NFKC), removes every kind of whitespace and strips one administrative suffix, longest first:
社区居民委员会, 社区居委会, 居民委员会, 居委会, 村民委员会, 村委会, 社区, 村 (and 街道办事处, 街道办, 街道 for streets).
A name that would become empty (``社区``) is kept as it is.

Examples
--------
>>> normalise_name(" 东华门社区居委会 ")
'东华门'
>>> normalise_name("东华门　社区")
'东华门'
>>> normalise_name("北新桥村委会"), normalise_name("ＡＢＣ小区")
('北新桥', 'ABC小区')
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

__all__ = ["COMMUNITY_SUFFIXES", "STREET_SUFFIXES", "normalise_name", "normalise_names"]

#: Suffixes stripped from community names, longest first.
COMMUNITY_SUFFIXES: tuple[str, ...] = ("社区居民委员会", "社区居委会", "居民委员会", "居委会", "村民委员会", "村委会",
                                       "社区", "村")
#: Suffixes stripped from street names, longest first.
STREET_SUFFIXES: tuple[str, ...] = ("街道办事处", "地区办事处", "街道办", "办事处", "街道", "地区")

_SPACE = re.compile(r"[\s\u3000\u00a0\u200b]+")


def normalise_name(value: object, *, suffixes: tuple[str, ...] = COMMUNITY_SUFFIXES) -> str | None:
    """A name folded for matching: NFKC, no whitespace, one suffix stripped; None for missing values."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    text = _SPACE.sub("", unicodedata.normalize("NFKC", str(value)))
    if not text:
        return None
    for suffix in suffixes:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def normalise_names(values: pd.Series, *, suffixes: tuple[str, ...] = COMMUNITY_SUFFIXES) -> pd.Series:
    """:func:`normalise_name` over a Series (index kept)."""
    return values.map(lambda v: normalise_name(v, suffixes=suffixes)).astype(object)
