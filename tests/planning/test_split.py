"""Split proposals: an independent verifier on 100+ generated communities, exhaustive search on small ones,
infeasibility explained, bad input, determinism (for a seed, and independent of the clock)."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.split_cases import case_atoms, make_case  # noqa: E402
from tests.planning.verify import verify  # noqa: E402

from gridmap.errors import CRSError, InfeasibleError, ValidationError  # noqa: E402
from gridmap.planning import build_atoms, propose_splits  # noqa: E402

CRS = "EPSG:4548"
N_CASES = 110


def test_generated_communities_all_proposals_valid():
    valid = infeasible = 0
    for i in range(N_CASES):
        case = make_case(i)
        atoms = case_atoms(case)
        try:
            props = propose_splits(case["community"], atoms, barriers=case["barriers"], roads=case["roads"],
                                   cells=case["cells"], seed=0)
        except InfeasibleError as exc:
            # only for reasons that prove it (never "not found in time"), confirmed on the verifier's own graph
            assert "not proven" not in str(exc), (case["name"], str(exc))
            assert _independently_infeasible(atoms, case["barriers"], 1000, 3000), (case["name"], str(exc))
            infeasible += 1
            continue
        assert 1 <= len(props) <= 3
        assert [p.rank for p in props] == list(range(1, len(props) + 1))
        errs = verify(case["community"], atoms, props, floor=1000, ceiling=3000, barriers=case["barriers"],
                      compounds=case["compounds"])
        assert not errs, (case["name"], errs)
        for p in props:
            assert p.explanation_zh and p.explanation_en
            assert set(p.parts.columns) >= {"households", "area_m2", "compactness", "geometry"}
        valid += 1
    assert valid + infeasible == N_CASES and valid >= 100


def _independently_infeasible(atoms, barriers, floor, ceiling) -> bool:
    """A reason no split can exist, found without the solver: an atom above the ceiling, or a populated piece of
    the verifier's barrier-respecting graph whose households no number of parts within [floor, ceiling] holds."""
    import math

    import networkx as nx
    from tests.planning.verify import _graph

    hh = atoms["households"].astype(int)
    if (hh > ceiling).any():
        return True
    G = _graph(atoms, barriers, barrier_aware=True)
    for comp in nx.connected_components(G):
        w = int(hh.loc[list(comp)].sum())
        if w > 0 and not any(k * floor <= w <= k * ceiling for k in range(1, math.ceil(w / floor) + 2)):
            return True
    return False


# -- exhaustive search on small instances --------------------------------------------------------------------

def _small_instance(seed: int):
    rng = np.random.default_rng(seed)
    nr, nc = [(3, 4), (4, 3), (2, 6), (3, 3), (2, 7), (3, 5)][seed % 6][:2]
    if nr * nc > 14:
        nc = 14 // nr
    boxes, ids = [], []
    for r in range(nr):
        for c in range(nc):
            boxes.append(shapely.box(c * 100, r * 100, (c + 1) * 100, (r + 1) * 100))
            ids.append(f"a{r}{c}")
    w = rng.choice([0, 0, 250, 500, 700, 900, 1200, 1500, 1900, 2400, 3100], size=len(boxes),
                   p=[.15, .1, .1, .1, .1, .1, .1, .1, .06, .06, .03])
    atoms = gpd.GeoDataFrame({"households": w.astype(int), "indivisible": True, "name": ids}, geometry=boxes,
                             crs=CRS, index=ids)
    atoms.index.name = "atom"
    lines = []
    if rng.random() < 0.5:  # barrier segments along some cell edges
        for _ in range(rng.integers(1, 5)):
            if rng.random() < 0.5:
                x = 100 * rng.integers(1, nc) if nc > 1 else 100
                y = 100 * rng.integers(0, nr)
                lines.append(shapely.LineString([(x, y), (x, y + 100)]))
            else:
                y = 100 * rng.integers(1, nr) if nr > 1 else 100
                x = 100 * rng.integers(0, nc)
                lines.append(shapely.LineString([(x, y), (x + 100, y)]))
    barriers = gpd.GeoDataFrame(geometry=lines, crs=CRS) if lines else None
    community = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, nc * 100, nr * 100)], crs=CRS)
    return community, atoms, barriers


