"""What may appear in a map, and how: HTML/JS escaping, personal-data scrubbing, small-count suppression.

Every string that comes from data reaches the page through :func:`escape_html` (so ``<script>`` shows as
text) and then through :func:`js_json` (so nothing inside a ``<script>`` block can close it: ``<``, ``>``,
``&``, U+2028 and U+2029 are written as ``\\uXXXX`` escapes).

Maps made for sharing (:attr:`Privacy.SHARED`, the default) never carry individual complaints: complaint
layers are aggregated to cells and cells with fewer than ``min_count`` complaints (default 3) are dropped.
Free text that must appear (alert messages, category names) is passed through :func:`scrub_pii`, which
masks mainland mobile numbers, landlines and 18-digit resident ID numbers in both modes.

Examples
--------
>>> escape_html('<img src=x onerror=alert(1)>')
'&lt;img src=x onerror=alert(1)&gt;'
>>> js_json({"t": "</script><!--"})
'{"t":"\\\\u003c/script\\\\u003e\\\\u003c!--"}'
>>> scrub_pii("王先生 13812345678，身份证 11010519491231002X，座机 010-65123456")
'王先生 [电话]，身份证 [身份证号]，座机 [电话]'
"""

from __future__ import annotations

import enum
import html
import json
import re
from typing import Any

import numpy as np
import pandas as pd

from gridmap.errors import ValidationError, message, Problem

__all__ = ["Privacy", "DEFAULT_MIN_COUNT", "escape_html", "js_json", "scrub_pii", "suppress_small_counts"]

#: Cells with fewer complaints than this are left out of shared maps.
DEFAULT_MIN_COUNT = 3


class Privacy(str, enum.Enum):
    """Who the map is for.

    ``shared``: may leave the office; aggregated complaint counts only, small counts suppressed.
    ``internal``: for staff; may show individual (scrubbed) complaint points, and says 内部资料 on the map.
    """

    SHARED = "shared"
    INTERNAL = "internal"

    @classmethod
    def parse(cls, value: "str | Privacy") -> "Privacy":
        try:
            return cls(value if isinstance(value, cls) else str(value).strip().lower())
        except ValueError:
            raise ValidationError(message("unknown privacy mode", got=repr(value),
                                          fix="use one of " + ", ".join(m.value for m in cls))) from None


_JS_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_JS_RE = re.compile("[<>&\u2028\u2029]")


def escape_html(value: Any) -> str:
    """Text as HTML: ``& < > " '`` escaped; ``None``/NaN become an empty string."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return html.escape(str(value), quote=True)


def js_json(value: Any) -> str:
    """JSON that is safe inside an HTML ``<script>`` element (no ``</script>``, ``<!--`` or line separators)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _JS_RE.sub(lambda m: _JS_ESCAPES[m.group(0)], text)


# 18-digit resident ID: 6-digit area, birth date 18xx-20xx, 3-digit sequence, check digit (digit or X).
_ID_RE = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
                    r"(?![0-9A-Za-z])")
# Mainland mobile: 11 digits starting 13-19, optional +86/0086 prefix and separators inside (138 1234 5678).
_MOBILE_RE = re.compile(r"(?<!\d)(?:(?:\+|00)86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?!\d)")
# Landline: area code 0xx / 0xxx (optionally in brackets), then a 7-8 digit number; or a bare 8-digit
# Beijing-style number starting 2-9 (6512 3456 / 65123456); optional extension.
_LANDLINE_RE = re.compile(r"(?<!\d)(?:\(?0\d{2,3}\)?[\s-]?)[2-9]\d{2,3}[\s-]?\d{4}(?:[\s-]?(?:转|ext\.?|x)\s?\d{1,5})?(?!\d)"
                          r"|(?<!\d)[2-9]\d{3}[\s-]?\d{4}(?!\d)")


def scrub_pii(text: Any, *, phone: str = "[电话]", id_number: str = "[身份证号]") -> str:
    """Mask phone numbers (mobile and landline) and 18-digit ID numbers in free text.

    ID numbers are masked first (an ID contains digit runs that look like phone numbers).
    ``None``/NaN give ``''``. The result is plain text: escape it before putting it in HTML.

    >>> scrub_pii("call +86 138-1234-5678 or (010)6512 3456 转 8")
    'call [电话] or [电话]'
    """
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return ""
    out = _ID_RE.sub(id_number, str(text))
    out = _MOBILE_RE.sub(phone, out)
    return _LANDLINE_RE.sub(phone, out)


def suppress_small_counts(counts: pd.Series, *, min_count: int = DEFAULT_MIN_COUNT) -> pd.Series:
    """Keep only entries with at least ``min_count`` (the rest would point at one or two people)."""
    if min_count < 0:
        raise ValidationError("min_count must be >= 0", [Problem(None, "min_count", "negative", min_count)])
    return counts[counts >= min_count]
