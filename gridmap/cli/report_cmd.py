"""``gridmap report monthly``: the pack for the 接诉即办 monthly review meeting (月度点评会) of one street."""

from __future__ import annotations

import argparse
from typing import Any

from gridmap.cli._common import add_json_option, open_store_from, print_json, progress_bar

__all__ = ["register"]

#: Files and folders the pack writes inside -o (the store may not sit at any of them).
_RESERVED = ("report.html", "map.html", "tables.xlsx", "league.csv", "bottom.csv", "street_trend.csv",
             "communities.csv", "community_trend.csv", "gap_communities.csv", "gap_categories.csv", "units.csv",
             "categories.csv", "repeats.csv", "proactive.csv", "exclusions.csv")


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    r = subparsers.add_parser("report", parents=[common], help="reports: the 接诉即办 monthly review pack",
                              description="Reports built from the store.",
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              epilog="Example:\n  gridmap report monthly --month 2025-06 --street 110199003 -o pack/")
    rsub = r.add_subparsers(dest="report_command", metavar="REPORT")
    p = rsub.add_parser(
        "monthly", parents=[common],
        help="the 月度点评会 pack of one street: HTML with charts and map, XLSX and CSV of every table",
        description="Write the monthly review pack of --street for --month into the folder -o: report.html (the "
                    "district league table, 12-month trends, the street's communities coloured by composite score "
                    "(inline SVG and the offline map map.html), points lost by community and category against the "
                    "district median, 回头看 repeated complaints, 未诉先办 candidates from the seasonal watch, "
                    "units and categories, exclusions), tables.xlsx (one sheet per table) and one CSV per table. "
                    "Chinese with English alongside; the HTML loads nothing from the network.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 written, 1 nothing written (no complaints that month, unknown street), 2 usage "
               "error.\nExamples:\n"
               "  gridmap report monthly --month 2025-06 --street 110199003 -o pack-2025-06/\n"
               "  gridmap report monthly --month 2025-06 --street 110199003 -o pack/ --repeat-days 14 --json")
    p.add_argument("--month", required=True, metavar="YYYY-MM", help="the month reviewed")
    p.add_argument("--street", required=True, metavar="CODE", help="the street's 9-digit code")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder (created if missing)")
    p.add_argument("--bottom", type=int, default=3, metavar="N", help="name the N lowest-ranked streets (3)")
    p.add_argument("--repeat-days", type=int, default=30, metavar="DAYS",
                   help="a complaint at the same place and category within DAYS is a repeat (回头看, default 30)")
    p.add_argument("--no-map", dest="map", action="store_false", help="skip map.html (the inline SVG map stays)")
    p.add_argument("--weights", metavar="R,S,F", help="composite weights response,resolution,satisfaction "
                                                      "(default 0.1,0.45,0.45)")
    p.add_argument("--response-limit-h", type=float, default=24.0, help="response time limit in hours (24)")
    p.add_argument("--urgent-limit-h", type=float, default=2.0,
                   help="response limit for urgent categories (供暖, 供水) in hours (2)")
    add_json_option(p, "the files written and the street's summary")
    p.set_defaults(func=_monthly)
    r.set_defaults(func=lambda args: _usage(r))


def _usage(parser: argparse.ArgumentParser) -> int:
    from gridmap.errors import UsageError, message

    raise UsageError(message("which report?", got="no report named", fix="gridmap report monthly --help"))


def _monthly(args: argparse.Namespace) -> int:
    from gridmap.errors import UsageError, message
    from gridmap.outputs import resolve_output_folder
    from gridmap.performance.rules import RateRules, parse_weights
    from gridmap.performance.service import monthly_pack, write_pack

    rules = RateRules(response_limit_h=args.response_limit_h, urgent_limit_h=args.urgent_limit_h,
                      weights=parse_weights(args.weights))
    if args.bottom < 0 or args.repeat_days < 1:
        raise UsageError(message("--bottom must be 0 or more and --repeat-days 1 or more",
                                 got=f"--bottom {args.bottom}, --repeat-days {args.repeat_days}"))
    store = open_store_from(args, mode="read")
    try:
        # (checked now, created when the pack is written: an unknown street leaves no empty folder)
        folder = resolve_output_folder(args.out, store=store, reserved=_RESERVED, option="-o", create=False)
        with progress_bar(args, "monthly pack") as progress:
            pack = monthly_pack(store, month=args.month, street=args.street, rules=rules, bottom_n=args.bottom,
                                repeat_days=args.repeat_days, progress=progress)
    finally:
        store.close()
    files = write_pack(pack, folder, map_=args.map)
    row = pack.league.table.loc[args.street] if args.street in pack.league.table.index else None
    if args.json:
        print_json({"month": str(pack.month), "street": pack.street, "name": pack.street_name,
                    "rank": None if row is None or row["rank"] != row["rank"] else int(row["rank"]), "score": None if row is None else row["score"],
                    "bottom": [str(u) for u in pack.league.bottom.index],
                    "files": {k: str(v) for k, v in files.items()}})
        return 0
    if row is not None:
        rank = "unranked" if row["rank"] != row["rank"] else f"{int(row['rank'])} of {int(pack.league.table['rank'].notna().sum())}"
        score = "—" if row["score"] != row["score"] else f"{row['score']:.1f}"
        print(f"{pack.street_name} ({pack.street}) {pack.month}: composite score {score}, district rank {rank}")
    print(f"pack written to {folder}: report.html, tables.xlsx, {sum(k.startswith('csv:') for k in files)} CSV"
          + (", map.html" if "map" in files else ""))
    return 0