def _brute_force_feasible(atoms, barriers, floor, ceiling) -> bool:
    """Bitmask DP over every connected subset (independent of the solver's enumeration)."""
    from tests.planning.verify import _graph

    G = _graph(atoms, barriers, barrier_aware=True)
    T = _graph(atoms, barriers, barrier_aware=False, min_len=0.8)
    ids = list(atoms.index)
    n = len(ids)
    w = atoms["households"].astype(int).tolist()
    # empty components may join a touching neighbour (attach_empty): add those links
    import networkx as nx
    for comp in list(nx.connected_components(G)):
        if sum(w[ids.index(a)] for a in comp) == 0 and len(comp) < n:
            G.add_edges_from((a, b) for a in comp for b in T.neighbors(a) if b not in comp)
    nbr = [sum(1 << ids.index(b) for b in G.neighbors(a)) for a in ids]
    blocks_by_low: dict[int, list[int]] = {i: [] for i in range(n)}
    for mask in range(1, 1 << n):
        tot = sum(w[i] for i in range(n) if mask >> i & 1)
        if not floor <= tot <= ceiling:
            continue
        low = (mask & -mask).bit_length() - 1
        seen = 1 << low
        frontier = seen
        while frontier:
            new = 0
            for i in range(n):
                if frontier >> i & 1:
                    new |= nbr[i]
            new &= mask & ~seen
            seen |= new
            frontier = new
        if seen == mask:
            blocks_by_low[low].append(mask)
    full = (1 << n) - 1
    memo = {0: True}

    def feas(m: int) -> bool:
        if m in memo:
            return memo[m]
        low = (m & -m).bit_length() - 1
        memo[m] = any(b & m == b and feas(m & ~b) for b in blocks_by_low[low])
        return memo[m]
    return feas(full)


@pytest.mark.parametrize("chunk", range(4))
def test_exhaustive_small_instances(chunk):
    agree = {"feasible": 0, "infeasible": 0}
    for seed in range(chunk * 60, (chunk + 1) * 60):
        community, atoms, barriers = _small_instance(seed)
        expected = _brute_force_feasible(atoms, barriers, 1000, 3000)
        try:
            props = propose_splits(community, atoms, barriers=barriers, seed=seed)
            found = True
        except InfeasibleError:
            found = False
        assert found == expected, f"seed {seed}: solver {'found' if found else 'did not find'} a split, " \
                                  f"brute force says {'feasible' if expected else 'infeasible'}"
        if found:
            assert not verify(community, atoms, props, floor=1000, ceiling=3000, barriers=barriers)
            agree["feasible"] += 1
        else:
            agree["infeasible"] += 1
    assert agree["feasible"] >= 5 and agree["infeasible"] >= 5, agree


# -- infeasibility in words a planner understands ----------------------------------------------------------

def _row(hh, *, names=None, indivisible=True):
    boxes = [shapely.box(i * 100, 0, (i + 1) * 100, 100) for i in range(len(hh))]
    names = names or [f"小区{i + 1}" for i in range(len(hh))]
    com = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 100 * len(hh), 100)], crs=CRS)
    cmp = gpd.GeoDataFrame({"code": [f"X{i}" for i in range(len(hh))], "name": names, "households": hh,
                            "indivisible": indivisible}, geometry=boxes, crs=CRS)
    return com, cmp


def test_indivisible_compound_over_ceiling():
    com, cmp = _row([3400, 1200, 900], names=["望京花园", "乙", "丙"])
    with pytest.raises(InfeasibleError) as ei:
        propose_splits(com, build_atoms(com, cmp))
    text = str(ei.value)
    assert "望京花园" in text and "3,400" in text and "alone holds" in text
    assert any("ceiling" in r for r in ei.value.relax)


