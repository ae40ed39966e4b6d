"""The split problem: a community's atoms as the solver's graph, and why it can have no valid split.

:func:`build_problem` turns the atoms (see :mod:`gridmap.planning.atoms`) into the adjacency graphs the solver
(:mod:`gridmap.planning._solver`) searches; :func:`diagnose` says, in Chinese with English alongside, why no
split within the floor and ceiling can exist and what could be relaxed. :func:`~gridmap.planning.split.propose_splits`
uses both.

Examples
--------
>>> import geopandas as gpd, shapely
>>> atoms = gpd.GeoDataFrame({"households": [3500, 400], "indivisible": [True, True], "name": ["甲", "乙"]},
...     geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)], crs="EPSG:4548")
>>> reasons, relax = diagnose(build_problem(atoms, barriers=None, roads=None, cells=None, min_shared_m=2.0),
...                           1000, 3000)
>>> reasons[0]
'小区 甲 单独就有 3,500 户，超过上限 3,000 户 / compound 甲 alone holds 3,500 households, above the ceiling of 3,000'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

import gridmap.planning._solver as S
from gridmap.planning.atoms import adjacency

__all__ = ["SplitProblem", "build_problem", "diagnose"]


@dataclass
class SplitProblem:
    ids: list
    names: list
    g: S.Graph
    indiv: list
    touch_graph: S.Graph
    centroid: tuple[float, float]
    xy: list
    road_m: dict = field(default_factory=dict)
    cell_m: dict = field(default_factory=dict)
    bridges: list = field(default_factory=list)


def _direction(dx: float, dy: float) -> tuple[str, str]:
    if math.hypot(dx, dy) < 1e-9:
        return "中部", "central"
    ang = math.degrees(math.atan2(dy, dx)) % 360
    names = [("东", "east"), ("东北", "north-east"), ("北", "north"), ("西北", "north-west"), ("西", "west"),
             ("西南", "south-west"), ("南", "south"), ("东南", "south-east")]
    return names[int(((ang + 22.5) % 360) // 45)]


def build_problem(atoms: gpd.GeoDataFrame, *, barriers, roads, cells, min_shared_m: float,
                  attach_empty: bool = True) -> SplitProblem:
    adj = adjacency(atoms, barriers=barriers, roads=roads, cells=cells, min_shared_m=min_shared_m)
    ids = list(atoms.index)
    pos = {a: i for i, a in enumerate(ids)}
    n = len(ids)
    w = [int(h) for h in atoms["households"]]
    area = [float(a) for a in atoms.geometry.area]
    perim = [float(p) for p in atoms.geometry.length]
    al: list[list[int]] = [[] for _ in range(n)]
    tl: list[list[int]] = [[] for _ in range(n)]
    nb: list[dict[int, float]] = [{} for _ in range(n)]
    off: list[dict[int, float]] = [{} for _ in range(n)]
    road_m, cell_m = {}, {}
    for r in adj.itertuples(index=False):
        i, j = pos[r.i], pos[r.j]
        nb[i][j] = nb[j][i] = float(r.shared_m)
        o = max(float(r.shared_m) - float(r.road_m), 0.0)
        off[i][j] = off[j][i] = o
        road_m[(min(i, j), max(i, j))] = float(r.road_m)
        cell_m[(min(i, j), max(i, j))] = float(r.cell_m) if pd.notna(r.cell_m) else np.nan
        tl[i].append(j)
        tl[j].append(i)
        if r.adjacent:
            al[i].append(j)
            al[j].append(i)
    bridges: list[tuple[int, int]] = []
    if attach_empty:
        # land without households cut off by a barrier joins the neighbour it shares most boundary with
        base = S.Graph(w, area, perim, al, nb, off)
        comps = S.components(base)
        if len(comps) > 1:
            for comp in comps:
                if sum(w[v] for v in comp) > 0:
                    continue
                cs = set(comp)
                best = max(((nb[i][j], i, j) for i in comp for j in nb[i] if j not in cs), default=None)
                if best is not None:
                    _, i, j = best
                    al[i].append(j)
                    al[j].append(i)
                    bridges.append((i, j))
    total_area = float(sum(area))
    g = S.Graph(w, area, perim, [sorted(x) for x in al], nb, off, total_area)
    tg = S.Graph(w, area, perim, [sorted(x) for x in tl], nb, off, total_area)
    c = shapely.union_all(atoms.geometry.values).centroid
    pts = atoms.geometry.representative_point()
    names = [str(atoms["name"].iloc[i]) if "name" in atoms.columns and pd.notna(atoms["name"].iloc[i]) else str(a)
             for i, a in enumerate(ids)]
    indiv = [bool(x) if pd.notna(x) else True for x in atoms["indivisible"]] if "indivisible" in atoms.columns \
        else [True] * n
    return SplitProblem(ids, names, g, indiv, tg, (c.x, c.y), [(p.x, p.y) for p in pts], road_m, cell_m, bridges)


def diagnose(pb: SplitProblem, floor: int, ceiling: int) -> tuple[list[str], list[str]]:
    """Reasons (Chinese / English) why no valid split can exist, and what could be relaxed; empty if none found."""
    g = pb.g
    reasons: list[str] = []
    relax: list[str] = []
    total = sum(g.w)
    big = [(g.w[i], i) for i in range(g.n) if g.w[i] > ceiling]
    for h, i in sorted(big, reverse=True):
        what = "小区" if pb.indiv[i] else "地块"
        reasons.append(f"{what} {pb.names[i]} 单独就有 {h:,} 户，超过上限 {ceiling:,} 户 / "
                       f"{'compound' if pb.indiv[i] else 'atom'} {pb.names[i]} alone holds {h:,} households, "
                       f"above the ceiling of {ceiling:,}")
    if big:
        relax.append(f"将上限提高到 {max(h for h, _ in big):,} 户 / raise the ceiling to {max(h for h, _ in big):,}")
        relax.append("按楼栋拆分该小区（标为可分） / give that compound's buildings as separate atoms "
                     "(mark it divisible)")
    if total < 2 * floor:
        reasons.append(f"社区共 {total:,} 户，不足下限的两倍（2×{floor:,}），无法分出两个达标社区 / the community "
                       f"holds {total:,} households, fewer than twice the floor (2×{floor:,}): no two parts can "
                       f"both reach {floor:,}")
        relax.append(f"将下限降到 {total // 2:,} 户以下 / lower the floor to {total // 2:,} or less")
        if total <= ceiling:
            relax.append(f"该社区 {total:,} 户未超过上限，无需拆分 / at {total:,} households it is within the "
                         f"ceiling: no split is needed")
    comps = S.components(g)
    if len(comps) > 1:
        tcomps = S.components(pb.touch_graph)
        for comp in comps:
            wc = sum(g.w[v] for v in comp)
            cx = sum(g.area[v] * pb.xy[v][0] for v in comp) / max(sum(g.area[v] for v in comp), 1e-9)
            cy = sum(g.area[v] * pb.xy[v][1] for v in comp) / max(sum(g.area[v] for v in comp), 1e-9)
            dzh, den = _direction(cx - pb.centroid[0], cy - pb.centroid[1])
            separate = not any(set(comp) <= set(t) and len(t) > len(comp) for t in tcomps)
            how_zh = "是与其余部分不相连的独立地块" if separate else "被道路/河流/铁路隔开"
            how_en = "is a separate piece of the community" if separate else \
                "is cut off by a road, river or rail line"
            if wc < floor:
                reasons.append(f"{dzh}部 {how_zh}，仅有 {wc:,} 户（下限 {floor:,}） / the {den} part {how_en} and "
                               f"holds only {wc:,} households (floor {floor:,})")
                if separate:
                    relax.append(f"将{dzh}部这块飞地划入与其相邻的社区，或修正社区边界（若缺口是数字化误差） / give "
                                 f"the {den} piece to the neighbouring community it borders, or fix the community "
                                 "outline if the gap is a digitising error")
                else:
                    relax.append(f"允许{dzh}部跨越障碍线与相邻部分合并（如有桥梁连通，去掉该障碍线） / let the {den} "
                                 "part join its neighbour across the barrier (drop that barrier line where a bridge "
                                 "links them)")
                if wc > 0:
                    relax.append(f"将下限降到 {wc:,} 户 / lower the floor to {wc:,}")
            elif not S.splittable(wc, floor, ceiling):
                reasons.append(f"{dzh}部 {how_zh}，有 {wc:,} 户，无法分成每个 {floor:,}–{ceiling:,} 户的若干部分 / "
                               f"the {den} part {how_en} and holds {wc:,} households, which no number of parts "
                               f"of {floor:,}–{ceiling:,} can hold")
    elif total >= 2 * floor and not S.splittable(total, floor, ceiling):
        kmin = math.ceil(total / ceiling)
        reasons.append(f"{total:,} 户无法分成每个 {floor:,}–{ceiling:,} 户的若干社区：{kmin - 1} 个装不下，"
                       f"{kmin} 个达不到下限 / {total:,} households cannot be split into parts of "
                       f"{floor:,}–{ceiling:,}: {kmin - 1} parts cannot hold them and {kmin} parts cannot all "
                       f"reach the floor")
        relax.append(f"将下限降到 {total // kmin:,} 户 / lower the floor to {total // kmin:,}")
    return reasons, sorted(set(relax), key=relax.index)
