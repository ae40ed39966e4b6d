"""City components (城市部件) in the store: find one by its code, search, the nearest; the import's code lookups.

* :func:`locate` finds one component by its 8-digit code (in the default district) or 16-digit identifier;
  an unknown code raises :class:`~gridmap.errors.NotFoundError` with the nearest existing codes.
* :func:`search_components` filters by class (4 digits) or major class (2 digits), box, area and status;
  :func:`nearest_components` returns the k nearest to a lon/lat (SpatiaLite: ``SpatialIndex`` virtual table
  with a growing window; PostGIS: KNN ``<->``; the dialect SQL sits in :mod:`gridmap.store.spatialite` and
  :mod:`gridmap.store.postgis`).
* :func:`default_district` is the district 8-digit codes refer to; :func:`existing_codes` the stored codes of
  some districts (what :func:`gridmap.io.components.import_components` numbers new components after).

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
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text

from gridmap.codes import Catalog, default_catalog, parse_any_component_code
from gridmap.codes.areal import check_digits, check_district_code
from gridmap.codes.components import check_status
from gridmap.crs import LonLatSystem, check_crs, to_working_xy
from gridmap.errors import NotFoundError, Problem, ValidationError

__all__ = ["FIELDS", "locate", "search_components", "nearest_components", "default_district", "existing_codes",
           "OutsideDistrictWarning"]

log = logging.getLogger(__name__)

#: Columns of the components layer that lookups and the import carry, in order.
FIELDS = ["code", "district_code", "national_id", "class_code", "major", "serial", "name", "dept", "owner",
          "maintainer", "status", "initial_date", "change_date", "source", "remarks", "cell_code",
          "community_code", "street_code"]


def existing_codes(conn: Any, districts: Any) -> dict[str, set[str]]:
    """The stored 8-digit codes of each district in ``districts`` (on the import's connection)."""
    out: dict[str, set[str]] = {}
    for d in districts:
        rows = conn.execute(text("SELECT code FROM components WHERE district_code = :d"), {"d": str(d)})
        out[str(d)] = {r[0] for r in rows}
    return out


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
        yield store._backend.lookup_connection(conn)


_SELECT = ("SELECT c.id, " + ", ".join(f"c.{c}" for c in FIELDS) +
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
_RESULT_COLUMNS = [*FIELDS, "community_name", "street_name", "class_name", "major_name", "x", "y", "lon", "lat"]


def _dates(values: list[Any]) -> np.ndarray:
    try:
        return np.array([np.datetime64("NaT") if v is None else np.datetime64(v) for v in values],
                        dtype="datetime64[ns]")
    except (ValueError, TypeError):  # anything numpy does not parse: let pandas try
        return pd.to_datetime(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype="datetime64[ns]")


def _frame(rows: list[Any], store: Any, catalog: Catalog | None,
           extra: dict[str, Any] | None = None) -> gpd.GeoDataFrame:
    """Rows of ``_SELECT`` as a GeoDataFrame.

    A lookup returns one row, so the fixed cost of building the frame is most of its latency: every column is
    built with its type (text/integers as objects, coordinates as floats, dates), so pandas infers none.
    """
    names = [*FIELDS, "community_name", "street_name"]
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
    obj_names = [c for c in columns if c not in floats and c not in _DATE_COLUMNS and c != "geometry"
                 and c not in extra_cols]
    obj = np.empty((len(obj_names), n), dtype=object)
    for i, c in enumerate(obj_names):
        obj[i, :] = raw[c]
    geometry = gpd.array.from_shapely(shapely.points(x, y), crs=store.crs)
    # every column typed here (object, float64, datetime64[ns]), so pandas infers nothing (it would turn the
    # object columns into strings)
    cols: dict[str, Any] = {c: pd.Series(obj[i], dtype=object, copy=False) for i, c in enumerate(obj_names)}
    cols.update({c: pd.Series(v, copy=False) for c, v in floats.items()})
    cols.update({c: pd.Series(_dates(raw[c]), dtype="datetime64[ns]", copy=False) for c in _DATE_COLUMNS})
    cols.update({c: pd.Series(v, copy=False) for c, v in extra_cols.items()})
    cols["geometry"] = gpd.GeoSeries(geometry, copy=False)
    return gpd.GeoDataFrame(cols, columns=_column_index(tuple(columns)), geometry="geometry")


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
        ids = store._backend.nearest_component_ids(conn, x, y, k, cond=cond, params=flt, srid=int(store.srid))
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
