"""Alerts for a street office: count jumps against a seasonal baseline, new/intensifying hot spots, keyword
watch lists, and the pre-season re-check list (回头看), with a Markdown summary in Chinese
(:mod:`gridmap.warning.report`).

Count jumps (:func:`count_jumps`)
    For each unit (cell, community or street) the count in the window ``[start, end)`` is compared with the same
    unit's counts in ``K`` baseline windows of the same length. ``baseline='seasonal'`` uses the same dates in
    each of the previous ``years`` years, plus ``season_band`` adjacent windows either side (so the rainy season is compared with past rainy seasons);
    ``'recent'`` uses the ``K`` windows immediately before; ``'auto'`` (default) takes seasonal windows when the
    data go back far enough and otherwise falls back to recent ones, saying so in the log and in the result's
    ``baseline`` column. The test is the exact conditional test of two Poisson rates: given
    ``n = observed + baseline_total``, ``observed ~ Binomial(n, R / (R + K))`` under "no change", where ``R`` is the
    district-wide ratio of the window's volume to the mean baseline volume (``adjust_total=True``; 1 otherwise) so
    that a city-wide rise — more calls every year — is not an alert in every unit. One-sided p-values are
    controlled for the false-discovery rate (Benjamini-Hochberg) across all units tested; an alert also needs
    ``observed >= min_count``.

Space-time clusters (:func:`scan_alerts`)
    The prospective space-time scan of :mod:`gridmap.warning.scan` (the detector whose recall and false-alert
    share are scored on the demo district's planted anomalies) run as a street office runs it during the
    window: weekly evaluations on the dates ``end, end - 7 d, ...`` after ``start``, each looking at the 7 days
    before it, with the scan's own false-alarm control (at most ``alpha=0.002`` chance of any false alert per
    evaluation date). One row per place and family.

Re-check list (:func:`recheck_list`, in :mod:`gridmap.warning.recheck`)
    Past complaints matching keywords (e.g. 漏雨, 渗水, 屋顶) grouped by place (normalised address, else cell),
    ranked by unresolved items first, then recurrence (number of complaints, distinct years), then recency.

Examples
--------
>>> import pandas as pd
>>> rows = [("2023-07-03", "A"), ("2024-07-01", "A")] + [("2024-07-02", "B")] * 9
>>> df = pd.DataFrame(rows, columns=["received_at", "community_code"])
>>> df["received_at"] = pd.to_datetime(df["received_at"])
>>> j = count_jumps(df, start="2024-07-01", end="2024-07-08", by="community", baseline="recent", windows=4,
...                 adjust_total=False)
>>> j.loc[j.alert, "unit"].tolist()
['B']
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from gridmap.errors import Problem, ValidationError, message
from gridmap.warning.counts import Unit, complaint_mask
from gridmap.warning.emerging import Pattern, emerging_hot_spots, space_time_cube
from gridmap.warning.hotspots import fdr_bh
from gridmap.warning.keywords import expand_keywords, keyword_match_counts, split_keywords
from gridmap.warning.labels import AlertKind
from gridmap.warning.lattice_ops import localise_cells
from gridmap.warning.recheck import RECHECK_COLUMNS, RESOLVED_STATUSES, normalise_address, recheck_list
from gridmap.warning.report import WarningReport, summary_markdown
from gridmap.warning.unit_geometry import attach_unit_geometry

__all__ = ["Baseline", "AlertKind", "RESOLVED_STATUSES", "count_jumps", "hot_spot_alerts", "scan_alerts",
           "scan_evaluations", "scan_places", "keyword_scan",
           "recheck_list", "WarningReport", "early_warning", "summary_markdown", "normalise_address"]

log = logging.getLogger(__name__)

class Baseline(str, enum.Enum):
    """How the baseline windows of :func:`count_jumps` are chosen."""

    SEASONAL = "seasonal"
    RECENT = "recent"
    AUTO = "auto"


def _unit_column(complaints: pd.DataFrame, by: "str | Unit") -> str:
    col = Unit.parse(by).column
    if col not in complaints.columns:
        raise ValidationError(f"complaints have no {col} column", [Problem(None, col, "column missing")],
                              fix="import complaints through gridmap.io.complaints (assigns cell/community/street)")
    return col


def count_jumps(complaints: pd.DataFrame, *, start: Any, end: Any, by: "str | Unit" = Unit.CELL,
                baseline: "str | Baseline" = Baseline.AUTO, years: int = 2, windows: int = 8, season_band: int = 2,
                alpha: float = 0.05, min_count: int = 3, adjust_total: bool = True,
                data_start: Any = None, warn_fallback: bool = True, **select: Any) -> pd.DataFrame:
    """Units whose counts in ``[start, end)`` jump against their own baseline (see the module docstring).

    Parameters
    ----------
    by : 'cell', 'community' or 'street'.
    baseline : 'seasonal', 'recent' or 'auto'.
    years : seasonal baseline depth (same dates 1..years years earlier).
    season_band : seasonal baseline also uses the ``season_band`` windows either side of those dates (more
        baseline data, still the same season).
    windows : number of preceding windows for the recent baseline.
    alpha : false-discovery rate.
    min_count : smallest observed count that can raise an alert.
    adjust_total : scale the expectation by the district-wide volume ratio.
    data_start : first date covered by the data (default: the earliest ``received_at``); baseline windows
        before it are not used (a window with no data is not a window with zero complaints).
    warn_fallback : log the fall-back to recent windows as a warning (callers that run many tests over the same
        window pass False and say it once themselves).
    **select : ``categories=``, ``keywords=`` (see :func:`~gridmap.warning.complaint_mask`).

    Returns
    -------
    DataFrame, one row per unit with any complaint in the window or the baseline: ``unit``, ``observed``,
    ``baseline_mean``, ``expected``, ``ratio``, ``p``, ``q``, ``alert``, ``baseline`` (which windows).

    Why 13 parameters: each keyword is an independent setting of the test, documented above and passed one by
    one by :func:`early_warning` and the notebooks; a group would only move the list. The baseline windows are
    chosen by :func:`_baseline_windows`.
    """
    col = _unit_column(complaints, by)
    mode = Baseline(baseline)
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    if t1 <= t0:
        raise ValidationError(message("the window is empty", got=f"[{t0}, {t1})", fix="use --from before --to"))
    times = pd.to_datetime(complaints["received_at"])
    # the data cover whole days from the first complaint's date (its time of day is not a data start)
    first = (pd.Timestamp(data_start) if data_start is not None else (times.min() if len(times) else t0)).normalize()
    wins, used = _baseline_windows(t0, t1, first=first, mode=mode, years=years, season_band=season_band,
                                   windows=windows, warn_fallback=warn_fallback)
    sel = complaint_mask(complaints, **select) if select else pd.Series(True, index=complaints.index)
    units = complaints[col].astype("string").fillna("(unassigned)")
    obs = units[sel & (times >= t0) & (times < t1)].value_counts()
    base = pd.Series(0.0, index=obs.index.copy())
    for a, b in wins:
        base = base.add(units[sel & (times >= a) & (times < b)].value_counts(), fill_value=0.0)
    idx = obs.index.union(base.index)
    obs = obs.reindex(idx, fill_value=0).astype(float)
    base = base.reindex(idx, fill_value=0.0)
    k = float(len(wins))
    ratio_total = 1.0
    if adjust_total and base.sum() > 0:
        ratio_total = float(obs.sum() / (base.sum() / k))
    share = ratio_total / (ratio_total + k)
    n = obs + base
    p = np.where(obs > 0, stats.binom.sf(obs - 1, n, share), 1.0)
    q = fdr_bh(p)
    expected = base / k * ratio_total
    out = pd.DataFrame({"unit": idx.astype(str), "observed": obs.to_numpy().astype(int),
                        "baseline_mean": (base / k).to_numpy(), "expected": expected.to_numpy(),
                        "ratio": np.where(expected > 0, obs / expected.where(expected > 0), np.inf),
                        "p": p, "q": q})
    out["alert"] = (out["q"] < alpha) & (out["observed"] >= min_count) & (out["unit"] != "(unassigned)")
    out["baseline"] = f"{used}: {len(wins)} window(s)"
    out["unit_type"] = Unit.parse(by).value
    out = out.sort_values(["alert", "q", "observed"], ascending=[False, True, False], kind="stable")
    log.info("count jumps by %s over [%s, %s): %d unit(s), %d alert(s), %s baseline x%d, volume ratio %.2f",
             Unit.parse(by).value, t0.date(), t1.date(), len(out), int(out["alert"].sum()), used, len(wins),
             ratio_total)
    out = out.reset_index(drop=True)
    out.attrs["baseline_windows"] = [(a, b) for a, b in wins]
    return out


def _baseline_windows(t0: pd.Timestamp, t1: pd.Timestamp, *, first: pd.Timestamp, mode: Baseline, years: int,
                      season_band: int, windows: int, warn_fallback: bool) -> tuple[list[tuple[Any, Any]], str]:
    """The baseline windows of :func:`count_jumps` (none before ``first``, the start of the data, and none
    overlapping the window it judges: each ends by ``t0``) and which kind was used ('seasonal' or 'recent')."""
    length = t1 - t0
    seasonal = [(t0 - pd.DateOffset(years=k) + length * b, t1 - pd.DateOffset(years=k) + length * b)
                for k in range(1, years + 1) for b in range(-season_band, season_band + 1)]
    seasonal = sorted(w for w in seasonal if w[0] >= first and w[1] <= t0)
    recent = [(t0 - length * k, t0 - length * (k - 1)) for k in range(1, windows + 1)]
    recent = [w for w in recent if w[0] >= first]
    if mode is Baseline.SEASONAL or (mode is Baseline.AUTO and seasonal):
        wins, used = seasonal, "seasonal"
        if not wins:
            raise ValidationError(message("no seasonal baseline: the data do not reach back a year before the window",
                                          got=f"data from {first.date()}", fix="use baseline='recent'"))
    else:
        wins, used = recent, "recent"
        if mode is Baseline.AUTO:
            (log.warning if warn_fallback else log.debug)(
                "no data a year before %s: baseline falls back to the %d preceding windows (not "
                "seasonality-aware)", t0.date(), len(wins))
        if not wins:
            raise ValidationError(message("no baseline window has data", where=f"[{t0.date()}, {t1.date()})",
                                          got=f"data from {first.date()}",
                                          fix="widen the data range or shorten the window"))
    return wins, used


def hot_spot_alerts(complaints: pd.DataFrame, cells: pd.DataFrame, *, end: Any, slices: int = 12,
                    freq: str = "week", alpha: float = 0.05, fdr: bool = True, moments: str = "slice",
                    **select: Any) -> pd.DataFrame:
    """New, consecutive and intensifying hot spots over the ``slices`` weeks (or months) ending at ``end``.

    ``cells`` is the cells layer (``code``, ``ix``, ``iy``, polygons); cells absent from it are outside the
    study area. The analysis runs on the dense lattice of the cells' extent only (:func:`lattice_from_cells`),
    and complaints go to their imported ``cell_code`` when they have one. Gi* uses each slice's own moments by default (``moments='slice'``), so a season-wide rise in
    volume is not a hot spot by itself; pass ``moments='cube'`` for ArcGIS's behaviour. Returns rows ``unit`` (cell code), ``kind``, ``pattern``, ``final_z``, ``trend_z``, ``total``.
    """
    lat, cix, ciy = localise_cells(cells)
    t1 = pd.Timestamp(end)
    if freq == "week":
        t0 = t1 - pd.Timedelta(weeks=slices)
    else:
        t1 = t1.normalize().replace(day=1)
        t0 = t1 - pd.DateOffset(months=slices)
    cube = space_time_cube(complaints, lat, start=t0, end=t1, freq=freq, cells=cells, **select)
    mask = np.zeros(lat.shape, dtype=bool)
    mask[ciy, cix] = True
    res = emerging_hot_spots(cube, mask=mask, alpha=alpha, fdr=fdr, moments=moments,
                             time_window=0 if moments == "slice" else 1)
    # a lattice square can hold several cells (pieces of different communities): report the largest one
    area = cells["area_m2"].to_numpy(dtype=float) if "area_m2" in cells.columns else \
        (cells.geometry.area.to_numpy() if "geometry" in cells.columns else np.zeros(len(cells)))
    owner = pd.DataFrame({"code": cells["code"].to_numpy(), "ix": cix, "iy": ciy, "area": area}).sort_values(
        "area", ascending=False, kind="stable").drop_duplicates(["ix", "iy"])
    code = pd.Series(owner["code"].to_numpy(), index=pd.MultiIndex.from_arrays([owner["ix"], owner["iy"]]))
    keep = res.cells[res.cells["pattern"].isin([Pattern.NEW_HOT.value, Pattern.CONSECUTIVE_HOT.value,
                                                Pattern.INTENSIFYING_HOT.value])].copy()
    keep["unit"] = code.reindex(pd.MultiIndex.from_arrays([keep["ix"], keep["iy"]])).to_numpy()
    keep["kind"] = keep["pattern"]
    keep["unit_type"] = "cell"
    return keep[["unit", "unit_type", "kind", "pattern", "pattern_zh", "final_z", "trend_z", "total"]].reset_index(
        drop=True)


SCAN_COLUMNS = ["unit", "unit_type", "kind", "family", "category", "flagged_at", "last_flagged_at", "evaluations",
                "observed", "expected", "ratio", "p", "q", "radius_m", "x", "y", "baseline"]


def scan_alerts(complaints: pd.DataFrame, cells: pd.DataFrame, *, start: Any, end: Any, step_days: int = 7,
                window_days: int = 7, categories: Any = None, **options: Any) -> pd.DataFrame:
    """Space-time clusters raised by the evaluations a street office runs during ``[start, end)``.

    This runs :func:`~gridmap.warning.scoring.rolling_alerts`, the detector scored against the demo district's
    planted anomalies (:func:`~gridmap.warning.scan.space_time_alerts` with one family per category, weekly
    evaluations of the 7 days before each, false alarms controlled per evaluation date), on the dates
    ``end, end - step_days, end - 2 step_days, ...`` that fall after ``start``. Each evaluation looks at the
    ``window_days`` before its date, so together they cover the window; when the window is shorter than
    ``window_days`` the single evaluation at ``end`` reaches back before ``start``.

    Parameters
    ----------
    complaints, cells : as for :func:`~gridmap.warning.scan.space_time_alerts`.
    start, end : the window (dates; times of day are ignored).
    step_days, window_days : evaluation spacing and observation window (defaults as scored).
    categories : restrict the complaints to these catalog categories first.
    **options : further options of :func:`~gridmap.warning.scan.space_time_alerts` (``alpha``, ``radii_m``,
        ``keyword_sets``, ``baseline``, ...).

    Returns
    -------
    DataFrame, one row per place (``family``, ``unit``): ``unit`` (cell code), ``unit_type`` ('cell'),
    ``kind`` ('space-time cluster'), ``family`` (e.g. 'category:房屋漏雨'), ``category`` (the family's name),
    ``flagged_at`` / ``last_flagged_at`` (first and last evaluation that flagged it), ``evaluations`` (how many
    did), and ``observed``, ``expected``, ``ratio``, ``p``, ``q``, ``radius_m``, ``x``, ``y``, ``baseline`` of its
    most significant evaluation; sorted by first flag, then p.
    """
    from gridmap.warning.scoring import rolling_alerts

    d0, t1 = scan_evaluations(start, end, step_days=step_days)
    data = complaints.loc[complaint_mask(complaints, categories=categories)] if categories is not None \
        else complaints
    # the data's first date: from all complaints, so a category restriction does not shorten the baseline
    first = pd.to_datetime(complaints["received_at"]).min() if len(complaints) else None
    options.setdefault("data_start", first)
    # the scored detector itself, so what users are warned by is what recall was measured on
    raw = rolling_alerts(data, cells, start=d0, end=t1, step_days=step_days, window_days=window_days, **options)
    return scan_places(raw, start=start, end=end, step_days=step_days)


def scan_evaluations(start: Any, end: Any, *, step_days: int = 7) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first and last evaluation dates :func:`scan_alerts` runs in ``[start, end)``: ``end`` and every
    ``step_days`` before it that falls after ``start`` (dates; times of day are ignored)."""
    t0, t1 = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    days = int((t1 - t0).days)
    if days < 1:
        raise ValidationError(message("the window is empty (the scan works on whole days)",
                                      got=f"[{pd.Timestamp(start)}, {pd.Timestamp(end)})",
                                      fix="use --from at least a day before --to"))
    if step_days < 1:
        raise ValidationError(message("step_days must be at least 1", got=step_days))
    return t1 - pd.Timedelta(days=((days - 1) // step_days) * step_days), t1


def scan_places(raw: pd.DataFrame, *, start: Any, end: Any, step_days: int = 7) -> pd.DataFrame:
    """The alert log of the evaluations of :func:`scan_evaluations` (``space_time_alerts``' rows) as one row per
    place and family (:data:`SCAN_COLUMNS`; see :func:`scan_alerts`)."""
    t0, t1 = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    d0, _ = scan_evaluations(start, end, step_days=step_days)
    if raw.empty:
        out = pd.DataFrame(columns=SCAN_COLUMNS)
    else:
        raw = raw.sort_values(["p", "observed"], ascending=[True, False], kind="stable")
        g = raw.groupby(["family", "unit"], sort=False)
        out = g.head(1).set_index(["family", "unit"])
        out["flagged_at"] = g["flagged_at"].min()
        out["last_flagged_at"] = g["flagged_at"].max()
        out["evaluations"] = g.size()
        out = out.reset_index()
        out["category"] = out["family"].str.split(":", n=1).str[-1]
        out["unit_type"] = Unit.CELL.value
        out["kind"] = AlertKind.SPACE_TIME_CLUSTER.value
        out = out.sort_values(["flagged_at", "p"], kind="stable")[SCAN_COLUMNS].reset_index(drop=True)
    log.info("space-time clusters over [%s, %s): %d evaluation(s) from %s, %d place(s)", t0.date(), t1.date(),
             (t1 - d0).days // step_days + 1, d0.date(), len(out))
    return out


def keyword_scan(run: Callable[..., pd.DataFrame], *, kws: list[str], terms: list[str],
                 scan_options: dict[str, Any] | None = None) -> pd.DataFrame:
    """``run(**scan_options)`` (a :func:`scan_alerts`) with the keyword watch list ``kws`` (expanded to
    ``terms``) as a family of its own (it may have no history at all); the watch list's clusters are
    keyword-watch rows."""
    sopts = dict(scan_options or {})
    if kws:
        sopts.setdefault("keyword_sets", {"、".join(kws): terms})
    sc = run(**sopts)
    sc.loc[sc["family"].astype(str).str.startswith("keywords:"), "kind"] = AlertKind.KEYWORD.value
    return sc


def early_warning(complaints: pd.DataFrame, *, start: Any, end: Any, cells: pd.DataFrame | None = None,
                  keywords: Any = None, units: tuple[str, ...] = ("cell", "community"),
                  baseline: str = "auto", alpha: float = 0.05, min_count: int = 3, hot_spots: bool = True,
                  slices: int = 12, recheck_years: int = 2, categories: Any = None, scan: bool = True,
                  scan_options: dict[str, Any] | None = None,
                  progress: Callable[[int, int, str], None] | None = None) -> WarningReport:
    """Run every alert over ``[start, end)`` and return a :class:`WarningReport`.

    - count jumps per unit in ``units`` (all complaints, or ``categories``);
    - keyword watch: count jumps restricted to ``keywords`` (if given, families expanded:
      :mod:`~gridmap.warning.keywords`) per unit, and the watch list as a family of the space-time scan (its
      clusters are ``keyword watch`` rows with a ``family``; with no history it is judged against the overall
      rate); each watched term's match count is in the report's ``keyword_counts``;
    - new/consecutive/intensifying hot spots over ``slices`` weeks ending at ``end`` (needs ``cells``);
    - space-time clusters (``scan=True``, needs ``cells``): :func:`scan_alerts`, the space-time scan whose
      recall is scored on the planted anomalies, evaluated weekly in the window; ``scan_options`` go to it
      (its ``alpha`` is its own per-evaluation false-alarm rate, default 0.002, not ``alpha`` here);
    - the 回头看 list of the ``recheck_years`` years before ``start`` for ``keywords``.

    ``alpha`` is the false-discovery rate of the count jumps, keyword watch and hot spots.
    ``progress(done, total, label)``, if given, is called before each of these steps (the CLI draws a progress
    bar with it); off by default.

    The alert table has ``kind``, ``kind_zh``, ``unit_type``, ``unit`` and the statistics of each test; when
    ``cells`` (with geometry) are given it is a GeoDataFrame with the cell (or community-hull) geometry.

    Why 16 parameters: the keyword-only options of ``gridmap warn`` (one to one with its flags) and of the
    notebooks; each is independent and documented above. The steps are :func:`_unit_alerts` per unit and
    :func:`_cell_alerts` for the analyses that need the cells.
    """
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    notes: list[str] = []
    parts = []
    kws = split_keywords(keywords)
    terms = expand_keywords(kws)  # a family name (房屋漏雨) watches all its members (漏雨, 渗水, 屋顶漏水 ...)
    keyword_counts = keyword_match_counts(complaints.loc[complaint_mask(complaints, start=t0, end=t1)], terms) \
        if kws else pd.DataFrame(columns=["term", "matches"])
    fell_back = False
    total = len(units) * (2 if kws else 1) + int(hot_spots) + int(scan) + int(bool(kws)) + 1
    done = 0

    def step(label: str) -> None:
        nonlocal done
        if progress:
            progress(done, total, label)
        done += 1

    for unit in units:
        unit_parts, note, recent = _unit_alerts(complaints, unit, t0=t0, t1=t1, kws=terms, baseline=baseline,
                                                alpha=alpha, min_count=min_count, categories=categories, step=step)
        parts += unit_parts
        if note:
            notes.append(note)
        if recent and not fell_back:
            log.warning("no data a year before %s: count-jump baselines fall back to the preceding windows "
                        "(not seasonality-aware)", t0.date())
            fell_back = True
    if hot_spots:
        step("emerging hot spots")
        parts += _cell_alerts(cells, notes, "hot spots: no cells layer given; emerging hot-spot analysis skipped",
                              "hot spots", lambda: hot_spot_alerts(complaints, cells, end=t1, slices=slices,
                                                                   alpha=alpha, categories=categories))
    if scan:
        step("space-time scan")
        parts += _cell_alerts(cells, notes, "space-time scan: no cells layer given; skipped", "space-time scan",
                              lambda: _scan_with_keywords(complaints, cells, t0=t0, t1=t1, categories=categories,
                                                          kws=kws, terms=terms, scan_options=scan_options))
    alerts = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else \
        pd.DataFrame(columns=["kind", "unit_type", "unit", "observed", "expected", "ratio", "q"])
    alerts["kind_zh"] = alerts["kind"].map(lambda k: AlertKind(k).zh)
    recheck = pd.DataFrame(columns=RECHECK_COLUMNS)
    if kws:
        step("回头看 re-check list")
        recheck = recheck_list(complaints, keywords=terms, start=t0 - pd.DateOffset(years=recheck_years), end=t0)
    step("alert geometry")
    if cells is not None and "geometry" in cells.columns and len(alerts):
        alerts = attach_unit_geometry(alerts, cells=cells)
    if progress:
        progress(total, total, "done")
    log.info("early warning [%s, %s): %d alert(s), %d re-check place(s)", t0.date(), t1.date(), len(alerts),
             len(recheck))
    return WarningReport(t0, t1, alerts, recheck, notes, kws, keyword_counts)


def _scan_with_keywords(complaints: pd.DataFrame, cells: pd.DataFrame, *, t0: pd.Timestamp, t1: pd.Timestamp,
                        categories: Any, kws: list[str], terms: list[str],
                        scan_options: dict[str, Any] | None) -> pd.DataFrame:
    """:func:`scan_alerts` with the keyword watch list as a family of its own (:func:`keyword_scan`)."""
    return keyword_scan(lambda **o: scan_alerts(complaints, cells, start=t0, end=t1, categories=categories, **o),
                        kws=kws, terms=terms, scan_options=scan_options)


def _unit_alerts(complaints: pd.DataFrame, unit: str, *, t0: pd.Timestamp, t1: pd.Timestamp, kws: list[str],
                 baseline: str, alpha: float, min_count: int, categories: Any,
                 step: Callable[[str], None]) -> tuple[list[pd.DataFrame], str | None, bool]:
    """:func:`early_warning`'s count jumps (and keyword watch, with ``kws``) per ``unit``: the alert rows, a note
    for the report (or None), and whether the baseline fell back to the preceding windows."""
    step(f"count jumps per {unit}")
    col = Unit.parse(unit).column
    if col not in complaints.columns or complaints[col].isna().all():
        return [], f"{unit}: complaints carry no {col}; not tested", False
    parts, note, recent = [], None, False
    try:  # a step without a baseline says so; the other steps still run
        j = count_jumps(complaints, start=t0, end=t1, by=unit, baseline=baseline, alpha=alpha,
                        min_count=min_count, categories=categories, warn_fallback=False)
    except ValidationError as exc:
        return [], f"count jumps per {unit} skipped: {str(exc).splitlines()[0]}" + \
            (f" (keyword watch per {unit} too)" if kws else ""), False
    parts.append(j[j["alert"]].assign(kind=AlertKind.COUNT_JUMP.value))
    if j["baseline"].iloc[:1].str.startswith("recent").any():
        note = f"{unit}: no data a year earlier, baseline = preceding windows (not seasonal)"
        recent = True
    if kws:
        step(f"keyword watch per {unit}")
        k = count_jumps(complaints, start=t0, end=t1, by=unit, baseline=baseline, alpha=alpha,
                        min_count=min_count, keywords=kws, categories=categories, adjust_total=False,
                        warn_fallback=False)
        parts.append(k[k["alert"]].assign(kind=AlertKind.KEYWORD.value, keywords="、".join(kws)))
    return parts, note, recent


def _cell_alerts(cells: pd.DataFrame | None, notes: list[str], no_cells: str, what: str,
                 run: Callable[[], pd.DataFrame]) -> list[pd.DataFrame]:
    """``[run()]`` for an analysis that needs the cells; without cells, or when its data do not allow it, no
    rows and a note (``no_cells``, or ``"<what> skipped: <the error's first line>"``)."""
    if cells is None:
        notes.append(no_cells)
        return []
    try:
        return [run()]
    except ValidationError as exc:
        notes.append(f"{what} skipped: {str(exc).splitlines()[0]}")
        return []
