"""Split proposals for oversized communities that a planner can defend.

:func:`propose_splits` partitions the atoms of one community (see :mod:`gridmap.planning.atoms`) into new
communities. Hard constraints (every returned proposal satisfies all of them, checked before returning):

- every part holds between ``floor`` and ``ceiling`` households (default 1,000–3,000);
- every part is contiguous: its atoms are connected by shared boundaries of positive length that do not run
  along a barrier line (roads, rivers, rail); a part may *follow* a barrier but never *cross* it. The one
  exception (``attach_empty=True``): a piece without households that barriers cut off from the rest joins its
  neighbour across the barrier (land must belong to some community);
- atoms are never cut (compounds marked indivisible stay whole); parts tile the community.

The number of parts is chosen automatically in ``ceil(H / ceiling) .. floor(H / floor)``. Soft goals, reported
as metrics and combined into the ranking score (lower is better):

- ``balance_cv``: coefficient of variation of households across parts (0 = perfectly even);
- ``compactness_mean`` / ``compactness_min``: Polsby–Popper 4πA/P² of the parts (1 = a disc);
- ``along_roads_share``: share of the new boundary that runs along roads or barrier lines;
- ``along_cells_share``: share of the new boundary on existing cell edges (when cells are given);
- ``new_boundary_m`` and ``outline_share``: length of new boundary, and the share of the parts' perimeters
  that is the current community boundary (closeness to the current boundary: higher keeps more of it).

Method: small components (``exact_max_atoms``) are searched exhaustively (every partition into valid connected
parts); larger ones by recursive spanning-tree bisection with both a floor and a ceiling (ReCom-like), followed
by a local search that moves boundary atoms while keeping parts connected and within bounds; when that finds
nothing, an exhaustive search is tried with what is left of the budget. Infeasibility is explained in planner's
words (:class:`~gridmap.errors.InfeasibleError` with ``reasons`` and ``relax``).

Determinism: the search is bounded by a work budget (``work_budget`` units, counted by the solver: sets
visited, spanning-tree atoms drawn, moves evaluated; the heuristics may use 60 % of it), never by the clock, so
the same input and ``seed`` give the same proposals on any machine, however loaded. ``time_limit_s`` is only a
safety net against a pathologically slow run: if it stops the search, a warning is logged and every proposal's
``search["time_limit_hit"]`` is True (such a result may differ between runs).

Examples
--------
>>> import geopandas as gpd, shapely
>>> com = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 300, 100)], crs="EPSG:4548")
>>> cmp = gpd.GeoDataFrame({"code": ["甲", "乙", "丙"], "households": [1200, 1500, 1300]},
...     geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100), shapely.box(200, 0, 300, 100)],
...     crs="EPSG:4548")
>>> from gridmap.planning import build_atoms
>>> props = propose_splits(com, build_atoms(com, cmp))
>>> [p.parts["households"].tolist() for p in props]
[[1200, 1500, 1300], [2700, 1300], [1200, 2800]]
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import NoReturn

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import check_crs
from gridmap.errors import InfeasibleError, Problem, ValidationError
import gridmap.planning._solver as S
from gridmap.planning.atoms import check_atoms
from gridmap.planning.explain import explain_rank
from gridmap.planning.flags import check_thresholds
from gridmap.planning.problem import SplitProblem, build_problem, diagnose
from gridmap.planning.proposal import Proposal

__all__ = ["propose_splits", "DEFAULT_WEIGHTS"]

log = logging.getLogger(__name__)

#: Weights of the ranking score: balance (CV), 1 - mean compactness, off-road new boundary / sqrt(area).
DEFAULT_WEIGHTS: dict[str, float] = {"balance": 1.0, "compactness": 1.0, "off_road": 0.3}

#: Default work budget of one community's search, in solver work units (1-2 µs each on the 2-core benchmark
#: machine, so spending all of it takes about the 20 s the former time limit allowed; the generated benchmark
#: communities use at most about 3 % of it, half of them under 0.2 %).
DEFAULT_WORK_BUDGET = 12_000_000

#: Share of the work budget the heuristics may use before the exhaustive fallback gets the rest.
HEURISTIC_SHARE = 0.6


def _ks(total: int, floor: int, ceiling: int, max_parts: int | None) -> list[int]:
    lo = max(2, math.ceil(total / ceiling))
    hi = total // floor
    if max_parts is not None:
        hi = min(hi, max_parts)
    return list(range(lo, hi + 1))


def propose_splits(community: object, atoms: gpd.GeoDataFrame, *, floor: int = 1000, ceiling: int = 3000,
                   barriers: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
                   roads: gpd.GeoDataFrame | gpd.GeoSeries | None = None, cells: gpd.GeoDataFrame | None = None,
                   n_alternatives: int = 3, seed: int = 0, max_parts: int | None = None,
                   extra_parts: int = 2, weights: Mapping[str, float] | None = None,
                   work_budget: int = DEFAULT_WORK_BUDGET, time_limit_s: float = 120.0,
                   exact_max_atoms: int = 16, min_shared_m: float = 2.0, attach_empty: bool = True,
                   community_code: str | None = None,
                   progress: Callable[[int, int, str], None] | None = None) -> list[Proposal]:
    """Ranked split proposals for one community; raises :class:`InfeasibleError` when none is valid.

    Why 19 parameters: each keyword is an independent, documented setting of the search that callers set one
    by one; grouping them would only move the list. The search steps live in helpers, the body is ~55 lines.

    Parameters
    ----------
    community : GeoDataFrame/GeoSeries/geometry of the current community (projected CRS).
    atoms : from :func:`~gridmap.planning.atoms.build_atoms` (index = atom id; ``households``,
        ``indivisible``, ``name``).
    floor, ceiling : household bounds of every new community.
    barriers : lines adjacency may not cross (roads, rivers, rail); pass the same lines used to build atoms.
    roads : extra lines whose boundaries count as "along roads" without being barriers.
    cells : unit cells, to report the share of new boundary on cell edges.
    n_alternatives : how many ranked alternatives to return (fewer when fewer valid ones exist).
    seed : random seed; the result depends only on the input, ``seed`` and ``work_budget`` (unless the
        ``time_limit_s`` safety net stops the search, which ``Proposal.search["time_limit_hit"]`` records).
    max_parts : cap on the number of parts. ``extra_parts``: parts tried beyond the minimum feasible count.
    weights : ranking weights (see :data:`DEFAULT_WEIGHTS`).
    work_budget : deterministic search budget for this community, in solver work units
        (:data:`DEFAULT_WORK_BUDGET`; see :class:`gridmap.planning._solver.Budget`). Raising it can find
        splits in hard cases; it never changes results that finished within it.
    time_limit_s : wall-clock safety net (seconds) for this community, far above what the work budget takes;
        if it stops the search a warning is logged and the proposals record it (the result may then differ
        between runs and machines).
    exact_max_atoms : components with at most this many atoms are searched exhaustively.
    min_shared_m : shortest shared boundary (off barriers) that makes two atoms adjacent.
    attach_empty : land without households that a barrier cuts off (a river bank, a strip beyond the rail)
        joins the neighbouring atom across the barrier it shares most boundary with, instead of making the
        split infeasible. Parts with residents never cross a barrier.
    progress : callable ``(done, total, label)``, optional
        Called when the adjacency graph is built, before the search of each connected part and before ranking
        (the CLI draws a progress bar with it); off by default.
    """
    t0 = time.perf_counter()
    check_crs(atoms, where="atoms", metric=True)
    check_thresholds(floor=floor, ceiling=ceiling)
    if n_alternatives < 1:
        raise ValidationError("n_alternatives must be at least 1", [Problem(None, "n_alternatives", "< 1",
                                                                            n_alternatives)])
    if work_budget < 1:
        raise ValidationError("work_budget must be at least 1", [Problem(None, "work_budget", "< 1", work_budget)])
    check_atoms(atoms, community=community)
    wts = S.Weights(**{**DEFAULT_WEIGHTS, **(weights or {})})
    if progress:
        progress(0, 2, "adjacency graph")
    pb = build_problem(atoms, barriers=barriers, roads=roads, cells=cells, min_shared_m=min_shared_m,
                       attach_empty=attach_empty)
    g = pb.g
    total = sum(g.w)
    where = f"community {community_code}" if community_code else "community"
    reasons, relax = diagnose(pb, floor, ceiling)
    if reasons:
        raise InfeasibleError(f"{where}: no valid split exists / 无法按要求拆分", reasons, relax)
    sp = _Search(floor, ceiling, n_alternatives, max_parts, extra_parts, exact_max_atoms, work_budget,
                 time_limit_s, where, wts, random.Random(seed), S.Budget(work_budget, deadline=t0 + time_limit_s))
    budget = sp.budget
    comps = S.components(g)
    per_comp: list[list[S.Partition]] = []
    exhaustive = True
    steps = len(comps) + 2
    for i, comp in enumerate(comps):
        if progress:
            progress(1 + i, steps, f"search part {i + 1}/{len(comps)} ({len(comp)} atoms)")
        cands, exhaustive = _search_component(g, comp, sp, exhaustive)
        per_comp.append(cands)
    if progress:
        progress(steps - 1, steps, "rank and explain")
    chosen = _diverse(g, _combine(g, per_comp, wts), n_alternatives)
    search = {"seed": seed, "work_budget": int(work_budget), "work_used": int(budget.used),
              "time_limit_s": float(time_limit_s), "time_limit_hit": bool(budget.time_limit_hit)}
    if budget.time_limit_hit:
        _warn_time_limit(where, budget, time_limit_s)
    props = [_proposal(atoms, pb, parts, sc, rank + 1, floor, ceiling, exhaustive, community_code, dict(search))
             for rank, (parts, sc) in enumerate(chosen)]
    for p in props:  # the hard constraints, checked on the solver's own graph before anything leaves
        if not S.valid(g, [frozenset(pb.ids.index(a) for a in atoms_) for atoms_ in p.parts["atoms"]],
                       range(g.n), floor, ceiling):
            raise AssertionError(f"internal error: invalid proposal for {where}")  # pragma: no cover
    props = _explain(props)
    if progress:
        progress(steps, steps, "done")
    log.info("%s: %d households -> %d proposal(s) (k=%s), %d work units, in %.2f s%s", where, total, len(props),
             ",".join(str(p.k) for p in props), budget.used, time.perf_counter() - t0,
             " (exhaustive)" if exhaustive else "")
    return props


@dataclass
class _Search:
    """The settings of one community's search, and its random generator and work budget."""

    floor: int
    ceiling: int
    n_alternatives: int
    max_parts: int | None
    extra_parts: int
    exact_max_atoms: int
    work_budget: int
    time_limit_s: float
    where: str
    wts: S.Weights
    rng: random.Random
    budget: S.Budget


