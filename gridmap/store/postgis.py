"""PostGIS backend: the production store, chosen by a ``postgresql://`` URL. Bulk loads use COPY.

Concurrent writers: bulk loads keep every index (dropping one inside the transaction takes an ACCESS
EXCLUSIVE lock that every reader, even ``gridmap info``, waits on until commit, and two loads that drop indexes
deadlock), so a load only takes ROW EXCLUSIVE locks and readers go on reading the last committed state. Writers
of one store (one schema) are serialised by a transaction-level advisory lock: a second writer logs "another
import is running on this store; waiting …" and waits up to the store's lock timeout, then fails with a
:class:`~gridmap.errors.StoreError`.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.exc import OperationalError

from gridmap.errors import StoreError, message

NAME = "postgis"
AS_BINARY = "ST_AsBinary"
#: The SQL function that reads a geometry's SRID.
SRID_FUNCTION = "ST_SRID"
#: How the health check names a missing spatial index ({layer} is filled in): Chinese, English.
MISSING_INDEX = ("缺少空间索引（GiST）", "the spatial index (GiST on geom) is missing")
#: Never drop indexes for a big load (ACCESS EXCLUSIVE: readers would wait): COPY maintains them.
REBUILD_INDEXES = False

log = logging.getLogger(__name__)

#: The advisory-lock key of a store: one per database schema (a test's schema, or ``public``).
_LOCK_KEY = "hashtextextended('gridmap writer ' || current_schema(), 0)"


def normalise_url(url: str) -> str:
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, *, read_only: bool = False, lock_timeout_s: float = 30.0) -> Engine:
    """A psycopg engine; ``read_only`` makes every transaction of its sessions ``READ ONLY``
    (``lock_timeout_s`` is used per write transaction, see :func:`lock_writers`)."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise StoreError(message("PostGIS needs the psycopg driver", got="not installed",
                                 fix="pip install 'gridmap[postgis]'")) from exc
    engine = create_engine(normalise_url(url), pool_pre_ping=True)
    if read_only:
        @event.listens_for(engine, "connect")
        def _read_only(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi_conn.commit()
    return engine


def close_engine(engine: Engine) -> None:
    engine.dispose()


def has_postgis(conn: Connection) -> bool:
    return bool(conn.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")).scalar())


def lock_writers(conn: Connection, *, timeout_s: float, where: str) -> None:
    """Take the store's writer lock for this transaction (released at commit or rollback).

    Free: taken at once. Held by another writer: a warning says so and the wait lasts up to ``timeout_s``
    (``lock_timeout``); past it, a :class:`StoreError`.
    """
    if conn.execute(text(f"SELECT pg_try_advisory_xact_lock({_LOCK_KEY})")).scalar():
        return
    log.warning("another import is running on this store (%s); waiting up to %.0f s for it to finish…", where,
                timeout_s)
    start = time.monotonic()
    conn.execute(text(f"SET LOCAL lock_timeout = '{max(int(timeout_s * 1000), 1)}ms'"))
    try:
        conn.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})"))
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        raise StoreError(message("another import is still running on this store; nothing was written",
                                 where=where, got=f"waited {time.monotonic() - start:.0f} s for its lock",
                                 fix="try again when it finishes, or wait longer with $GRIDMAP_LOCK_TIMEOUT_S / "
                                     "open_store(..., lock_timeout_s=)")) from exc
    conn.execute(text("SET LOCAL lock_timeout = DEFAULT"))
    log.info("the other import finished after %.1f s; writing", time.monotonic() - start)


def ensure_postgis(conn: Connection) -> None:
    has = conn.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")).scalar()
    if not has:
        try:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        except Exception as exc:  # sqlalchemy wraps the driver error; anything here means no PostGIS
            raise StoreError(message("the database has no PostGIS extension and it cannot be created",
                                     got=str(exc).splitlines()[0],
                                     fix="as a superuser: CREATE EXTENSION postgis;")) from exc


