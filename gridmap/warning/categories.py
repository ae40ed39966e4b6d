"""The complaint category catalog (12345 接诉即办 categories used by gridmap).

Unknown categories are **mapped to 其他 with a warning** by the importer, never dropped silently: the original
value is kept in the rejection/warning report so the catalog can be extended. Aliases (common variants seen in
12345 exports and Open311 ``service_name`` values) map onto catalog names.

Examples
--------
>>> normalise_category("房屋漏雨")
'房屋漏雨'
>>> normalise_category(" 噪声 ")
'噪音'
>>> normalise_category("外星人") is None
True
"""

from __future__ import annotations

import unicodedata

__all__ = ["CATEGORIES", "CATEGORY_ALIASES", "FALLBACK_CATEGORY", "normalise_category"]

#: Catalog name -> English label.
CATEGORIES: dict[str, str] = {
    "住房": "housing",
    "房屋漏雨": "roof leak",
    "供暖": "heating",
    "供水": "water supply",
    "市政设施": "municipal facilities",
    "交通": "traffic",
    "噪音": "noise",
    "市容环境": "city appearance and environment",
    "物业": "property management",
    "城市管理": "urban management",
    "园林绿化": "landscaping and greening",
    "社区服务": "community services",
    "其他": "other",
}

FALLBACK_CATEGORY = "其他"

#: Variant spellings (and English / Open311 service names) -> catalog name.
CATEGORY_ALIASES: dict[str, str] = {
    "房屋": "住房", "住房保障": "住房", "housing": "住房",
    "漏雨": "房屋漏雨", "屋顶漏雨": "房屋漏雨", "房屋渗水": "房屋漏雨", "roof leak": "房屋漏雨", "leak": "房屋漏雨",
    "暖气": "供暖", "供热": "供暖", "heating": "供暖",
    "停水": "供水", "自来水": "供水", "water": "供水",
    "市政": "市政设施", "路灯": "市政设施", "井盖": "市政设施", "streetlight": "市政设施", "pothole": "市政设施",
    "交通管理": "交通", "停车": "交通", "违章停车": "交通", "traffic": "交通", "parking": "交通",
    "噪声": "噪音", "施工噪音": "噪音", "noise": "噪音",
    "环境卫生": "市容环境", "市容": "市容环境", "垃圾": "市容环境", "sanitation": "市容环境", "graffiti": "市容环境",
    "物业管理": "物业", "property": "物业", "住房/物业": "物业", "物业服务": "物业",
    "交通/停车": "交通", "噪音扰民": "噪音", "噪声扰民": "噪音", "供水/排水": "供水", "排水": "供水",
    "城管": "城市管理", "城市管理执法": "城市管理", "违法建设": "城市管理",
    "绿化": "园林绿化", "园林": "园林绿化", "trees": "园林绿化",
    "社区": "社区服务", "社区管理": "社区服务",
    "other": "其他", "其它": "其他",
}


def normalise_category(value: object) -> str | None:
    """Catalog name for ``value`` (NFKC-folded, trimmed, aliases applied), or ``None`` if unknown/missing."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text or text.lower() == "nan":
        return None
    if text in CATEGORIES:
        return text
    return CATEGORY_ALIASES.get(text, CATEGORY_ALIASES.get(text.lower()))
