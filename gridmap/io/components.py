"""Importing city components (城市部件): cell assignment and coding, in one transaction.

:func:`import_components` reads CSV (lon/lat or x/y), GeoJSON, GeoPackage or Shapefile (or takes a GeoDataFrame),
converts GCJ-02 / BD-09 lon/lat to WGS 84 and then to the store's CRS, assigns each component its unit cell,
community, street and district, gives components without a code the next free serial of their class, and writes
everything in one transaction. Bad rows (unknown class, malformed or duplicate code, no geometry, outside every
cell ...) are rejected with their reason; nothing is half-written. Finding stored components (locate, search,
nearest) is :mod:`gridmap.store.components`; the code scheme is :mod:`gridmap.codes.components`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.codes import (MAX_SERIAL, Catalog, UnknownClassError, default_catalog, free_serial_count,
                           next_free_serials, parse_any_component_code)
from gridmap.codes.areal import check_district_code
from gridmap.codes.components import STATUSES
from gridmap.crs import LonLatSystem, check_crs
from gridmap.errors import CapacityError, CodeError, Problem, UsageError, ValidationError, message
from gridmap.grid.assign import cell_codes
from gridmap.io.layers import ImportResult
from gridmap.io.vector import read_vector, require_crs
from gridmap.io.validate import LOST_DIGITS, lost_digits, normalise_code
from gridmap.store.components import FIELDS, default_district, existing_codes

__all__ = ["ComponentImportResult", "import_components"]

log = logging.getLogger(__name__)

#: Steps :func:`import_components` reports to its ``progress`` callback.
_STEPS = 4


@dataclass
class ComponentImportResult(ImportResult):
    """:class:`~gridmap.io.ImportResult` plus the codes given to components that had none, and how many serials
    remain in each class the import touched (``serials_left``: district_code, class_code, used, left)."""

    new_codes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["row", "code", "national_id"]))
    serials_left: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["district_code", "class_code", "used", "left"]))

    def __str__(self) -> str:
        s = super().__str__()
        if len(self.serials_left):
            after = "would remain" if self.dry_run else "remain"
            s += f"\nserials that {after} per class (of {MAX_SERIAL:,}): " + ", ".join(
                f"{r.district_code}/{r.class_code} {r.left:,}" for r in self.serials_left.itertuples())
        return s


# -- import ----------------------------------------------------------------------------------------------


def _none(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else v


def _problem(rows: dict[Any, Problem], label: Any, fieldname: str, reason: str, value: Any = None) -> None:
    rows.setdefault(label, Problem(label, fieldname, reason, value))


def import_components(store: Any, source: "str | os.PathLike | gpd.GeoDataFrame", *,
                      lonlat: "str | LonLatSystem | None" = None, crs: Any = None, file_layer: str | None = None,
                      encoding: str | None = None, mapping: dict[str, str] | None = None,
                      district_code: str | None = None, catalog: Catalog | None = None, on_error: str = "reject",
                      outside: str = "reject", reuse_gaps: bool = True, dry_run: bool = False,
                      same_point_m: float = 0.01,
                      progress: Callable[[int, int, str], None] | None = None) -> ComponentImportResult:
    """Import components, assigning cell / community / street and codes; one transaction.

    The steps, each a function of this module: read and normalise (:func:`_read_components`,
    :func:`_normalise`), code (:func:`_code_rows`), place on cells (:func:`_place_on_cells`), check duplicates
    (:func:`_check_duplicates`), number the uncoded (:func:`_assign_serials`), write (:func:`_write`).

    Why 15 parameters and ~85 lines: the keyword-only options are the one public entry of the component import
    (``gridmap import components`` maps its flags onto them one to one) and the docstring documents each; the
    body is ~40 lines of calls to the steps above.

    Parameters
    ----------
    store : gridmap.store.Store
    source : path or GeoDataFrame
        CSV with lon/lat (or x/y with ``crs``) columns, GeoJSON, GeoPackage, Shapefile, or a GeoDataFrame.
    lonlat : 'wgs84' | 'cgcs2000' | 'gcj02' | 'bd09', optional
        Declared system of lon/lat input (Amap/Gaode data is GCJ-02, Baidu BD-09).
    crs : projected CRS of x/y input or of a file without one.
    mapping : {our_field: their_field}
    district_code : district of components given 8-digit codes when no cell tells it.
    on_error : 'reject' (default: write the good rows, report the others) or 'abort' (write nothing if any is bad).
    outside : 'reject' (default) components on no unit cell, or 'keep' them without a cell.
    reuse_gaps : give new components the lowest free serials of their class (default), so gaps below the highest
        serial (freed numbers, or one component coded 9999) are used; ``False`` continues after the highest
        serial and fails once 9999 is used. The result's ``serials_left`` says how many remain per class.
    dry_run : check, assign and report everything, write nothing (``would_write`` says how many would be written).
    same_point_m : a component of the same class as another (in the input or already stored) within this distance
        is a duplicate and rejected (default 0.01 m).
    progress : ``progress(done, total, label)``, called at each step (read, code, place and check, write, done);
        the CLI draws a progress bar with it.
    """
    step = progress or (lambda done, total, label: None)
    if on_error not in ("reject", "abort"):
        raise UsageError(message("on_error must be 'reject' or 'abort'", got=repr(on_error)))
    if outside not in ("reject", "keep"):
        raise UsageError(message("outside must be 'reject' or 'keep'", got=repr(outside)))
    cat = catalog or default_catalog()
    step(0, _STEPS, "read")
    f, where = _read_components(store, source, lonlat=lonlat, crs=crs, file_layer=file_layer, encoding=encoding,
                                mapping=mapping)
    bad: dict[Any, Problem] = {}
    if district_code is not None:
        district_code = check_district_code(district_code)
    step(1, _STEPS, f"code {len(f):,} components")
    _normalise(f, bad)
    _code_rows(f, bad, cat)
    f["district_code"] = [d or district_code for d in f["district_code"]]
    _check_status(f, bad)
    result = ComponentImportResult("components", read=len(f))
    checked, checked_bad = f, dict(bad)

    def plan(conn: Any, *, write: bool) -> tuple:
        """Cells, duplicates, serials and the store's checks on a fresh copy (and the write when ``write``).
        Run first in a read transaction, and again under the write lock only when there is something to write,
        so an import that writes nothing (a dry run, every row rejected, --strict refusing) never takes the
        write lock or touches the store file."""
        g, g_bad = checked.copy(), dict(checked_bad)
        _place_on_cells(store, conn, g, g_bad, outside=outside, district_code=district_code)
        existing = _check_duplicates(store, conn, g, g_bad, same_point_m=same_point_m)
        new_rows = _assign_serials(g, g_bad, existing, cat, reuse_gaps=reuse_gaps)
        keep, problems = _write(store, conn, g, g_bad, cat, on_error=on_error, dry_run=not write, where=where,
                                result=result)
        return g, existing, new_rows, keep, problems

    step(2, _STEPS, "place on cells, check duplicates")
    with store.reading() as conn:
        f, existing, new_rows, keep, problems = plan(conn, write=False)
    if not dry_run and len(keep):
        step(3, _STEPS, f"write {len(keep):,} components")
        with store.transaction() as conn:  # under the write lock, against the store as it is now
            f, existing, new_rows, keep, problems = plan(conn, write=True)
    step(_STEPS, _STEPS, "done")
    result.dry_run = dry_run
    result.would_write = len(keep) if dry_run else 0
    result.rejected = sorted(problems, key=lambda p: (str(p.row), p.field or ""))
    _summarise(result, f, keep, existing, new_rows, cat)
    log.info("imported components from %s: %d written (%d newly coded), %d rejected; serials left: %s", where,
             result.written, len(result.new_codes), len(result.rejected),
             ", ".join(f"{r.class_code} {r.left}" for r in result.serials_left.itertuples()) or "-")
    return result


def _read_components(store: Any, source: "str | os.PathLike | gpd.GeoDataFrame", *, lonlat: Any, crs: Any,
                     file_layer: str | None, encoding: str | None,
                     mapping: dict[str, str] | None) -> tuple[gpd.GeoDataFrame, str]:
    """Read ``source`` (or copy a frame), apply ``mapping`` and reproject into the store CRS; (frame, where)."""
    where = "input frame"
    if isinstance(source, gpd.GeoDataFrame):
        frame = source
    else:
        where = str(source)
        frame = read_vector(source, layer=file_layer, crs=crs, lonlat=lonlat, encoding=encoding)
        require_crs(frame, where=where)
    if mapping:
        frame = frame.rename(columns={src: dst for dst, src in mapping.items()})
    check_crs(frame, where=where)
    f = frame.to_crs(store.crs) if not frame.crs.equals(store.crs) else frame.copy()
    f = f.rename_geometry("geometry") if f.geometry.name != "geometry" else f
    return f, where


def _normalise(f: gpd.GeoDataFrame, bad: dict[Any, Problem]) -> None:
    """Code columns as text (Excel's lost digits rejected, never completed); geometry must be one point."""
    for col in ("code", "district_code", "national_id", "class_code"):
        if col in f.columns:
            f[col] = pd.Series([_none(normalise_code(v)) for v in f[col].tolist()], index=f.index, dtype=object)
        else:
            f[col] = pd.Series([None] * len(f), index=f.index, dtype=object)
    for col in ("code", "national_id", "class_code", "district_code"):  # Excel's 1.10101E+15: never completed
        for label in f.index[f[col].map(lost_digits).astype(bool).to_numpy()]:
            _problem(bad, label, col, LOST_DIGITS, f.at[label, col])
    geoms = np.asarray(f.geometry.values, dtype=object)
    missing = shapely.is_missing(geoms)
    for i in np.flatnonzero(missing):
        _problem(bad, f.index[i], "geometry", "no coordinates")
    present = np.flatnonzero(~missing)
    kinds = shapely.get_type_id(geoms[present])
    for i in present[kinds != 0]:
        _problem(bad, f.index[i], "geometry", "a component is a point", geoms[i].geom_type)
    for i in present[(kinds == 0)][shapely.is_empty(geoms[present[kinds == 0]])]:
        _problem(bad, f.index[i], "geometry", "no coordinates")


def _code_rows(f: gpd.GeoDataFrame, bad: dict[Any, Problem], cat: Catalog) -> None:
    """Class, serial and district of each row from its code / national_id / class_code / district_code (which
    must agree); ``district_code`` is left ``None`` where no column tells it."""
    cls_out, serial_out, district_out = [], [], []
    for label, code, nid, cls, dist in zip(f.index, f["code"].tolist(), f["national_id"].tolist(),
                                           f["class_code"].tolist(), f["district_code"].tolist()):
        c_cls = c_serial = c_dist = None
        try:
            given = nid or code
            if given is not None:
                d, cc = parse_any_component_code(given, catalog=cat)
                if code is not None and nid is not None and cc.code != code:
                    raise CodeError(f"code {code} and national_id {nid} disagree")
                c_cls, c_serial, c_dist = cc.class_code, cc.serial, d
            if cls is not None:
                cls = cat.check(cls)
                if c_cls is not None and c_cls != cls:
                    raise CodeError(f"class_code {cls} does not match the code's class {c_cls}")
                c_cls = cls
            if c_cls is None:
                raise CodeError("no class: give class_code (e.g. 0101) or a code")
            if dist is not None:
                dist = check_district_code(dist)
                if c_dist is not None and c_dist != dist:
                    raise CodeError(f"district_code {dist} does not match the identifier's district {c_dist}")
                c_dist = dist
        except UnknownClassError as exc:
            _problem(bad, label, "class_code", exc.reason, cls or code or nid)
        except CodeError as exc:
            _problem(bad, label, "code", exc.reason, code or nid or cls)
        cls_out.append(c_cls)
        serial_out.append(c_serial)
        district_out.append(c_dist)
    f["class_code"] = cls_out
    f["serial"] = pd.array(serial_out, dtype="Int64")
    f["district_code"] = district_out


def _check_status(f: gpd.GeoDataFrame, bad: dict[Any, Problem]) -> None:
    """Status as stored (Chinese); an unknown one rejects the row."""
    if "status" in f.columns:
        norm = f["status"].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                               else STATUSES.get(str(v).strip().lower(), STATUSES.get(str(v).strip(), "?")))
        for label in f.index[norm == "?"]:
            _problem(bad, label, "status", "unknown status (完好, 破损, 丢失, 废弃, 移除)", f.at[label, "status"])
        f["status"] = norm.where(norm != "?", None)