def _ewkb(geoms: np.ndarray, srid: int) -> list[bytes]:
    """EWKB with SRID (bytes), made by patching the header of little-endian ISO WKB (2-D types 1-7).

    EWKB = byte order, type | 0x20000000 (SRID flag), SRID, body. Patching the bytes avoids copying every
    geometry through ``shapely.set_srid`` (measured: 0.4 s per 160,000 polygons) and hex encoding (3x slower
    than binary WKB).
    """
    srid_b = np.array([srid], dtype="<i4").tobytes()
    out = shapely.to_wkb(geoms, hex=False, byte_order=1, output_dimension=2)
    return [b[:1] + (int.from_bytes(b[1:5], "little") | 0x20000000).to_bytes(4, "little") + srid_b + b[5:]
            for b in out.tolist()]


def _hex_ewkb(geoms: np.ndarray, srid: int) -> list[str]:
    """Hex EWKB with SRID (the text form of :func:`_ewkb`), patched in the hex strings of ISO WKB."""
    srid_hex = np.array([srid], dtype="<i4").tobytes().hex().upper()
    out = shapely.to_wkb(geoms, hex=True, byte_order=1, output_dimension=2)
    return [h[:8] + "20" + srid_hex + h[10:] for h in out.tolist()]


#: Rows per COPY chunk: Python encodes chunk k+1 while the server parses chunk k (2 cores, both busy).
COPY_CHUNK_ROWS = 20_000


def _copy_type(col: Any) -> str:
    """The PostgreSQL type name psycopg dumps a column's values as, in binary COPY."""
    from sqlalchemy import BigInteger, Boolean, Date, DateTime, Float, Integer, SmallInteger

    t = col.type
    if isinstance(t, Boolean):
        return "bool"
    if isinstance(t, BigInteger):
        return "int8"
    if isinstance(t, SmallInteger):
        return "int2"
    if isinstance(t, Integer):
        return "int4"
    if isinstance(t, Float):
        return "float8"
    if isinstance(t, DateTime):
        return "timestamptz" if getattr(t, "timezone", False) else "timestamp"
    if isinstance(t, Date):
        return "date"
    return "text"


def _binary_values(kind: str, vals: list[Any]) -> list[Any]:
    """DB-API values of the store's converter (ints for booleans, 'YYYY-mm-dd HH:MM:SS' text for times) as the
    Python objects psycopg dumps in binary."""
    import pandas as pd

    if kind == "bool":
        return [None if v is None else bool(v) for v in vals]
    if kind in ("timestamp", "date"):
        ts = pd.to_datetime(pd.Series(vals, dtype=object), format="%Y-%m-%d %H:%M:%S" if kind == "timestamp"
                            else "%Y-%m-%d")
        obj = ts.dt.to_pydatetime() if kind == "timestamp" else ts.dt.date.to_numpy()
        return [None if pd.isna(v) else v for v in obj]
    return vals


