"""``gridmap info``, ``gridmap import``, ``gridmap export``: the store itself."""

from __future__ import annotations

import argparse
from pathlib import Path

from gridmap.cli._common import open_store_from, parse_mapping, print_json, print_table


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("info", parents=[common], help="layers, feature counts, CRS and backend of the store",
                       description="Show what the store holds: every layer with its feature count, the working "
                                   "CRS and the backend.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "import", parents=[common], help="import a layer from a file, rejecting bad rows with reasons",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Import districts, streets, communities, compounds, roads, cells, components or complaints "
                    "from GeoPackage, Shapefile, GeoJSON or CSV (lon/lat, x/y or WKT). Good rows are written in "
                    "one transaction; every rejected row is reported with its reason.",
        epilog="Examples:\n"
               "  gridmap import communities sq.shp --map code=SQDM,street_code=JDDM,name=SQMC,households=HS\n"
               "  gridmap import complaints calls.csv --lonlat gcj02 --rejects rejected.csv\n"
               "  gridmap import communities sq.shp --crs EPSG:4548   # a .prj-less Shapefile")
    p.add_argument("layer", help="target layer: districts, streets, communities, compounds, roads, cells, "
                                 "components, complaints")
    p.add_argument("file", type=Path)
    p.add_argument("--file-layer", help="layer inside a GeoPackage with several")
    p.add_argument("--map", dest="mapping", metavar="OURS=THEIRS,...", help="field mapping")
    p.add_argument("--lonlat", choices=["wgs84", "cgcs2000", "gcj02", "bd09"],
                   help="lon/lat input in this system (GCJ-02/BD-09 are converted to WGS 84)")
    p.add_argument("--src-crs", dest="src_crs", metavar="CRS",
                   help="CRS of the file when it has none (EPSG code or WKT); overrides the file's")
    p.add_argument("--encoding", help="attribute encoding, e.g. GBK for old Shapefiles")
    p.add_argument("--replace", action="store_true", help="empty the layer first (same transaction)")
    p.add_argument("--abort-on-error", action="store_true", help="write nothing if any row is bad")
    p.add_argument("--rejects", type=Path, metavar="CSV", help="write the rejection report to this CSV")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", parents=[common], help="write layers to a GeoPackage for QGIS",
                       description="Export layers of the store to a GeoPackage (one table per layer, EPSG of the "
                                   "store).")
    p.add_argument("gpkg", type=Path)
    p.add_argument("--layers", help="comma-separated layers (default: all non-empty)")
    p.set_defaults(func=cmd_export)


def cmd_info(args: argparse.Namespace) -> int:
    store = open_store_from(args)
    counts = store.counts()
    info = {"store": store.safe_url, "backend": store.backend, "crs": f"EPSG:{store.srid}", "layers": counts}
    if args.json:
        print_json(info)
    else:
        import pandas as pd

        from gridmap.store.schema import LAYERS

        print(f"{store.safe_url}  ({store.backend}, EPSG:{store.srid})")
        print_table(pd.DataFrame([{"layer": k, "图层": LAYERS[k].label_zh, "features": v} for k, v in counts.items()]))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from gridmap.io import import_file

    store = open_store_from(args)
    res = import_file(store, args.layer, args.file, file_layer=args.file_layer, crs=args.src_crs,
                      lonlat=args.lonlat, encoding=args.encoding, mapping=parse_mapping(args.mapping),
                      mode="replace" if args.replace else "append",
                      on_error="abort" if args.abort_on_error else "reject")
    print(res)
    if args.rejects:
        res.rejected_frame.to_csv(args.rejects, index=False, encoding="utf-8-sig")
        print(f"rejection report: {args.rejects}")
    return 0 if not res.rejected else 1


def cmd_export(args: argparse.Namespace) -> int:
    store = open_store_from(args)
    counts = store.counts()
    layers = args.layers.split(",") if args.layers else [k for k, v in counts.items() if v]
    for layer in layers:
        frame = store.read(layer)
        frame.to_file(args.gpkg, layer=layer, engine="pyogrio", driver="GPKG")
        print(f"{layer}: {len(frame)} features -> {args.gpkg}")
    return 0
