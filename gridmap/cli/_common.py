"""Small pieces every command module uses: opening the store from args, printing tables and JSON."""

from __future__ import annotations

import json
import sys
from typing import Any

import pandas as pd


def open_store_from(args: Any, *, mode: str = "write"):
    """Open the store of ``--db`` for a command: ``mode`` 'read' (read-only, must exist), 'write' (must exist)
    or 'create' (made if missing). ``--create`` makes a missing store first for any command."""
    from gridmap.store import open_store

    if getattr(args, "create", False) and mode != "create":
        open_store(args.db, crs=args.crs, mode="create").close()
    return open_store(args.db, crs=args.crs, mode=mode)


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def print_table(df: pd.DataFrame) -> None:
    if df.empty:
        print("(none)")
        return
    with pd.option_context("display.max_rows", 500, "display.max_columns", 50, "display.width", 200,
                           "display.unicode.east_asian_width", True):
        print(df.to_string(index=False))


def parse_mapping(text: str | None) -> dict[str, str] | None:
    """``code=SQDM,name=SQMC`` -> {'code': 'SQDM', 'name': 'SQMC'} (our field = their field)."""
    if not text:
        return None
    from gridmap.errors import ValidationError, Problem

    out: dict[str, str] = {}
    for part in text.split(","):
        if "=" not in part:
            raise ValidationError("bad --map entry", [Problem(None, "--map", "expected OURS=THEIRS", part)],
                                  fix="e.g. --map code=SQDM,name=SQMC,households=HS")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def reject_options(args: Any, flags: dict[str, str], *, what: str, fix: str) -> None:
    """Raise one clear error naming every option in ``flags`` (attribute -> flag) that was given but means
    nothing when importing ``what`` (``--topology`` counts when not 'off')."""
    from gridmap.errors import Problem, ValidationError

    given = [flag for key, flag in flags.items() if getattr(args, key, None)]
    if getattr(args, "topology", "off") != "off":
        given.append("--topology")
    if given:
        raise ValidationError(f"{', '.join(given)} cannot be used when importing {what}",
                              [Problem(None, flag, f"not an option for {what}") for flag in given], fix=fix)
