"""Accepting a split proposal into the store, and undoing it exactly.

Accepting (:func:`accept_proposal`) does, in one transaction:

1. the old community row is kept as history: ``active=False``, ``retired_at`` = now (China Standard Time);
2. one new community row per part, with ``parent_code`` = the old code. **New codes**: the street code (9
   digits) + the next free 3-digit sequences in that street, counting every community ever recorded there
   (active or retired), so a retired code is never reused; parts get them in ``part_id`` order (north-west
   first). Names are the old name + 一/二/三...; households and population are the parts' sums (population,
   when compounds carry none, in the old community's persons-per-household ratio);
3. the old community's cells are cut along the new boundaries and re-coded per new community by the grid's own
   rules (:func:`recode_cells_by_clip`: slivers under ``sliver_share`` of the nominal square merged into a
   neighbouring cell of the same new community, DB11/T 2157-2023 order: rows north to south, west to east
   within a row; ``ix``/``iy`` kept, ``area_m2`` recomputed), so each new community's cells tile it. The step
   is a function (``recode_cells=``) so another cell builder can be used;
4. compounds, components and complaints of the old community get the new ``community_code`` (and the new
   ``cell_code``) of the cell they fall in.

The returned :class:`AcceptResult` holds the rows as they were (``before``), the rows as the accept wrote them
(``after``) and a diff report; keep it (or save it with :meth:`AcceptResult.save`) to :func:`undo_accept`, which
restores the ``before`` rows in one transaction: exactly, when nothing changed since; rows of the new communities
added or changed after the accept are kept and re-assigned to the restored community and cells.
"""

from __future__ import annotations

import functools
import logging
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.markdown import escape_markdown
from gridmap.errors import InfeasibleError, NotFoundError, Problem, ValidationError, message
from gridmap.grid import CELL_COLUMNS, assemble_cells
from gridmap.store.schema import LAYERS

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
                         cell_size_m: float | None = None, sliver_share: float = 0.1,
                         allow_overflow: bool = False) -> gpd.GeoDataFrame:
    """Cut the old cells along the new community boundaries and code them per new community, by the grid's rules.

    1. Every new community is cut along the edges of the old cells inside it (its outline noded with those
       edges and polygonised, so the pieces tile it and neighbouring pieces share their edges exactly). A piece
       counts in the square (``ix``/``iy``) of the old cell it lies in; land that no old cell covers (the
       millimetre strips where a new outline, snapped to 1 mm like the atoms it is made of, runs just outside
       the old one) in the square of the nearest old cell.
    2. The pieces go through the grid's own assembly (:func:`gridmap.grid.assemble_cells`, the code behind
       :func:`gridmap.grid.build_cells`): a piece smaller than ``sliver_share`` x the nominal square is merged
       into the neighbouring cell of the same new community sharing the longest edge; pieces of one square
       (``ix``/``iy`` of the old cell) in one community are one cell; codes are community code + 3-digit
       sequence, rows north to south (``iy`` descending), west to east (``ix`` ascending). A community with
       more than 999 cells raises :class:`~gridmap.errors.CapacityError` unless ``allow_overflow``.

    Parameters
    ----------
    cells : the old community's cells (``ix``, ``iy``, geometry).
    new_communities : the new communities (``code``, geometry).
    cell_size_m : lattice square side the cells were built with; default: inferred from the cells
        (:func:`gridmap.warning.lattice_from_cells`: the most common side of the whole-square cells).
    sliver_share, allow_overflow : as for :func:`gridmap.grid.build_cells` (keep the values the grid was built
        with).
    """
    if not len(cells) or not len(new_communities):
        return gpd.GeoDataFrame({c: [] for c in CELL_COLUMNS if c != "geometry"}, geometry=[], crs=cells.crs)
    if cell_size_m is None:
        from gridmap.warning import lattice_from_cells

        cell_size_m = lattice_from_cells(cells).cell_size_m
    size = float(cell_size_m)
    old = np.asarray(cells.geometry.values, dtype=object)
    c_ix, c_iy = cells["ix"].to_numpy(np.int64), cells["iy"].to_numpy(np.int64)
    tree = shapely.STRtree(old)
    p_code: list[str] = []
    p_ix: list[np.ndarray] = []
    p_iy: list[np.ndarray] = []
    p_geom: list[np.ndarray] = []
    for code, geom in zip(new_communities["code"].astype(str), new_communities.geometry):
        hit = np.sort(tree.query(geom, predicate="intersects"))
        if not len(hit):
            continue
        # faces of the new outline noded with the old cell edges inside it: they tile the community and
        # neighbouring faces share their edges exactly (separate overlays would leave edges a few ulps apart)
        inner = shapely.intersection(shapely.boundary(old[hit]), geom)
        lines = shapely.union_all(np.concatenate([[shapely.boundary(geom)], inner]))
        faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
        faces = faces[shapely.area(faces) > 0]
        faces = faces[shapely.contains(geom, shapely.point_on_surface(faces))]  # not the holes' fillings
        # each face counts in the square of the old cell it lies in; land outside every old cell (where the
        # new outline, snapped to 1 mm, runs just outside the old one) in the square of the nearest old cell
        sub = shapely.STRtree(old[hit])
        fi, ci = sub.query(shapely.point_on_surface(faces), predicate="intersects")
        owner = pd.Series(ci).groupby(fi).min().reindex(range(len(faces)))
        lost = np.flatnonzero(owner.isna().to_numpy())
        if len(lost):
            ri, cj = sub.query_nearest(faces[lost], all_matches=True)
            owner.iloc[lost] = pd.Series(cj).groupby(ri).min().to_numpy()
        cell = hit[owner.to_numpy(np.int64)]
        p_code += [code] * len(faces)
        p_ix.append(c_ix[cell])
        p_iy.append(c_iy[cell])
        p_geom.append(faces)
    pieces = gpd.GeoDataFrame({"community_code": p_code, "ix": np.concatenate(p_ix), "iy": np.concatenate(p_iy)},
                              geometry=np.concatenate(p_geom) if p_geom else [], crs=cells.crs)
    return assemble_cells(pieces, cell_size_m=size, sliver_share=sliver_share, allow_overflow=allow_overflow)


