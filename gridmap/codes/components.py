"""Component codes: the 8-digit district code and the 16-digit national identifier.

* **8 digits** (gridmap's convention, unique within one district): major (2) + minor (2) + serial (4), e.g.
  ``01010023`` = 上水井盖 number 23. Serials run 0001-9999 per class and district; past 9,999 a class cannot be
  coded in 8 digits (:class:`~gridmap.errors.CapacityError`).
* **16 digits** (national identifier, CJ/T 214-2007 / GB/T 30428.2-2013): district (6) + major + minor +
  serial (6), e.g. ``3205080101000001``. An 8-digit code embeds into it by prefixing the district and padding
  the serial to 6 digits.

Examples
--------
>>> c = parse_component_code("01010023")
>>> c.class_code, c.serial, c.national_id("110101")
('0101', 23, '1101010101000023')
>>> parse_national_id("1101010101000023")
('110101', ComponentCode(class_code='0101', serial=23))
>>> format_component_code("0101", 10000)
Traceback (most recent call last):
...
gridmap.errors.CapacityError: serial 10000 does not fit the 4-digit serial of an 8-digit component code (at class 0101); got 10000. Fix: serials run 0001-9999 per class and district: reuse free serials (next_free_serials(..., reuse_gaps=True)) or use the 16-digit national identifier
>>> next_free_serials(["01010001", "01010002", "01020001"], "0101", 2)
[3, 4]
>>> next_free_serials(["01019999"], "0101", 2, reuse_gaps=True), free_serial_count(["01019999"], "0101")
([1, 2], 9998)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from gridmap.codes.areal import check_digits, check_district_code
from gridmap.codes.catalog import Catalog, default_catalog
from gridmap.errors import CapacityError, CodeError, UsageError, message

__all__ = [
    "MAX_SERIAL",
    "ComponentCode",
    "parse_component_code",
    "parse_national_id",
    "parse_any_component_code",
    "format_component_code",
    "to_national_id",
    "next_free_serials",
    "free_serial_count",
    "STATUSES",
    "check_status",
]

#: Largest serial of an 8-digit component code (per class and district).
MAX_SERIAL = 9999


@dataclass(frozen=True)
class ComponentCode:
    """A parsed component code: 4-digit ``class_code`` and integer ``serial`` (1-9999)."""

    class_code: str
    serial: int

    @property
    def major(self) -> str:
        return self.class_code[:2]

    @property
    def code(self) -> str:
        """The 8-digit code."""
        return f"{self.class_code}{self.serial:04d}"

    def national_id(self, district_code: str) -> str:
        """The 16-digit national identifier in ``district_code``."""
        return f"{check_district_code(district_code)}{self.class_code}{self.serial:06d}"

    def __str__(self) -> str:
        return self.code


def _check_class(class_code: str, catalog: Catalog | None, check_class: bool) -> str:
    if not check_class:
        return check_digits(class_code, 4, label="component class code")
    return (catalog or default_catalog()).check(class_code)


def format_component_code(class_code: str, serial: int, *, catalog: Catalog | None = None,
                          check_class: bool = True) -> str:
    """``class_code`` + serial as 4 digits; a serial past 9,999 raises :class:`CapacityError`."""
    cls = _check_class(class_code, catalog, check_class)
    s = int(serial)
    if s < 1:
        raise CodeError(message("component serial must be at least 1", where=f"class {cls}", got=serial,
                                fix="serials run 0001-9999"))
    if s > MAX_SERIAL:
        raise CapacityError(message(f"serial {s} does not fit the 4-digit serial of an 8-digit component code",
                                    where=f"class {cls}", got=s,
                                    fix="serials run 0001-9999 per class and district: reuse free serials "
                                        "(next_free_serials(..., reuse_gaps=True)) or use the 16-digit national "
                                        "identifier"))
    return f"{cls}{s:04d}"


def parse_component_code(code: object, *, catalog: Catalog | None = None, check_class: bool = True) -> ComponentCode:
    """Parse an 8-digit component code (checks digits, length, serial 0001-9999 and the class)."""
    text = check_digits(code, 8, label="component code",
                        fix="an 8-digit component code is major (2) + minor (2) + serial (4), e.g. 01010023; "
                            "a national identifier has 16 digits")
    cls = _check_class(text[:4], catalog, check_class)
    if int(text[4:]) == 0:
        raise CodeError(message("component serial 0000 is not used", where="component code", got=repr(text),
                                fix="serials run 0001-9999"))
    return ComponentCode(cls, int(text[4:]))


def parse_national_id(code: object, *, catalog: Catalog | None = None,
                      check_class: bool = True) -> tuple[str, ComponentCode]:
    """Parse a 16-digit national identifier into ``(district_code, ComponentCode)``.

    Serials above 9,999 exist in the national scheme but have no 8-digit form here: :class:`CapacityError`.
    """
    text = check_digits(code, 16, label="component national identifier",
                        fix="district (6) + major (2) + minor (2) + serial (6), e.g. 1101010101000023")
    district = check_district_code(text[:6])
    cls = _check_class(text[6:10], catalog, check_class)
    serial = int(text[10:])
    if serial == 0:
        raise CodeError(message("component serial 000000 is not used", where="national identifier", got=repr(text)))
    if serial > MAX_SERIAL:
        raise CapacityError(message(f"serial {serial} exceeds 9,999 and has no 8-digit component code",
                                    where="national identifier", got=repr(text),
                                    fix="renumber the component within 0001-9999 for its class and district"))
    return district, ComponentCode(cls, serial)


def parse_any_component_code(code: object, *, district_code: str | None = None, catalog: Catalog | None = None,
                             check_class: bool = True) -> tuple[str | None, ComponentCode]:
    """Parse an 8-digit code (district from ``district_code``) or a 16-digit identifier (district inside).

    Spaces and hyphens used to group digits are removed first (``0101 0023``).
    """
    text = code.replace(" ", "").replace("-", "") if isinstance(code, str) else code
    if isinstance(text, str) and len(text) == 16:
        district, cc = parse_national_id(text, catalog=catalog, check_class=check_class)
        if district_code is not None and district != district_code:
            raise CodeError(message(f"identifier {text} belongs to district {district}, not {district_code}",
                                    fix="drop --district or use the 8-digit code"))
        return district, cc
    if isinstance(text, str) and len(text) != 8 and text.isdigit():
        raise CodeError(message(f"component code must have 8 or 16 digits, has {len(text)}", got=repr(code),
                                fix="8 digits: class (4) + serial (4), e.g. 01010023; 16 digits: district (6) + "
                                    "class (4) + serial (6)"))
    return (check_district_code(district_code) if district_code else None,
            parse_component_code(text, catalog=catalog, check_class=check_class))


def to_national_id(code8: str, district_code: str) -> str:
    """The 16-digit identifier of an 8-digit code in ``district_code``."""
    return parse_component_code(code8, check_class=False).national_id(district_code)


def _used_serials(existing: Iterable[object], cls: str) -> list[int]:
    """Serials of class ``cls`` in ``existing`` (8-digit codes, 16-digit identifiers or integer serials)."""
    used: list[int] = []
    for v in existing:
        if isinstance(v, (int, np.integer)):
            used.append(int(v))
        elif isinstance(v, str) and len(v) == 8 and v.isdigit() and v.isascii():
            if v[:4] == cls:
                used.append(int(v[4:]))
        elif isinstance(v, str) and len(v) == 16 and v.isdigit() and v.isascii():
            if v[6:10] == cls:
                used.append(int(v[10:]))
    return used


def _taken(used: list[int]) -> np.ndarray:
    taken = np.zeros(MAX_SERIAL + 1, dtype=bool)
    arr = np.asarray([u for u in used if 0 < u <= MAX_SERIAL], dtype=np.int64)
    taken[arr] = True
    taken[0] = True
    return taken


def free_serial_count(existing: Iterable[object], class_code: str, *, catalog: Catalog | None = None) -> int:
    """How many serials (of 9,999) of ``class_code`` are still free, given the codes already used in a district.

    ``existing`` as in :func:`next_free_serials`.
    """
    cls = (catalog or default_catalog()).check(class_code)
    return int((~_taken(_used_serials(existing, cls))).sum())


def next_free_serials(existing: Iterable[object], class_code: str, n: int, *, reuse_gaps: bool = False,
                      catalog: Catalog | None = None) -> list[int]:
    """The next ``n`` free serials of ``class_code`` given the codes (or serials) already used in a district.

    ``existing`` holds 8-digit codes of any class (those of other classes are ignored) or integer serials of
    this class. By default new serials continue after the highest used one; ``reuse_gaps=True`` (what
    :func:`gridmap.io.components.import_components` uses) gives the lowest free serials first, so one component
    numbered 9999 does not block its class. Running out raises :class:`CapacityError` naming the class and how
    many are left.
    """
    cls = (catalog or default_catalog()).check(class_code)
    used = _used_serials(existing, cls)
    n = int(n)
    if n <= 0:
        return []
    top = max(used, default=0)
    if not reuse_gaps:
        if top + n > MAX_SERIAL:
            free = MAX_SERIAL - top
            raise CapacityError(message(f"class {cls} needs {n} new serial(s) but only {max(free, 0)} remain after "
                                        f"{top:04d} (8-digit codes hold 9,999 per class and district)",
                                        where=f"class {cls}", got=n,
                                        fix="allow reuse of freed serials (reuse_gaps=True) or split the class"))
        return list(range(top + 1, top + n + 1))
    free = np.flatnonzero(~_taken(used))
    if len(free) < n:
        raise CapacityError(message(f"class {cls} has only {len(free)} free serial(s) left, {n} needed "
                                    "(8-digit codes hold 9,999 per class and district, and every other serial is "
                                    "used)", where=f"class {cls}", got=n,
                                    fix="8-digit codes hold 9,999 per class and district: use the 16-digit national "
                                        "identifier, or retire and delete components of this class first"))
    return free[:n].tolist()


#: Component status values (Chinese, as stored) and accepted English aliases.
STATUSES = {"完好": "完好", "破损": "破损", "丢失": "丢失", "废弃": "废弃", "移除": "移除",
            "intact": "完好", "damaged": "破损", "missing": "丢失", "abandoned": "废弃", "removed": "移除"}


def check_status(status: object) -> str:
    """A component status (Chinese or English) as stored (Chinese); an unknown one is a usage error listing the
    valid values.

    >>> check_status("damaged"), check_status(" 破损 ")
    ('破损', '破损')
    """
    key = str(status).strip()
    found = STATUSES.get(key.lower(), STATUSES.get(key))
    if found is None:
        valid = ", ".join(f"{zh} {en}" for en, zh in STATUSES.items() if en.isascii())
        raise UsageError(message("unknown component status", where="--status", got=repr(status),
                                 fix=f"use one of {valid} (Chinese or English)"))
    return found
