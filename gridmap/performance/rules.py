"""The rules of the 接诉即办 review: levels ranked, response time limits, composite weights.

Composite score (综合成绩) = 100 x (w_response x 响应率 + w_resolution x 解决率 + w_satisfaction x 满意率).
Default weights 10 % / 45 % / 45 %: the weighting reported for Beijing's monthly 接诉即办 assessment of streets
(see ``docs/performance.md`` for the source and its status). The weights are a setting, never a law: pass
``RateRules(weights=(...))`` (CLI ``--weights 0.1,0.45,0.45``).

Response rate (响应率): a complaint counts as responded in time when ``responded_at - received_at`` is at most
the limit of its urgency: :attr:`RateRules.urgent_limit_h` (default 2 h) for :attr:`RateRules.urgent_categories`
(default 供暖, 供水: water, power, gas and heating are the 2-hour class of the Beijing standard), else
:attr:`RateRules.response_limit_h` (default 24 h).
"""

from __future__ import annotations

from dataclasses import dataclass

from gridmap._enums import ChoiceEnum
from gridmap.errors import UsageError, message

__all__ = ["Level", "RateRules", "DEFAULT_WEIGHTS", "LEVEL_LABELS", "SCORE_BANDS", "NO_SCORE", "score_class",
           "parse_weights"]

#: (response, resolution, satisfaction): 10 % / 45 % / 45 %.
DEFAULT_WEIGHTS = (0.10, 0.45, 0.45)


class Level(ChoiceEnum, what="ranking level"):
    """What is ranked: streets (街乡镇), communities (社区), departments/units (承办单位), categories (诉求类别)."""

    STREET = "street"
    COMMUNITY = "community"
    DEPARTMENT = "department"
    CATEGORY = "category"

    @property
    def column(self) -> str:
        """The complaint column that names the unit (departments come from ``dispatched_to``, one row per unit)."""
        return {"street": "street_code", "community": "community_code", "department": "dispatched_to",
                "category": "category"}[self.value]


#: Bilingual labels of the levels.
LEVEL_LABELS = {Level.STREET: "街道 street", Level.COMMUNITY: "社区 community", Level.DEPARTMENT: "承办单位 unit",
                Level.CATEGORY: "类别 category"}


@dataclass(frozen=True)
class RateRules:
    """How the three rates and the composite score are computed."""

    response_limit_h: float = 24.0
    urgent_limit_h: float = 2.0
    urgent_categories: tuple[str, ...] = ("供暖", "供水")
    weights: tuple[float, float, float] = DEFAULT_WEIGHTS

    def __post_init__(self) -> None:
        w = tuple(float(x) for x in self.weights)
        if len(w) != 3 or min(w) < 0 or abs(sum(w) - 1.0) > 1e-9:
            raise UsageError(message("composite weights must be three non-negative numbers summing to 1",
                                     where="weights (response, resolution, satisfaction)", got=repr(self.weights),
                                     fix="e.g. 0.1,0.45,0.45 (the default)"))
        for name in ("response_limit_h", "urgent_limit_h"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0):
                raise UsageError(message("a response time limit must be a positive number of hours", where=name,
                                         got=repr(v), fix="e.g. 24 (normal) and 2 (urgent)"))
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "urgent_categories", tuple(self.urgent_categories))


#: (lower bound, colour, label): composite-score bands, best first (maps and charts share them, so two months'
#: pictures compare); a missing score is :data:`NO_SCORE`.
SCORE_BANDS: tuple[tuple[float, str, str], ...] = (
    (95.0, "#1a9850", "≥ 95"), (90.0, "#91cf60", "90–95"), (85.0, "#fee08b", "85–90"),
    (80.0, "#fc8d59", "80–85"), (float("-inf"), "#d73027", "< 80"))
NO_SCORE = ("#bdbdbd", "无评分 no score")


def score_class(score: object) -> int:
    """Index into :data:`SCORE_BANDS` (``len(SCORE_BANDS)`` for a missing score).

    >>> [score_class(s) for s in (99, 95, 91.2, 70, None)]
    [0, 0, 1, 4, 5]
    """
    import math

    try:
        v = float(score)  # type: ignore[arg-type]
    except (TypeError, ValueError):  # None, pd.NA, text
        return len(SCORE_BANDS)
    if math.isnan(v):
        return len(SCORE_BANDS)
    return next(i for i, (lo, _, _) in enumerate(SCORE_BANDS) if v >= lo)


def parse_weights(text: str | None) -> tuple[float, float, float]:
    """``'0.1,0.45,0.45'`` (or percentages ``'10,45,45'``) -> weights summing to 1; None -> the default.

    >>> parse_weights("10,45,45")
    (0.1, 0.45, 0.45)
    """
    if text is None:
        return DEFAULT_WEIGHTS
    try:
        w = tuple(float(x) for x in str(text).replace("，", ",").split(","))
    except ValueError:
        raise UsageError(message("weights must be three numbers", where="--weights", got=repr(text),
                                 fix="e.g. --weights 0.1,0.45,0.45 (response, resolution, satisfaction)")) from None
    if len(w) == 3 and abs(sum(w) - 100.0) < 1e-6:
        w = tuple(round(x / 100.0, 12) for x in w)
    if len(w) != 3:
        raise UsageError(message("weights must be three numbers", where="--weights", got=repr(text),
                                 fix="e.g. --weights 0.1,0.45,0.45 (response, resolution, satisfaction)"))
    return w  # type: ignore[return-value]