def _search_component(g: S.Graph, comp: list[int], sp: _Search,
                      exhaustive: bool) -> tuple[list[S.Partition], bool]:
    """The best candidate partitions of one connected part, and whether the search so far was exhaustive;
    raises :class:`InfeasibleError` when the part has none."""
    floor, ceiling, budget = sp.floor, sp.ceiling, sp.budget
    wc = sum(g.w[v] for v in comp)
    if wc <= ceiling:
        return [(frozenset(comp),)], exhaustive
    if len(comp) <= sp.exact_max_atoms:
        cands, complete = S.exact_partitions(g, comp, floor, ceiling, budget=budget)
        exhaustive &= complete
    else:
        ks = _ks(wc, floor, ceiling, sp.max_parts)
        ks = [k for k in ks if k <= sum(1 for v in comp if g.w[v] > 0)]  # a part needs residents
        ks = [k for k in ks if k <= ks[0] + sp.extra_parts] if ks else []
        budget.stop_at = int(budget.limit * HEURISTIC_SHARE)
        cands = S.heuristic_partitions(g, comp, ks, floor, ceiling, sp.wts, sp.rng,
                                       per_k=max(2, sp.n_alternatives + 1), work=budget)
        budget.stop_at = budget.limit
        exhaustive = False
        if not cands:
            cands, complete = S.exact_partitions(g, comp, floor, ceiling, budget=budget, limit=50)
            if not cands and complete:
                exhaustive = True
    if sp.max_parts is not None:
        cands = [c for c in cands if len(c) <= sp.max_parts]
    if not cands:
        _raise_none_found(sp, exhaustive)
    cands = sorted(cands, key=lambda c: (S.score(g, c, sp.wts), _key(c)))
    return cands[:max(12, 4 * sp.n_alternatives)], exhaustive


