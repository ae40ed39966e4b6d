"""Data strings in Markdown reports: shown as text, never as markup.

Names, categories, addresses and keywords come from imported files. Put into a Markdown report as they are,
``<img src=x onerror=alert(1)>`` would be raw HTML and ``[x](javascript:alert(1))`` a link in any viewer that
renders the report. :func:`escape_markdown` makes such a value plain text: HTML's ``& < >`` become entities,
Markdown's active characters get a backslash, line breaks become spaces (a value cannot start a new block).
Use it for every data-derived value (numbers and dates gridmap formats itself need nothing).

>>> escape_markdown("<img src=x onerror=alert(1)>")
'&lt;img src=x onerror=alert\\\\(1\\\\)&gt;'
>>> escape_markdown("[x](javascript:alert(1))")
'\\\\[x\\\\]\\\\(javascript:alert\\\\(1\\\\)\\\\)'
>>> escape_markdown("东华门 | 大院*社区*")
'东华门 \\\\| 大院\\\\*社区\\\\*'
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["escape_markdown"]

_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Characters with a meaning inside a Markdown line (CommonMark + GitHub tables/strikethrough).
_ACTIVE_RE = re.compile(r"([\\`*_\[\]()#!|~])")
_LEADING_RE = re.compile(r"^(\s*)([-+=]|\d+[.)])")


def escape_markdown(value: Any) -> str:
    """``value`` as Markdown text that renders as exactly that text (``None`` gives ``''``)."""
    try:
        if value is None or bool(value != value):  # None, NaN
            return ""
    except (TypeError, ValueError):  # pandas.NA
        return ""
    text = " ".join(str(value).splitlines())
    text = "".join(_HTML.get(ch, ch) for ch in text)
    text = _ACTIVE_RE.sub(r"\\\1", text)
    # A value that starts a line could open a list or a heading underline.
    return _LEADING_RE.sub(lambda m: m.group(1) + "\\" + m.group(2) if len(m.group(2)) == 1
                           else m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], text)
