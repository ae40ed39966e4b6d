"""Field mapping: which column of the user's file feeds which gridmap column.

A mapping is ``{our column: their column}``, given on the command line (``--map code=SQDM,name=SQMC``) or in a
small TOML file (YAML is not used: it would need an extra dependency)::

    # sq.toml
    [fields]            # our = their
    code = "SQDM"
    street_code = "JDDM"
    name = "SQMC"
    households = "HS"

Top-level keys work too (``code = "SQDM"``). Their column names are matched exactly first, then ignoring case and
full-width/half-width differences (Shapefile field names are often upper-cased, GeoPackage exports lower-cased).
A mapped column that is not in the file is an error listing the file's columns and the nearest names.

Examples
--------
>>> parse_mapping("code=SQDM, name=SQMC")
{'code': 'SQDM', 'name': 'SQMC'}
>>> import pandas as pd
>>> resolve_mapping({"code": "sqdm"}, pd.DataFrame(columns=["SQDM", "SQMC"]))
{'code': 'SQDM'}
"""

from __future__ import annotations

import difflib
import os
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

from gridmap.errors import Problem, UsageError, ValidationError

__all__ = ["parse_mapping", "load_mapping", "resolve_mapping"]


def _fold(name: str) -> str:
    return unicodedata.normalize("NFKC", str(name)).strip().lower()


def parse_mapping(text: str | None) -> dict[str, str]:
    """``'code=SQDM,name=SQMC'`` -> ``{'code': 'SQDM', 'name': 'SQMC'}`` (ours = theirs)."""
    out: dict[str, str] = {}
    if not text:
        return out
    for part in text.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise UsageError("bad --map entry", [Problem(None, "--map", "expected OURS=THEIRS", part)],
                                  fix="e.g. --map code=SQDM,name=SQMC,households=HS")
        k, v = part.split("=", 1)
        if not k.strip() or not v.strip():
            raise UsageError("bad --map entry", [Problem(None, "--map", "empty name", part)],
                                  fix="e.g. --map code=SQDM")
        out[k.strip()] = v.strip()
    return out


def load_mapping(spec: str | os.PathLike | Mapping[str, str] | None) -> dict[str, str]:
    """A mapping from a dict, a ``--map`` string or a ``.toml`` file (``[fields]`` table or top-level keys)."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return {str(k): str(v) for k, v in spec.items()}
    text = os.fspath(spec)
    path = Path(text)
    if path.suffix.lower() == ".toml" or (path.exists() and "=" not in text):
        if not path.exists():
            raise FileNotFoundError(f"mapping file not found: {path}")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError(f"cannot read the mapping file {path}", [Problem(None, None, str(exc))],
                                  fix='write one line per field: code = "SQDM"') from exc
        table = data.get("fields", data.get("map", data))
        bad = [k for k, v in table.items() if not isinstance(v, str)]
        if bad:
            raise ValidationError(f"mapping file {path}: values must be column names",
                                  [Problem(None, k, "not a string", table[k]) for k in bad],
                                  fix='quote the column name: code = "SQDM"')
        return dict(table)
    return parse_mapping(text)


def resolve_mapping(mapping: Mapping[str, str] | None, frame_or_columns: object, *,
                    where: str = "input", optional: Iterable[str] = ()) -> dict[str, str]:
    """Match each mapped column to the file's actual column name (exact, then case/width-insensitive).

    Raises :class:`~gridmap.errors.ValidationError` naming every mapped column that is not in the file, with
    the file's columns and the closest names. Names in ``optional`` are dropped silently when missing.
    """
    if not mapping:
        return {}
    columns = [str(c) for c in getattr(frame_or_columns, "columns", frame_or_columns)]
    folded = {}
    for c in columns:
        folded.setdefault(_fold(c), c)
    out: dict[str, str] = {}
    problems = []
    optional = set(optional)
    for ours, theirs in mapping.items():
        if theirs in columns:
            out[ours] = theirs
        elif _fold(theirs) in folded:
            out[ours] = folded[_fold(theirs)]
        elif ours not in optional:
            near = difflib.get_close_matches(theirs, columns, n=3, cutoff=0.5)
            problems.append(Problem(None, ours, f"mapped column {theirs!r} is not in {where}"
                                    + (f"; closest: {', '.join(near)}" if near else ""), theirs))
    if problems:
        raise ValidationError(f"field mapping does not match {where}", problems,
                              fix="the file's columns are: " + ", ".join(columns))
    return out
