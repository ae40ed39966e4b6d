"""Community size flags (社区规模分类): below the floor, in range, 需调整, 超大社区.

Beijing's standard is 1,000–3,000 households per community; communities over 3,000 households are to be
adjusted (需调整) and those over 5,000 are super-large (超大社区) and split first. The thresholds are settings.

Examples
--------
>>> import geopandas as gpd, shapely
>>> c = gpd.GeoDataFrame({"code": ["110101001001", "110101001002"], "street_code": ["110101001"] * 2,
...                       "households": [800, 5200]},
...                      geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs="EPSG:4548")
>>> [c.name for c in flag_communities(c)["size_class"]]
['BELOW', 'SUPER_LARGE']
"""

from __future__ import annotations

import logging
from enum import Enum

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.crs import check_crs
from gridmap.errors import Problem, UsageError, ValidationError, message

__all__ = ["SizeClass", "Thresholds", "DEFAULT_THRESHOLDS", "THRESHOLDS_ATTR", "size_class", "flag_communities", "summarize_flags", "check_thresholds", "as_float"]

log = logging.getLogger(__name__)


class SizeClass(str, Enum):
    """Size class of a community by households (labels in Chinese with English alongside)."""

    BELOW = "below"
    IN_RANGE = "in_range"
    ADJUST = "adjust"
    SUPER_LARGE = "super_large"

    @property
    def label(self) -> str:
        return _LABELS[self]

    def range_label(self, thresholds: tuple[int, int, int] | None = None) -> str:
        """Label with the household range of the class under ``thresholds`` (floor, adjust, super_large),
        Beijing's 1,000/3,000/5,000 by default; the map legend and tooltips use it.

        >>> SizeClass.IN_RANGE.range_label(), SizeClass.SUPER_LARGE.range_label((1000, 3000, 4000))
        ('标准 1000–3000户 standard', '超大社区 >4000户 super-large')
        """
        floor, adjust, super_large = DEFAULT_THRESHOLDS if thresholds is None else thresholds
        return {SizeClass.BELOW: f"偏小 <{floor}户 small", SizeClass.IN_RANGE: f"标准 {floor}–{adjust}户 standard",
                SizeClass.ADJUST: f"需调整 >{adjust}户 to adjust",
                SizeClass.SUPER_LARGE: f"超大社区 >{super_large}户 super-large"}[self]

    @classmethod
    def parse(cls, value: object) -> "SizeClass | None":
        """The class a ``size_class`` value names (a member, its value, or a Chinese/English word such as
        超大社区, 需调整, 标准, 偏小, standard, small); None when missing or not understood.

        >>> [SizeClass.parse(v) for v in ("超大社区", "in_range", " Small ", "???", None)]
        [<SizeClass.SUPER_LARGE: 'super_large'>, <SizeClass.IN_RANGE: 'in_range'>, <SizeClass.BELOW: 'below'>, None, None]
        """
        if isinstance(value, cls):
            return value
        key = value.value if isinstance(value, Enum) else value
        if key is None or (not isinstance(key, str) and pd.isna(key)):
            return None
        return _ALIASES.get(str(key).strip().lower())

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.value


_LABELS = {
    SizeClass.BELOW: "规模偏小 below floor",
    SizeClass.IN_RANGE: "规模适中 in range",
    SizeClass.ADJUST: "需调整 over ceiling",
    SizeClass.SUPER_LARGE: "超大社区 super-large",
}

#: Words accepted for each class in a ``size_class`` column (lower case; see :meth:`SizeClass.parse`).
_ALIASES = {
    **{c.value: c for c in SizeClass},
    "small": SizeClass.BELOW, "偏小": SizeClass.BELOW, "under": SizeClass.BELOW, "too_small": SizeClass.BELOW,
    "standard": SizeClass.IN_RANGE, "ok": SizeClass.IN_RANGE, "normal": SizeClass.IN_RANGE,
    "标准": SizeClass.IN_RANGE, "正常": SizeClass.IN_RANGE,
    "over": SizeClass.ADJUST, "large": SizeClass.ADJUST, "oversize": SizeClass.ADJUST,
    "需调整": SizeClass.ADJUST, "偏大": SizeClass.ADJUST,
    "super": SizeClass.SUPER_LARGE, "superlarge": SizeClass.SUPER_LARGE,
    "超大": SizeClass.SUPER_LARGE, "超大社区": SizeClass.SUPER_LARGE,
}

