"""Versioned schema creation and migration.

Why not alembic: the store must create and migrate *files a user opened elsewhere* (a SpatiaLite file from
last year's release, a PostGIS database) without a migrations folder or an ini file on their machine, and
SpatiaLite geometry columns must be registered through SpatiaLite's own functions (``RecoverGeometryColumn``,
``CreateSpatialIndex``), which GeoAlchemy2 already does inside ``create_all``. A small ordered list of steps,
each run once inside one transaction and recorded in ``gridmap_meta.schema_version``, is all we need and is
testable on both backends. Each step receives the SQLAlchemy connection and the metadata of the *target* version.

To change the schema: bump :data:`gridmap.store.schema.SCHEMA_VERSION`, change the tables in ``schema.py``, and
append a step here that brings a file of the previous version up to date (``ALTER TABLE ... ADD COLUMN``,
``AddGeometryColumn`` ...). Tests open a file of every earlier version and migrate it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Connection, MetaData, select, text

from gridmap.errors import StoreError, message
from gridmap.store.schema import COUNT_COLUMNS, SCHEMA_VERSION

__all__ = ["MIGRATIONS", "current_version", "upgrade"]

log = logging.getLogger(__name__)


def _v1_create_all(conn: Connection, md: MetaData) -> None:
    # Create from a fresh, uncached copy of the tables: GeoAlchemy2's SQLite create events alter the Table objects
    # they create, and build_metadata() is cached per SRID, so a PostGIS store created after a SpatiaLite store in
    # the same process got no GiST indexes (found by `gridmap check`, tests/store/test_check.py).
    from gridmap.store.schema import build_metadata

    srid = md.tables["cells"].c.geom.type.srid
    build_metadata.__wrapped__(srid).create_all(conn)


def _v2_counts_bigint(conn: Connection, md: MetaData) -> None:
    """Household and population counts as 64-bit integers.

    PostGIS stores of version 1 hold them as ``integer`` (int4), which wrapped 3,000,000,000 households to
    -1,294,967,296: widen them to ``bigint`` (every stored value survives: int4 fits in int8).
    SQLite integers are 64-bit whatever the declared type, so on SpatiaLite the step changes nothing; the
    version still advances.
    """
    if conn.dialect.name != "postgresql":
        return
    for table, columns in COUNT_COLUMNS.items():
        have = dict(conn.execute(text(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = :t"), {"t": table}).fetchall())
        narrow = [c for c in columns if have.get(c) in ("integer", "smallint")]
        if narrow:
            conn.execute(text(f'ALTER TABLE "{table}" '
                              + ", ".join(f'ALTER COLUMN "{c}" TYPE bigint' for c in narrow)))
            log.info("widened %s.%s to bigint", table, ", ".join(narrow))


#: version -> step that brings version-1 up to version. Version 1 creates everything.
MIGRATIONS: dict[int, Callable[[Connection, MetaData], None]] = {1: _v1_create_all, 2: _v2_counts_bigint}


def current_version(conn: Connection, md: MetaData) -> int:
    """Schema version recorded in the store, 0 for an empty database."""
    meta = md.tables["gridmap_meta"]
    if not conn.dialect.has_table(conn, "gridmap_meta"):
        return 0
    row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
    return int(row[0]) if row else 0


def upgrade(conn: Connection, md: MetaData, *, srid: int) -> int:
    """Bring the store to :data:`SCHEMA_VERSION` inside the caller's transaction; return the old version."""
    version = current_version(conn, md)
    if version > SCHEMA_VERSION:
        raise StoreError(message("the store was written by a newer gridmap", got=f"schema version {version}",
                                 fix=f"upgrade gridmap (this one knows schema versions up to {SCHEMA_VERSION})"))
    meta = md.tables["gridmap_meta"]
    for step in range(version + 1, SCHEMA_VERSION + 1):
        log.info("migrating store schema to version %d", step)
        MIGRATIONS[step](conn, md)
        conn.execute(meta.delete().where(meta.c.key == "schema_version"))
        conn.execute(meta.insert().values(key="schema_version", value=str(step)))
    if version == 0:
        conn.execute(meta.insert().values(key="srid", value=str(srid)))
    return version
