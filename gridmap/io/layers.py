"""Importing layer files (communities, streets, districts, compounds, roads ...) into the store.

Every import is atomic and loses nothing: rows that pass are written in one transaction; every rejected row is
reported with its reason (:class:`ImportResult`). With ``on_error='abort'`` any bad row stops the import and
nothing is written. Re-importing rows whose keys are already stored reports them as duplicates. ``dry_run=True``
runs every step and check inside a transaction that is never committed: the result says what would be written
and what is wrong. Files are read by :func:`gridmap.io.vector.read_vector`.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap.crs import check_crs, parse_crs
from gridmap.errors import Problem, UsageError, ValidationError, message
from gridmap.io.topology import TopologyMode
from gridmap.io.validate import check_rows, implausible_rows
from gridmap.io.vector import GEOMETRY_FIELDS, read_vector, require_crs

__all__ = ["ImportResult", "TopologyMode", "prepare", "import_frame", "import_file", "import_outline"]

log = logging.getLogger(__name__)

#: Steps :func:`import_file` / :func:`import_frame` report to their ``progress`` callback.
_STEPS = 3


@dataclass
class ImportResult:
    """What an import did: rows written and rows rejected (each with its reason), plus what was noticed.

    ``dry_run`` imports write nothing: ``would_write`` says how many rows a real run would write.
    """

    layer: str
    written: int = 0
    rejected: list[Problem] = field(default_factory=list)
    dry_run: bool = False
    would_write: int = 0
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    assigned_codes: list[tuple[object, str]] = field(default_factory=list)
    join: Any = None
    topology: Any = None
    read: int | None = None

    @property
    def rejected_rows(self) -> int:
        """How many rows were rejected (a row with several problems counts once)."""
        return len({str(p.row) for p in self.rejected})

    def by_reason(self) -> list[tuple[str, int]]:
        """Rejected rows grouped by their first reason, most frequent first (counts add up to ``rejected_rows``)."""
        from gridmap.errors import group_reasons

        return group_reasons(self.rejected)

    @property
    def rejected_frame(self) -> pd.DataFrame:
        """The rejection report as a table: row, field, reason, value."""
        from gridmap.errors import plain_value

        return pd.DataFrame([{"row": p.row, "field": p.field, "reason": p.reason, "value": plain_value(p.value)}
                             for p in self.rejected], columns=["row", "field", "reason", "value"])

    def __str__(self) -> str:
        read = "" if self.read is None else f"{self.read} read: "
        if self.dry_run:
            s = f"{self.layer} (dry run, nothing written): {read}{self.would_write} would be written, " \
                f"{self.rejected_rows} rejected"
        else:
            s = f"{self.layer}: {read}{self.written} written, {self.rejected_rows} rejected"
        if self.rejected:
            s += "\nrejected rows by reason:"
            for reason, count in self.by_reason():
                s += f"\n  {count:>7}  {reason}"
        for p in self.rejected[:10]:
            s += f"\n  - {p}"
        if len(self.rejected) > 10:
            s += f"\n  ... and {len(self.rejected) - 10} more problem(s) (see the rejection report)"
        for n in self.notes:
            s += f"\nnote: {n}"
        if self.assigned_codes:
            s += "\nassigned codes: " + ", ".join(f"row {r} -> {c}" for r, c in self.assigned_codes[:20]) \
                + (" ..." if len(self.assigned_codes) > 20 else "")
        if self.join is not None:
            s += "\n" + "\n".join(self.join.lines())
        if self.topology is not None:
            s += "\n" + "\n".join(self.topology.lines())
        for w in self.warnings:
            s += f"\nwarning: {w}"
        return s


def prepare(layer: str, frame: gpd.GeoDataFrame, *, crs: Any, mapping: dict[str, str] | None = None,
            where: str = "input") -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Rename mapped fields, reproject into ``crs`` and split off bad rows; return (good rows, problems)."""
    from gridmap.store.schema import layer_spec

    layer_spec(layer)
    check_crs(frame, where=where)
    f = frame.rename(columns={src: dst for dst, src in (mapping or {}).items()})
    target = parse_crs(crs)
    if not f.crs.equals(target):
        f = f.to_crs(target)
    f, problems = check_rows(layer, f)
    bad = {p.row for p in problems}
    return f.loc[[i for i in f.index if i not in bad]], problems


