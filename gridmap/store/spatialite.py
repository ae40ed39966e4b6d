"""SpatiaLite backend: the embedded default, one ``.sqlite`` file that QGIS and GDAL open directly.

Pitfalls handled here: extension loading needs a sqlite3 built with
``enable_load_extension``; new files are initialised with ``InitSpatialMetaData(1)`` (one transaction,
0.07 s instead of 10 s); SpatiaLite never uses its R*Tree by itself, so box queries go through the
``SpatialIndex`` virtual table; and pyogrio crashes the interpreter if it is first imported while a
SpatiaLite connection is open, so it is imported here, before any connection exists.

Several processes may use one file at once: file stores run in WAL mode, so readers never wait for a
writer and a writer never waits for readers; writers take the write lock when they begin (``BEGIN IMMEDIATE``)
and wait for one another up to the store's lock timeout (also every connection's busy timeout), then fail with
a :class:`~gridmap.errors.StoreError` naming the file instead of SQLite's bare "database is locked". Closing
the store checkpoints the log into the main file (``PRAGMA wal_checkpoint(TRUNCATE)``) so that a closed
``.sqlite`` file is complete by itself; GDAL/pyogrio read WAL files as they read any other.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio  # noqa: F401  -- must be imported before the first SpatiaLite connection (segfault otherwise)
import shapely
from geoalchemy2.admin.dialects.sqlite import load_spatialite
from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.exc import DBAPIError

from gridmap.errors import StoreError, message

NAME = "spatialite"
AS_BINARY = "AsBinary"
#: The SQL function that reads a geometry's SRID.
SRID_FUNCTION = "SRID"
#: How the health check names a missing spatial index ({layer} is filled in): Chinese, English.
MISSING_INDEX = ("缺少空间索引（R*Tree）", "the spatial index (R*Tree idx_{layer}_geom) is missing")
#: Big loads drop the R*Tree and b-tree indexes inside their transaction and rebuild them once (WAL readers keep
#: reading the last committed state meanwhile, so nobody waits).
REBUILD_INDEXES = True

log = logging.getLogger(__name__)


def make_engine(url: str, *, read_only: bool = False, lock_timeout_s: float = 30.0) -> Engine:
    """An engine that loads SpatiaLite on every connection; ``read_only`` opens the file with ``mode=ro``;
    ``lock_timeout_s`` is how long a statement waits for a lock another connection holds."""
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
    in_memory = not path or path == ":memory:"
    if read_only and not in_memory:
        from gridmap.store.access import _uri_path

        url = f"sqlite:///file:{_uri_path(Path(path))}?mode=ro&uri=true"
    # the busy timeout: how long any statement waits for a lock held by another connection
    engine = create_engine(url, connect_args={"timeout": float(lock_timeout_s)})

    @event.listens_for(engine, "connect")
    def _load(dbapi_conn: Any, _record: Any) -> None:
        # the page size of a file not yet written (a new store); an existing file keeps its own
        dbapi_conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
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
        if conn.get_execution_options().get("gridmap_write"):
            _begin_immediate(conn.connection.driver_connection, path, float(lock_timeout_s))
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _locked_error(path: str, exc: Exception, waited_s: float | None = None) -> StoreError:
    waited = f" (waited {waited_s:.0f} s)" if waited_s is not None else ""
    return StoreError(message(f"another process is writing to {path}; try again when it finishes{waited}",
                              got=str(exc), where=path,
                              fix="wait for the other import to end, or raise the wait with "
                                  "$GRIDMAP_LOCK_TIMEOUT_S / open_store(..., lock_timeout_s=)"))


def _use_wal(raw: sqlite3.Connection, path: str, timeout_s: float) -> None:
    """Switch a file store to WAL before its first write transaction (a no-op when it already is WAL).

    WAL lets readers and the one writer work at once. It is switched on by the first write, not on connect, so a
    command that opens the store for writing but is refused before it writes leaves the file byte for byte as it
    was; :func:`close_engine` returns the file to a rollback journal when the last writer closes.
    """
    if not path or path == ":memory:":
        return
    if str(raw.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    raw.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
    try:
        raw.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        raise _locked_error(path, exc) if _is_locked(exc) else exc


def _begin_immediate(raw: sqlite3.Connection, path: str, timeout_s: float) -> None:
    """Take the write lock at BEGIN: try at once; if another writer holds it, say so and wait up to timeout_s."""
    _use_wal(raw, path, timeout_s)
    raw.execute("PRAGMA busy_timeout=0")
    try:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc):
                raise
        log.warning("another import is running on this store (%s): another process is writing to it; waiting up "
                    "to %.0f s for it to finish…", path, timeout_s)
        raw.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
        start = time.monotonic()
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _is_locked(exc):
                raise _locked_error(path, exc, time.monotonic() - start) from exc
            raise
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")


def lock_writers(conn: Connection, *, timeout_s: float, where: str) -> None:
    """Nothing to do: a write transaction on SpatiaLite already holds the write lock (``BEGIN IMMEDIATE``)."""


def close_engine(engine: Engine) -> None:
    """Fold the write-ahead log into the main file, switch the file back to a rollback journal, then close every
    connection (the last close removes the -wal file).

    WAL is for while the store is in use (readers and the one writer do not block each other); at rest the file
    is a plain SQLite database, so a read-only reader (``mode=ro``, a read-only medium, QGIS) creates no -wal or
    -shm file beside it. When another process still has the store open the switch is skipped (it needs the only
    connection) and is left to that process's own close; a checkpoint another process blocks likewise.
    Read-only engines (``file:...?mode=ro`` URLs) change nothing.
    """
    path = engine.url.database or ""
    if path and path != ":memory:" and Path(path).exists():
        try:
            with engine.connect() as conn:
                raw = conn.connection.driver_connection
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                raw.execute("PRAGMA busy_timeout=0")
                raw.execute("PRAGMA journal_mode=DELETE")
        except (sqlite3.Error, DBAPIError, StoreError) as exc:  # closing must not fail: the log stays valid
            log.debug("checkpoint of %s skipped: %s", path, exc)
    engine.dispose()


def ensure_srid(conn: Connection, srid: int) -> None:
    raw = conn.connection.driver_connection
    if raw.execute("SELECT count(*) FROM spatial_ref_sys WHERE srid=?", (srid,)).fetchone()[0] == 0:
        raw.execute("SELECT InsertEpsgSrid(?)", (srid,))


def geom_param(srid: int) -> str:
    return f"GeomFromWKB(?, {int(srid)})"


#: Page size of new store files (bytes). Why 8 KiB, not SQLite's default 4 KiB: a complaint row with its text is
#: about 500 bytes, and the 300,000-complaint bulk write (rows, b-tree indexes, commit) took 2.0 s instead of
#: 2.3 s (measured with the demo's rows); the R*Tree's nodes grow with the page (8,128 bytes, 338 boxes). Any
#: SQLite, GDAL or QGIS reads either size; an existing store keeps the size it was created with.
PAGE_SIZE = 8192

#: SpatiaLite's BLOB-Geometry of a POINT, little-endian: start 0x00, byte order 0x01, SRID, MBR (min x, min y,
#: max x, max y), 0x7C, class 1 (POINT), x, y, end 0xFE; 60 bytes.
_POINT_BLOB = np.dtype([("start", "u1"), ("order", "u1"), ("srid", "<i4"), ("mbr", "<f8", (4,)), ("mbr_end", "u1"),
                        ("kind", "<i4"), ("xy", "<f8", (2,)), ("end", "u1")])


def point_blobs(geoms: np.ndarray, srid: int) -> list[bytes] | None:
    """SpatiaLite's own encoding of 2-D points (what ``GeomFromWKB(wkb, srid)`` returns, byte for byte: tested),
    built with numpy; None when ``geoms`` are not all non-empty 2-D points (the caller sends WKB instead).

    Why: SQLite calling ``GeomFromWKB`` once a row, after shapely wrote the WKB, was 0.2 s of a 300,000-point
    load."""
    if not len(geoms) or not (shapely.get_type_id(geoms) == 0).all() or shapely.has_z(geoms).any() \
            or shapely.is_empty(geoms).any():
        return None
    xy = shapely.get_coordinates(geoms)
    rec = np.zeros(len(geoms), dtype=_POINT_BLOB)
    rec["order"], rec["srid"], rec["mbr_end"], rec["kind"], rec["end"] = 1, srid, 0x7C, 1, 0xFE
    rec["mbr"] = xy[:, [0, 1, 0, 1]]
    rec["xy"] = xy
    # one bytes object per record (numpy's fixed-width bytes drop trailing NULs only: each record ends in 0xFE)
    return rec.view(f"S{_POINT_BLOB.itemsize}").ravel().tolist()


#: Page cache of a big load (KiB, used only as pages are touched).
BULK_CACHE_KIB = 256 * 1024


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
    cache = prebuilt = None
    if rebuild_index:
        # a page cache that holds the new R*Tree and b-trees: building them in SQLite's default 2 MB cache
        # costs half as much again (300,000 points: 2.8 s instead of 4.3 s); restored below
        cache = raw.execute("PRAGMA cache_size").fetchone()[0]
        raw.execute(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
        raw.execute("SELECT DisableSpatialIndex(?, 'geom')", (name,))
        raw.execute(f'DROP TABLE IF EXISTS "idx_{name}_geom"')
        prebuilt = _prebuild_rtree(raw, name, columns, geoms)
        # (CreateSpatialIndex, when _prebuild_rtree ran it, re-created every trigger: drop them after it)
        for trig in (f"ggi_{name}_geom", f"tmi_{name}_geom") + ((f"gii_{name}_geom",) if prebuilt else ()):
            row = raw.execute("SELECT sql FROM sqlite_master WHERE type='trigger' AND name=?", (trig,)).fetchone()
            if row:
                saved.append(row[0])
                raw.execute(f'DROP TRIGGER "{trig}"')
    cols = ", ".join(f'"{c}"' for c in columns)
    blobs = point_blobs(geoms, srid)
    marks = ", ".join(["?"] * (len(columns)) + ["?" if blobs is not None else geom_param(srid)])
    rows = zip(*values, blobs if blobs is not None else shapely.to_wkb(geoms, byte_order=1).tolist())
    inserted = raw.executemany(f'INSERT INTO "{name}" ({cols}{", " if cols else ""}geom) VALUES ({marks})',
                               rows).rowcount
    if rebuild_index:
        for sql in saved:
            raw.execute(sql)
        raw.execute("UPDATE geometry_columns_time SET last_insert = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                    "WHERE Lower(f_table_name) = Lower(?) AND Lower(f_geometry_column) = 'geom'", (name,))

        if prebuilt is not None and prebuilt.install(raw, name, inserted=inserted):
            log.debug("R*Tree of %s (%d rows) bulk-loaded (packed)", name, prebuilt.n)
        else:
            if prebuilt is not None:  # the empty index made for it (and its insert trigger, restored above)
                raw.execute("SELECT DisableSpatialIndex(?, 'geom')", (name,))
                raw.execute(f'DROP TABLE IF EXISTS "idx_{name}_geom"')
            raw.execute("SELECT CreateSpatialIndex(?, 'geom')", (name,))
        raw.execute(f"PRAGMA cache_size = {int(cache)}")


def _prebuild_rtree(raw: sqlite3.Connection, name: str, columns: Sequence[str], geoms: np.ndarray) -> Any:
    """Into an empty table with ids the database assigns: create the (empty) spatial index now, to be filled
    by a packed bulk load after the rows are in (:mod:`gridmap.store.rtree_build`; the caller suspends the
    index's insert trigger during the load); None otherwise (the index is built the ordinary way)."""
    from gridmap.store.rtree_build import PackedRTree

    if "id" in columns or raw.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone() is not None:
        return None
    seq = raw.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (name,)).fetchone() \
        if raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone() else None
    prebuilt = PackedRTree(geoms, first=(int(seq[0]) if seq else 0) + 1)
    if not prebuilt.usable:
        return None
    raw.execute("SELECT CreateSpatialIndex(?, 'geom')", (name,))
    root = raw.execute(f'SELECT length(data) FROM "idx_{name}_geom_node" WHERE nodeno = 1').fetchone()
    if root is not None:
        prebuilt.prepare(int(root[0]))  # the tree is computed while the rows go in
    return prebuilt


