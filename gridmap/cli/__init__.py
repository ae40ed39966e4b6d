"""The ``gridmap`` command line: a thin shell over the public API (no analysis logic here).

Each command group lives in its own module of this package and exposes
``register(subparsers, common)``, which adds its parser(s) and sets ``func`` on them.
``func(args)`` returns an exit code (0 on success).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from gridmap import __version__
from gridmap.errors import GridmapError

__all__ = ["main", "build_parser"]

#: Command modules, in the order their commands appear in ``gridmap --help``.
COMMAND_MODULES: list[str] = [
    "gridmap.cli.demo",
    "gridmap.cli.store_cmd",
    "gridmap.cli.cells",
    "gridmap.cli.locate",
    "gridmap.cli.map_cmd",
    "gridmap.cli.warn",
    "gridmap.cli.events_cmd",
    "gridmap.cli.emerging_cmd",
    "gridmap.cli.planning",
    "gridmap.cli.rank",
    "gridmap.cli.report_cmd",
    "gridmap.cli.check",
]

EPILOG = """\
Examples:
  gridmap demo                          build the synthetic 示范区 into ./gridmap.sqlite and write ./gridmap-out/
  gridmap --db postgresql://u@127.0.0.1/gm demo --scale 0.1
  gridmap info                          layers, counts and CRS of the store

The store is chosen by --db or $GRIDMAP_DB: a file path (SpatiaLite, the default ./gridmap.sqlite)
or a postgresql:// URL (PostGIS). The working CRS is EPSG:4548 unless --crs or $GRIDMAP_CRS says otherwise.
Only demo and the imports create a missing store (others refuse it: add --create); read commands (info, check,
locate, nearest, components, warn, map, export, communities, split propose) open it read-only. Outputs never
overwrite the store; an input or a SQLite/GeoPackage file gridmap did not write needs --overwrite.
Exit status: 0 done, 1 nothing done (an error message; rejected rows; check found problems), 2 usage error.
"""


def _common_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("store and CRS")
    g.add_argument("--db", metavar="URL", default=argparse.SUPPRESS,
                   help="database: a file path (SpatiaLite) or postgresql://... (PostGIS); default $GRIDMAP_DB "
                        "or ./gridmap.sqlite")
    g.add_argument("--crs", metavar="CRS", default=argparse.SUPPRESS,
                   help="working CRS for a new store (default $GRIDMAP_CRS or EPSG:4548); an existing store keeps "
                        "its own. The CRS of an input file is --src-crs")
    g.add_argument("--create", action="store_true", default=argparse.SUPPRESS,
                   help="create the store if --db does not exist (otherwise only demo and import create stores; "
                        "a missing store is refused, so a mistyped path cannot make a new empty one)")
    g.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="log each operation (-vv: debug)")
    g.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="no progress bars, warnings only")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_parser()
    parser = argparse.ArgumentParser(
        prog="gridmap", parents=[common],
        description="gridmap: 网格化城市管理 — unit grids, city components, community size and splits, "
                    "12345 complaint early warning, offline HTML maps.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    from gridmap.grid.assign import ENGINES  # (loaded by the command modules anyway)

    kernel = "compiled" if "c" in ENGINES else "not built: numpy engine"
    parser.add_argument("--version", action="version",
                        version=f"gridmap {__version__} (point-to-cell kernel: {kernel})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def _safe(url: str | None) -> str | None:
    """A store URL without its password, for messages."""
    if not url or "://" not in str(url):
        return url
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(str(url)).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "the store given by --db"


def _show_warning(msg, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    """Warnings as one plain line on stderr (``gridmap: warning: ...``), not Python's file:line form."""
    print(f"gridmap: warning: {msg}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code.

    Exit codes (the same for every command; README "Exit codes"): 0 done (rows rejected during an import are
    reported, not fatal, unless ``--strict``); 1 nothing could be done (an unreadable input file, a refused
    operation, a database error, ``--strict`` with a rejected row); 2 usage error (bad option values or
    combinations, argparse's own errors). Errors are one message on stderr; the traceback only with ``-vv``.
    """
    import traceback
    import warnings

    from gridmap.errors import UsageError

    parser = build_parser()
    args = parser.parse_args(argv)
    for key, default in (("db", None), ("crs", None), ("verbose", 0), ("quiet", False), ("create", False)):
        if not hasattr(args, key):
            setattr(args, key, default)
    level = logging.DEBUG if args.verbose >= 2 else logging.INFO if args.verbose == 1 else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    command = " ".join(str(getattr(args, k)) for k in ("command", "complaints_command", "events_command") if getattr(args, k, None))

    def fail(kind: str, exc: BaseException, code: int, text: str | None = None) -> int:
        if args.verbose >= 2:
            traceback.print_exception(exc, file=sys.stderr)
        print(f"gridmap {command}: {kind}: {exc if text is None else text}", file=sys.stderr)
        return code

    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except UsageError as exc:  # a bad option value or combination: like argparse's own errors
        return fail("error", exc, 2)
    except GridmapError as exc:  # a clear refusal: what, where, got, fix
        return fail("error", exc, 1)
    except OSError as exc:  # missing input file, unwritable output folder ...
        return fail("error", exc, 1)
    except KeyboardInterrupt:
        print("interrupted; nothing half-written is kept (imports are transactional)", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 -- the last resort: one line, never a traceback unless -vv
        from sqlalchemy.exc import SQLAlchemyError

        hint = "" if args.verbose >= 2 else " (run with -vv for the traceback)"
        if isinstance(exc, SQLAlchemyError):
            detail = (str(getattr(exc, "orig", None) or exc).splitlines() or [""])[0]
            store = _safe(getattr(args, "db", None)) or "$GRIDMAP_DB or ./gridmap.sqlite"
            return fail("database error", exc, 1, f"{detail} (store {store}){hint}")
        detail = (str(exc).splitlines() or [""])[0]
        return fail("internal error", exc, 1, f"{type(exc).__name__}: {detail}{hint}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