def _boundary(store: Any, layer: str, frame: gpd.GeoDataFrame, boundary: Any, conn: Any) -> Any:
    """The outer outline for topology checks: a geometry, ``'parent'`` (stored parents) or a file."""
    import shapely

    if boundary is None or hasattr(boundary, "geom_type"):
        return boundary
    if isinstance(boundary, gpd.GeoDataFrame):
        return shapely.union_all(boundary.to_crs(store.crs).geometry.values)
    if str(boundary) == "parent":
        parent_layer, col = {"communities": ("streets", "street_code"), "streets": ("districts", "district_code"),
                             "compounds": ("communities", "community_code")}.get(layer, (None, None))
        if parent_layer is None or col not in frame.columns:
            raise ValidationError(f"no parent outline for {layer}", [Problem(None, col, "missing")],
                                  fix="pass a boundary file instead")
        codes = sorted({c for c in frame[col].dropna()})
        parents = store.read(parent_layer, where={"code": codes}, connection=conn)
        if parents.empty:
            raise ValidationError(f"the {parent_layer} of these {layer} are not in the store",
                                  [Problem(None, col, "not stored", ", ".join(codes[:5]))],
                                  fix=f"import the {parent_layer} first, or drop --boundary")
        return shapely.union_all(parents.geometry.values)
    outline = read_vector(boundary)
    return shapely.union_all(outline.to_crs(store.crs).geometry.values)


def import_frame(store: Any, layer: str, frame: gpd.GeoDataFrame, *, mapping: dict[str, str] | None = None,
                 mode: str = "append", on_error: str = "reject", where: str = "input", dry_run: bool = False,
                 table: pd.DataFrame | None = None, join_on: str = "code", table_key: str | None = None,
                 table_mapping: dict[str, str] | None = None, district: str | None = None,
                 assign_codes: bool = False, row_band_m: float = 500.0,
                 topology: str | TopologyMode = TopologyMode.OFF, boundary: Any = None,
                 snap_m: float = 0.5, max_sliver_m2: float | None = None, allow_implausible: bool = False,
                 limits: Any = None, progress: Callable[[int, int, str], None] | None = None) -> ImportResult:
    """Import a GeoDataFrame into ``store``: good rows written in one transaction, bad rows reported.

    ``on_error='reject'`` (default) writes the good rows and reports the rest; ``'abort'`` writes nothing if any
    row is bad (raising :class:`~gridmap.errors.ValidationError`). ``dry_run=True`` does everything but commit.
    Why 22 parameters and ~100 lines: the keyword-only options are the one public entry of a layer import
    (``gridmap import`` maps its flags onto them one to one) and the docstring documents each (the body is ~65
    lines); the steps are :func:`_apply_topology` and :func:`_row_problems`, then the store's own checks.

    Parameters
    ----------
    mapping : ``{our column: their column}``, matched ignoring case and full/half width.
    table, join_on, table_key, table_mapping : an attribute table (:func:`gridmap.io.tables.read_table`) joined
        by ``'code'`` or ``'name'`` on ``table_key``, bringing ``table_mapping`` columns (e.g.
        ``{'households': '户数'}``); unmatched keys are reported both ways.
    district : the 6-digit district every code must belong to.
    assign_codes : give features without a code the next free codes (:mod:`gridmap.io.admin_codes`).
    topology : ``'off'``, ``'report'`` (gaps and overlaps in the result) or ``'repair'`` (fix them; the import
        fails, writing nothing, if the repaired layer is not seamless).
    boundary : outline for the topology check: a shapely geometry, a GeoDataFrame, ``'parent'`` (the stored
        streets of communities, districts of streets) or a file path.
    snap_m, max_sliver_m2 : repair options (:func:`gridmap.io.topology.repair_topology`).
    allow_implausible : keep rows whose household or population counts are implausible (per community or
        compound, or per km² of its area: :data:`gridmap.io.validate.PLAUSIBILITY`), each with a warning,
        instead of rejecting them. Counts that are not whole numbers, negative or beyond 64 bits are always
        rejected.
    limits : :class:`gridmap.io.validate.PlausibilityLimits` for this layer instead of the defaults.
    """
    from gridmap.io.admin_codes import ASSIGNMENT_RULE, assign_codes as _assign, fill_parent_codes
    from gridmap.io.coordinates import zone_warnings
    from gridmap.io.mapping import resolve_mapping
    from gridmap.store.schema import layer_spec

    if on_error not in ("reject", "abort"):
        raise UsageError(message("on_error must be 'reject' or 'abort'", got=repr(on_error)))
    topology = TopologyMode(topology)
    layer_spec(layer)
    check_crs(frame, where=where)
    result = ImportResult(layer, dry_run=dry_run, read=len(frame))
    result.warnings += zone_warnings(frame, store.crs)
    for w in result.warnings:
        warnings.warn(w, stacklevel=2)
    geo_names = set(GEOMETRY_FIELDS)
    attr_map = {k: v for k, v in (mapping or {}).items() if k not in geo_names}
    resolved = resolve_mapping(attr_map, frame, where=where)
    f = frame.rename(columns={src: dst for dst, src in resolved.items()})
    if table is not None:
        from gridmap.io.tables import join_table

        f, result.join = join_table(f, table, on=join_on, table_key=table_key or join_on,
                                    columns=table_mapping or {}, where="table")
    f = f.to_crs(store.crs) if not f.crs.equals(store.crs) else f
    f, notes = fill_parent_codes(layer, f)
    result.notes += notes
    base_notes, base_warnings = list(result.notes), list(result.warnings)

    def plan(conn: Any, f: gpd.GeoDataFrame) -> tuple[list[Problem], gpd.GeoDataFrame]:
        """Codes, topology, validation against the store: (problems, rows to write). Run first in a read
        transaction, and again under the write lock only when there is something to write, so an import that
        writes nothing (a dry run, every row rejected) never takes the write lock or touches the store file."""
        result.notes[:], result.warnings[:] = base_notes, base_warnings
        result.assigned_codes, result.topology = [], None
        if assign_codes and layer in ("communities", "streets"):
            taken = store.read(layer, columns=["code"], connection=conn)["code"].tolist()
            f, result.assigned_codes = _assign(f, layer=layer, taken=taken, row_band_m=row_band_m)
            if result.assigned_codes:
                result.notes.append(ASSIGNMENT_RULE.format(band=row_band_m))
        if topology is not TopologyMode.OFF:
            f = _apply_topology(store, layer, f, conn, result, topology=topology, boundary=boundary, snap_m=snap_m,
                                max_sliver_m2=max_sliver_m2, where=where)
        good, problems = _row_problems(store, layer, f, conn, result, district=district,
                                       allow_implausible=allow_implausible, limits=limits, where=where)
        problems += store.validate(layer, good, mode=mode, connection=conn)
        if problems and on_error == "abort":
            raise ValidationError(f"{len(problems)} bad row(s) in {where}; nothing was imported", problems,
                                  fix="fix the rows, or import with on_error='reject' to keep the good ones")
        bad = {p.row for p in problems}
        return problems, good.loc[[i for i in good.index if i not in bad]]

    if progress:
        progress(1, _STEPS, f"check {len(f):,} rows")
    with store.reading() as conn:
        problems, keep = plan(conn, f)
    if not dry_run and (len(keep) or (mode == "replace" and not problems)):
        if progress:
            progress(2, _STEPS, f"write {len(keep):,} rows")
        with store.transaction() as conn:  # under the write lock, against the store as it is now
            problems, keep = plan(conn, f)
            result.written = store.write(layer, keep, mode=mode, connection=conn)
    elif dry_run:
        result.would_write = len(keep)  # nothing is written by a dry run
    if progress:
        progress(_STEPS, _STEPS, "done")
    result.rejected = sorted(problems, key=lambda p: (str(p.row), p.field or ""))
    log.info("imported %s from %s: %d written, %d rejected%s", layer, where, result.written, len(result.rejected),
             " (dry run)" if dry_run else "")
    return result


