"""Graph partitioning with a household floor AND ceiling: exact search, spanning-tree bisection, local search.

Private plumbing of :mod:`gridmap.planning.split`. Nodes are atoms ``0..n-1`` with integer weights
(households); parts must be connected in ``adj`` (barrier-respecting adjacency) and weigh within
``[floor, ceiling]``. Perimeters use all touching pairs (``nb``) so compactness is right even across barriers.

Every search is bounded by a :class:`Budget` of work units, never by the clock, so its result depends only on
the input and the seed; the clock is only a safety net (see :class:`Budget`).
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

Partition = tuple[frozenset, ...]


@dataclass
class Graph:
    w: list[int]
    area: list[float]
    perim: list[float]
    adj: list[list[int]]                      # adjacency (no barrier crossing)
    nb: list[dict[int, float]]                # all touching pairs: shared length
    off: list[dict[int, float]] = field(default_factory=list)   # shared length NOT along roads/barriers
    total_area: float = 0.0

    @property
    def n(self) -> int:
        return len(self.w)


@dataclass
class Weights:
    balance: float = 1.0
    compactness: float = 1.0
    off_road: float = 0.3


# -- work budget ---------------------------------------------------------------------------------------------

#: Work units between two looks at the clock (the safety net): clock reads stay rare and cheap.
CLOCK_EVERY = 8192


class Exhausted(Exception):
    """The work budget (or the wall-clock safety net) is spent."""


class Budget:
    """A deterministic work budget with a wall-clock safety net.

    Work is counted in units of roughly equal cost (1-2 µs each on a 2-core machine): one connected set visited
    by the exhaustive search (plus one per atom left when a part is taken), one atom of every spanning tree the
    bisection draws, one atom visited plus one per neighbour by the local search. A search stops when ``stop_at``
    units (``limit`` unless a phase lowers it) are spent, so where it stops depends only on the input and the
    seed, never on the machine's speed or load.

    ``deadline`` (a ``time.perf_counter()`` value) is a safety net only: the clock is read every
    :data:`CLOCK_EVERY` units, and when it is past the deadline the search stops and ``time_limit_hit`` is set:
    such a result may differ between runs and machines (the caller says so).

    >>> b = Budget(3)
    >>> b.spend(2), b.spend(1), b.exhausted, b.used
    (True, False, True, 3)
    """

    def __init__(self, limit: int, *, deadline: float | None = None) -> None:
        self.limit = int(limit)
        self.stop_at = self.limit
        self.deadline = deadline
        self.used = 0
        self.time_limit_hit = False
        self._clock_at = CLOCK_EVERY

    @property
    def exhausted(self) -> bool:
        return self.time_limit_hit or self.used >= self.stop_at

    def spend(self, units: int = 1) -> bool:
        """Charge ``units``; False once the budget (or the safety net) is spent."""
        self.used += units
        if self.used >= self._clock_at:
            self._clock_at = self.used + CLOCK_EVERY
            if self.deadline is not None and not self.time_limit_hit and time.perf_counter() > self.deadline:
                self.time_limit_hit = True
        return not self.exhausted


# -- basic graph helpers ------------------------------------------------------------------------------------

def components(g: Graph, nodes: Sequence[int] | None = None) -> list[list[int]]:
    todo = set(range(g.n)) if nodes is None else set(nodes)
    out = []
    for s in sorted(todo):
        if s not in todo:
            continue
        comp, dq = [s], deque([s])
        todo.discard(s)
        while dq:
            v = dq.popleft()
            for u in g.adj[v]:
                if u in todo:
                    todo.discard(u)
                    comp.append(u)
                    dq.append(u)
        out.append(sorted(comp))
    return out


def splittable(weight: int, floor: int, ceiling: int) -> bool:
    """Is there a k >= 1 with k*floor <= weight <= k*ceiling (ignoring shapes)?"""
    if weight < floor:
        return False
    return math.ceil(weight / ceiling) <= weight // floor


def connected(g: Graph, nodes: set[int]) -> bool:
    if not nodes:
        return False
    s = next(iter(nodes))
    seen, dq = {s}, deque([s])
    while dq:
        v = dq.popleft()
        for u in g.adj[v]:
            if u in nodes and u not in seen:
                seen.add(u)
                dq.append(u)
    return len(seen) == len(nodes)


# -- evaluation ---------------------------------------------------------------------------------------------

def part_stats(g: Graph, part: frozenset | set) -> tuple[int, float, float, float]:
    """(households, area, perimeter, off-road internal length) of a part."""
    w = sum(g.w[v] for v in part)
    a = sum(g.area[v] for v in part)
    p = sum(g.perim[v] for v in part)
    for v in part:
        for u, s in g.nb[v].items():
            if u in part:
                p -= s  # each internal pair counted twice -> subtract s twice in total
    return w, a, p, 0.0


def score(g: Graph, parts: Sequence[frozenset], wts: Weights) -> float:
    ws, pps = [], []
    label = {}
    for k, part in enumerate(parts):
        w, a, p, _ = part_stats(g, part)
        ws.append(w)
        pps.append(4 * math.pi * a / (p * p) if p > 0 else 0.0)
        for v in part:
            label[v] = k
    off = 0.0
    for v, lv in label.items():
        for u, s in g.off[v].items():
            if u > v and label.get(u, lv) != lv:
                off += s
    return _objective(ws, pps, off, g.total_area, wts)


def _objective(ws: Sequence[float], pps: Sequence[float], off: float, total_area: float, wts: Weights) -> float:
    m = sum(ws) / len(ws)
    cv = math.sqrt(sum((x - m) ** 2 for x in ws) / len(ws)) / m if m > 0 else 0.0
    return (wts.balance * cv + wts.compactness * (1 - sum(pps) / len(pps))
            + wts.off_road * off / math.sqrt(max(total_area, 1.0)))


# -- exact search -------------------------------------------------------------------------------------------

def _rest_ok(g: Graph, rest: set[int], floor: int, ceiling: int) -> bool:
    for comp in components(g, rest):
        if not splittable(sum(g.w[v] for v in comp), floor, ceiling):
            return False
    return True


def connected_sets(g: Graph, v: int, allowed: set[int], floor: int, ceiling: int,
                   budget: Budget) -> Iterator[frozenset]:
    """Every connected set containing ``v`` inside ``allowed`` weighing within [floor, ceiling], once each.

    Raises :class:`Exhausted` when ``budget`` is spent (one unit per set visited).
    """
    def rec(cur: frozenset, w: int, ext: list[int], banned: frozenset) -> Iterator[frozenset]:
        if not budget.spend():
            raise Exhausted
        if w >= floor:
            yield cur
        extset = set(ext)
        for idx, u in enumerate(ext):
            if w + g.w[u] <= ceiling:
                nxt = cur | {u}
                new = [x for x in g.adj[u] if x in allowed and x not in nxt and x not in banned and x not in extset]
                new = sorted(set(new))
                yield from rec(nxt, w + g.w[u], ext[idx + 1:] + new, banned | frozenset(ext[:idx]))
    start = sorted(x for x in g.adj[v] if x in allowed)
    if g.w[v] <= ceiling:
        yield from rec(frozenset([v]), g.w[v], start, frozenset())


def exact_partitions(g: Graph, nodes: Sequence[int], floor: int, ceiling: int, *, budget: Budget,
                     limit: int = 20000) -> tuple[list[Partition], bool]:
    """All partitions of ``nodes`` into valid connected parts (up to ``limit``); (partitions, complete?).

    Incomplete when ``limit`` partitions were found or ``budget`` was spent first.
    """
    order = {v: i for i, v in enumerate(_bfs_order(g, nodes))}
    out: list[Partition] = []

    def rec(rest: frozenset, acc: tuple) -> None:
        if not rest:
            out.append(acc)
            if len(out) >= limit:
                raise Exhausted
            return
        v = min(rest, key=order.__getitem__)
        for part in connected_sets(g, v, set(rest), floor, ceiling, budget):
            r = rest - part
            if not budget.spend(len(r)):
                raise Exhausted
            if r and not _rest_ok(g, set(r), floor, ceiling):
                continue
            rec(r, acc + (part,))

    try:
        if _rest_ok(g, set(nodes), floor, ceiling):
            rec(frozenset(nodes), ())
        return out, True
    except Exhausted:
        return out, False


def _bfs_order(g: Graph, nodes: Sequence[int]) -> list[int]:
    nodes_set = set(nodes)
    # start from the node farthest (in hops) from an arbitrary node: parts grow from one edge inward
    def bfs(s: int) -> list[int]:
        seen, dq, order = {s}, deque([s]), []
        while dq:
            v = dq.popleft()
            order.append(v)
            for u in sorted(g.adj[v]):
                if u in nodes_set and u not in seen:
                    seen.add(u)
                    dq.append(u)
        return order
    first = bfs(min(nodes_set))
    return bfs(first[-1]) + [v for v in sorted(nodes_set) if v not in set(first)]


# -- spanning-tree bisection ----------------------------------------------------------------------------------

def _random_tree(g: Graph, nodes: list[int], rng: random.Random) -> dict[int, list[int]]:
    ns = set(nodes)
    edges = [(rng.random(), v, u) for v in nodes for u in g.adj[v] if u > v and u in ns]
    edges.sort()
    parent = {v: v for v in nodes}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    tree: dict[int, list[int]] = {v: [] for v in nodes}
    for _, v, u in edges:
        a, b = find(v), find(u)
        if a != b:
            parent[a] = b
            tree[v].append(u)
            tree[u].append(v)
    return tree


def bisect(g: Graph, nodes: list[int], k: int, floor: int, ceiling: int, rng: random.Random, *,
           tries: int = 6, budget: list[int] | None = None, work: Budget | None = None) -> list[frozenset] | None:
    """Split connected ``nodes`` into ``k`` valid parts by recursive spanning-tree cuts (None if it fails).

    ``budget`` (a one-item list) caps the number of spanning trees drawn over the whole recursion; ``work`` is
    charged one unit per atom of every tree drawn (None once it is spent).
    """
    if budget is None:
        budget = [max(60, 8 * k * k)]
    total = sum(g.w[v] for v in nodes)
    if k == 1:
        return [frozenset(nodes)] if floor <= total <= ceiling else None
    if not (k * floor <= total <= k * ceiling):
        return None
    for _ in range(tries):
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        if work is not None and not work.spend(len(nodes)):
            return None
        tree = _random_tree(g, nodes, rng)
        root = nodes[rng.randrange(len(nodes))]
        order, par = [root], {root: -1}
        i = 0
        while i < len(order):
            v = order[i]
            i += 1
            for u in tree[v]:
                if u != par[v]:
                    par[u] = v
                    order.append(u)
        if len(order) != len(nodes):
            return None  # not connected
        sub = {v: g.w[v] for v in nodes}
        for v in reversed(order[1:]):
            sub[par[v]] += sub[v]
        cands = []
        for v in order[1:]:
            w1 = sub[v]
            for k1 in range(1, k):
                if k1 * floor <= w1 <= k1 * ceiling and (k - k1) * floor <= total - w1 <= (k - k1) * ceiling:
                    target = total * k1 / k
                    cands.append((abs(w1 - target) / max(total, 1) + rng.random() * 0.02, v, k1))
        if not cands:
            continue
        cands.sort()
        for _, v, k1 in cands[:3]:
            # subtree of v
            side, dq = {v}, deque([v])
            while dq:
                x = dq.popleft()
                for u in tree[x]:
                    if u != par[x] and u not in side:
                        side.add(u)
                        dq.append(u)
            a = bisect(g, sorted(side), k1, floor, ceiling, rng, tries=3, budget=budget, work=work)
            if a is None:
                continue
            b = bisect(g, sorted(set(nodes) - side), k - k1, floor, ceiling, rng, tries=3, budget=budget,
                       work=work)
            if b is None:
                continue
            return a + b
    return None


# -- local search -------------------------------------------------------------------------------------------

def improve(g: Graph, parts: Sequence[frozenset], floor: int, ceiling: int, wts: Weights, rng: random.Random,
            *, max_passes: int = 25, work: Budget | None = None) -> list[frozenset]:
    """Move boundary atoms between parts while every part stays connected and within bounds.

    At most ``max_passes`` passes over the atoms; ``work`` is charged one unit per atom visited plus one per
    neighbour, and the atoms of the part checked for connectivity (stops where it is when ``work`` is spent).
    """
    members = [set(p) for p in parts]
    label = {v: k for k, p in enumerate(members) for v in p}
    W = [sum(g.w[v] for v in p) for p in members]
    A = [sum(g.area[v] for v in p) for p in members]
    P = [part_stats(g, p)[2] for p in members]
    off = 0.0
    for v, lv in label.items():
        for u, s in g.off[v].items():
            if u > v and label.get(u, lv) != lv:
                off += s
    pp = [4 * math.pi * a / (p * p) if p > 0 else 0.0 for a, p in zip(A, P)]
    cur = _objective(W, pp, off, g.total_area, wts)
    nodes = sorted(label)
    for _ in range(max_passes):
        improved = False
        rng.shuffle(nodes)
        for v in nodes:
            if work is not None and not work.spend(1 + len(g.adj[v])):
                return [frozenset(p) for p in members]
            p = label[v]
            targets = sorted({label[u] for u in g.adj[v] if u in label and label[u] != p})
            if not targets or len(members[p]) == 1 or W[p] - g.w[v] < floor:
                continue
            best = None
            sh_p = sum(s for u, s in g.nb[v].items() if label.get(u) == p)
            off_p = sum(s for u, s in g.off[v].items() if label.get(u) == p)
            for q in targets:
                if W[q] + g.w[v] > ceiling:
                    continue
                sh_q = sum(s for u, s in g.nb[v].items() if label.get(u) == q)
                off_q = sum(s for u, s in g.off[v].items() if label.get(u) == q)
                nP_p = P[p] - g.perim[v] + 2 * sh_p
                nP_q = P[q] + g.perim[v] - 2 * sh_q
                W2, pp2 = list(W), list(pp)
                W2[p] -= g.w[v]
                W2[q] += g.w[v]
                pp2[p] = 4 * math.pi * (A[p] - g.area[v]) / (nP_p * nP_p) if nP_p > 0 else 0.0
                pp2[q] = 4 * math.pi * (A[q] + g.area[v]) / (nP_q * nP_q) if nP_q > 0 else 0.0
                val = _objective(W2, pp2, off + off_p - off_q, g.total_area, wts)
                if val < cur - 1e-9 and (best is None or val < best[0]):
                    best = (val, q, nP_p, nP_q, pp2, off + off_p - off_q)
            if best is None:
                continue
            rest = members[p] - {v}
            if work is not None:
                work.spend(len(rest))
            if not connected(g, rest):
                continue
            val, q, nP_p, nP_q, pp2, off = best
            members[p].discard(v)
            members[q].add(v)
            label[v] = q
            W[p] -= g.w[v]
            W[q] += g.w[v]
            A[p] -= g.area[v]
            A[q] += g.area[v]
            P[p], P[q], pp, cur = nP_p, nP_q, pp2, val
            improved = True
        if not improved:
            break
    return [frozenset(p) for p in members]


def canonical(parts: Sequence[frozenset]) -> Partition:
    return tuple(sorted((frozenset(p) for p in parts), key=lambda s: min(s)))


def valid(g: Graph, parts: Sequence[frozenset], nodes: Sequence[int], floor: int, ceiling: int) -> bool:
    seen: set[int] = set()
    for p in parts:
        if seen & p:
            return False
        seen |= p
        if not floor <= sum(g.w[v] for v in p) <= ceiling or not connected(g, set(p)):
            return False
    return seen == set(nodes)


def heuristic_partitions(g: Graph, nodes: list[int], ks: Sequence[int], floor: int, ceiling: int, wts: Weights,
                         rng: random.Random, *, per_k: int, work: Budget,
                         max_tries: int = 40) -> list[Partition]:
    """Distinct valid partitions from tree bisection + local search, for each k in ``ks``.

    Up to ``max_tries`` bisections per k, stopping at ``per_k`` distinct partitions or when ``work`` is spent.
    """
    found: dict[Partition, float] = {}
    for k in ks:
        got = 0
        for _ in range(max_tries):
            if work.exhausted or got >= per_k:
                break
            parts = bisect(g, nodes, k, floor, ceiling, rng, work=work)
            if parts is None:
                continue
            parts = improve(g, parts, floor, ceiling, wts, rng, work=work)
            c = canonical(parts)
            if c not in found and valid(g, c, nodes, floor, ceiling):
                found[c] = score(g, c, wts)
                got += 1
    return list(found)
