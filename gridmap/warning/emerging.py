"""Emerging hot-spot analysis: a space-time cube of counts, Gi* per time slice, Mann-Kendall trends, categories.

Method (following ArcGIS Pro's *Emerging Hot Spot Analysis*, which this re-implements openly):

1. **Cube.** Complaints are counted per lattice cell and time slice (week or month, half-open
   ``[start, end)``); at least 10 slices are required (:func:`space_time_cube`). Empty slices (no complaint at
   all, e.g. a data outage) are kept as zeros and reported in ``empty_slices`` and the log, never dropped.
2. **Gi* per bin.** Each (cell, slice) bin gets a Gi* z-score with binary weights over a *space-time*
   neighbourhood: the spatial neighbourhood (queen / rook / distance band) in the same slice and in the
   ``time_window`` previous slices (ArcGIS's default neighbourhood time step is 1). Mean and variance are those of
   the whole cube (ArcGIS's choice): a slice with few complaints is cold everywhere, which is what an analyst
   wants to see. ``time_window=0`` gives purely per-slice neighbourhoods with the same global moments.
   Significance per bin at ``alpha``, with optional Benjamini-Hochberg control over all bins.
3. **Trend.** Mann-Kendall on each cell's z-score series (S, tie-corrected variance, continuity-corrected z,
   two-sided p; ``tau_b`` equals :func:`scipy.stats.kendalltau` of (time, z)).
4. **Categories** (:class:`Pattern`), for hot spots (cold mirror the same rules), with ``T`` slices and
   "hot" meaning a significant hot bin:

   - *new*: hot in the final slice and never before;
   - *consecutive*: hot in an uninterrupted run of >= 2 final slices, never hot before the run, < 90 % hot;
   - *intensifying*: hot in >= 90 % of slices including the final one, with a significant upward trend;
   - *persistent*: hot in >= 90 % of slices including the final one, no significant trend;
   - *diminishing*: hot in >= 90 % of slices including the final one, with a significant downward trend;
   - *sporadic*: hot in the final slice, on-and-off before, < 90 % hot, never cold;
   - *oscillating*: hot in the final slice, cold in some earlier slice, < 90 % hot;
   - *historical*: not hot in the final slice but hot in >= 90 % of slices;
   - *no pattern* otherwise, and for every cell with no complaint in the whole cube (explicitly: a cell that
     never had a complaint is not a "cold spot").

Examples
--------
>>> import numpy as np
>>> hot = np.array([[0] * 11 + [1]], dtype=bool)
>>> classify(hot, np.zeros_like(hot), np.array([0.0]), np.array([1.0])).tolist()
['new hot spot']
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from gridmap.errors import Problem, ValidationError, message
from gridmap.warning.counts import cell_xy_index, complaint_mask, point_xy
from gridmap.warning.hotspots import Weights, _zscores, fdr_bh, kernel_rows, neighbourhood_sum
from gridmap.warning.labels import PATTERN_ZH
from gridmap.warning.lattice_ops import require_window

__all__ = ["Pattern", "SliceFreq", "SpaceTimeCube", "EmergingResult", "MIN_SLICES", "space_time_cube",
           "mann_kendall", "classify", "emerging_hot_spots"]

log = logging.getLogger(__name__)

MIN_SLICES = 10


class SliceFreq(str, enum.Enum):
    """Time-slice length."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Pattern(str, enum.Enum):
    """Emerging hot-spot categories (ArcGIS names)."""

    NEW_HOT = "new hot spot"
    CONSECUTIVE_HOT = "consecutive hot spot"
    INTENSIFYING_HOT = "intensifying hot spot"
    PERSISTENT_HOT = "persistent hot spot"
    DIMINISHING_HOT = "diminishing hot spot"
    SPORADIC_HOT = "sporadic hot spot"
    OSCILLATING_HOT = "oscillating hot spot"
    HISTORICAL_HOT = "historical hot spot"
    NEW_COLD = "new cold spot"
    CONSECUTIVE_COLD = "consecutive cold spot"
    INTENSIFYING_COLD = "intensifying cold spot"
    PERSISTENT_COLD = "persistent cold spot"
    DIMINISHING_COLD = "diminishing cold spot"
    SPORADIC_COLD = "sporadic cold spot"
    OSCILLATING_COLD = "oscillating cold spot"
    HISTORICAL_COLD = "historical cold spot"
    NONE = "no pattern"

    @property
    def zh(self) -> str:
        return PATTERN_ZH[self.value]


