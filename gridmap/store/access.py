"""How a store is opened: which backend a URL names (:func:`resolve_url`), create, write or read-only, and what a
file must be before gridmap opens it.

``open_store(url, mode=...)`` takes one of three :class:`OpenMode` values:

* ``create`` — open, creating the store if it does not exist (commands that build stores: ``gridmap demo``,
  ``gridmap import`` of a base layer, any command with ``--create``; the library default);
* ``write`` — the store must exist; it is migrated to the current schema if older;
* ``read`` — the store must exist at the current schema; the connection is read-only (SQLite ``mode=ro``,
  a PostGIS session whose transactions are ``READ ONLY``), so nothing can change it.

Before the first SQLite connection :func:`check_sqlite_file` looks at the file itself, so that a mistyped
path, a 0-byte file, a file that is not SQLite, a truncated store or another program's SQLite database is
refused with a message instead of being silently turned into a new empty store (or ending in a traceback).

Examples
--------
>>> import tempfile, pathlib
>>> empty = pathlib.Path(tempfile.mkdtemp()) / "empty.sqlite"
>>> _ = empty.write_bytes(b"")
>>> check_sqlite_file(empty, mode="create")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
gridmap.errors.StoreError: an empty (0-byte) file is not a gridmap store ...
"""

from __future__ import annotations

import os
import sqlite3
from enum import Enum
from pathlib import Path

from gridmap.errors import StoreError, message

__all__ = ["OpenMode", "check_sqlite_file", "check_postgis_writable", "sqlite_path", "CREATE_HINT", "DEFAULT_DB",
           "resolve_url"]


class OpenMode(str, Enum):
    """How :func:`gridmap.store.open_store` opens a store."""

    CREATE = "create"
    WRITE = "write"
    READ = "read"


#: What to tell a user whose store does not exist yet.
CREATE_HINT = ("check the path (a typo?); a new store is made by `gridmap demo` or `gridmap import LAYER FILE`, "
               "or by any command given --create")

#: Tables a fresh SpatiaLite initialisation makes: a SQLite file holding only these is an unfinished new store.
SPATIALITE_SYSTEM_TABLES = frozenset({
    "ElementaryGeometries", "KNN", "KNN2", "SpatialIndex", "data_licenses", "geom_cols_ref_sys", "geometry_columns",
    "geometry_columns_auth", "geometry_columns_field_infos", "geometry_columns_statistics", "geometry_columns_time",
    "spatial_ref_sys", "spatial_ref_sys_all", "spatial_ref_sys_aux", "spatialite_history", "sql_statements_log",
    "sqlite_sequence", "sqlite_stat1", "vector_layers", "vector_layers_auth", "vector_layers_field_infos",
    "vector_layers_statistics", "views_geometry_columns", "views_geometry_columns_auth",
    "views_geometry_columns_field_infos", "views_geometry_columns_statistics", "virts_geometry_columns",
    "virts_geometry_columns_auth", "virts_geometry_columns_field_infos", "virts_geometry_columns_statistics"})


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (None for an in-memory database)."""
    path = url.split("///", 1)[1] if "///" in url else ""
    if path.startswith("file:"):
        path = path[5:].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path).expanduser()


def _header_size_problem(head: bytes, size: int) -> str | None:
    """Compare the database size recorded in the SQLite header with the file's size (truncation)."""
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1):
        return f"its header names an impossible page size ({page})"
    if size % page:
        return f"its size ({size:,} bytes) is not a whole number of {page}-byte pages"
    pages = int.from_bytes(head[28:32], "big")
    valid = head[92:96] == head[24:28] and pages > 0
    if valid and size < pages * page:
        return f"it holds {size // page:,} of the {pages:,} pages its header records"
    return None


