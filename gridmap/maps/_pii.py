"""Finding phone and ID numbers in free text, however they are written (plumbing of
:func:`gridmap.maps.safety.scrub_pii`).

How a text is read
------------------
1. **A normalised copy** is made, one character for one character wherever possible: NFKC (full-width
   ``１３８`` and ``＋``, circled ``①``, ...), every Unicode decimal digit to ASCII, Chinese numerals as spoken
   digits (``〇零○一二三四五六七八九幺两`` and the financial ``壹贰叁肆伍陆柒捌玖``), every dash (en/em dash,
   minus, full-width hyphen, ``ー``) to ``-``, every space (ideographic, non-breaking, thin) and every invisible
   format character (zero-width space, soft hyphen, BOM) to a space, middle dots and ``。`` to ``.``, CJK
   brackets to ``(`` ``)``, ``×`` to ``X``. An index map leads from each character of the copy back to the
   original character, so masks are cut out of the ORIGINAL text: only masked spans are ever replaced.
2. **Chunks**: maximal runs of digits joined by at most three separator characters (space ``-`` ``.`` ``/``
   ``(`` ``)`` ``[`` ``]`` ``+`` ``_``) between digit groups. Commas and colons are not separators (amounts
   ``1,234.56``, times ``12:30``). A chunk is a list of digit groups (its *pieces*).
3. **Spans**: every run of consecutive whole pieces (at most 18 digits) is read as one digit string ``D`` and
   classified (first match wins):

   ================  =========================================================================================
   18 digits         (17 digits + ``X``) with a valid birth date (1800-2099, real calendar day) in digits 7-14:
                     an 18-digit ID number, masked whatever its check digit (a mistyped ID is still personal
                     data). The GB 11643 check digit decides where an ID sits inside a longer run (below).
   17 digits         a valid birth date in digits 7-14: an ID missing its last character, masked; otherwise
                     area (6) + major class ``01``-``06`` + minor (3) + serial (6) is a national component
                     identifier (GB/T 47678.5-2026), kept.
   16 digits         area (6) + major class ``01``-``06`` + minor (2) + serial (6): a national component
                     identifier, kept.
   11-15 digits      a mobile ``1[3-9]`` + 9 digits, optionally after ``86``, ``0086`` or a dialled ``0``; or a
                     landline: ``0`` + area code (``10``, ``2x`` or three digits ``3xx``-``9xx``), or ``86`` /
                     ``0086`` + the area code without its ``0``, then a 7-8 digit number starting 2-9: masked.
                     A mobile may be grouped any way (``1 3 8 1 2 ...``), and a group ``86`` / ``0086`` / ``0``
                     just before it is masked with it (``楼号86 138...`` loses its ``86``: in doubt, mask). A
                     landline in several groups must keep its area code in one group (``2025-06-01 6512 3456``
                     is a date and a number, not area code ``0601``).
   15 digits         (not a phone) digits 7-9 in ``001``-``099`` (a 街道 street code): a unit-cell code
                     (DB11/T 2157), kept. Otherwise digits 7-12 a valid date ``19YYMMDD``: a 15-digit (first
                     generation) ID number, masked. The two overlap only for "birth years" 1900-1909, which no
                     living holder of a 15-digit ID has; cell codes of towns and townships (street ``100``-
                     ``399``) can look like a 15-digit ID and ARE masked when they appear in free text.
   10 digits         a landline with its area code (``0`` + 2-digit area code + 7 digits): masked.
   8 digits          a landline without area code (starting 2-9), written as one group or as 4 + 4 (``6512
                     3456``): masked, except a valid date ``YYYYMMDD`` (1900-2099), a range of years
                     (``2019-2025``) and an amount (8 digits then ``.`` and 1-2 decimals, or after a decimal
                     point). 8-digit component codes start with ``0``. Other 4 + 4 pairs are masked (room numbers
                     ``2203 2204`` and times without colons ``2200-0600`` among them: in doubt, mask).
   ================  =========================================================================================

4. **Long runs** (a single group of 12 or more digits that none of the rules above kept or masked): every 18-digit
   window that is a valid ID *with a valid check digit* is masked as an ID; then, conservatively, every 11-digit
   window ``1[3-9]`` + 9 digits is masked as a phone (a mobile number glued to other digits). Long numbers
   (order or card numbers) therefore come out partly masked; codes kept by the rules above are left whole.
5. Masks that overlap are merged (an ID wins the label); a phone's mask takes in a ``+`` or ``(`` just before
   it and an extension after it (``转 12``, ``分机 12``, ``ext 12``, ``x 12``, ``#12``).

Not covered (documented limits): 7-digit landlines without an area code, numbers whose digit groups are more
than three separator characters apart, the letter ``O`` written for zero, and bank-card numbers as such.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

__all__ = ["find_pii", "normalise", "Span"]

# --- normalisation -------------------------------------------------------------------------------------------

#: Chinese numerals read as spoken digits (幺 = 1 and 两 = 2 in spoken phone numbers; ○ is often typed for 〇).
NUMERALS = {"〇": "0", "零": "0", "○": "0", "一": "1", "幺": "1", "壹": "1", "二": "2", "两": "2", "兩": "2",
            "贰": "2", "貳": "2", "三": "3", "叁": "3", "叄": "3", "四": "4", "肆": "4", "五": "5", "伍": "5",
            "六": "6", "陆": "6", "陸": "6", "七": "7", "柒": "7", "八": "8", "捌": "8", "九": "9", "玖": "9"}
_DASHES = "\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d\u30fc\u2043"
_DOTS = "\u00b7\u2027\u2219\u22c5\u30fb\uff65\u3002\uff61\ufe52\u2024"
_OPEN = "【〔〖「『《〈［｛"
_CLOSE = "】〕〗」』》〉］｝"
_SLASHES = "\u2215\u2044\uff0f\u29f8"

#: Code-point ranges scanned for NFKC and Unicode-digit mappings (CJK ideographs, Hangul syllables and the
#: private-use planes map to themselves and are skipped; the numerals above are added by hand).
_SCAN = ((0x80, 0x4E00), (0xA000, 0xAC00), (0xD7B0, 0x20000), (0xE0000, 0xE1000))


_TABLE: dict[int, str] | None = None


def _table() -> dict[int, str]:
    """The translate table (built on first use, about 40 ms). Every value is one character or more, so the copy is
    never shorter than the text, and of the same length exactly when every character mapped to one."""
    global _TABLE
    if _TABLE is None:
        table: dict[int, str] = {}
        for lo, hi in _SCAN:
            for cp in range(lo, hi):
                ch = chr(cp)
                cat = unicodedata.category(ch)
                if cat == "Nd":
                    table[cp] = str(unicodedata.decimal(ch))
                elif cat in ("Zs", "Zl", "Zp", "Cf"):
                    table[cp] = " "
                elif cat != "Cn":
                    k = unicodedata.normalize("NFKC", ch)
                    if k != ch and any(c.isascii() for c in k):
                        table[cp] = k
        for chars, to in ((_DASHES, "-"), (_DOTS, "."), (_OPEN, "("), (_CLOSE, ")"), (_SLASHES, "/"),
                          ("×", "X")):
            table.update({ord(c): to for c in chars})
        table.update({ord(c): d for c, d in NUMERALS.items()})
        table.update({ord(c): " " for c in "\t\n\r\v\f"})
        _TABLE = table
    return _TABLE


def normalise(text: str) -> tuple[str, list[int] | None]:
    """The normalised copy of ``text`` and the index of each of its characters in ``text``.

    The index is ``None`` when the copy maps one to one (the usual case: no character expanded).

    >>> normalise("电话１３８－１２３４　５６７８")
    ('电话138-1234 5678', None)
    >>> normalise("幺三八⑩")
    ('13810', [0, 1, 2, 3, 3])
    """
    table = _TABLE if _TABLE is not None else _table()
    norm = text.translate(table)
    if len(norm) == len(text):
        return norm, None
    index: list[int] = []
    for i, ch in enumerate(text):
        index.extend([i] * len(table.get(ord(ch), ch)))
    return norm, index


# --- classification ------------------------------------------------------------------------------------------

_SEP = r"[ \-./()\[\]+_]"
#: A chunk with at least 8 digits (fewer cannot hold a phone or ID number); greedy, so each match is maximal.
_CHUNK_RE = re.compile(rf"[0-9](?:{_SEP}{{0,3}}[0-9]){{7,}}")
_PIECE_RE = re.compile(r"[0-9]+")
_MOBILE_D = re.compile(r"(?:0086|86|0)?1[3-9][0-9]{9}")
_LANDLINE_D = re.compile(r"(0086|86)?(0?)(?:10|2[0-9]|[3-9][0-9]{2})[2-9][0-9]{6,7}")
_COMPONENT_D = re.compile(r"[1-9][0-9]{5}0[1-6][0-9]{2,3}[0-9]{6}")
_MOBILE_WINDOW = re.compile(r"(?=(1[3-9][0-9]{9}))")
_EXTENSION_RE = re.compile(r"[ \-./()]{0,3}(?:转|分机|ext\.?|x|#)[ :.]{0,2}[0-9]{1,6}(?![0-9])", re.I)
#: The check character of an ID after its digits: at once, or after separators when no letter follows.
_X_AFTER = re.compile(rf"[Xx]|{_SEP}{{1,3}}[Xx](?![A-Za-z])")
_AMOUNT_AFTER = re.compile(r"\.[0-9]{1,2}(?![0-9])")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

PHONE, ID, KEEP = "phone", "id", "keep"


class Span(NamedTuple):
    """A masked span ``[start, end)`` of the ORIGINAL text and what it is (``'phone'`` or ``'id'``)."""

    start: int
    end: int
    kind: str


def valid_date(y: int, m: int, d: int) -> bool:
    """A real calendar day (Gregorian leap years)."""
    if not 1 <= m <= 12 or d < 1:
        return False
    if m == 2 and d == 29:
        return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    return d <= _DAYS[m - 1]


def check_digit(first17: str) -> str:
    """The GB 11643-1999 check character of an 18-digit resident ID (ISO 7064 MOD 11-2).

    >>> check_digit("11010519491231002")
    'X'
    """
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, _WEIGHTS)) % 11]


def _id18_date(d: str) -> bool:
    """Digits 7-14 of an 18 (or 17) digit string are a birth date 1800-2099."""
    return d[0] != "0" and d[6:8] in ("18", "19", "20") and valid_date(int(d[6:10]), int(d[10:12]), int(d[12:14]))


def _is_id18(d: str, *, check: bool) -> bool:
    return (len(d) == 18 and d[:17].isdigit() and _id18_date(d)
            and (not check or d[17] == check_digit(d[:17])))


def classify(d: str, *, x_after: bool = False) -> str | None:
    """What the digit string ``d`` (a whole span) is: ``'phone'``, ``'id'``, ``'keep'`` or ``None``.

    ``x_after``: an ``X`` follows the span (the check character of an 18-digit ID). The 8-digit landline
    without area code is left to the caller (it depends on how the digits are grouped).

    >>> classify("11010519491231002", x_after=True), classify("110101001001001"), classify("13812345678")
    ('id', 'keep', 'phone')
    """
    n = len(d)
    if n == 17 and x_after:
        return ID if _id18_date(d) else None
    if n == 18:
        return ID if _id18_date(d) else None
    if n == 17:
        return ID if _id18_date(d) else (KEEP if _COMPONENT_D.fullmatch(d) else None)
    if n == 16:
        return KEEP if _COMPONENT_D.fullmatch(d) else None
    if 10 <= n <= 15 and (_MOBILE_D.fullmatch(d) or _landline(d) is not None):
        return PHONE
    if n == 15:
        if d[6] == "0" and d[6:9] != "000":
            return KEEP            # a unit-cell code in a 街道 street (street 001-099)
        if d[0] != "0" and valid_date(1900 + int(d[6:8]), int(d[8:10]), int(d[10:12])):
            return ID
    return None


def _landline(d: str) -> int | None:
    """If ``d`` is a landline with its area code: where the area code ends (``0``/``86``/``0086`` included)."""
    m = _LANDLINE_D.fullmatch(d)
    if m is None or (m.group(1) is None and not m.group(2)):      # neither 86/0086 nor the trunk 0
        return None
    return m.end(2) + (2 if d[m.end(2)] in "12" else 3)         # 10 and 2x: two digits; others three


def _split_area_code(d: str, cuts: list[int]) -> bool:
    """A landline written in several groups whose area code is cut (``06-01 6512 3456`` is a date and a
    number, not area code ``0601``): only a cut between ``86``/``0086`` and the area code is allowed."""
    end = _landline(d)
    if end is None:
        return False
    prefix = 4 if d.startswith("0086") else 2 if d.startswith("86") else 0
    return any(0 < c < end and c != prefix for c in cuts)


def _bare_landline(d: str) -> bool:
    """8 digits starting 2-9 that are not a date YYYYMMDD (1900-2099)."""
    if len(d) != 8 or d[0] in "01":
        return False
    return not (d[:2] in ("19", "20") and valid_date(int(d[:4]), int(d[4:6]), int(d[6:8])))


def _years(d: str) -> bool:
    """4 + 4 digits that are two years 1900-2099 (``2019-2025``): a range of years, not a number."""
    return d[:2] in ("19", "20") and d[4:6] in ("19", "20")


def _long_run(d: str, x_after: bool) -> list[tuple[int, int, str]]:
    """Masks inside a single group of 12 or more digits: IDs with a valid check digit, then mobile windows.

    Offsets are into ``d`` followed by its ``X`` when ``x_after``."""
    full = d + "X" if x_after else d
    out = [(i, i + 18, ID) for i in range(len(full) - 17) if _is_id18(full[i:i + 18], check=True)]
    out.extend((m.start(), m.start() + 11, PHONE) for m in _MOBILE_WINDOW.finditer(d))
    return out


def _chunk_spans(norm: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """Masked spans ``(a, b, kind)`` in normalised coordinates for the chunk ``norm[start:end]``."""
    pieces = [(m.start(), m.end()) for m in _PIECE_RE.finditer(norm, start, end)]
    last = len(pieces) - 1
    xm = _X_AFTER.match(norm, end)
    x_end = xm is not None
    spans: list[tuple[int, int, str]] = []
    for i, (a, b) in enumerate(pieces):
        if b - a > 18:                     # a single very long group
            spans.extend((a + s, _x_end(a + e, b, xm), k) for s, e, k in _long_run(norm[a:b], i == last and x_end))
            continue
        d = ""
        cuts: list[int] = []
        for j in range(i, last + 1):
            pa, pb = pieces[j]
            if j > i:
                cuts.append(len(d))
            d += norm[pa:pb]
            if len(d) > 18:
                break
            x_after = j == last and x_end
            kind = classify(d, x_after=x_after)
            if kind == PHONE and cuts and not _MOBILE_D.fullmatch(d) and _split_area_code(d, cuts):
                kind = None
            if kind is None and len(d) == 8 and _bare_landline(d) and (
                    (j == i and not _is_amount(norm, a, b)) or (j == i + 1 and b - a == 4 and not _years(d))):
                kind = PHONE
            if j == i:
                if kind == KEEP:
                    break                  # a code kept whole: no span starts inside it
                if kind is None and len(d) >= 12:
                    spans.extend((a + s, _x_end(a + e, b, xm), k) for s, e, k in _long_run(d, x_after))
            if kind in (PHONE, ID):
                spans.append((a, xm.end() if kind == ID and x_after and len(d) == 17 else pb, kind))
    return spans


def _x_end(e: int, b: int, xm: re.Match[str] | None) -> int:
    """A long-run window ending one past its digits (on the ``X``) ends after the ``X`` and what precedes it."""
    return xm.end() if xm is not None and e == b + 1 else e


def _is_amount(norm: str, a: int, b: int) -> bool:
    """The digits ``norm[a:b]`` are the integer part of an amount (``.`` and 1-2 decimals follow) or the
    decimals of a number (a digit and ``.`` precede)."""
    return _AMOUNT_AFTER.match(norm, b) is not None or (a >= 2 and norm[a - 1] == "." and norm[a - 2].isdigit())


def _extend(norm: str, a: int, b: int, kind: str) -> tuple[int, int]:
    """A phone's mask takes in a ``+`` / opening bracket just before it and an extension after it."""
    if kind != PHONE:
        return a, b
    inner = norm[a:b]
    closed = (")" in inner or "]" in inner) and "(" not in inner and "[" not in inner
    while a > 0 and (norm[a - 1] == "+" or (norm[a - 1] in "([" and closed)):
        a -= 1
    m = _EXTENSION_RE.match(norm, b)
    return a, (m.end() if m else b)


def find_pii(text: str) -> list[Span]:
    """Spans of ``text`` (original coordinates) holding phone or ID numbers, sorted and not overlapping.

    >>> find_pii("电话１３８.１２３４.５６７８，身份证一一〇一〇五一九四九一二三一〇〇二X")
    [Span(start=2, end=15, kind='phone'), Span(start=19, end=37, kind='id')]
    """
    norm, index = normalise(text)
    raw: list[tuple[int, int, str]] = []
    for m in _CHUNK_RE.finditer(norm):
        raw.extend((*_extend(norm, a, b, k), k) for a, b, k in _chunk_spans(norm, m.start(), m.end()))
    if not raw:
        return []
    raw.sort()
    merged: list[list] = []
    for a, b, k in raw:
        if merged and a < merged[-1][1]:
            last = merged[-1]
            last[1] = max(last[1], b)
            if k == ID:
                last[2] = ID
        else:
            merged.append([a, b, k])
    if index is None:
        return [Span(a, b, k) for a, b, k in merged]
    return [Span(index[a], index[b - 1] + 1, k) for a, b, k in merged]
