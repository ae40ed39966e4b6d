"""Events in PostGIS: a table partitioned by month, loaded by COPY, aggregated in SQL.

``events`` is ``PARTITION BY RANGE (received_at)`` with one partition per month (created as batches need them),
indexes on ``(cell_code, received_at)``, ``(community_code)``, ``(street_code)`` and ``source_id``; its point is
``geom geometry(Point, SRID)`` built in the database from ``x``/``y``. A batch is one transaction: COPY into a
temporary table, insert the rows whose ``source_id`` is not stored yet, and record the batch (with where its
source stopped, for resuming) in ``events_batches`` — all or nothing. Writers take an advisory lock, so two
imports never interleave.

Counts are ``GROUP BY`` queries (per unit, per month or week, per cube slice): only the aggregates leave the
database, never the rows.
"""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import text

from gridmap.errors import StoreError, ValidationError, message
from gridmap.events.schema import event_schema

__all__ = ["PostgisEvents"]

log = logging.getLogger(__name__)

_SQL_TYPES = {"string": "text", "timestamp[us]": "timestamp", "double": "double precision", "bool": "boolean",
              "int8": "smallint", "int32": "integer"}
_LOCK_KEY = 0x6772646D  # 'grdm'


def _sql_type(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        return "text"
    return _SQL_TYPES[str(t)]


class PostgisEvents:
    """The events table of a PostGIS database (``engine``: a SQLAlchemy engine; ``srid`` of the store)."""

    def __init__(self, engine: Any, *, srid: int, table: str = "events"):
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", table):
            raise ValidationError(message("events table names are lower-case letters, digits and _", got=table))
        self.engine, self.srid, self.table = engine, int(srid), table
        self.schema = event_schema()

    # -- layout ------------------------------------------------------------------------------------------------
    def create(self) -> None:
        """Create the partitioned table, its indexes and the batch log (if missing)."""
        cols = ",\n  ".join(f'"{f.name}" {_sql_type(f.type)}{"" if f.nullable else " NOT NULL"}' for f in self.schema)
        t = self.table
        with self.engine.begin() as conn:
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})"))
            conn.execute(text(f'CREATE TABLE IF NOT EXISTS "{t}" (\n  {cols},\n  geom geometry(Point, {self.srid})\n)'
                              f" PARTITION BY RANGE (received_at)"))
            for name, expr in ((f"{t}_cell_time", "cell_code, received_at"), (f"{t}_time", "received_at")):
                conn.execute(text(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{t}" ({expr})'))
            # the stored ids in one unpartitioned table: one index probe per new row (a unique index on the
            # partitioned table would have to include the partition key, and a probe would visit every month)
            conn.execute(text(f'CREATE TABLE IF NOT EXISTS "{t}_ids" (source_id text PRIMARY KEY)'))
            conn.execute(text(f'CREATE TABLE IF NOT EXISTS "{t}_batches" (batch serial PRIMARY KEY, rows bigint NOT '
                              f"NULL, source jsonb, committed_at timestamptz NOT NULL DEFAULT now())"))

    def exists(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT to_regclass(:t)"), {"t": self.table}).scalar() is not None

    # -- the sink interface of gridmap.events.importer ----------------------------------------------------------
    def recover(self) -> int:
        """Nothing to clean: a batch is one transaction."""
        self.create()
        return 0

    def last_source(self, path: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(text(f'SELECT source FROM "{self.table}_batches" WHERE source->>\'path\' = :p '
                                    "ORDER BY batch DESC LIMIT 1"), {"p": path}).first()
        return None if row is None else (row[0] if isinstance(row[0], dict) else json.loads(row[0]))

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(f'SELECT count(*) FROM "{self.table}"')).scalar())

    def write_batch(self, table: pa.Table, *, source: dict | None = None,
                    hashes: Any = None) -> tuple[int, int]:
        """COPY ``table`` in and keep the rows whose ``source_id`` is new; one transaction. (written, stored)."""
        n = table.num_rows
        if not n:
            return 0, 0
        names = [f.name for f in self.schema]
        plain = pa.table({f.name: (table.column(f.name).cast(pa.string()) if pa.types.is_dictionary(f.type)
                                   else table.column(f.name)) for f in self.schema})
        buf = io.BytesIO()
        pacsv.write_csv(plain, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        months = np.unique(np.asarray(table.column("received_at").to_numpy(), dtype="datetime64[M]"))
        cols = ", ".join(f'"{c}"' for c in names)
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
            cur.execute(f'CREATE TEMP TABLE stage (LIKE "{self.table}" INCLUDING DEFAULTS) ON COMMIT DROP')
            with cur.copy(f"COPY stage ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buf.getbuffer())
            for m in np.datetime_as_string(months, unit="M"):
                self._partition_raw(cur, str(m))
            cur.execute(f'WITH new AS (INSERT INTO "{self.table}_ids" SELECT source_id FROM stage '
                        f"ON CONFLICT DO NOTHING RETURNING source_id) "
                        f'INSERT INTO "{self.table}" ({cols}, geom) SELECT {cols}, '
                        f"ST_SetSRID(ST_MakePoint(x, y), {self.srid}) FROM stage s JOIN new USING (source_id)")
            written = cur.rowcount
            if written:
                cur.execute(f'INSERT INTO "{self.table}_batches" (rows, source) VALUES (%s, %s)',
                            (written, json.dumps(source or {})))
            raw.commit()
        except Exception:
            raw.rollback()
            raise
        finally:
            raw.close()
        return written, n - written

    def _partition_raw(self, cur: Any, month: str) -> None:
        y, m = (int(v) for v in month.split("-"))
        nxt = f"{y + (m == 12):04d}-{m % 12 + 1:02d}-01"
        cur.execute(f'CREATE TABLE IF NOT EXISTS "{self.table}_{y:04d}_{m:02d}" PARTITION OF "{self.table}" '
                    f"FOR VALUES FROM ('{month}-01') TO ('{nxt}')")

    # -- aggregates in SQL ----------------------------------------------------------------------------------------
    def _where(self, sel: Any) -> tuple[str, dict]:
        conds, params = [], {}
        if sel.start is not None:
            conds.append("received_at >= :start")
            params["start"] = sel.start.to_pydatetime()
        if sel.end is not None:
            conds.append("received_at < :end")
            params["end"] = sel.end.to_pydatetime()
        if sel.categories is not None:
            conds.append("category = ANY(:cats)")
            params["cats"] = list(sel.categories)
        if sel.keywords is not None:
            likes = []
            for k, kw in enumerate(sel.keywords):
                likes.append(f"strpos(text, :kw{k}) > 0")
                params[f"kw{k}"] = kw
            conds.append("(" + " OR ".join(likes) + ")")
        return (" WHERE " + " AND ".join(conds)) if conds else "", params

    def counts(self, *, column: str, period: str | None, sel: Any) -> pd.DataFrame:
        """``GROUP BY`` unit code (and month/week start): columns code, [period,] count."""
        if column not in ("cell_code", "community_code", "street_code"):
            raise ValidationError(message("not a code column", got=column))
        where, params = self._where(sel)
        key = f"coalesce({column}, '(unassigned)')"
        if period is None:
            sql = f'SELECT {key} AS code, count(*) AS count FROM "{self.table}"{where} GROUP BY 1'
        else:
            sql = (f"SELECT {key} AS code, date_trunc('{period}', received_at)::date AS period, count(*) AS count "
                   f'FROM "{self.table}"{where} GROUP BY 1, 2')
        types = {"code": pa.string(), "count": pa.int64()} if period is None else \
            {"code": pa.string(), "period": pa.date32(), "count": pa.int64()}
        return self._fetch(sql, params, types)

    def cube_counts(self, *, start: pd.Timestamp, stop: pd.Timestamp, freq: str, sel: Any) -> pd.DataFrame:
        """``GROUP BY`` cell and slice (``k``: weeks since ``start``, or months since its month)."""
        where, params = self._where(sel)
        params.update({"t0": start.to_pydatetime(), "stop": stop.to_pydatetime()})
        extra = " AND ".join(["received_at >= :t0", "received_at < :stop"])
        where = (where + " AND " + extra) if where else " WHERE " + extra
        if freq == "week":  # whole days since the first slice, in 7-day steps (received_at >= t0 here)
            k = "((received_at::date - CAST(:t0 AS date)) / 7)"
            if start != start.normalize():
                k = "floor(extract(epoch FROM (received_at - :t0)) / 604800)::int"
        else:
            params["m0"] = start.year * 12 + start.month - 1
            k = "(extract(year FROM received_at)::int * 12 + extract(month FROM received_at)::int - 1 - :m0)"
        sql = f'SELECT cell_code, {k} AS k, count(*) AS count FROM "{self.table}"{where} GROUP BY 1, 2'
        return self._fetch(sql, params, {"cell_code": pa.string(), "k": pa.int32(), "count": pa.int64()})

    def _fetch(self, sql: str, params: dict, types: dict[str, pa.DataType]) -> pd.DataFrame:
        """An aggregate query's rows through ``COPY (...) TO STDOUT`` read by pyarrow (a million groups in a
        fraction of the time of fetching Python tuples)."""
        from psycopg import ClientCursor

        pg_sql = re.sub(r"(?<!:):([a-z_][a-z0-9_]*)", r"%(\1)s", sql)  # :name -> %(name)s (not ::casts)
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            bound = ClientCursor(raw).mogrify(pg_sql, params)  # values quoted by psycopg (lists become arrays)
            buf = io.BytesIO()
            with raw.cursor() as cur, cur.copy(f"COPY ({bound}) TO STDOUT WITH (FORMAT csv)") as copy:
                for block in copy:
                    buf.write(block)
        buf.seek(0)
        if not buf.getbuffer().nbytes:
            return pa.schema(list(types.items())).empty_table().to_pandas()
        table = pacsv.read_csv(buf, read_options=pacsv.ReadOptions(column_names=list(types)),
                               convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True))
        return table.to_pandas(types_mapper=None).astype({k: object for k, v in types.items() if v == pa.string()})

    def read(self, *, columns: list[str] | None = None) -> pd.DataFrame:
        """All rows (for tests and small tables; analyses aggregate in SQL)."""
        cols = ", ".join(f'"{c}"' for c in (columns or [f.name for f in self.schema]))
        with self.engine.connect() as conn:
            res = conn.execute(text(f'SELECT {cols} FROM "{self.table}"'))
            return pd.DataFrame(res.fetchall(), columns=list(res.keys()))


def check_postgis_events(engine: Any) -> None:
    """Refuse a database without PostGIS (the events' geometry column needs it)."""
    with engine.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first() is None:
            raise StoreError(message("the database has no PostGIS extension", fix="CREATE EXTENSION postgis"))
