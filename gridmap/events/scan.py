"""The space-time early-warning scan over the events store, streamed partition by partition (here or on Dask).

What the scan of :mod:`gridmap.warning.scan` needs from the rows: the data's first day, and for each test family
(one per category, or all complaints, plus one per keyword watch list) the number of complaints per day and
lattice square over the days its evaluations look at, and the same for all complaints (the rate a family with no
history is judged against). That is :class:`gridmap.warning.scan.ScanCounts`. So:

1. the first day is the earliest ``received_at`` of the events (from the Parquet statistics of each file);
2. each file is reduced to sparse ``(day x square, count)`` pairs per family (integers, bounded memory), in this
   process or as Dask tasks (:func:`~gridmap.events.analysis.run_partials`), and the pairs are gathered;
3. :func:`gridmap.warning.scan.alerts_from_counts` (the code :func:`~gridmap.warning.space_time_alerts` runs in
   memory) turns them into alerts: the same alerts with the same scores.

Keyword watch works streamed two ways, as in memory: a watch list as a family of its own (``keyword_sets``, the
names of :mod:`gridmap.warning.keywords`' families expanded, e.g. 房屋漏雨 -> 漏雨, 渗水, 屋顶漏水 ...), or a
row selection (``keywords=`` of :class:`~gridmap.events.analysis.Selection`) before the families are formed.

- :func:`stream_space_time_alerts` equals ``space_time_alerts(select_complaints(complaints, **select), cells,
  data_start=<the earliest complaint of all>, ...)``;
- :func:`stream_scan_alerts` equals :func:`gridmap.warning.alerts.scan_alerts` (weekly evaluations inside a
  window, one row per place) and :func:`stream_keyword_counts` the report's matches per watched term.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gridmap.errors import ValidationError, message
from gridmap.events.analysis import Selection, _codes, _read, run_partials
from gridmap.events.density import cell_positions
from gridmap.warning.alerts import scan_evaluations, scan_places
from gridmap.warning.lattice_ops import localise_cells
from gridmap.warning.scan import ScanCounts, ScanOptions, alerts_from_counts, scan_window

__all__ = ["data_start", "stream_scan_counts", "stream_space_time_alerts", "stream_scan_alerts",
           "stream_keyword_counts"]

log = logging.getLogger(__name__)

_DAY_US = 86_400_000_000
_Sparse = tuple[np.ndarray, np.ndarray]


# -- the data's first day -------------------------------------------------------------------------------------------
def _first_partial(path: str, spec: Any) -> Any:
    """The earliest ``received_at`` of one file (``spec`` unused): from the row-group statistics, else from the
    column."""
    meta = pq.ParquetFile(path).metadata
    col = meta.schema.names.index("received_at") if "received_at" in meta.schema.names else None
    mins = []
    for g in range(meta.num_row_groups):
        st = meta.row_group(g).column(col).statistics if col is not None else None
        if st is None or not st.has_min_max:
            mins = None
            break
        if meta.row_group(g).num_rows:
            mins.append(pd.Timestamp(st.min))
    if mins is not None:
        return min(mins) if mins else None
    m = pc.min(pq.read_table(path, columns=["received_at"]).column("received_at")).as_py()
    return None if m is None else pd.Timestamp(m)


def data_start(files: Sequence[str | Path], *, client: Any = None) -> pd.Timestamp | None:
    """The earliest ``received_at`` of the events in ``files`` (None when there are none)."""
    firsts = [f for f in run_partials(_first_partial, files, None, client=client) if f is not None]
    return min(firsts) if firsts else None


# -- counts per family, day and square ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _ScanSpec:
    codes: pa.Array                          # cell code -> position
    flat: np.ndarray                         # position -> iy * nx + ix
    nyx: int
    lo_us: int                               # day 0, microseconds since the epoch
    n_days: int
    by_category: bool                        # one family per category (else one family 'all')
    keyword_sets: tuple[tuple[str, tuple[str, ...]], ...]
    sel: Selection                           # the rows: the user's selection inside the days counted


def _sparse(flat: np.ndarray) -> _Sparse:
    return np.unique(flat, return_counts=True)


def _scan_partial(path: str, spec: _ScanSpec) -> tuple[dict[str, _Sparse], _Sparse]:
    """One file's counts: family -> sparse ``(day * ny * nx + iy * nx + ix, count)``, and those of all rows."""
    cols = ["cell_code"] + (["category"] if spec.by_category else []) + (["text"] if spec.keyword_sets else [])
    table = _read(path, cols, spec.sel)
    t = table.column("received_at").combine_chunks().cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
    day = (t.astype(np.int64) - spec.lo_us) // _DAY_US  # floor, as pandas' Timedelta.days
    pos = cell_positions(table.column("cell_code"), spec.codes)
    ok = (pos >= 0) & (day >= 0) & (day < spec.n_days)
    flat = day[ok] * spec.nyx + spec.flat[pos[ok]]
    fams: dict[str, _Sparse] = {}
    if spec.by_category:
        cidx, cvalues = _codes(table.column("category"))
        cvalues[-1] = "(none)"  # a missing category, as space_time_alerts names it
        fam_of_value, names = pd.factorize(cvalues)
        fam = fam_of_value[cidx][ok]
        for k in np.unique(fam):
            fams[f"category:{names[k]}"] = _sparse(flat[fam == k])
    else:
        fams["all"] = _sparse(flat)
    for name, terms in spec.keyword_sets:
        hit = Selection(keywords=terms or None).mask(table)  # an empty list selects every row, as in memory
        hit = np.ones(len(table), dtype=bool) if hit is None else hit.to_numpy(zero_copy_only=False)
        if hit[ok].any():
            fams[f"keywords:{name}"] = _sparse(flat[hit[ok]])
    return fams, _sparse(flat)


