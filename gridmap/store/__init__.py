"""The spatial store: every layer stored once, in the working CRS, in SpatiaLite or PostGIS.

``open_store(url)`` chooses the backend from the URL: a file path or ``sqlite:///`` URL opens (or creates) a
SpatiaLite file, ``postgresql://`` a PostGIS database. Both hold the same tables
(:mod:`gridmap.store.schema`), created and migrated by :mod:`gridmap.store.migrations`.

Writes are strict and atomic: :meth:`Store.write` validates the whole frame first (CRS, required values, geometry
type and validity, duplicate keys inside the frame and against the store) and raises one
:class:`~gridmap.errors.ValidationError` listing every bad row, writing nothing; otherwise it writes all rows in
one transaction using the backend's bulk path (executemany into SpatiaLite, COPY into PostGIS). Per-row
rejection (keep the good rows, report the bad) is the importer's job (:mod:`gridmap.io`). Integer columns are
range-checked (64-bit counts, 32-bit others) so that nothing wraps on either backend.

Several processes may share a store: writers (:meth:`Store.transaction`, and :meth:`Store.write` /
:meth:`Store.clear` / :meth:`Store.delete` without a connection) run one at a time, and a writer that has to wait
says "another import is running on this store" and gives up with a :class:`~gridmap.errors.StoreError` after
``lock_timeout_s``; readers never wait for a writer (PostGIS: advisory lock, no index dropped during a load;
SpatiaLite: WAL mode).

Examples
--------
>>> import geopandas as gpd, shapely
>>> store = open_store(":memory:")
>>> d = gpd.GeoDataFrame({"code": ["110199"], "name": ["示范区"]},
...                      geometry=[shapely.box(450000, 4415000, 452000, 4417000)], crs="EPSG:4548")
>>> store.write("districts", d)
1
>>> store.read("districts")[["code", "name"]].to_dict("records")
[{'code': '110199', 'name': '示范区'}]
"""

from gridmap.store.access import OpenMode
from gridmap.store.database import (
    DEFAULT_DB,
    DEFAULT_LOCK_TIMEOUT_S,
    Store,
    open_store,
    resolve_url,
)

__all__ = ["Store", "open_store", "resolve_url", "DEFAULT_DB", "DEFAULT_LOCK_TIMEOUT_S", "OpenMode"]
