"""``gridmap map``: read layers from the store and write one self-contained offline HTML map."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "map", parents=[common], help="write an offline HTML map of the district or one street",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write one self-contained HTML map (Leaflet inlined, no network needed to view it) of the "
                    "whole district or of one street: communities by size, unit cells, components, complaint "
                    "density. Shared maps (default) never contain individual complaints.",
        epilog="Examples:\n"
               "  gridmap map -o district.html\n"
               "  gridmap map --street 110101001 -o street.html\n"
               "  gridmap map --street 110101001 --privacy internal -o internal.html\n"
               "  gridmap map --basemap gaode --online -o gaode.html   # overlays shifted to GCJ-02\n"
               "Run scripts/fetch_assets.sh once after set-up (it installs the map scripts from npm).")
    p.add_argument("-o", "--output", type=Path, default=Path("map.html"), help="HTML file to write")
    p.add_argument("--street", metavar="CODE", help="9-digit street code (or street name); default: district")
    p.add_argument("--privacy", choices=["shared", "internal"], default="shared")
    p.add_argument("--basemap", choices=["none", "osm", "tianditu", "gaode"], default="none")
    p.add_argument("--tianditu-key", default=os.environ.get("GRIDMAP_TIANDITU_KEY"),
                   help="Tianditu key (tk); default $GRIDMAP_TIANDITU_KEY")
    p.add_argument("--online", action="store_true", help="allow an online basemap (tiles load when viewed)")
    p.add_argument("--min-count", type=int, default=3, help="hide areas with fewer complaints (shared maps)")
    p.add_argument("--title", help="title shown on the map")
    p.set_defaults(func=cmd_map)


def cmd_map(args: Any) -> int:
    from gridmap.cli._common import open_store_from
    from gridmap.maps import district_map, street_map, write_map

    store = open_store_from(args)
    frames: dict[str, Any] = {}
    for layer in ("communities", "streets", "cells", "components", "complaints"):
        where = {"street_code": args.street} if args.street and layer in ("components", "complaints") \
            and args.street.isdigit() else None
        frame = store.read(layer, where=where)
        if layer == "complaints":
            frame = frame[["street_code", "category", "text", "geometry"]] if args.privacy == "internal" \
                else frame[["street_code", "geometry"]]
        frames[layer] = frame if len(frame) else None
    if frames["communities"] is None:
        from gridmap.errors import ValidationError

        raise ValidationError("the store has no communities to map", fix="import communities first "
                                                                          "(gridmap import communities FILE)")
    opts = dict(privacy=args.privacy, basemap=args.basemap, tianditu_key=args.tianditu_key,
                offline=not args.online, min_count=args.min_count)
    if args.title:
        opts["title"] = args.title
    if args.street:
        m = street_map(args.street, **frames, **opts)
    else:
        m = district_map(**frames, **opts)
    path = write_map(m, args.output)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0