def _gather(parts: list[_Sparse]) -> tuple[np.ndarray, np.ndarray]:
    """Sparse pairs of several files as one (flat, counts) pair; repeated bins are summed by the scan."""
    return (np.concatenate([p[0] for p in parts]).astype(np.int64),
            np.concatenate([p[1] for p in parts]).astype(np.int64))


def stream_scan_counts(files: Sequence[str | Path], cells: pd.DataFrame, window: Any, options: ScanOptions, *,
                       client: Any = None, progress: Callable[[int, int, str], None] | None = None,
                       select: Selection | None = None) -> ScanCounts:
    """The :class:`~gridmap.warning.scan.ScanCounts` of the events on the days of ``window`` (a
    :class:`~gridmap.warning.scan.ScanWindow`), gathered file by file; the families in the order
    :func:`~gridmap.warning.space_time_alerts` tests them (categories sorted, then keyword sets)."""
    if options.families not in ("category", "all", None):
        raise ValidationError(message("unknown families option", got=repr(options.families),
                                      fix="use 'category', 'all' or None"))
    lat, cix, ciy = localise_cells(cells)
    sel = select or Selection()
    lo, hi = window.lo, window.lo + pd.Timedelta(days=window.n_days)
    sel = replace(sel, start=lo if sel.start is None else max(sel.start, lo),
                  end=hi if sel.end is None else min(sel.end, hi))
    kw = tuple((str(n), tuple(Selection.of(keywords=k).keywords or ()))
               for n, k in (options.keyword_sets or {}).items())
    lo_us = int(np.datetime64(window.lo.to_datetime64(), "us").astype(np.int64))
    spec = _ScanSpec(pa.array(cells["code"].astype(str).to_numpy(), pa.string()),
                     (ciy * lat.nx + cix).astype(np.int64), lat.nx * lat.ny, lo_us, window.n_days,
                     options.families == "category", kw, sel)
    parts = run_partials(_scan_partial, files, spec, client=client, progress=progress)
    by_family: dict[str, list[_Sparse]] = {}
    for fams, _ in parts:
        for name, pair in fams.items():
            by_family.setdefault(name, []).append(pair)
    cats = sorted(n for n in by_family if n.startswith("category:"))
    order = cats + (["all"] if "all" in by_family else []) + [f"keywords:{n}" for n, _ in kw]
    families = {n: _gather(by_family[n]) for n in order if n in by_family}
    overall = _gather([o for _, o in parts]) if parts else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    log.info("streamed scan counts: %d family(ies), %d event(s) from %d file(s)", len(families),
             int(overall[1].sum()), len(files))
    return ScanCounts(families, overall)