def test_part_cut_off_by_river():
    com = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 300, 300)], crs=CRS)
    cmp = gpd.GeoDataFrame({"code": ["N", "S1", "S2"], "households": [600, 2000, 1900]},
                           geometry=[shapely.box(0, 220, 300, 300), shapely.box(0, 0, 150, 180),
                                     shapely.box(150, 0, 300, 180)], crs=CRS)
    river = gpd.GeoDataFrame({"kind": ["river"]}, geometry=[shapely.LineString([(-10, 200), (310, 200)])], crs=CRS)
    with pytest.raises(InfeasibleError) as ei:
        propose_splits(com, build_atoms(com, cmp, barriers=river), barriers=river)
    text = str(ei.value)
    assert "north part" in text and "600" in text and "北部" in text
    assert ei.value.relax


def test_total_below_twice_the_floor_and_no_k():
    com, cmp = _row([900, 700])
    with pytest.raises(InfeasibleError, match="fewer than twice the floor"):
        propose_splits(com, build_atoms(com, cmp))
    com, cmp = _row([1800, 1700, 1700])  # 5,200: 2 parts cannot hold it (> 2×2,500), 3 cannot reach 3×2,000
    with pytest.raises(InfeasibleError, match="cannot be split into parts"):
        propose_splits(com, build_atoms(com, cmp), floor=2000, ceiling=2500)


def test_exhaustively_proven_infeasible_combination():
    # 2900 | 1200 | 2900 in a row: the middle compound can join neither side (4,100 > 3,000) and alone
    # leaves the ends feasible... so use 2900 | 200 | 2900: 200 must join a side -> 3,100 > ceiling
    com, cmp = _row([2900, 200, 2900])
    with pytest.raises(InfeasibleError, match="exhaustive search"):
        propose_splits(com, build_atoms(com, cmp))


def test_bad_input_is_a_clear_error():
    com, cmp = _row([1500, 1500, 1500])
    atoms = build_atoms(com, cmp)
    bad = atoms.copy()
    bad.loc[bad.index[0], "households"] = -5
    with pytest.raises(ValidationError, match="negative"):
        propose_splits(com, bad)
    bad = atoms.copy()
    bad["households"] = bad["households"].astype(float)
    bad.loc[bad.index[1], "households"] = np.nan
    with pytest.raises(ValidationError, match="missing"):
        propose_splits(com, bad)
    cmp2 = cmp.copy()
    cmp2.loc[0, "households"] = None
    with pytest.raises(ValidationError, match="missing"):
        build_atoms(com, cmp2)
    with pytest.raises(ValidationError, match="floor must not be above the ceiling"):
        propose_splits(com, atoms, floor=3000, ceiling=1000)
    with pytest.raises(CRSError):
        propose_splits(com, atoms.to_crs(4326))
    with pytest.raises(ValidationError, match="do not tile"):
        propose_splits(gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 500, 100)], crs=CRS), atoms)


def test_disconnected_community_polygons():
    # two separate pieces: each must hold a valid number of households on its own
    com = gpd.GeoDataFrame(geometry=[shapely.MultiPolygon([shapely.box(0, 0, 100, 100),
                                                           shapely.box(500, 0, 600, 100)])], crs=CRS)
    cmp = gpd.GeoDataFrame({"code": ["W", "E"], "households": [2500, 400]},
                           geometry=[shapely.box(0, 0, 100, 100), shapely.box(500, 0, 600, 100)], crs=CRS)
    with pytest.raises(InfeasibleError, match="separate piece"):
        propose_splits(com, build_atoms(com, cmp))
    cmp["households"] = [2500, 1400]
    props = propose_splits(com, build_atoms(com, cmp))
    assert sorted(props[0].parts["households"]) == [1400, 2500]


def test_deterministic_for_a_seed():
    case = make_case(3)
    atoms = case_atoms(case)
    kw = dict(barriers=case["barriers"], roads=case["roads"], seed=7)
    a = propose_splits(case["community"], atoms, **kw)
    b = propose_splits(case["community"], atoms, **kw)
    assert [p.assignment.tolist() for p in a] == [p.assignment.tolist() for p in b]
    assert [p.score for p in a] == [p.score for p in b]


# -- determinism does not depend on the clock ----------------------------------------------------------------