def check_sqlite_file(path: str | os.PathLike, *, mode: str | OpenMode) -> None:
    """Refuse (with :class:`~gridmap.errors.StoreError`) a SQLite store file that ``mode`` cannot open.

    A missing file is fine only for ``create``; an existing file must be a SQLite database holding a gridmap
    store (``gridmap_meta``), or, for ``create``, a SQLite file with no tables but SpatiaLite's own. For
    ``write`` and ``create`` an existing store file must be writable. Nothing is written.
    """
    mode = OpenMode(mode)
    path = Path(path)
    where = str(path)
    if not path.exists():
        if mode is OpenMode.CREATE:
            return
        raise StoreError(message("there is no store at this path", where=where, got="no such file",
                                 fix=CREATE_HINT))
    if path.is_dir():
        raise StoreError(message("the store path is a folder", where=where,
                                 fix="give the store's file, e.g. --db DIR/gridmap.sqlite"))
    size = path.stat().st_size
    if size == 0:
        raise StoreError(message("an empty (0-byte) file is not a gridmap store", where=where, got="0 bytes",
                                 fix="choose another --db path, or delete the empty file to create a new store "
                                     "there"))
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        raise StoreError(message("cannot read the store file", where=where, got=exc.strerror,
                                 fix="check its permissions")) from exc
    if not head.startswith(b"SQLite format 3\x00"):
        raise StoreError(message("this file is not a SQLite database, so not a gridmap store", where=where,
                                 got=f"{size:,} bytes starting {head[:16]!r}",
                                 fix="check --db: it must name a gridmap store (.sqlite) or a new file"))
    problem = _header_size_problem(head, size) if len(head) >= 100 else "it is shorter than a SQLite header"
    if problem:
        raise StoreError(message("the store file is damaged (truncated?)", where=where, got=problem,
                                 fix="restore it from a backup or a copy; nothing was changed"))
    try:
        con = sqlite3.connect(f"file:{_uri_path(path)}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(message("the store file cannot be read as a SQLite database", where=where, got=str(exc),
                                 fix="restore it from a backup or a copy; nothing was changed")) from exc
    if "gridmap_meta" not in tables:
        if mode is OpenMode.CREATE and tables <= SPATIALITE_SYSTEM_TABLES:
            return  # an empty SQLite file, or a new store whose first set-up did not finish: made a store
        kind = "a GeoPackage" if "gpkg_contents" in tables else "a SQLite database"
        raise StoreError(message(f"this file is {kind} but not a gridmap store (no gridmap_meta table)",
                                 where=where, got=f"{len(tables)} table(s), e.g. {', '.join(sorted(tables)[:4])}",
                                 fix="check --db; to bring its layers into a store use `gridmap import LAYER "
                                     "FILE --db STORE`"))
    if mode is not OpenMode.READ and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        raise StoreError(message("the store file (or its folder) is read-only, so this command cannot write it",
                                 where=where,
                                 fix="make it writable (chmod u+w, chattr -i) or work on a copy; read commands "
                                     "(info, map, export ...) work on it as it is"))


def check_postgis_writable(conn, *, where: str) -> None:
    """Refuse a PostGIS session whose transactions are read-only (a replica, ``default_transaction_read_only``)
    before a writing command starts, instead of a driver traceback at its first write."""
    from sqlalchemy import text

    if conn.execute(text("SELECT current_setting('transaction_read_only')")).scalar() == "on":
        raise StoreError(message("the database session is read-only, so this command cannot write the store",
                                 where=where, got="transaction_read_only = on",
                                 fix="connect to the primary server, or as a user whose sessions may write; read "
                                     "commands (info, map, export ...) work as they are"))


def _uri_path(path: Path) -> str:
    """A path for a ``file:`` URI (``%``, ``?`` and ``#`` escaped)."""
    from urllib.parse import quote

    return quote(str(path.resolve()), safe="/")


DEFAULT_DB = "gridmap.sqlite"


def resolve_url(url: str | os.PathLike | None = None) -> str:
    """Turn ``--db`` / ``$GRIDMAP_DB`` / a path into an SQLAlchemy URL (default ``./gridmap.sqlite``)."""
    raw = os.fspath(url) if url is not None else os.environ.get("GRIDMAP_DB") or DEFAULT_DB
    if raw.startswith(("postgresql", "postgres://")):
        return raw
    if raw.startswith("sqlite:"):
        return raw
    if raw == ":memory:":
        return "sqlite:///:memory:"
    if raw.endswith(".gpkg"):
        raise StoreError(message("a GeoPackage cannot be the working store", got=raw,
                                 fix="use a .sqlite file (SpatiaLite) as the store; export layers to GeoPackage "
                                     "with `gridmap export FILE.gpkg`"))
    if "://" in raw:
        raise StoreError(message("unsupported database URL", got=raw,
                                 fix="use a file path (SpatiaLite) or postgresql://user@host:port/dbname"))
    return "sqlite:///" + str(Path(raw).expanduser().resolve())