def _options(options: ScanOptions | None, overrides: dict[str, Any]) -> ScanOptions:
    from gridmap.warning.scan import _scan_options

    return _scan_options(options, overrides)


def stream_space_time_alerts(files: Sequence[str | Path], cells: pd.DataFrame, *, start: Any, end: Any,
                             options: ScanOptions | None = None, client: Any = None,
                             progress: Callable[[int, int, str], None] | None = None, select: dict | None = None,
                             **overrides: Any) -> pd.DataFrame:
    """:func:`gridmap.warning.space_time_alerts` over the events in ``files``, streamed (module docstring).

    ``options``/``overrides`` are the scan's (:class:`~gridmap.warning.scan.ScanOptions`); ``select`` selects
    rows first (``start``, ``end``, ``categories``, ``keywords``); ``data_start`` defaults to the earliest event
    of all the files (not of the selection: a selection does not shorten the baseline).
    """
    opts = _options(options, overrides)
    first = opts.data_start if opts.data_start is not None else data_start(files, client=client)
    window = scan_window(opts, start=start, end=end, first=first if first is not None else start)
    counts = stream_scan_counts(files, cells, window, opts, client=client, progress=progress,
                                select=Selection.of(**(select or {})))
    return alerts_from_counts(counts, cells, window, opts)


def stream_scan_alerts(files: Sequence[str | Path], cells: pd.DataFrame, *, start: Any, end: Any,
                       step_days: int = 7, window_days: int = 7, categories: Any = None, client: Any = None,
                       progress: Callable[[int, int, str], None] | None = None, **options: Any) -> pd.DataFrame:
    """:func:`gridmap.warning.alerts.scan_alerts` over the events, streamed: the space-time clusters raised by
    the weekly evaluations inside ``[start, end)``, one row per place and family."""
    d0, t1 = scan_evaluations(start, end, step_days=step_days)
    # one family per category plus the keyword sets, as the scored detector (rolling_alerts) runs it
    raw = stream_space_time_alerts(files, cells, start=d0, end=t1, client=client, progress=progress,
                                   select={"categories": categories} if categories is not None else None,
                                   step_days=step_days, window_days=window_days,
                                   **{"families": "category", **options})
    return scan_places(raw, start=start, end=end, step_days=step_days)


def _terms_partial(path: str, spec: tuple[Selection, tuple[str, ...]]) -> np.ndarray:
    sel, terms = spec
    table = _read(path, ["text"], sel)
    return np.array([int(pc.sum(pc.fill_null(pc.match_substring(table.column("text"), t), False)).as_py() or 0)
                     for t in terms], dtype=np.int64)


def stream_keyword_counts(files: Sequence[str | Path], terms: Sequence[str], *, start: Any, end: Any,
                          client: Any = None) -> pd.DataFrame:
    """How many events in ``[start, end)`` each term matches (``term``, ``matches``), as
    :func:`gridmap.warning.keyword_match_counts` on the same rows."""
    terms = tuple(terms)
    parts = run_partials(_terms_partial, files, (Selection.of(start=start, end=end), terms), client=client)
    total = np.sum(parts, axis=0) if parts else np.zeros(len(terms), dtype=np.int64)
    return pd.DataFrame({"term": list(terms), "matches": [int(v) for v in np.atleast_1d(total)]})
