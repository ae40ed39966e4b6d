"""``gridmap warn`` (early-warning report from the store) and ``gridmap complaints import``."""

from __future__ import annotations

import argparse
from typing import Any

from gridmap.cli._common import add_command, add_json_option, add_rejects_option, open_store_from, progress_bar

__all__ = ["register"]


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(subparsers,
        "warn", common,
        help="12345 early warning: count jumps, space-time clusters, hot spots, keyword watch, 回头看 list",
        description="Alerts over [--from, --to) from the complaints in the store: count jumps against each unit's "
                    "own baseline, space-time clusters (the weekly space-time scan, evaluated on --to and every 7 "
                    "days before it inside the window), emerging hot spots and keyword watch, plus the 回头看 "
                    "re-check list; a Markdown summary in Chinese.",
        epilog="Examples:\n"
               "  gridmap warn --from 2024-05-01 --to 2024-06-01 --keywords 漏雨,渗水 --md report.md \\\n"
               "      --csv alerts.csv --recheck-csv recheck.csv --geojson alerts.geojson\n"
               "  gridmap warn --from 2025-06-01 --to 2025-06-15 --units cell --no-scan --json")
    p.add_argument("--from", dest="start", required=True, metavar="DATE", help="window start (inclusive)")
    p.add_argument("--to", dest="end", required=True, metavar="DATE", help="window end (exclusive)")
    p.add_argument("--keywords", metavar="K1,K2", help="keyword watch list and 回头看 keywords, e.g. 漏雨,渗水,屋顶")
    p.add_argument("--categories", metavar="C1,C2", help="restrict to these catalog categories")
    p.add_argument("--units", default="cell,community", help="units to test (cell,community,street)")
    p.add_argument("--alpha", type=float, default=0.05,
                   help="false-discovery rate of count jumps, keyword watch and hot spots (default 0.05; the "
                        "space-time scan keeps its own per-evaluation false-alarm rate, 0.002)")
    p.add_argument("--no-scan", dest="scan", action="store_false", help="skip the space-time scan")
    add_json_option(p, "the alert table and the 回头看 list")
    from gridmap.cli._warning_out import add_warning_outputs

    add_warning_outputs(p)
    p.set_defaults(func=_warn)

    c = add_command(subparsers, "complaints", common, help="12345 complaints: import",
                                description="12345 complaints (接诉即办): import them with their cell, community, "
                                            "street and catalog category.",
                                epilog="Example:\n"
                                       "  gridmap complaints import calls.csv --lonlat gcj02 --rejects bad.csv")
    csub = c.add_subparsers(dest="complaints_command", metavar="ACTION")
    i = add_command(csub,
        "import", common, help="import complaints (CSV, JSON/Open311, GeoJSON)",
        description="Import complaints: each gets its unit cell, community and street from the stored cells (points "
                    "outside every cell are rejected) and a catalog category; rows already stored (same "
                    "source_id) are skipped, so re-importing a file adds nothing twice. Same as `gridmap import "
                    "complaints FILE`.",
        epilog="Examples:\n"
               "  gridmap complaints import calls.csv --lonlat gcj02 --rejects bad.csv\n"
               "  gridmap complaints import 12345.csv --map source_id=编号,received_at=受理时间,lon=经度,lat=纬度 "
               "--dry-run\n"
               "  gridmap complaints import open311.json --json\n"
               "  gridmap complaints import requests.xml --category-map my-categories.toml")
    i.add_argument("file", help="CSV, JSON (a list, {\"requests\": [...]} or Open311 GeoReport v2), Open311 XML or "
                                "GeoJSON file")
    i.add_argument("--lonlat", default="wgs84", choices=["wgs84", "cgcs2000", "gcj02", "bd09"],
                   help="coordinate system of lon/lat: wgs84 (default), cgcs2000, gcj02 (Amap/Tencent), bd09 (Baidu)")
    i.add_argument("--map", dest="mapping", metavar="OURS=THEIRS,...|FILE.toml",
                   help="column mapping, e.g. source_id=编号,received_at=受理时间,lon=经度,lat=纬度")
    i.add_argument("--encoding", help="CSV/JSON encoding (default: detected UTF-8 or GB18030)")
    i.add_argument("--units", metavar="FILE",
                   help="complaints: the known 承办单位 (one per line); a row dispatched to another unit is rejected")
    i.add_argument("--unknown-category", choices=["other", "reject"], default="other",
                   help="a category not in the catalog: 其他 with a warning (other, default) or reject the row")
    i.add_argument("--category-map", metavar="FILE.toml|FILE.csv",
                   help="complaints: your category values or text keywords -> catalog categories ([values] and "
                        "[keywords] tables, or CSV theirs,ours[,match]); the summary counts what fell into 其他 "
                        "(see docs/complaint-categories.md)")
    i.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    add_rejects_option(i, "write the rejection report (rejected rows and warnings: row, field, reason, value, "
                          "action) as CSV (UTF-8 with BOM)")
    add_json_option(i, "the import summary (counts, rejections grouped by reason)")
    from gridmap.cli._outputs import add_overwrite

    add_overwrite(i)
    from gridmap.cli._common import add_import_contract

    add_import_contract(i, tz=True)
    i.set_defaults(func=_import)
    c.set_defaults(func=lambda args: (c.print_help(), 2)[1])


def _warn(args: argparse.Namespace) -> int:
    from gridmap.warning.alerts import early_warning

    from gridmap.cli._warning_out import warning_targets, write_warning

    store = open_store_from(args, mode="read")
    targets = warning_targets(args, store)
    with progress_bar(args, "warn") as progress:
        if progress:
            progress(0, 1, "read complaints and cells")
        try:
            complaints = store.read("complaints")
            cells = store.read("cells") if store.count("cells") else None
        finally:
            store.close()  # before any GDAL/pyogrio I/O (or pyogrio crashes the interpreter)
        rep = early_warning(complaints, start=args.start, end=args.end, cells=cells, keywords=args.keywords,
                            units=tuple(u.strip() for u in args.units.split(",") if u.strip()), alpha=args.alpha,
                            categories=args.categories, scan=args.scan, progress=progress)
    write_warning(args, rep, targets)
    return 0


def _import(args: argparse.Namespace) -> int:
    from gridmap.cli._imports import run_complaint_import

    return run_complaint_import(args)
