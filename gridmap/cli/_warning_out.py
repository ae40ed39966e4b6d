"""The outputs of an early-warning report (``gridmap warn`` and ``gridmap events warn``): the alert table as CSV
and GeoJSON, the 回头看 list as CSV, the Markdown summary, and what is printed (JSON, Markdown or a table)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gridmap.cli._common import print_json, print_table

__all__ = ["add_warning_outputs", "warning_targets", "write_warning", "write_geojson"]

_FILES = (("csv", "--csv", "alerts.csv"), ("recheck_csv", "--recheck-csv", "recheck.csv"),
          ("geojson", "--geojson", "alerts.geojson"), ("md", "--md", "warning.md"))


def add_warning_outputs(p: argparse.ArgumentParser) -> None:
    """``--csv``, ``--recheck-csv``, ``--geojson``, ``--md`` and ``--overwrite``."""
    from gridmap.cli._outputs import add_overwrite, output_path

    p.add_argument("--csv", metavar="FILE", type=output_path, help="write the alert table as CSV (UTF-8 with BOM)")
    p.add_argument("--recheck-csv", metavar="FILE", type=output_path,
                   help="write the 回头看 re-check list (needs --keywords) as CSV (UTF-8 with BOM)")
    p.add_argument("--geojson", metavar="FILE", type=output_path,
                   help="write the alerts that have a geometry as GeoJSON (WGS 84)")
    p.add_argument("--md", metavar="FILE", type=output_path, help="write the Markdown summary")
    add_overwrite(p)


def warning_targets(args: argparse.Namespace, store: Any) -> dict[str, Any]:
    """The output files asked for, resolved against the open ``store`` (never the store itself)."""
    from gridmap.cli._outputs import resolve

    return {key: resolve(args, getattr(args, key), store=store, default_name=name, option=option)
            for key, option, name in _FILES if getattr(args, key, None)}


def write_geojson(frame: Any, target: Any) -> None:
    """A GeoDataFrame as GeoJSON in WGS 84, written beside ``target`` and renamed over it."""
    from gridmap.outputs import atomic_output

    with atomic_output(target) as tmp:
        frame.to_crs("EPSG:4326").to_file(tmp, driver="GeoJSON")


def write_warning(args: argparse.Namespace, rep: Any, targets: dict[str, Any]) -> None:
    """Write the files of ``targets`` and print the report of ``rep`` (a :class:`gridmap.warning.WarningReport`):
    ``--json`` the alert table and the 回头看 list, else the Markdown summary (or, with ``--md``, a short table)."""
    from gridmap.cli._outputs import write_csv
    from gridmap.outputs import write_text_atomic

    table = rep.alerts.drop(columns="geometry", errors="ignore")
    if "csv" in targets:
        write_csv(table, targets["csv"])
    if "recheck_csv" in targets:
        if not rep.keywords:
            print("no --keywords: the 回头看 re-check list is empty", file=sys.stderr)
        write_csv(rep.recheck, targets["recheck_csv"])
    if "geojson" in targets:
        has = rep.alerts.geometry.notna() & ~rep.alerts.geometry.is_empty \
            if "geometry" in rep.alerts.columns and len(rep.alerts) else None
        if has is not None and has.any():
            write_geojson(rep.alerts[has], targets["geojson"])
            if not has.all():
                print(f"{int((~has).sum())} alert(s) without a geometry not written to {args.geojson}",
                      file=sys.stderr)
        else:
            print("no alert geometry to write (no cells in the store, or no alerts)", file=sys.stderr)
    if "md" in targets:
        write_text_atomic(targets["md"], rep.markdown)
    if args.json:
        print_json({"from": str(rep.start.date()), "to": str(rep.end.date()), "notes": rep.notes,
                    "keywords": rep.keyword_counts.to_dict("records"),
                    "alerts": table.to_dict("records"), "recheck": rep.recheck.head(200).to_dict("records")})
    elif not args.md:
        print(rep.markdown)
    else:
        print_table(table[[c for c in ("kind_zh", "kind", "unit_type", "unit", "observed", "expected", "q")
                           if c in table.columns]])