@dataclass(frozen=True)
class SpaceTimeCube:
    """Counts per (slice, iy, ix), the slice start times, and which slices are empty."""

    counts: np.ndarray
    starts: pd.DatetimeIndex
    freq: SliceFreq
    lattice: Any
    empty_slices: list[pd.Timestamp] = field(default_factory=list)
    dropped_slices: list[pd.Timestamp] = field(default_factory=list)

    @property
    def ends(self) -> pd.DatetimeIndex:
        """The (exclusive) end of each slice."""
        step = {SliceFreq.DAY: pd.DateOffset(days=1), SliceFreq.WEEK: pd.DateOffset(days=7)}.get(
            self.freq, pd.offsets.MonthBegin(1))
        return pd.DatetimeIndex([s + step for s in self.starts])

    def to_xarray(self, cells: pd.DataFrame | None = None) -> Any:
        """The cube as an :class:`xarray.Dataset` (see :func:`gridmap.warning.frames.cube_dataset`)."""
        from gridmap.warning.frames import cube_dataset

        return cube_dataset(self, cells=cells)


def _slice_starts(start: pd.Timestamp, end: pd.Timestamp, freq: SliceFreq) -> pd.DatetimeIndex:
    if freq is SliceFreq.DAY:
        return pd.date_range(start, end, freq="1D", inclusive="left")
    if freq is SliceFreq.WEEK:
        return pd.date_range(start, end, freq="7D", inclusive="left")
    first = start.normalize().replace(day=1)
    if first < start:
        raise ValidationError(message("monthly slices must start on the first of a month", got=str(start.date()),
                                      fix=f"use start={first.date()} or {(first + pd.offsets.MonthBegin(1)).date()}"))
    return pd.date_range(first, end, freq="MS", inclusive="left")