def _place_on_cells(store: Any, conn: Any, f: gpd.GeoDataFrame, bad: dict[Any, Problem], *, outside: str,
                    district_code: str | None) -> None:
    """Cell, community, street and district of each row (reading only the cells under the components)."""
    ok = [lab for lab in f.index if lab not in bad]
    for column in ("cell_code", "community_code", "street_code"):
        f[column] = None
    if ok:
        pts = f.loc[ok]
        cells = store.read("cells", bbox=tuple(pts.total_bounds + np.array([-1, -1, 1, 1])),
                           columns=["code", "community_code", "ix", "iy"], connection=conn)
        if len(cells):
            codes = cell_codes(shapely.get_x(pts.geometry.values), shapely.get_y(pts.geometry.values), cells)
            for column in ("cell_code", "community_code", "street_code"):
                f.loc[ok, column] = codes[column].to_numpy(dtype=object)
        if outside == "reject":
            for lab in pts.index[pd.isna(f.loc[ok, "cell_code"]).to_numpy()]:
                _problem(bad, lab, "geometry", "outside every unit cell" + ("" if len(cells) else
                         " (the store has no cells here: build them first)"))
    cell_district = [c[:6] if isinstance(c, str) else None for c in f["cell_code"]]
    fallback = district_code or default_district(store, connection=conn, required=False)
    dists = []
    for lab, d, cd in zip(f.index, f["district_code"], cell_district):
        if d is not None and cd is not None and d != cd and lab not in bad:
            _problem(bad, lab, "district_code", f"component of district {d} lies in a cell of district {cd}", d)
        dists.append(d or cd or fallback)
    f["district_code"] = dists
    for lab in f.index[f["district_code"].isna()]:
        _problem(bad, lab, "district_code", "district unknown: no cell and no district_code")