#: Beijing's thresholds in households: (floor, adjust, super_large).
DEFAULT_THRESHOLDS: tuple[int, int, int] = (1000, 3000, 5000)

#: Key of ``flag_communities(...).attrs`` holding the (floor, adjust, super_large) the flags were computed with.
THRESHOLDS_ATTR = "size_thresholds"


class Thresholds(tuple):
    """(floor, adjust, super_large) validated: 0 < floor < adjust < super_large."""

    def __new__(cls, floor: int, adjust: int, super_large: int) -> "Thresholds":
        check_thresholds(floor=floor, ceiling=adjust, super_large=super_large)
        return super().__new__(cls, (int(floor), int(adjust), int(super_large)))


def check_thresholds(*, floor: float, ceiling: float, super_large: float | None = None,
                     where: str = "thresholds") -> None:
    """Raise :class:`ValidationError` unless ``0 < floor <= ceiling (< super_large)``.

    >>> check_thresholds(floor=3000, ceiling=1000)
    Traceback (most recent call last):
    ...
    gridmap.errors.UsageError: household thresholds are inconsistent (at thresholds) (1 problem(s))
      - input, field 'floor': the floor must not be above the ceiling (got (3000, 1000))
    Fix: e.g. floor=1000, ceiling=3000 (Beijing standard)
    """
    problems = []
    for name, v in (("floor", floor), ("ceiling", ceiling), ("super_large", super_large)):
        if v is None:
            continue
        if not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v) or v <= 0:
            problems.append(Problem(None, name, "must be a positive number of households", v))
    if not problems:
        if floor > ceiling:
            problems.append(Problem(None, "floor", "the floor must not be above the ceiling", (floor, ceiling)))
        if super_large is not None and super_large <= ceiling:
            problems.append(Problem(None, "super_large", "the super-large threshold must be above the ceiling",
                                    (ceiling, super_large)))
    if problems:
        raise UsageError(f"household thresholds are inconsistent (at {where})", problems,
                              fix="e.g. floor=1000, ceiling=3000 (Beijing standard)")


def as_float(values: pd.Series) -> pd.Series:
    """A float64 copy of a count column: missing (``None``, ``NaN``, the stores' nullable ``<NA>``) and text
    that is not a number become NaN, so comparisons never meet ``pd.NA``.

    >>> as_float(pd.Series([3, None], dtype="Int64")).tolist()
    [3.0, nan]
    """
    return pd.to_numeric(values, errors="coerce").astype("float64")


def _households(frame: pd.DataFrame, where: str) -> pd.Series:
    if "households" not in frame.columns:
        raise ValidationError(f"{where} has no 'households' column", [Problem(None, "households", "missing")],
                              fix="map your household field with --map households=FIELD on import")
    h = as_float(frame["households"])
    label = frame["code"] if "code" in frame.columns else pd.Series(frame.index, index=frame.index)
    problems = [Problem(label.loc[i], "households", "missing or not a number", _shown(frame["households"].loc[i]))
                for i in h.index[h.isna()]]
    problems += [Problem(label.loc[i], "households", "negative", int(h.loc[i])) for i in h.index[h < 0]]
    problems += [Problem(label.loc[i], "households", "not a whole number", float(h.loc[i]))
                 for i in h.index[h.notna() & (h != np.round(h))]]
    if problems:
        raise ValidationError(f"bad household counts in {where}", problems,
                              fix="fill in the household count (0 if nobody lives there)")
    return h


def _shown(v: object) -> object:
    return None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v


def _classes(households: np.ndarray, thresholds: tuple[int, int, int]) -> np.ndarray:
    floor, adjust, super_large = thresholds
    return np.select([households < floor, households <= adjust, households <= super_large],
                     [SizeClass.BELOW.value, SizeClass.IN_RANGE.value, SizeClass.ADJUST.value],
                     SizeClass.SUPER_LARGE.value)