def space_time_cube(complaints: pd.DataFrame, lattice: Any, *, start: Any, end: Any,
                    freq: "str | SliceFreq" = SliceFreq.WEEK, min_slices: int = MIN_SLICES,
                    cells: pd.DataFrame | None = None, data_start: Any = "auto", **select: Any) -> SpaceTimeCube:
    """Count complaints per lattice cell and week/month slice in ``[start, end)``.

    Weekly slices start at ``start`` and are 7 days long; monthly slices are calendar months. A trailing
    partial slice is dropped and logged (complaints in it are not counted in the cube). Fewer than
    ``min_slices`` complete slices raise :class:`~gridmap.errors.ValidationError`. With ``cells`` (the cells
    layer ``lattice`` was made from, :func:`~gridmap.warning.lattice_from_cells`), complaints that carry a
    ``cell_code`` are counted in their cell's square; otherwise points are binned by their coordinates.

    Slices that begin before the data do (``data_start``: by default the date of the earliest ``received_at``
    of all ``complaints``, before any category/keyword selection; ``None`` keeps every slice) are not counted:
    a week before the first complaint is unknown, not a cold week, and would make every place look "new".
    They are logged and listed in the cube's ``dropped_slices``.
    """
    lat = require_window(lattice)
    freq = SliceFreq(freq)
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    starts = _slice_starts(t0, t1, freq)
    step = {SliceFreq.DAY: pd.DateOffset(days=1), SliceFreq.WEEK: pd.DateOffset(days=7)}.get(
        freq, pd.offsets.MonthBegin(1))
    complete = [s for s in starts if s + step <= t1]
    dropped: list[pd.Timestamp] = []
    if isinstance(data_start, str) and data_start == "auto":
        data_start = pd.to_datetime(complaints["received_at"]).min() if len(complaints) else None
    if data_start is not None and not pd.isna(data_start):
        first = pd.Timestamp(data_start).normalize()
        dropped = [s for s in complete if s < first]
        complete = [s for s in complete if s >= first]
        if dropped:
            log.warning("%d %s slice(s) before the data begin (%s) are not counted: %s .. %s", len(dropped),
                        freq.value, first.date(), dropped[0].date(), dropped[-1].date())
    if len(complete) < min_slices:
        raise ValidationError(
            message(f"emerging hot-spot analysis needs at least {min_slices} complete {freq.value} slices",
                    where=f"[{t0.date()}, {t1.date()})",
                    got=f"{len(complete)} slice(s)" + (f" after the data begin ({len(dropped)} before)"
                                                       if dropped else ""),
                    fix=f"widen the window (>= {min_slices} {freq.value}s) or use freq='week'"))
    starts = pd.DatetimeIndex(complete)
    stop = starts[-1] + step
    if stop < t1:
        log.warning("the last %s of the window (%s to %s) is a partial slice and is not analysed",
                    freq.value, stop.date(), t1.date())
    sel = complaints.loc[complaint_mask(complaints, start=starts[0], end=stop, **select)]
    k = np.searchsorted(starts.values, pd.to_datetime(sel["received_at"]).values, side="right") - 1
    ny, nx = lat.shape
    ix, iy, ok = cell_xy_index(sel, lat, cells=cells)
    ok = ok & (k >= 0)
    if (~ok).any():
        log.warning("%d complaint(s) outside the lattice (or on no cell) were not counted in the cube",
                    int((~ok).sum()))
    size = len(starts) * ny * nx
    flat = (k[ok] * ny * nx + iy[ok] * nx + ix[ok]).astype(np.int64)
    cube = np.bincount(flat, minlength=size).astype(float).reshape((len(starts), ny, nx))
    totals = cube.sum(axis=(1, 2))
    empty = [starts[i] for i in np.flatnonzero(totals == 0)]
    if empty:
        log.warning("%d empty time slice(s) (no complaint anywhere): %s — kept as zeros; check for data gaps",
                    len(empty), ", ".join(str(e.date()) for e in empty[:5]))
    log.info("space-time cube: %d %s slices x %d cells, %d complaints", len(starts), freq.value, ny * nx,
             int(totals.sum()))
    return SpaceTimeCube(cube, starts, freq, lat, empty, dropped)


