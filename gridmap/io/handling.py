"""The handling record of a 12345 complaint (接诉即办): reading it from CSV (Chinese export headers) and Open311.

Fields (store columns, all nullable: **unknown stays unknown**, a rate is computed only over the complaints where
its field is known):

=====================  ===================================================================================
field                  meaning; accepted source headers (case-insensitive, besides our own name)
=====================  ===================================================================================
dispatched_at          派单时间 (time the work order was dispatched): 派单时间, 派发时间, 转办时间
dispatched_to          承办单位 (the unit(s) it was dispatched to: street, department, 物业 property company);
                       several units for 双派单 joined by ``;`` (``；``, ``、`` and ``|`` are read as ``;``):
                       承办单位, 派单单位, 主办单位, 承办部门, agency_responsible (Open311)
responded_at           响应时间 (first contact with the caller): 响应时间, 首次响应时间, 联系时间
closed_at              办结时间 (already a complaint column; Open311 ``updated_datetime`` of a closed request)
resolved               是否解决 (from the return visit 回访): 是否解决, 解决情况, 解决状态
satisfied              是否满意: 是否满意, 满意情况
satisfaction_score     满意度 1-5: 满意度, 满意度评分, 评分. When ``satisfied`` is not given, the score decides it
                       by :attr:`HandlingRules.satisfied_from` (default 4: 5 满意 and 4 基本满意 count as satisfied,
                       3 一般 and below do not). An explicit 是否满意 wins over the score.
revisit_at             回访时间: 回访时间
excluded               是否剔除 (不合理诉求剔除, not counted in the rates): 是否剔除, 剔除
exclusion_reason       剔除原因 / 不纳入考核原因; a reason implies ``excluded``. Reasons are read against the
                       configurable list :data:`EXCLUSION_REASONS` (duplicate 重复诉求, out of scope 超出职责范围,
                       malicious 恶意诉求, invalid 无效诉求); any other reason rejects the row unless it is added
                       with ``HandlingRules(exclusion_reasons=...)``.
redispatches           退单/改派次数 (times the order was returned or re-dispatched): 退单次数, 改派次数, 退回次数
=====================  ===================================================================================

Yes/no values: 是/否, 已解决/未解决, 满意/不满意, 基本满意 (satisfied), true/false, 1/0, y/n, yes/no.

Rows are rejected, each with its reason, for: a time that cannot be read; a time before the complaint was received
(responded, dispatched, closed or revisited before received); a yes/no field with another value; a satisfaction
score outside 1-5 or not a whole number; a negative or fractional redispatch count; an exclusion reason not in the
list; a unit not in ``HandlingRules(units=...)`` (when a list of known units is given).

Open311 GeoReport v2 has no response time or return visit: :func:`open311_handling` maps ``status`` and
``updated_datetime`` (closed -> ``closed_at``; ``acknowledged``/``in_progress`` -> ``responded_at``, the latest
time the request can have been answered) and ``agency_responsible`` -> ``dispatched_to``.

Examples
--------
>>> import pandas as pd
>>> raw = pd.DataFrame({"受理时间": ["2025-06-01 08:00"] * 3, "响应时间": ["2025-06-01 09:00", "2025-05-31", ""],
...                     "满意度": ["5", "3", "7"], "承办单位": ["东华门街道；市水务局", "东华门街道", ""]})
>>> received = pd.to_datetime(raw["受理时间"])
>>> h = parse_handling(raw, received=received)
>>> h.columns["satisfied"].tolist(), h.columns["dispatched_to"].tolist()
([True, False, None], ['东华门街道;市水务局', '东华门街道', None])
>>> sorted({(p.row, p.field) for p in h.problems})
[(1, 'responded_at'), (2, 'satisfaction_score')]
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gridmap.errors import Problem, UsageError, message
from gridmap.io.complaint_fields import pick_columns
from gridmap.io.text import clean_text, numbers, per_distinct

__all__ = ["HANDLING_FIELDS", "HANDLING_ALIASES", "EXCLUSION_REASONS", "HandlingRules", "HandlingParse",
           "parse_handling", "parse_yes_no", "split_units", "open311_handling", "read_units"]

log = logging.getLogger(__name__)

#: The handling fields this module reads (``closed_at`` is read by :mod:`gridmap.io.complaints`).
HANDLING_FIELDS = ("dispatched_at", "dispatched_to", "responded_at", "resolved", "satisfied", "satisfaction_score",
                   "revisit_at", "excluded", "exclusion_reason", "redispatches")

#: our field -> accepted source names (case-insensitive; first match wins).
HANDLING_ALIASES: dict[str, tuple[str, ...]] = {
    "dispatched_at": ("dispatched_at", "派单时间", "派发时间", "转办时间"),
    "dispatched_to": ("dispatched_to", "承办单位", "派单单位", "主办单位", "承办部门", "agency_responsible"),
    "responded_at": ("responded_at", "响应时间", "首次响应时间", "联系时间"),
    "resolved": ("resolved", "是否解决", "解决情况", "解决状态"),
    "satisfied": ("satisfied", "是否满意", "满意情况"),
    "satisfaction_score": ("satisfaction_score", "满意度", "满意度评分", "评分"),
    "revisit_at": ("revisit_at", "回访时间"),
    "excluded": ("excluded", "是否剔除", "剔除"),
    "exclusion_reason": ("exclusion_reason", "剔除原因", "不纳入考核原因"),
    "redispatches": ("redispatches", "退单次数", "改派次数", "退回次数"),
}

#: 不合理诉求剔除: canonical reason -> accepted spellings (extend with ``HandlingRules(exclusion_reasons=)``).
EXCLUSION_REASONS: dict[str, tuple[str, ...]] = {
    "重复诉求 duplicate": ("重复诉求", "重复", "重复件", "duplicate"),
    "超出职责范围 out of scope": ("超出职责范围", "非职责范围", "超范围", "out of scope", "out-of-scope"),
    "恶意诉求 malicious": ("恶意诉求", "恶意", "malicious"),
    "无效诉求 invalid": ("无效诉求", "无效", "invalid"),
}

_YES = {"是", "已解决", "解决", "满意", "基本满意", "true", "t", "1", "y", "yes", "已剔除", "剔除"}
_NO = {"否", "未解决", "不满意", "false", "f", "0", "n", "no", "不剔除", "未剔除"}
_MAX_COUNT = 2 ** 31 - 1  # the store's redispatches column: a 32-bit whole number
_UNIT_SEP = re.compile(r"\s*[;；、|]\s*")
_OPEN311_RESPONDED = {"acknowledged", "in_progress", "in progress", "processing", "closed"}


@dataclass(frozen=True)
class HandlingRules:
    """How handling fields are read.

    Parameters
    ----------
    units : the known units (names or codes of streets, departments, property companies); a dispatched unit not
        in it rejects the row. ``None`` (default): any unit is accepted.
    exclusion_reasons : canonical reason -> accepted spellings (default :data:`EXCLUSION_REASONS`).
    satisfied_from : a satisfaction score at or above this counts as satisfied (default 4 = 基本满意).
    score_scale : the inclusive range of a valid satisfaction score (default 1-5).
    """

    units: frozenset[str] | None = None
    exclusion_reasons: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(EXCLUSION_REASONS))
    satisfied_from: int = 4
    score_scale: tuple[int, int] = (1, 5)

    def __post_init__(self) -> None:
        lo, hi = self.score_scale
        if not (isinstance(lo, int) and isinstance(hi, int) and lo < hi and lo <= self.satisfied_from <= hi):
            raise UsageError(message("satisfaction rule out of scale", where="HandlingRules",
                                     got=f"satisfied_from={self.satisfied_from}, score_scale={self.score_scale}",
                                     fix="use whole numbers with low < high and low <= satisfied_from <= high"))
        if self.units is not None:
            object.__setattr__(self, "units", frozenset(_norm(u) for u in self.units if _norm(u)))


@dataclass
class HandlingParse:
    """What :func:`parse_handling` found: one column per handling field (aligned with the input) and problems."""

    columns: pd.DataFrame
    problems: list[Problem]
    #: our field -> the source column it was read from
    found: dict[str, str]
    #: rows (by position) with at least one problem
    bad: np.ndarray

    def kept(self, keep: pd.Series) -> dict[str, pd.Series]:
        """The columns of the rows ``keep`` selects (text columns with None for missing: no pd.NA in the store)."""
        out = {}
        for f, v in self.columns.items():
            v = v[keep]
            out[f] = v.astype(object).where(v.notna(), None) if v.dtype == object else v
        return out


def _norm(value: Any) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip() if value is not None else ""


def _objects(values: list, index: pd.Index) -> pd.Series:
    """An object Series with None for missing (no NaN/NA: the store and JSON want None)."""
    return pd.Series(np.array(values, dtype=object) if len(values) else np.array([], dtype=object), index=index,
                     dtype=object)


def parse_yes_no(values: pd.Series, text: pd.Series | None = None) -> tuple[pd.Series, np.ndarray]:
    """Yes/no values -> (object Series of True/False/None, mask of values that are neither); ``text``: the values
    as :func:`~gridmap.io.text.clean_text` reads them, when the caller has them already.

    >>> v, bad = parse_yes_no(pd.Series(["是", "否", None, "基本满意", "maybe"]))
    >>> v.tolist(), bad.tolist()
    ([True, False, None, True, None], [False, False, False, False, True])
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        out = values.astype(object).where(values.notna(), None)
        return out, np.zeros(len(values), dtype=bool)
    t = (clean_text(values) if text is None else text).str.lower()  # a bool reads as "True"/"False"
    yes = t.isin(_YES).fillna(False).to_numpy(dtype=bool)
    no = t.isin(_NO).fillna(False).to_numpy(dtype=bool)
    known = t.notna().to_numpy()
    out = np.full(len(values), None, dtype=object)
    out[yes] = True
    out[no] = False
    return pd.Series(out, index=values.index, dtype=object), known & ~yes & ~no


