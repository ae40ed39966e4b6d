"""``gridmap events``: the columnar events store (import, info, counts, rates, emerging; density and warn in
:mod:`gridmap.cli._events_warning`), out of core, on Dask or PostGIS."""

from __future__ import annotations

import argparse
from typing import Any

from gridmap.cli._common import add_json_option, import_exit_code, open_store_from, print_json, print_table, \
    progress_bar

__all__ = ["register"]

_WHERE = ("Events live in --events DIR (or $GRIDMAP_EVENTS): GeoParquet partitioned by month (month=YYYY-MM/). "
          "Default: beside a SpatiaLite store (city.sqlite -> city.events/), or the `events` table of a PostGIS "
          "store (partitioned by month; counts are then computed in SQL). --dask tcp://HOST:8786 runs the "
          "partition steps on a Dask cluster (the workers must see the events folder at the same path).")


def _where_options(p: argparse.ArgumentParser, *, dask: bool = True) -> None:
    p.add_argument("--events", metavar="DIR|URL", help="events folder or postgresql:// URL (default: see above)")
    if dask:
        p.add_argument("--dask", metavar="URL", help="Dask scheduler, e.g. tcp://scheduler:8786")


def _select_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="start", metavar="DATE", help="window start (inclusive)")
    p.add_argument("--to", dest="end", metavar="DATE", help="window end (exclusive)")
    p.add_argument("--categories", metavar="C1,C2", help="only these catalog categories")
    p.add_argument("--keywords", metavar="K1,K2", help="only complaints whose text contains one of these")


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    e = subparsers.add_parser("events", parents=[common], help="city-scale complaint history: columnar events store",
                              description="A city's 12345 history out of core. " + _WHERE,
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              epilog="Examples:\n"
                                     "  gridmap events import calls-2025.csv\n"
                                     "  gridmap events counts --by street --period month --csv streets.csv\n"
                                     "  gridmap events rates --by street --period month -o rates.csv\n"
                                     "  gridmap events emerging --from 2025-01-06 --to 2025-12-29 --dask "
                                     "tcp://scheduler:8786\n"
                                     "  gridmap events density --by community --csv density.csv\n"
                                     "  gridmap events warn --from 2025-06-01 --to 2025-07-28 --keywords 房屋漏雨")
    sub = e.add_subparsers(dest="events_command", metavar="ACTION")
    _register_import(sub, common)
    _register_info(sub, common)
    _register_counts(sub, common)
    _register_rates(sub, common)
    _register_emerging(sub, common)
    from gridmap.cli import _events_warning

    _events_warning.register(sub, common, where=_WHERE, where_options=_where_options, select_options=_select_options,
                             usage=_usage)


def _register_import(sub: Any, common: argparse.ArgumentParser) -> None:
    i = sub.add_parser(
        "import", parents=[common], help="import complaints (CSV or Parquet) in batches",
        description="Stream a complaints file into the events store in batches: each row is checked (as `gridmap "
                    "complaints import` does), gets its cell, community and street codes once, and each batch is "
                    "committed atomically; ids already stored are skipped, and an interrupted import resumes "
                    "after its last committed batch when run again. " + _WHERE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Examples:\n"
               "  gridmap events import calls-2025.csv --lonlat gcj02\n"
               "  gridmap events import exports/2025-*.parquet        (or the folder: exports/)\n"
               "  gridmap --db city.sqlite events import typed.parquet --events /data/city.events --batch-rows 2000000\n"
               "  gridmap --db postgresql://u@db/city events import calls.csv --json")
    i.add_argument("file", nargs="+", help="CSV/TSV (as `gridmap complaints import` reads it) or Parquet (typed: "
                                           "received_at a timestamp and x/y in the working CRS; or the same columns "
                                           "as the CSV); several files or a folder of them are one import")
    _where_options(i, dask=False)
    i.add_argument("--batch-rows", type=int, default=1_000_000, metavar="N",
                   help="source rows per committed batch (default 1,000,000)")
    i.add_argument("--lonlat", default="wgs84", choices=["wgs84", "cgcs2000", "gcj02", "bd09"],
                   help="coordinate system of lon/lat columns (default wgs84)")
    i.add_argument("--encoding", help="CSV encoding (default: detected UTF-8 or GB18030)")
    i.add_argument("--tz", metavar="ZONE", default="Asia/Shanghai",
                   help="time zone of times written without one (default Asia/Shanghai)")
    add_json_option(i, "the import summary")
    i.set_defaults(func=_import)


