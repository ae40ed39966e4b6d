"""``gridmap map``: read layers from the store and write one self-contained offline HTML map."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from gridmap.cli._common import add_command

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = add_command(sub,
        "map", common, help="write an offline HTML map of the district, one street or one community",
        description="Write one self-contained HTML map (Leaflet inlined, no network needed to view it) of the "
                    "whole district, one street or one community: communities by size, unit cells, components, "
                    "complaint density; optionally early-warning hot spots and alerts, and split proposals. "
                    "Shared maps (default) never contain individual complaints.",
        epilog="Examples:\n"
               "  gridmap map -o district.html\n"
               "  gridmap map --street 110101001 -o street.html\n"
               "  gridmap map --community 110101001001 -o community.html\n"
               "  gridmap map --street 110101001 --warn-from 2025-06-01 --warn-to 2025-06-15 --keywords 漏雨\n"
               "  gridmap warn --from 2025-06-01 --to 2025-06-15 --geojson alerts.geojson\n"
               "  gridmap map --alerts alerts.geojson -o warning.html      # hot spots and alerts from a file\n"
               "  gridmap split propose 110101001001 --out plans\n"
               "  gridmap map --community 110101001001 --proposals plans/110101001001.gpkg -o split.html\n"
               "  gridmap map --street 110101001 --privacy internal -o internal.html\n"
               "  gridmap map --basemap gaode --online -o gaode.html   # overlays shifted to GCJ-02\n"
               "  gridmap map --basemap tianditu --online --tianditu-key KEY --embed-key -o tdt.html\n"
               "Run scripts/fetch_assets.sh once after set-up (it installs the map scripts from npm).")
    from gridmap.cli._outputs import add_overwrite, output_path

    p.add_argument("-o", "--output", type=output_path, default=Path("map.html"),
                   help="HTML file to write (a folder, e.g. maps/, gets map.html inside; created if missing)")
    add_overwrite(p)
    area = p.add_mutually_exclusive_group()
    area.add_argument("--street", metavar="CODE", help="9-digit street code (or street name); default: district")
    area.add_argument("--community", metavar="CODE", help="12-digit community code (or community name)")
    w = p.add_argument_group("early warning and planning layers")
    w.add_argument("--warn-from", metavar="DATE", help="run the early warning over [DATE, --warn-to) and draw "
                                                       "its hot spots and alerts")
    w.add_argument("--warn-to", metavar="DATE", help="end of the early-warning window (exclusive)")
    w.add_argument("--keywords", metavar="K1,K2", help="keyword watch list for --warn-from (e.g. 漏雨,渗水)")
    w.add_argument("--alerts", metavar="FILE", type=Path,
                   help="hot spots and alerts from a file (gridmap warn --geojson FILE, or any vector file)")
    w.add_argument("--proposals", metavar="FILE", type=Path,
                   help="split proposals from a file (gridmap split propose CODE --out DIR writes DIR/CODE.gpkg)")
    p.add_argument("--privacy", choices=["shared", "internal"], default="shared",
                   help="shared (default): aggregated complaint density only, areas under --min-count hidden; "
                        "internal: also complaint categories and text, marked 内部资料 (not for publication)")
    p.add_argument("--basemap", choices=["none", "osm", "tianditu", "gaode"], default="none",
                   help="background tiles (need --online; default none: the map works with no network). gaode "
                        "tiles are GCJ-02 and the overlays are shifted to match; tianditu needs --tianditu-key")
    p.add_argument("--tianditu-key", default=os.environ.get("GRIDMAP_TIANDITU_KEY"),
                   help="Tianditu key (tk); default $GRIDMAP_TIANDITU_KEY")
    p.add_argument("--embed-key", action="store_true",
                   help="allow the Tianditu key into a shared map (anyone with the file can read it; the page and "
                        "this command then warn)")
    p.add_argument("--online", action="store_true", help="allow an online basemap (tiles load when viewed)")
    p.add_argument("--min-count", type=int, default=3, help="hide areas with fewer complaints (shared maps)")
    p.add_argument("--title", help="title shown on the map")
    p.set_defaults(func=cmd_map)


def cmd_map(args: Any) -> int:
    from gridmap.cli._common import progress_bar
    from gridmap.errors import UsageError, message

    if bool(args.warn_from) != bool(args.warn_to):
        raise UsageError(message("--warn-from and --warn-to go together", got=f"--warn-from {args.warn_from} "
                                      f"--warn-to {args.warn_to}", fix="give both dates, e.g. --warn-from "
                                      "2025-06-01 --warn-to 2025-06-15"))
    if args.keywords and not args.warn_from:
        raise UsageError(message("--keywords needs --warn-from/--warn-to", got=f"--keywords {args.keywords}"))
    if args.basemap != "none" and not args.online:
        raise UsageError(message(f"--basemap {args.basemap} loads tiles from the internet when the map is viewed",
                                 got=f"--basemap {args.basemap} without --online",
                                 fix=f"add --online (gridmap map --basemap {args.basemap} --online ...), or use "
                                     "--basemap none (the default) for a map that needs no network"))
    with progress_bar(args, "map") as progress:
        return _build_and_write(args, progress)


def _build_and_write(args: Any, progress: Any) -> int:
    from gridmap.cli._common import open_store_from
    from gridmap.cli._outputs import resolve
    from gridmap.maps import EmptyLayerWarning, write_map
    from gridmap.maps.service import map_from_store
    from gridmap.outputs import atomic_output

    store = open_store_from(args, mode="read")
    target = resolve(args, args.output, store=store, inputs=(args.alerts, args.proposals), default_name="map.html",
                     option="-o")
    opts = dict(basemap=args.basemap, tianditu_key=args.tianditu_key, embed_key=args.embed_key,
                offline=not args.online, min_count=args.min_count)
    if args.title:
        opts["title"] = args.title
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        made = map_from_store(store, street=args.street, community=args.community, privacy=args.privacy,
                              warn_from=args.warn_from, warn_to=args.warn_to, keywords=args.keywords,
                              alerts=args.alerts, proposals=args.proposals, progress=progress, **opts)
    if made.warning is not None:
        for note in made.warning.notes:
            print(f"note: {note}", file=sys.stderr)
        print(f"early warning {args.warn_from} .. {args.warn_to}: {len(made.warning.alerts)} alert(s)")
    for wmsg in caught:
        if issubclass(wmsg.category, (UserWarning, EmptyLayerWarning)):
            print(f"warning: {wmsg.message}", file=sys.stderr)
    if progress:
        progress(3, 4, "write HTML")
    with atomic_output(target) as tmp:
        write_map(made.map, tmp)
    path = target
    if progress:
        progress(4, 4, "done")
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {made.privacy.value} map)")
    return 0