def _check_duplicates(store: Any, conn: Any, f: gpd.GeoDataFrame, bad: dict[Any, Problem], *,
                      same_point_m: float) -> dict[str, set[str]]:
    """Reject codes used twice in the input or already stored, and components of one class at one point (in
    the input or against the store); return the stored codes of the input's districts."""
    coded = f[f["serial"].notna() & ~f.index.isin(list(bad))]
    key = coded["district_code"].astype(str) + "/" + coded["class_code"].astype(str) + \
        coded["serial"].astype("Int64").astype(str)
    for lab in coded.index[key.duplicated(keep="first").to_numpy()]:
        _problem(bad, lab, "code", "duplicate code inside the input", key[lab])
    existing = existing_codes(conn, f["district_code"].dropna().unique())
    for lab, d, c, s in zip(coded.index, coded["district_code"], coded["class_code"], coded["serial"]):
        if f"{c}{int(s):04d}" in existing.get(d, set()):
            _problem(bad, lab, "code", "code already in the store", f"{d}/{c}{int(s):04d}")
    uncoded = f[f["serial"].isna() & ~f.index.isin(list(bad))]
    if len(uncoded):
        for lab, other in _same_point(uncoded, uncoded, same_point_m, earlier_only=True):
            _problem(bad, lab, "geometry", "duplicate: same class at the same point as an earlier row",
                     f"row {other}")
    rest = f[~f.index.isin(list(bad))]  # ... and against the components already stored
    if len(rest):
        stored = store.read("components", bbox=tuple(rest.total_bounds + np.array([-1, -1, 1, 1]) * same_point_m),
                            columns=["code", "district_code", "class_code"], connection=conn)
        if len(stored):
            stored.index = stored["district_code"].astype(str) + "/" + stored["code"].astype(str)
            for lab, other in _same_point(rest, stored, same_point_m):
                _problem(bad, lab, "geometry", "duplicate: same class at the same point as stored component "
                         f"{other}", f"{rest.at[lab, 'class_code']}")
    return existing


