"""Small pieces every command module uses: opening the store from args, printing tables and JSON."""

from __future__ import annotations

import json
import sys
from typing import Any

import pandas as pd


def open_store_from(args: Any):
    from gridmap.store import open_store

    return open_store(args.db, crs=args.crs)


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
    from gridmap.errors import Problem, UsageError

    out: dict[str, str] = {}
    for part in text.split(","):
        if "=" not in part:
            raise UsageError("bad --map entry", [Problem(None, "--map", "expected OURS=THEIRS", part)],
                                  fix="e.g. --map code=SQDM,name=SQMC,households=HS")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def reject_options(args: Any, flags: dict[str, str], *, what: str, fix: str) -> None:
    """Raise one clear error naming every option in ``flags`` (attribute -> flag) that was given but means
    nothing when importing ``what`` (``--topology`` counts when not 'off')."""
    from gridmap.errors import Problem, UsageError

    given = [flag for key, flag in flags.items() if getattr(args, key, None)]
    if getattr(args, "topology", "off") != "off":
        given.append("--topology")
    if given:
        raise UsageError(f"{', '.join(given)} cannot be used when importing {what}",
                              [Problem(None, flag, f"not an option for {what}") for flag in given], fix=fix)


def add_import_contract(p: Any, *, tz: bool = False) -> None:
    """The options every import shares for the exit-code contract: ``--strict`` (and ``--tz`` for timestamps)."""
    p.add_argument("--strict", action="store_true",
                   help="any rejected row fails the whole import: nothing is written, exit code 1 (default: the "
                        "good rows are written, the rejected ones reported, exit code 0)")
    if tz:
        p.add_argument("--tz", metavar="ZONE", default=None,
                       help="complaints: time zone of times written without one (default Asia/Shanghai, Beijing "
                            "time); the summary says how many times were read in it")


def import_exit_code(*, read: int | None, accepted: int, rejected_rows: int) -> int:
    """The exit code of an import (README "Exit codes"): 0 done, rejected rows reported; 1 when rows were read
    and every one was rejected (nothing could be done)."""
    if read and rejected_rows and accepted == 0:
        return 1
    return 0
