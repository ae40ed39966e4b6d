"""``gridmap info``, ``gridmap import``, ``gridmap export``: the store itself."""

from __future__ import annotations

import argparse
from pathlib import Path

from gridmap.cli._common import (add_command, add_import_contract, add_json_option, add_rejects_option,
                                 import_exit_code, import_summary, open_store_from, print_json, print_table,
                                 progress_bar)
from gridmap.cli._outputs import add_overwrite, output_path, report_paths, str_or_none, write_csv


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    _add_info(sub, common)
    _add_import(sub, common)
    _add_export(sub, common)


def _add_info(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """``gridmap info``."""
    p = add_command(sub, "info", common, help="layers, feature counts, CRS and backend of the store",
                         description="Show what the store holds: every layer with its feature count, the working "
                                     "CRS and the backend.",
                         epilog="Examples:\n"
                                "  gridmap info\n"
                                "  gridmap --db postgresql://u@127.0.0.1/gm info --json")
    add_json_option(p, "the store, CRS and feature counts")
    p.set_defaults(func=cmd_info)


def _add_import(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """``gridmap import LAYER FILE``."""
    p = add_command(sub,
        "import", common, help="import a layer from a file, rejecting bad rows with reasons",
        description="Import districts, streets, communities, compounds, roads, cells, components or complaints "
                    "from GeoPackage, Shapefile (UTF-8 or GBK, with or without .cpg), GeoJSON, CSV or Excel "
                    "(lon/lat, x/y or WKT), optionally joining an Excel/CSV attribute table by code or name. Good "
                    "rows are written in one transaction; every rejected row is reported with its reason. "
                    "`gridmap import districts 110101` loads that district's real outline from the optional "
                    "geotool-cn package.",
        epilog="Examples:\n"
               "  gridmap import communities sq.shp --map code=SQDM,street_code=JDDM,name=SQMC,households=HS\n"
               "  gridmap import communities sq.shp --map sq.toml --table hs.xlsx --join-on name \\\n"
               "      --table-key 社区名称 --table-map households=户数 --assign-codes --topology report --dry-run\n"
               "  gridmap import communities sq.shp --src-crs EPSG:4548     # a .prj-less Shapefile\n"
               "  gridmap import communities sq.shp --src-crs beijing_local.prj --encoding GBK\n"
               "  gridmap import communities sq.gpkg --repair --boundary parent   # seamless within the streets\n"
               "  gridmap import complaints calls.csv --lonlat gcj02 --rejects rejected.csv\n"
               "  gridmap import components covers.csv --lonlat gcj02   # cells, community, street, next free codes\n"
               "  gridmap import districts 110101                # real outline (pip install geotool-cn)")
    p.add_argument("layer", help="target layer: districts, streets, communities, compounds, roads, cells, "
                                 "components, complaints (singular works too)")
    p.add_argument("file", help="input file; for districts also a 6-digit district code (outline from geotool-cn)")
    p.add_argument("--file-layer", help="layer inside a GeoPackage with several")
    p.add_argument("--sheet", help="sheet of an Excel input file (default: the first)")
    p.add_argument("--map", dest="mapping", metavar="OURS=THEIRS,...|FILE.toml",
                   help="field mapping, e.g. code=SQDM,name=SQMC,households=HS, or a TOML file with a [fields] table")
    p.add_argument("--lonlat", choices=["wgs84", "cgcs2000", "gcj02", "bd09"],
                   help="lon/lat input in this system (GCJ-02/BD-09 are converted to WGS 84)")
    p.add_argument("--src-crs", dest="src_crs", metavar="CRS",
                   help="CRS of the file (EPSG code, WKT text, or a .prj/.wkt file); overrides the file's. Without "
                        "it, --crs also declares the CRS of a file that has none")
    p.add_argument("--encoding", help="attribute encoding, e.g. GBK (default: .cpg, else detected UTF-8/GBK)")
    t = p.add_argument_group("attribute table (Excel or CSV)")
    t.add_argument("--table", type=Path, metavar="XLSX|CSV", help="join this table's columns onto the features")
    t.add_argument("--table-sheet", help="sheet of the table (default: the first)")
    t.add_argument("--join-on", choices=["code", "name"], default="code",
                   help="match by code or by normalised name (suffixes 社区居委会/社区/村委会 ... ignored)")
    t.add_argument("--table-key", help="the table's key column (default: same as --join-on)")
    t.add_argument("--table-map", metavar="OURS=THEIRS,...", help="table columns to bring, e.g. households=户数")
    c = p.add_argument_group("codes and topology")
    c.add_argument("--district", metavar="CODE", help="every code must belong to this 6-digit district")
    c.add_argument("--assign-codes", action="store_true",
                   help="give features without a code the next free codes in their street (reading order)")
    c.add_argument("--topology", choices=["off", "report", "repair"], default="off",
                   help="report gaps/overlaps between polygons, or repair them (seamless, verified)")
    c.add_argument("--repair", action="store_true", help="same as --topology repair")
    c.add_argument("--boundary", metavar="parent|FILE",
                   help="outer outline for gaps: 'parent' (stored streets/districts) or a file")
    c.add_argument("--snap-m", type=float, default=0.5, help="repair: snap vertices within this distance (0.5)")
    c.add_argument("--max-sliver-m2", type=float, help="repair: leave gaps larger than this as they are")
    p.add_argument("--units", metavar="FILE",
                   help="complaints: the known 承办单位 (one per line); a row dispatched to another unit is rejected")
    p.add_argument("--unknown-category", choices=["other", "reject"],
                   help="complaints: a category not in the catalog becomes 其他 with a warning (other, default) "
                        "or rejects the row (reject)")
    p.add_argument("--category-map", metavar="FILE.toml|FILE.csv",
                   help="complaints: your category values or text keywords -> catalog categories ([values] and "
                        "[keywords] tables, or CSV theirs,ours[,match]); the summary counts what fell into 其他 "
                        "(see docs/complaint-categories.md)")
    p.add_argument("--allow-implausible", action="store_true",
                   help="communities/compounds: keep rows whose households or population are implausible (more "
                        "than 100,000 households in a community, or 60,000 a km² of its area ...) with a warning "
                        "instead of rejecting them")
    p.add_argument("--dry-run", action="store_true", help="check everything and report; write nothing")
    p.add_argument("--replace", action="store_true", help="empty the layer first (same transaction)")
    p.add_argument("--abort-on-error", action="store_true", help="write nothing if any row is bad")
    add_rejects_option(p, "write the rejection report (row, field, reason, value) to this CSV (UTF-8 with BOM)")
    add_json_option(p, "the import summary (counts, rejections grouped by reason)")
    add_import_contract(p, tz=True)
    p.add_argument("--topology-report", type=output_path, metavar="CSV", help="write the gaps/overlaps table to this CSV")
    add_overwrite(p)
    p.set_defaults(func=cmd_import)


def _add_export(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """``gridmap export FILE``."""
    p = add_command(sub,
        "export", common, help="write layers to GeoPackage, GeoJSON, FlatGeobuf, GeoParquet or CSV",
        description="Export layers of the store to the format the output file's extension names: .gpkg "
                    "(GeoPackage 1.3, every layer as a table, working CRS), .geojson (one layer, EPSG:4326 as RFC "
                    "7946 requires), .fgb (FlatGeobuf, one layer, working CRS), .parquet/.geoparquet (GeoParquet, "
                    "one layer, working CRS), .csv (one layer, WKT geometry in EPSG:4326, UTF-8 with BOM for "
                    "Excel). Any other extension is refused; a one-layer format needs --layers NAME. The file is "
                    "written beside its target and renamed over it; it is never the store, and a GeoPackage that "
                    "gridmap did not write is replaced only with --overwrite.",
        epilog="Examples:\n"
               "  gridmap export all.gpkg                              # every non-empty layer, for QGIS\n"
               "  gridmap export comm.geojson --layers communities     # WGS 84 lon/lat (RFC 7946)\n"
               "  gridmap export cells.fgb --layers cells\n"
               "  gridmap export complaints.parquet --layers complaints\n"
               "  gridmap export components.csv --layers components --json")
    p.add_argument("output", type=output_path, metavar="FILE",
                   help="output file; its extension chooses the format (.gpkg, .geojson, .fgb, .parquet, "
                        ".geoparquet, .csv); a folder (ending in /) gets gridmap-export.gpkg inside")
    p.add_argument("--layers", metavar="L1,L2", help="comma-separated layers (default: all non-empty; exactly one "
                                                      "for .geojson/.fgb/.parquet/.csv)")
    add_json_option(p, "a summary of what was written")
    add_overwrite(p)
    p.set_defaults(func=cmd_export)


def cmd_info(args: argparse.Namespace) -> int:
    store = open_store_from(args, mode="read")
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
    import warnings

    from gridmap.io.mapping import parse_mapping

    from gridmap.errors import UsageError
    from gridmap.io.dispatch import import_any, layer_name

    layer = layer_name(args.layer)
    if layer == "components":  # cells, community, street and codes: the component import, not a raw layer write
        from gridmap.cli._imports import run_component_import

        args.file = Path(args.file)
        return run_component_import(args)
    if layer == "complaints":  # cells, community, street, category and de-duplication: the complaint import
        from gridmap.cli._imports import run_complaint_import

        return run_complaint_import(args)
    if getattr(args, "tz", None):
        raise UsageError(f"--tz cannot be used when importing {layer}",
                         fix="--tz is the zone of complaint times written without one; drop it")
    if getattr(args, "category_map", None):
        raise UsageError(f"--category-map cannot be used when importing {layer}",
                         fix="--category-map maps complaint categories; drop it")
    path = Path(args.file)
    from gridmap.cli._imports import open_import_store

    store, source_crs = open_import_store(args)  # importing a base layer may start a new store
    reports = report_paths(args, store, inputs=(path, args.table, args.boundary))
    mode = "replace" if args.replace else "append"
    with warnings.catch_warnings(), progress_bar(args, "import") as progress:
        warnings.simplefilter("ignore")  # the warnings are printed in the report below
        res = import_any(
            store, layer, path, progress=progress, file_layer=args.file_layer, crs=source_crs, default_crs=args.crs,
            lonlat=args.lonlat, encoding=args.encoding, mapping=args.mapping, sheet=args.sheet, mode=mode,
            on_error="abort" if args.abort_on_error or args.strict else "reject", dry_run=args.dry_run,
            table=args.table,
            table_sheet=args.table_sheet, join_on=args.join_on, table_key=args.table_key,
            table_mapping=parse_mapping(args.table_map), district=args.district,
            assign_codes=args.assign_codes, topology="repair" if args.repair else args.topology,
            boundary=args.boundary, snap_m=args.snap_m, max_sliver_m2=args.max_sliver_m2,
            allow_implausible=args.allow_implausible)
    if not args.json:
        print(res)
    if "rejects" in reports:
        write_csv(res.rejected_frame, reports["rejects"])
        if not args.json:
            print(f"rejection report: {reports['rejects']}")
    if "topology_report" in reports and res.topology is not None:
        write_csv(res.topology.table(), reports["topology_report"])
        if not args.json:
            print(f"topology report: {reports['topology_report']}")
    if args.json:
        print_json({**import_summary(res), "rejects_file": str_or_none(reports.get("rejects")),
                    "topology_report": str_or_none(reports.get("topology_report"))})
    return import_exit_code(read=res.read, accepted=res.would_write if res.dry_run else res.written,
                            rejected_rows=res.rejected_rows)


def cmd_export(args: argparse.Namespace) -> int:
    from gridmap.cli._outputs import resolve
    from gridmap.io.export import export_format, export_layers

    store = open_store_from(args, mode="read")
    # never the store (nor an input, nor a foreign GeoPackage without --overwrite); then the format its name says
    target = resolve(args, args.output, store=store, default_name="gridmap-export.gpkg", option="the export file")
    export_format(target)
    layers = [name.strip() for name in args.layers.split(",") if name.strip()] if args.layers else None
    with progress_bar(args, "export") as progress:
        res = export_layers(store, target, layers=layers, progress=progress)
    if args.json:
        print_json(res.to_dict())
    else:
        print(res)
    return 0
