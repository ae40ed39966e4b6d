"""The store handle: :func:`open_store` and :class:`Store` (open, migrate, read, validate, write, lock).

The package docstring (:mod:`gridmap.store`) describes the contract; the value conversion lives in
:mod:`gridmap.store.values`, the tables in :mod:`gridmap.store.schema`, the backends in
:mod:`gridmap.store.spatialite` and :mod:`gridmap.store.postgis`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import weakref
from collections.abc import Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from sqlalchemy import Connection, Table, select, text
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from gridmap.crs import check_crs, working_crs
from gridmap.errors import CRSError, Problem, StoreError, UsageError, ValidationError, message
from gridmap.store import migrations
from gridmap.store.access import (CREATE_HINT, DEFAULT_DB, OpenMode, check_postgis_writable, check_sqlite_file,
                                  resolve_url, sqlite_path)
from gridmap.store.schema import LAYERS, SCHEMA_VERSION, build_metadata, layer_spec
from gridmap.store.values import _bad_value_reason, _from_sql, _py, _to_sql

__all__ = ["Store", "open_store", "resolve_url", "DEFAULT_DB", "DEFAULT_LOCK_TIMEOUT_S", "BULK_INDEX_REBUILD_ROWS"]

log = logging.getLogger(__name__)

#: Loads of at least this many rows drop the spatial index and rebuild it once afterwards (SpatiaLite only: on
#: PostGIS dropping an index takes an ACCESS EXCLUSIVE lock that every reader would wait on).
BULK_INDEX_REBUILD_ROWS = 20_000
#: How long a writer waits for another writer of the same store before giving up with a clear error (seconds);
#: ``$GRIDMAP_LOCK_TIMEOUT_S`` or ``open_store(..., lock_timeout_s=)`` override it. On SpatiaLite it is also the
#: busy timeout of every connection.
DEFAULT_LOCK_TIMEOUT_S = 30.0

#: geometry type names by shapely type id (``shapely.get_type_id``; -1, a missing geometry, reads the last: None)
_TYPE_NAMES = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                        "MultiPolygon", "GeometryCollection", None], dtype=object)
_MULTI = {"MULTIPOLYGON": ("Polygon", "MultiPolygon"), "MULTILINESTRING": ("LineString", "MultiLineString"),
          "POINT": ("Point",)}


def _backend_for(url: str) -> ModuleType:
    if url.startswith("sqlite"):
        from gridmap.store import spatialite

        return spatialite
    from gridmap.store import postgis

    return postgis


class Store:
    """A gridmap database. Create with :func:`open_store`."""

    def __init__(self, url: str | os.PathLike | None = None, *, crs: Any = None, mode: str | OpenMode = "create",
                 lock_timeout_s: float | None = None):
        self.url = resolve_url(url)
        self.mode = OpenMode(mode)
        self.lock_timeout_s = _lock_timeout(lock_timeout_s)
        self._backend = _backend_for(self.url)
        file = sqlite_path(self.url) if self._backend.NAME == "spatialite" else None
        if file is not None:  # before the first connection, which would adopt or damage a foreign file
            check_sqlite_file(file, mode=self.mode)
        self.engine = self._backend.make_engine(self.url, read_only=self.read_only, lock_timeout_s=self.lock_timeout_s)
        # a store dropped without close() still releases its connections (SQLite checkpoints its WAL on the last)
        self._finalizer = weakref.finalize(self, self._backend.close_engine, self.engine)
        requested = working_crs(crs) if crs is not None else None
        try:
            if self.read_only:
                with self.engine.begin() as conn:
                    self.srid = self._init_read_only(conn)
            else:
                with self.engine.begin() as conn:  # a reader: an up-to-date store is opened without any write lock
                    self.srid = self._init(conn, requested, write=False)
                if self.srid is None:  # new or older store: create / migrate as the one writer
                    with self.transaction() as conn:
                        self.srid = self._init(conn, requested, write=True)
        except (OperationalError, DatabaseError) as exc:
            self._finalizer()
            raise StoreError(message("cannot open the database", got=f"{self.safe_url}: {exc.orig}",
                                     fix="check the path or URL, that the server runs, and your permissions")) from exc
        except BaseException:
            self._finalizer()
            raise
        self.crs = CRS.from_epsg(self.srid)
        self.metadata = build_metadata(self.srid)
        log.info("opened %s store %s (EPSG:%d, schema v%d)", self.backend, self.safe_url, self.srid, SCHEMA_VERSION)

    # -- setup -------------------------------------------------------------------------------------------

    def _init_read_only(self, conn: Connection) -> int:
        """The stored SRID, checking (without writing) that this is a gridmap store at the current schema."""
        probe = build_metadata(4326)
        version = migrations.current_version(conn, probe)
        if version == 0:
            raise StoreError(message("the database holds no gridmap store (no gridmap_meta table)",
                                     where=self.safe_url, fix=CREATE_HINT))
        if version != migrations.SCHEMA_VERSION:
            newer = version > migrations.SCHEMA_VERSION
            raise StoreError(message(
                "the store was written by a newer gridmap" if newer else "the store's schema is older than this "
                "gridmap's, and a read-only command does not migrate it", where=self.safe_url,
                got=f"schema version {version}, this gridmap uses {migrations.SCHEMA_VERSION}",
                fix="upgrade gridmap" if newer else "run `gridmap migrate` (or any writing command) once"))
        meta = probe.tables["gridmap_meta"]
        row = conn.execute(select(meta.c.value).where(meta.c.key == "srid")).first()
        if row is None:
            raise StoreError(message("the store records no working CRS (gridmap_meta has no srid)",
                                     where=self.safe_url, fix="run `gridmap check` and restore it from a backup"))
        return int(row[0])

    def _init(self, conn: Connection, requested: CRS | None, *, write: bool) -> int | None:
        """The store's SRID, creating or migrating the schema when ``write``; without ``write`` None when that
        is needed (so opening an up-to-date store never waits for a writer)."""
        if self._backend.NAME == "postgis":
            check_postgis_writable(conn, where=self.safe_url)
            if write:
                self._backend.ensure_postgis(conn)
        probe = build_metadata(4326)  # only gridmap_meta is read here; its layout does not depend on the SRID
        stored = None
        version = migrations.current_version(conn, probe)
        target = migrations.SCHEMA_VERSION
        if self.mode is OpenMode.WRITE and version == 0:
            raise StoreError(message("the database holds no gridmap store (no gridmap_meta table)",
                                     where=self.safe_url, fix=CREATE_HINT))
        if not write and (version != target or (self._backend.NAME == "postgis"
                                                 and not self._backend.has_postgis(conn))):
            if version > target:  # refused with its own message below, without taking the write lock
                migrations.upgrade(conn, build_metadata(4326), srid=4326)
            return None
        if version > 0:
            meta = probe.tables["gridmap_meta"]
            row = conn.execute(select(meta.c.value).where(meta.c.key == "srid")).first()
            stored = int(row[0]) if row else None
        if stored is not None:
            if requested is not None and requested.to_epsg() != stored:
                raise CRSError(message("the store's working CRS differs from the one requested",
                                       where=self.safe_url, got=f"store EPSG:{stored}, requested {requested.to_string()}",
                                       fix="omit --crs to use the store's CRS, or create a new store"))
            srid = stored
        else:
            crs = requested or working_crs()
            srid = crs.to_epsg()
            if srid is None:
                raise CRSError(message("a store's working CRS needs an EPSG code", got=crs.name,
                                       fix="use an EPSG-coded projected CRS for storage (e.g. EPSG:4548); local "
                                           "systems given as WKT are converted on import"))
        if self._backend.NAME == "spatialite":
            self._backend.ensure_srid(conn, srid)
        if write:
            migrations.upgrade(conn, build_metadata(srid), srid=srid)
        return srid

    @property
    def read_only(self) -> bool:
        """True when the store was opened with ``mode='read'``: every write is refused."""
        return self.mode is OpenMode.READ

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(message("the store was opened read-only", where=self.safe_url,
                                     fix="open it with mode='write' to change it"))

    @property
    def backend(self) -> str:
        """``'spatialite'`` or ``'postgis'``."""
        return self._backend.NAME

    @property
    def safe_url(self) -> str:
        """The URL without a password, for messages and logs."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    def table(self, layer: str) -> Table:
        """The SQLAlchemy table of a layer (for Core queries in other modules)."""
        layer_spec(layer)
        return self.metadata.tables[layer]

    def close(self) -> None:
        """Release every connection (call before pyogrio I/O on the same file in long sessions).

        A SpatiaLite file is checkpointed first: its write-ahead log is folded into the main file, so the closed
        ``.sqlite`` file is complete on its own (to copy, compare or open read-only). The store stays usable: a
        later read or write opens new connections.
        """
        self._backend.close_engine(self.engine)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.safe_url!r}, backend={self.backend!r}, crs='EPSG:{self.srid}')"

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """One read transaction (a consistent view for several reads; it takes no write lock and never waits for
        a writer): ``with store.reading() as conn: store.read(..., connection=conn)``."""
        with self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction: ``with store.transaction() as tx: store.write(..., connection=tx)``.

        Writers of one store run one at a time, readers never wait for them: on PostGIS a transaction-level
        advisory lock (``pg_advisory_xact_lock``, one per schema), on SpatiaLite ``BEGIN IMMEDIATE`` in WAL mode.
        A writer that finds another at work says so (a warning in the log: "another import is running on this
        store; waiting …") and waits up to ``lock_timeout_s``, then raises :class:`~gridmap.errors.StoreError`.
        A store opened read-only refuses.
        """
        self._check_writable()
        with self.engine.connect() as conn:
            conn.execution_options(gridmap_write=True)
            with conn.begin():
                self._backend.lock_writers(conn, timeout_s=self.lock_timeout_s, where=self.safe_url)
                yield conn

    # -- reading -----------------------------------------------------------------------------------------

    def count(self, layer: str, *, connection: Connection | None = None) -> int:
        t = self.table(layer)
        with self._conn(connection) as conn:
            return int(conn.execute(text(f'SELECT count(*) FROM "{t.name}"')).scalar())

    def counts(self) -> dict[str, int]:
        """Feature count of every layer."""
        with self.engine.connect() as conn:
            return {name: self.count(name, connection=conn) for name in LAYERS}

    def read(self, layer: str, *, where: Mapping[str, Any] | None = None,
             bbox: tuple[float, float, float, float] | None = None, columns: Sequence[str] | None = None,
             connection: Connection | None = None) -> gpd.GeoDataFrame:
        """Read a layer as a GeoDataFrame in the store's CRS.

        Parameters
        ----------
        where : mapping of column -> value or list of values (combined with AND).
        bbox : (xmin, ymin, xmax, ymax) in the store CRS; uses the spatial index.
        columns : attribute columns to return (default: all but the internal ``id``).
        """
        t = self.table(layer)
        attrs = [c.name for c in t.columns if c.name not in ("id", "geom")]
        if columns is not None:
            unknown = [c for c in columns if c not in attrs]
            if unknown:
                raise ValidationError(f"unknown column(s) for layer {layer!r}",
                                      [Problem(None, c, "not a column") for c in unknown],
                                      fix="use " + ", ".join(attrs))
            attrs = list(columns)
        clauses: list[str] = []
        params: dict[str, Any] = {}
        for i, (col, value) in enumerate((where or {}).items()):
            if col not in t.columns:
                raise ValidationError(f"cannot filter layer {layer!r}", [Problem(None, col, "not a column")])
            if isinstance(value, (list, tuple, set, np.ndarray, pd.Series, pd.Index)):
                vals = list(value)
                if not vals:
                    clauses.append("1 = 0")
                    continue
                names = [f"w{i}_{j}" for j in range(len(vals))]
                clauses.append(f'"{col}" IN (' + ", ".join(":" + n for n in names) + ")")
                params.update(dict(zip(names, (_py(v) for v in vals))))
            elif value is None:
                clauses.append(f'"{col}" IS NULL')
            else:
                clauses.append(f'"{col}" = :w{i}')
                params[f"w{i}"] = _py(value)
        if bbox is not None:
            sql, p = self._backend.bbox_clause(t, tuple(map(float, bbox)), self.srid)
            clauses.append(sql)
            params.update(p)
        cols_sql = ", ".join(f'"{t.name}"."{c}"' for c in attrs)
        sql = (f'SELECT {cols_sql}{", " if attrs else ""}{self._backend.AS_BINARY}("{t.name}".geom) AS __wkb '
               f'FROM "{t.name}"')
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f' ORDER BY "{t.name}".id'
        with self._conn(connection) as conn:
            result = conn.execute(text(sql), params)
            rows = result.fetchall()
        frame = pd.DataFrame.from_records(rows, columns=[*attrs, "__wkb"])
        geoms = shapely.from_wkb(frame.pop("__wkb").map(bytes).to_numpy()) if len(frame) else np.array([])
        for c in attrs:
            frame[c] = _from_sql(frame[c], t.columns[c].type)
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=self.crs), crs=self.crs)

    @contextlib.contextmanager
    def _conn(self, connection: Connection | None) -> Iterator[Connection]:
        if connection is not None:
            yield connection
        else:
            with self.engine.connect() as conn:
                yield conn

    # -- writing -----------------------------------------------------------------------------------------

    def validate(self, layer: str, frame: gpd.GeoDataFrame, *, mode: str = "append",
                 connection: Connection | None = None) -> list[Problem]:
        """Every problem that would stop :meth:`write` (empty list: the frame can be written as is)."""
        return self._prepare(layer, frame, mode=mode, connection=connection)[2]

    def write(self, layer: str, frame: gpd.GeoDataFrame, *, mode: str = "append",
              connection: Connection | None = None) -> int:
        """Write all rows of ``frame`` to ``layer`` atomically; return the number written.

        ``mode='append'`` adds rows (keys must be new); ``mode='replace'`` empties the layer first.
        Raises :class:`~gridmap.errors.ValidationError` listing every bad row; then nothing is written.
        """
        if mode not in ("append", "replace"):
            raise UsageError(message("mode must be 'append' or 'replace'", got=repr(mode)))
        self._check_writable()
        with (contextlib.nullcontext(connection) if connection is not None else self.transaction()) as conn:
            columns, (values, geoms), problems = self._prepare(layer, frame, mode=mode, connection=conn)
            if problems:
                raise ValidationError(f"{len(problems)} problem(s) in the {layer} frame; nothing was written",
                                      problems, fix="correct the rows, or import through gridmap.io to keep the "
                                                    "good rows and get a rejection report")
            t = self.table(layer)
            if mode == "replace":
                conn.execute(t.delete())
            n = len(geoms)
            if n:
                rebuild = n >= BULK_INDEX_REBUILD_ROWS and self._backend.REBUILD_INDEXES
                try:
                    if rebuild:  # b-trees built once after the load beat row-by-row maintenance (same transaction)
                        btrees = [i for i in t.indexes if "geom" not in i.columns]
                        for idx in btrees:
                            idx.drop(conn)
                    self._backend.bulk_insert(conn, t, columns, values, geoms, self.srid, rebuild_index=rebuild)
                    if rebuild:
                        for idx in btrees:
                            idx.create(conn)
                except IntegrityError as exc:  # a race with another writer; the transaction rolls back
                    raise StoreError(message(f"the {layer} write conflicted with the database",
                                             got=str(exc.orig).splitlines()[0], fix="retry the import")) from exc
        log.info("wrote %d %s (%s)", n, layer, mode)
        return n

    def clear(self, layers: Sequence[str], *, connection: Connection | None = None) -> None:
        """Empty the given layers (one transaction)."""
        self._check_writable()
        with (contextlib.nullcontext(connection) if connection is not None else self.transaction()) as conn:
            for layer in layers:
                conn.execute(self.table(layer).delete())

    def delete(self, layer: str, *, where: Mapping[str, Any], connection: Connection | None = None) -> int:
        """Delete rows matching ``where`` (column -> value or list); return how many."""
        t = self.table(layer)
        if not where:
            raise UsageError(message("delete needs a where= filter", fix="use write(mode='replace') to empty a layer"))
        self._check_writable()
        cond = []
        for col, value in where.items():
            c = t.columns[col]
            cond.append(c.in_([_py(v) for v in value]) if isinstance(value, (list, tuple, set)) else c == _py(value))
        with (contextlib.nullcontext(connection) if connection is not None else self.transaction()) as conn:
            return conn.execute(t.delete().where(*cond)).rowcount

    def _prepare(self, layer: str, frame: gpd.GeoDataFrame, *, mode: str,
                 connection: Connection | None) -> tuple[list[str], tuple[list[list[Any]], np.ndarray], list[Problem]]:
        """Validate and convert: (column names, (column values, geometries), problems)."""
        spec = layer_spec(layer)
        if not isinstance(frame, gpd.GeoDataFrame):
            raise TypeError(message(f"{layer} must be a GeoDataFrame", got=type(frame).__name__))
        check_crs(frame, where=f"the {layer} frame", expected=self.crs)
        t = self.table(layer)
        problems: list[Problem] = []
        cols = [c for c in t.columns if c.name not in ("id", "geom")]
        present = [c for c in cols if c.name in frame.columns]
        for c in cols:
            if c.name not in frame.columns and not c.nullable and c.server_default is None and c.default is None:
                problems.append(Problem(None, c.name, "required column is missing"))
        if problems:
            return [], ([], np.array([])), problems
        n = len(frame)
        labels = frame.index
        values: list[list[Any]] = []
        for c in present:
            converted, bad = _to_sql(frame[c.name], c.type)
            for i in np.flatnonzero(bad):
                problems.append(Problem(labels[i], c.name, _bad_value_reason(frame[c.name].iloc[i], c.type),
                                        frame[c.name].iloc[i]))
            if not c.nullable and c.server_default is None:
                for i in np.flatnonzero(pd.isna(frame[c.name]).to_numpy() & ~bad):
                    problems.append(Problem(labels[i], c.name, "value is required"))
            values.append(converted)
        geoms = np.asarray(frame.geometry.values, dtype=object)
        missing = shapely.is_missing(geoms) | shapely.is_empty(np.where(shapely.is_missing(geoms), None, geoms))
        for i in np.flatnonzero(missing):
            problems.append(Problem(labels[i], "geometry", "geometry is missing or empty"))
        allowed = _MULTI[spec.geometry_type]
        types = _TYPE_NAMES[shapely.get_type_id(geoms)]  # (id -1, missing: the last name, None)
        wrong = ~missing & ~np.isin(types, allowed)
        for i in np.flatnonzero(wrong):
            problems.append(Problem(labels[i], "geometry", f"geometry must be {' or '.join(allowed)}", types[i]))
        ok = ~missing & ~wrong
        if spec.geometry_type != "POINT":
            invalid = np.zeros(n, dtype=bool)
            invalid[ok] = ~shapely.is_valid(geoms[ok])
            for i in np.flatnonzero(invalid):
                problems.append(Problem(labels[i], "geometry", "invalid geometry: " + shapely.is_valid_reason(geoms[i]),
                                        None))
        # keys: unique inside the frame and, when appending, new to the store
        key_cols = [k for k in spec.key if k in frame.columns]
        if len(key_cols) == len(spec.key) and n:
            keys = frame[list(spec.key)]
            if any(pd.api.types.infer_dtype(keys[k], skipna=False) != "string" for k in spec.key):
                keys = keys.astype(str)  # (text already, e.g. parsed complaints: compared as it is, a copy saved)
            dup = keys.duplicated(keep="first").to_numpy()
            for i in np.flatnonzero(dup):
                problems.append(Problem(labels[i], "/".join(spec.key), "duplicate key inside the input",
                                        "/".join(keys.iloc[i])))
            if mode == "append":
                existing = self._existing_keys(layer, connection)
                if existing:
                    tuples = list(map(tuple, keys.to_numpy()))
                    for i, k in enumerate(tuples):
                        if k in existing and not dup[i]:
                            problems.append(Problem(labels[i], "/".join(spec.key), "key already in the store",
                                                    "/".join(k)))
        if problems:
            return [], ([], np.array([])), problems
        if spec.geometry_type.startswith("MULTI"):
            single = types == allowed[0]
            if single.any():
                geoms = geoms.copy()
                geoms[single] = shapely.multipolygons(geoms[single][:, None]) if allowed[0] == "Polygon" \
                    else shapely.multilinestrings(geoms[single][:, None])
        return [c.name for c in present], (values, geoms), []

    def _existing_keys(self, layer: str, connection: Connection | None) -> set[tuple[str, ...]]:
        spec = layer_spec(layer)
        cols = ", ".join(f'"{k}"' for k in spec.key)
        with self._conn(connection) as conn:
            return {tuple(str(v) for v in r) for r in conn.execute(text(f'SELECT {cols} FROM "{layer}"'))}


def open_store(url: str | os.PathLike | None = None, *, crs: Any = None, mode: str | OpenMode = "create",
               lock_timeout_s: float | None = None) -> Store:
    """Open the store at ``url`` (path, ``sqlite:///``, ``postgresql://``).

    ``mode`` (:class:`~gridmap.store.access.OpenMode`): ``'create'`` (default) creates a missing store and
    migrates an old one; ``'write'`` needs an existing gridmap store (migrated if old); ``'read'`` needs an
    existing store at the current schema and opens a read-only connection that cannot change it. A file that is
    not a gridmap store (0 bytes, not SQLite, truncated, another program's database) is refused in every mode.

    ``lock_timeout_s``: how long a write waits for another writer of the store (default
    ``$GRIDMAP_LOCK_TIMEOUT_S`` or :data:`DEFAULT_LOCK_TIMEOUT_S`).
    """
    return Store(url, crs=crs, mode=mode, lock_timeout_s=lock_timeout_s)


def _lock_timeout(value: float | None) -> float:
    raw: Any = value if value is not None else os.environ.get("GRIDMAP_LOCK_TIMEOUT_S", DEFAULT_LOCK_TIMEOUT_S)
    try:
        out = float(raw)
    except (TypeError, ValueError):
        out = float("nan")
    if not np.isfinite(out) or out < 0:
        raise StoreError(message("the lock timeout must be a number of seconds (0 or more)", got=repr(raw),
                                 where="lock_timeout_s / $GRIDMAP_LOCK_TIMEOUT_S", fix="e.g. 30"))
    return out


