"""From analysis outputs to map frames: the early-warning report, emerging hot spots, split proposals.

:func:`~gridmap.maps.build_map` takes what gridmap's analysis modules return, as they return it:

- ``alerts`` / ``hotspots``: the alert table of :func:`gridmap.warning.alerts.early_warning` (``kind``,
  ``kind_zh``, ``unit_type``, ``unit``, ``observed``, ``expected``, ``ratio``, ``keywords``; hot-spot rows with
  ``pattern``, ``pattern_zh``, ``final_z``, ``total``) or simple frames (``cell_code``, ``pattern``, ``z``,
  ``count`` / ``level``, ``message``, ``count``). :func:`warning_layers` splits a report into its hot-spot and
  alert layers and attaches unit geometry where the table has none
  (:func:`gridmap.warning.unit_geometry.attach_unit_geometry`, as ``early_warning`` does);
  :func:`emerging_cells` turns an :class:`~gridmap.warning.EmergingResult` into a hot-spot layer of every
  emerging category.
- ``proposals``: :func:`gridmap.planning.report.proposals_frame` (``proposal_rank``, ``part_id``, ``kind``
  'part'/'current', ``community_code``, ``households``) or simple frames (``proposal``, ``code``, ``name``,
  ``households``, ``parent_code``).

The ``canonical_*`` functions rename either shape to the columns the layer builders draw; they are idempotent.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.errors import ValidationError, message
from gridmap.warning.labels import ALERT_KIND_ZH, pattern_key, pattern_label
from gridmap.warning.unit_geometry import attach_unit_geometry, unit_columns

__all__ = ["warning_layers", "emerging_cells", "canonical_hotspots", "canonical_alerts", "canonical_proposals",
           "HOT_SPOT_KINDS"]

log = logging.getLogger(__name__)

#: Kinds of alert-table rows that are hot spots (drawn in the hot-spot layer, not the alert layer).
HOT_SPOT_KINDS = frozenset({"new hot spot", "consecutive hot spot", "intensifying hot spot"})

def _first(frame: pd.DataFrame, names: tuple[str, ...]) -> pd.Series | None:
    for n in names:
        if n in frame.columns:
            return frame[n]
    return None


def _num(s: pd.Series | None, n: int, index: pd.Index) -> pd.Series:
    if s is None:
        return pd.Series(np.nan, index=index)
    return pd.to_numeric(s, errors="coerce")


def _text(s: pd.Series | None, index: pd.Index) -> pd.Series:
    if s is None:
        return pd.Series(pd.NA, index=index, dtype="string")
    return s.astype("string")


def canonical_hotspots(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Hot-spot rows as ``unit_type, unit, pattern, label, category, z, count, geometry``."""
    idx = frame.index
    utype, unit = unit_columns(frame)
    raw = _first(frame, ("pattern", "kind", "trend", "type"))
    pattern = pd.Series(["hot spot"] * len(frame), index=idx) if raw is None else raw.map(pattern_key)
    zh = _first(frame, ("pattern_zh",))
    if "label" in frame.columns:
        label = frame["label"].astype("string")
    elif zh is not None:
        label = pd.Series([f"{z} {p}" if isinstance(z, str) and z else pattern_label(p)
                           for z, p in zip(zh, pattern)], index=idx, dtype="string")
    else:
        label = pattern.map(pattern_label).astype("string")
    out = pd.DataFrame({"unit_type": utype, "unit": unit, "pattern": pattern.astype("string"), "label": label,
                        "category": _text(_first(frame, ("category",)), idx),
                        "z": _num(_first(frame, ("z", "final_z", "gi_z")), len(frame), idx),
                        "count": _num(_first(frame, ("count", "total", "observed")), len(frame), idx)}, index=idx)
    return gpd.GeoDataFrame(out, geometry=frame.geometry.values, crs=frame.crs)


def _alert_message(row: dict) -> str | None:
    parts = []
    obs, exp, ratio = row.get("observed"), row.get("expected"), row.get("ratio")
    if obs is not None and not pd.isna(obs):
        s = f"{int(obs)} 件 complaints"
        if exp is not None and not pd.isna(exp):
            s += f"，预期 expected {float(exp):.1f}"
        if ratio is not None and not pd.isna(ratio) and np.isfinite(ratio):
            s += f"（{float(ratio):.1f} 倍 ×）"
        parts.append(s)
    kw = row.get("keywords")
    if isinstance(kw, str) and kw:
        parts.append(f"关键词 keywords: {kw}")
    tz = row.get("trend_z")
    if tz is not None and not pd.isna(tz):
        parts.append(f"趋势 trend z {float(tz):.2f}")
    return "；".join(parts) or None


