"""SpatiaLite backend: the embedded default, one ``.sqlite`` file that QGIS and GDAL open directly.

Pitfalls handled here (see machine notes): extension loading needs a sqlite3 built with
``enable_load_extension``; new files are initialised with ``InitSpatialMetaData(1)`` (one transaction,
0.07 s instead of 10 s); SpatiaLite never uses its R*Tree by itself, so box queries go through the
``SpatialIndex`` virtual table; and pyogrio crashes the interpreter if it is first imported while a
SpatiaLite connection is open, so it is imported here, before any connection exists.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio  # noqa: F401  -- must be imported before the first SpatiaLite connection (segfault otherwise)
import shapely
from geoalchemy2.admin.dialects.sqlite import load_spatialite
from sqlalchemy import Connection, Engine, Table, create_engine, event

from gridmap.errors import StoreError, message

NAME = "spatialite"
AS_BINARY = "AsBinary"


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine that loads SpatiaLite on every connection; ``read_only`` opens the file with ``mode=ro``."""
    if not hasattr(sqlite3.Connection, "enable_load_extension"):
        raise StoreError(message(
            "this Python's sqlite3 cannot load extensions, so SpatiaLite is unavailable",
            got=f"Python at {os.sys.executable}",
            fix="use the project venv built by scripts/setup.sh (from Debian's /usr/bin/python3), "
                "or pass a postgresql:// URL"))
    os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        parent = Path(path).expanduser().resolve().parent
        if not parent.is_dir():
            raise StoreError(message("the folder for the database file does not exist", got=str(parent),
                                     fix="create it first or choose another --db path"))
    if read_only and path and path != ":memory:":
        from gridmap.store.access import _uri_path

        url = f"sqlite:///file:{_uri_path(Path(path))}?mode=ro&uri=true"
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _load(dbapi_conn: Any, _record: Any) -> None:
        try:
            load_spatialite(dbapi_conn, transaction=True)
        except sqlite3.OperationalError as exc:  # missing mod_spatialite
            raise StoreError(message("cannot load the SpatiaLite extension", got=str(exc),
                                     fix="apt-get install -y libsqlite3-mod-spatialite (scripts/setup.sh does it)")) from exc
        # pysqlite only opens a transaction before DML, so DDL (dropping an index or trigger for a bulk load,
        # a migration step) would be committed at once and survive a rollback. Take control of BEGIN instead,
        # as the SQLAlchemy docs advise, so every transaction is atomic, DDL included.
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA foreign_keys=ON")
        # bulk loads touch several b-tree indexes at random: a 256 MB page cache keeps them in memory
        dbapi_conn.execute("PRAGMA cache_size=-262144")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def ensure_srid(conn: Connection, srid: int) -> None:
    raw = conn.connection.driver_connection
    if raw.execute("SELECT count(*) FROM spatial_ref_sys WHERE srid=?", (srid,)).fetchone()[0] == 0:
        raw.execute("SELECT InsertEpsgSrid(?)", (srid,))


def geom_param(srid: int) -> str:
    return f"GeomFromWKB(?, {int(srid)})"


def bulk_insert(conn: Connection, table: Table, columns: Sequence[str], values: list[list[Any]],
                geoms: np.ndarray, srid: int, *, rebuild_index: bool) -> None:
    """executemany through the raw DB-API cursor.

    For big loads (``rebuild_index``) the per-row SpatiaLite triggers are suspended inside the caller's
    transaction (SQLite DDL is transactional, so a failure restores them): the R*Tree is rebuilt once at the
    end, the geometry-type check trigger is redundant because :class:`~gridmap.store.Store` has checked every
    geometry's type and SRID, and the per-row ``geometry_columns_time`` update is done once. This is what
    takes the load from ~20 k to well over 30 k rows/s.
    """
    raw = conn.connection.driver_connection
    name = table.name
    saved: list[str] = []
    if rebuild_index:
        raw.execute("SELECT DisableSpatialIndex(?, 'geom')", (name,))
        raw.execute(f'DROP TABLE IF EXISTS "idx_{name}_geom"')
        for trig in (f"ggi_{name}_geom", f"tmi_{name}_geom"):
            row = raw.execute("SELECT sql FROM sqlite_master WHERE type='trigger' AND name=?", (trig,)).fetchone()
            if row:
                saved.append(row[0])
                raw.execute(f'DROP TRIGGER "{trig}"')
    cols = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join(["?"] * (len(columns)) + [geom_param(srid)])
    rows = zip(*values, shapely.to_wkb(geoms, byte_order=1).tolist())
    raw.executemany(f'INSERT INTO "{name}" ({cols}{", " if cols else ""}geom) VALUES ({marks})', rows)
    if rebuild_index:
        for sql in saved:
            raw.execute(sql)
        raw.execute("UPDATE geometry_columns_time SET last_insert = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                    "WHERE Lower(f_table_name) = Lower(?) AND Lower(f_geometry_column) = 'geom'", (name,))
        raw.execute("SELECT CreateSpatialIndex(?, 'geom')", (name,))


def bbox_clause(table: Table, bbox: tuple[float, float, float, float], srid: int) -> tuple[str, dict]:
    x0, y0, x1, y1 = bbox
    frame = f"BuildMbr(:bx0, :by0, :bx1, :by1, {int(srid)})"
    sql = (f'"{table.name}".id IN (SELECT rowid FROM SpatialIndex WHERE f_table_name = \'{table.name}\' '
           f"AND f_geometry_column = 'geom' AND search_frame = {frame}) "
           f'AND MbrIntersects("{table.name}".geom, {frame})')
    return sql, {"bx0": x0, "by0": y0, "bx1": x1, "by1": y1}


def vacuum_index(conn: Connection, table: Table) -> None:
    conn.connection.driver_connection.execute("SELECT UpdateLayerStatistics(?, 'geom')", (table.name,))