def _apply_topology(store: Any, layer: str, f: gpd.GeoDataFrame, conn: Any, result: ImportResult, *,
                    topology: TopologyMode, boundary: Any, snap_m: float, max_sliver_m2: float | None,
                    where: str) -> gpd.GeoDataFrame:
    """Report gaps and overlaps in ``result.topology``, or repair them (refusing a result that is not seamless)."""
    from gridmap.io.topology import check_seamless, find_topology_problems, repair_topology

    outline = _boundary(store, layer, f, boundary, conn)
    if topology is TopologyMode.REPORT:
        result.topology = find_topology_problems(f, boundary=outline)
    else:
        f, result.topology = repair_topology(f, boundary=outline, snap_m=snap_m, max_sliver_m2=max_sliver_m2)
        check = check_seamless(f, boundary=outline)
        result.notes.append(f"after repair: union differs from the outline by {check['relative_difference']:.2e}"
                            f" (relative), overlaps {check['overlap_m2']:.3g} m²")
        if not check["ok"]:
            raise ValidationError(f"the repaired {layer} of {where} are not seamless; nothing was imported",
                                  [Problem(None, "geometry", "; ".join(result.topology.lines(5)))],
                                  fix="raise --snap-m, drop --max-sliver-m2, or fix the large gaps by hand")
    return f


