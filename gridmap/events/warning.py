"""The early-warning report over the events store (``gridmap events warn``), streamed partition by partition.

It is the space-time part of :func:`gridmap.warning.early_warning` (what ``gridmap warn`` runs in memory):

- the space-time clusters of the weekly scan evaluations inside ``[start, end)``
  (:func:`gridmap.events.scan.stream_scan_alerts`: the same alerts as :func:`gridmap.warning.alerts.scan_alerts`),
  with the keyword watch list, families expanded (房屋漏雨 -> 漏雨, 渗水, 屋顶漏水 ...), as a family of its own;
- each watched term's matches in the window (streamed counts);
- the 回头看 re-check list of the ``recheck_years`` before ``start``: only the rows matching the watch list are
  read (a selection, small by nature) and :func:`gridmap.warning.recheck_list` runs on them.

Count jumps per unit are not part of it (they are not streamed yet: ``gridmap warn`` runs them in memory), nor
emerging hot spots (``gridmap events emerging``); the report says so in its notes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from gridmap.errors import ValidationError
from gridmap.events.analysis import Selection, _read, run_partials
from gridmap.events.scan import stream_keyword_counts, stream_scan_alerts
from gridmap.warning.alerts import keyword_scan
from gridmap.warning.keywords import expand_keywords, split_keywords
from gridmap.warning.labels import AlertKind
from gridmap.warning.recheck import RECHECK_COLUMNS, recheck_list
from gridmap.warning.report import WarningReport
from gridmap.warning.unit_geometry import attach_unit_geometry

__all__ = ["events_report", "stream_rows", "NOT_STREAMED"]

log = logging.getLogger(__name__)

#: The note every streamed report carries: what ``gridmap warn`` does that this report does not.
NOT_STREAMED = ("streamed from the events store: space-time clusters, keyword watch and 回头看 only; count jumps "
                "per unit are not streamed (gridmap warn runs them in memory), emerging hot spots are "
                "`gridmap events emerging`")

_RECHECK_READ = ["text", "address", "status", "closed_at", "cell_code", "community_code", "street_code", "x", "y"]


def _rows_partial(path: str, spec: tuple[list[str], Selection]) -> pa.Table:
    columns, sel = spec
    table = _read(path, columns, sel)
    # codes as plain text, so files whose dictionaries differ concatenate
    return pa.table({n: (c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c)
                     for n, c in zip(table.column_names, table.columns)})


def stream_rows(files: Sequence[str | Path], columns: list[str], *, client: Any = None,
                **select: Any) -> pd.DataFrame:
    """The selected rows (``columns`` and ``received_at``) of the events, read file by file: for selections that
    are small by nature (a keyword watch list over a few years), never for all rows."""
    parts = run_partials(_rows_partial, files, (list(columns), Selection.of(**select)), client=client)
    parts = [p for p in parts if p.num_rows]
    if not parts:
        return pd.DataFrame(columns=list(dict.fromkeys(list(columns) + ["received_at"])))
    return pa.concat_tables(parts, promote_options="permissive").to_pandas()


def events_report(files: Sequence[str | Path], cells: pd.DataFrame, *, start: Any, end: Any, keywords: Any = None,
                  categories: Any = None, recheck_years: int = 2, client: Any = None,
                  progress: Callable[[int, int, str], None] | None = None,
                  scan_options: dict[str, Any] | None = None) -> WarningReport:
    """The streamed early-warning report over ``[start, end)`` (see the module docstring).

    Equal to :func:`gridmap.warning.early_warning` ``(complaints, ..., units=(), hot_spots=False)`` on the same
    rows, but for the note on what is not streamed.
    """
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    kws = split_keywords(keywords)
    terms = expand_keywords(kws)
    notes = [NOT_STREAMED]
    steps = ["space-time scan"] + (["keyword counts", "回头看 re-check list"] if kws else []) + ["alert geometry"]

    def step(label: str) -> None:
        if progress:
            progress(steps.index(label), len(steps), label)

    step("space-time scan")
    try:
        alerts = keyword_scan(lambda **o: stream_scan_alerts(files, cells, start=t0, end=t1, categories=categories,
                                                             client=client, **o),
                              kws=kws, terms=terms, scan_options=scan_options)
    except ValidationError as exc:
        notes.append(f"space-time scan skipped: {str(exc).splitlines()[0]}")
        alerts = pd.DataFrame()
    if not len(alerts):  # as early_warning's table without alerts
        alerts = pd.DataFrame(columns=["kind", "unit_type", "unit", "observed", "expected", "ratio", "q"])
    alerts["kind_zh"] = alerts["kind"].map(lambda k: AlertKind(k).zh)
    keyword_counts = pd.DataFrame(columns=["term", "matches"])
    recheck = pd.DataFrame(columns=RECHECK_COLUMNS)
    if kws:
        step("keyword counts")
        keyword_counts = stream_keyword_counts(files, terms, start=t0, end=t1, client=client)
        step("回头看 re-check list")
        r0 = t0 - pd.DateOffset(years=recheck_years)
        rows = stream_rows(files, _RECHECK_READ, client=client, start=r0, end=t0, keywords=terms)
        rows = rows.sort_values("received_at", kind="stable").reset_index(drop=True) if len(rows) else rows
        recheck = recheck_list(rows, keywords=terms, start=r0, end=t0)
        log.info("re-check list from %d streamed row(s) matching the watch list", len(rows))
    step("alert geometry")
    if "geometry" in cells.columns and len(alerts):
        alerts = attach_unit_geometry(alerts, cells=cells)
    if progress:
        progress(len(steps), len(steps), "done")
    log.info("streamed early warning [%s, %s): %d alert(s), %d re-check place(s)", t0.date(), t1.date(),
             len(alerts), len(recheck))
    return WarningReport(t0, t1, alerts, recheck, notes, kws, keyword_counts)