def size_class(households: object, *, thresholds: tuple[int, int, int] | None = None) -> SizeClass | None:
    """The class of one household count under ``thresholds`` (floor, adjust, super_large; Beijing's
    1,000/3,000/5,000 by default), the rule :func:`flag_communities` applies; None when the count is unknown.

    >>> [size_class(h).value for h in (999, 1000, 3000, 3001, 5000, 5001)]
    ['below', 'in_range', 'in_range', 'adjust', 'adjust', 'super_large']
    """
    if households is None or pd.isna(households):
        return None
    th = DEFAULT_THRESHOLDS if thresholds is None else thresholds
    return SizeClass(str(_classes(np.array([float(households)]), th)[0]))


def flag_communities(communities: gpd.GeoDataFrame, *, floor: int = 1000, adjust: int = 3000,
                     super_large: int = 5000) -> gpd.GeoDataFrame:
    """Classify communities by households into a :class:`SizeClass`.

    Parameters
    ----------
    communities : GeoDataFrame with ``households`` (and usually ``code``, ``street_code``).
    floor, adjust, super_large : keyword-only thresholds. ``households < floor`` is BELOW,
        ``floor..adjust`` IN_RANGE, ``> adjust`` ADJUST (需调整), ``> super_large`` SUPER_LARGE (超大社区).

    Returns
    -------
    A new GeoDataFrame (same index) with ``size_class`` (SizeClass), ``size_label`` (中文 English),
    ``excess_households`` (households above ``adjust``, else 0) and ``min_parts`` (communities needed to bring
    it within ``adjust``). ``attrs["size_thresholds"]`` (:data:`THRESHOLDS_ATTR`) records the thresholds, so a
    map labels the classes with the ranges they were computed with.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> c = gpd.GeoDataFrame({"households": [3001]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4548")
    >>> flag_communities(c)[["size_label", "min_parts"]].values.tolist()
    [['需调整 over ceiling', 2]]
    """
    check_crs(communities, where="communities")
    check_thresholds(floor=floor, ceiling=adjust, super_large=super_large)
    h = _households(communities, "communities")
    cls = _classes(h, (floor, adjust, super_large))
    out = communities.copy()
    out.attrs[THRESHOLDS_ATTR] = (int(floor), int(adjust), int(super_large))
    out["size_class"] = pd.Series([SizeClass(v) for v in cls], index=out.index, dtype=object)
    out["size_label"] = [SizeClass(v).label for v in cls]
    out["excess_households"] = np.maximum(h - adjust, 0).astype(int)
    out["min_parts"] = np.maximum(np.ceil(h / adjust), 1).astype(int)
    counts = pd.Series(cls).value_counts().to_dict()
    log.info("flagged %d communities: %s", len(out), counts)
    return out


def summarize_flags(flagged: pd.DataFrame, *, by: str = "street_code") -> pd.DataFrame:
    """Count communities per size class by street (or ``by``), with a final 合计 total row.

    Columns: ``by``, communities, households, below, in_range, adjust, super_large, oversized
    (adjust + super_large).
    """
    if "size_class" not in flagged.columns:
        raise ValidationError("flags missing", [Problem(None, "size_class", "missing")],
                              fix="run flag_communities first")
    if by not in flagged.columns:
        raise ValidationError(message(f"cannot group flags by {by!r}"), [Problem(None, by, "missing column")])
    df = pd.DataFrame({by: flagged[by].astype(str), "households": flagged["households"].astype(int),
                       "cls": [SizeClass(v).value for v in flagged["size_class"]]})
    table = pd.crosstab(df[by], df["cls"])
    for c in SizeClass:
        if c.value not in table.columns:
            table[c.value] = 0
    table = table[[c.value for c in SizeClass]]
    g = df.groupby(by).agg(communities=("cls", "size"), households=("households", "sum"))
    out = g.join(table).reset_index()
    out["oversized"] = out["adjust"] + out["super_large"]
    total = out.drop(columns=[by]).sum().to_dict()
    total[by] = "合计 total"
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    return out[[by, "communities", "households", *[c.value for c in SizeClass], "oversized"]]
