"""The component catalog: major classes (大类) and minor classes (小类) with names, shipped as package data.

The built-in catalog (``gridmap/catalog/components.json``) holds the six major classes 01 公用设施, 02 道路交通,
03 市容环境, 04 园林绿化, 05 房屋土地, 06 其他设施 and the minor classes of the national scheme
(CJ/T 214-2007 / GB/T 30428.2-2013) as far as they are documented, plus gridmap's **local extensions** under
06 (``source='local'``): 0601 路灯, 0602 立杆/电线杆, 0603 报刊亭, 0604 邮筒, 0605 健身设施. Local systems number
such classes differently: a user file overrides or extends the catalog.

User file: JSON (``{"classes": [{"code": "0606", "name": "中水井盖", "name_en": "..."}], "majors": [...]}`` or a
plain list of classes) or CSV with columns ``code,name[,name_en]``. A user class replaces a built-in class of
the same code. Set ``$GRIDMAP_CATALOG`` to a file to use it everywhere (the CLI reads it).

An unknown class raises :class:`UnknownClassError` with close matches by code and by name.

Examples
--------
>>> cat = load_catalog()
>>> cat.name("0101"), cat.major_name("0101")
('上水井盖', '公用设施')
>>> cat.get("0601").source
'local'
>>> cat.check("0114")
Traceback (most recent call last):
...
gridmap.codes.catalog.UnknownClassError: unknown component class '0114'; did you mean: 0113 消防设施, 0112 公安井盖, 0111 燃气井盖, 0110 热力井盖, 0109 网络井盖. Fix: use a class of the catalog (gridmap components --classes lists them) or add local classes with a catalog file ($GRIDMAP_CATALOG)
"""

from __future__ import annotations

import csv
import difflib
import json
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from gridmap.codes.areal import check_digits
from gridmap.errors import CodeError, Problem, ValidationError, message

__all__ = ["ComponentClass", "Catalog", "UnknownClassError", "load_catalog", "default_catalog"]

log = logging.getLogger(__name__)


class UnknownClassError(CodeError):
    """A well-formed class code (or name) that is not in the catalog; ``suggestions`` lists close matches."""

    def __init__(self, text: str, suggestions: list[str]):
        self.suggestions = suggestions
        super().__init__(text)


@dataclass(frozen=True)
class ComponentClass:
    """One minor class: ``code`` (4 digits), Chinese ``name``, English ``name_en``, ``source`` and ``status``."""

    code: str
    name: str
    name_en: str = ""
    source: str = "national"
    status: str = ""

    @property
    def major(self) -> str:
        return self.code[:2]

    @property
    def minor(self) -> str:
        return self.code[2:]


