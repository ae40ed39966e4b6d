"""City components (城市部件) in the store: import with cell assignment and coding, locate, search, nearest.

* :func:`import_components` reads CSV (lon/lat or x/y), GeoJSON, GeoPackage or Shapefile (or takes a
  GeoDataFrame), converts GCJ-02 / BD-09 lon/lat to WGS 84 and then to the store's CRS, assigns each component
  its unit cell, community, street and district, gives components without a code the next free serial of their
  class, and writes everything in one transaction. Bad rows (unknown class, malformed or duplicate code, no
  geometry, outside every cell ...) are rejected with their reason; nothing is half-written.
* :func:`locate` finds one component by its 8-digit code (in the default district) or 16-digit identifier;
  an unknown code raises :class:`~gridmap.errors.NotFoundError` with the nearest existing codes.
* :func:`search_components` filters by class (4 digits) or major class (2 digits), box, area and status;
  :func:`nearest_components` returns the k nearest to a lon/lat (SpatiaLite: ``SpatialIndex`` virtual table
  with a growing window; PostGIS: KNN ``<->``).

All lookups return GeoDataFrames in the store CRS with ``class_name``, ``major_name``, ``community_name``,
``street_name``, working-CRS ``x``/``y`` and WGS 84 ``lon``/``lat`` columns.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import warnings
import weakref
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text

from gridmap.codes import (MAX_SERIAL, Catalog, UnknownClassError, default_catalog, free_serial_count,
                           next_free_serials, parse_any_component_code, parse_component_code)
from gridmap.codes.areal import check_digits, check_district_code
from gridmap.crs import LonLatSystem, check_crs, to_working_xy
from gridmap.errors import CapacityError, CodeError, NotFoundError, Problem, UsageError, ValidationError, message
from gridmap.grid.assign import cell_codes
from gridmap.io import ImportResult, read_vector, require_crs
from gridmap.io.validate import LOST_DIGITS, lost_digits, normalise_code

__all__ = ["STATUSES", "ComponentImportResult", "import_components", "locate", "search_components",
           "nearest_components", "default_district", "check_status", "OutsideDistrictWarning"]

log = logging.getLogger(__name__)

#: Component status values (Chinese, as stored) and accepted English aliases.
STATUSES = {"完好": "完好", "破损": "破损", "丢失": "丢失", "废弃": "废弃", "移除": "移除",
            "intact": "完好", "damaged": "破损", "missing": "丢失", "abandoned": "废弃", "removed": "移除"}

_FIELDS = ["code", "district_code", "national_id", "class_code", "major", "serial", "name", "dept", "owner",
           "maintainer", "status", "initial_date", "change_date", "source", "remarks", "cell_code",
           "community_code", "street_code"]


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
                      same_point_m: float = 0.01) -> ComponentImportResult:
    """Import components, assigning cell / community / street and codes; one transaction.

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
    """
    if on_error not in ("reject", "abort"):
        raise UsageError(message("on_error must be 'reject' or 'abort'", got=repr(on_error)))
    if outside not in ("reject", "keep"):
        raise UsageError(message("outside must be 'reject' or 'keep'", got=repr(outside)))
    cat = catalog or default_catalog()
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
    bad: dict[Any, Problem] = {}
    for col in ("code", "district_code", "national_id", "class_code"):
        if col in f.columns:
            f[col] = pd.Series([_none(normalise_code(v)) for v in f[col].tolist()], index=f.index, dtype=object)
        else:
            f[col] = pd.Series([None] * len(f), index=f.index, dtype=object)
    if district_code is not None:
        district_code = check_district_code(district_code)
    for col in ("code", "national_id", "class_code", "district_code"):  # Excel's 1.10101E+15: never completed
        for label in f.index[f[col].map(lost_digits).astype(bool).to_numpy()]:
            _problem(bad, label, col, LOST_DIGITS, f.at[label, col])
    # geometry
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
    # codes and classes
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
    f["district_code"] = [d or district_code for d in district_out]
    if "status" in f.columns:
        norm = f["status"].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                               else STATUSES.get(str(v).strip().lower(), STATUSES.get(str(v).strip(), "?")))
        for label in f.index[norm == "?"]:
            _problem(bad, label, "status", "unknown status (完好, 破损, 丢失, 废弃, 移除)", f.at[label, "status"])
        f["status"] = norm.where(norm != "?", None)
    result = ComponentImportResult("components", read=len(f))
    with store.transaction() as conn:
        # cells: read only those under the components, assign
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
        # duplicates: codes inside the input and against the store, same class at the same point without code
        coded = f[f["serial"].notna() & ~f.index.isin(list(bad))]
        key = coded["district_code"].astype(str) + "/" + coded["class_code"].astype(str) + \
            coded["serial"].astype("Int64").astype(str)
        for lab in coded.index[key.duplicated(keep="first").to_numpy()]:
            _problem(bad, lab, "code", "duplicate code inside the input", key[lab])
        existing = _existing_codes(store, conn, f["district_code"].dropna().unique())
        for lab, d, c, s in zip(coded.index, coded["district_code"], coded["class_code"], coded["serial"]):
            if f"{c}{int(s):04d}" in existing.get(d, set()):
                _problem(bad, lab, "code", "code already in the store", f"{d}/{c}{int(s):04d}")
        uncoded = f[f["serial"].isna() & ~f.index.isin(list(bad))]
        if len(uncoded):
            for lab, other in _same_point(uncoded, uncoded, same_point_m, earlier_only=True):
                _problem(bad, lab, "geometry", "duplicate: same class at the same point as an earlier row",
                         f"row {other}")
        # ... and against the components already stored
        rest = f[~f.index.isin(list(bad))]
        if len(rest):
            stored = store.read("components", bbox=tuple(rest.total_bounds + np.array([-1, -1, 1, 1]) * same_point_m),
                                columns=["code", "district_code", "class_code"], connection=conn)
            if len(stored):
                stored.index = stored["district_code"].astype(str) + "/" + stored["code"].astype(str)
                for lab, other in _same_point(rest, stored, same_point_m):
                    _problem(bad, lab, "geometry", "duplicate: same class at the same point as stored component "
                             f"{other}", f"{rest.at[lab, 'class_code']}")
        # serials for the rest
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
        good = f[~f.index.isin(list(bad))].copy()
        good["code"] = [f"{c}{int(s):04d}" for c, s in zip(good["class_code"], good["serial"])]
        good["major"] = good["class_code"].str[:2]
        good["national_id"] = [f"{d}{c[:4]}{int(c[4:]):06d}" for d, c in zip(good["district_code"], good["code"])]
        if "name" not in good.columns:
            good["name"] = None
        good["name"] = [n if isinstance(n, str) and n.strip() else cat.classes[c].name if c in cat.classes else None
                        for n, c in zip(good["name"], good["class_code"])]
        good = gpd.GeoDataFrame(good[[c for c in _FIELDS if c in good.columns] + ["geometry"]], geometry="geometry",
                                crs=store.crs)
        problems = list(bad.values()) + store.validate("components", good, mode="append", connection=conn)
        if problems and on_error == "abort":
            raise ValidationError(f"{len(problems)} bad component row(s) in {where}; nothing was imported", problems,
                                  fix="fix the rows, or import with on_error='reject' to keep the good ones")
        drop = {p.row for p in problems}
        keep = good[~good.index.isin(list(drop))]
        written = 0 if dry_run else store.write("components", keep, mode="append", connection=conn)
    result.written = written
    result.dry_run = dry_run
    result.would_write = len(keep) if dry_run else 0
    result.rejected = sorted(problems, key=lambda p: (str(p.row), p.field or ""))
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
    log.info("imported components from %s: %d written (%d newly coded), %d rejected; serials left: %s", where,
             written, len(kept), len(result.rejected),
             ", ".join(f"{r['class_code']} {r['left']}" for r in touched) or "-")
    return result


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


def _existing_codes(store: Any, conn: Any, districts: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for d in districts:
        rows = conn.execute(text("SELECT code FROM components WHERE district_code = :d"), {"d": str(d)})
        out[str(d)] = {r[0] for r in rows}
    return out


# -- lookups ---------------------------------------------------------------------------------------------

_DEFAULT_DISTRICT: "weakref.WeakKeyDictionary[Any, str | None]" = weakref.WeakKeyDictionary()


def default_district(store: Any, *, connection: Any = None, required: bool = True) -> str | None:
    """The district 8-digit codes refer to: ``$GRIDMAP_DISTRICT``, else the store's only district (districts
    layer, else components). Several districts and no setting: :class:`~gridmap.errors.NotFoundError`."""
    env = os.environ.get("GRIDMAP_DISTRICT")
    if env:
        return check_district_code(env)
    if store in _DEFAULT_DISTRICT:
        found = _DEFAULT_DISTRICT[store]
    else:
        found = None
        candidates: list[str] = []
        with (store.engine.connect() if connection is None else contextlib.nullcontext(connection)) as conn:
            for sql in ("SELECT code FROM districts ORDER BY code LIMIT 2",
                        "SELECT DISTINCT district_code FROM components ORDER BY district_code LIMIT 2"):
                candidates = [r[0] for r in conn.execute(text(sql))]
                if candidates:
                    break
        if len(candidates) == 1:
            found = candidates[0]
            _DEFAULT_DISTRICT[store] = found
        elif len(candidates) > 1:
            if required:
                raise NotFoundError("the store holds several districts; an 8-digit code needs one",
                                    suggestions=candidates, fix="pass district_code= (CLI: --district) or set "
                                                                "$GRIDMAP_DISTRICT, or use the 16-digit identifier")
            return None
    if found is None and required:
        raise NotFoundError("no district known for 8-digit codes (the store has no districts or components)",
                            fix="import the district, pass district_code= (CLI: --district), or use the 16-digit "
                                "identifier")
    return found


@contextlib.contextmanager
def _read_only(store: Any) -> Any:
    """A connection for single read-only lookups. On PostGIS it runs in autocommit: no BEGIN/ROLLBACK round trips
    around the one SELECT (a third of a lookup's latency); the pool restores the isolation level on return."""
    with store.engine.connect() as conn:
        if store.backend == "postgis":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


_SELECT = ("SELECT c.id, " + ", ".join(f"c.{c}" for c in _FIELDS) +
           ", m.name AS community_name, s.name AS street_name, ST_X(c.geom) AS x, ST_Y(c.geom) AS y "
           "FROM components c LEFT JOIN communities m ON m.code = c.community_code "
           "LEFT JOIN streets s ON s.code = c.street_code ")


_TO_WGS84: dict[int, Any] = {}


def _lonlat(store: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Working CRS -> WGS 84 with a transformer cached per SRID (lookups must stay well under a millisecond)."""
    tr = _TO_WGS84.get(store.srid)
    if tr is None:
        from pyproj import Transformer

        tr = _TO_WGS84[store.srid] = Transformer.from_crs(store.crs, "EPSG:4326", always_xy=True)
    return tr.transform(x, y)


_DATE_COLUMNS = ["initial_date", "change_date"]
#: Result columns, in order (``extra`` columns go before ``geometry``).
_RESULT_COLUMNS = [*_FIELDS, "community_name", "street_name", "class_name", "major_name", "x", "y", "lon", "lat"]


def _dates(values: list[Any]) -> np.ndarray:
    try:
        return np.array([np.datetime64("NaT") if v is None else np.datetime64(v) for v in values],
                        dtype="datetime64[ns]")
    except (ValueError, TypeError):  # anything numpy does not parse: let pandas try
        return pd.to_datetime(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype="datetime64[ns]")


def _frame(rows: list[Any], store: Any, catalog: Catalog | None,
           extra: dict[str, Any] | None = None) -> gpd.GeoDataFrame:
    """Rows of ``_SELECT`` as a GeoDataFrame.

    A lookup returns one row, so the fixed cost of building the frame is most of its latency: the frame is
    assembled from three typed blocks (text/integers as objects, coordinates as floats, dates) and the geometry,
    without per-column type inference (``pandas.api.internals.create_dataframe_from_blocks``).
    """
    names = [*_FIELDS, "community_name", "street_name"]
    cat = catalog or default_catalog()
    n = len(rows)
    raw = {name: [r[j] for r in rows] for j, name in enumerate(names, start=1)}
    cls = raw["class_code"]
    raw["class_name"] = [cat.classes[c].name if c in cat.classes else None for c in cls]
    raw["major_name"] = [cat.majors[c[:2]][0] if isinstance(c, str) and c[:2] in cat.majors else None for c in cls]
    raw["serial"] = [None if v is None else int(v) for v in raw["serial"]]
    x = np.array([r[-2] for r in rows], dtype=float)
    y = np.array([r[-1] for r in rows], dtype=float)
    lon, lat = _lonlat(store, x, y) if n else (np.array([]), np.array([]))
    floats = {"x": x, "y": y, "lon": np.asarray(lon, dtype=float), "lat": np.asarray(lat, dtype=float)}
    extra_cols = {k: np.asarray(v) for k, v in (extra or {}).items()}
    columns = [*_RESULT_COLUMNS, *extra_cols, "geometry"]
    where = {c: i for i, c in enumerate(columns)}
    obj_names = [c for c in columns if c not in floats and c not in _DATE_COLUMNS and c != "geometry"
                 and c not in extra_cols]
    obj = np.empty((len(obj_names), n), dtype=object)
    for i, c in enumerate(obj_names):
        obj[i, :] = raw[c]
    geometry = gpd.array.from_shapely(shapely.points(x, y), crs=store.crs)
    blocks = [(obj, np.array([where[c] for c in obj_names])),
              (np.vstack([floats[c] for c in floats]) if n else np.empty((4, 0)),
               np.array([where[c] for c in floats])),
              (np.vstack([_dates(raw[c]) for c in _DATE_COLUMNS]) if n else np.empty((2, 0), dtype="datetime64[ns]"),
               np.array([where[c] for c in _DATE_COLUMNS]))]
    blocks += [(v.reshape(1, -1), np.array([where[k]])) for k, v in extra_cols.items()]
    blocks.append((geometry, np.array([where["geometry"]])))
    try:
        from pandas.api.internals import create_dataframe_from_blocks

        df = create_dataframe_from_blocks(blocks, index=pd.RangeIndex(n), columns=_column_index(tuple(columns)))
        # geopandas' own hook for frames made from a block manager (what slicing a GeoDataFrame uses)
        out = _GDF_TEMPLATE._constructor_from_mgr(df._mgr, df._mgr.axes)
        if isinstance(out, gpd.GeoDataFrame) and getattr(out, "_geometry_column_name", None) == "geometry":
            return out
    except (ImportError, AttributeError, TypeError, ValueError):  # other pandas/geopandas versions
        pass
    cols = {c: obj[i] for i, c in enumerate(obj_names)}
    cols.update(floats)
    cols.update({c: _dates(raw[c]) for c in _DATE_COLUMNS})
    cols.update(extra_cols)
    cols["geometry"] = geometry
    return gpd.GeoDataFrame({c: cols[c] for c in columns}, geometry="geometry")


_GDF_TEMPLATE = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=None))


@functools.lru_cache(maxsize=8)
def _column_index(columns: tuple[str, ...]) -> pd.Index:
    return pd.Index(list(columns), dtype=object)


def locate(store: Any, code: str, *, district_code: str | None = None,
           catalog: Catalog | None = None) -> gpd.GeoDataFrame:
    """The component with this 8-digit code (in ``district_code`` or the default district) or 16-digit identifier.

    Returns a one-row GeoDataFrame (columns of the components layer plus ``class_name``, ``major_name``,
    ``community_name``, ``street_name``, ``x``, ``y``, ``lon``, ``lat``). A malformed code raises
    :class:`~gridmap.errors.CodeError`; a well-formed code that is not stored raises
    :class:`~gridmap.errors.NotFoundError` whose ``suggestions`` are the nearest stored codes.
    """
    d, cc = parse_any_component_code(code.strip() if isinstance(code, str) else code,
                                     district_code=district_code, catalog=catalog, check_class=False)
    d = d or default_district(store)
    with _read_only(store) as conn:
        rows = conn.execute(text(_SELECT + "WHERE c.district_code = :d AND c.code = :c"),
                            {"d": d, "c": cc.code}).fetchall()
        if not rows:
            suggestions = _suggest(conn, d, cc.code, catalog)
    if not rows:
        cat = catalog or default_catalog()
        known = cc.class_code in cat.classes
        what = (f"no component {cc.code} in district {d}" if known else
                f"no component {cc.code} in district {d} (class {cc.class_code} is not in the catalog)")
        raise NotFoundError(what, suggestions=suggestions,
                            fix="check the code on the component's plate; `gridmap components --class "
                                f"{cc.class_code}` lists the stored ones")
    return _frame(rows, store, catalog)


def _suggest(conn: Any, district: str, code: str, catalog: Catalog | None, n: int = 6) -> list[str]:
    """Stored codes one edit away (one digit changed, two neighbours swapped), then same-class nearest serials."""
    variants: list[str] = []
    for i in range(8):
        for dgt in "0123456789":
            if dgt != code[i]:
                variants.append(code[:i] + dgt + code[i + 1:])
    for i in range(7):
        if code[i] != code[i + 1]:
            variants.append(code[:i] + code[i + 1] + code[i] + code[i + 2:])
    names = {f"v{i}": v for i, v in enumerate(variants)}
    sql = ("SELECT code FROM components WHERE district_code = :d AND code IN ("
           + ", ".join(":" + k for k in names) + ") ORDER BY code")
    found = [r[0] for r in conn.execute(text(sql), {"d": district, **names})]
    serial = int(code[4:])
    below = conn.execute(text("SELECT code FROM components WHERE district_code = :d AND class_code = :c "
                              "AND serial < :s ORDER BY serial DESC LIMIT 2"),
                         {"d": district, "c": code[:4], "s": serial}).fetchall()
    above = conn.execute(text("SELECT code FROM components WHERE district_code = :d AND class_code = :c "
                              "AND serial > :s ORDER BY serial LIMIT 2"),
                         {"d": district, "c": code[:4], "s": serial}).fetchall()
    near = [r[0] for r in below] + [r[0] for r in above]
    out = list(dict.fromkeys(found[: n - 2] + near + found[n - 2:]))[:n]
    if not out:
        cat = catalog or default_catalog()
        if code[:4] not in cat.classes:
            out = ["class " + s for s in cat.suggest(code[:4], n=3)]
    return out


def _class_filter(class_code: str | None, catalog: Catalog | None) -> dict[str, str]:
    if class_code is None:
        return {}
    cat = catalog or default_catalog()
    text_code = check_digits(str(class_code).strip(), (2, 4), label="class code",
                             fix="use a 4-digit class (0101) or a 2-digit major class (01)")
    if len(text_code) == 2:
        return {"major": cat.check_major(text_code)}
    return {"class_code": cat.check(text_code)}


def check_status(status: object) -> str:
    """A component status (Chinese or English) as stored (Chinese); an unknown one is a usage error listing the
    valid values.

    >>> check_status("damaged"), check_status(" 破损 ")
    ('破损', '破损')
    """
    from gridmap.errors import UsageError

    key = str(status).strip()
    found = STATUSES.get(key.lower(), STATUSES.get(key))
    if found is None:
        valid = ", ".join(f"{zh} {en}" for en, zh in STATUSES.items() if en.isascii())
        raise UsageError(message("unknown component status", where="--status", got=repr(status),
                                 fix=f"use one of {valid} (Chinese or English)"))
    return found


def search_components(store: Any, *, class_code: str | None = None,
                      bbox: tuple[float, float, float, float] | None = None, area: Any = None,
                      status: str | None = None, district_code: str | None = None,
                      catalog: Catalog | None = None, limit: int | None = None) -> gpd.GeoDataFrame:
    """Components by class (``'0101'``) or major class (``'01'``), box (store CRS), area (polygon or
    GeoDataFrame/GeoSeries, in the store CRS) and status, ordered by code."""
    where = _class_filter(class_code, catalog)
    if status is not None:
        where["status"] = check_status(status)
    if district_code is not None:
        where["district_code"] = check_district_code(district_code)
    shape = None
    if area is not None:
        if isinstance(area, (gpd.GeoDataFrame, gpd.GeoSeries)):
            check_crs(area, where="area", expected=store.crs)
            shape = shapely.union_all(np.asarray(area.geometry.values if isinstance(area, gpd.GeoDataFrame)
                                                 else area.values, dtype=object))
        else:
            shape = area
        b = shapely.bounds(shape)
        bbox = tuple(b) if bbox is None else (max(b[0], bbox[0]), max(b[1], bbox[1]), min(b[2], bbox[2]),
                                              min(b[3], bbox[3]))
    found = store.read("components", where=where or None, bbox=bbox)
    if shape is not None and len(found):
        found = found[shapely.covers(shape, found.geometry.values)]
    found = found.sort_values(["district_code", "code"]).reset_index(drop=True)
    if limit is not None:
        found = found.iloc[: int(limit)]
    cat = catalog or default_catalog()
    found["class_name"] = [cat.classes[c].name if c in cat.classes else None for c in found["class_code"]]
    if len(found):
        lon, lat = _lonlat(store, shapely.get_x(found.geometry.values), shapely.get_y(found.geometry.values))
    else:
        lon = lat = np.array([])
    found["lon"], found["lat"] = lon, lat
    log.info("component search: %d found", len(found))
    return found


def nearest_components(store: Any, lon: float | None = None, lat: float | None = None, *, k: int = 5,
                       class_code: str | None = None, lonlat: "str | LonLatSystem" = LonLatSystem.WGS84,
                       xy: tuple[float, float] | None = None, catalog: Catalog | None = None) -> gpd.GeoDataFrame:
    """The ``k`` components nearest to ``(lon, lat)`` (declared in ``lonlat``) or to ``xy`` in the store CRS.

    Returns a GeoDataFrame sorted by ``distance_m`` (ties by code).
    """
    if xy is not None:
        x, y = float(xy[0]), float(xy[1])
    else:
        if lon is None or lat is None:
            raise ValidationError("nearest_components needs lon and lat (or xy=)",
                                  [Problem(None, "lon/lat", "missing")], fix="e.g. --lon 116.397 --lat 39.909")
        from gridmap.crs import check_lonlat_order

        check_lonlat_order([lon], [lat], where="nearest")
        xs, ys = to_working_xy([lon], [lat], crs=store.crs, system=lonlat)
        x, y = float(xs[0]), float(ys[0])
    k = int(k)
    if k < 1:
        raise ValidationError("k must be at least 1", [Problem(None, "k", "too small", k)])
    flt = _class_filter(class_code, catalog)
    cond = "".join(f" AND c.{col} = :{col}" for col in flt)
    with _read_only(store) as conn:
        if store.backend == "postgis":
            ids = [r[0] for r in conn.execute(text(
                f"SELECT c.id FROM components c WHERE TRUE{cond} "
                f"ORDER BY c.geom <-> ST_SetSRID(ST_MakePoint(:x, :y), {int(store.srid)}) LIMIT :k"),
                {"x": x, "y": y, "k": k + 8, **flt})]  # KNN index scan (no secondary key); ties sorted below
        else:
            ids = _spatialite_nearest(conn, x, y, k, cond, flt, int(store.srid))
        if not ids:
            return _frame([], store, catalog, {"distance_m": []})
        marks = {f"i{j}": v for j, v in enumerate(ids)}
        rows = conn.execute(text(_SELECT + "WHERE c.id IN (" + ", ".join(":" + m for m in marks) + ")"),
                            marks).fetchall()
    out = _frame(rows, store, catalog)
    out["distance_m"] = np.hypot(out["x"].to_numpy(dtype=float) - x, out["y"].to_numpy(dtype=float) - y)
    out = out.sort_values(["distance_m", "code"]).head(k).reset_index(drop=True)
    outside = _outside_district(store, x, y)
    if outside is not None:
        where = f"lon/lat ({lon}, {lat})" if xy is None else f"x/y ({x}, {y})"
        msg = (f"the point {where} is outside the district ({outside}); the nearest component is "
               f"{_km(float(out['distance_m'].iloc[0]))} away: check the coordinates (lon/lat order, --lonlat "
               "gcj02/bd09 for Amap/Baidu points)")
        out.attrs["warning"] = msg
        warnings.warn(msg, OutsideDistrictWarning, stacklevel=2)
    return out


class OutsideDistrictWarning(UserWarning):
    """A query point that lies outside every district (street, community, cell) of the store."""


def _km(m: float) -> str:
    return f"{m / 1000:,.1f} km" if m >= 1000 else f"{m:,.0f} m"


def _outside_district(store: Any, x: float, y: float) -> str | None:
    """``None`` when the store's outline (districts, else streets, communities or cells) covers the point, else a
    short reason with the distance to the outline where it is cheap to know."""
    pt = shapely.Point(x, y)
    for layer, label in (("districts", "district"), ("streets", "street"), ("communities", "community"),
                         ("cells", "unit cell")):
        if not store.count(layer):
            continue
        hit = store.read(layer, bbox=(x - 1, y - 1, x + 1, y + 1), columns=["code"])
        if len(hit) and shapely.covers(np.asarray(hit.geometry.values, dtype=object), pt).any():
            return None
        if layer == "cells":
            return f"no {label} covers it"
        whole = store.read(layer, columns=["code"])
        gap = float(np.min(shapely.distance(np.asarray(whole.geometry.values, dtype=object), pt)))
        if gap < 0.01:  # on the outline
            return None
        return f"{_km(gap)} from the nearest {label}"
    return None


def _spatialite_nearest(conn: Any, x: float, y: float, k: int, cond: str, flt: dict[str, str],
                        srid: int) -> list[int]:
    """k nearest through the SpatialIndex virtual table: grow a square window until k points lie within its
    inscribed circle (so nothing outside the window can be nearer)."""
    if conn.execute(text("SELECT 1 FROM components LIMIT 1")).first() is None:
        return []
    r = 100.0
    while True:
        rows = conn.execute(text(
            "SELECT c.id, ST_X(c.geom), ST_Y(c.geom), c.code FROM components c WHERE c.id IN (SELECT rowid FROM "
            "SpatialIndex WHERE f_table_name = 'components' AND f_geometry_column = 'geom' AND search_frame = "
            f"BuildMbr(:x0, :y0, :x1, :y1, {srid})){cond}"),
            {"x0": x - r, "y0": y - r, "x1": x + r, "y1": y + r, **flt}).fetchall()
        if rows:
            arr = np.array([(row[1], row[2]) for row in rows], dtype=float)
            d = np.hypot(arr[:, 0] - x, arr[:, 1] - y)
            if (d <= r).sum() >= k or r > 2e6:
                order = np.lexsort(([row[3] for row in rows], d))[:k]
                return [rows[i][0] for i in order]
        elif r > 2e6:
            return []
        r *= 4