@dataclass
class AcceptResult:
    """What accepting changed: the old and new codes, the rows as they were, and a diff report.

    ``before`` holds the rows as they were before the accept (what :func:`undo_accept` restores), ``after`` the
    rows of the child layers as the accept wrote them (read back from the store), which is how undo tells rows
    added or changed later from the ones the accept wrote (journals saved without it: every row whose key is
    not in ``before`` counts as added).
    """

    old_code: str
    new_codes: list[str]
    before: dict[str, gpd.GeoDataFrame]
    diff: pd.DataFrame
    summary: dict = field(default_factory=dict)
    after: dict[str, gpd.GeoDataFrame] | None = None

    def markdown(self) -> str:
        s = self.summary
        old = escape_markdown(self.old_code)
        lines = [f"# 社区拆分变更 / split accepted: {old}", "",
                 f"- 原社区 {old} 标为历史（active=False） / old community kept as history",
                 f"- 新社区 / new communities: {', '.join(map(escape_markdown, self.new_codes))}",
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


def _new_communities(row: pd.Series, parts: gpd.GeoDataFrame, new_codes: list[str], *, code: str, street: str,
                     crs: Any) -> gpd.GeoDataFrame:
    """One new community row per part: name = old name + 一/二/三..., population from the parts or, when they
    carry none, in the old community's persons-per-household ratio."""
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
    return gpd.GeoDataFrame(new_rows, geometry="geometry", crs=crs)


def _reassign(before: dict[str, gpd.GeoDataFrame], new_comm: gpd.GeoDataFrame, new_cells: gpd.GeoDataFrame, *,
              code: str) -> tuple[dict[str, gpd.GeoDataFrame], list[dict]]:
    """Compounds, components and complaints of the old community re-assigned to the new communities (and
    cells) they fall in, and the diff rows: cells recoded (old -> new pieces by overlap), then each layer."""
    diff: list[dict] = []
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
    moved = {"compounds": comp}
    for layer, key in (("components", "code"), ("complaints", "source_id")):
        f = before[layer].copy()
        if len(f):
            cell = _points_to(f, new_cells, "code") if len(new_cells) else pd.Series(None, index=f.index)
            f["cell_code"] = cell
            f["community_code"] = _points_to(f, new_comm, "code")
            diff += [{"layer": layer, "code": str(k), "change": "reassigned 改属", "before": code, "after": n}
                     for k, n in zip(f[key], f["community_code"])]
        moved[layer] = f
    return moved, diff


def accept_proposal(store: Any, proposal: Any, *, community_code: str | None = None,
                    recode_cells: Callable[[gpd.GeoDataFrame, gpd.GeoDataFrame], gpd.GeoDataFrame] | None = None,
                    cell_size_m: float | None = None, sliver_share: float = 0.1,
                    now: pd.Timestamp | None = None) -> AcceptResult:
    """Write an accepted :class:`~gridmap.planning.proposal.Proposal` into ``store`` (one transaction).

    Parameters
    ----------
    store : a :class:`gridmap.store.Store`.
    proposal : the proposal to accept (its ``community_code`` is used unless ``community_code`` is given).
    recode_cells : ``f(old_cells, new_communities) -> new_cells``; default :func:`recode_cells_by_clip` with
        ``cell_size_m`` and ``sliver_share``.
    cell_size_m, sliver_share : the lattice square side and sliver share the grid was built with (see
        :func:`gridmap.grid.build_cells`); ``cell_size_m`` is inferred from the cells when not given.
    now : the ``retired_at`` time (default: now, China Standard Time, to the second).
    """
    code = community_code or proposal.community_code
    if not code:
        raise ValidationError("which community does the proposal split?", [Problem(None, "community_code",
                                                                                   "missing")])
    recode = recode_cells or functools.partial(recode_cells_by_clip, cell_size_m=cell_size_m,
                                               sliver_share=sliver_share)
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
        new_comm = _new_communities(row, parts, new_codes, code=code, street=street, crs=old.crs)
        retired = old.copy()
        retired["active"] = False
        retired["retired_at"] = now
        new_cells = recode(before["cells"], new_comm)
        diff = [{"layer": "communities", "code": code, "change": "retired 标为历史", "before": code, "after": ""}]
        diff += [{"layer": "communities", "code": c, "change": "created 新建", "before": "", "after": c}
                 for c in new_codes]
        moved, changes = _reassign(before, new_comm, new_cells, code=code)
        diff += changes
        comp = moved["compounds"]
        store.delete("communities", where={"code": code}, connection=tx)
        store.write("communities", pd.concat([retired, new_comm], ignore_index=True), connection=tx)
        for layer, frame in (("cells", new_cells), ("compounds", comp), ("components", moved["components"]),
                             ("complaints", moved["complaints"])):
            if len(before[layer]):
                store.delete(layer, where={"community_code": code}, connection=tx)
            if len(frame):
                store.write(layer, frame, connection=tx)
        after = {layer: store.read(layer, where={"community_code": new_codes}, connection=tx)
                 for layer in CHILD_LAYERS}
    summary = {"cells_before": len(before["cells"]), "cells_after": len(new_cells), "compounds": len(comp),
               "components": len(moved["components"]), "complaints": len(moved["complaints"])}
    log.info("accepted split of %s into %s: %s", code, ", ".join(new_codes), summary)
    return AcceptResult(code, new_codes, before, pd.DataFrame(diff), summary, after)


def _changes(now: gpd.GeoDataFrame, then: gpd.GeoDataFrame, key: list[str]) -> tuple[list, list, list]:
    """Keys of rows added to, changed in and gone from ``now`` compared with ``then`` (same layer, same store)."""
    def keyed(f: gpd.GeoDataFrame) -> pd.DataFrame:
        out = pd.DataFrame(f.drop(columns=f.geometry.name))
        out["__wkb"] = f.geometry.to_wkb().to_numpy() if len(f) else []
        return out.set_index(key, drop=False)
    a, b = keyed(now), keyed(then)
    added = [k for k in a.index if k not in b.index]
    gone = [k for k in b.index if k not in a.index]
    common = [k for k in a.index if k in b.index]
    changed = []
    if common:
        x, y = a.loc[common], b.loc[common]
        same = np.ones(len(common), dtype=bool)
        for c in a.columns:
            if c not in y.columns:
                same[:] = False
                break
            same &= np.asarray(_comparable(x[c]) == _comparable(y[c]), dtype=bool)
        changed = [k for k, ok in zip(common, same) if not ok]
    return added, changed, gone


_MISSING = object()


def _comparable(s: pd.Series) -> np.ndarray:
    """Values as objects with every missing value (None, NaN, NaT, <NA>) the same sentinel, for ``==``."""
    v = s.astype(object).to_numpy(copy=True)
    v[s.isna().to_numpy()] = _MISSING
    return v


def _reassigned(frame: gpd.GeoDataFrame, layer: str, communities: gpd.GeoDataFrame,
                cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rows with the ``community_code`` (and ``cell_code``) of the restored community and cell they fall in."""
    f = frame.copy()
    if not len(f):
        return f
    if layer == "compounds":  # as accepting does: by a point on the compound
        pts = gpd.GeoDataFrame(geometry=f.geometry.representative_point(), crs=f.crs)
        f["community_code"] = _points_to(pts, communities, "code")
        return f
    f["community_code"] = _points_to(f, communities, "code")
    f["cell_code"] = _points_to(f, cells, "code") if len(cells) else None
    return f


def _check_undoable(store: Any, result: AcceptResult, tx: Any) -> None:
    """Refuse when the new communities are gone, retired or split again since the accept."""
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


def _deltas(result: AcceptResult, now: dict[str, gpd.GeoDataFrame],
            keys: dict[str, list[str]]) -> dict[str, tuple[list, list, list]]:
    """What changed since the accept, per layer: (added, changed, gone) keys."""
    delta = {}
    for layer in CHILD_LAYERS:
        if result.after is not None:
            delta[layer] = _changes(now[layer], result.after[layer], keys[layer])
        elif layer == "cells":  # an old journal: the accept's own cells cannot be told from later ones
            delta[layer] = ([], [], [])
        else:  # an old journal: all that can be told is which rows are new
            added, _, _ = _changes(now[layer], result.before[layer], keys[layer])
            delta[layer] = (added, [], [])
    return delta


def _refuse_cell_changes(result: AcceptResult, cell_delta: tuple[list, list, list], where: str) -> NoReturn:
    label = ("added", "changed", "removed")
    cp = [Problem(c, "cells", f"{label[i]} after the accept") for i, ks in enumerate(cell_delta)
          for c in ks][:50]
    n = sum(len(ks) for ks in cell_delta)
    raise ValidationError(
        message(f"cannot undo the split of {result.old_code}: {n} cell(s) of the new communities changed "
                "since the accept", where=where,
                got=", ".join(f"{len(ks)} {label[i]}" for i, ks in enumerate(cell_delta) if ks)),
        cp, fix="pass discard_cell_changes=True (CLI: --discard-cell-changes) to restore the old community's "
                "cells anyway (cells derive "
                "from the community outlines; rebuild them afterwards if needed)")


def undo_accept(store: Any, result: "AcceptResult | str | Path", *,
                discard_cell_changes: bool = False) -> dict[str, int]:
    """Restore the rows an :func:`accept_proposal` changed (one transaction), keeping what was done since.

    The old community row comes back active and the new communities go; an untouched accept is restored
    exactly. Rows of the new communities that were **added or changed after the accept** (complaints imported
    later, a component whose status was edited...) are kept in their current version and re-assigned to the
    restored community and cell they fall in (the point-in-polygon rule accepting uses: the cell or community
    covering the point, else the nearest); rows the accept wrote and that were deleted or moved to another
    community since stay that way. Each kind is counted in the result (``<layer>_reassigned``,
    ``<layer>_gone``) and logged as a warning.

    Cells are derived from the outlines, so a cell of the new communities added, changed or removed since the
    accept (e.g. cells rebuilt) makes undo refuse with a :class:`~gridmap.errors.ValidationError` listing them,
    unless ``discard_cell_changes=True`` (the old community's cells are then restored anyway).

    Also refuses when the new communities were changed since (retired, split again or removed).

    Returns
    -------
    dict : rows written per layer, plus ``<layer>_reassigned`` and ``<layer>_gone`` for the point/area layers.
    """
    if not isinstance(result, AcceptResult):
        result = AcceptResult.load(result)
    counts = {}
    where = f"the split of {result.old_code} into {', '.join(result.new_codes)}"
    with store.transaction() as tx:
        _check_undoable(store, result, tx)
        now = {layer: store.read(layer, where={"community_code": result.new_codes}, connection=tx)
               for layer in CHILD_LAYERS}
        keys = {layer: list(LAYERS[layer].key) for layer in CHILD_LAYERS}
        delta = _deltas(result, now, keys)
        if any(delta["cells"]) and not discard_cell_changes:
            _refuse_cell_changes(result, delta["cells"], where)
        restored_comm = result.before["communities"]
        restored_cells = result.before["cells"]
        writes: dict[str, list[gpd.GeoDataFrame]] = {}
        for layer in CHILD_LAYERS:
            before = result.before[layer]
            if layer == "cells":
                writes[layer] = [before]
                continue
            added, changed, gone = delta[layer]
            kept_keys = set(added) | set(changed)
            idx_now = now[layer].set_index(keys[layer], drop=False).index
            kept = now[layer][idx_now.isin(kept_keys)] if kept_keys else now[layer].iloc[:0]
            kept = _reassigned(kept, layer, restored_comm, restored_cells)
            skip = set(changed) | set(gone)
            idx_before = before.set_index(keys[layer], drop=False).index
            writes[layer] = [before[~idx_before.isin(skip)] if skip else before, kept]
            counts[f"{layer}_reassigned"] = len(kept)
            counts[f"{layer}_gone"] = len(gone)
            if len(kept) or gone:
                log.warning("undo of %s: %d %s row(s) added or changed after the accept kept and re-assigned to "
                            "%s%s; %d deleted or moved to another community since left as they are",
                            result.old_code, len(kept), layer, result.old_code,
                            " and its cells" if layer != "compounds" else "", len(gone))
        store.delete("communities", where={"code": [*result.new_codes, result.old_code]}, connection=tx)
        for layer in CHILD_LAYERS:
            store.delete(layer, where={"community_code": result.new_codes}, connection=tx)
        f = result.before["communities"]
        counts["communities"] = store.write("communities", f, connection=tx) if len(f) else 0
        for layer in CHILD_LAYERS:
            counts[layer] = sum(store.write(layer, f, connection=tx) for f in writes[layer] if len(f))
    log.info("undid split of %s (removed %s): %s", result.old_code, ", ".join(result.new_codes), counts)
    return counts
