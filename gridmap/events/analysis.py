"""Out-of-core analysis of the events store: each partition file is reduced on its own, the small partial results
are summed, and the existing pure functions of :mod:`gridmap.warning` run on the reduced result.

Only the rows are big: a year of weekly counts on 160,000 cells is a 52 x 160,000 cube (67 MB), whatever the
number of complaints. So every analysis here is *map* (one file -> counts of its rows, in bounded memory) then
*reduce* (sum the counts), and the maps run the same way in this process or on a Dask cluster
(``client=`` a :class:`dask.distributed.Client` or a scheduler address such as ``tcp://scheduler:8786``; the
workers must see the events folder at the same path). Results are identical either way: counts are integers.

- :func:`stream_counts` counts per cell, community or street, optionally per month or week (as
  :func:`gridmap.warning.counts_by` does in memory);
- :func:`stream_cube` the space-time cube (the cube :func:`gridmap.warning.space_time_cube` builds in memory);
- :func:`stream_emerging` emerging hot spots: :func:`gridmap.warning.emerging_hot_spots` on that cube, with Gi*
  per bin, Mann-Kendall trends and categories.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gridmap._enums import ChoiceEnum
from gridmap.errors import ValidationError, message
from gridmap.warning.counts import Unit, _terms
from gridmap.warning.emerging import MIN_SLICES, SliceFreq, SpaceTimeCube, _slice_starts, emerging_hot_spots
from gridmap.warning.lattice_ops import localise_cells

__all__ = ["Period", "stream_counts", "stream_cube", "stream_emerging", "run_partials"]

log = logging.getLogger(__name__)

UNASSIGNED = "(unassigned)"


class Period(ChoiceEnum, what="period"):
    """Time keys of :func:`stream_counts`: ``month`` (its first day) or ``week`` (the Monday that starts it)."""

    MONTH = "month"
    WEEK = "week"


# -- selection -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    """Rows selected like :func:`gridmap.warning.complaint_mask`: ``[start, end)``, categories, keywords."""

    start: Any = None
    end: Any = None
    categories: tuple[str, ...] | None = None
    keywords: tuple[str, ...] | None = None

    @classmethod
    def of(cls, *, start: Any = None, end: Any = None, categories: Any = None, keywords: Any = None) -> "Selection":
        cats, kws = _terms(categories), _terms(keywords)
        return cls(None if start is None else pd.Timestamp(start), None if end is None else pd.Timestamp(end),
                   None if cats is None else tuple(cats), None if kws is None else tuple(kws))

    @property
    def columns(self) -> list[str]:
        cols = ["received_at"]
        if self.categories is not None:
            cols.append("category")
        if self.keywords is not None:
            cols.append("text")
        return cols

    def mask(self, table: pa.Table) -> pa.Array | None:
        """A boolean mask of the selected rows of ``table`` (None: every row)."""
        conds = []
        t = table.column("received_at")
        if self.start is not None:
            conds.append(pc.greater_equal(t, pa.scalar(self.start.to_datetime64(), pa.timestamp("us"))))
        if self.end is not None:
            conds.append(pc.less(t, pa.scalar(self.end.to_datetime64(), pa.timestamp("us"))))
        if self.categories is not None:
            conds.append(pc.is_in(table.column("category").cast(pa.string()),
                                  value_set=pa.array(list(self.categories), pa.string())))
        if self.keywords is not None:
            text = table.column("text")
            hit = None
            for k in self.keywords:
                m = pc.match_substring(text, k)
                hit = m if hit is None else pc.or_(hit, m)
            conds.append(pc.fill_null(hit, False))
        if not conds:
            return None
        out = conds[0]
        for c in conds[1:]:
            out = pc.and_(out, c)
        return pc.fill_null(out, False)

    def filters(self) -> list | None:
        """Row-group filters for ``pq.read_table`` (whole row groups outside the window are skipped)."""
        f = []
        if self.start is not None:
            f.append(("received_at", ">=", self.start.to_pydatetime()))
        if self.end is not None:
            f.append(("received_at", "<", self.end.to_pydatetime()))
        return f or None


def _read(path: str | Path, columns: list[str], sel: Selection) -> pa.Table:
    table = pq.read_table(path, columns=list(dict.fromkeys(columns + sel.columns)), filters=sel.filters())
    m = sel.mask(table)
    return table if m is None else table.filter(m)


def _codes(col: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A code column as (integer codes, distinct values); nulls get the code of ``(unassigned)``."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_encode()
    values = np.append(np.asarray(arr.dictionary.to_pylist(), dtype=object), UNASSIGNED)
    idx = arr.indices.fill_null(len(values) - 1).to_numpy().astype(np.int64)
    return idx, values


# -- running partials here or on Dask ---------------------------------------------------------------------------
def _client(client: Any) -> Any:
    if client is None or not isinstance(client, str):
        return client
    from distributed import Client

    return Client(client)


def run_partials(func: Callable[..., Any], files: Sequence[str | Path], spec: Any, *, client: Any = None,
                 progress: Callable[[int, int, str], None] | None = None) -> list[Any]:
    """``func(file, spec)`` for every file: on this machine's threads (``$GRIDMAP_THREADS``), or as tasks on a
    Dask cluster."""
    files = [str(f) for f in files]
    if client is None:
        # a few files at a time on threads (pyarrow and numpy release the GIL): memory stays bounded by
        # ``threads`` files; results come back in file order
        from concurrent.futures import ThreadPoolExecutor

        from gridmap.grid.assign import default_threads

        out = []
        with ThreadPoolExecutor(max_workers=default_threads()) as pool:
            for k, part in enumerate(pool.map(lambda f: func(f, spec), files)):
                out.append(part)
                if progress:
                    progress(k + 1, len(files), Path(files[k]).parent.name)
        return out
    owned = isinstance(client, str)
    c = _client(client)
    try:
        spec_f = c.scatter(spec, broadcast=True)
        futures = c.map(func, files, spec=spec_f, pure=False)
        if progress:
            from distributed import as_completed

            for k, _ in enumerate(as_completed(futures)):
                progress(k + 1, len(files), "dask")
        return c.gather(futures)
    finally:
        if owned:
            c.close()


# -- counts ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _CountSpec:
    column: str
    period: str | None
    sel: Selection


def _period_keys(t: pa.Array, period: str | None) -> np.ndarray | None:
    if period is None:
        return None
    v = t.to_numpy(zero_copy_only=False).astype("datetime64[D]")
    if period == Period.MONTH.value:
        return v.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    # weeks start on Monday: 1970-01-01 was a Thursday
    days = v.astype(np.int64)
    return days - (days + 3) % 7


def _count_partial(path: str, spec: _CountSpec) -> pd.DataFrame:
    table = _read(path, [spec.column], spec.sel)
    idx, values = _codes(table.column(spec.column))
    keys = _period_keys(table.column("received_at").combine_chunks(), spec.period)
    if keys is None:
        counts = np.bincount(idx, minlength=len(values))
        nz = np.flatnonzero(counts)
        return pd.DataFrame({"code": values[nz], "count": counts[nz]})
    pair, inv = np.unique(np.stack([idx, keys]), axis=1, return_inverse=True)
    counts = np.bincount(inv.ravel(), minlength=pair.shape[1])
    return pd.DataFrame({"code": values[pair[0]], "period": pair[1], "count": counts})


def stream_counts(files: Sequence[str | Path], *, by: "str | Unit" = Unit.CELL, period: str | None = None,
                  client: Any = None, progress: Callable[[int, int, str], None] | None = None,
                  **select: Any) -> pd.DataFrame:
    """Counts of the selected events per unit (and month or week), streamed file by file.

    Returns a DataFrame indexed by ``<unit>_code`` (and ``period``, the first day of the month or week) with
    ``count``, sorted by count (then code), as :func:`gridmap.warning.counts_by` does in memory; events with no
    code are counted under ``(unassigned)``.
    """
    unit = Unit.parse(by)
    period = None if period is None else Period.parse(period).value
    spec = _CountSpec(unit.column, period, Selection.of(**select))
    parts = run_partials(_count_partial, files, spec, client=client, progress=progress)
    keys = [unit.column] + (["period"] if period else [])
    if parts:
        frame = pd.concat(parts, ignore_index=True).rename(columns={"code": unit.column})
    else:
        frame = pd.DataFrame({unit.column: pd.Series([], dtype=object), "period": pd.Series([], dtype=np.int64),
                              "count": pd.Series([], dtype=np.int64)})
    out = frame.groupby(keys, sort=True)["count"].sum().to_frame()
    if period:
        out = out.reset_index()
        out["period"] = pd.to_datetime(out["period"].to_numpy().astype("datetime64[D]"))
        out = out.set_index(keys)
    out = out.sort_values("count", ascending=False, kind="stable")
    log.info("streamed counts of %d event(s) from %d file(s) into %d %s row(s)", int(out["count"].sum()),
             len(files), len(out), unit.value)
    return out


# -- the space-time cube -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _CubeSpec:
    codes: pd.Index          # cell code -> position
    flat: np.ndarray         # position -> iy * nx + ix on the lattice window
    starts: np.ndarray       # slice starts, datetime64[us]
    stop: np.datetime64      # end of the last slice
    cells_per_slice: int
    sel: Selection


def _cube_partial(path: str, spec: _CubeSpec) -> tuple[np.ndarray, np.ndarray, int]:
    """Sparse cube counts of one file: (flat bin index, count) and how many selected rows had no cell."""
    table = _read(path, ["cell_code"], spec.sel)
    t = table.column("received_at").combine_chunks().to_numpy(zero_copy_only=False).astype("datetime64[us]")
    k = np.searchsorted(spec.starts, t, side="right") - 1
    inside = (k >= 0) & (t < spec.stop)
    idx, values = _codes(table.column("cell_code"))
    pos_of_value = spec.codes.get_indexer(values)  # -1 for (unassigned) and codes not among the cells
    pos = pos_of_value[idx]
    ok = inside & (pos >= 0)
    flat = k[ok] * spec.cells_per_slice + spec.flat[pos[ok]]
    uniq, counts = np.unique(flat, return_counts=True)
    return uniq, counts, int((inside & (pos < 0)).sum())


def sum_sparse(parts: Sequence[tuple[np.ndarray, np.ndarray, int]], size: int) -> tuple[np.ndarray, int]:
    """Sum partials ``(flat indices, counts, rows not counted)`` into a dense int64 array of ``size``; return it
    and the rows not counted."""
    total = np.zeros(size, dtype=np.int64)
    lost = 0
    for flat, counts, missing in parts:
        total[flat] += counts  # each part's indices are distinct
        lost += missing
    return total, lost


def stream_cube(files: Sequence[str | Path], cells: pd.DataFrame, *, start: Any, end: Any,
                freq: "str | SliceFreq" = SliceFreq.WEEK, min_slices: int = MIN_SLICES, client: Any = None,
                progress: Callable[[int, int, str], None] | None = None, **select: Any) -> SpaceTimeCube:
    """The space-time cube of the selected events on the lattice of ``cells`` (streamed file by file).

    Equal to :func:`gridmap.warning.space_time_cube` ``(complaints, lattice_from_cells(cells), cells=cells, ...)``
    on the same rows: weekly slices from ``start``, or calendar months; a trailing partial slice is dropped;
    events go to the square of their imported cell; events on no known cell are not counted (logged).
    """
    lat, cix, ciy = localise_cells(cells)
    freq = SliceFreq(freq)
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    starts = _slice_starts(t0, t1, freq)
    step = pd.DateOffset(days=7) if freq is SliceFreq.WEEK else pd.offsets.MonthBegin(1)
    complete = pd.DatetimeIndex([s for s in starts if s + step <= t1])
    if len(complete) < min_slices:
        raise ValidationError(
            message(f"emerging hot-spot analysis needs at least {min_slices} complete {freq.value} slices",
                    where=f"[{t0.date()}, {t1.date()})", got=f"{len(complete)} slice(s)",
                    fix=f"widen the window (>= {min_slices} {freq.value}s) or use freq='week'"))
    stop = complete[-1] + step
    if stop < t1:
        log.warning("the last %s of the window (%s to %s) is a partial slice and is not analysed",
                    freq.value, stop.date(), t1.date())
    ny, nx = lat.shape
    sel = Selection.of(start=complete[0], end=stop, **select)
    spec = _CubeSpec(pd.Index(cells["code"].astype(str)), (ciy * nx + cix).astype(np.int64),
                     complete.values.astype("datetime64[us]"), np.datetime64(stop.to_datetime64(), "us"),
                     ny * nx, sel)
    parts = run_partials(_cube_partial, files, spec, client=client, progress=progress)
    cube, lost = sum_sparse(parts, len(complete) * ny * nx)
    if lost:
        log.warning("%d event(s) outside the lattice (or on no cell) were not counted in the cube", lost)
    cube = cube.astype(float).reshape((len(complete), ny, nx))
    totals = cube.sum(axis=(1, 2))
    empty = [complete[i] for i in np.flatnonzero(totals == 0)]
    if empty:
        log.warning("%d empty time slice(s) (no complaint anywhere): %s — kept as zeros; check for data gaps",
                    len(empty), ", ".join(str(e.date()) for e in empty[:5]))
    log.info("streamed space-time cube: %d %s slices x %d cells, %d events from %d file(s)", len(complete),
             freq.value, ny * nx, int(totals.sum()), len(files))
    return SpaceTimeCube(cube, complete, freq, lat, empty)


def stream_emerging(files: Sequence[str | Path], cells: pd.DataFrame, *, start: Any, end: Any,
                    freq: "str | SliceFreq" = SliceFreq.WEEK, client: Any = None,
                    progress: Callable[[int, int, str], None] | None = None, select: dict | None = None,
                    **options: Any) -> tuple[SpaceTimeCube, Any]:
    """Emerging hot spots of the streamed cube: ``(cube, gridmap.warning.emerging_hot_spots(cube, mask=the
    cells' squares, **options))``; ``options`` are those of :func:`~gridmap.warning.emerging_hot_spots`."""
    cube = stream_cube(files, cells, start=start, end=end, freq=freq, client=client, progress=progress,
                       **(select or {}))
    return cube, emerging_hot_spots(cube, mask=cells_mask(cells), **options)


def cells_mask(cells: pd.DataFrame) -> np.ndarray:
    """The study area: the lattice squares of ``cells`` (as :func:`gridmap.warning.alerts.hot_spot_alerts`)."""
    lat, cix, ciy = localise_cells(cells)
    mask = np.zeros(lat.shape, dtype=bool)
    mask[ciy, cix] = True
    return mask
