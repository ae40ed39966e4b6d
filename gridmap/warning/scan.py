"""Prospective space-time alerts: where did complaints of one kind jump this week, against their own past?

:func:`space_time_alerts` replays (or runs once, for the latest date) a surveillance scan as a street office
would run it every ``step_days``. It is the space-time permutation scan (Kulldorff et al. 2005, the method of
New York City's syndromic surveillance) on the unit-cell lattice, with an exact test and a false-alarm rate fixed
per evaluation:

1. **Families.** Complaints are split into test families: one per category (``families='category'``) and one
   per keyword watch list (``keyword_sets``, e.g. ``{"漏雨": ["漏雨", "渗水", "屋顶"]}``).
2. **Counts on the lattice.** Daily counts per family on the cells' lattice (complaints go to their imported
   cell), summed over the observation window ``[d - window_days, d)`` (``O``) and the baseline (``B``): the
   ``baseline_days`` before the window, leaving a ``guard_days`` gap (``'recent'``), or the same dates in up to
   ``years`` earlier years widened by ``season_band_days`` either side (``'seasonal'``); ``'auto'`` takes
   seasonal windows for each date whose data reach back far enough and recent ones otherwise (logged once per
   run, reported in ``baseline``).
3. **Scan windows.** ``O`` and ``B`` are summed over discs of each radius in ``radii_m`` around every cell
   (radius 0 = the cell alone), so a cluster spread over a few cells is seen as one.
4. **Test.** "No change" means the place keeps its share of its family: whatever the family does district-wide
   (heating from 15 November, leaks in the rainy season, a storm, a city-wide rise) moves every place alike.
   Given the 2x2 table (place / rest of district) x (window / baseline), ``O`` is hypergeometric; the one-sided
   exact p-value is ``P(X >= O)`` (Fisher's exact test; the space-time permutation model's conditional law).
   A family with no history at all (a new kind of complaint, a keyword never written before) has no baseline
   of its own: its window is compared with the baseline of all complaints (the overall rate), so a new kind
   that bursts in one place alerts, while one spread like everything else does not (``baseline`` says so).
5. **Multiple testing.** ``control='fwer'`` (default): Bonferroni over every (family, radius, cell) test of one
   evaluation date, so a date without any real change raises a false alert with probability at most ``alpha``:
   weekly evaluations at the default ``alpha=0.002`` mean at most about one false alert in ten years (the
   *recurrence interval* of prospective surveillance; ``alpha = step_days / (365 x years between false
   alerts)``). Overlapping scan windows of one real cluster do not
   loosen the threshold for unrelated places, as they would with ``control='fdr'`` (Benjamini-Hochberg per
   date, also available). An alert also needs ``O >= min_count`` and ``O >= min_ratio x expected``.
6. **Places.** Significant scan windows that overlap are one place: greedy non-maximum suppression keeps the
   most significant window and drops the windows of the same family that overlap it. A place flagged again at
   a later evaluation (same family, within ``merge_m``, less than ``keep_days`` later) keeps its first cell: it
   is a *continuing* alert, not a new place.

Examples
--------
>>> from gridmap.testing.warning import generate
>>> d = generate(nx=20, ny=20, start="2024-01-01", end="2024-07-01", per_day=40, seed=1)   # 3 planted clusters
>>> alerts = space_time_alerts(d.complaints, d.cells, start="2024-03-01", end="2024-07-01")
>>> alerts.groupby("family")["unit"].nunique().to_dict()
{'category:交通': 1, 'category:噪音': 1, 'category:房屋漏雨': 1}
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage, stats

from gridmap.errors import ValidationError, message
from gridmap.warning.counts import cell_xy_index, complaint_mask
from gridmap.warning.hotspots import fdr_bh
from gridmap.warning.lattice_ops import localise_cells

__all__ = ["ScanBaseline", "ScanControl", "ScanOptions", "space_time_alerts", "ALERT_COLUMNS", "ScanWindow",
           "ScanCounts", "scan_window", "scan_counts", "alerts_from_counts"]

log = logging.getLogger(__name__)

ALERT_COLUMNS = ["flagged_at", "unit", "family", "status", "radius_m", "x", "y", "observed", "expected", "ratio",
                 "p", "q", "baseline"]


class ScanBaseline(str, enum.Enum):
    """Where :func:`space_time_alerts` takes its baseline from."""

    SEASONAL = "seasonal"
    RECENT = "recent"
    AUTO = "auto"


class ScanControl(str, enum.Enum):
    """Multiple-testing control per evaluation date of :func:`space_time_alerts`."""

    FWER = "fwer"
    FDR = "fdr"


def _option(kind: type[enum.Enum], value: Any, name: str) -> Any:
    try:
        return value if isinstance(value, kind) else kind(value)
    except ValueError:
        raise ValidationError(message(f"unknown {name}", where="space_time_alerts", got=repr(value),
                                      fix="use one of " + ", ".join(repr(m.value) for m in kind))) from None


def _disc(radius_cells: int) -> np.ndarray:
    r = int(radius_cells)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return (xx * xx + yy * yy <= r * r + 1e-9).astype(np.int64)


def _tail_bound(k: np.ndarray, n: np.ndarray, pi: float) -> np.ndarray:
    """Chernoff-Hoeffding bound ``exp(-n KL(k/n || pi))`` on ``P(X >= k)`` for X binomial or hypergeometric
    (Hoeffding 1963, section 6) with ``n`` draws and success share ``pi``; 1 where ``k/n <= pi``."""
    a = np.clip(k / n, 1e-300, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = a * np.log(a / pi) + np.where(a < 1, (1 - a) * np.log((1 - a) / (1 - pi)), 0.0)
    return np.where(a > pi, np.minimum(1.0, np.exp(-n * kl)), 1.0)


@dataclass(frozen=True, kw_only=True)
class ScanOptions:
    """The options of :func:`space_time_alerts` (keyword-only; see its parameters for each).

    >>> ScanOptions(alpha=0.01).radii_m
    (0.0, 150.0, 300.0)
    """

    step_days: int = 7
    window_days: int = 7
    baseline: "str | ScanBaseline" = ScanBaseline.AUTO
    baseline_days: int = 365
    years: int = 2
    season_band_days: int = 14
    radii_m: tuple[float, ...] = (0.0, 150.0, 300.0)
    alpha: float = 0.002
    min_count: int = 4
    min_ratio: float = 2.0
    families: str | None = "category"
    keyword_sets: dict[str, list[str]] | None = None
    merge_m: float = 300.0
    keep_days: int = 28
    guard_days: int = 28
    data_start: Any = None
    control: "str | ScanControl" = ScanControl.FWER


def _scan_options(options: ScanOptions | None, overrides: dict[str, Any]) -> ScanOptions:
    opts = ScanOptions() if options is None else options
    unknown = sorted(set(overrides) - {f.name for f in fields(ScanOptions)})
    if unknown:
        raise TypeError(f"space_time_alerts() got unexpected option(s) {', '.join(unknown)}; the options are "
                        + ", ".join(f.name for f in fields(ScanOptions)))
    return replace(opts, **overrides) if overrides else opts


def _cell_places(cells: pd.DataFrame, lat: Any, cix: np.ndarray, ciy: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """The place of each lattice square (the code of the largest cell on it) and each cell's centre ``x``/``y``
    (indexed by code)."""
    c = lat.cell_size_m
    area = cells["area_m2"].to_numpy(dtype=float) if "area_m2" in cells.columns else \
        np.asarray(cells.geometry.area, dtype=float)
    owner = pd.DataFrame({"code": cells["code"].astype(str).to_numpy(), "ix": cix, "iy": ciy, "area": area}) \
        .sort_values("area", ascending=False, kind="stable").drop_duplicates(["ix", "iy"])
    code_grid = np.full(lat.shape, None, dtype=object)
    code_grid[owner["iy"].to_numpy(), owner["ix"].to_numpy()] = owner["code"].to_numpy()
    cent = cells.geometry.centroid if "geometry" in cells.columns else None
    cxy = pd.DataFrame({"x": np.asarray(cent.x), "y": np.asarray(cent.y)} if cent is not None else
                       {"x": lat.x0 + (cix + .5) * c, "y": lat.y0 + (ciy + .5) * c},
                       index=cells["code"].astype(str).to_numpy())
    return code_grid, cxy[~cxy.index.duplicated()]


def _families(complaints: pd.DataFrame, families: Any, keyword_sets: Any) -> dict[str, np.ndarray]:
    """Family name -> row mask: one family per category (or 'all'), plus one per keyword set."""
    fams: dict[str, np.ndarray] = {}
    if families == "category" and "category" in complaints.columns:
        cat = complaints["category"].astype("string").fillna("(none)").to_numpy(dtype=object)
        for name in sorted(set(cat)):
            fams[f"category:{name}"] = cat == name
    elif families in ("category", "all", None):
        fams["all"] = np.ones(len(complaints), dtype=bool)
    else:
        raise ValidationError(message("unknown families option", got=repr(families),
                                      fix="use 'category', 'all' or None"))
    for name, kws in (keyword_sets or {}).items():
        fams[f"keywords:{name}"] = complaint_mask(complaints, keywords=kws).to_numpy()
    return fams


def space_time_alerts(complaints: pd.DataFrame, cells: pd.DataFrame, *, start: Any, end: Any,
                      options: ScanOptions | None = None, **overrides: Any) -> pd.DataFrame:
    """Alerts evaluated at every ``step_days`` from ``start`` to ``end`` (inclusive); see the module docstring.

    Parameters
    ----------
    complaints : the complaints layer (``received_at``, ``category``, ``text``, ``cell_code`` or point geometry).
    cells : the cells layer (``code``, ``ix``, ``iy``, polygons).
    start, end : first and last evaluation dates; each evaluation looks at ``[d - window_days, d)``.
    baseline : 'seasonal', 'recent' or 'auto'.
    radii_m : scan radii in metres (0 = single cell).
    baseline_days, guard_days : the recent baseline is the ``baseline_days`` ending ``guard_days`` before the
        window (capped by the data's first date); the guard keeps a cluster that began in the last weeks out of
        its own baseline, so an ongoing problem is not learnt as normal within a week.
    alpha : per evaluation date: the chance of any false alert (``control='fwer'``) or the false-discovery rate
        (``'fdr'``), over all families, radii and cells.
    min_count, min_ratio : smallest observed count, and observed/expected ratio, that can raise an alert.
    families : 'category' (one family per category; 'all' if there is no category column) or None (all
        complaints in one family).
    keyword_sets : extra families, name -> keywords (a watch list, e.g. ``{"漏雨": ["漏雨", "渗水", "屋顶"]}``).
    merge_m, keep_days : an alert within ``merge_m`` of an alert of the same family raised less than
        ``keep_days`` before continues that place (same ``unit``, ``status='continuing'``).
    data_start : first date covered by the data (default: the earliest ``received_at``).
    options : a :class:`ScanOptions` holding the options above; keyword ``overrides`` (any of its fields,
        e.g. ``alpha=0.01``) replace its values, so ``space_time_alerts(c, cells, start=, end=, alpha=0.01)``
        works as well.

    The scan runs in three parts, so that the same scan runs on counts gathered elsewhere (streamed from the
    partitions of :mod:`gridmap.events`): :func:`scan_window` (the days the evaluations need),
    :func:`scan_counts` (each family's complaints binned by day and lattice square) and
    :func:`alerts_from_counts` (steps 3-6 of the module docstring).

    Returns
    -------
    DataFrame with :data:`ALERT_COLUMNS`: ``unit`` is the cell code of the place, ``status`` 'new' or
    'continuing', ``x``/``y`` the place's cell centre.
    """
    opts = _scan_options(options, overrides)
    d0 = pd.Timestamp(start).normalize()
    times = pd.to_datetime(complaints["received_at"])
    first = opts.data_start if opts.data_start is not None else (times.min() if len(times) else d0)
    window = scan_window(opts, start=start, end=end, first=first)
    return alerts_from_counts(scan_counts(complaints, cells, window, opts), cells, window, opts)


@dataclass(frozen=True)
class ScanWindow:
    """The evaluation dates of a scan and the days its counts cover (from :func:`scan_window`).

    ``dates`` are the evaluation dates, ``use_season`` whether each takes the seasonal baseline, ``first`` the
    data's first day; counts are binned by day ``0 .. n_days - 1`` from ``lo`` (complaints outside are not
    counted).
    """

    d0: pd.Timestamp
    d1: pd.Timestamp
    dates: pd.DatetimeIndex
    use_season: tuple[bool, ...]
    first: pd.Timestamp
    lo: pd.Timestamp
    n_days: int


def scan_window(options: ScanOptions, *, start: Any, end: Any, first: Any) -> ScanWindow:
    """Check the scan options against ``[start, end]`` and the data's first day ``first`` (``data_start``, or
    the earliest complaint), and return the :class:`ScanWindow` (logging once when the seasonal baseline falls
    back to the recent one)."""
    opts = options
    mode = _option(ScanBaseline, opts.baseline, "baseline")
    _option(ScanControl, opts.control, "control")
    if opts.window_days < 1 or opts.step_days < 1 or opts.baseline_days < opts.window_days:
        raise ValidationError(message("invalid scan windows", got=f"step_days={opts.step_days}, window_days="
                                      f"{opts.window_days}, baseline_days={opts.baseline_days}",
                                      fix="use step_days >= 1, window_days >= 1 and baseline_days >= window_days"))
    d0, d1 = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if d1 < d0:
        raise ValidationError(message("the evaluation range is empty", got=f"{d0.date()} .. {d1.date()}",
                                      fix="start must not be after end"))
    first = pd.Timestamp(first).normalize()
    dates = pd.date_range(d0, d1, freq=f"{int(opts.step_days)}D")
    w, band = pd.Timedelta(days=opts.window_days), pd.Timedelta(days=opts.season_band_days)
    season_ok = [d - pd.DateOffset(years=1) - w - band >= first for d in dates]
    if mode is ScanBaseline.SEASONAL and not all(season_ok):
        raise ValidationError(message("no seasonal baseline: the data do not reach back a year before the window",
                                      got=f"data from {first.date()}, first evaluation {d0.date()}",
                                      fix="use baseline='recent' or 'auto'"))
    use_season = [mode is not ScanBaseline.RECENT and ok for ok in season_ok]
    if mode is ScanBaseline.AUTO and not all(use_season):
        n_fb = len(use_season) - sum(use_season)
        log.warning("no data a year before %d of %d evaluation date(s) (%s .. %s): their baseline falls back to "
                    "the %d days ending %d days before the window (not seasonality-aware)", n_fb, len(dates),
                    dates[~np.asarray(use_season)][0].date(), dates[~np.asarray(use_season)][-1].date(),
                    opts.baseline_days, opts.guard_days)
    # the days all windows cover: from the earliest day a baseline reaches (not from the data's first day, so a
    # long history costs no memory the evaluations do not use), never before the data start
    lo = d0 - w - pd.Timedelta(days=opts.baseline_days + opts.guard_days)
    if any(use_season):
        lo = min(lo, d0 - pd.DateOffset(years=opts.years) - w - band)
    lo = max(lo, first)
    return ScanWindow(d0, d1, dates, tuple(use_season), first, lo, int((d1 - lo).days) + 1)


@dataclass(frozen=True)
class ScanCounts:
    """The whole input of the scan: each family's complaints as flat bins ``day * ny * nx + iy * nx + ix`` (day
    from :attr:`ScanWindow.lo`, square on the cells' lattice) with an integer count per entry (``None``: one
    complaint per entry; bins may repeat), for the families that have any complaint in the window's days, in test
    order; ``overall`` the same for all complaints (the rate a family with no history is judged against)."""

    families: dict[str, tuple[np.ndarray, np.ndarray | None]]
    overall: tuple[np.ndarray, np.ndarray | None]


def scan_counts(complaints: pd.DataFrame, cells: pd.DataFrame, window: ScanWindow,
                options: ScanOptions) -> ScanCounts:
    """:class:`ScanCounts` of complaints in memory (complaints go to their imported cell's square)."""
    lat, _, _ = localise_cells(cells)
    times = pd.to_datetime(complaints["received_at"])
    day = ((times - window.lo).dt.days).to_numpy()
    ix, iy, ok = cell_xy_index(complaints, lat, cells=cells)
    ok = ok & (day >= 0) & (day < window.n_days)
    flat = (day[ok] * (lat.nx * lat.ny) + iy[ok] * lat.nx + ix[ok]).astype(np.int64)
    fams = {}
    for fam, fmask in _families(complaints, options.families, options.keyword_sets).items():
        sel = fmask[ok]
        if sel.any():
            fams[fam] = (flat[sel], None)
    return ScanCounts(fams, (flat, None))


def alerts_from_counts(counts: ScanCounts, cells: pd.DataFrame, window: ScanWindow,
                       options: ScanOptions) -> pd.DataFrame:
    """Steps 3-6 of the module docstring on the binned counts: the alerts of :func:`space_time_alerts`.

    Why one function of about 200 lines: it is the single pass of steps 3-6 of the module docstring over shared
    intermediate arrays (cumulative daily counts, excess per date); splitting it further would thread a dozen
    arrays through helpers without making a step readable on its own. The self-contained parts are helpers
    (:func:`_cell_places`, :func:`_families`, :func:`scan_window`, :func:`scan_counts`).
    """
    (step_days, window_days, baseline, baseline_days, years, season_band_days, radii_m, alpha, min_count,
     min_ratio, families, keyword_sets, merge_m, keep_days, guard_days, data_start, control) = \
        (getattr(options, f.name) for f in fields(ScanOptions))
    control = _option(ScanControl, control, "control")
    d0, d1, dates, use_season = window.d0, window.d1, window.dates, window.use_season
    first, lo, n_days = window.first, window.lo, window.n_days
    w = pd.Timedelta(days=window_days)
    lat, cix, ciy = localise_cells(cells)
    c = lat.cell_size_m
    mask2d = np.zeros(lat.shape, dtype=bool)
    mask2d[ciy, cix] = True
    code_grid, cxy = _cell_places(cells, lat, cix, ciy)
    kernels = [(float(r), _disc(int(round(r / c)))) for r in radii_m]
    nyx = lat.nx * lat.ny
    base_tag = {True: f"seasonal: {years} year(s) x ±{season_band_days} d",
                False: f"recent: {baseline_days} d, {guard_days} d gap"}
    per_date: dict[pd.Timestamp, list[dict[str, Any]]] = {d: [] for d in dates}
    excess: dict[tuple[pd.Timestamp, str], np.ndarray] = {}   # observed - expected per cell (radius 0)
    n_tests = max(1, len(kernels) * int(mask2d.sum()))
    # p-values above this cannot pass (Bonferroni: alpha / at least these tests per date; BH: alpha); computed
    # exactly below it
    screen = alpha / n_tests if control is ScanControl.FWER else alpha
    def cumulative(entries: tuple[np.ndarray, np.ndarray | None]) -> np.ndarray:
        flat, weights = entries
        if weights is None:
            cube = np.bincount(flat, minlength=n_days * nyx)
        else:  # integer counts per bin (bins may repeat): summed in integers, no float copy of the cube
            cube = np.zeros(n_days * nyx, np.int64)
            np.add.at(cube, flat, weights.astype(np.int64, copy=False))
        out = np.empty((n_days + 1, lat.ny, lat.nx), np.int64)  # day 0 row of zeros, then the running sums
        out[0] = 0
        np.cumsum(cube.reshape(n_days, lat.ny, lat.nx), axis=0, out=out[1:])
        return out

    overall: list[np.ndarray] = []  # all complaints' cumulative counts, made when a family has no history

    for fam, entries in counts.families.items():
        cum = cumulative(entries)

        def span(a: pd.Timestamp, b: pd.Timestamp, counts: np.ndarray | None = None) -> np.ndarray:
            c_ = cum if counts is None else counts
            ia = min(max(int((a - lo).days), 0), n_days)
            ib = min(max(int((b - lo).days), 0), n_days)
            return c_[ib] - c_[ia]

        for d, seas in zip(dates, use_season):
            obs = span(d - w, d)
            if obs.sum() == 0:
                continue
            if seas:
                base = np.zeros(lat.shape, np.int64)
                for k in range(1, years + 1):
                    a = d - pd.DateOffset(years=k) - w
                    if a - pd.Timedelta(days=season_band_days) < first:
                        continue
                    base += span(a - pd.Timedelta(days=season_band_days),
                                 d - pd.DateOffset(years=k) + pd.Timedelta(days=season_band_days))
            else:
                g = pd.Timedelta(days=guard_days)
                base = span(d - w - g - pd.Timedelta(days=baseline_days), d - w - g)
            t_o, t_b = float(obs[mask2d].sum()), float(base[mask2d].sum())
            tag = base_tag[bool(seas)]
            if t_b == 0:
                # never seen before: its burst is judged against where complaints of every kind come from
                # (the overall rate over the same baseline days), so a new kind clustered in one place alerts
                if not overall:
                    overall.append(cumulative(counts.overall))
                g = pd.Timedelta(days=guard_days)
                base = span(d - w - g - pd.Timedelta(days=baseline_days), d - w - g, overall[0])
                t_b = float(base[mask2d].sum())
                tag = "overall rate (no history of this family)"
                if t_b == 0:
                    continue
            excess[(d, fam)] = obs - base * (t_o / t_b)
            for r, ker in kernels:
                o = ndimage.convolve(obs, ker, mode="constant") if ker.size > 1 else obs
                b = ndimage.convolve(base, ker, mode="constant") if ker.size > 1 else base
                o, b = o[mask2d].astype(float), b[mask2d].astype(float)
                expected = b * t_o / t_b
                p = np.ones(len(o))
                cand = (o >= min_count) & (o >= min_ratio * expected)
                if cand.any():
                    # Chernoff-Hoeffding bound first (valid for the hypergeometric too); exact tail only where
                    # the bound could pass the test; elsewhere p is the bound (an upper bound, so conservative)
                    bound = _tail_bound(o[cand], o[cand] + b[cand], t_o / (t_o + t_b))
                    exact = bound <= screen * 1e4       # the bound can be loose by a factor ~sqrt(8 n)
                    pc = bound
                    if exact.any():
                        oc, nc = o[cand][exact], (o[cand] + b[cand])[exact]
                        pc[exact] = stats.hypergeom.sf(oc - 1, int(t_o + t_b), nc, int(t_o))
                    p[cand] = pc
                per_date[d].append(dict(family=fam, radius_m=r, o=o, b=b, e=expected, p=p, seasonal=seas, tag=tag))
    iy_m, ix_m = np.nonzero(mask2d)
    out = []
    recent: list[dict[str, Any]] = []
    for d in dates:
        tests = per_date[d]
        cur: list[dict[str, Any]] = []
        if tests:
            p_all = np.concatenate([t["p"] for t in tests])
            q_all = fdr_bh(p_all) if control is ScanControl.FDR else np.minimum(1.0, p_all * len(p_all))
            pos = 0
            cand = []
            for t in tests:
                n = len(t["p"])
                q = q_all[pos:pos + n]
                pos += n
                hit = (q < alpha) & (t["o"] >= min_count) & (t["o"] >= min_ratio * t["e"])
                for k in np.flatnonzero(hit):
                    cand.append((t["p"][k], -t["o"][k], t["family"], t["radius_m"], int(iy_m[k]), int(ix_m[k]),
                                 t["o"][k], t["e"][k], q[k], t["tag"]))
            cand.sort(key=lambda r: (r[0], r[1]))
            kept: list[tuple] = []
            for r in cand:
                _, _, fam, rad, ky, kx, *_ = r
                if any(k[2] == fam and np.hypot((k[4] - ky) * c, (k[5] - kx) * c) <= k[3] + rad + c
                       for k in kept):
                    continue
                kept.append(r)
            for pv, _, fam, rad, ky, kx, o, e, q, tag in kept:
                # the place is the cell of the window with the largest excess (not the window's centre: a wide
                # window can be centred beside the cluster it captures)
                rc = int(round(rad / c))
                y0, y1, x0, x1 = max(ky - rc, 0), min(ky + rc + 1, lat.ny), max(kx - rc, 0), min(kx + rc + 1, lat.nx)
                yy, xx = np.mgrid[y0:y1, x0:x1]
                inside = ((yy - ky) ** 2 + (xx - kx) ** 2 <= rc * rc + 1e-9) & mask2d[y0:y1, x0:x1]
                ex = np.where(inside, excess[(d, fam)][y0:y1, x0:x1], -np.inf)
                j = int(np.argmax(ex))
                unit = code_grid[yy.flat[j], xx.flat[j]]
                x, y = cxy.at[unit, "x"], cxy.at[unit, "y"]
                status = "new"
                near = [a for a in recent if a["family"] == fam and np.hypot(a["x"] - x, a["y"] - y) <= merge_m]
                if near:
                    a = min(near, key=lambda a: np.hypot(a["x"] - x, a["y"] - y))
                    unit, x, y, status = a["unit"], a["x"], a["y"], "continuing"
                row = dict(flagged_at=d, unit=unit, family=fam, status=status, radius_m=rad, x=x, y=y,
                           observed=int(o), expected=float(e), ratio=float(o / e) if e > 0 else np.inf,
                           p=float(pv), q=float(q), baseline=tag)
                cur.append(row)
        out.extend(cur)
        recent = [a for a in recent + cur if d - a["flagged_at"] < pd.Timedelta(days=keep_days)]
    frame = pd.DataFrame(out, columns=ALERT_COLUMNS)
    log.info("space-time alerts %s .. %s (%d evaluation(s), %d family(ies)): %d alert(s) at %d place(s)",
             d0.date(), d1.date(), len(dates), len(counts.families), len(frame), frame["unit"].nunique())
    return frame
