"""Small pieces every command module uses: opening the store from args, printing tables and strict JSON,
progress bars, deprecated option aliases."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd


def open_store_from(args: Any, *, mode: str = "write"):
    """Open the store of ``--db`` for a command: ``mode`` 'read' (read-only, must exist), 'write' (must exist)
    or 'create' (made if missing). ``--create`` makes a missing store first for any command."""
    from gridmap.store import open_store

    if getattr(args, "create", False) and mode != "create":
        open_store(args.db, crs=args.crs, mode="create").close()
    return open_store(args.db, crs=args.crs, mode=mode)


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON values: missing values (NaN, NaT, ``pd.NA``, ``None``) and infinities become
    ``None``, numpy scalars and arrays Python numbers and lists, timestamps ISO 8601 text, paths text, frames a
    list of records (geometry as WKT)."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in (sorted(obj, key=str) if isinstance(obj, (set, frozenset)) else obj)]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, pd.DataFrame):
        frame = obj.copy()
        for col in frame.columns:
            if getattr(frame[col], "dtype", None) == "geometry":
                frame[col] = frame[col].to_wkt()
        return [jsonable(r) for r in frame.to_dict("records")]
    if isinstance(obj, pd.Series):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (pd.Timestamp, _dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, (pd.Timedelta, _dt.timedelta)):
        return pd.Timedelta(obj).total_seconds()
    if isinstance(obj, PurePath):
        return str(obj)
    if hasattr(obj, "wkt") and hasattr(obj, "geom_type"):  # a shapely geometry
        return obj.wkt
    try:
        if pd.isna(obj):
            return None
    except (TypeError, ValueError):
        pass
    return str(obj)


def print_json(obj: Any) -> None:
    """Print ``obj`` as strict JSON (RFC 8259: no NaN/Infinity, missing values as null) on stdout."""
    sys.stdout.write(json.dumps(jsonable(obj), ensure_ascii=False, indent=2, allow_nan=False))
    sys.stdout.write("\n")


def add_command(sub: argparse._SubParsersAction, name: str, common: argparse.ArgumentParser, *, help: str,
                description: str | None = None, epilog: str | None = None) -> argparse.ArgumentParser:
    """A command's parser the house way: the options every command shares (``common``), and the description and
    the examples (``epilog``) printed as written."""
    return sub.add_parser(name, parents=[common], help=help, description=description,
                          formatter_class=argparse.RawDescriptionHelpFormatter, epilog=epilog)


def add_rejects_option(p: argparse.ArgumentParser, help: str) -> None:
    """``--rejects CSV`` (the rejection report of an import) and its deprecated alias ``--report``."""
    from gridmap.cli._outputs import output_path

    p.add_argument("--rejects", type=output_path, metavar="CSV", help=help)
    p.add_argument("--report", dest="rejects", type=output_path, action=DeprecatedAlias, new="--rejects")


def add_json_option(p: argparse.ArgumentParser, what: str = "the output") -> None:
    """The ``--json`` option every command that prints data has."""
    p.add_argument("--json", action="store_true", help=f"print {what} as strict JSON (missing values are null)")


def show_progress(args: Any) -> bool:
    """Progress bars only on a terminal and without ``-q``."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


@contextmanager
def progress_bar(args: Any, desc: str, *, unit: str = "step") -> Iterator[Callable[[int, int, str], None] | None]:
    """A progress callback ``(done, total, label)`` drawing a tqdm bar on stderr, or ``None`` when
    :func:`show_progress` says no (``-q``, or stderr is not a terminal). Library functions take it as their
    ``progress=`` keyword (off by default)."""
    if not show_progress(args):
        yield None
        return
    from tqdm import tqdm

    bar: Any = None
    try:
        width = os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):
        width = 0
    # a terminal that reports no size (0x0: `script`, some CI ptys) makes tqdm draw nothing: assume 80x24
    size: dict[str, Any] = {"dynamic_ncols": True} if width > 0 else {"ncols": 80, "nrows": 24}

    def update(done: int, total: int, label: str = "") -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, **size)
        if bar.total != total:
            bar.total = total
        bar.set_postfix_str(label, refresh=False)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


class DeprecatedAlias(argparse.Action):
    """A hidden old option name that still works: it stores into the new option's ``dest`` and warns on stderr.

    ``p.add_argument("--report", dest="rejects", action=DeprecatedAlias, new="--rejects", type=Path)``
    """

    def __init__(self, option_strings: list[str], dest: str, *, new: str, **kwargs: Any) -> None:
        self.new = new
        kwargs["help"] = argparse.SUPPRESS
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"warning: {option_string} is deprecated and will be removed; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def import_summary(res: Any) -> dict[str, Any]:
    """The ``--json`` summary of an import result (layer files, components or complaints)."""
    def problems(items: Any) -> list[dict[str, Any]]:
        return [{"row": p.row, "field": p.field, "reason": p.reason, "value": p.value}
                if hasattr(p, "reason") else {"message": str(p)} for p in items]

    out: dict[str, Any] = {}
    for key in ("layer", "where", "read", "dry_run", "written", "would_write", "already_stored"):
        if hasattr(res, key):
            out[key] = getattr(res, key)
    if hasattr(res, "frame") and "layer" not in out:
        out["layer"] = "complaints"
    # rows, each counted once: read = accepted + rejected; by reason, each row under its first reason (every
    # import result, gridmap.io.ImportResult and the complaint import's, has rejected_rows and by_reason)
    if hasattr(res, "accepted"):
        out["accepted"] = res.accepted
    elif out.get("read") is not None:
        out["accepted"] = out["read"] - res.rejected_rows
    out["rejected"] = res.rejected_rows
    out["rejected_by_reason"] = dict(res.by_reason())
    out["rejections"] = problems(res.rejected)
    out["warnings"] = problems(getattr(res, "warnings", []))
    if getattr(res, "notes", None):
        out["notes"] = list(res.notes)
    new_codes = getattr(res, "new_codes", None)
    if new_codes is not None:
        out["new_codes"] = new_codes
    if getattr(res, "assigned_codes", None):
        out["assigned_codes"] = [{"row": r, "code": c} for r, c in res.assigned_codes]
    return out


def print_table(df: pd.DataFrame) -> None:
    if df.empty:
        print("(none)")
        return
    with pd.option_context("display.max_rows", 500, "display.max_columns", 50, "display.width", 200,
                           "display.unicode.east_asian_width", True):
        print(df.to_string(index=False))


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
