"""The events store: a city's 12345 history out of core (columnar, partitioned, streamed; Dask; PostGIS).

Complaints (and their handling records) at city scale live beside the spatial store as GeoParquet partitioned by
month in hive layout (``month=2025-01/part-000001.parquet``), each row carrying its cell, community and street
codes computed once on import; or, when the store is PostGIS, in a table partitioned by month. Modules:

- :mod:`~gridmap.events.schema` the column contract (with the handling-record columns, nullable);
- :mod:`~gridmap.events.dataset` the Parquet folder: atomic batches, a manifest, idempotent by source id;
- :mod:`~gridmap.events.importer` the streaming import (pyarrow batches, the compiled point-to-cell index),
  resumable after an interruption;
- :mod:`~gridmap.events.analysis` counts, the space-time cube and emerging hot spots by streaming partitions
  (bounded memory), in this process or on a Dask cluster;
- :mod:`~gridmap.events.rates` the 接诉即办 三率 per street or community and month, streamed (the row-level rule
  of :mod:`gridmap.performance`) or in SQL;
- :mod:`~gridmap.events.density` kernel density from binned counts summed over the partitions (identical to the
  in-memory density);
- :mod:`~gridmap.events.scan` the space-time early-warning scan on counts per family, day and cell gathered from
  the partitions (the same alerts as in memory), keyword families included;
- :mod:`~gridmap.events.warning` the streamed early-warning report (scan, keyword watch, 回头看);
- :mod:`~gridmap.events.postgis` the PostGIS table: COPY in, ``GROUP BY`` out;
- :mod:`~gridmap.events.service` the store-facing workflows (location, import, counts, rates, cube, emerging,
  density, warning).
"""

from gridmap.events.analysis import stream_counts, stream_cube, stream_emerging
from gridmap.events.dataset import EventDataset
from gridmap.events.density import stream_density
from gridmap.events.importer import Coder, EventImport, import_events
from gridmap.events.postgis import PostgisEvents
from gridmap.events.rates import stream_rates
from gridmap.events.scan import stream_scan_alerts, stream_space_time_alerts
from gridmap.events.schema import HANDLING_COLUMNS, event_schema

__all__ = ["EventDataset", "PostgisEvents", "Coder", "EventImport", "import_events", "stream_counts", "stream_cube",
           "stream_emerging", "stream_rates", "stream_density", "stream_space_time_alerts", "stream_scan_alerts",
           "HANDLING_COLUMNS", "event_schema"]
