"""``gridmap emerging``: the full-period emerging hot-spot analysis, every location written."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gridmap.cli._common import add_json_option, open_store_from, print_json, print_table, progress_bar

__all__ = ["register"]

_FORMATS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".csv": "CSV"}


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    from gridmap.cli._outputs import add_overwrite, output_path

    p = subparsers.add_parser(
        "emerging", parents=[common],
        help="emerging hot spots (时空热点) over a period: all 17 ArcGIS categories for every cell, the cube as "
             "netCDF",
        description="Emerging hot-spot analysis of the complaints in [--from, --to): counts per cell and time "
                    "slice (slices before the data begin are not counted), Getis-Ord Gi* per bin, a Mann-Kendall "
                    "trend per cell, and one of ArcGIS's 17 categories (new / consecutive / intensifying / "
                    "persistent / diminishing / sporadic / oscillating / historical hot or cold spot, or no "
                    "pattern) with its Chinese name for every cell. --out writes every location (per-slice z and "
                    "p, trend, category) in the format its name gives (.gpkg, .geojson, .csv); --cube writes the "
                    "space-time cube as netCDF (xarray; needs the extra: pip install 'gridmap[cube]').",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Examples:\n"
               "  gridmap emerging --from 2025-01-06 --to 2026-01-05 --out emerging.gpkg --cube cube.nc\n"
               "  gridmap emerging --from 2025-01-01 --to 2026-01-01 --slice month --fdr --json\n"
               "  gridmap emerging --from 2025-06-02 --to 2025-08-25 --categories 房屋漏雨 --neighbours distance "
               "--distance-m 300")
    p.add_argument("--from", dest="start", required=True, metavar="DATE", help="period start (inclusive)")
    p.add_argument("--to", dest="end", required=True, metavar="DATE", help="period end (exclusive)")
    p.add_argument("--slice", dest="freq", default="week", choices=["day", "week", "month"],
                   help="time-slice length (default week; at least 10 slices are needed)")
    p.add_argument("--neighbours", default="queen", choices=["queen", "rook", "distance"],
                   help="spatial neighbourhood of Gi* (default queen; distance needs --distance-m)")
    p.add_argument("--distance-m", type=float, metavar="M", help="distance band in metres for --neighbours distance")
    p.add_argument("--alpha", type=float, default=0.05, help="significance of a hot/cold bin (default 0.05)")
    p.add_argument("--fdr", action="store_true", help="Benjamini-Hochberg false-discovery control over all bins")
    p.add_argument("--time-window", type=int, default=0, metavar="N",
                   help="previous slices in each bin's neighbourhood (default 0: Gi* per slice with the slice's own "
                        "mean and variance; N >= 1 uses ArcGIS's space-time neighbourhood and the cube's moments)")
    p.add_argument("--categories", metavar="C1,C2", help="only these catalog categories")
    p.add_argument("--keywords", metavar="K1,K2", help="only complaints whose text matches (families expanded)")
    p.add_argument("--out", metavar="FILE", type=output_path,
                   help="every location with its results: .gpkg (layer emerging_hot_spots), .geojson or .csv")
    p.add_argument("--cube", metavar="FILE.nc", type=output_path, help="the space-time cube as netCDF")
    add_json_option(p, "the category counts and every location with a pattern")
    add_overwrite(p)
    p.set_defaults(func=_emerging)


def _emerging(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gridmap.cli._outputs import resolve
    from gridmap.errors import UsageError, message
    from gridmap.warning.keywords import expand_keywords
    from gridmap.warning.period import emerging_period

    if args.neighbours == "distance" and args.distance_m is None:
        raise UsageError(message("--neighbours distance needs --distance-m", fix="e.g. --distance-m 300"))
    if args.out is not None and Path(args.out).suffix.lower() not in _FORMATS:
        raise UsageError(message("unknown output format", where="--out", got=str(args.out),
                                 fix="name the file .gpkg, .geojson or .csv"))
    if args.cube is not None and Path(args.cube).suffix.lower() not in (".nc", ".nc4"):
        raise UsageError(message("the cube is written as netCDF", where="--cube", got=str(args.cube),
                                 fix="name the file .nc"))
    if args.cube is not None:
        from gridmap.warning.frames import require_xarray

        require_xarray()  # before any work: says how to install the extra
    store = open_store_from(args, mode="read")
    targets = {key: resolve(args, getattr(args, key), store=store, default_name=name, option=option)
               for key, option, name in (("out", "--out", "emerging.gpkg"), ("cube", "--cube", "cube.nc"))
               if getattr(args, key) is not None}
    with progress_bar(args, "emerging") as progress:
        if progress:
            progress(0, 3, "read complaints and cells")
        try:
            crs = store.crs
            complaints = store.read("complaints")
            cells = store.read("cells") if store.count("cells") else None
        finally:
            store.close()  # before any GDAL/pyogrio I/O
        if cells is None or not len(cells):
            from gridmap.errors import NotFoundError

            raise NotFoundError(message("the store has no cells", fix="gridmap cells build (or gridmap demo)"))
        if progress:
            progress(1, 3, "cube, Gi*, trends, categories")
        run = emerging_period(complaints, cells, start=args.start, end=args.end, freq=args.freq,
                              neighbours=args.neighbours, distance_m=args.distance_m, alpha=args.alpha, fdr=args.fdr,
                              time_window=args.time_window, moments="slice" if args.time_window == 0 else "cube",
                              categories=args.categories,
                              keywords=expand_keywords(args.keywords) if args.keywords else None)
        if progress:
            progress(2, 3, "write")
        _write(run, targets, crs)
        if progress:
            progress(3, 3, "done")
    loc = run.locations
    flagged = loc[loc["pattern"] != "no pattern"]
    if args.json:
        cols = ["pattern", "pattern_zh", "n_hot", "n_cold", "final_z", "trend_z", "trend_p", "total"]
        rows = flagged[cols].reset_index().to_dict("records")
        print_json({"from": args.start, "to": args.end, **run.summary(),
                    "out": str(targets["out"]) if "out" in targets else None,
                    "cube": str(targets["cube"]) if "cube" in targets else None, "patterns": rows})
    else:
        counts = {k: v for k, v in run.category_counts().items() if v}
        print(f"emerging hot spots {args.start} .. {args.end}: {len(run.cube.starts)} {args.freq} slice(s), "
              f"{len(loc)} cell(s)")
        if run.cube.dropped_slices:
            print(f"{len(run.cube.dropped_slices)} slice(s) before the data begin not counted", file=sys.stderr)
        import pandas as pd

        from gridmap.warning.emerging import Pattern

        print_table(pd.DataFrame({"pattern": list(counts), "类别": [Pattern(k).zh for k in counts],
                                  "cells": list(counts.values())}))
        for key in ("out", "cube"):
            if key in targets:
                print(f"{key}: {targets[key]}")
    return 0


def _write(run: Any, targets: dict[str, Any], crs: Any) -> None:
    from pathlib import Path

    from gridmap.outputs import atomic_output

    if "out" in targets:
        path = Path(targets["out"])
        fmt = _FORMATS[path.suffix.lower()]
        frame = run.locations.reset_index()
        with atomic_output(path) as tmp:
            if fmt == "CSV":
                frame.drop(columns="geometry").to_csv(tmp, index=False, encoding="utf-8-sig")
            else:
                out = frame.to_crs("EPSG:4326") if fmt == "GeoJSON" else frame
                out.to_file(tmp, driver=fmt, layer="emerging_hot_spots" if fmt == "GPKG" else None,
                            engine="pyogrio")
    if "cube" in targets:
        from gridmap.warning.frames import write_cube

        with atomic_output(targets["cube"]) as tmp:
            write_cube(run.dataset(crs=crs), tmp)
