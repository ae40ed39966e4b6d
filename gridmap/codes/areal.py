"""Area codes: district (6), street (9), community (12) and unit cell (15 digits, DB11/T 2157-2023).

A Beijing cell code is ``district(6) + street(3) + community(3) + sequence(3)``; the first 12 digits are the
national statistical division code (统计用区划代码) of the community. Street numbers 001-099 are 街道
(sub-districts), 100-199 镇 (towns), 200-399 乡 (townships).

Codes are plain ASCII digit strings. Full-width digits (``１``), spaces, letters, or a wrong length raise
:class:`~gridmap.errors.CodeError` saying which; the message carries the ASCII form when that is the only
problem, so a caller can fix it (:func:`gridmap.io.validate.normalise_code` does that on import).

Examples
--------
>>> c = parse_cell_code("110101001002003")
>>> c.district, c.street, c.community, c.sequence
('110101', '110101001', '110101001002', 3)
>>> format_cell_code("110101001002", 3)
'110101001002003'
>>> street_kind("110101001")
'街道'
>>> parse_cell_code("11010100100200")
Traceback (most recent call last):
...
gridmap.errors.CodeError: cell code must have 15 digits, has 14 (at cell code); got '11010100100200'. Fix: a Beijing cell code is district(6) + street(3) + community(3) + sequence(3), e.g. 110101001001001
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from gridmap.errors import CapacityError, CodeError, message

__all__ = [
    "CellCode",
    "MAX_CELL_SEQUENCE",
    "check_digits",
    "parse_cell_code",
    "format_cell_code",
    "check_community_code",
    "check_street_code",
    "check_district_code",
    "street_kind",
]

#: Largest sequence a 3-digit cell sequence can hold.
MAX_CELL_SEQUENCE = 999

_SHAPES = {
    6: "a district code is 6 digits (GB/T 2260), e.g. 110101",
    9: "a street code is district(6) + street(3), e.g. 110101001",
    12: "a community code is district(6) + street(3) + community(3), e.g. 110101001001",
    15: "a Beijing cell code is district(6) + street(3) + community(3) + sequence(3), e.g. 110101001001001",
}


def check_digits(code: object, digits: int | tuple[int, ...], *, label: str, fix: str | None = None) -> str:
    """Return ``code`` as a string if it is ASCII digits of an allowed length, else raise :class:`CodeError`.

    >>> check_digits("０１０１", 4, label="class code")
    Traceback (most recent call last):
    ...
    gridmap.errors.CodeError: class code contains full-width digits (at class code); got '０１０１'. Fix: type ASCII digits: '0101'
    """
    allowed = (digits,) if isinstance(digits, int) else tuple(digits)
    if code is None or (isinstance(code, float) and code != code):
        raise CodeError(message(f"{label} is missing", where=label, fix=fix))
    if not isinstance(code, str):
        raise CodeError(message(f"{label} must be a string of digits", where=label, got=f"{code!r} ({type(code).__name__})",
                                fix="keep codes as text so leading zeros survive (read CSVs with dtype=str)"))
    if code.isdigit() and not code.isascii():
        ascii_form = unicodedata.normalize("NFKC", code)
        raise CodeError(message(f"{label} contains full-width digits", where=label, got=repr(code),
                                fix=f"type ASCII digits: {ascii_form!r}"))
    if not (code.isascii() and code.isdigit()):
        stripped = unicodedata.normalize("NFKC", code).strip().replace(" ", "")
        hint = f"remove spaces and other characters: {stripped!r}" if stripped.isdigit() and stripped.isascii() \
            else (fix or "use digits 0-9 only")
        raise CodeError(message(f"{label} must contain digits only", where=label, got=repr(code), fix=hint))
    if len(code) not in allowed:
        want = " or ".join(str(d) for d in allowed)
        raise CodeError(message(f"{label} must have {want} digits, has {len(code)}", where=label, got=repr(code),
                                fix=fix or _SHAPES.get(allowed[0])))
    return code


@dataclass(frozen=True)
class CellCode:
    """A parsed 15-digit cell code."""

    code: str

    @property
    def district(self) -> str:
        return self.code[:6]

    @property
    def street(self) -> str:
        return self.code[:9]

    @property
    def community(self) -> str:
        return self.code[:12]

    @property
    def sequence(self) -> int:
        return int(self.code[12:])

    def __str__(self) -> str:
        return self.code


def parse_cell_code(code: object) -> CellCode:
    """Parse and validate a 15-digit cell code (sequence 001-999)."""
    text = check_digits(code, 15, label="cell code")
    if int(text[12:]) == 0:
        raise CodeError(message("cell sequence 000 is not used", where="cell code", got=repr(text),
                                fix="sequences run from 001 to 999"))
    check_street_code(text[:9])
    return CellCode(text)


def format_cell_code(community_code: str, sequence: int) -> str:
    """``community_code`` (12) + ``sequence`` as 3 digits; more than 999 raises :class:`CapacityError`."""
    check_community_code(community_code)
    seq = int(sequence)
    if seq < 1:
        raise CodeError(message("cell sequence must be at least 1", where=community_code, got=sequence))
    if seq > MAX_CELL_SEQUENCE:
        raise CapacityError(message(f"community {community_code} needs cell sequence {seq}, but DB11/T 2157-2023 "
                                    "codes hold at most 999 cells per community", where=community_code, got=seq,
                                    fix="split the community, use a larger cell_size_m, or build with "
                                        "allow_overflow=True (non-standard 4-digit sequence)"))
    return f"{community_code}{seq:03d}"


def check_district_code(code: object) -> str:
    """Validate a 6-digit district code (GB/T 2260)."""
    return check_digits(code, 6, label="district code")


def check_street_code(code: object) -> str:
    """Validate a 9-digit street code; its street part must be 001-399."""
    text = check_digits(code, 9, label="street code")
    n = int(text[6:])
    if not 1 <= n <= 399:
        raise CodeError(message("street number must be 001-399 (001-099 街道, 100-199 镇, 200-399 乡)",
                                where="street code", got=repr(text)))
    return text


def check_community_code(code: object) -> str:
    """Validate a 12-digit community code (统计用区划代码 of a 社区/村)."""
    text = check_digits(code, 12, label="community code")
    check_street_code(text[:9])
    return text


def street_kind(street_code: str) -> str:
    """'街道' (001-099), '镇' (100-199) or '乡' (200-399) from a 9-digit street code."""
    n = int(check_street_code(street_code)[6:])
    return "街道" if n < 100 else "镇" if n < 200 else "乡"
