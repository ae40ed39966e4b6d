"""Getting data in: read files, map fields, reproject into the working CRS, check every row, import.

Every import is atomic and loses nothing: rows that pass are written in one transaction; every rejected row is
reported with its reason (:class:`ImportResult`). With ``on_error='abort'`` any bad row stops the import and
nothing is written. Re-importing rows whose keys are already stored reports them as duplicates.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap.crs import LonLatSystem, check_crs, check_lonlat_order, lonlat_to_wgs84, parse_crs
from gridmap.errors import CRSError, Problem, ValidationError, message
from gridmap.io.validate import check_rows

__all__ = ["ImportResult", "read_vector", "prepare", "import_frame", "import_file"]

log = logging.getLogger(__name__)

_LON = ("lon", "lng", "long", "longitude", "x", "经度")
_LAT = ("lat", "latitude", "y", "纬度")


@dataclass
class ImportResult:
    """What an import did: rows written and rows rejected (each with its reason)."""

    layer: str
    written: int = 0
    rejected: list[Problem] = field(default_factory=list)

    @property
    def rejected_frame(self) -> pd.DataFrame:
        """The rejection report as a table: row, field, reason, value."""
        return pd.DataFrame([{"row": p.row, "field": p.field, "reason": p.reason, "value": p.value}
                             for p in self.rejected], columns=["row", "field", "reason", "value"])

    def __str__(self) -> str:
        s = f"{self.layer}: {self.written} written, {len(self.rejected)} rejected"
        for p in self.rejected[:10]:
            s += f"\n  - {p}"
        if len(self.rejected) > 10:
            s += f"\n  ... and {len(self.rejected) - 10} more (see the rejection report)"
        return s


def read_vector(path: str | os.PathLike, *, layer: str | None = None, crs: Any = None,
                lonlat: str | LonLatSystem | None = None, encoding: str | None = None) -> gpd.GeoDataFrame:
    """Read a GeoPackage, Shapefile, GeoJSON or CSV (lon/lat, x/y or WKT columns) into a GeoDataFrame.

    ``crs`` declares the CRS when the file has none (a ``.prj``-less Shapefile, a CSV of x/y) or overrides it;
    ``lonlat`` declares lon/lat input as WGS 84, CGCS2000, GCJ-02 or BD-09 (the latter two are converted to
    WGS 84 here). A file without a CRS and without ``crs`` is an error, never a guess.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(message("input file not found", got=str(p)))
    if p.suffix.lower() in (".csv", ".txt", ".tsv"):
        df = pd.read_csv(p, sep="\t" if p.suffix.lower() == ".tsv" else ",", dtype=str,
                         encoding=encoding or "utf-8-sig", keep_default_na=False, na_values=[""])
        return _frame_from_table(df, where=str(p), crs=crs, lonlat=lonlat)
    kwargs: dict[str, Any] = {"engine": "pyogrio"}
    if layer:
        kwargs["layer"] = layer
    if encoding:
        kwargs["encoding"] = encoding
    gdf = gpd.read_file(p, **kwargs)
    if crs is not None:
        gdf = gdf.set_crs(parse_crs(crs, where=str(p)), allow_override=True)
    if lonlat is not None:
        gdf = _lonlat_geometry(gdf, lonlat, where=str(p))
    return gdf


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


def import_frame(store: Any, layer: str, frame: gpd.GeoDataFrame, *, mapping: dict[str, str] | None = None,
                 mode: str = "append", on_error: str = "reject", where: str = "input") -> ImportResult:
    """Import a GeoDataFrame into ``store``: good rows written in one transaction, bad rows reported.

    ``on_error='reject'`` (default) writes the good rows and reports the rest; ``'abort'`` writes nothing if any
    row is bad (raising :class:`~gridmap.errors.ValidationError`).
    """
    if on_error not in ("reject", "abort"):
        raise ValueError(message("on_error must be 'reject' or 'abort'", got=repr(on_error)))
    good, problems = prepare(layer, frame, crs=store.crs, mapping=mapping, where=where)
    with store.transaction() as conn:
        problems += store.validate(layer, good, mode=mode, connection=conn)
        if problems and on_error == "abort":
            raise ValidationError(f"{len(problems)} bad row(s) in {where}; nothing was imported", problems,
                                  fix="fix the rows, or import with on_error='reject' to keep the good ones")
        bad = {p.row for p in problems}
        keep = good.loc[[i for i in good.index if i not in bad]]
        written = store.write(layer, keep, mode=mode, connection=conn)
    result = ImportResult(layer, written, sorted(problems, key=lambda p: (str(p.row), p.field or "")))
    log.info("imported %s from %s: %d written, %d rejected", layer, where, written, len(result.rejected))
    return result


def import_file(store: Any, layer: str, path: str | os.PathLike, *, file_layer: str | None = None,
                crs: Any = None, lonlat: str | None = None, encoding: str | None = None,
                mapping: dict[str, str] | None = None, mode: str = "append", on_error: str = "reject") -> ImportResult:
    """Read ``path`` (see :func:`read_vector`) and :func:`import_frame` it into ``layer``."""
    from gridmap.store.schema import layer_spec

    layer_spec(layer)  # an unknown layer is reported before the file is read
    frame = read_vector(path, layer=file_layer, crs=crs, lonlat=lonlat, encoding=encoding)
    return import_frame(store, layer, frame, mapping=mapping, mode=mode, on_error=on_error, where=str(path))
