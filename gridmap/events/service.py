"""Store-facing workflows of the events store (what the CLI, notebooks and benchmarks call).

Where events live (:func:`events_location`): ``events=`` (CLI ``--events DIR``), else ``$GRIDMAP_EVENTS``, else
beside a SpatiaLite store (``city.sqlite`` -> ``city.events/``), or the ``events`` table of a PostGIS store.
``events`` may also be a ``postgresql://`` URL (the ``events`` table of that database).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from gridmap.errors import StoreError, message
from gridmap.events.analysis import Selection, cells_mask, stream_counts, stream_cube
from gridmap.events.dataset import EventDataset
from gridmap.events.importer import DEFAULT_BATCH_ROWS, Coder, EventImport, import_events, source_paths
from gridmap.events.postgis import PostgisEvents
from gridmap.warning.counts import Unit
from gridmap.warning.emerging import MIN_SLICES, SliceFreq, SpaceTimeCube, _slice_starts, emerging_hot_spots

__all__ = ["events_location", "open_events", "import_events_file", "events_counts", "events_rates", "events_cube",
           "events_emerging", "events_density", "events_warning"]

log = logging.getLogger(__name__)


def events_location(store: Any, events: str | os.PathLike | None = None) -> str:
    """Where the events of ``store`` live: a folder path, or ``postgresql://...`` (a table)."""
    raw = os.fspath(events) if events is not None else os.environ.get("GRIDMAP_EVENTS") or None
    if raw:
        return raw if raw.startswith(("postgresql", "postgres://")) else str(Path(raw).expanduser().resolve())
    if store.backend == "postgis":
        return store.url
    from gridmap.store.access import sqlite_path

    file = sqlite_path(store.url)
    if file is None:
        raise StoreError(message("an in-memory store has no place for events beside it",
                                 fix="pass --events DIR (or set $GRIDMAP_EVENTS)"))
    return str(Path(file).with_suffix(".events"))


def open_events(store: Any, events: str | os.PathLike | None = None, *, create: bool = False) -> Any:
    """The events sink/source of ``store``: an :class:`EventDataset` or a :class:`PostgisEvents` table."""
    where = events_location(store, events)
    if where.startswith(("postgresql", "postgres://")):
        if where == store.url:
            engine = store.engine
        else:
            from gridmap.store import open_store

            engine = open_store(where, mode="write").engine
        sink = PostgisEvents(engine, srid=store.crs.to_epsg())
        if not create and not sink.exists():
            raise StoreError(message("no events table in this PostGIS database", where=store.safe_url,
                                     fix="import complaints first: gridmap events import FILE"))
        return sink
    return EventDataset(where, crs=store.crs, create=create)


def _coder(store: Any) -> Coder:
    cells = store.read("cells", columns=["code", "community_code", "ix", "iy"]) if store.count("cells") else None
    communities = None
    if cells is None and store.count("communities"):
        communities = store.read("communities", columns=["code"])
    return Coder(cells, communities)


def import_events_file(store: Any, source: "str | os.PathLike | Sequence[str | os.PathLike]", *,
                       events: str | os.PathLike | None = None, batch_rows: int = DEFAULT_BATCH_ROWS,
                       progress: Callable[[int, int, str], None] | None = None, **options: Any) -> EventImport:
    """Import complaints files (CSV or Parquet; one, several or a folder of them) into the events of ``store``
    (see :mod:`gridmap.events.importer`)."""
    for p in source_paths(source):  # before anything is created
        if not p.exists():
            raise FileNotFoundError(message("complaints file not found", got=str(p)))
    coder = _coder(store)
    sink = open_events(store, events, create=True)
    return import_events(sink, source, coder=coder, batch_rows=batch_rows, progress=progress, **options)


