"""The boundary between file-reading libraries and gridmap: their exceptions become :class:`InputFileError`.

pyogrio/GDAL, pandas, openpyxl (zip), the codecs, :mod:`json` and GEOS each fail in their own words
(``DataSourceError``, ``EmptyDataError``, ``BadZipFile``, ``UnicodeDecodeError`` ...). Every reader in
:mod:`gridmap.io` reads inside :func:`reading`, so the API raises gridmap's own error naming the file, the row
where that is known, what was found and how to fix it; no library exception escapes a reader.
"""

from __future__ import annotations

import contextlib
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

from gridmap.errors import GridmapError, InputFileError

__all__ = ["reading", "check_not_empty", "unclosed_quote_line", "undecodable_line"]

_KIND = {".gpkg": "GeoPackage", ".shp": "Shapefile", ".dbf": "Shapefile", ".geojson": "GeoJSON",
         ".json": "JSON", ".csv": "CSV", ".tsv": "CSV", ".txt": "CSV", ".xlsx": "Excel workbook",
         ".xlsm": "Excel workbook", ".fgb": "FlatGeobuf", ".parquet": "GeoParquet"}


def kind_of(path: Path) -> str:
    return _KIND.get(path.suffix.lower(), "file")


def check_not_empty(path: str | os.PathLike) -> None:
    """Refuse a 0-byte file, and a Shapefile without its ``.shx`` index, before any library sees it."""
    p = Path(path)
    if p.is_file() and p.stat().st_size == 0:
        raise InputFileError(f"the {kind_of(p)} is empty (0 bytes)", path=p,
                             fix="the copy or export was interrupted: export the file again")
    if p.suffix.lower() == ".shp" and not any(c.suffix.lower() == ".shx" for c in p.parent.glob(glob_stem(p) + ".*")):
        raise InputFileError("the Shapefile has no .shx index file next to it", path=p,
                             got="the files " + ", ".join(sorted(c.name for c in p.parent.glob(glob_stem(p) + ".*"))),
                             fix="copy all the files of the Shapefile together (.shp, .shx, .dbf, .prj, .cpg), or "
                                 "rebuild the index: ogr2ogr --config SHAPE_RESTORE_SHX YES fixed.shp broken.shp")


def glob_stem(p: Path) -> str:
    return "".join(f"[{c}]" if c in "[]*?" else c for c in p.stem)


def unclosed_quote_line(raw: bytes) -> int | None:
    """The 1-based line where a CSV quoted field opens and never closes (``None`` if every quote closes)."""
    open_at = None
    for n, line in enumerate(raw.split(b"\n"), start=1):
        if line.count(b'"') % 2:
            open_at = n if open_at is None else None
    return open_at


def undecodable_line(raw: bytes, encoding: str) -> tuple[int, bytes] | None:
    """The first 1-based line of ``raw`` that ``encoding`` cannot decode, with its bytes."""
    for n, line in enumerate(raw.split(b"\n"), start=1):
        try:
            line.decode(encoding)
        except UnicodeDecodeError:
            return n, line
        except LookupError:
            return None
    return None


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


@contextlib.contextmanager
def reading(path: str | os.PathLike, *, encoding: str | None = None) -> Iterator[None]:
    """Read ``path`` inside this block: any library error becomes an :class:`InputFileError` naming the file.

    ``encoding`` is the codec the text was read with (to name the first line it cannot decode).
    """
    import pandas as pd
    import shapely.errors

    p = Path(path)
    kind = kind_of(p)
    try:
        yield
    except (GridmapError, FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except UnicodeError as exc:
        row = got = None
        codec = encoding or getattr(exc, "encoding", None) or "utf-8"
        if p.is_file() and p.suffix.lower() not in (".shp", ".dbf"):
            found = undecodable_line(p.read_bytes(), codec)
            if found is not None:
                row, line = found
                got = repr(line[:60])[1:]
        cpg = " (a Shapefile's .cpg file declares its encoding: check it)" if p.suffix.lower() in (".shp", ".dbf") \
            else ""
        raise InputFileError(f"the {kind} is not in the {codec} encoding", path=p, row=row, got=got,
                             fix="give the right one with --encoding (Chinese files are usually GBK or UTF-8), or "
                                 f"save the file again as UTF-8{cpg}") from exc
    except zipfile.BadZipFile as exc:
        raise InputFileError(f"the {kind} is damaged or not really an .xlsx workbook (it is not a zip archive)",
                             path=p, got=_first_line(exc),
                             fix="open it in Excel/WPS and save it again as .xlsx, or export the sheet as CSV") from exc
    except pd.errors.EmptyDataError as exc:
        raise InputFileError(f"the {kind} has no header and no rows", path=p, got=_first_line(exc),
                             fix="export the table again with its header row") from exc
    except pd.errors.ParserError as exc:
        row = None
        if p.is_file():
            row = unclosed_quote_line(p.read_bytes())
        what = (f"the {kind} ends inside a quoted field (a \" opened and never closed)" if "EOF inside string"
                in str(exc) else f"the {kind} cannot be parsed")
        raise InputFileError(what, path=p, row=row, got=_first_line(exc),
                             fix="the file was cut short or a text cell holds a stray \"; export it again, or close "
                                 "the quote") from exc
    except json.JSONDecodeError as exc:
        raise InputFileError(f"the {kind} is not valid JSON", path=p, row=exc.lineno,
                             got=f"{exc.msg} at line {exc.lineno}, column {exc.colno}",
                             fix="the file was cut short or edited by hand; export it again") from exc
    except shapely.errors.GEOSException as exc:
        raise InputFileError(f"a geometry in the {kind} cannot be read", path=p, got=_first_line(exc),
                             fix="check the file in QGIS (Vector > Geometry Tools > Check Validity)") from exc
    except Exception as exc:  # pyogrio/GDAL: DataSourceError, DataLayerError, FieldError ...
        if type(exc).__module__.split(".")[0] not in ("pyogrio", "fiona", "openpyxl", "xml", "lxml"):
            raise
        text = _first_line(exc)
        if "malformed" in text or "not a database" in text:
            what = f"the {kind} is truncated or corrupt"
        elif "not recognized as being in a supported file format" in text:
            what = f"the file is not a readable {kind}"
        else:
            what = f"the {kind} cannot be read"
        raise InputFileError(what, path=p, got=text,
                             fix="copy or export the file again (check its size against the original); open it in "
                                 "QGIS to see whether it is readable") from exc
