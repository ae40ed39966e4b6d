"""``gridmap rank``: the 接诉即办 league table of a month (三率 and composite score), the bottom N and 12-month
trends, for streets, communities, departments (承办单位) or categories."""

from __future__ import annotations

import argparse
from typing import Any

from gridmap.cli._common import add_json_option, open_store_from, print_json, print_table, progress_bar

__all__ = ["register"]

_SHOWN = ["rank", "name", "score", "response_rate", "resolution_rate", "satisfaction_rate", "complaints", "excluded",
          "response_n", "resolution_n", "satisfaction_n", "score_change", "rank_change"]


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "rank", parents=[common],
        help="接诉即办 monthly ranking: 响应率/解决率/满意率 and composite score, bottom N, 12-month trend",
        description="Rank streets (街乡镇), communities, departments (承办单位, from dispatched_to; a 双派单 "
                    "complaint counts for each unit) or categories by the composite score of one month: 100 x "
                    "(10%% response + 45%% resolution + 45%% satisfaction) by default. Each rate counts only the "
                    "complaints where its field is known (denominators shown); excluded complaints (不合理诉求剔除) "
                    "are not counted. Ties share a place; the bottom N (排名靠后) names everyone tied with the "
                    "N-th; a unit missing a rate is listed, not ranked.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 ranked, 1 nothing to rank (no complaints that month, no store), 2 usage error.\n"
               "Examples:\n"
               "  gridmap rank --month 2025-06\n"
               "  gridmap rank --month 2025-06 --level community --bottom 5 --json\n"
               "  gridmap rank --month 2025-06 --level department -o units.xlsx\n"
               "  gridmap rank --month 2025-06 --weights 0.2,0.4,0.4 --response-limit-h 12")
    p.add_argument("--month", required=True, metavar="YYYY-MM", help="the month ranked (by received time)")
    p.add_argument("--level", default="street", choices=["street", "community", "department", "category"],
                   help="what is ranked (default street)")
    p.add_argument("--bottom", type=int, default=3, metavar="N", help="name the N lowest-ranked units (default 3)")
    p.add_argument("--weights", metavar="R,S,F", help="composite weights response,resolution,satisfaction "
                                                      "(default 0.1,0.45,0.45)")
    p.add_argument("--response-limit-h", type=float, default=24.0, help="response time limit in hours (24)")
    p.add_argument("--urgent-limit-h", type=float, default=2.0,
                   help="response limit for urgent categories (供暖, 供水) in hours (2)")
    add_json_option(p, "the league table, bottom N and trends")
    from gridmap.cli._outputs import add_overwrite, output_path

    p.add_argument("-o", "--output", metavar="FILE", type=output_path,
                   help="also write the league table: .csv (UTF-8 with BOM), .xlsx or .json (from the name)")
    add_overwrite(p)
    p.set_defaults(func=_rank)


def _rank(args: argparse.Namespace) -> int:
    from gridmap.cli._outputs import resolve
    from gridmap.errors import UsageError, message
    from gridmap.performance.rules import RateRules, parse_weights
    from gridmap.performance.service import rank_from_store

    rules = RateRules(response_limit_h=args.response_limit_h, urgent_limit_h=args.urgent_limit_h,
                      weights=parse_weights(args.weights))
    if args.bottom < 0:
        raise UsageError(message("--bottom must be 0 or more", got=str(args.bottom)))
    store = open_store_from(args, mode="read")
    try:
        target = None
        if args.output:
            target = resolve(args, args.output, store=store, option="-o", default_name="rank.csv")
            if target.suffix.lower() not in (".csv", ".xlsx", ".json"):
                raise UsageError(message("unknown output format", where="-o", got=target.suffix or str(target),
                                         fix="name the file .csv, .xlsx or .json"))
        with progress_bar(args, "rank") as progress:
            if progress:
                progress(0, 1, "rates")
            result = rank_from_store(store, month=args.month, level=args.level, bottom_n=args.bottom, rules=rules)
            if progress:
                progress(1, 1, "done")
    finally:
        store.close()
    if target is not None:
        _write(result, target)
    if args.json:
        print_json({**result.to_dict(), "output": None if target is None else str(target)})
        return 0
    shown = result.table.reset_index()[["unit", *[c for c in _SHOWN if c in result.table.columns]]]
    for c in ("response_rate", "resolution_rate", "satisfaction_rate"):
        shown[c] = shown[c].map(lambda v: "—" if v != v else f"{v:.1%}")
    for c in ("score", "score_change"):
        shown[c] = shown[c].map(lambda v: "—" if v != v else f"{v:.1f}")
    print(f"{result.month} {result.level.value} ranking (composite = {result.rules.weights[0]:g} response + "
          f"{result.rules.weights[1]:g} resolution + {result.rules.weights[2]:g} satisfaction, x100)")
    print_table(shown)
    print("排名靠后 bottom: " + (", ".join(map(str, result.bottom.index)) or "(none)"))
    for note in result.notes:
        print(f"note: {note}")
    if target is not None:
        print(f"written: {target}")
    return 0


def _write(result: Any, target: Any) -> None:
    import json

    from gridmap.cli._common import jsonable
    from gridmap.outputs import atomic_output

    suffix = target.suffix.lower()
    table = result.table.reset_index()
    with atomic_output(target) as tmp:
        if suffix == ".csv":
            table.to_csv(tmp, index=False, encoding="utf-8-sig")
        elif suffix == ".xlsx":
            table.to_excel(tmp, index=False, sheet_name=f"{result.level.value} {result.month}", engine="openpyxl")
        else:
            tmp.write_text(json.dumps(jsonable(result.to_dict()), ensure_ascii=False, indent=2, allow_nan=False),
                           encoding="utf-8")