def bulk_insert(conn: Connection, table: Table, columns: Sequence[str], values: list[list[Any]],
                geoms: np.ndarray, srid: int, *, rebuild_index: bool) -> None:
    """COPY ... FROM STDIN, streamed in chunks so encoding overlaps the server.

    Indexes stay in place whatever the size (``rebuild_index`` is ignored here, see the module docstring): the
    load takes no lock a reader waits on.

    Two encodings, each where it is faster (measured in benchmarks/bench_store.py, same run): points go as CSV
    with hex EWKB (the C csv writer handles a million small rows faster than per-row binary COPY); polygons and
    lines go as binary COPY with raw EWKB bytes, received by the geometry column's type (their hex WKB is large:
    encoding and parsing it cost more than the rows).
    """
    from psycopg.copy import QueuedLibpqWriter

    cols = ", ".join(f'"{c}"' for c in (*columns, "geom"))
    cur = conn.connection.driver_connection.cursor()
    n = len(geoms)
    points = bool(n) and bool((shapely.get_type_id(geoms) == 0).all())
    # QueuedLibpqWriter sends each chunk from a worker thread (libpq releases the GIL), so encoding chunk k+1
    # in Python overlaps the server parsing chunk k
    if points:
        with cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN WITH (FORMAT csv, NULL \'\\N\')',
                      writer=QueuedLibpqWriter(cur)) as copy:
            for start in range(0, n, COPY_CHUNK_ROWS):
                stop = min(start + COPY_CHUNK_ROWS, n)
                buf = io.StringIO()
                csv.writer(buf, lineterminator="\n").writerows(
                    zip(*(["\\N" if v is None else v for v in col[start:stop]] for col in values),
                        _hex_ewkb(geoms[start:stop], srid)))
                copy.write(buf.getvalue())
    else:
        kinds = [_copy_type(table.columns[c]) for c in columns]
        values = [_binary_values(k, v) for k, v in zip(kinds, values)]
        with cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN WITH (FORMAT binary)',
                      writer=QueuedLibpqWriter(cur)) as copy:
            copy.set_types([*kinds, "bytea"])  # bytea: the raw EWKB bytes, received by the geometry column's type
            for start in range(0, n, COPY_CHUNK_ROWS):
                stop = min(start + COPY_CHUNK_ROWS, n)
                for row in zip(*(col[start:stop] for col in values), _ewkb(geoms[start:stop], srid)):
                    copy.write_row(row)
    cur.execute(f'ANALYZE "{table.name}"')  # SHARE UPDATE EXCLUSIVE: readers and writers of rows go on


def bbox_clause(table: Table, bbox: tuple[float, float, float, float], srid: int) -> tuple[str, dict]:
    # && uses the GiST index (float4 boxes, so a little loose); ST_Intersects makes it exact
    env = f"ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, {int(srid)})"
    sql = f'"{table.name}".geom && {env} AND ST_Intersects("{table.name}".geom, {env})'
    x0, y0, x1, y1 = bbox
    return sql, {"bx0": x0, "by0": y0, "bx1": x1, "by1": y1}


def vacuum_index(conn: Connection, table: Table) -> None:
    conn.execute(text(f'ANALYZE "{table.name}"'))


def lookup_connection(conn: Connection) -> Connection:
    """The connection for single read-only lookups (:mod:`gridmap.store.components`): autocommit, so no
    BEGIN/ROLLBACK round trips around the one SELECT (a third of a lookup's latency); the pool restores the
    isolation level on return."""
    return conn.execution_options(isolation_level="AUTOCOMMIT")


def nearest_component_ids(conn: Connection, x: float, y: float, k: int, *, cond: str, params: dict[str, Any],
                          srid: int) -> list[int]:
    """Ids of (at least) the ``k`` components nearest to ``(x, y)`` by a KNN index scan (``cond``: extra
    ``AND c.col = :col`` filters on ``components c`` with their ``params``). The scan has no secondary key: a few
    more than ``k`` come back, for the caller to sort ties by code."""
    return [r[0] for r in conn.execute(text(
        f"SELECT c.id FROM components c WHERE TRUE{cond} "
        f"ORDER BY c.geom <-> ST_SetSRID(ST_MakePoint(:x, :y), {int(srid)}) LIMIT :k"),
        {"x": x, "y": y, "k": k + 8, **params})]


def geometry_srids(conn: Connection) -> dict[str, int]:
    """Table -> the SRID its ``geom`` column is registered with (``geometry_columns`` of the current schema)."""
    return {r[0]: int(r[1]) for r in conn.execute(text(
        "SELECT f_table_name, srid FROM geometry_columns WHERE f_table_schema = current_schema() "
        "AND f_geometry_column = 'geom'"))}


def missing_spatial_indexes(conn: Connection, layers: Sequence[str]) -> list[str]:
    """The ``layers`` whose ``geom`` has no GiST index in the current schema."""
    have = {r[0] for r in conn.execute(text(
        "SELECT tablename FROM pg_indexes WHERE schemaname = current_schema() "
        "AND indexdef ILIKE '%USING gist%geom%'"))}
    return [layer for layer in layers if layer not in have]
