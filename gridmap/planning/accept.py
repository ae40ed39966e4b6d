"""Accepting a split proposal into the store, and undoing it exactly.

Accepting (:func:`accept_proposal`) does, in one transaction:

1. the old community row is kept as history: ``active=False``, ``retired_at`` = now (China Standard Time);
2. one new community row per part, with ``parent_code`` = the old code. **New codes**: the street code (9
   digits) + the next free 3-digit sequences in that street, counting every community ever recorded there
   (active or retired), so a retired code is never reused; parts get them in ``part_id`` order (north-west
   first). Names are the old name + 一/二/三...; households and population are the parts' sums (population,
   when compounds carry none, in the old community's persons-per-household ratio);
3. the old community's cells are cut along the new boundaries and re-coded per new community (DB11/T
   2157-2023 order: rows north to south, west to east within a row; ``ix``/``iy`` kept, ``area_m2``
   recomputed). The step is a function (``recode_cells=``) so the grid package's cell builder can be used;
4. compounds, components and complaints of the old community get the new ``community_code`` (and the new
   ``cell_code``) of the cell they fall in.

The returned :class:`AcceptResult` holds the rows as they were (``before``) and a diff report; keep it (or save
it with :meth:`AcceptResult.save`) to :func:`undo_accept`, which restores those rows exactly in one transaction.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import InfeasibleError, NotFoundError, Problem, ValidationError, message

__all__ = ["AcceptResult", "accept_proposal", "undo_accept", "new_community_codes", "recode_cells_by_clip",
           "CHINESE_ORDINALS"]

log = logging.getLogger(__name__)

CHINESE_ORDINALS = "一二三四五六七八九十"
#: Layers whose rows carry a ``community_code`` that accepting a split re-assigns.
CHILD_LAYERS = ("cells", "compounds", "components", "complaints")


def new_community_codes(street_code: str, existing: list[str] | pd.Series, n: int) -> list[str]:
    """The next ``n`` free community codes in a street (never reusing any existing or retired code).

    >>> new_community_codes("110101001", ["110101001001", "110101001007"], 2)
    ['110101001008', '110101001009']
    """
    street_code = str(street_code)
    seqs = [int(str(c)[9:12]) for c in existing if str(c).startswith(street_code) and str(c)[9:12].isdigit()]
    start = max(seqs, default=0) + 1
    if start + n - 1 > 999:
        from gridmap.errors import CapacityError

        raise CapacityError(message(f"street {street_code} has no free 3-digit community sequence left",
                                    got=f"highest {start - 1}", fix="renumber retired communities first"))
    return [f"{street_code}{s:03d}" for s in range(start, start + n)]


def recode_cells_by_clip(cells: gpd.GeoDataFrame, new_communities: gpd.GeoDataFrame, *,
                         min_area_m2: float = 1.0) -> gpd.GeoDataFrame:
    """Cut the old cells along the new community boundaries and code them per new community.

    Keeps ``ix``/``iy``; pieces of one square in one community are one cell. Codes: community code + 3-digit
    sequence, rows north to south (``iy`` descending), west to east (``ix`` ascending).
    """
    rows = []
    for code, geom in zip(new_communities["code"], new_communities.geometry):
        pieces: dict[tuple[int, int], list] = {}
        hit = cells[cells.intersects(geom)]
        for ix, iy, g in zip(hit["ix"], hit["iy"], hit.geometry):
            p = shapely.intersection(g, geom, grid_size=0.001)
            p = shapely.union_all([q for q in shapely.get_parts(p) if q.geom_type == "Polygon"]) \
                if p.geom_type not in ("Polygon", "MultiPolygon") else p
            if p.is_empty or p.area < min_area_m2:
                continue
            pieces.setdefault((int(ix), int(iy)), []).append(p)
        if len(pieces) > 999:
            from gridmap.errors import CapacityError

            raise CapacityError(message(f"community {code} would have {len(pieces)} cells", got=len(pieces),
                                        fix="a 15-digit cell code holds at most 999 cells per community"))
        for seq, (ix, iy) in enumerate(sorted(pieces, key=lambda t: (-t[1], t[0])), start=1):
            g = shapely.union_all(pieces[(ix, iy)])
            rows.append({"code": f"{code}{seq:03d}", "community_code": code, "ix": ix, "iy": iy,
                         "area_m2": float(g.area), "geometry": g})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=cells.crs)


@dataclass
class AcceptResult:
    """What accepting changed: the old and new codes, the rows as they were, and a diff report."""

    old_code: str
    new_codes: list[str]
    before: dict[str, gpd.GeoDataFrame]
    diff: pd.DataFrame
    summary: dict = field(default_factory=dict)

    def markdown(self) -> str:
        s = self.summary
        lines = [f"# 社区拆分变更 / split accepted: {self.old_code}", "",
                 f"- 原社区 {self.old_code} 标为历史（active=False） / old community kept as history",
                 f"- 新社区 / new communities: {', '.join(self.new_codes)}",
                 f"- 网格重新编码 / cells re-coded: {s.get('cells_before', 0)} → {s.get('cells_after', 0)}",
                 f"- 小区改属 / compounds re-assigned: {s.get('compounds', 0)}",
                 f"- 部件改属 / components re-assigned: {s.get('components', 0)}",
                 f"- 诉求改属 / complaints re-assigned: {s.get('complaints', 0)}", ""]
        return "\n".join(lines)

    def save(self, path: str | Path) -> Path:
        """Write the undo journal (a pickle of this result) to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            pickle.dump(self, fh)
        return path

    @staticmethod
    def load(path: str | Path) -> "AcceptResult":
        with open(path, "rb") as fh:
            obj = pickle.load(fh)
        if not isinstance(obj, AcceptResult):
            raise ValidationError("not a split journal", [Problem(None, None, "wrong content", str(path))])
        return obj


