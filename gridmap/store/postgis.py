"""PostGIS backend: the production store, chosen by a ``postgresql://`` URL. Bulk loads use COPY."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from sqlalchemy import Connection, Engine, Table, create_engine, text

from gridmap.errors import StoreError, message

NAME = "postgis"
AS_BINARY = "ST_AsBinary"


def normalise_url(url: str) -> str:
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise StoreError(message("PostGIS needs the psycopg driver", got="not installed",
                                 fix="pip install 'gridmap[postgis]'")) from exc
    return create_engine(normalise_url(url), pool_pre_ping=True)


def ensure_postgis(conn: Connection) -> None:
    has = conn.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")).scalar()
    if not has:
        try:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        except Exception as exc:  # sqlalchemy wraps the driver error; anything here means no PostGIS
            raise StoreError(message("the database has no PostGIS extension and it cannot be created",
                                     got=str(exc).splitlines()[0],
                                     fix="as a superuser: CREATE EXTENSION postgis;")) from exc


def _hex_ewkb(geoms: np.ndarray, srid: int) -> list[str]:
    """Hex EWKB with SRID, made by patching the header of little-endian ISO WKB (2-D types 1-7).

    EWKB = byte order, type | 0x20000000 (SRID flag), SRID, body. Patching the hex string avoids copying every
    geometry through ``shapely.set_srid`` (measured: 0.4 s per 160,000 polygons).
    """
    srid_hex = np.array([srid], dtype="<i4").tobytes().hex().upper()
    out = shapely.to_wkb(geoms, hex=True, byte_order=1, output_dimension=2)
    return [h[:8] + "20" + srid_hex + h[10:] for h in out.tolist()]


#: Rows per COPY chunk: Python encodes chunk k+1 while the server parses chunk k (2 cores, both busy).
COPY_CHUNK_ROWS = 20_000


def bulk_insert(conn: Connection, table: Table, columns: Sequence[str], values: list[list[Any]],
                geoms: np.ndarray, srid: int, *, rebuild_index: bool) -> None:
    """COPY ... FROM STDIN (CSV), geometry as hex EWKB, streamed in chunks so encoding overlaps the server."""
    from psycopg.copy import QueuedLibpqWriter

    cols = ", ".join(f'"{c}"' for c in (*columns, "geom"))
    cur = conn.connection.driver_connection.cursor()
    idx = f"idx_{table.name}_geom"
    if rebuild_index:
        cur.execute(f'DROP INDEX IF EXISTS "{idx}"')
    n = len(geoms)
    # QueuedLibpqWriter sends each chunk from a worker thread (libpq releases the GIL), so encoding chunk k+1
    # in Python overlaps the server parsing chunk k
    with cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN WITH (FORMAT csv, NULL \'\\N\')',
                  writer=QueuedLibpqWriter(cur)) as copy:
        for start in range(0, n, COPY_CHUNK_ROWS):
            stop = min(start + COPY_CHUNK_ROWS, n)
            ewkb = _hex_ewkb(geoms[start:stop], srid)
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerows(zip(*(["\\N" if v is None else v for v in col[start:stop]] for col in values),
                                 ewkb))
            copy.write(buf.getvalue())
    if rebuild_index:
        cur.execute(f'CREATE INDEX IF NOT EXISTS "{idx}" ON "{table.name}" USING gist (geom)')
    cur.execute(f'ANALYZE "{table.name}"')


def bbox_clause(table: Table, bbox: tuple[float, float, float, float], srid: int) -> tuple[str, dict]:
    # && uses the GiST index (float4 boxes, so a little loose); ST_Intersects makes it exact
    env = f"ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, {int(srid)})"
    sql = f'"{table.name}".geom && {env} AND ST_Intersects("{table.name}".geom, {env})'
    x0, y0, x1, y1 = bbox
    return sql, {"bx0": x0, "by0": y0, "bx1": x1, "by1": y1}


def vacuum_index(conn: Connection, table: Table) -> None:
    conn.execute(text(f'ANALYZE "{table.name}"'))
