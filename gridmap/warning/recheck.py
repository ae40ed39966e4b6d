"""The 回头看 re-check list: places with past complaints on a watched topic, ranked for a follow-up visit.

Examples
--------
>>> normalise_address("北京市 大兴区 黄村镇 3号楼。")
'大兴区黄村镇3号楼'
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

import numpy as np
import pandas as pd

from gridmap.errors import ValidationError, message
from gridmap.warning.counts import complaint_mask

__all__ = ["RESOLVED_STATUSES", "RECHECK_COLUMNS", "normalise_address", "recheck_list"]

log = logging.getLogger(__name__)


#: Status values counted as resolved (办结) when building the re-check list; anything else is unresolved.
RESOLVED_STATUSES = frozenset({"closed", "resolved", "办结", "已办结", "已解决", "解决", "完成", "已完成"})


def normalise_address(value: object) -> str | None:
    """Address key for grouping: NFKC, no spaces, no leading 北京市/北京, no trailing punctuation.

    >>> normalise_address(" 北京市 大兴区 黄村镇 ３号楼。")
    '大兴区黄村镇3号楼'
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    s = unicodedata.normalize("NFKC", str(value))
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"^(北京市|北京)", "", s)
    s = s.rstrip("。.,，;；")
    return s or None


#: Columns of :func:`recheck_list` (also of the empty list when no keywords are given).
RECHECK_COLUMNS = ["place", "complaints", "unresolved", "years", "first", "last", "cell_code", "community_code",
                   "street_code", "x", "y", "priority"]


def recheck_list(complaints: pd.DataFrame, *, keywords: Any, start: Any = None, end: Any = None,
                 place: str = "address", categories: Any = None) -> pd.DataFrame:
    """The 回头看 list: places with past complaints matching ``keywords`` in ``[start, end)``.

    ``place='address'`` groups by the normalised address (rows without one fall back to their cell code);
    ``'cell'`` / ``'community'`` group by those codes. Columns: ``place``, ``complaints``, ``unresolved``,
    ``years``, ``first``, ``last``, ``cell_code``, ``community_code``, ``street_code``, ``priority`` (A: something
    still unresolved; B: recurring, 2+ complaints; C: once, resolved), ranked A→C, then by counts and recency.
    """
    sel = complaints.loc[complaint_mask(complaints, start=start, end=end, keywords=keywords,
                                        categories=categories)].copy()
    cols = RECHECK_COLUMNS
    if sel.empty:
        log.info("re-check list: no complaint matches %s", keywords)
        return pd.DataFrame(columns=cols)
    if place == "address":
        key = sel.get("address", pd.Series(None, index=sel.index)).map(normalise_address)
        if "cell_code" in sel.columns:
            key = key.fillna("网格 " + sel["cell_code"].astype("string"))
    elif place in ("cell", "community", "street"):
        key = sel[f"{place}_code"].astype("string")
    else:
        raise ValidationError(message("unknown place grouping", got=repr(place),
                                      fix="use 'address', 'cell', 'community' or 'street'"))
    sel["place"] = key.fillna("(无地址)")
    status = sel.get("status", pd.Series(None, index=sel.index)).astype("string").str.strip().str.lower()
    closed = sel.get("closed_at", pd.Series(pd.NaT, index=sel.index))
    sel["_unresolved"] = ~status.isin(RESOLVED_STATUSES).fillna(False).astype(bool) | pd.isna(closed)
    sel["_t"] = pd.to_datetime(sel["received_at"])
    if "geometry" in sel.columns and hasattr(sel, "geometry"):
        sel["x"], sel["y"] = sel.geometry.x, sel.geometry.y
    g = sel.sort_values("_t").groupby("place", sort=False)
    out = pd.DataFrame({
        "complaints": g.size(), "unresolved": g["_unresolved"].sum().astype(int),
        "years": g["_t"].agg(lambda s: s.dt.year.nunique()), "first": g["_t"].min(), "last": g["_t"].max()})
    for c in ("cell_code", "community_code", "street_code", "x", "y"):
        out[c] = g[c].last() if c in sel.columns else None
    out["priority"] = np.where(out["unresolved"] > 0, "A", np.where(out["complaints"] >= 2, "B", "C"))
    out = out.reset_index().sort_values(["priority", "unresolved", "complaints", "years", "last"],
                                        ascending=[True, False, False, False, False], kind="stable")
    log.info("re-check list: %d place(s), %d with unresolved items", len(out), int((out["unresolved"] > 0).sum()))
    return out[cols].reset_index(drop=True)