def split_units(value: Any) -> list[str]:
    """``'东华门街道；市水务局'`` -> ``['东华门街道', '市水务局']`` (empty parts dropped, order kept, no repeats).

    >>> split_units("东华门街道；市水务局 ; 东华门街道")
    ['东华门街道', '市水务局']
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return []
    parts = [p for p in _UNIT_SEP.split(_norm(value)) if p]
    return list(dict.fromkeys(parts))


def _reason_lookup(reasons: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for canon, names in reasons.items():
        for n in (canon, *names):
            out[_norm(n).lower()] = canon
    return out


def _default_times(values: pd.Series) -> pd.Series:
    """Times as pandas reads them (naive, unreadable -> NaT); the complaint import passes its own CST parser."""
    text = clean_text(values)
    return pd.to_datetime(text, errors="coerce", format="mixed") if text.notna().any() \
        else pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")


def _read_score(src: pd.Series, text: pd.Series, out: pd.DataFrame, reject: Callable[..., None],
                rules: HandlingRules) -> None:
    """``satisfaction_score`` (whole numbers on the scale; ``text``: ``src`` as :func:`~gridmap.io.text.clean_text` reads it) into
    ``out``, and ``satisfied`` from it where no explicit 是否满意 was given (the rule: score >=
    ``rules.satisfied_from``)."""
    num = numbers(text)
    given = text.notna().to_numpy()
    lo, hi = rules.score_scale
    whole = (num == np.round(num)).fillna(False).to_numpy(dtype=bool)
    inside = ((num >= lo) & (num <= hi)).fillna(False).to_numpy(dtype=bool)
    bad = given & ~(whole & inside)
    reject(bad, "satisfaction_score", f"satisfaction score outside the scale {lo}-{hi} (whole numbers)", src)
    score = num.where(~bad & given).astype("Int64")
    out["satisfaction_score"] = score
    derived = (score >= rules.satisfied_from).astype("boolean")
    sat = out["satisfied"]
    out["satisfied"] = sat.where(sat.notna(), derived.astype(object).where(derived.notna(), None))


def _read_exclusions(col: Callable[[str], pd.Series], text: Callable[[str], pd.Series], out: pd.DataFrame,
                     reject: Callable[..., None], rules: HandlingRules) -> None:
    """``exclusion_reason`` (canonical, from the configured list) into ``out``; a reason implies ``excluded``,
    and a reason on a row that says not excluded is rejected."""
    idx = out.index
    reason_src = text("exclusion_reason")
    canon = per_distinct(reason_src.str.lower(), _reason_lookup(rules.exclusion_reasons).get)
    has_reason = ~pd.isna(canon)
    unknown_reason = reason_src.notna().to_numpy(dtype=bool) & ~has_reason
    reject(unknown_reason, "exclusion_reason", "exclusion reason not in the list (" +
           "、".join(rules.exclusion_reasons) + ")", col("exclusion_reason"))
    out["exclusion_reason"] = pd.Series(canon, index=idx, dtype=object)
    exc = out["excluded"]
    contradict = has_reason & (exc == False).to_numpy(dtype=bool)  # noqa: E712 (object column of True/False/None)
    reject(contradict, "excluded", "an exclusion reason is given but the row says not excluded", col("excluded"))
    out["excluded"] = exc.where(~pd.Series(has_reason, index=idx) | exc.notna(), True)


def parse_handling(raw: pd.DataFrame, *, received: pd.Series, closed: pd.Series | None = None,
                   parse_times: Callable[[pd.Series], pd.Series] | None = None,
                   mapping: Mapping[str, str] | None = None, rules: HandlingRules | None = None) -> HandlingParse:
    """Read the handling fields of ``raw`` (one row per complaint), aligned with ``received`` (parsed times).

    ``closed`` (the parsed 办结时间) is checked against ``received`` too. ``parse_times`` reads a column of times
    (the complaint import passes :func:`gridmap.io.complaints.parse_timestamps` with its zone; default: pandas).
    Returns the columns of
    :data:`HANDLING_FIELDS` (object/datetime64/Int64; None/NaT where unknown) and one :class:`Problem` per bad
    value; rows with problems are to be rejected by the caller.
    """
    rules = rules or HandlingRules()
    parse_times = parse_times or _default_times
    idx = raw.index
    n = len(raw)
    cols = pick_columns(raw.columns, HANDLING_ALIASES, mapping, strict=False)
    problems: list[Problem] = []
    bad_rows = np.zeros(n, dtype=bool)

    def col(name: str) -> pd.Series:
        return raw[cols[name]] if name in cols else pd.Series(None, index=idx, dtype=object)

    def reject(mask: np.ndarray, f: str, reason: str, values: Any) -> None:
        pos = np.flatnonzero(mask)
        if len(pos):  # (the values of the rejected rows only: a whole column as objects costs)
            vals = np.asarray(values, dtype=object)
            bad_rows[pos] = True
            problems.extend(Problem(idx[p], f, reason, vals[p]) for p in pos)

    texts: dict[str, pd.Series] = {}

    def text(name: str) -> pd.Series:  # each column's text read once (clean_text), however many checks use it
        if name not in texts:
            texts[name] = clean_text(col(name))
        return texts[name]

    out = pd.DataFrame(index=idx)
    rec = pd.to_datetime(received)
    # times: readable, and not before the complaint was received
    for f, zh in (("dispatched_at", "dispatched"), ("responded_at", "responded"), ("revisit_at", "revisited")):
        src = col(f)
        t = pd.to_datetime(parse_times(src))
        given = text(f).notna().to_numpy()
        reject(given & t.isna().to_numpy(), f, "cannot read the time", src)
        early = (t < rec).fillna(False).to_numpy(dtype=bool)
        reject(early, f, f"{zh} before the complaint was received (times out of order)", src)
        out[f] = t
    if closed is not None:
        early = (pd.to_datetime(closed) < rec).fillna(False).to_numpy(dtype=bool)
        reject(early, "closed_at", "closed before the complaint was received (times out of order)", closed)
    # units
    # (each distinct text split once; the rows take their text's result)
    codes, distinct = pd.factorize(col("dispatched_to").astype("string"), use_na_sentinel=True)
    split = [split_units(u) for u in distinct] + [[]]  # the last: missing values (code -1)
    joined = np.array([";".join(u) if u else None for u in split], dtype=object)
    out["dispatched_to"] = pd.Series(joined[codes], index=idx, dtype=object)
    if rules.units is not None:
        unknown = [";".join(x for x in u if x not in rules.units) for u in split]
        named = np.array([u or None for u in unknown], dtype=object)[codes]
        reject(np.array([bool(u) for u in unknown])[codes], "dispatched_to",
               "unknown unit (not in the list of known units)", named)
    # yes/no fields
    for f in ("resolved", "satisfied", "excluded"):
        v, bad = parse_yes_no(col(f), text(f))
        reject(bad, f, "not a yes/no value (是/否, true/false, 1/0)", col(f))
        out[f] = v
    _read_score(col("satisfaction_score"), text("satisfaction_score"), out, reject, rules)
    _read_exclusions(col, text, out, reject, rules)
    # redispatch count
    src = col("redispatches")
    num = numbers(text("redispatches"))
    given = text("redispatches").notna().to_numpy()
    # (at most what the store's 32-bit column holds: a 20-digit count wrapped around to a negative one before)
    ok = ((num >= 0) & (num <= _MAX_COUNT) & (num == np.round(num))).fillna(False).to_numpy(dtype=bool)
    reject(given & ~ok, "redispatches", f"redispatch count must be a whole number from 0 to {_MAX_COUNT:,}", src)
    out["redispatches"] = num.where(ok).astype("Int64")
    out = out[list(HANDLING_FIELDS)]
    log.info("handling fields read: %s; %d problem(s) in %d row(s)", ", ".join(cols) or "none", len(problems), n)
    return HandlingParse(out, problems, cols, bad_rows)


def open311_handling(status: pd.Series, updated: pd.Series, *, agency: pd.Series | None = None) -> pd.DataFrame:
    """Open311 GeoReport v2 ``status`` / ``updated_datetime`` (parsed times) / ``agency_responsible`` -> handling.

    ``closed``: ``closed_at`` = ``updated_datetime``; ``acknowledged``/``in_progress``/``closed``:
    ``responded_at`` = ``updated_datetime`` (an upper bound: Open311 does not record the first contact, so a
    response rate from Open311 alone is conservative); ``open``: nothing known. ``resolved``/``satisfied`` stay
    unknown (Open311 has no return visit). ``agency_responsible`` -> ``dispatched_to``.

    >>> st = pd.Series(["closed", "open", "acknowledged"])
    >>> up = pd.to_datetime(pd.Series(["2025-06-02 10:00", "2025-06-02 11:00", "2025-06-02 12:00"]))
    >>> h = open311_handling(st, up)
    >>> h["closed_at"].notna().tolist(), h["responded_at"].notna().tolist()
    ([True, False, False], [True, False, True])
    """
    s = clean_text(status).str.lower()
    t = pd.to_datetime(updated)
    out = pd.DataFrame(index=status.index)
    out["closed_at"] = t.where((s == "closed").fillna(False))
    out["responded_at"] = t.where(s.isin(_OPEN311_RESPONDED).fillna(False))
    if agency is not None:
        out["dispatched_to"] = _objects([";".join(u) if u else None for u in agency.map(split_units)], agency.index)
    return out


def read_units(path: Any) -> frozenset[str]:
    """The known units (承办单位) from a text file: one unit per line (UTF-8; blank lines and lines starting with
    ``#`` skipped); a ``.csv`` file gives its first column (a header named unit/name/承办单位/单位 is skipped)."""
    from pathlib import Path

    from gridmap.errors import InputFileError
    from gridmap.io._reading import check_not_empty, reading

    p = Path(path)
    if not p.exists():
        raise InputFileError("units file not found", path=p, fix="give a text file with one unit per line")
    check_not_empty(p)
    with reading(p, encoding="utf-8-sig"):
        lines = p.read_text(encoding="utf-8-sig").splitlines()
    if p.suffix.lower() == ".csv":
        lines = [ln.split(",")[0] for ln in lines]
        if lines and _norm(lines[0]).lower() in ("unit", "name", "承办单位", "单位", "dispatched_to"):
            lines = lines[1:]
    units = frozenset(_norm(ln) for ln in lines if _norm(ln) and not _norm(ln).startswith("#"))
    if not units:
        raise InputFileError("the units file lists no unit", path=p, fix="one unit name per line")
    return units