def _raise_none_found(sp: _Search, exhaustive: bool) -> NoReturn:
    floor, ceiling, where, budget = sp.floor, sp.ceiling, sp.where, sp.budget
    work_budget, time_limit_s = sp.work_budget, sp.time_limit_s
    if exhaustive:
        raise InfeasibleError(
            f"{where}: no valid split exists / 无法按要求拆分",
            [f"穷举全部连通划分，没有一种能让每个部分都在 {floor:,}–{ceiling:,} 户之间：小区规模组合不上 / an "
             f"exhaustive search over every connected grouping found none with all parts between "
             f"{floor:,} and {ceiling:,} households: the compounds' sizes do not add up that way"],
            [f"放宽户数范围（如 {int(floor * 0.9):,}–{int(ceiling * 1.1):,}） / widen the household range "
             f"(e.g. {int(floor * 0.9):,}–{int(ceiling * 1.1):,})",
             "按楼栋拆分大的小区 / give large compounds as separate buildings"])
    if budget.time_limit_hit:
        _warn_time_limit(where, budget, time_limit_s)
        zh, en = f"{time_limit_s:g} 秒时限", f"the {time_limit_s:g} s time limit"
        more = f"增加 time_limit_s / raise time_limit_s (now {time_limit_s:g})"
    else:
        zh, en = f"{work_budget:,} 单位的搜索预算", f"the search budget of {work_budget:,} work units"
        more = f"增加 work_budget / raise work_budget (now {work_budget:,})"
    raise InfeasibleError(
        f"{where}: no valid split found within {en} / 在{zh}内未找到可行方案",
        [f"在{zh}内未找到每个部分 {floor:,}–{ceiling:,} 户的连通划分（未证明不存在） / no connected split "
         f"with every part between {floor:,} and {ceiling:,} households was found within {en} (not "
         f"proven impossible)"],
        [more, "放宽户数范围 / widen the household range"])