def _points_to(points: gpd.GeoDataFrame, polys: gpd.GeoDataFrame, key: str) -> pd.Series:
    """For each point, ``key`` of the polygon containing it (nearest polygon when on no polygon)."""
    if points.empty:
        return pd.Series([], dtype=object)
    pts = points[["geometry"]].reset_index(drop=True)
    j = gpd.sjoin(pts, polys[[key, "geometry"]], how="left", predicate="intersects")
    j = j[~j.index.duplicated(keep="first")]
    out = j[key]
    miss = out.isna()
    if miss.any():
        near = gpd.sjoin_nearest(pts[miss.to_numpy()], polys[[key, "geometry"]], how="left")
        near = near[~near.index.duplicated(keep="first")]
        out.loc[near.index] = near[key]
    return pd.Series(out.to_numpy(), index=points.index)


def accept_proposal(store: Any, proposal: Any, *, community_code: str | None = None,
                    recode_cells: Callable[[gpd.GeoDataFrame, gpd.GeoDataFrame], gpd.GeoDataFrame] | None = None,
                    now: pd.Timestamp | None = None) -> AcceptResult:
    """Write an accepted :class:`~gridmap.planning.split.Proposal` into ``store`` (one transaction).

    Parameters
    ----------
    store : a :class:`gridmap.store.Store`.
    proposal : the proposal to accept (its ``community_code`` is used unless ``community_code`` is given).
    recode_cells : ``f(old_cells, new_communities) -> new_cells``; default :func:`recode_cells_by_clip`.
    now : the ``retired_at`` time (default: now, China Standard Time, to the second).
    """
    code = community_code or proposal.community_code
    if not code:
        raise ValidationError("which community does the proposal split?", [Problem(None, "community_code",
                                                                                   "missing")])
    recode = recode_cells or recode_cells_by_clip
    now = now if now is not None else pd.Timestamp.now(tz="Asia/Shanghai").tz_localize(None).floor("s")
    with store.transaction() as tx:
        old = store.read("communities", where={"code": code}, connection=tx)
        if old.empty:
            raise NotFoundError(f"community {code} is not in the store", fix="check the code with `gridmap info`")
        row = old.iloc[0]
        if not bool(row["active"]):
            raise InfeasibleError(f"community {code} is already retired", [f"retired at {row['retired_at']}"])
        parts = proposal.parts
        if abs(shapely.union_all(list(parts.geometry)).symmetric_difference(row.geometry).area) > \
                1e-3 * row.geometry.area:
            raise ValidationError(message(f"the proposal does not tile community {code}"),
                                  [Problem(None, "geometry", "parts differ from the stored community")],
                                  fix="propose again from the stored community")
        before = {"communities": old}
        for layer in CHILD_LAYERS:
            before[layer] = store.read(layer, where={"community_code": code}, connection=tx)
        street = str(row["street_code"])
        existing = store.read("communities", where={"street_code": street}, columns=["code"], connection=tx)
        new_codes = new_community_codes(street, existing["code"].tolist(), len(parts))
        hh_old = row["households"]
        ratio = (row["population"] / hh_old) if pd.notna(row.get("population")) and hh_old else np.nan
        new_rows = []
        for i, ((pid, p), nc) in enumerate(zip(parts.iterrows(), new_codes)):
            pop = p.get("population", np.nan)
            if pd.isna(pop):
                pop = round(p["households"] * ratio) if pd.notna(ratio) else np.nan
            ordinal = CHINESE_ORDINALS[i] if i < len(CHINESE_ORDINALS) else str(i + 1)
            new_rows.append({"code": nc, "street_code": street, "name": f"{row['name'] or code}{ordinal}",
                             "households": int(p["households"]), "population": pop, "active": True,
                             "retired_at": pd.NaT, "parent_code": code, "geometry": p.geometry})
        new_comm = gpd.GeoDataFrame(new_rows, geometry="geometry", crs=old.crs)
        retired = old.copy()
        retired["active"] = False
        retired["retired_at"] = now
        new_cells = recode(before["cells"], new_comm)
        diff = [{"layer": "communities", "code": code, "change": "retired 标为历史", "before": code, "after": ""}]
        diff += [{"layer": "communities", "code": c, "change": "created 新建", "before": "", "after": c}
                 for c in new_codes]
        # cell code mapping (old -> new pieces) by overlap
        if len(before["cells"]) and len(new_cells):
            ov = gpd.overlay(before["cells"][["code", "geometry"]].rename(columns={"code": "old"}),
                             new_cells[["code", "geometry"]].rename(columns={"code": "new"}), keep_geom_type=True)
            for o, n in zip(ov["old"], ov["new"]):
                diff.append({"layer": "cells", "code": o, "change": "recoded 重新编码", "before": o, "after": n})
        comp = before["compounds"].copy()
        if len(comp):
            comp["community_code"] = _points_to(gpd.GeoDataFrame(geometry=comp.geometry.representative_point(),
                                                                 crs=comp.crs), new_comm, "code")
            diff += [{"layer": "compounds", "code": c, "change": "reassigned 改属", "before": code, "after": n}
                     for c, n in zip(comp["code"], comp["community_code"])]
        moved = {}
        for layer, key in (("components", "code"), ("complaints", "source_id")):
            f = before[layer].copy()
            if len(f):
                cell = _points_to(f, new_cells, "code") if len(new_cells) else pd.Series(None, index=f.index)
                f["cell_code"] = cell
                f["community_code"] = _points_to(f, new_comm, "code")
                diff += [{"layer": layer, "code": str(k), "change": "reassigned 改属", "before": code, "after": n}
                         for k, n in zip(f[key], f["community_code"])]
            moved[layer] = f
        store.delete("communities", where={"code": code}, connection=tx)
        store.write("communities", pd.concat([retired, new_comm], ignore_index=True), connection=tx)
        for layer, frame in (("cells", new_cells), ("compounds", comp), ("components", moved["components"]),
                             ("complaints", moved["complaints"])):
            if len(before[layer]):
                store.delete(layer, where={"community_code": code}, connection=tx)
            if len(frame):
                store.write(layer, frame, connection=tx)
    summary = {"cells_before": len(before["cells"]), "cells_after": len(new_cells), "compounds": len(comp),
               "components": len(moved["components"]), "complaints": len(moved["complaints"])}
    log.info("accepted split of %s into %s: %s", code, ", ".join(new_codes), summary)
    return AcceptResult(code, new_codes, before, pd.DataFrame(diff), summary)


