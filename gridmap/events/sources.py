"""The sources of an events import: which files (one, several, a folder), and each file as batches of rows
(CSV/TSV as text columns through pyarrow's streaming reader, Parquet as its own types)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from gridmap.errors import ValidationError, message

__all__ = ["source_paths", "open_source", "source_identity"]


_SOURCE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".geoparquet", ".pq")


def source_paths(source: "str | os.PathLike | Sequence[str | os.PathLike]") -> list[Path]:
    """The files of an import: one file, several, or a folder's CSV/Parquet files (sorted by name)."""
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in _SOURCE_SUFFIXES
                           and not f.name.startswith("."))
            if not found:
                raise ValidationError(message("no CSV or Parquet files in the folder", where=str(p),
                                              fix="give the files themselves, or a folder of .csv/.parquet files"))
            paths += found
        else:
            paths.append(p)
    if not paths:
        raise ValidationError(message("no source files given", fix="give one or more .csv/.parquet files"))
    return paths


def source_identity(path: Path, batch_rows: int) -> dict:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "batch_rows": batch_rows}


def _csv_batches(path: Path, *, batch_rows: int, encoding: str | None) -> tuple[Iterator[pa.Table], int]:
    """Tables of about ``batch_rows`` rows (all columns as text) and an estimate of the total rows."""
    from pyarrow import csv

    from gridmap.io._reading import check_not_empty

    check_not_empty(path)
    with open(path, "rb") as fh:
        sample = fh.read(4 << 20)
    if encoding is None:
        from gridmap.io.encoding import decode_guess

        codec, _ = ("UTF-8", "") if sample.startswith(b"\xef\xbb\xbf") else decode_guess(sample)
        encoding = "utf8" if codec == "UTF-8" else "gb18030"
    lines = max(sample.count(b"\n"), 1)
    total = int(path.stat().st_size / (len(sample) / lines)) if len(sample) else 0
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    header = csv.open_csv(path, read_options=csv.ReadOptions(encoding=encoding, block_size=1 << 16),
                          parse_options=csv.ParseOptions(delimiter=delimiter)).schema.names
    reader = csv.open_csv(path, read_options=csv.ReadOptions(encoding=encoding, block_size=8 << 20),
                          parse_options=csv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                          convert_options=csv.ConvertOptions(column_types={n: pa.string() for n in header},
                                                             strings_can_be_null=True))

    def gen() -> Iterator[pa.Table]:
        yield from _rebatch(reader, batch_rows)

    return gen(), max(total - 1, 0)


def _rebatch(batches: Any, batch_rows: int) -> Iterator[pa.Table]:
    pending: list[pa.RecordBatch] = []
    n = 0
    for rb in batches:
        while rb.num_rows:
            take = min(rb.num_rows, batch_rows - n)
            pending.append(rb.slice(0, take))
            n += take
            rb = rb.slice(take)
            if n == batch_rows:
                yield pa.Table.from_batches(pending)
                pending, n = [], 0
    if n:
        yield pa.Table.from_batches(pending)


def _parquet_batches(path: Path, *, batch_rows: int) -> tuple[Iterator[pa.Table], int]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    cols = [c for c in pf.schema_arrow.names if c != "geometry"]
    return _rebatch(pf.iter_batches(batch_size=min(batch_rows, 1 << 18), columns=cols), batch_rows), \
        pf.metadata.num_rows


def open_source(path: str | os.PathLike, *, batch_rows: int, encoding: str | None = None
                ) -> tuple[Iterator[pa.Table], int]:
    """Batches of a CSV/TSV or Parquet file and its (estimated) number of rows."""
    from gridmap.io._reading import reading

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(message("complaints file not found", got=str(p)))
    suffix = p.suffix.lower()
    with reading(p, encoding=encoding):
        if suffix in (".csv", ".tsv", ".txt"):
            return _csv_batches(p, batch_rows=batch_rows, encoding=encoding)
        if suffix in (".parquet", ".geoparquet", ".pq"):
            return _parquet_batches(p, batch_rows=batch_rows)
    raise ValidationError(message("unsupported events source", where=str(p), got=p.suffix,
                                  fix="use .csv or .parquet (convert JSON with gridmap complaints import first)"))
