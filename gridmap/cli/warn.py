"""``gridmap warn`` (early-warning report from the store) and ``gridmap complaints import``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gridmap.cli._common import open_store_from, print_json, print_table

__all__ = ["register"]


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "warn", parents=[common], help="12345 early warning: count jumps, hot spots, keyword watch, 回头看 list",
        description="Alerts over [--from, --to) from the complaints in the store; a Markdown summary in Chinese.",
        epilog="Example: gridmap warn --from 2024-05-01 --to 2024-06-01 --keywords 漏雨,渗水 --md report.md")
    p.add_argument("--from", dest="start", required=True, metavar="DATE", help="window start (inclusive)")
    p.add_argument("--to", dest="end", required=True, metavar="DATE", help="window end (exclusive)")
    p.add_argument("--keywords", metavar="K1,K2", help="keyword watch list and 回头看 keywords, e.g. 漏雨,渗水,屋顶")
    p.add_argument("--categories", metavar="C1,C2", help="restrict to these catalog categories")
    p.add_argument("--units", default="cell,community", help="units to test (cell,community,street)")
    p.add_argument("--alpha", type=float, default=0.05, help="false-discovery rate (default 0.05)")
    p.add_argument("--json", action="store_true", help="print the alert table as JSON")
    p.add_argument("--csv", metavar="FILE", help="write the alert table as CSV")
    p.add_argument("--geojson", metavar="FILE", help="write the alerts as GeoJSON (WGS 84)")
    p.add_argument("--md", metavar="FILE", help="write the Markdown summary")
    p.set_defaults(func=_warn)

    c = subparsers.add_parser("complaints", parents=[common], help="12345 complaints: import")
    csub = c.add_subparsers(dest="complaints_command", metavar="ACTION")
    i = csub.add_parser("import", parents=[common], help="import complaints (CSV, JSON/Open311, GeoJSON)")
    i.add_argument("file")
    i.add_argument("--lonlat", default="wgs84", help="coordinate system of lon/lat: wgs84, gcj02, bd09")
    i.add_argument("--unknown-category", choices=["other", "reject"], default="other")
    i.add_argument("--report", metavar="FILE", help="write the rejection/warning report as CSV")
    i.set_defaults(func=_import)
    c.set_defaults(func=lambda args: (c.print_help(), 2)[1])


def _warn(args: argparse.Namespace) -> int:
    from gridmap.warning.alerts import early_warning

    store = open_store_from(args)
    complaints = store.read("complaints")
    cells = store.read("cells") if store.count("cells") else None
    rep = early_warning(complaints, start=args.start, end=args.end, cells=cells, keywords=args.keywords,
                        units=tuple(u.strip() for u in args.units.split(",") if u.strip()), alpha=args.alpha,
                        categories=args.categories)
    table = rep.alerts.drop(columns="geometry", errors="ignore")
    if args.csv:
        table.to_csv(args.csv, index=False, encoding="utf-8-sig")
    if args.geojson:
        if "geometry" in rep.alerts.columns and len(rep.alerts):
            rep.alerts.to_crs("EPSG:4326").to_file(args.geojson, driver="GeoJSON")
        else:
            print("no alert geometry to write (no cells in the store, or no alerts)", file=sys.stderr)
    if args.md:
        with open(args.md, "w", encoding="utf-8") as fh:
            fh.write(rep.markdown)
    if args.json:
        print_json({"from": str(rep.start.date()), "to": str(rep.end.date()), "notes": rep.notes,
                    "alerts": table.to_dict("records"), "recheck": rep.recheck.head(200).to_dict("records")})
    elif not args.md:
        print(rep.markdown)
    else:
        print_table(table[[c for c in ("kind_zh", "kind", "unit_type", "unit", "observed", "expected", "q")
                           if c in table.columns]])
    return 0


def _import(args: argparse.Namespace) -> int:
    from gridmap.io.complaints import import_complaints

    store = open_store_from(args)
    res = import_complaints(store, args.file, lonlat=args.lonlat, unknown_category=args.unknown_category)
    print(res)
    if args.report:
        res.report.to_csv(args.report, index=False, encoding="utf-8-sig")
    return 0
