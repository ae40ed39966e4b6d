"""An independent verifier of split proposals (written apart from the solver; shapely + networkx only).

Adjacency is recomputed from the geometries with a different method than the solver's: two atoms are adjacent
when the overlap of their 0.25 m buffers, outside a 1.5 m buffer of the barrier lines, is long enough (area /
0.5 m >= 1.5 m). Land without households that the barriers cut off from everything populated may join a
neighbour it touches along a line (the documented ``attach_empty`` rule).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import shapely


def _graph(atoms, barriers, *, barrier_aware: bool, min_len: float = 1.5) -> nx.Graph:
    G = nx.Graph()
    G.add_nodes_from(atoms.index)
    geoms = list(atoms.geometry)
    ids = list(atoms.index)
    bz = None
    if barrier_aware and barriers is not None and len(barriers):
        bz = shapely.union_all([g for g in barriers.geometry]).buffer(1.5)
    buf = [g.buffer(0.25) for g in geoms]
    for a in range(len(ids)):
        for b in range(a + 1, len(ids)):
            if not buf[a].intersects(buf[b]):
                continue
            ov = buf[a].intersection(buf[b])
            if bz is not None:
                ov = ov.difference(bz)
            if ov.area / 0.5 >= min_len:
                G.add_edge(ids[a], ids[b])
    return G


def verify(community, atoms, proposals, *, floor: int, ceiling: int, barriers=None, compounds=None) -> list[str]:
    """Every violated hard constraint, as text (empty list = all proposals valid)."""
    errors: list[str] = []
    com = shapely.union_all(list(community.geometry))
    G = _graph(atoms, barriers, barrier_aware=True)
    T = _graph(atoms, barriers, barrier_aware=False, min_len=0.8)  # touching along a line, not a corner
    hh = atoms["households"].astype(int)
    empty_atoms = set()
    for comp in nx.connected_components(G):
        if hh.loc[list(comp)].sum() == 0:
            empty_atoms |= comp
    for p in proposals:
        tag = f"proposal {p.rank}"
        asg = p.assignment
        if set(asg.index) != set(atoms.index) or asg.isna().any():
            errors.append(f"{tag}: not every atom is assigned exactly once")
            continue
        if set(asg.unique()) != set(p.parts.index):
            errors.append(f"{tag}: assignment and parts disagree")
        for pid, row in p.parts.iterrows():
            members = list(asg.index[asg == pid])
            if set(members) != set(row["atoms"]):
                errors.append(f"{tag}/{pid}: atoms column disagrees with the assignment")
            h = int(hh.loc[members].sum())
            if h != int(row["households"]):
                errors.append(f"{tag}/{pid}: households {row['households']} reported, {h} counted")
            if not floor <= h <= ceiling:
                errors.append(f"{tag}/{pid}: {h} households outside [{floor}, {ceiling}]")
            sub = G.subgraph(members).copy()
            for a in members:
                if a in empty_atoms:  # may join across a barrier: any touching neighbour in the part
                    sub.add_edges_from((a, b) for b in T.neighbors(a) if b in sub)
            if not nx.is_connected(sub):
                errors.append(f"{tag}/{pid}: not contiguous ({nx.number_connected_components(sub)} pieces)")
            u = shapely.union_all(list(atoms.geometry.loc[members]))
            if shapely.symmetric_difference(u, row.geometry).area > 1.0:
                errors.append(f"{tag}/{pid}: geometry is not the union of its atoms")
        parts_u = shapely.union_all(list(p.parts.geometry))
        if shapely.symmetric_difference(parts_u, com).area > 1e-3 * com.area:
            errors.append(f"{tag}: parts do not tile the community")
        if float(p.parts.geometry.area.sum()) - parts_u.area > 1.0:
            errors.append(f"{tag}: parts overlap")
        if compounds is not None:
            for code, g in zip(compounds["code"], compounds.geometry):
                g = g.intersection(com)
                if g.area < 1:
                    continue
                best = max(g.intersection(pg).area for pg in p.parts.geometry)
                if best < g.area * 0.999:
                    errors.append(f"{tag}: compound {code} is cut")
    return errors
