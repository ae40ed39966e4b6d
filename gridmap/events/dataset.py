"""The events store on disk: GeoParquet files partitioned by month (hive layout) and a manifest of batches.

Layout of an events folder::

    EVENTS/
      _events.json                       what the folder is (format, CRS)
      _manifest.jsonl                    one JSON line per committed batch
      _ids/batch-000001.npy              the batch's source-id hashes (sorted uint64)
      month=2025-01/part-000001.parquet  the batch's rows received in January 2025
      month=2025-02/part-000001.parquet  ...

A batch is committed in three steps: every file is written under a temporary name and flushed to disk, renamed
to its final name, and only then is the batch's line appended to the manifest (and flushed). Readers read the
files the manifest lists, never a directory listing, so a batch is visible whole or not at all; a writer that
opens the folder first deletes anything the manifest does not list (the leftovers of a killed import).

Idempotence: each committed ``source_id`` is remembered as a 64-bit hash; a new row whose hash is known is
checked against the stored ids themselves (so a hash collision never drops a new row) and skipped when stored.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gridmap.errors import StoreError, message
from gridmap.events.idindex import HashIndex
from gridmap.events.schema import PARTITION, event_schema, geo_metadata

__all__ = ["EventDataset", "Batch", "hash_ids", "FORMAT"]

log = logging.getLogger(__name__)

FORMAT = "gridmap-events/1"
_MANIFEST = "_manifest.jsonl"
_META = "_events.json"
_IDS = "_ids"


def hash_ids(ids: Any) -> np.ndarray:
    """64-bit hashes of source ids (pandas' stable ``hash_array``; the same id always gives the same hash)."""
    arr = ids.to_numpy(zero_copy_only=False) if isinstance(ids, (pa.Array, pa.ChunkedArray)) else np.asarray(ids)
    return pd.util.hash_array(arr.astype(object, copy=False), categorize=False)


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


@dataclass(frozen=True)
class Batch:
    """One committed batch: its number, files (relative to the folder), rows and where its source stopped."""

    number: int
    files: tuple[str, ...]
    rows: int
    source: dict

    @classmethod
    def from_json(cls, line: str) -> "Batch":
        d = json.loads(line)
        return cls(int(d["batch"]), tuple(d["files"]), int(d["rows"]), dict(d.get("source") or {}))


class EventDataset:
    """A folder of partitioned GeoParquet events (see the module docstring).

    Parameters
    ----------
    path : the events folder.
    crs : the working CRS (needed to create the folder; an existing folder keeps its own).
    create : create the folder if missing (otherwise a missing folder raises :class:`~gridmap.errors.StoreError`).
    """

    def __init__(self, path: str | os.PathLike, *, crs: Any = None, create: bool = False):
        self.path = Path(path)
        meta = self.path / _META
        if not meta.exists():
            if not create:
                raise StoreError(message("no events store here", where=str(self.path),
                                         fix="import complaints first: gridmap events import FILE --events DIR"))
            if crs is None:
                raise StoreError(message("a new events store needs the working CRS", where=str(self.path)))
            from pyproj import CRS

            if self.path.exists() and any(self.path.iterdir()):
                raise StoreError(message("the events folder is not empty and is not an events store",
                                         where=str(self.path), fix="choose an empty or new folder"))
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / _IDS).mkdir(exist_ok=True)
            _fsync_write(meta, json.dumps({"format": FORMAT, "crs": CRS.from_user_input(crs).to_wkt()}).encode())
        info = json.loads(meta.read_text(encoding="utf-8"))
        if info.get("format") != FORMAT:
            raise StoreError(message("unsupported events store format", where=str(meta), got=info.get("format"),
                                     fix=f"this gridmap reads {FORMAT}"))
        from pyproj import CRS

        self.crs = CRS.from_wkt(info["crs"])
        self._ids_index: HashIndex | None = None

    # -- reading --------------------------------------------------------------------------------------------------
    def batches(self) -> list[Batch]:
        """The committed batches, in order (a torn last line, from a killed writer, is not a batch)."""
        path = self.path / _MANIFEST
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            if not line.endswith("\n"):
                break
            out.append(Batch.from_json(line))
        return out

    def files(self, *, months: Sequence[str] | None = None) -> list[Path]:
        """The committed Parquet files (optionally only of ``months``, ``YYYY-MM``), sorted."""
        keep = None if months is None else {f"{PARTITION}={m}" for m in months}
        files = [f for b in self.batches() for f in b.files if keep is None or f.split("/", 1)[0] in keep]
        return [self.path / f for f in sorted(files)]

    def months(self) -> list[str]:
        """The months that have events (``YYYY-MM``), sorted."""
        return sorted({f.split("/", 1)[0].split("=", 1)[1] for b in self.batches() for f in b.files})

    def count(self) -> int:
        """How many events are stored."""
        return sum(b.rows for b in self.batches())

    def read(self, *, columns: Sequence[str] | None = None, months: Sequence[str] | None = None) -> pd.DataFrame:
        """All committed rows (of ``months``) as one DataFrame: for tests and small stores (the analyses stream)."""
        tables = [read_file(f, columns=columns) for f in self.files(months=months)]
        if not tables:
            return event_schema().empty_table().to_pandas() if columns is None else \
                event_schema().empty_table().select(list(columns)).to_pandas()
        return pa.concat_tables(tables, promote_options="permissive").to_pandas()

    # -- writing --------------------------------------------------------------------------------------------------
    def recover(self) -> int:
        """Delete files no committed batch lists (left by a killed writer) and a torn manifest line; return how
        many files were deleted. Called by :meth:`writer` before the first write."""
        listed = {f for b in self.batches() for f in b.files} | {_ids_name(b.number) for b in self.batches()}
        manifest = self.path / _MANIFEST
        if manifest.exists():
            raw = manifest.read_bytes()
            if raw and not raw.endswith(b"\n"):
                cut = raw.rfind(b"\n") + 1
                with open(manifest, "r+b") as fh:
                    fh.truncate(cut)
                    os.fsync(fh.fileno())
                log.warning("%s: dropped a torn manifest line (an interrupted import)", manifest)
        removed = 0
        for f in self.path.rglob("*"):
            rel = f.relative_to(self.path).as_posix()
            if f.is_file() and rel not in listed and rel not in (_META, _MANIFEST):
                f.unlink()
                removed += 1
        if removed:
            log.warning("%s: removed %d file(s) of an uncommitted batch (an interrupted import)", self.path, removed)
        return removed

    def id_index(self) -> HashIndex:
        """Hashes of every committed source id (loaded once from the ``_ids`` files, memory-mapped; kept up to date
        by :meth:`commit`)."""
        if self._ids_index is None:
            self._ids_index = HashIndex(np.load(self.path / _ids_name(b.number), mmap_mode="r")
                                        for b in self.batches())
        return self._ids_index

    def stored_ids(self, ids: pa.Array, hashes: np.ndarray, months: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``ids`` are already stored (exact, not only by hash)."""
        hit = self.id_index().contains(hashes) if len(ids) else np.zeros(0, dtype=bool)
        if not hit.any():
            return hit
        # a hash hit: look the id up among the stored ids of its month first, then everywhere (a row whose time
        # was corrected into another month, or a hash collision)
        out = np.zeros(len(ids), dtype=bool)
        cand = np.flatnonzero(hit)
        months = _month_numbers(months)
        for month in np.unique(months[cand]):
            sel = cand[months[cand] == month]
            stored = _ids_of(self.files(months=[_month_name(int(month))]))
            out[sel] = pc.is_in(ids.take(pa.array(sel)), value_set=stored).to_numpy(zero_copy_only=False)
        left = cand[~out[cand]]
        if len(left):
            stored = _ids_of(self.files())
            out[left] = pc.is_in(ids.take(pa.array(left)), value_set=stored).to_numpy(zero_copy_only=False)
        return out

    def last_source(self, path: str) -> dict | None:
        """The source record of the last batch committed from the file ``path`` (for resuming), if any."""
        for b in reversed(self.batches()):
            if b.source.get("path") == path:
                return b.source
        return None

    def write_batch(self, table: pa.Table, *, source: dict | None = None,
                    hashes: np.ndarray | None = None) -> tuple[int, int]:
        """Commit the rows of ``table`` whose ``source_id`` is not stored yet; return (written, already stored).
        ``hashes``: :func:`hash_ids` of its ids, when the caller has them."""
        months = _months(table.column("received_at"))
        ids = table.column("source_id").combine_chunks()
        hashes = hash_ids(ids) if hashes is None else hashes
        stored = self.stored_ids(ids, hashes, months)
        if stored.any():
            keep = ~stored
            table, months, hashes = table.filter(pa.array(keep)), months[keep], hashes[keep]
        if table.num_rows:
            self.commit(table, months=months, source=source, hashes=hashes)
        return table.num_rows, int(stored.sum())

    def commit(self, table: pa.Table, *, months: np.ndarray, source: dict | None = None,
               hashes: np.ndarray | None = None) -> Batch:
        """Write ``table`` (rows of :func:`~gridmap.events.schema.event_schema`; ``months`` of each row as months
        since 1970, or ``YYYY-MM`` text) as one batch, atomically; ``hashes`` of its ids if already computed."""
        batches = self.batches()
        number = batches[-1].number + 1 if batches else 1
        hashes = np.sort(hash_ids(table.column("source_id")) if hashes is None else hashes)
        months = _month_numbers(months)
        temps: list[tuple[Path, Path]] = []
        files = []
        # months span little: as 16-bit numbers the stable sort is a radix sort (5x faster than on int64)
        low = months - months.min() if len(months) else months
        order = np.argsort(low.astype(np.int16) if len(low) and low.max() < 32767 else low, kind="stable")
        sorted_months = months[order]
        bounds = np.flatnonzero(np.r_[True, sorted_months[1:] != sorted_months[:-1], True])
        geo = geo_metadata(self.crs)
        parts = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            month = _month_name(int(sorted_months[a]))
            rel = f"{PARTITION}={month}/part-{number:06d}.parquet"
            final = self.path / rel
            final.parent.mkdir(exist_ok=True)
            tmp = final.with_name("." + final.name + ".tmp")
            parts.append((order[a:b], tmp))
            temps.append((tmp, final))
            files.append(rel)
        # the month files in two threads, each gathering its month's rows (Arrow's take and Parquet encoding and
        # compression release the GIL): a core the caller leaves idle while it waits for this commit does half
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="gridmap-events-parquet") as pool:
            list(pool.map(lambda job: _write_parquet(table.take(pa.array(job[0])), job[1], geo), parts))
        ids_final = self.path / _ids_name(number)
        ids_tmp = ids_final.with_name("." + ids_final.name + ".tmp")
        with open(ids_tmp, "wb") as fh:
            np.save(fh, hashes)
            fh.flush()
            os.fsync(fh.fileno())
        temps.append((ids_tmp, ids_final))
        for tmp, final in temps:
            os.replace(tmp, final)
        for folder in sorted({final.parent for _, final in temps} | {self.path}):
            _fsync_dir(folder)
        batch = Batch(number, tuple(files), table.num_rows, dict(source or {}))
        line = json.dumps({"batch": number, "files": files, "rows": table.num_rows, "source": batch.source})
        with open(self.path / _MANIFEST, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if self._ids_index is not None:
            self._ids_index.add(np.load(ids_final, mmap_mode="r"))
        log.info("%s: committed batch %d (%d rows in %d month file(s))", self.path, number, table.num_rows, len(files))
        return batch


_DICT_COLUMNS = ("category", "status", "cell_code", "community_code", "street_code")


def _ids_name(number: int) -> str:
    return f"{_IDS}/batch-{number:06d}.npy"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not possible on every platform: the renames are still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_parquet(table: pa.Table, path: Path, geo: dict[bytes, bytes]) -> None:
    """One GeoParquet file: the rows plus the native point column ``geometry`` built from ``x``/``y``."""
    point = pa.StructArray.from_arrays([table.column("x").combine_chunks(), table.column("y").combine_chunks()],
                                       names=["x", "y"])
    out = table.append_column("geometry", point)
    out = out.replace_schema_metadata({**(out.schema.metadata or {}), **geo})
    with open(path, "wb") as fh:
        # dictionaries only for the code columns: trying one for unique ids and texts costs 4x the whole write
        pq.write_table(out, fh, compression="zstd", compression_level=1, row_group_size=1 << 20,
                       use_dictionary=list(_DICT_COLUMNS), write_statistics=["received_at", "source_id"])
        fh.flush()
        os.fsync(fh.fileno())


def read_file(path: Path, *, columns: Sequence[str] | None = None, dictionaries: bool = False) -> pa.Table:
    """One events file (without its geometry column unless asked for); code columns as dictionaries when asked."""
    cols = list(columns) if columns is not None else [f.name for f in event_schema()]
    dict_cols = [c for c in ("cell_code", "community_code", "street_code", "category", "status") if c in cols]
    table = pq.read_table(path, columns=cols, read_dictionary=dict_cols if dictionaries else None)
    return table


def _ids_of(files: Sequence[Path]) -> pa.Array:
    if not files:
        return pa.array([], type=pa.string())
    return pa.concat_arrays([c for f in files for c in pq.read_table(f, columns=["source_id"]).column(0).chunks]) \
        if files else pa.array([], type=pa.string())


def _months(received: Any) -> np.ndarray:
    """Months since 1970-01 of each time (int64)."""
    arr = received.to_numpy() if isinstance(received, (pa.Array, pa.ChunkedArray)) else np.asarray(received)
    return np.asarray(arr, dtype="datetime64[us]").astype("datetime64[M]").astype(np.int64)


def _month_numbers(months: np.ndarray) -> np.ndarray:
    m = np.asarray(months)
    if m.dtype.kind in "iu":
        return m.astype(np.int64)
    return np.asarray(m.astype(str), dtype="datetime64[M]").astype(np.int64)


def _month_name(m: int) -> str:
    return str(np.datetime64(m, "M"))
