"""Reading vector files and tables into GeoDataFrames: GeoPackage, Shapefile, GeoJSON, CSV/Excel with lon/lat,
x/y or WKT columns; the declared CRS or lon/lat system applied (GCJ-02 / BD-09 converted to WGS 84), never guessed.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap.crs import LonLatSystem, check_lonlat_order, lonlat_to_wgs84, parse_crs
from gridmap.errors import CRSError, Problem, ValidationError, message

__all__ = ["GEOMETRY_FIELDS", "read_vector", "require_crs"]

_LON = ("lon", "lng", "long", "longitude", "x", "经度")
_LAT = ("lat", "latitude", "y", "纬度")

#: Mapping keys that name a table's geometry columns (not attributes).
GEOMETRY_FIELDS = ("lon", "lat", "x", "y", "wkt")


def read_vector(path: str | os.PathLike, *, layer: str | None = None, crs: Any = None,
                lonlat: str | LonLatSystem | None = None, encoding: str | None = None,
                default_crs: Any = None, mapping: dict[str, str] | None = None,
                sheet: str | int | None = None) -> gpd.GeoDataFrame:
    """Read a GeoPackage, Shapefile, GeoJSON, CSV or Excel sheet (lon/lat, x/y or WKT columns) into a GeoDataFrame.

    ``crs`` declares the CRS when the file has none (a ``.prj``-less Shapefile, a CSV of x/y) or overrides it;
    it may be an EPSG code, WKT text or the path of a ``.prj``/``.wkt`` file (a local system such as the Beijing
    grid). ``default_crs`` is used only when the file has no CRS of its own. ``lonlat`` declares lon/lat input as
    WGS 84, CGCS2000, GCJ-02 or BD-09 (the latter two are converted to WGS 84 here). A file without a CRS and
    without ``crs`` is an error, never a guess.

    Shapefile and CSV text is decoded with ``encoding`` if given, else as the ``.cpg`` says, else as detected
    (UTF-8, or GBK/GB18030): see :mod:`gridmap.io.encoding`; the choice is in ``frame.attrs['encoding']``.
    ``mapping`` entries for ``lon``, ``lat``, ``x``, ``y`` or ``wkt`` name a table's geometry columns.
    """
    from gridmap.io._reading import check_not_empty, reading

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(message("input file not found", got=str(p)))
    check_not_empty(p)
    with reading(p, encoding=encoding):
        return _read_vector(p, layer=layer, crs=crs, lonlat=lonlat, encoding=encoding, default_crs=default_crs,
                            mapping=mapping, sheet=sheet)


def _read_vector(p: Path, *, layer: str | None, crs: Any, lonlat: Any, encoding: str | None, default_crs: Any,
                 mapping: dict[str, str] | None, sheet: str | int | None) -> gpd.GeoDataFrame:
    from gridmap.io.coordinates import source_crs
    from gridmap.io.encoding import detect_encoding, looks_like_mojibake

    suffix = p.suffix.lower()
    where = str(p)
    src = source_crs(crs, where=where) if crs is not None else None
    if suffix in (".csv", ".txt", ".tsv", ".xlsx", ".xlsm"):
        from gridmap.io.tables import read_table

        df = read_table(p, sheet=sheet, encoding=encoding)
        geo_map = {k: v for k, v in (mapping or {}).items() if k in GEOMETRY_FIELDS}
        if geo_map:
            from gridmap.io.mapping import resolve_mapping

            df = df.rename(columns={v: k for k, v in resolve_mapping(geo_map, df, where=where).items()})
        fallback = src if src is not None else (source_crs(default_crs) if default_crs is not None else None)
        gdf = _frame_from_table(df, where=where, crs=fallback, lonlat=lonlat)
        gdf.attrs["encoding"] = str(detect_encoding(p, encoding=encoding)) if suffix not in (".xlsx", ".xlsm") \
            else "xlsx (Unicode)"
        return gdf
    kwargs: dict[str, Any] = {"engine": "pyogrio"}
    if layer:
        kwargs["layer"] = layer
    guess = None
    if suffix in (".shp", ".dbf"):
        guess = detect_encoding(p, encoding=encoding)
        kwargs["encoding"] = guess.encoding
    elif encoding:
        kwargs["encoding"] = encoding
    gdf = gpd.read_file(p, **kwargs)
    if guess is not None:
        gdf.attrs["encoding"] = str(guess)
        text_cols = [c for c in gdf.columns if c != gdf.geometry.name and gdf[c].dtype == object]
        sample = " ".join(str(v) for c in text_cols for v in gdf[c].dropna().head(200))
        if looks_like_mojibake(sample + " ".join(map(str, gdf.columns))):
            warnings.warn(f"{p.name}: text decoded as {guess.encoding} looks garbled; pass --encoding GBK "
                          "(or UTF-8) explicitly", stacklevel=2)
    if src is not None:
        gdf = gdf.set_crs(src, allow_override=True)
    elif gdf.crs is None and default_crs is not None:
        gdf = gdf.set_crs(source_crs(default_crs, where=where))
    if lonlat is not None:
        gdf = _lonlat_geometry(gdf, lonlat, where=where)
    return gdf


def require_crs(frame: gpd.GeoDataFrame, *, where: str) -> None:
    """An input file without a CRS is refused, naming the CLI options that declare one (never guessed)."""
    if frame.crs is None:
        raise CRSError(message(f"{where} has no CRS (no .prj, or a .prj GDAL cannot read)", got="no CRS",
                               fix="declare it, never guessed: --src-crs EPSG:4548 (or the .prj/WKT file of the "
                                   "local system) for x/y in metres, --lonlat wgs84 for lon/lat (API: crs=..., "
                                   "lonlat=...)"))


def _frame_from_table(df: pd.DataFrame, *, where: str, crs: Any, lonlat: Any) -> gpd.GeoDataFrame:
    cols = {c.lower().strip(): c for c in df.columns}
    wkt = next((cols[k] for k in ("wkt", "geometry", "geom") if k in cols), None)
    if wkt:
        if crs is None and lonlat is None:
            raise CRSError(message(f"{where} has WKT geometry but no declared CRS", fix="pass --crs EPSG:nnnn "
                                   "(projected) or --lonlat wgs84|gcj02|bd09"))
        geoms = gpd.GeoSeries.from_wkt(df[wkt].fillna("").where(df[wkt].notna(), None), on_invalid="warn")
        gdf = gpd.GeoDataFrame(df.drop(columns=[wkt]), geometry=geoms,
                               crs=parse_crs(crs) if crs is not None else "EPSG:4326")
        return _lonlat_geometry(gdf, lonlat, where=where) if lonlat is not None else gdf
    xcol = next((cols[k] for k in _LON if k in cols), None)
    ycol = next((cols[k] for k in _LAT if k in cols), None)
    if xcol is None or ycol is None:
        raise ValidationError(f"{where}: no geometry columns found", [Problem(None, None, "columns: "
                              + ", ".join(df.columns))], fix="name them lon/lat (or x/y, or WKT) or map them with "
                                                             "--map lon=COL,lat=COL")
    x = pd.to_numeric(df[xcol], errors="coerce")
    y = pd.to_numeric(df[ycol], errors="coerce")
    if crs is not None and parse_crs(crs).is_projected:
        gdf = gpd.GeoDataFrame(df.drop(columns=[xcol, ycol]), geometry=gpd.points_from_xy(x, y), crs=parse_crs(crs))
    else:
        system = LonLatSystem.parse(lonlat or "wgs84")
        check_lonlat_order(x, y, where=where)
        lon, lat = lonlat_to_wgs84(x.to_numpy(), y.to_numpy(), system)
        gdf = gpd.GeoDataFrame(df.drop(columns=[xcol, ycol]), geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    bad = x.isna() | y.isna()
    if bad.any():
        gdf.loc[bad, "geometry"] = None
    return gdf


def _lonlat_geometry(gdf: gpd.GeoDataFrame, lonlat: Any, *, where: str) -> gpd.GeoDataFrame:
    """Reinterpret the coordinates of a lon/lat frame as ``lonlat`` and convert them to WGS 84."""
    import shapely

    system = LonLatSystem.parse(lonlat)
    if gdf.crs is not None and gdf.crs.is_projected:
        raise CRSError(message(f"{where} is projected ({gdf.crs.to_string()}) but declared as lon/lat {system.value}",
                               fix="drop --lonlat, or check the file's CRS"))
    coords = shapely.get_coordinates(gdf.geometry.values)
    if len(coords):
        check_lonlat_order(coords[:, 0], coords[:, 1], where=where)
    if system in (LonLatSystem.GCJ02, LonLatSystem.BD09):
        def conv(xy):
            lon, lat = lonlat_to_wgs84(xy[:, 0], xy[:, 1], system)
            return pd.DataFrame({"x": lon, "y": lat}).to_numpy()
        geoms = shapely.transform(gdf.geometry.values, conv)
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index))
    return gdf.set_crs("EPSG:4326", allow_override=True)