def events_density(store: Any, *, events: str | os.PathLike | None = None, bandwidth_m: float = 300.0,
                   scale: str = "per_km2", by: "str | Unit" = Unit.CELL, client: Any = None,
                   progress: Callable[[int, int, str], None] | None = None,
                   **select: Any) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    """Kernel density of the stored events on the store's cells: ``(StreamedDensity, the density per unit
    (gridmap.warning.density_by), the cells)``. Parquet: the binned counts streamed file by file (here or on
    Dask); PostGIS: the counts per cell are a ``GROUP BY`` in SQL. Either way the density is
    :func:`gridmap.warning.kernel_density` of those counts."""
    from gridmap.events.density import StreamedDensity, stream_density
    from gridmap.warning.density import density_by, kernel_density

    src = open_events(store, events)
    cells = store.read("cells")
    if isinstance(src, PostgisEvents):
        counts, lat, missed = _sql_cell_bins(src, cells, Selection.of(**select))
        res = StreamedDensity(kernel_density(counts, lat, bandwidth_m=bandwidth_m, scale=scale), counts, lat,
                              int(counts.sum()), missed)
    else:
        res = stream_density(src.files(), cells, bandwidth_m=bandwidth_m, scale=scale, client=client,
                             progress=progress, **select)
    return res, density_by(res.density, cells, by=by, lattice=res.lattice, scale=scale), cells


def _sql_cell_bins(src: PostgisEvents, cells: pd.DataFrame, sel: Selection) -> tuple[Any, Any, int]:
    """The events' counts on the cells' lattice from a ``GROUP BY cell_code`` (as :func:`stream_bins`)."""
    import numpy as np

    from gridmap.warning.lattice_ops import localise_cells

    lat, cix, ciy = localise_cells(cells)
    raw = src.counts(column="cell_code", period=None, sel=sel)
    pos = pd.Index(cells["code"].astype(str)).get_indexer(raw["code"].astype(object).fillna("").to_numpy())
    ok = pos >= 0
    grid = np.zeros(lat.nx * lat.ny, dtype=np.int64)
    np.add.at(grid, (ciy * lat.nx + cix)[pos[ok]], raw["count"].to_numpy(dtype=np.int64)[ok])
    return grid.astype(float).reshape(lat.shape), lat, int(raw["count"].to_numpy()[~ok].sum())


def events_warning(store: Any, *, events: str | os.PathLike | None = None, start: Any, end: Any,
                   keywords: Any = None, categories: Any = None, recheck_years: int = 2, client: Any = None,
                   progress: Callable[[int, int, str], None] | None = None,
                   scan_options: dict[str, Any] | None = None) -> Any:
    """The space-time part of ``gridmap warn`` over the stored events, streamed: a
    :class:`gridmap.warning.WarningReport` (see :func:`gridmap.events.warning.events_report`)."""
    from gridmap.events.warning import events_report

    src = open_events(store, events)
    if isinstance(src, PostgisEvents):
        raise StoreError(message("the streamed early-warning scan reads a Parquet events folder",
                                 got="events in PostGIS", fix="pass --events DIR (an events folder)"))
    return events_report(src.files(), store.read("cells"), start=start, end=end, keywords=keywords,
                         categories=categories, recheck_years=recheck_years, client=client, progress=progress,
                         scan_options=scan_options)


def events_counts(store: Any, *, events: str | os.PathLike | None = None, by: "str | Unit" = Unit.CELL,
                  period: str | None = None, client: Any = None,
                  progress: Callable[[int, int, str], None] | None = None, **select: Any) -> pd.DataFrame:
    """Counts per unit (and month/week): streamed over the Parquet files (here or on Dask) or ``GROUP BY`` in
    PostGIS. Same frame as :func:`gridmap.events.analysis.stream_counts`."""
    src = open_events(store, events)
    unit = Unit.parse(by)
    if isinstance(src, PostgisEvents):
        raw = src.counts(column=unit.column, period=period, sel=Selection.of(**select))
        keys = [unit.column] + (["period"] if period else [])
        raw = raw.rename(columns={"code": unit.column})
        if period:
            raw["period"] = pd.to_datetime(raw["period"])
        out = raw.set_index(keys).sort_index()
        out["count"] = out["count"].astype("int64")
        return out.sort_values("count", ascending=False, kind="stable")
    return stream_counts(src.files(), by=unit, period=period, client=client, progress=progress, **select)