def canonical_alerts(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Alert rows as ``unit_type, unit, key, label, category, message, count, geometry``.

    ``key`` is the alert ``level`` (red/orange/...) when the frame has one, else its ``kind``.
    """
    idx = frame.index
    utype, unit = unit_columns(frame)
    if "key" in frame.columns:
        key = frame["key"].astype("string")
    elif "level" in frame.columns:
        key = frame["level"].astype("string").fillna("red")
    else:
        key = _text(_first(frame, ("kind",)), idx).fillna("alert")
    if "label" in frame.columns:
        label = frame["label"].astype("string")
    elif "level" in frame.columns:
        label = ("级别 level " + key).astype("string")
    else:
        zh = _first(frame, ("kind_zh",))
        label = pd.Series([f"{z} {k}" if isinstance(z, str) and z else f"{ALERT_KIND_ZH.get(k, '')} {k}".strip()
                           for z, k in zip(zh if zh is not None else [None] * len(frame), key)],
                          index=idx, dtype="string")
    msg = _first(frame, ("message", "reason", "text", "description"))
    if msg is None:
        cols = [c for c in ("observed", "expected", "ratio", "keywords", "trend_z") if c in frame.columns]
        msg = pd.Series([_alert_message(r) for r in frame[cols].to_dict("records")] if cols else [None] * len(frame),
                        index=idx)
    out = pd.DataFrame({"unit_type": utype, "unit": unit, "key": key, "label": label,
                        "category": _text(_first(frame, ("category", "categories")), idx),
                        "message": _text(msg, idx),
                        "count": _num(_first(frame, ("count", "observed", "total")), len(frame), idx)}, index=idx)
    return gpd.GeoDataFrame(out, geometry=frame.geometry.values, crs=frame.crs)


def canonical_proposals(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Proposal rows as ``proposal, name, code, households, parent_code, current, geometry``.

    Rows of :func:`gridmap.planning.report.proposals_frame` with ``kind == 'current'`` become ``current`` rows
    (the boundary the proposals are compared with); ``proposal_rank`` n becomes proposal "n".
    """
    idx = frame.index
    if "current" in frame.columns:
        current = frame["current"].fillna(False).astype(bool)
    elif "kind" in frame.columns:
        current = frame["kind"].astype("string").str.lower().eq("current").fillna(False)
    else:
        current = pd.Series(False, index=idx)
    if "proposal" in frame.columns:
        prop = frame["proposal"].astype("string")
    elif "proposal_rank" in frame.columns:
        prop = pd.Series([str(int(r)) if pd.notna(r) else "?" for r in frame["proposal_rank"]], index=idx,
                         dtype="string")
    else:
        prop = _text(_first(frame, ("proposal_id", "option", "scheme")), idx).fillna("A")
    name = _first(frame, ("name",))
    if name is None and "part_id" in frame.columns:
        name = pd.Series([f"第 {p} 部分 part {p}" for p in frame["part_id"]], index=idx)
    out = pd.DataFrame({"proposal": prop, "name": _text(name, idx),
                        "code": _text(_first(frame, ("code",)), idx),
                        "households": _num(_first(frame, ("households",)), len(frame), idx),
                        "parent_code": _text(_first(frame, ("parent_code", "community_code")), idx),
                        "current": current.to_numpy()}, index=idx)
    return gpd.GeoDataFrame(out, geometry=frame.geometry.values, crs=frame.crs)


def warning_layers(report: Any, *, cells: gpd.GeoDataFrame | None = None,
                   communities: gpd.GeoDataFrame | None = None) -> dict[str, gpd.GeoDataFrame | None]:
    """Split an early-warning result into the map's ``hotspots`` and ``alerts`` frames.

    Parameters
    ----------
    report : :class:`gridmap.warning.alerts.WarningReport`, its ``alerts`` table, the output of
        :func:`gridmap.warning.alerts.hot_spot_alerts`, or a GeoJSON written by ``gridmap warn --geojson``
        read back (any CRS: it is checked by the map builder).
    cells, communities : layers to take polygons from when the table has no geometry (or for rows whose
        geometry is missing).

    Returns
    -------
    dict with ``hotspots`` (new / consecutive / intensifying hot spots) and ``alerts`` (count jumps, keyword
    watch), each a GeoDataFrame or ``None`` when there are no such rows: pass them on as
    ``build_map(**warning_layers(report, cells=cells), ...)``.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd, shapely
    >>> cells = gpd.GeoDataFrame({"code": ["110101001001001"]}, geometry=[shapely.box(0, 0, 100, 100)],
    ...                          crs="EPSG:4548")
    >>> table = pd.DataFrame({"kind": ["count jump", "new hot spot"], "unit_type": ["cell", "cell"],
    ...                       "unit": ["110101001001001"] * 2, "observed": [12, None], "total": [None, 40]})
    >>> out = warning_layers(table, cells=cells)
    >>> len(out["alerts"]), len(out["hotspots"])
    (1, 1)
    """
    table = getattr(report, "alerts", report)
    if not isinstance(table, pd.DataFrame):
        raise ValidationError(message("warning_layers needs an early-warning report or its alert table",
                                      got=type(report).__name__,
                                      fix="pass gridmap.warning.alerts.early_warning(...) or its .alerts"))
    has_geom = isinstance(table, gpd.GeoDataFrame) and table.geometry.name in table.columns
    if not has_geom or (cells is not None or communities is not None) and table.geometry.isna().any():
        filled = attach_unit_geometry(table, cells=cells, communities=communities)
        if has_geom:
            if table.crs is not None and not table.crs.equals(filled.crs):
                table = table.to_crs(filled.crs)
            geom = table.geometry.where(table.geometry.notna(), filled.geometry)
            table = gpd.GeoDataFrame(pd.DataFrame(table).drop(columns=table.geometry.name), geometry=geom.values,
                                     crs=filled.crs)
        else:
            table = filled
    kind = table["kind"].astype("string").str.lower() if "kind" in table.columns else \
        pd.Series(pd.NA, index=table.index, dtype="string")
    hot = kind.isin(HOT_SPOT_KINDS).fillna(False).to_numpy()
    if "pattern" in table.columns and "kind" not in table.columns:
        hot = table["pattern"].notna().to_numpy()
    out = {"hotspots": table[hot] if hot.any() else None, "alerts": table[~hot] if (~hot).any() else None}
    log.info("warning layers: %d hot spot(s), %d alert(s)", int(hot.sum()), int((~hot).sum()))
    return out


def emerging_cells(result: Any, cells: gpd.GeoDataFrame, *, patterns: Any = None,
                   include_none: bool = False) -> gpd.GeoDataFrame:
    """The cells of an :class:`~gridmap.warning.EmergingResult` with their emerging hot/cold-spot category.

    The result's lattice must be the one :func:`gridmap.warning.lattice_from_cells` makes from ``cells``
    (as :func:`gridmap.warning.alerts.hot_spot_alerts` and ``space_time_cube(..., lattice_from_cells(cells))``
    use); every cell piece in a lattice square gets that square's category. ``patterns`` keeps only the given
    categories; ``include_none`` keeps 'no pattern' cells (left out by default).
    Columns: ``cell_code, pattern, pattern_zh, final_z, trend_z, total`` and the cell polygon.
    """
    from gridmap.warning import localise_cells

    res = getattr(result, "cells", None)
    z = getattr(result, "z", None)
    if res is None or z is None:
        raise ValidationError(message("emerging_cells needs an EmergingResult", got=type(result).__name__,
                                      fix="pass gridmap.warning.emerging_hot_spots(cube, ...)"))
    lat, cix, ciy = localise_cells(cells)
    if tuple(np.shape(z)[1:]) != tuple(lat.shape):
        raise ValidationError(message("the emerging hot-spot lattice is not the cells' lattice",
                                      where="emerging_cells", got=f"result {np.shape(z)[1:]} vs cells {lat.shape}",
                                      fix="build the cube on gridmap.warning.lattice_from_cells(cells)"))
    ny, nx = lat.shape
    by_square = res.set_index(res["iy"].to_numpy() * nx + res["ix"].to_numpy())
    sq = ciy * nx + cix
    found = np.isin(sq, by_square.index.to_numpy())
    rows = by_square.reindex(sq[found])
    out = gpd.GeoDataFrame({"cell_code": cells["code"].to_numpy()[found].astype(str),
                            "pattern": rows["pattern"].astype(str).to_numpy(),
                            "pattern_zh": rows["pattern_zh"].to_numpy() if "pattern_zh" in rows else None,
                            "final_z": rows["final_z"].to_numpy(), "trend_z": rows["trend_z"].to_numpy(),
                            "total": rows["total"].to_numpy()},
                           geometry=cells.geometry.values[found], crs=cells.crs)
    keep = np.ones(len(out), bool)
    if not include_none:
        keep &= out["pattern"].to_numpy() != "no pattern"
    if patterns is not None:
        wanted = {pattern_key(p) for p in ([patterns] if isinstance(patterns, str) else patterns)}
        keep &= out["pattern"].isin(wanted).to_numpy()
    out = out[keep].reset_index(drop=True)
    log.info("emerging cells: %d cell(s) in %d categories", len(out), out["pattern"].nunique())
    return out

