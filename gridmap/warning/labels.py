"""The Chinese labels of emerging hot-spot patterns, alert kinds (and :class:`AlertKind` itself) and spatial units,
in one place.

The analysis (:mod:`~gridmap.warning.emerging`, :mod:`~gridmap.warning.alerts`) writes ``pattern_zh`` /
``kind_zh`` columns from these tables, and the map (:mod:`gridmap.maps`) labels its layers with them.

Examples
--------
>>> PATTERN_ZH["new hot spot"], ALERT_KIND_ZH["count jump"], UNIT_LABEL["community"]
('新增热点', '诉求量突增', '社区 community')
>>> pattern_label("new"), pattern_label("持续热点")
('新增热点 new hot spot', '持续热点 persistent hot spot')
>>> pattern_key("加剧"), pattern_key(" Hot ")
('intensifying hot spot', 'hot spot')
"""

from __future__ import annotations

import enum
import math
from typing import Any

__all__ = ["AlertKind", "PATTERN_ZH", "ALERT_KIND_ZH", "UNIT_LABEL", "PATTERN_ALIASES", "pattern_key", "pattern_label"]

#: Emerging hot-spot categories (ArcGIS names, :class:`~gridmap.warning.Pattern` values) and the plain
#: Gi* "hot spot" / "cold spot" -> Chinese.
PATTERN_ZH: dict[str, str] = {
    "new hot spot": "新增热点", "consecutive hot spot": "连续热点", "intensifying hot spot": "加强热点",
    "persistent hot spot": "持续热点", "diminishing hot spot": "减弱热点", "sporadic hot spot": "零星热点",
    "oscillating hot spot": "振荡热点", "historical hot spot": "历史热点",
    "new cold spot": "新增冷点", "consecutive cold spot": "连续冷点", "intensifying cold spot": "加强冷点",
    "persistent cold spot": "持续冷点", "diminishing cold spot": "减弱冷点", "sporadic cold spot": "零星冷点",
    "oscillating cold spot": "振荡冷点", "historical cold spot": "历史冷点", "no pattern": "无明显模式",
    "hot spot": "热点", "cold spot": "冷点",
}

#: Kinds of rows in the alert table (:class:`~gridmap.warning.alerts.AlertKind` values) -> Chinese.
ALERT_KIND_ZH: dict[str, str] = {
    "count jump": "诉求量突增", "keyword watch": "关键词监测",
    **{k: PATTERN_ZH[k] for k in ("new hot spot", "consecutive hot spot", "intensifying hot spot")},
    "space-time cluster": "时空聚集",
}

#: Spatial units (``unit_type`` of the alert table) -> bilingual label.
UNIT_LABEL: dict[str, str] = {"cell": "网格 cell", "community": "社区 community", "street": "街道 street"}

#: Short names some callers use ("new", "hot", 新增, 新增热点 ...) -> the pattern names of :data:`PATTERN_ZH`.
PATTERN_ALIASES: dict[str, str] = {
    "new": "new hot spot", "consecutive": "consecutive hot spot", "intensifying": "intensifying hot spot",
    "persistent": "persistent hot spot", "diminishing": "diminishing hot spot", "sporadic": "sporadic hot spot",
    "oscillating": "oscillating hot spot", "historical": "historical hot spot", "hot": "hot spot",
    "cold": "cold spot",
    **{zh: en for en, zh in PATTERN_ZH.items()},
    "新增": "new hot spot", "连续": "consecutive hot spot", "加剧": "intensifying hot spot",
    "持续": "persistent hot spot", "零星": "sporadic hot spot", "振荡": "oscillating hot spot",
}


def pattern_key(value: Any) -> str:
    """The pattern name of ``value`` (English, Chinese, a short alias or a :class:`~gridmap.warning.Pattern`);
    unknown names lower-cased, missing values as ``''``."""
    s = "" if value is None or (isinstance(value, float) and math.isnan(value)) else \
        str(getattr(value, "value", value))
    s = s.strip()
    return PATTERN_ALIASES.get(s, PATTERN_ALIASES.get(s.lower(), s.lower()))


def pattern_label(key: Any) -> str:
    """'新增热点 new hot spot' for a pattern name (English, Chinese or a short alias); unknown names as given."""
    k = pattern_key(key)
    return f"{PATTERN_ZH[k]} {k}" if k in PATTERN_ZH else str(key)


class AlertKind(str, enum.Enum):
    """Kinds of rows in the alert table."""

    COUNT_JUMP = "count jump"
    KEYWORD = "keyword watch"
    NEW_HOT_SPOT = "new hot spot"
    CONSECUTIVE_HOT_SPOT = "consecutive hot spot"
    INTENSIFYING_HOT_SPOT = "intensifying hot spot"
    SPACE_TIME_CLUSTER = "space-time cluster"

    @property
    def zh(self) -> str:
        return ALERT_KIND_ZH[self.value]
