"""What may appear in a map, and how: HTML/JS escaping, personal-data scrubbing, small-count suppression.

Every string that comes from data reaches the page through :func:`escape_html` (so ``<script>`` shows as
text) and then through :func:`js_json` (so nothing inside a ``<script>`` block can close it: ``<``, ``>``,
``&``, U+2028 and U+2029 are written as ``\\uXXXX`` escapes).

Maps made for sharing (:attr:`Privacy.SHARED`, the default) never carry individual complaints: complaint
layers are aggregated to cells and cells with fewer than ``min_count`` complaints (default 3) are dropped.
Free text that must appear (alert messages, category names; complaint texts on internal maps) is passed through
:func:`scrub_pii`, which masks mainland mobile numbers, landlines and 18- and 15-digit resident ID numbers in
both modes, also when written in full-width digits, Chinese numerals or with separators.

Examples
--------
>>> escape_html('<img src=x onerror=alert(1)>')
'&lt;img src=x onerror=alert(1)&gt;'
>>> js_json({"t": "</script><!--"})
'{"t":"\\\\u003c/script\\\\u003e\\\\u003c!--"}'
>>> scrub_pii("王先生 13812345678，身份证 11010519491231002X，座机 010-65123456")
'王先生 [电话]，身份证 [身份证号]，座机 [电话]'
>>> scrub_pii("电话１３８１２３４５６７８ 或 幺三八 幺二三四 五六七八")
'电话[电话] 或 [电话]'
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import numpy as np
import pandas as pd

from gridmap._enums import ChoiceEnum
from gridmap.maps._pii import find_pii

__all__ = ["Privacy", "DEFAULT_MIN_COUNT", "escape_html", "js_json", "scrub_pii"]

#: Cells with fewer complaints than this are left out of shared maps.
DEFAULT_MIN_COUNT = 3


class Privacy(ChoiceEnum, what="privacy mode"):
    """Who the map is for.

    ``shared``: may leave the office; aggregated complaint counts only, small counts suppressed.
    ``internal``: for staff; may show individual (scrubbed) complaint points, and says 内部资料 on the map.
    """

    SHARED = "shared"
    INTERNAL = "internal"


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


def scrub_pii(text: Any, *, phone: str = "[电话]", id_number: str = "[身份证号]") -> str:
    """Mask phone numbers (mobile and landline) and resident ID numbers (18 and 15 digits) in free text.

    Numbers are found however they are written: full-width digits (``１３８``), Chinese numerals read as
    spoken digits (``一三八``, ``幺``, ``两``), separators between digit groups (spaces of any kind, ``.``, dashes,
    ``/``, brackets), ``+86`` / ``0086`` / ``86`` prefixes, area codes and extensions. The search runs on a
    normalised copy (NFKC plus numerals); each masked span is cut out of the ORIGINAL text, the rest of the
    text is returned unchanged. The exact rules (which runs are read as IDs, as cell or component codes, as dates
    or amounts) are listed in :mod:`gridmap.maps._pii`; in doubt, free text is masked. Code fields shown on
    their own (cell and component codes) do not go through this function.

    ``None``/NaN give ``''``. The result is plain text: escape it before putting it in HTML.

    >>> scrub_pii("call +86 138-1234-5678 or (010)6512 3456 转 8")
    'call [电话] or [电话]'
    >>> scrub_pii("电话１３８１２３４５６７８，或 138.1234.5678，一三八 一二三四 五六七八")
    '电话[电话]，或 [电话]，[电话]'
    >>> scrub_pii("老身份证 110105491231002，新 110105 19491231 002X")
    '老身份证 [身份证号]，新 [身份证号]'
    >>> scrub_pii("2025-06-01 付 1,234.56 元；部件 01010023，网格 110101001001001，东四北大街123号")
    '2025-06-01 付 1,234.56 元；部件 01010023，网格 110101001001001，东四北大街123号'
    """
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return ""
    text = str(text)
    spans = find_pii(text)
    if not spans:
        return text
    parts: list[str] = []
    at = 0
    for s in spans:
        parts += [text[at:s.start], id_number if s.kind == "id" else phone]
        at = s.end
    parts.append(text[at:])
    return "".join(parts)