def undo_accept(store: Any, result: "AcceptResult | str | Path") -> dict[str, int]:
    """Restore the rows an :func:`accept_proposal` changed, exactly as they were (one transaction).

    Refuses when the new communities were changed since (retired, split again or removed).
    """
    if not isinstance(result, AcceptResult):
        result = AcceptResult.load(result)
    counts = {}
    with store.transaction() as tx:
        now_new = store.read("communities", where={"code": result.new_codes}, connection=tx)
        problems = []
        if len(now_new) != len(result.new_codes):
            problems.append(Problem(None, "code", "some new communities are gone",
                                    sorted(set(result.new_codes) - set(now_new["code"]))))
        elif not now_new["active"].all():
            problems.append(Problem(None, "active", "some new communities were retired since (split again?)",
                                    now_new.loc[~now_new["active"], "code"].tolist()))
        children = store.read("communities", where={"parent_code": result.new_codes}, columns=["code"], connection=tx)
        if len(children):
            problems.append(Problem(None, "parent_code", "new communities have children", children["code"].tolist()))
        if problems:
            raise ValidationError(f"cannot undo the split of {result.old_code}: the store changed since", problems,
                                  fix="undo the later changes first")
        store.delete("communities", where={"code": [*result.new_codes, result.old_code]}, connection=tx)
        for layer in CHILD_LAYERS:
            store.delete(layer, where={"community_code": result.new_codes}, connection=tx)
        for layer in ("communities", *CHILD_LAYERS):
            f = result.before[layer]
            counts[layer] = store.write(layer, f, connection=tx) if len(f) else 0
    log.info("undid split of %s (removed %s)", result.old_code, ", ".join(result.new_codes))
    return counts
