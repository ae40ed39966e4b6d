"""The column contract of the events store: one row per complaint, its codes and its handling record.

Rows carry the complaints contract of :mod:`gridmap.store.schema` (``source_id``, ``received_at``, ``category``,
``text``, ``address``, ``status``, ``closed_at``, ``cell_code``, ``community_code``, ``street_code``), the point
as ``x``/``y`` in the working CRS (also written as a GeoParquet 1.1 native ``point`` geometry column), and the
handling-record fields (:data:`HANDLING_COLUMNS`, nullable: a source without them leaves them empty, so the 三率
rates can stream over the same files once a source carries them). ``month`` (``YYYY-MM`` of ``received_at``) is
the hive partition key.

>>> [f.name for f in event_schema()][:4]
['source_id', 'received_at', 'category', 'text']
>>> event_schema().field("dispatched_to").nullable
True
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

__all__ = ["BASE_COLUMNS", "HANDLING_COLUMNS", "CODE_COLUMNS", "PARTITION", "event_schema", "geo_metadata",
           "month_key"]

_TS = pa.timestamp("us")
_CODE = pa.dictionary(pa.int32(), pa.string())

#: Complaint columns (the store's complaints contract) and the point in the working CRS.
BASE_COLUMNS: dict[str, pa.DataType] = {
    "source_id": pa.string(), "received_at": _TS, "category": _CODE, "text": pa.string(),
    "address": pa.string(), "status": _CODE, "closed_at": _TS,
    "cell_code": _CODE, "community_code": _CODE, "street_code": _CODE,
    "x": pa.float64(), "y": pa.float64(),
}

#: Handling-record fields (issue 14 defines them; carried here as nullable columns). ``closed_at`` is in
#: :data:`BASE_COLUMNS`. ``dispatched_to`` joins several units with ';' (双派单).
HANDLING_COLUMNS: dict[str, pa.DataType] = {
    "dispatched_at": _TS, "dispatched_to": pa.string(), "responded_at": _TS, "resolved": pa.bool_(),
    "satisfied": pa.bool_(), "satisfaction_score": pa.int8(), "revisit_at": _TS, "excluded": pa.bool_(),
    "exclusion_reason": pa.string(), "redispatches": pa.int32(),
}

#: The codes every row gets once, on import.
CODE_COLUMNS = ("cell_code", "community_code", "street_code")

#: The hive partition key (``month=2025-01``).
PARTITION = "month"


def event_schema(*, geometry: bool = False) -> pa.Schema:
    """The Arrow schema of event rows (``geometry=True`` adds the native GeoParquet point column)."""
    fields = [pa.field(k, v, nullable=(k not in ("source_id", "received_at", "x", "y")))
              for k, v in {**BASE_COLUMNS, **HANDLING_COLUMNS}.items()]
    if geometry:
        fields.append(pa.field("geometry", pa.struct([("x", pa.float64()), ("y", pa.float64())]), nullable=False))
    return pa.schema(fields)


def geo_metadata(crs: Any) -> dict[bytes, bytes]:
    """GeoParquet 1.1 file metadata for the ``geometry`` column (native ``point`` encoding) in ``crs``."""
    from pyproj import CRS

    meta = {"version": "1.1.0", "primary_column": "geometry",
            "columns": {"geometry": {"encoding": "point", "geometry_types": ["Point"],
                                     "crs": CRS.from_user_input(crs).to_json_dict()}}}
    return {b"geo": json.dumps(meta).encode("utf-8")}


def month_key(values: Any) -> Any:
    """``YYYY-MM`` of each datetime64 value (a numpy array of str)."""
    import numpy as np

    return np.datetime_as_string(np.asarray(values, dtype="datetime64[M]"), unit="M")
