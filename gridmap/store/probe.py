"""What a store URL holds, read without opening (or creating) the store: :func:`stored_srid`."""

from __future__ import annotations

import os

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, OperationalError

from gridmap.errors import StoreError, message
from gridmap.store.access import resolve_url
from gridmap.store.database import _backend_for
from gridmap.store.access import OpenMode, check_sqlite_file, sqlite_path
from gridmap.store.migrations import current_version
from gridmap.store.schema import build_metadata

__all__ = ["stored_srid"]


def stored_srid(url: str | os.PathLike | None = None) -> int | None:
    """The EPSG code of the working CRS recorded by the gridmap store at ``url``, or None where no store is yet
    (no file, a database without gridmap's tables): what :func:`gridmap.store.open_store`
    would create. A file that no store can be opened from is refused as ``open_store`` refuses it. Writes
    nothing."""
    url = resolve_url(url)
    backend = _backend_for(url)
    file = sqlite_path(url)
    if file is not None:
        check_sqlite_file(file, mode=OpenMode.CREATE)
        if not file.exists():
            return None
    engine = backend.make_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            md = build_metadata(4326)
            if current_version(conn, md) == 0:
                return None
            meta = md.tables["gridmap_meta"]
            row = conn.execute(select(meta.c.value).where(meta.c.key == "srid")).first()
            return int(row[0]) if row else None
    except (OperationalError, DatabaseError) as exc:
        safe = make_url(url).render_as_string(hide_password=True)
        raise StoreError(message("cannot open the database", got=f"{safe}: {exc.orig}",
                                 fix="check the path or URL, that the server runs, and your permissions")) from exc
    finally:
        backend.close_engine(engine)