def _slow_machine(monkeypatch, step_s: float) -> list[int]:
    """Make ``time.perf_counter`` advance ``step_s`` per call, as if every step took that long; returns a
    one-item list counting the calls."""
    import time

    calls = [0]
    start = time.perf_counter()

    def clock() -> float:
        calls[0] += 1
        return start + calls[0] * step_s
    monkeypatch.setattr(time, "perf_counter", clock)
    return calls


def _same(a, b) -> bool:
    return [p.assignment.tolist() for p in a] == [p.assignment.tolist() for p in b] and \
        [p.score for p in a] == [p.score for p in b]


def test_same_proposals_on_a_slow_machine(monkeypatch):
    # 50 ms per clock read: the old 12 s heuristic deadline (checked at every atom visited) passed after 240
    # reads, mid-search; the work budget does not care, and the safety net (120 s) is read only every few
    # thousand work units
    case = make_case(3)
    atoms = case_atoms(case)
    kw = dict(barriers=case["barriers"], roads=case["roads"], seed=7)
    ref = propose_splits(case["community"], atoms, **kw)
    calls = _slow_machine(monkeypatch, 0.05)
    slow = propose_splits(case["community"], atoms, **kw)
    monkeypatch.undo()
    assert _same(slow, ref), "the proposals changed with the speed of the clock"
    assert calls[0] * 0.05 < 120.0 / 4  # the simulated run stayed far inside the safety net
    for p in ref + slow:
        assert p.search["time_limit_hit"] is False and p.search["seed"] == 7
        assert 0 < p.search["work_used"] <= p.search["work_budget"]
    assert slow[0].search == ref[0].search


def test_the_work_budget_decides_where_the_search_stops(monkeypatch):
    from gridmap.planning.split import HEURISTIC_SHARE

    case = make_case(51)  # a heavy case: about 310,000 work units with the default budget
    atoms = case_atoms(case)
    kw = dict(barriers=case["barriers"], roads=case["roads"], seed=7, work_budget=50_000)
    ref = propose_splits(case["community"], atoms, **kw)
    assert ref[0].search["work_used"] >= HEURISTIC_SHARE * 50_000  # the budget, not the search, ended it
    full = propose_splits(case["community"], atoms, barriers=case["barriers"], roads=case["roads"], seed=7)
    assert not _same(ref, full)  # it genuinely stopped the search short
    _slow_machine(monkeypatch, 0.05)
    slow = propose_splits(case["community"], atoms, **kw)
    monkeypatch.undo()
    assert _same(slow, ref) and slow[0].search == ref[0].search


def test_time_limit_is_a_safety_net_that_is_logged_and_recorded(monkeypatch, caplog):
    import logging

    case = make_case(51)
    atoms = case_atoms(case)
    _slow_machine(monkeypatch, 1.0)  # one simulated second per clock read: the 30 s net is reached mid-search
    with caplog.at_level(logging.WARNING, logger="gridmap.planning.split"):
        props = propose_splits(case["community"], atoms, barriers=case["barriers"], roads=case["roads"], seed=7,
                               time_limit_s=30.0)
    monkeypatch.undo()
    assert props and all(p.search["time_limit_hit"] for p in props)
    assert all(p.search["work_used"] < p.search["work_budget"] for p in props)
    assert "time limit" in caplog.text and "may differ between runs" in caplog.text
    from gridmap.planning.report import markdown_report

    assert "stopped by the 30 s time limit" in markdown_report(props)


def test_alternatives_and_explanations():
    case = make_case(0)
    props = propose_splits(case["community"], case_atoms(case), barriers=case["barriers"], roads=case["roads"])
    assert len(props) == 3
    assert props[0].score <= props[1].score <= props[2].score
    assert "Rank 1" in props[0].explanation_en and "第 1/3 名" in props[0].explanation_zh
    assert "ranks lower" in props[1].explanation_en
    m = props[0].metrics
    for key in ("balance_cv", "compactness_mean", "along_roads_share", "outline_share", "new_boundary_m"):
        assert np.isfinite(m[key])