def events_rates(store: Any, *, events: str | os.PathLike | None = None, by: str = "street",
                 period: str = "month", first: Any = None, last: Any = None, rules: Any = None, client: Any = None,
                 progress: Callable[[int, int, str], None] | None = None) -> pd.DataFrame:
    """接诉即办 三率 per street (community) and month (or over the window, ``period='all'``) of the stored events:
    streamed over the month files of ``first..last`` (here or on Dask), or ``GROUP BY`` in PostGIS. Same frame
    as :func:`gridmap.events.rates.stream_rates` (that of :func:`gridmap.performance.monthly_rates`)."""
    from gridmap.events.rates import month_window, sql_rates, stream_rates

    src = open_events(store, events)
    if isinstance(src, PostgisEvents):
        return sql_rates(src, by=by, period=period, first=first, last=last, rules=rules)
    p0, p1 = month_window(first, last)
    months = None
    if p0 is not None or p1 is not None:  # only the month files of the window are opened
        have = src.months()
        months = [m for m in have if (p0 is None or m >= str(p0)) and (p1 is None or m <= str(p1))]
    return stream_rates(src.files(months=months), by=by, period=period, first=p0, last=p1, rules=rules,
                        client=client, progress=progress)


def events_cube(store: Any, *, events: str | os.PathLike | None = None, start: Any, end: Any,
                freq: str = "week", client: Any = None, progress: Callable[[int, int, str], None] | None = None,
                **select: Any) -> tuple[SpaceTimeCube, pd.DataFrame]:
    """The space-time cube of the stored events on the store's cells, and the cells."""
    src = open_events(store, events)
    cells = store.read("cells", columns=["code", "ix", "iy", "area_m2"])
    if isinstance(src, PostgisEvents):
        return _sql_cube(src, cells, start=start, end=end, freq=freq, **select), cells
    return stream_cube(src.files(), cells, start=start, end=end, freq=freq, client=client, progress=progress,
                       **select), cells


def _sql_cube(src: PostgisEvents, cells: pd.DataFrame, *, start: Any, end: Any, freq: str,
              **select: Any) -> SpaceTimeCube:
    """The cube from a ``GROUP BY cell, slice`` (the same cube :func:`stream_cube` builds)."""
    import numpy as np

    from gridmap.errors import ValidationError
    from gridmap.warning.lattice_ops import localise_cells

    lat, cix, ciy = localise_cells(cells)
    f = SliceFreq(freq)
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    step = pd.DateOffset(days=7) if f is SliceFreq.WEEK else pd.offsets.MonthBegin(1)
    complete = pd.DatetimeIndex([s for s in _slice_starts(t0, t1, f) if s + step <= t1])
    if len(complete) < MIN_SLICES:
        raise ValidationError(message(f"emerging hot-spot analysis needs at least {MIN_SLICES} complete {f.value} "
                                      "slices", got=f"{len(complete)} slice(s)", fix="widen the window"))
    stop = complete[-1] + step
    agg = src.cube_counts(start=complete[0], stop=stop, freq=f.value, sel=Selection.of(**select))
    ny, nx = lat.shape
    pos = pd.Index(cells["code"].astype(str)).get_indexer(agg["cell_code"].astype(object).fillna("").to_numpy())
    ok = pos >= 0
    if (~ok).any():
        log.warning("%d event(s) on no known cell were not counted in the cube", int(agg["count"][~ok].sum()))
    flat = agg["k"].to_numpy()[ok] * ny * nx + (ciy * nx + cix)[pos[ok]]
    cube = np.zeros(len(complete) * ny * nx, dtype=np.int64)
    np.add.at(cube, flat, agg["count"].to_numpy(dtype=np.int64)[ok])
    cube = cube.astype(float).reshape((len(complete), ny, nx))
    totals = cube.sum(axis=(1, 2))
    empty = [complete[i] for i in np.flatnonzero(totals == 0)]
    return SpaceTimeCube(cube, complete, f, lat, empty)


def events_emerging(store: Any, *, events: str | os.PathLike | None = None, start: Any, end: Any,
                    freq: str = "week", client: Any = None, progress: Callable[[int, int, str], None] | None = None,
                    select: dict | None = None, **options: Any) -> tuple[SpaceTimeCube, Any, pd.DataFrame]:
    """Emerging hot spots of the stored events: (cube, :class:`~gridmap.warning.EmergingResult`, cells)."""
    cube, cells = events_cube(store, events=events, start=start, end=end, freq=freq, client=client,
                              progress=progress, **(select or {}))
    return cube, emerging_hot_spots(cube, mask=cells_mask(cells), **options), cells