def _combine(g: S.Graph, per_comp: list[list[S.Partition]], wts: S.Weights) -> list:
    """Whole-community partitions from the parts' candidates, scored and sorted best first."""
    combos: list[S.Partition] = []
    limits = [len(c) for c in per_comp]
    for idx in itertools.islice(itertools.product(*[range(min(n, 6)) for n in limits]), 2000):
        combos.append(tuple(p for ci, i in enumerate(idx) for p in per_comp[ci][i]))
    if any(n > 6 for n in limits):
        for ci, n in enumerate(limits):
            for i in range(6, n):
                combos.append(tuple(p for cj in range(len(per_comp))
                                    for p in per_comp[cj][i if cj == ci else 0]))
    scored = sorted({S.canonical(c): S.score(g, c, wts) for c in combos}.items(), key=lambda kv: (kv[1], _key(kv[0])))
    return scored


def _warn_time_limit(where: str, budget: S.Budget, time_limit_s: float) -> None:
    log.warning("%s: the %g s time limit (a safety net) stopped the search after %d of %d work units: the result "
                "may differ between runs and machines (raise time_limit_s for a reproducible result)", where,
                time_limit_s, budget.used, budget.limit)


def _key(c: S.Partition) -> tuple:
    return tuple(sorted(tuple(sorted(p)) for p in c))


def _diverse(g: S.Graph, scored: list, n: int, min_change: float = 0.05) -> list:
    """Best-first, skipping partitions that move less than ``min_change`` of the area from one already chosen."""
    chosen: list = []
    skipped: list = []
    total = max(g.total_area, 1e-9)
    for parts, sc in scored:
        if len(chosen) >= n:
            break
        if all(_distance(g, parts, c) / total >= min_change for c, _ in chosen):
            chosen.append((parts, sc))
        else:
            skipped.append((parts, sc))
    for item in skipped:
        if len(chosen) >= n:
            break
        chosen.append(item)
    return chosen


