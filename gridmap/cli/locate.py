"""``gridmap locate``, ``gridmap nearest``, ``gridmap components``, ``gridmap import-components``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from gridmap.cli._common import (add_command, add_import_contract, add_json_option, add_rejects_option, open_store_from,
                                 print_json, print_table)
from gridmap.cli._outputs import add_overwrite, output_path

_SHOW = ["code", "class_code", "class_name", "name", "status", "cell_code", "community_name", "street_name",
         "lon", "lat"]


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, "locate", common, help="find a component by its 8- or 16-digit code",
                         description="Show one city component: class, status, coordinates (WGS 84 and working CRS), "
                                     "cell, community, street and departments. An unknown code lists the nearest "
                                     "stored codes.",
                         epilog="Examples:\n  gridmap locate 01010023\n  gridmap locate 1101010101000023 --json\n"
                                "  gridmap locate 01010023 --html cover.html")
    p.add_argument("code", help="8-digit code (class 4 + serial 4) in the default district, or 16-digit identifier")
    p.add_argument("--district", metavar="CODE", help="district of an 8-digit code (default: the store's only "
                                                      "district or $GRIDMAP_DISTRICT)")
    add_json_option(p, "the component record")
    p.add_argument("--html", type=output_path, metavar="FILE",
                   help="also write an offline map centred on the component")
    add_overwrite(p)
    p.set_defaults(func=cmd_locate)

    p = add_command(sub, "nearest", common, help="the k components nearest to a lon/lat",
                         description="The k city components nearest to a point given in lon/lat.",
                         epilog="Examples:\n"
                                "  gridmap nearest --lon 116.4075 --lat 39.9040\n"
                                "  gridmap nearest --lon 116.4138 --lat 39.9053 --lonlat gcj02 "
                                "--class 0101 -k 3 --json")
    p.add_argument("--lon", type=float, required=True, help="longitude of the point in degrees (east), e.g. 116.4075")
    p.add_argument("--lat", type=float, required=True, help="latitude of the point in degrees (north), e.g. 39.9040")
    p.add_argument("--lonlat", default="wgs84", choices=["wgs84", "cgcs2000", "gcj02", "bd09"],
                   help="system of --lon/--lat (Amap/Gaode: gcj02, Baidu: bd09)")
    p.add_argument("--class", dest="class_code", metavar="CLASS", help="class (0101) or major class (01)")
    p.add_argument("-k", type=int, default=5, help="how many (default 5)")
    add_json_option(p, "the components with their distance in metres")
    p.set_defaults(func=cmd_nearest)

    p = add_command(sub, "components", common, help="search components by class, box and status",
                         description="List stored components by class and area, or the component catalog.",
                         epilog="Examples:\n"
                                "  gridmap components --class 0101 --status 破损\n"
                                "  gridmap components --bbox 446000,4418000,447000,4419000 --limit 50 --json\n"
                                "  gridmap components --classes                 # the component catalog")
    p.add_argument("--class", dest="class_code", metavar="CLASS", help="class (0101) or major class (01)")
    p.add_argument("--bbox", metavar="XMIN,YMIN,XMAX,YMAX", help="box in the working CRS")
    p.add_argument("--status", help="完好, 破损, 丢失, 废弃, 移除 (or intact, damaged, missing, abandoned, removed)")
    p.add_argument("--limit", type=int, default=200, help="at most this many rows (default 200)")
    p.add_argument("--classes", action="store_true", help="list the component catalog instead")
    add_json_option(p, "the components (or the catalog)")
    p.set_defaults(func=cmd_components)

    p = add_command(sub, "import-components", common,
                         help="import components, assigning cells and codes (bad rows reported)",
                         description="Import city components from CSV (lon/lat or x/y), GeoJSON, GeoPackage or "
                                     "Shapefile: each gets its unit cell, community, street and, if it has no "
                                     "code, the lowest free serial of its class (the report says how many remain). One transaction.",
                         epilog="Examples:\n  gridmap import-components covers.csv --lonlat gcj02 --rejects bad.csv\n"
                                "  gridmap import-components bj.shp --map class_code=BJLX,code=BJBM")
    p.add_argument("file", type=Path, help="CSV (lon/lat or x/y columns), GeoJSON, GeoPackage or Shapefile")
    p.add_argument("--lonlat", choices=["wgs84", "cgcs2000", "gcj02", "bd09"],
                   help="system of lon/lat input (Amap/Gaode: gcj02, Baidu: bd09; converted to WGS 84)")
    p.add_argument("--src-crs", dest="src_crs", metavar="CRS", help="CRS of x/y input or of a file without one")
    p.add_argument("--file-layer", help="layer inside a GeoPackage with several")
    p.add_argument("--encoding", help="attribute encoding, e.g. GBK (default: .cpg, else detected UTF-8/GBK)")
    p.add_argument("--map", dest="mapping", metavar="OURS=THEIRS,...|FILE.toml",
                   help="field mapping, e.g. class_code=BJLX,code=BJBM, or a TOML file with a [fields] table")
    p.add_argument("--district", metavar="CODE", help="6-digit district of 8-digit codes when no cell tells it")
    p.add_argument("--keep-outside", action="store_true", help="keep components on no cell (without a cell code)")
    p.add_argument("--abort-on-error", action="store_true", help="write nothing if any row is bad")
    p.add_argument("--dry-run", action="store_true", help="check and report everything; write nothing")
    add_rejects_option(p, "write the rejection report (row, field, reason, value) to this CSV (UTF-8 with BOM)")
    add_json_option(p, "the import summary (counts, rejections grouped by reason, new codes)")
    add_overwrite(p)
    add_import_contract(p)
    p.set_defaults(func=cmd_import)


def _record(row: Any, store: Any) -> dict[str, Any]:
    def val(k: str) -> Any:
        v = row.get(k)
        return None if v is None or (pd.api.types.is_scalar(v) and pd.isna(v)) else v  # NaN, NaT, pd.NA

    return {
        "code": val("code"), "national_id": val("national_id"), "class_code": val("class_code"),
        "class_name": val("class_name"), "major_name": val("major_name"), "name": val("name"),
        "status": val("status"),
        "wgs84": {"lon": round(float(row["lon"]), 7), "lat": round(float(row["lat"]), 7)},
        "working_crs": {"crs": f"EPSG:{store.srid}", "x": round(float(row["x"]), 2), "y": round(float(row["y"]), 2)},
        "cell_code": val("cell_code"), "community_code": val("community_code"),
        "community_name": val("community_name"), "street_code": val("street_code"), "street_name": val("street_name"),
        "district_code": val("district_code"), "dept": val("dept"), "owner": val("owner"),
        "maintainer": val("maintainer"),
        "initial_date": None if val("initial_date") is None else str(row["initial_date"])[:10],
        "change_date": None if val("change_date") is None else str(row["change_date"])[:10],
        "remarks": val("remarks"),
    }


def cmd_locate(args: argparse.Namespace) -> int:
    from gridmap.store.components import locate

    store = open_store_from(args, mode="read")
    html = None
    if args.html:
        from gridmap.cli._outputs import resolve

        html = resolve(args, args.html, store=store, default_name=f"{args.code}.html", option="--html")
    found = locate(store, args.code, district_code=args.district)
    rec = _record(found.iloc[0], store)
    if args.json:
        print_json(rec)
    else:
        labels = [("部件编码 code", f"{rec['code']}  ({rec['national_id']})"),
                  ("类别 class", f"{rec['class_code']} {rec['class_name'] or ''} / {rec['major_name'] or ''}"),
                  ("名称 name", rec["name"]), ("状态 status", rec["status"]),
                  ("WGS 84", f"{rec['wgs84']['lon']:.6f}, {rec['wgs84']['lat']:.6f} (lon, lat)"),
                  (rec["working_crs"]["crs"], f"{rec['working_crs']['x']:.2f}, {rec['working_crs']['y']:.2f} (x, y)"),
                  ("单元网格 cell", rec["cell_code"]),
                  ("社区 community", f"{rec['community_code'] or ''} {rec['community_name'] or ''}"),
                  ("街道 street", f"{rec['street_code'] or ''} {rec['street_name'] or ''}"),
                  ("主管部门 dept", rec["dept"]), ("权属单位 owner", rec["owner"]),
                  ("养护单位 maintainer", rec["maintainer"])]
        for k, v in labels:
            print(f"{k:<22}{'' if v is None else v}")
    if html is not None:
        path = _write_html(store, found, html)
        if not args.json:
            print(f"map: {path}")
    return 0


def _write_html(store: Any, found: Any, path: Path) -> Path:
    """An offline map of the component, its cell and the components around it (gridmap.maps.service)."""
    from gridmap.maps import write_map
    from gridmap.maps.service import locate_map
    from gridmap.outputs import atomic_output

    with atomic_output(path) as tmp:
        write_map(locate_map(store, found), tmp)
    return path


def cmd_nearest(args: argparse.Namespace) -> int:
    from gridmap.store.components import nearest_components

    store = open_store_from(args, mode="read")
    near = nearest_components(store, args.lon, args.lat, k=args.k, class_code=args.class_code, lonlat=args.lonlat)
    if args.json:
        print_json([{**_record(r, store), "distance_m": round(float(r["distance_m"]), 2)} for _, r in near.iterrows()])
    else:
        t = near[["distance_m", *_SHOW]].copy()
        t["distance_m"] = t["distance_m"].round(1)
        print_table(t)
    return 0


def cmd_components(args: argparse.Namespace) -> int:
    from gridmap.codes import default_catalog
    from gridmap.store.components import search_components

    if args.classes:
        frame = default_catalog().to_frame()
        if args.json:
            print_json(frame.to_dict("records"))
        else:
            print_table(frame)
        return 0
    store = open_store_from(args, mode="read")
    bbox = None
    if args.bbox:
        from gridmap.errors import Problem, UsageError

        try:
            bbox = tuple(float(v) for v in args.bbox.split(","))
            assert len(bbox) == 4
        except (ValueError, AssertionError):
            raise UsageError("bad --bbox", [Problem(None, "--bbox", "expected XMIN,YMIN,XMAX,YMAX", args.bbox)],
                             fix="give four numbers in the working CRS") from None
        if not all(abs(v) < float("inf") for v in bbox) or bbox[0] > bbox[2] or bbox[1] > bbox[3]:
            raise UsageError("bad --bbox", [Problem(None, "--bbox", "XMIN must not exceed XMAX, nor YMIN YMAX "
                                            "(finite numbers)", args.bbox)],
                             fix="e.g. --bbox 448000,4418000,449000,4419000 (working CRS, metres)")
    found = search_components(store, class_code=args.class_code, bbox=bbox, status=args.status)
    if bbox is not None and found.empty:
        hint = _bbox_hint(store, bbox)
        if hint:
            print(hint, file=sys.stderr)
    total = len(found)
    found = found.iloc[: args.limit]
    if args.json:
        print_json([{k: (None if v != v else v) if isinstance(v, float) else v
                     for k, v in r.items() if k != "geometry"} for r in found.drop(columns="geometry")
                    .astype(object).to_dict("records")])
    else:
        print_table(found[[c for c in ("code", "class_code", "class_name", "status", "cell_code", "lon", "lat")]])
        if total > len(found):
            print(f"... {total - len(found)} more (raise --limit)")
    return 0


def _bbox_hint(store: Any, bbox: tuple[float, ...]) -> str | None:
    """Why a --bbox found nothing, when the box looks like lon/lat in a store whose working CRS is projected."""
    xmin, ymin, xmax, ymax = bbox
    if not store.crs.is_projected or not (all(-180 <= v <= 180 for v in (xmin, xmax))
                                          and all(-90 <= v <= 90 for v in (ymin, ymax))):
        return None
    from gridmap.crs import to_working_xy

    xs, ys = to_working_xy([xmin, xmax], [ymin, ymax], crs=store.crs, system="wgs84")
    box = ",".join(f"{v:.0f}" for v in (min(xs), min(ys), max(xs), max(ys)))
    return (f"gridmap components: hint: --bbox {','.join(f'{v:g}' for v in bbox)} looks like lon/lat, but --bbox is "
            f"in the working CRS EPSG:{store.srid} (metres); read as WGS 84 lon/lat, that box is --bbox {box}")


def cmd_import(args: argparse.Namespace) -> int:
    from gridmap.cli._imports import run_component_import

    return run_component_import(args)
