"""Getting data out: write store layers to the file format the output's extension names.

=======================  ===========  ==============================================  =========================
extension                format       layers per file                                 CRS written
=======================  ===========  ==============================================  =========================
``.gpkg``                GeoPackage   any number (one table per layer), version 1.3   the store's working CRS
``.fgb``                 FlatGeobuf   one                                             the store's working CRS
``.parquet``/.geoparquet GeoParquet   one                                             the store's working CRS
``.geojson``             GeoJSON      one                                             EPSG:4326 (RFC 7946)
``.csv``                 CSV          one; geometry as a ``WKT`` column               EPSG:4326 (lon/lat)
=======================  ===========  ==============================================  =========================

GeoJSON is always WGS 84 lon/lat (RFC 7946 allows no other CRS). A CSV cannot say which CRS its coordinates
are in, and every tool that opens a CRS-less CSV (QGIS, Excel add-ins, ``ogr2ogr``) assumes lon/lat, so CSV is
written in EPSG:4326 too. CSV is UTF-8 with a byte-order mark (``WRITE_BOM``) so that Excel in a Chinese locale
shows the names instead of mojibake; GDAL and pandas (``encoding='utf-8-sig'``) read it unchanged.

An existing file of that name is replaced whole (written beside it, then renamed over it), never appended to.
A single-layer format given several layers is refused (name one with ``layers=``), as is an extension that is
not in :data:`EXPORT_FORMATS`: the file's name always tells what is inside it.

Each format has one writer function (``write_gpkg``, ``write_geojson`` ...) taking the layer frames and the
path (and an optional ``on_layer`` callback), so that callers can wrap the writing (temporary file, atomic
rename) in one place.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd

from gridmap.errors import Problem, UsageError, ValidationError, message
from gridmap.outputs import GRIDMAP_OUTPUT_KEY, atomic_output

__all__ = ["EXPORT_FORMATS", "ExportFormat", "ExportResult", "export_format", "export_layers", "write_gpkg",
           "write_geojson", "write_fgb", "write_parquet", "write_csv"]

log = logging.getLogger(__name__)


def write_gpkg(frames: dict[str, gpd.GeoDataFrame], path: Path, *,
               on_layer: Callable[[str], None] | None = None) -> None:
    """Every frame as a table of one GeoPackage 1.3 file (GDAL 3.6 and QGIS LTR read 1.3 without a warning);
    ``on_layer(name)`` is called before each table is written."""
    for i, (name, frame) in enumerate(frames.items()):
        if on_layer:
            on_layer(name)
        # the first table also marks the file as gridmap's output, so a later export may replace it without
        # --overwrite (gridmap.outputs refuses to replace a GeoPackage that another program wrote)
        # (as the table's description in gpkg_contents: dataset metadata would make every GDAL reader write a
        # .aux.xml file beside it)
        first = {"dataset_options": {"VERSION": "1.3"},
                 "layer_options": {"DESCRIPTION": f"{GRIDMAP_OUTPUT_KEY}: gridmap export"}} if i == 0 else {}
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio", geometry_type=_geometry_type(frame, name),
                      **first)


def write_geojson(frames: dict[str, gpd.GeoDataFrame], path: Path, *,
                  on_layer: Callable[[str], None] | None = None) -> None:
    """One frame as RFC 7946 GeoJSON (EPSG:4326, lon/lat, 7 decimals: about 1 cm)."""
    ((name, frame),) = frames.items()
    if on_layer:
        on_layer(name)
    frame.to_crs("EPSG:4326").to_file(path, layer=name, driver="GeoJSON", engine="pyogrio",
                                       geometry_type=_geometry_type(frame, name),
                                       layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": "7"})


def write_fgb(frames: dict[str, gpd.GeoDataFrame], path: Path, *,
              on_layer: Callable[[str], None] | None = None) -> None:
    """One frame as FlatGeobuf (with its spatial index) in the working CRS."""
    ((name, frame),) = frames.items()
    if on_layer:
        on_layer(name)
    frame.to_file(path, layer=name, driver="FlatGeobuf", engine="pyogrio", geometry_type=_geometry_type(frame, name))


def write_parquet(frames: dict[str, gpd.GeoDataFrame], path: Path, *,
                  on_layer: Callable[[str], None] | None = None) -> None:
    """One frame as GeoParquet (WKB geometry, CRS as PROJJSON in the ``geo`` metadata) in the working CRS."""
    ((name, frame),) = frames.items()
    if on_layer:
        on_layer(name)
    frame.to_parquet(path, index=False, compression="zstd")


def write_csv(frames: dict[str, gpd.GeoDataFrame], path: Path, *,
              on_layer: Callable[[str], None] | None = None) -> None:
    """One frame as CSV with a ``WKT`` geometry column in EPSG:4326, UTF-8 with a byte-order mark."""
    ((name, frame),) = frames.items()
    if on_layer:
        on_layer(name)
    frame.to_crs("EPSG:4326").to_file(path, layer=name, driver="CSV", engine="pyogrio",
                                       geometry_type=_geometry_type(frame, name),
                                       layer_options={"GEOMETRY": "AS_WKT", "WRITE_BOM": "YES"})


def _geometry_type(frame: gpd.GeoDataFrame, name: str) -> str:
    """The layer's declared geometry type (an empty frame has none to infer)."""
    from gridmap.store.schema import LAYERS

    spec = LAYERS.get(name)
    if spec is not None:
        return {"MULTIPOLYGON": "MultiPolygon", "POINT": "Point", "MULTILINESTRING": "MultiLineString",
                "POLYGON": "Polygon", "LINESTRING": "LineString"}.get(spec.geometry_type.upper(), "Unknown")
    types = set(frame.geom_type.dropna())
    return types.pop() if len(types) == 1 else "Unknown"


