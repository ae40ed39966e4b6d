"""``gridmap check`` (is the store whole and consistent?) and ``gridmap migrate`` (bring an old store up to date)."""

from __future__ import annotations

import argparse
import json
import sys

from gridmap.cli._common import add_command, open_store_from


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = add_command(sub,
        "check", common, help="check the store: schema, SRIDs, spatial indexes, unique codes, tiling, "
                              "orphans",
        description="Check a store without changing it (it is opened read-only): the schema version, the SRID of "
                    "every geometry column and feature, the spatial index of every layer, unique codes, cells "
                    "tiling their active communities (no gap, spill or overlap larger than --tolerance-m2) and "
                    "orphans (cells without their community, components/complaints without their cell, communities "
                    "without their street). Each problem is named in plain words (中文 / English).",
        epilog="Exit status: 0 the store is healthy, 1 problems were found (or the store cannot be opened), "
               "2 usage error.\n"
               "Examples:\n  gridmap check\n  gridmap --db postgresql://u@127.0.0.1/gm check --json")
    p.add_argument("--json", action="store_true", help="the report as JSON (strict: no NaN)")
    p.add_argument("--tolerance-m2", type=float, default=1.0,
                   help="gaps, spills and overlaps up to this area (m²) are rounding, not problems (default 1)")
    p.add_argument("--examples", type=int, default=10, help="list at most this many features per problem (10)")
    p.set_defaults(func=cmd_check)

    m = add_command(sub, "migrate", common, help="bring a store written by an older gridmap up to date",
                         description="Migrate the store's schema to this gridmap's version (one transaction); read "
                                     "commands open stores read-only and never migrate them.",
                         epilog="Examples:\n"
                                "  gridmap migrate                       # the default store ./gridmap.sqlite\n"
                                "  gridmap --db postgresql://u@127.0.0.1/gm migrate")
    m.set_defaults(func=cmd_migrate)


def cmd_check(args: argparse.Namespace) -> int:
    from gridmap.store.health import check_store

    store = open_store_from(args, mode="read")
    from gridmap.cli._common import progress_bar

    try:
        with progress_bar(args, "check") as progress:
            report = check_store(store, tolerance_m2=args.tolerance_m2, examples=args.examples, progress=progress)
    finally:
        store.close()
    if args.json:
        json.dump(report.to_dict(), sys.stdout, ensure_ascii=False, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print(report.text())
    return 0 if report.healthy else 1


def cmd_migrate(args: argparse.Namespace) -> int:
    from gridmap.store.schema import SCHEMA_VERSION

    store = open_store_from(args, mode="write")  # opening for writing migrates
    store.close()
    print(f"{store.safe_url}: schema version {SCHEMA_VERSION}")
    return 0