def mann_kendall(series: np.ndarray, *, continuity: bool = True) -> pd.DataFrame:
    """Mann-Kendall trend test of each row of ``series`` (shape ``(cells, T)``) against time.

    Returns a DataFrame with ``S``, ``var_S`` (tie-corrected), ``z``, ``p`` (two-sided) and ``tau`` (Kendall's
    tau-b of (time, value), equal to :func:`scipy.stats.kendalltau`). NaNs are not allowed.

    >>> mann_kendall(np.array([[1., 2., 3., 5., 4.]]))[["S", "tau"]].round(2).to_dict("records")
    [{'S': 8.0, 'tau': 0.8}]
    """
    x = np.asarray(series, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    n_cells, t = x.shape
    if np.isnan(x).any():
        raise ValidationError(message("Mann-Kendall series contain NaN", fix="fill or drop those cells first"))
    s = np.zeros(n_cells)
    for i in range(t - 1):
        s += np.sign(x[:, i + 1:] - x[:, i: i + 1]).sum(axis=1)
    # tie groups per row: sort, find runs
    xs = np.sort(x, axis=1)
    new = np.ones_like(xs, dtype=bool)
    new[:, 1:] = xs[:, 1:] != xs[:, :-1]
    gid = np.cumsum(new.ravel()) - 1
    sizes = np.bincount(gid).astype(float)
    row_of_group = np.repeat(np.arange(n_cells), new.sum(axis=1))
    tie_var = np.bincount(row_of_group, weights=sizes * (sizes - 1) * (2 * sizes + 5), minlength=n_cells)
    tie_pairs = np.bincount(row_of_group, weights=sizes * (sizes - 1) / 2, minlength=n_cells)
    var = (t * (t - 1) * (2 * t + 5) - tie_var) / 18.0
    cc = 1.0 if continuity else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(s > 0, (s - cc) / np.sqrt(var), np.where(s < 0, (s + cc) / np.sqrt(var), 0.0))
        z = np.where(var > 0, z, 0.0)
        n0 = t * (t - 1) / 2.0
        tau = np.where(n0 - tie_pairs > 0, s / np.sqrt(n0 * (n0 - tie_pairs)), np.nan)
    p = 2.0 * stats.norm.sf(np.abs(z))
    return pd.DataFrame({"S": s, "var_S": var, "z": z, "p": p, "tau": tau})


def _final_run(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True values ending at the last column, per row."""
    rev = flags[:, ::-1]
    first_false = np.where((~rev).any(axis=1), np.argmax(~rev, axis=1), flags.shape[1])
    return first_false


def classify(hot: np.ndarray, cold: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray, *,
             alpha: float = 0.05, share: float = 0.9) -> np.ndarray:
    """Category (:class:`Pattern` value) of each row from per-slice significant hot/cold flags ``(cells, T)``.

    ``trend_z``/``trend_p`` are the Mann-Kendall z and p of the cell's Gi* z-series; ``share`` is the 90 %
    rule. Rules are in the module docstring; cold categories mirror hot ones with the trend sign flipped
    (an *intensifying cold spot* gets colder: its z trends down).
    """
    hot = np.asarray(hot, dtype=bool)
    cold = np.asarray(cold, dtype=bool)
    n, t = hot.shape
    out = np.full(n, Pattern.NONE.value, dtype=object)
    tz = np.asarray(trend_z, dtype=float)
    tp = np.asarray(trend_p, dtype=float)
    up = (tp < alpha) & (tz > 0)
    down = (tp < alpha) & (tz < 0)
    for flags, other, sign in ((hot, cold, "HOT"), (cold, hot, "COLD")):
        frac = flags.sum(axis=1) / t
        final = flags[:, -1]
        run = _final_run(flags)
        before_run = flags.sum(axis=1) - run  # hot bins before the final run
        strengthen, weaken = (up, down) if sign == "HOT" else (down, up)
        mostly = frac >= share
        cat = np.full(n, None, dtype=object)
        cat[mostly & final & strengthen] = Pattern[f"INTENSIFYING_{sign}"].value
        cat[mostly & final & weaken] = Pattern[f"DIMINISHING_{sign}"].value
        cat[mostly & final & ~strengthen & ~weaken] = Pattern[f"PERSISTENT_{sign}"].value
        cat[mostly & ~final] = Pattern[f"HISTORICAL_{sign}"].value
        few = final & ~mostly
        cat[few & (run == 1) & (before_run == 0)] = Pattern[f"NEW_{sign}"].value
        cat[few & (run >= 2) & (before_run == 0)] = Pattern[f"CONSECUTIVE_{sign}"].value
        rest = few & (before_run > 0)
        ever_other = other[:, :-1].any(axis=1)
        cat[rest & ever_other] = Pattern[f"OSCILLATING_{sign}"].value
        cat[rest & ~ever_other] = Pattern[f"SPORADIC_{sign}"].value
        # a cell that is hot *and* cold-categorised cannot happen: the final bin is one or the other;
        # historical hot and historical cold are both >= 90 %, impossible together for share > 0.5.
        has = np.array([c is not None for c in cat])
        out[has] = cat[has]
    return out


@dataclass(frozen=True)
class EmergingResult:
    """Per-cell results (a DataFrame with ``ix``, ``iy``, ``pattern``, ``pattern_zh``, ``n_hot``, ``n_cold``,
    ``final_z``, ``trend_z``, ``trend_p``, ``tau``, ``total``) and the per-bin z-scores ``(T, ny, nx)``."""

    cells: pd.DataFrame
    z: np.ndarray
    hot: np.ndarray
    cold: np.ndarray
    starts: pd.DatetimeIndex
    empty_slices: list[pd.Timestamp]
    lattice: Any = None
    dropped_slices: list[pd.Timestamp] = field(default_factory=list)

    def grid(self, column: str = "pattern") -> np.ndarray:
        """A per-cell column as a lattice array (``None``/NaN outside the study area)."""
        ny, nx = self.z.shape[1:]
        values = self.cells[column]
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
            out = np.full(ny * nx, np.nan)
            data = values.to_numpy(dtype=float, na_value=np.nan)
        else:  # text (object or pandas' string dtype), booleans: an object array with None outside
            out = np.full(ny * nx, None, dtype=object)
            data = values.astype(object).where(values.notna(), None).to_numpy(dtype=object)
        out[(self.cells["iy"] * nx + self.cells["ix"]).to_numpy()] = data
        return out.reshape(ny, nx)

    @property
    def p(self) -> np.ndarray:
        """Two-sided p-value of each bin's z (``(T, ny, nx)``, NaN outside the study area)."""
        return 2.0 * stats.norm.sf(np.abs(self.z))

    def to_frame(self, cells: pd.DataFrame) -> Any:
        """Per-location results as a GeoDataFrame indexed by cell code (see
        :func:`gridmap.warning.frames.emerging_frame`)."""
        from gridmap.warning.frames import emerging_frame

        return emerging_frame(self, cells)

    def to_xarray(self, cells: pd.DataFrame | None = None) -> Any:
        """Per-bin z, p, hot/cold flags and per-location categories as an :class:`xarray.Dataset`."""
        from gridmap.warning.frames import emerging_dataset

        return emerging_dataset(self, cells=cells)


def _space_time_z(ym: np.ndarray, m: np.ndarray, rows: Any, *, time_window: int, moments: str, n: int,
                  mean: float, var: float) -> np.ndarray:
    """Gi* z-score of every bin of the masked cube ``ym`` ``(T, ny, nx)``: the spatial neighbourhood ``rows``
    summed over the bin's slice and the ``time_window`` previous ones, standardised with the cube's moments
    (``n``, ``mean``, ``var``) or each slice's own (``moments='slice'``)."""
    t = ym.shape[0]
    spatial = neighbourhood_sum(ym.astype(np.int64), rows).astype(float)
    card_s = neighbourhood_sum(m, rows).astype(float)
    # add the previous `time_window` slices (fewer at the start of the cube)
    cs = np.cumsum(spatial, axis=0)
    lagged = np.zeros_like(cs)
    lagged[time_window + 1:] = cs[: t - time_window - 1]
    local = cs - lagged
    depth = np.minimum(np.arange(t) + 1, time_window + 1).astype(float)
    card = card_s[None] * depth[:, None, None]
    if moments == "cube":
        z = _zscores(local, card, n, mean, var)
    else:
        ns = int(m.sum())
        means = ym.sum(axis=(1, 2)) / ns
        vars_ = (ym * ym).sum(axis=(1, 2)) / ns - means ** 2
        z = np.zeros_like(local)
        for k in range(t):
            if means[k] > 0 and vars_[k] > 0:
                z[k] = _zscores(local[k], card[k], ns, means[k], vars_[k])
    return z


def emerging_hot_spots(cube: SpaceTimeCube, *, mask: np.ndarray | None = None,
                       weights: "str | Weights" = Weights.QUEEN, distance_m: float | None = None,
                       time_window: int = 1, alpha: float = 0.05, fdr: bool = False,
                       trend_alpha: float = 0.05, moments: str = "cube") -> EmergingResult:
    """Emerging hot-spot analysis of a :class:`SpaceTimeCube` (see the module docstring for the method).

    Parameters
    ----------
    mask : boolean ``(ny, nx)`` study area (default: every lattice cell).
    weights, distance_m : spatial neighbourhood as in :func:`~gridmap.warning.gi_star`.
    time_window : number of previous slices in each bin's neighbourhood (0 = per-slice neighbourhood).
    alpha : per-bin significance; ``fdr=True`` applies Benjamini-Hochberg over all bins.
    trend_alpha : significance of the Mann-Kendall trend.
    moments : 'cube' (ArcGIS: one mean and variance for all bins) or 'slice' (each slice's own mean and
        variance, purely spatial neighbourhoods, ``time_window`` must be 0): a city-wide rise in volume then
        makes no hot spots by itself. In 'slice' mode an empty (or constant) slice has no hot or cold bins and
        its z-scores are set to 0 for the trend test.
    """
    y = np.asarray(cube.counts, dtype=float)
    t, ny, nx = y.shape
    if t < MIN_SLICES:
        raise ValidationError(message(f"emerging hot-spot analysis needs at least {MIN_SLICES} time slices",
                                      got=t, fix="widen the window or use weekly slices"))
    if time_window < 0:
        raise ValidationError(message("time_window must be >= 0", got=time_window))
    m = np.ones((ny, nx), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    cell = require_window(cube.lattice).cell_size_m
    rows = kernel_rows(weights, distance_m=distance_m, cell_size_m=cell)
    if moments not in ("cube", "slice"):
        raise ValidationError(message("moments must be 'cube' or 'slice'", got=repr(moments)))
    if moments == "slice" and time_window:
        raise ValidationError(message("moments='slice' uses per-slice neighbourhoods", got=f"time_window={time_window}",
                                      fix="pass time_window=0"))
    ym = np.where(m[None], y, 0.0)
    n = int(m.sum()) * t
    mean = ym.sum() / n
    var = (ym * ym).sum() / n - mean * mean
    if mean == 0 or var <= 0:
        raise ValidationError(message("the space-time cube has no variation (no complaints, or all equal)",
                                      got=f"{int(ym.sum())} complaints", fix="check the window and filters"))
    z = _space_time_z(ym, m, rows, time_window=time_window, moments=moments, n=n, mean=mean, var=var)
    z[:, ~m] = np.nan
    p = 2.0 * stats.norm.sf(np.abs(z))
    q = fdr_bh(p) if fdr else p
    sig = np.nan_to_num(q, nan=1.0) < alpha
    hot = sig & (np.nan_to_num(z) > 0)
    cold = sig & (np.nan_to_num(z) < 0)
    if moments == "slice":
        hot[z == 0] = False
        cold[z == 0] = False
    iy, ix = np.nonzero(m)
    zs = z[:, iy, ix].T  # (cells, T)
    mk = mann_kendall(zs)
    h = hot[:, iy, ix].T
    c = cold[:, iy, ix].T
    pattern = classify(h, c, mk["z"].to_numpy(), mk["p"].to_numpy(), alpha=trend_alpha)
    total = ym[:, iy, ix].sum(axis=0)
    pattern[total == 0] = Pattern.NONE.value  # never had a complaint: explicitly no pattern
    cells = pd.DataFrame({"ix": ix, "iy": iy, "pattern": pattern,
                          "pattern_zh": [Pattern(v).zh for v in pattern],
                          "n_hot": h.sum(axis=1), "n_cold": c.sum(axis=1), "final_z": zs[:, -1],
                          "trend_z": mk["z"].to_numpy(), "trend_p": mk["p"].to_numpy(), "tau": mk["tau"].to_numpy(),
                          "total": total})
    counts = pd.Series(pattern).value_counts()
    log.info("emerging hot spots: %d cells x %d slices; %s", len(cells), t,
             ", ".join(f"{k}: {v}" for k, v in counts.items() if k != Pattern.NONE.value) or "no pattern anywhere")
    return EmergingResult(cells, z, hot, cold, cube.starts, list(cube.empty_slices), cube.lattice,
                          list(cube.dropped_slices))