def _register_info(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("info", parents=[common], help="where the events are, months, batches and rows",
                       description="Where the events are and what they hold. " + _WHERE,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="Example:\n  gridmap events info --json")
    _where_options(s, dask=False)
    add_json_option(s, "the summary")
    s.set_defaults(func=_info)


def _register_counts(sub: Any, common: argparse.ArgumentParser) -> None:
    from gridmap.cli._outputs import add_overwrite

    c = sub.add_parser("counts", parents=[common], help="counts per cell/community/street (and month or week)",
                       description="Count events per unit, optionally per month or week, streaming the partitions "
                                   "(bounded memory), on Dask with --dask, or GROUP BY in PostGIS. " + _WHERE,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="Examples:\n"
                              "  gridmap events counts --by street --period month\n"
                              "  gridmap events counts --by cell --from 2025-06-01 --to 2025-09-01 --keywords 漏雨 "
                              "--csv leaks.csv\n"
                              "  gridmap events counts --by community --dask tcp://127.0.0.1:8786 --json")
    c.add_argument("--by", default="street", choices=["cell", "community", "street"], help="unit (default street)")
    c.add_argument("--period", choices=["month", "week"], help="also per month or per week (Monday)")
    _select_options(c)
    _where_options(c)
    c.add_argument("--csv", metavar="FILE", help="write the counts as CSV (UTF-8 with BOM)")
    c.add_argument("--top", type=int, default=30, metavar="N", help="rows to print (default 30; --json prints all)")
    add_json_option(c, "the counts")
    add_overwrite(c)
    c.set_defaults(func=_counts)


def _register_rates(sub: Any, common: argparse.ArgumentParser) -> None:
    from gridmap.cli._outputs import add_overwrite, output_path

    r = sub.add_parser(
        "rates", parents=[common], help="接诉即办 三率 per street/community and month (streamed, Dask or SQL)",
        description="The 接诉即办 三率 (响应率 response, 解决率 resolution, 满意率 satisfaction) and the composite "
                    "score per street or community and month of receipt, from the handling records of the stored "
                    "events: each partition is reduced to sums on its own (bounded memory), on Dask with --dask, "
                    "or GROUP BY in PostGIS. The rules are those of `gridmap rank` (excluded complaints not "
                    "counted, each rate over the complaints where its field is known, denominators shown). " + _WHERE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 rates written, 1 no complaints in the window (or no events store), 2 usage error.\n"
               "Examples:\n"
               "  gridmap events rates --by street --period month\n"
               "  gridmap events rates --by community --first 2025-01 --last 2025-06 -o h1.csv\n"
               "  gridmap events rates --period all --weights 0.2,0.4,0.4 -o year.json\n"
               "  gridmap events rates --dask tcp://127.0.0.1:8786 --json")
    r.add_argument("--by", default="street", choices=["street", "community"], help="unit (default street)")
    r.add_argument("--period", default="month", choices=["month", "all"],
                   help="per month of receipt (default) or over the whole window")
    r.add_argument("--first", metavar="YYYY-MM", help="first month (inclusive; default the first stored)")
    r.add_argument("--last", metavar="YYYY-MM", help="last month (inclusive; default the last stored)")
    r.add_argument("--weights", metavar="R,S,F", help="composite weights response,resolution,satisfaction "
                                                      "(default 0.1,0.45,0.45)")
    r.add_argument("--response-limit-h", type=float, default=24.0, help="response time limit in hours (24)")
    r.add_argument("--urgent-limit-h", type=float, default=2.0,
                   help="response limit for urgent categories (供暖, 供水) in hours (2)")
    _where_options(r)
    r.add_argument("-o", "--output", metavar="FILE", type=output_path,
                   help="write every row: .csv (UTF-8 with BOM) or .json (from the name)")
    r.add_argument("--top", type=int, default=30, metavar="N", help="rows to print (default 30; --json prints all)")
    add_json_option(r, "the rates")
    add_overwrite(r)
    r.set_defaults(func=_rates)


def _register_emerging(sub: Any, common: argparse.ArgumentParser) -> None:
    from gridmap.cli._outputs import add_overwrite

    m = sub.add_parser("emerging", parents=[common], help="emerging hot spots over the whole history (streamed)",
                       description="Emerging hot-spot categories per cell: a weekly (or monthly) space-time cube "
                                   "streamed from the partitions, then Gi* per bin, Mann-Kendall trends and the "
                                   "ArcGIS categories (gridmap.warning.emerging_hot_spots). " + _WHERE,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="Examples:\n"
                              "  gridmap events emerging --from 2025-01-06 --to 2025-12-29\n"
                              "  gridmap events emerging --from 2025-01-01 --to 2026-01-01 --freq month "
                              "--moments slice --csv patterns.csv")
    m.add_argument("--from", dest="start", required=True, metavar="DATE", help="first slice starts here")
    m.add_argument("--to", dest="end", required=True, metavar="DATE", help="window end (exclusive)")
    m.add_argument("--freq", default="week", choices=["week", "month"], help="slice length (default week)")
    m.add_argument("--moments", default="cube", choices=["cube", "slice"],
                   help="Gi* moments of the whole cube (ArcGIS, default) or of each slice")
    m.add_argument("--categories", metavar="C1,C2", help="only these catalog categories")
    m.add_argument("--keywords", metavar="K1,K2", help="only complaints whose text contains one of these")
    _where_options(m)
    m.add_argument("--csv", metavar="FILE", help="write every cell's category as CSV (UTF-8 with BOM)")
    add_json_option(m, "the cells with a pattern")
    add_overwrite(m)
    m.set_defaults(func=_emerging)


def _usage(args: Any) -> None:
    from gridmap.errors import UsageError, message

    if getattr(args, "batch_rows", 1) < 1:
        raise UsageError(message("--batch-rows must be at least 1", got=args.batch_rows))
    if getattr(args, "dask", None) and not str(args.dask).startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        raise UsageError(message("--dask needs a scheduler address", got=args.dask, fix="e.g. tcp://127.0.0.1:8786"))


def _import(args: Any) -> int:
    from gridmap.memory import bulk_allocators
    from gridmap.events.service import events_location, import_events_file

    from gridmap.store import resolve_url

    _usage(args)
    # events in the PostGIS store itself are written through its engine; a Parquet folder leaves the store unread
    in_db = resolve_url(args.db).startswith("postgres") and not args.events and not _env_events()
    with open_store_from(args, mode="write" if in_db else "read") as store:
        where = events_location(store, args.events)
        with progress_bar(args, "events", unit="row") as progress, bulk_allocators():
            res = import_events_file(store, args.file, events=args.events, batch_rows=args.batch_rows,
                                     lonlat=args.lonlat, encoding=args.encoding, tz=args.tz, progress=progress)
    if args.json:
        print_json({"events": where if "://" not in where else "postgis table events", "read": res.read,
                    "accepted": res.accepted, "rejected": res.rejected_rows, "written": res.written,
                    "already_stored": res.already_stored, "batches": res.batches,
                    "resumed_batches": res.skipped_batches, "warnings": res.warnings, "seconds": res.seconds,
                    "rows_per_s": res.rows_per_s, "rejected_by_reason": dict(res.by_reason())})
    else:
        print(res)
    return import_exit_code(read=res.read - res.already_stored, accepted=res.accepted, rejected_rows=res.rejected_rows)


def _env_events() -> str | None:
    import os

    return os.environ.get("GRIDMAP_EVENTS") or None


def _info(args: Any) -> int:
    from gridmap.events.dataset import EventDataset
    from gridmap.events.service import events_location, open_events

    with open_store_from(args, mode="read") as store:
        src = open_events(store, args.events)
        where = events_location(store, args.events)
        info: dict[str, Any] = {"events": where if isinstance(src, EventDataset) else "postgis table events",
                                "rows": src.count()}
        if isinstance(src, EventDataset):
            info.update({"batches": len(src.batches()), "months": src.months(), "files": len(src.files())})
    if args.json:
        print_json(info)
    else:
        for k, v in info.items():
            print(f"{k}: {', '.join(v) if isinstance(v, list) else v}")
    return 0


def _select(args: Any) -> dict:
    return {k: getattr(args, k) for k in ("start", "end", "categories", "keywords") if getattr(args, k, None)}


def _write(args: Any, frame: Any, store: Any) -> str | None:
    if not getattr(args, "csv", None):
        return None
    from gridmap.cli._outputs import resolve, write_csv

    target = resolve(args, args.csv, store=store, option="--csv", default_name="events.csv")
    write_csv(frame, target)
    return str(target)


def _counts(args: Any) -> int:
    from gridmap.events.service import events_counts

    _usage(args)
    with open_store_from(args, mode="read") as store:
        with progress_bar(args, "partitions", unit="file") as progress:
            out = events_counts(store, events=args.events, by=args.by, period=args.period, client=args.dask,
                                progress=progress, **_select(args)).reset_index()
        written = _write(args, out, store)
    if args.json:
        print_json({"counts": out, "csv": written})
    else:
        print_table(out.head(args.top))
        if len(out) > args.top:
            print(f"... {len(out) - args.top} more row(s) (--csv FILE or --json for all)")
        if written:
            print(f"csv: {written}")
    return 0 if len(out) else 1


def _rates(args: Any) -> int:
    from gridmap.events.service import events_rates
    from gridmap.performance.rules import RateRules, parse_weights

    _usage(args)
    rules = RateRules(response_limit_h=args.response_limit_h, urgent_limit_h=args.urgent_limit_h,
                      weights=parse_weights(args.weights))
    with open_store_from(args, mode="read") as store:
        target = _rates_target(args, store)
        with progress_bar(args, "partitions", unit="file") as progress:
            out = events_rates(store, events=args.events, by=args.by, period=args.period, first=args.first,
                               last=args.last, rules=rules, client=args.dask, progress=progress)
    out = out.rename(columns={"unit": f"{args.by}_code"})
    head = {"level": args.by, "period": args.period, "first": args.first, "last": args.last,
            "weights": dict(zip(("response", "resolution", "satisfaction"), rules.weights)),
            "response_limit_h": rules.response_limit_h, "urgent_limit_h": rules.urgent_limit_h}
    if target is not None:
        _write_rates(out, head, target)
    if args.json:
        print_json({**head, "rates": out, "output": None if target is None else str(target)})
    else:
        shown = out.head(args.top).copy()
        for c in ("response_rate", "resolution_rate", "satisfaction_rate"):
            shown[c] = shown[c].map(lambda v: "—" if v != v else f"{v:.1%}")
        shown["score"] = shown["score"].map(lambda v: "—" if v != v else f"{v:.1f}")
        print_table(shown)
        if len(out) > args.top:
            print(f"... {len(out) - args.top} more row(s) (-o FILE or --json for all)")
        if target is not None:
            print(f"written: {target}")
    return 0 if len(out) else 1


def _rates_target(args: Any, store: Any) -> Any:
    """The checked -o file (before any work), or None."""
    if not args.output:
        return None
    from gridmap.cli._outputs import resolve
    from gridmap.errors import UsageError, message

    target = resolve(args, args.output, store=store, option="-o", default_name="rates.csv")
    if target.suffix.lower() not in (".csv", ".json"):
        raise UsageError(message("unknown output format", where="-o", got=target.suffix or str(target),
                                 fix="name the file .csv or .json"))
    return target


def _write_rates(frame: Any, head: dict, target: Any) -> None:
    """CSV (UTF-8 with BOM) or strict JSON (missing rates as null, never NaN), by the file's suffix."""
    import json

    from gridmap.cli._common import jsonable
    from gridmap.cli._outputs import write_csv
    from gridmap.outputs import atomic_output

    if target.suffix.lower() == ".csv":
        write_csv(frame, target)
        return
    with atomic_output(target) as tmp:
        tmp.write_text(json.dumps(jsonable({**head, "rates": frame}), ensure_ascii=False, indent=2, allow_nan=False),
                       encoding="utf-8")


def _emerging(args: Any) -> int:
    from gridmap.events.service import events_emerging

    _usage(args)
    sel = {k: getattr(args, k) for k in ("categories", "keywords") if getattr(args, k, None)}
    with open_store_from(args, mode="read") as store:
        with progress_bar(args, "partitions", unit="file") as progress:
            cube, res, cells = events_emerging(store, events=args.events, start=args.start, end=args.end,
                                               freq=args.freq, client=args.dask, progress=progress, select=sel,
                                               moments=args.moments,
                                               time_window=1 if args.moments == "cube" else 0)
        from gridmap.warning.lattice_ops import localise_cells

        _, cix, ciy = localise_cells(cells)
        import pandas as pd

        where = pd.DataFrame({"cell_code": cells["code"].to_numpy(), "ix": cix, "iy": ciy})
        table = where.merge(res.cells, on=["ix", "iy"], how="left").drop(columns=["ix", "iy"])
        written = _write(args, table, store)
    found = table[table["pattern"] != "no pattern"]
    if args.json:
        print_json({"slices": len(cube.starts), "events": int(cube.counts.sum()), "cells": found, "csv": written})
    else:
        print(f"{len(cube.starts)} {args.freq} slices, {int(cube.counts.sum()):,} events, {len(cells):,} cells")
        print_table(found["pattern"].value_counts().rename_axis("pattern").reset_index())
        if written:
            print(f"csv: {written}")
    return 0