def _distance(g: S.Graph, a: S.Partition, b: S.Partition) -> float:
    if len(a) != len(b):
        return g.total_area
    overlap = 0.0
    for pa in a:
        overlap += max(sum(g.area[v] for v in pa & pb) for pb in b)
    return g.total_area - overlap


def _without_slivers(g: shapely.Geometry, max_hole_m2: float = 1.0) -> shapely.Geometry:
    """Drop the millimetre-wide holes that a union of snapped atoms can leave (real enclaves are kept)."""
    polys = []
    for p in shapely.get_parts(g):
        if p.geom_type != "Polygon":
            continue
        keep = [r for r in p.interiors if shapely.Polygon(r).area > max_hole_m2]
        polys.append(shapely.Polygon(p.exterior, keep) if len(keep) < len(p.interiors) else p)
    if not polys:
        return g
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def _proposal(atoms: gpd.GeoDataFrame, pb: SplitProblem, parts: S.Partition, sc: float, rank: int, floor: int,
              ceiling: int, exhaustive: bool, community_code: str | None, search: dict) -> Proposal:
    g = pb.g
    geoms = [_without_slivers(shapely.union_all(atoms.geometry.values[sorted(p)])) for p in parts]
    order = sorted(range(len(parts)), key=lambda i: (-round(geoms[i].centroid.y, 3), round(geoms[i].centroid.x, 3)))
    labels = [chr(ord("A") + i) if i < 26 else f"P{i}" for i in range(len(parts))]
    pop = atoms["population"] if "population" in atoms.columns else pd.Series(np.nan, atoms.index)
    rows = []
    label_of = {}
    for lab, i in zip(labels, order):
        p = sorted(parts[i])
        geom = geoms[i]
        per = geom.length
        pv = pop.iloc[p]
        rows.append({"part_id": lab, "households": int(sum(g.w[v] for v in p)),
                     "population": float(pv.sum()) if pv.notna().any() else np.nan,
                     "area_m2": float(geom.area), "compactness": 4 * math.pi * geom.area / per ** 2 if per else 0.0,
                     "n_atoms": len(p), "atoms": tuple(pb.ids[v] for v in p), "geometry": geom})
        for v in p:
            label_of[v] = lab
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=atoms.crs).set_index("part_id")
    hh = frame["households"].to_numpy(float)
    cut = road = cellm = 0.0
    has_cells = False
    for (i, j), r in pb.road_m.items():
        if label_of[i] != label_of[j]:
            cut += g.nb[i][j]
            road += r
            c = pb.cell_m.get((i, j), np.nan)
            if not np.isnan(c):
                cellm += c
                has_cells = True
    outline = sum(g.perim) - 2 * sum(g.nb[i][j] for (i, j) in pb.road_m)
    metrics = {
        "k": len(parts),
        "balance_cv": float(hh.std() / hh.mean()) if hh.mean() > 0 else 0.0,
        "max_deviation": float(np.abs(hh - hh.mean()).max() / hh.mean()) if hh.mean() > 0 else 0.0,
        "compactness_mean": float(frame["compactness"].mean()),
        "compactness_min": float(frame["compactness"].min()),
        "new_boundary_m": float(cut),
        "along_roads_share": float(road / cut) if cut > 0 else 1.0,
        "along_cells_share": float(cellm / cut) if cut > 0 and has_cells else float("nan"),
        "outline_share": float(outline / (outline + 2 * cut)) if outline + cut > 0 else 1.0,
        "score": float(sc),
    }
    assignment = pd.Series({pb.ids[v]: lab for v, lab in label_of.items()}, name="part_id").reindex(atoms.index)
    return Proposal(rank=rank, k=len(parts), parts=frame, assignment=assignment, metrics=metrics, score=float(sc),
                    exhaustive=exhaustive, community_code=community_code, floor=floor, ceiling=ceiling,
                    search=search)


def _explain(props: list[Proposal]) -> list[Proposal]:
    return [replace(p, explanation_zh=zh, explanation_en=en)
            for p, (zh, en) in zip(props, (explain_rank(p, props) for p in props))]