def bbox_clause(table: Table, bbox: tuple[float, float, float, float], srid: int) -> tuple[str, dict]:
    x0, y0, x1, y1 = bbox
    frame = f"BuildMbr(:bx0, :by0, :bx1, :by1, {int(srid)})"
    sql = (f'"{table.name}".id IN (SELECT rowid FROM SpatialIndex WHERE f_table_name = \'{table.name}\' '
           f"AND f_geometry_column = 'geom' AND search_frame = {frame}) "
           f'AND MbrIntersects("{table.name}".geom, {frame})')
    return sql, {"bx0": x0, "by0": y0, "bx1": x1, "by1": y1}


def vacuum_index(conn: Connection, table: Table) -> None:
    conn.connection.driver_connection.execute("SELECT UpdateLayerStatistics(?, 'geom')", (table.name,))


def lookup_connection(conn: Connection) -> Connection:
    """The connection for single read-only lookups (:mod:`gridmap.store.components`): SpatiaLite's as it is."""
    return conn


def nearest_component_ids(conn: Connection, x: float, y: float, k: int, *, cond: str, params: dict[str, Any],
                          srid: int) -> list[int]:
    """Ids of the ``k`` components nearest to ``(x, y)`` through the SpatialIndex virtual table (``cond``: extra
    ``AND c.col = :col`` filters on ``components c`` with their ``params``): grow a square window until k points
    lie within its inscribed circle (so nothing outside the window can be nearer); ties by code."""
    from sqlalchemy import text

    if conn.execute(text("SELECT 1 FROM components LIMIT 1")).first() is None:
        return []
    r = 100.0
    while True:
        rows = conn.execute(text(
            "SELECT c.id, ST_X(c.geom), ST_Y(c.geom), c.code FROM components c WHERE c.id IN (SELECT rowid FROM "
            "SpatialIndex WHERE f_table_name = 'components' AND f_geometry_column = 'geom' AND search_frame = "
            f"BuildMbr(:x0, :y0, :x1, :y1, {int(srid)})){cond}"),
            {"x0": x - r, "y0": y - r, "x1": x + r, "y1": y + r, **params}).fetchall()
        if rows:
            arr = np.array([(row[1], row[2]) for row in rows], dtype=float)
            d = np.hypot(arr[:, 0] - x, arr[:, 1] - y)
            if (d <= r).sum() >= k or r > 2e6:
                order = np.lexsort(([row[3] for row in rows], d))[:k]
                return [rows[i][0] for i in order]
        elif r > 2e6:
            return []
        r *= 4


def geometry_srids(conn: Connection) -> dict[str, int]:
    """Table -> the SRID its ``geom`` column is registered with (``geometry_columns``; lower-case names)."""
    return {r[0].lower(): int(r[1]) for r in conn.execute(text(
        "SELECT f_table_name, srid FROM geometry_columns WHERE lower(f_geometry_column) = 'geom'"))}


def missing_spatial_indexes(conn: Connection, layers: Sequence[str]) -> list[str]:
    """The ``layers`` whose ``geom`` has no spatial index: not enabled, or its R*Tree table ``idx_<layer>_geom``
    is gone."""
    enabled = {r[0].lower(): int(r[1]) for r in conn.execute(text(
        "SELECT f_table_name, spatial_index_enabled FROM geometry_columns "
        "WHERE lower(f_geometry_column) = 'geom'"))}
    tables = {r[0].lower() for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))}
    return [layer for layer in layers if enabled.get(layer) != 1 or f"idx_{layer}_geom" not in tables]