def _assign_serials(f: gpd.GeoDataFrame, bad: dict[Any, Problem], existing: dict[str, set[str]], cat: Catalog, *,
                    reuse_gaps: bool) -> list[tuple[Any, str]]:
    """The next free serials of their class for the good rows without a code; (row, new 8-digit code) pairs."""
    new_rows = []
    todo = f[f["serial"].isna() & ~f.index.isin(list(bad))]
    for (d, c), grp in todo.groupby(["district_code", "class_code"], sort=True):
        used = existing.get(d, set()) | {f"{cc}{int(s):04d}" for cc, s, dd in
                                         zip(f["class_code"], f["serial"], f["district_code"])
                                         if dd == d and cc == c and not pd.isna(s)}
        try:
            serials = next_free_serials(used, c, len(grp), reuse_gaps=reuse_gaps, catalog=cat)
        except CapacityError as exc:
            for lab in grp.index:
                _problem(bad, lab, "code", exc.reason, c)
            continue
        f.loc[grp.index, "serial"] = serials
        new_rows += [(lab, f"{c}{s:04d}") for lab, s in zip(grp.index, serials)]
    return new_rows


def _write(store: Any, conn: Any, f: gpd.GeoDataFrame, bad: dict[Any, Problem], cat: Catalog, *, on_error: str,
           dry_run: bool, where: str, result: ComponentImportResult) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Complete the good rows (code, major, national id, name), validate them against the store and write
    (unless ``dry_run``); return (rows kept, every problem)."""
    good = f[~f.index.isin(list(bad))].copy()
    good["code"] = [f"{c}{int(s):04d}" for c, s in zip(good["class_code"], good["serial"])]
    good["major"] = good["class_code"].str[:2]
    good["national_id"] = [f"{d}{c[:4]}{int(c[4:]):06d}" for d, c in zip(good["district_code"], good["code"])]
    if "name" not in good.columns:
        good["name"] = None
    good["name"] = [n if isinstance(n, str) and n.strip() else cat.classes[c].name if c in cat.classes else None
                    for n, c in zip(good["name"], good["class_code"])]
    good = gpd.GeoDataFrame(good[[c for c in FIELDS if c in good.columns] + ["geometry"]], geometry="geometry",
                            crs=store.crs)
    problems = list(bad.values()) + store.validate("components", good, mode="append", connection=conn)
    if problems and on_error == "abort":
        raise ValidationError(f"{len(problems)} bad component row(s) in {where}; nothing was imported", problems,
                              fix="fix the rows, or import with on_error='reject' to keep the good ones")
    drop = {p.row for p in problems}
    keep = good[~good.index.isin(list(drop))]
    result.written = 0 if dry_run else store.write("components", keep, mode="append", connection=conn)
    return keep, problems


def _summarise(result: ComponentImportResult, f: gpd.GeoDataFrame, keep: gpd.GeoDataFrame,
               existing: dict[str, set[str]], new_rows: list[tuple[Any, str]], cat: Catalog) -> None:
    """The result's ``serials_left`` (per district and class the input touched) and ``new_codes``."""
    kept = [(lab, c) for lab, c in new_rows if lab in keep.index]
    touched = []
    pairs = sorted({(d, c) for d, c in zip(f["district_code"], f["class_code"])
                    if isinstance(d, str) and isinstance(c, str) and c in cat.classes})
    for d, c in pairs:
        codes = existing.get(d, set()) | set(keep.loc[keep["district_code"] == d, "code"])
        left = free_serial_count(codes, c, catalog=cat)
        touched.append({"district_code": d, "class_code": c, "used": MAX_SERIAL - left, "left": left})
    result.serials_left = pd.DataFrame(touched, columns=["district_code", "class_code", "used", "left"])
    result.new_codes = pd.DataFrame({"row": [lab for lab, _ in kept], "code": [c for _, c in kept],
                                     "national_id": [keep.at[lab, "national_id"] for lab, _ in kept]})


def _same_point(rows: gpd.GeoDataFrame, others: gpd.GeoDataFrame, tol_m: float, *,
                earlier_only: bool = False) -> list[tuple[Any, Any]]:
    """(row label, label of the other) for rows with a component of the same class within ``tol_m``."""
    tree = shapely.STRtree(np.asarray(others.geometry.values, dtype=object))
    i, j = tree.query(np.asarray(rows.geometry.values, dtype=object), predicate="dwithin", distance=tol_m)
    same = rows["class_code"].to_numpy(dtype=object)[i] == others["class_code"].to_numpy(dtype=object)[j]
    if earlier_only:  # within one frame: a later row duplicates an earlier one
        same &= j < i
    i, j = i[same], j[same]
    out: dict[Any, Any] = {}
    for a, b in zip(i.tolist(), j.tolist()):
        out.setdefault(rows.index[a], others.index[b])
    return list(out.items())