class Catalog:
    """Major and minor component classes; build with :func:`load_catalog`."""

    def __init__(self, majors: dict[str, tuple[str, str]], classes: dict[str, ComponentClass]):
        self.majors = dict(majors)
        self.classes = dict(sorted(classes.items()))

    def __contains__(self, code: object) -> bool:
        return code in self.classes

    def __len__(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        return f"Catalog({len(self.majors)} major classes, {len(self.classes)} minor classes)"

    def suggest(self, query: str, *, n: int = 5) -> list[str]:
        """Close matches ('0110 热力井盖') of a class code or name."""
        q = str(query).strip()
        out: list[str] = []
        if q.isdigit() and q.isascii():
            by_code = difflib.get_close_matches(q, list(self.classes), n=n, cutoff=0.5)
            same_major = [c for c in self.classes if c[:2] == q[:2]]
            # numerically nearest classes of the same major class first, then string-similar codes
            same_major.sort(key=lambda c: abs(int(c) - int(q)) if len(q) == 4 else 0)
            codes = list(dict.fromkeys(same_major[:n] + by_code))[:n]
        else:
            names = {c.name: c.code for c in self.classes.values()}
            codes = [names[m] for m in difflib.get_close_matches(q, list(names), n=n, cutoff=0.3)]
            codes += [c.code for c in self.classes.values() if q and q in c.name and c.code not in codes]
            codes = codes[:n]
        return [f"{c} {self.classes[c].name}" for c in codes]

    def check(self, code: object) -> str:
        """Return a valid 4-digit class code or raise (malformed: :class:`CodeError`; unknown: UnknownClassError)."""
        text = check_digits(code, 4, label="component class code",
                            fix="a class code is major (2) + minor (2) digits, e.g. 0101 上水井盖")
        if text not in self.classes:
            sugg = self.suggest(text)
            what = f"unknown component class {text!r}"
            if text[:2] not in self.majors:
                what += f" (no major class {text[:2]}; majors are " + ", ".join(self.majors) + ")"
            raise UnknownClassError(message(what + ("; did you mean: " + ", ".join(sugg) if sugg else ""),
                                            fix="use a class of the catalog (gridmap components --classes lists "
                                                "them) or add local classes with a catalog file ($GRIDMAP_CATALOG)"),
                                    sugg)
        return text

    def check_major(self, code: object) -> str:
        text = check_digits(code, 2, label="major class code")
        if text not in self.majors:
            raise UnknownClassError(message(f"unknown major class {text!r}", fix="use one of "
                                            + ", ".join(f"{k} {v[0]}" for k, v in self.majors.items())),
                                    [f"{k} {v[0]}" for k, v in self.majors.items()])
        return text

    def get(self, code: object) -> ComponentClass:
        return self.classes[self.check(code)]

    def name(self, code: object) -> str:
        return self.get(code).name

    def major_name(self, code: object) -> str:
        return self.majors[str(code)[:2]][0]

    def find(self, text: str) -> list[ComponentClass]:
        """Classes whose Chinese or English name contains ``text``."""
        t = text.strip().lower()
        return [c for c in self.classes.values() if t in c.name.lower() or t in c.name_en.lower()]

    def to_frame(self) -> pd.DataFrame:
        """The catalog as a table: code, major, major_name, name, name_en, source, status."""
        return pd.DataFrame([{"code": c.code, "major": c.major, "major_name": self.majors.get(c.major, ("", ""))[0],
                              "name": c.name, "name_en": c.name_en, "source": c.source, "status": c.status}
                             for c in self.classes.values()],
                            columns=["code", "major", "major_name", "name", "name_en", "source", "status"])

    def extended(self, path: str | os.PathLike) -> "Catalog":
        """A new catalog with the classes of a user JSON/CSV file added (same codes replaced)."""
        majors, classes = _read_user_file(Path(path))
        merged_majors = {**self.majors, **majors}
        merged = {**self.classes, **classes}
        problems = [Problem(None, "code", f"major class {c[:2]} of class {c} is not defined", c)
                    for c in classes if c[:2] not in merged_majors]
        if problems:
            raise ValidationError(f"catalog file {path} has classes under unknown major classes", problems,
                                  fix='add them to "majors" in the file, e.g. {"code": "07", "name": "扩展部件"}')
        log.info("catalog extended from %s: %d classes, %d major classes", path, len(classes), len(majors))
        return Catalog(merged_majors, merged)


def _read_user_file(path: Path) -> tuple[dict[str, tuple[str, str]], dict[str, ComponentClass]]:
    if not path.exists():
        raise FileNotFoundError(message("catalog file not found", got=str(path)))
    majors: dict[str, tuple[str, str]] = {}
    rows: list[dict[str, Any]]
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        if isinstance(data, list):
            rows = data
        else:
            rows = list(data.get("classes", []))
            for m in data.get("majors", []):
                majors[check_digits(str(m["code"]), 2, label="major class code")] = (m["name"], m.get("name_en", ""))
    elif path.suffix.lower() in (".csv", ".txt"):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    else:
        raise ValidationError(f"catalog file {path} must be .json or .csv",
                              [Problem(None, None, "unsupported file type", path.suffix)])
    problems: list[Problem] = []
    classes: dict[str, ComponentClass] = {}
    for i, r in enumerate(rows):
        try:
            code = check_digits(str(r.get("code", "")).strip(), 4, label="class code")
        except CodeError as exc:
            problems.append(Problem(i, "code", str(exc), r.get("code")))
            continue
        name = str(r.get("name") or "").strip()
        if not name:
            problems.append(Problem(i, "name", "class name is missing", code))
            continue
        classes[code] = ComponentClass(code, name, str(r.get("name_en") or ""), str(r.get("source") or "user"),
                                       str(r.get("status") or "user"))
    if problems:
        raise ValidationError(f"bad rows in catalog file {path}", problems,
                              fix="each class needs a 4-digit code and a name")
    return majors, classes


@lru_cache(maxsize=1)
def _builtin() -> Catalog:
    data = json.loads((resources.files("gridmap") / "catalog" / "components.json").read_text(encoding="utf-8"))
    majors = {m["code"]: (m["name"], m.get("name_en", "")) for m in data["majors"]}
    classes = {c["code"]: ComponentClass(c["code"], c["name"], c.get("name_en", ""), c.get("source", "national"),
                                         c.get("status", "")) for c in data["classes"]}
    return Catalog(majors, classes)


def load_catalog(path: str | os.PathLike | None = None) -> Catalog:
    """The built-in catalog, extended by the user file ``path`` if given."""
    cat = _builtin()
    return cat.extended(path) if path is not None else cat


def default_catalog() -> Catalog:
    """The catalog everyone uses: built-in, extended by ``$GRIDMAP_CATALOG`` when set."""
    extra = os.environ.get("GRIDMAP_CATALOG")
    return load_catalog(extra) if extra else _builtin()