@dataclass(frozen=True)
class ExportFormat:
    """One output format: its GDAL driver name, whether a file holds several layers, the CRS it is written in
    (``None``: the store's working CRS) and its writer."""

    name: str
    driver: str
    multi_layer: bool
    crs: str | None
    writer: Callable[..., None]


#: Supported output extensions (lower case, with the dot) and their formats.
EXPORT_FORMATS: dict[str, ExportFormat] = {
    ".gpkg": ExportFormat("GeoPackage", "GPKG", True, None, write_gpkg),
    ".geojson": ExportFormat("GeoJSON", "GeoJSON", False, "EPSG:4326", write_geojson),
    ".fgb": ExportFormat("FlatGeobuf", "FlatGeobuf", False, None, write_fgb),
    ".parquet": ExportFormat("GeoParquet", "Parquet", False, None, write_parquet),
    ".geoparquet": ExportFormat("GeoParquet", "Parquet", False, None, write_parquet),
    ".csv": ExportFormat("CSV", "CSV", False, "EPSG:4326", write_csv),
}


def export_format(path: str | os.PathLike) -> ExportFormat:
    """The format an output file's extension names; an unknown or missing extension is refused."""
    suffix = Path(path).suffix.lower()
    fmt = EXPORT_FORMATS.get(suffix)
    if fmt is None:
        raise UsageError(message("unsupported output file type", where=str(path),
                                      got=repr(suffix) if suffix else "no extension",
                                      fix="name the file with one of " + ", ".join(EXPORT_FORMATS)))
    return fmt


@dataclass
class ExportResult:
    """What an export wrote: the file, its format and driver, the CRS written and the features per layer."""

    path: Path
    format: str
    driver: str
    crs: str
    layers: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": self.format, "driver": self.driver, "crs": self.crs,
                "layers": dict(self.layers), "seconds": round(self.seconds, 2)}

    def __str__(self) -> str:
        lines = [f"{name}: {n} features -> {self.path}" for name, n in self.layers.items()]
        lines.append(f"{self.format} ({self.crs}): {self.path}")
        return "\n".join(lines)


def export_layers(store: Any, path: str | os.PathLike, *, layers: list[str] | None = None,
                  progress: Callable[[int, int, str], None] | None = None) -> ExportResult:
    """Write store layers to ``path`` in the format its extension names (:data:`EXPORT_FORMATS`).

    Parameters
    ----------
    store : gridmap.store.Store
        Closed (its connections released) once the layers are read, before any file is written: pyogrio must not
        run beside an open SpatiaLite connection.
    layers : layer names; default every non-empty layer (a single-layer format then needs exactly one).
    progress : callable ``(done, total, label)``, optional
        Called before and after reading and writing each layer (the CLI draws a progress bar with it).
    """
    from gridmap.store.schema import LAYERS

    t0 = time.perf_counter()
    path = Path(path)
    fmt = export_format(path)
    counts = store.counts()
    if layers:
        unknown = [name for name in layers if name not in LAYERS]
        if unknown:
            raise UsageError(message("unknown layer", got=", ".join(unknown),
                                          fix="layers are: " + ", ".join(LAYERS)),
                                  [Problem(None, "layers", "no such layer", name) for name in unknown])
        chosen = list(dict.fromkeys(layers))
    else:
        chosen = [name for name, n in counts.items() if n]
        if not chosen:
            raise ValidationError(message("the store has no features to export", where=store.safe_url,
                                          got="every layer is empty", fix="import data first (gridmap import ...)"))
    if not fmt.multi_layer and len(chosen) != 1:
        eg = "communities" if "communities" in chosen else chosen[0]
        raise UsageError(message(f"a {fmt.name} file holds one layer", where=str(path),
                                      got=f"{len(chosen)} layers: {', '.join(chosen)}",
                                      fix=f"choose one layer, e.g. --layers {eg} on the command line (layers=['{eg}'] "
                                          "in Python), or export to a .gpkg, which holds several"))
    total = 2 * len(chosen)
    frames: dict[str, gpd.GeoDataFrame] = {}
    for i, name in enumerate(chosen):
        if progress:
            progress(i, total, f"read {name}")
        frames[name] = store.read(name)
    store.close()  # before pyogrio touches any file (or pyogrio crashes the interpreter)
    written = 0

    def on_layer(name: str) -> None:
        nonlocal written
        if progress:
            progress(len(chosen) + written, total, f"write {name}")
        written += 1

    # written beside the target, then renamed over it (gridmap.outputs.atomic_output): an existing file is replaced
    # whole (no stale layers left in an old GeoPackage, no "file exists" from the CSV driver), and a failed write
    # leaves the old file as it was
    with atomic_output(path) as tmp:
        fmt.writer(frames, tmp, on_layer=on_layer)
    if progress:
        progress(total, total, "done")
    res = ExportResult(path, fmt.name, fmt.driver, fmt.crs or f"EPSG:{store.srid}",
                       {name: len(f) for name, f in frames.items()}, time.perf_counter() - t0)
    log.info("exported %s to %s (%s, %s) in %.1f s", res.layers, path, fmt.name, res.crs, res.seconds)
    return res
