"""The import runners shared by several commands: ``gridmap import components`` and ``gridmap import-components``
run :func:`run_component_import`; ``gridmap import complaints`` and ``gridmap complaints import`` run
:func:`run_complaint_import`. Each checks the options, calls :func:`gridmap.io.dispatch.import_any` once and prints."""

from __future__ import annotations

import argparse
from typing import Any

from gridmap.cli._common import (import_exit_code, import_summary, open_store_from, print_json, progress_bar,
                                 reject_options)
from gridmap.cli._outputs import report_paths, str_or_none, write_csv
from gridmap.io.dispatch import import_any


#: Options of ``gridmap import`` that mean nothing for components (they are points coded by import_components).
_NOT_FOR_COMPONENTS = {"table": "--table", "boundary": "--boundary", "max_sliver_m2": "--max-sliver-m2",
                       "topology_report": "--topology-report", "sheet": "--sheet", "replace": "--replace",
                       "repair": "--repair", "allow_implausible": "--allow-implausible", "tz": "--tz",
                       "units": "--units", "category_map": "--category-map"}


def run_component_import(args: argparse.Namespace) -> int:
    """The component import behind both ``gridmap import-components`` and ``gridmap import components``."""
    from gridmap.io.mapping import load_mapping

    reject_options(args, _NOT_FOR_COMPONENTS, what="components",
                   fix="components are points: each gets its cell, community, street and (if it has none) the "
                       "next free code of its class; drop these options (see `gridmap import-components --help`)")
    store = open_store_from(args, mode="create")  # every import may start a store
    reports = report_paths(args, store, inputs=(args.file, args.mapping))
    with progress_bar(args, "components") as progress:
        res = import_any(store, "components", args.file, lonlat=args.lonlat, crs=args.src_crs,
                         file_layer=args.file_layer, encoding=args.encoding,
                         mapping=load_mapping(args.mapping) if args.mapping else None,
                         district_code=args.district,
                         outside="keep" if getattr(args, "keep_outside", False) else "reject",
                         on_error="abort" if args.abort_on_error or getattr(args, "strict", False) else "reject",
                         dry_run=getattr(args, "dry_run", False), progress=progress)
    as_json = getattr(args, "json", False)
    if not as_json:
        print(res)
        if len(res.new_codes):
            print(f"{len(res.new_codes)} component(s) got new codes")
    if "rejects" in reports:
        write_csv(res.rejected_frame, reports["rejects"])
        if not as_json:
            print(f"rejection report: {reports['rejects']}")
    if as_json:
        print_json({**import_summary(res), "rejects_file": str_or_none(reports.get("rejects"))})
    return import_exit_code(read=res.read, accepted=res.would_write if res.dry_run else res.written,
                            rejected_rows=res.rejected_rows)


_NOT_FOR_COMPLAINTS = {"table": "--table", "boundary": "--boundary", "max_sliver_m2": "--max-sliver-m2",
                       "topology_report": "--topology-report", "sheet": "--sheet", "replace": "--replace",
                       "repair": "--repair", "assign_codes": "--assign-codes", "district": "--district",
                       "file_layer": "--file-layer", "src_crs": "--src-crs", "abort_on_error": "--abort-on-error",
                       "allow_implausible": "--allow-implausible"}


def run_complaint_import(args: argparse.Namespace) -> int:
    """The complaint import behind both ``gridmap import complaints`` and ``gridmap complaints import``.

    Complaints get their cell, community and street from the stored cells (points outside every cell are
    rejected), categories from the catalog, timestamps in China Standard Time; rows already stored (same
    ``source_id``) are skipped, so re-importing a file adds nothing twice.
    """
    from gridmap.io.mapping import load_mapping

    reject_options(args, _NOT_FOR_COMPLAINTS, what="complaints",
                   fix="complaints are lon/lat points (CSV, JSON/Open311, GeoJSON): declare their system with "
                       "--lonlat wgs84|gcj02|bd09 and map columns with --map; drop these options (see "
                       "`gridmap complaints import --help`)")
    store = open_store_from(args, mode="create")  # every import may start a store
    reports = report_paths(args, store, inputs=(getattr(args, "file", None), getattr(args, "mapping", None)))
    options: dict = {}
    if getattr(args, "mapping", None):
        options["mapping"] = load_mapping(args.mapping)
    if getattr(args, "encoding", None):
        options["encoding"] = args.encoding
    if getattr(args, "units", None):  # known 承办单位: an unknown dispatched unit rejects its row
        from gridmap.io.handling import HandlingRules, read_units

        options["handling"] = HandlingRules(units=read_units(args.units))
    if getattr(args, "category_map", None):  # your values/keywords -> catalog categories (gridmap.io.categories)
        from gridmap.io.categories import load_category_map

        options["category_map"] = load_category_map(args.category_map)
    from gridmap.memory import bulk_allocators, gc_paused

    # (freed memory reused, not re-zeroed; no cycle collection over the rows' millions of objects)
    with progress_bar(args, "complaints") as progress, bulk_allocators(), gc_paused():
        res = import_any(store, "complaints", args.file, lonlat=args.lonlat or "wgs84",
                         unknown_category=getattr(args, "unknown_category", None) or "other",
                         dry_run=getattr(args, "dry_run", False),
                         tz=getattr(args, "tz", None) or "Asia/Shanghai",
                         on_error="abort" if getattr(args, "strict", False) else "reject",
                         progress=progress, **options)
    as_json = getattr(args, "json", False)
    if not as_json:
        print(res)
    if getattr(args, "dry_run", False) and not as_json:
        print(f"dry run: {res.accepted - res.already_stored} complaint(s) would be written; nothing was written")
    report = reports.get("rejects")
    if report:
        write_csv(res.report, report)
        if not as_json:
            print(f"rejection report: {report}")
    if as_json:
        summary = import_summary(res)
        summary["categories"] = getattr(res, "categories", None) or None
        if getattr(args, "dry_run", False):
            summary["dry_run"] = True
            summary["would_write"] = res.accepted - res.already_stored
        print_json({**summary, "rejects_file": str_or_none(report)})
    return import_exit_code(read=res.read, accepted=res.accepted, rejected_rows=res.rejected_rows)


def open_import_store(args: argparse.Namespace) -> tuple[Any, Any]:
    """The store ``gridmap import`` writes a base layer to (created if missing), and the CRS that overrides the
    file's (``crs=`` of :func:`gridmap.io.import_file`).

    ``--crs`` is the working CRS of a store the import creates, or the CRS of the existing store. When it cannot
    be the store's (the store exists in another CRS, or no store can use it: not projected in metres, or without
    an EPSG code) it names the file's CRS, as ``--src-crs`` does; ``--src-crs`` always does.
    """
    from gridmap.store import open_store
    from gridmap.store.probe import stored_srid

    if not args.crs or args.src_crs:
        return open_store_from(args, mode="create"), args.src_crs
    requested = _working_epsg(args.crs)
    if requested is not None and stored_srid(args.db) in (None, requested):
        return open_store_from(args, mode="create"), None
    return open_store(args.db), args.crs  # --crs names the file's CRS, not the (existing) store's


def _working_epsg(value: Any) -> int | None:
    """The EPSG code of ``value`` as a store's working CRS; None when no store can use it."""
    from gridmap.crs import working_crs
    from gridmap.errors import CRSError

    try:
        return working_crs(value).to_epsg()
    except CRSError:  # not a CRS, not projected, not in metres: a file's CRS, never a store's
        return None
