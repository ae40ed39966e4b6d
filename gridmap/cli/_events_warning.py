"""``gridmap events density`` and ``gridmap events warn``: kernel density and the early-warning scan streamed over
the events store (registered by :mod:`gridmap.cli.events_cmd`, whose shared options it is handed)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from gridmap.cli._common import add_json_option, open_store_from, print_json, print_table, progress_bar

__all__ = ["register"]


def register(sub: Any, common: argparse.ArgumentParser, *, where: str,
             where_options: Callable[[argparse.ArgumentParser], None],
             select_options: Callable[[argparse.ArgumentParser], None], usage: Callable[[Any], None]) -> None:
    """Add ``density`` and ``warn`` to the ``gridmap events`` actions ``sub`` (with the group's ``--events``/
    ``--dask`` options, row selection and option checks)."""
    _register_density(sub, common, where, where_options, select_options, usage)
    _register_warn(sub, common, where, where_options, usage)


def _register_density(sub: Any, common: argparse.ArgumentParser, where: str, where_options: Callable,
                      select_options: Callable, usage: Callable) -> None:
    from gridmap.cli._outputs import add_overwrite, output_path

    d = sub.add_parser("density", parents=[common], help="kernel density per cell/community/street (streamed)",
                       description="Gaussian kernel density of the events on the cells' lattice "
                                   "(gridmap.warning.kernel_density), from binned counts streamed from the "
                                   "partitions (bounded memory; the same result as in memory), on Dask with "
                                   "--dask, or counted by GROUP BY in PostGIS; then per cell, community or street "
                                   "(gridmap.warning.density_by: smoothed complaints and per km²). " + where,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="Examples:\n"
                              "  gridmap events density --bandwidth 300 --by community --csv density.csv\n"
                              "  gridmap events density --from 2025-06-01 --to 2025-09-01 --keywords 漏雨,渗水 "
                              "--geojson leaks.geojson\n"
                              "  gridmap events density --by street --dask tcp://127.0.0.1:8786 --json")
    d.add_argument("--bandwidth", type=float, default=300.0, metavar="M",
                   help="kernel standard deviation in metres (default 300)")
    d.add_argument("--scale", default="per_km2", choices=["per_km2", "per_m2", "per_cell", "pdf"],
                   help="density unit on the lattice (default per_km2); the per-unit table has expected and per_km2")
    d.add_argument("--by", default="cell", choices=["cell", "community", "street"], help="unit (default cell)")
    select_options(d)
    where_options(d)
    d.add_argument("--csv", metavar="FILE", type=output_path, help="write the per-unit table as CSV (UTF-8 with BOM)")
    d.add_argument("--geojson", metavar="FILE", type=output_path,
                   help="write the units with their density as GeoJSON (WGS 84)")
    d.add_argument("--top", type=int, default=30, metavar="N", help="rows to print (default 30; --json prints all)")
    add_json_option(d, "the density per unit")
    add_overwrite(d)
    d.set_defaults(func=lambda args: _density(args, usage))


def _register_warn(sub: Any, common: argparse.ArgumentParser, where: str, where_options: Callable,
                   usage: Callable) -> None:
    from gridmap.cli._warning_out import add_warning_outputs

    w = sub.add_parser("warn", parents=[common], help="early warning streamed: space-time clusters, keyword watch",
                       description="The space-time part of `gridmap warn`, streamed from the partitions: the "
                                   "weekly space-time scan evaluated on --to and every 7 days before it inside the "
                                   "window (one family per category, the --keywords watch list with its keyword "
                                   "family as one more), each watched term's matches, and the 回头看 re-check "
                                   "list; the same alerts and scores as in memory. Count jumps per unit are not "
                                   "streamed (use `gridmap warn`). " + where,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="Examples:\n"
                              "  gridmap events warn --from 2025-06-01 --to 2025-07-28 --keywords 房屋漏雨 "
                              "--md report.md --geojson alerts.geojson\n"
                              "  gridmap events warn --from 2025-06-01 --to 2025-09-01 --categories 噪音 "
                              "--dask tcp://127.0.0.1:8786 --json")
    w.add_argument("--from", dest="start", required=True, metavar="DATE", help="window start (inclusive)")
    w.add_argument("--to", dest="end", required=True, metavar="DATE", help="window end (exclusive)")
    w.add_argument("--keywords", metavar="K1,K2", help="keyword watch list (families expanded, e.g. 房屋漏雨)")
    w.add_argument("--categories", metavar="C1,C2", help="restrict to these catalog categories")
    w.add_argument("--scan-alpha", type=float, default=0.002, metavar="P",
                   help="chance of any false alert per evaluation date (default 0.002)")
    w.add_argument("--recheck-years", type=int, default=2, metavar="N",
                   help="years before --from the 回头看 list looks at (default 2)")
    where_options(w)
    add_json_option(w, "the alert table and the 回头看 list")
    add_warning_outputs(w)
    w.set_defaults(func=lambda args: _warn(args, usage))


def _check(args: Any, usage: Callable) -> None:
    from gridmap.errors import UsageError, message

    usage(args)
    if getattr(args, "bandwidth", 1.0) <= 0:
        raise UsageError(message("--bandwidth must be a positive number of metres", got=args.bandwidth))
    if not 0 < getattr(args, "scan_alpha", 0.5) < 1:
        raise UsageError(message("--scan-alpha must be between 0 and 1", got=args.scan_alpha))
    if getattr(args, "recheck_years", 1) < 1:
        raise UsageError(message("--recheck-years must be at least 1", got=args.recheck_years))


def _density(args: Any, usage: Callable) -> int:
    from gridmap.cli._outputs import resolve, write_csv
    from gridmap.cli._warning_out import write_geojson
    from gridmap.events.service import events_density

    _check(args, usage)
    select = {k: getattr(args, k) for k in ("start", "end", "categories", "keywords") if getattr(args, k, None)}
    with open_store_from(args, mode="read") as store:
        targets = {key: resolve(args, getattr(args, key), store=store, default_name=name, option=option)
                   for key, option, name in (("csv", "--csv", "density.csv"), ("geojson", "--geojson",
                                                                                "density.geojson"))
                   if getattr(args, key)}
        with progress_bar(args, "partitions", unit="file") as progress:
            res, table, cells = events_density(store, events=args.events, bandwidth_m=args.bandwidth,
                                               scale=args.scale, by=args.by, client=args.dask, progress=progress,
                                               **select)
    table = table.reset_index().sort_values("per_km2", ascending=False, kind="stable").reset_index(drop=True)
    if "csv" in targets:
        write_csv(table, targets["csv"])
    if "geojson" in targets:  # the store is closed: pyogrio may run
        from gridmap.warning.unit_geometry import attach_unit_geometry

        located = table.assign(unit_type=args.by, unit=table[f"{args.by}_code"])
        write_geojson(attach_unit_geometry(located, cells=cells).drop(columns=["unit_type", "unit"]),
                      targets["geojson"])
    lat = res.lattice
    if args.json:
        print_json({"bandwidth_m": args.bandwidth, "scale": args.scale, "by": args.by, "events": res.events,
                    "not_counted": res.missed, "lattice": {"x0": lat.x0, "y0": lat.y0, "cell_size_m": lat.cell_size_m,
                                                           "nx": lat.nx, "ny": lat.ny},
                    "units": table, "csv": targets.get("csv"), "geojson": targets.get("geojson")})
    else:
        print(f"{res.events:,} events, bandwidth {args.bandwidth:g} m, {lat.nx} x {lat.ny} lattice, "
              f"{len(table):,} {args.by} unit(s)")
        print_table(table.head(args.top))
        if len(table) > args.top:
            print(f"... {len(table) - args.top} more row(s) (--csv FILE or --json for all)")
        for key in ("csv", "geojson"):
            if key in targets:
                print(f"{key}: {targets[key]}")
    return 0 if res.events else 1


def _warn(args: Any, usage: Callable) -> int:
    from gridmap.cli._warning_out import warning_targets, write_warning
    from gridmap.events.service import events_warning

    _check(args, usage)
    with open_store_from(args, mode="read") as store:
        targets = warning_targets(args, store)
        with progress_bar(args, "events warn") as progress:
            rep = events_warning(store, events=args.events, start=args.start, end=args.end, keywords=args.keywords,
                                 categories=args.categories, recheck_years=args.recheck_years, client=args.dask,
                                 progress=progress, scan_options={"alpha": args.scan_alpha})
    write_warning(args, rep, targets)  # the store is closed: pyogrio may run
    return 0