def _row_problems(store: Any, layer: str, f: gpd.GeoDataFrame, conn: Any, result: ImportResult, *,
                  district: str | None, allow_implausible: bool, limits: Any,
                  where: str) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Rows that pass every check before the store's own (values, plausibility, code hierarchy, table join) and
    the problems of the others."""
    from gridmap.io.admin_codes import check_hierarchy
    from gridmap.io.validate import CODE_DIGITS

    good, problems = prepare(layer, f, crs=store.crs, where=where)
    implausible = implausible_rows(layer, good, limits=limits)
    if allow_implausible:
        for p in implausible:
            w = f"row {p.row}, {p.field}: {p.reason}; kept because implausible values were allowed"
            result.warnings.append(w)
            log.warning("%s: %s", where, w)
    else:
        problems += [Problem(p.row, p.field, p.reason + "; check the digits and units, or import with "
                             "--allow-implausible (allow_implausible=True) if it is real", p.value)
                     for p in implausible]
    parent = CODE_DIGITS.get(layer, (None, None, None, None))[2]
    known = None
    if parent is not None:
        parent_layer = {"street_code": "streets", "district_code": "districts", "community_code": "communities"}[parent]
        known = store.read(parent_layer, columns=["code"], connection=conn)["code"].tolist()
    problems += [p for p in check_hierarchy(layer, good, district=district, known_parents=known)]
    if result.join is not None:
        problems += [p for p in result.join.problems if not isinstance(p.row, str)]
    bad = {p.row for p in problems}
    good = good.loc[[i for i in good.index if i not in bad]]
    return good, problems


def import_file(store: Any, layer: str, path: str | os.PathLike, *, file_layer: str | None = None,
                crs: Any = None, lonlat: str | None = None, encoding: str | None = None,
                mapping: dict[str, str] | str | os.PathLike | None = None, mode: str = "append",
                on_error: str = "reject", default_crs: Any = None, sheet: str | int | None = None,
                table: str | os.PathLike | pd.DataFrame | None = None, table_sheet: str | int | None = None,
                table_encoding: str | None = None, progress: Callable[[int, int, str], None] | None = None,
                **options: Any) -> ImportResult:
    """Read ``path`` (see :func:`read_vector`) and :func:`import_frame` it into ``layer``.

    ``progress(done, total, label)``, if given, is called at each step (read the file, check the rows against
    the store, write, done); the CLI draws a progress bar with it.

    ``mapping`` may be a dict, a ``--map`` string or a ``.toml`` file; ``table`` an ``.xlsx``/CSV path (or a
    DataFrame) joined as described in :func:`import_frame`, whose other keyword options pass through.

    Why 16 parameters: the reading options of ``gridmap import`` (file layer, CRS, lon/lat system, encodings,
    sheets, mapping, attribute table), keyword-only and one to one with its flags.
    """
    from gridmap.io.mapping import load_mapping
    from gridmap.store.schema import layer_spec

    layer_spec(layer)  # an unknown layer is reported before the file is read
    mapping = load_mapping(mapping)
    if progress:
        progress(0, _STEPS, f"read {Path(path).name}")
    frame = read_vector(path, layer=file_layer, crs=crs, lonlat=lonlat, encoding=encoding, default_crs=default_crs,
                        mapping=mapping, sheet=sheet)
    require_crs(frame, where=str(path))
    if table is not None and not isinstance(table, pd.DataFrame):
        from gridmap.io.tables import read_table

        table = read_table(table, sheet=table_sheet, encoding=table_encoding)
    result = import_frame(store, layer, frame, mapping=mapping, mode=mode, on_error=on_error, where=str(path),
                          table=table, progress=progress, **options)
    if frame.attrs.get("encoding"):
        result.notes.insert(0, f"text encoding: {frame.attrs['encoding']}")
    return result


def import_outline(store: Any, code: str, *, mode: str = "append", dry_run: bool = False) -> ImportResult:
    """Import district ``code``'s real outline from the optional ``geotool-cn`` package into ``districts``.

    The result's notes state the data's source and licence (learning and exchange only). Without the package,
    :class:`gridmap.io.outlines.OutlinesUnavailable` says how to install it.
    """
    from gridmap.io.outlines import district_outline

    frame = district_outline(code, crs=store.crs)
    result = import_frame(store, "districts", frame, mode=mode, dry_run=dry_run, where=f"geotool-cn {code}")
    result.notes += [f"area: {frame.area.iloc[0] / 1e6:.2f} km²", "source: " + frame.attrs["source"],
                     "licence: " + frame.attrs["licence"]]
    return result
