"""Places of the 示范区: district outline, road network, blocks, streets, communities, compounds.

The district is a lattice of *superblocks* between slightly bent main roads (one of the east-west main lines is a
river, one north-south line a railway). Superblocks are cut by secondary and branch roads into *blocks* with
``shapely.polygonize``, so blocks tile the district exactly and share their edges. Streets are unions of whole
superblocks, communities unions of whole blocks of one street (so community boundaries follow roads), compounds
sit inside blocks, set back from the road surfaces. Old-town superblocks get hutongs and many small ``building``
atoms instead of compounds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, Polygon

from gridmap.demo import _names
from gridmap.demo.geometry import (_adjacency, _boundary, _cell_index, _grid_dims, _merge_slivers, _partition,
                                   _polyline, _snake_order, _to_multi)

__all__ = ["Layout", "build_layout", "ROAD_WIDTH_M", "HOUSEHOLD_SIZE"]

log = logging.getLogger(__name__)

CRS = "EPSG:4548"
CENTRE_XY = (452_000.0, 4_418_000.0)
SUPERBLOCK_W_M = 1000.0
SUPERBLOCK_H_M = 1200.0
HOUSEHOLD_SIZE = 2.31
#: Typical carriageway widths in metres by road kind.
ROAD_WIDTH_M = {"main": 40.0, "secondary": 24.0, "branch": 14.0, "hutong": 6.0, "river": 30.0, "rail": 25.0}


@dataclass
class Layout:
    """Intermediate result: every place layer plus the block table the other generators draw on."""

    districts: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    blocks: gpd.GeoDataFrame          # block polygons with street_code, community_code, old_town, residential
    infeasible_community: str         # code of the community whose split is infeasible (one compound > 3,000)
    oversized_single_block: str | None


def _households(n: int, rng: np.random.Generator) -> np.ndarray:
    """Heavy-tailed community household counts: mean 1,500, ~19 % over 3,000, >= 3 over 5,000."""
    n_super = max(3, int(round(0.025 * n)))
    n_tail = max(n_super + 2, int(round(0.19 * n)))
    n_mid = n_tail - n_super
    sup = rng.uniform(5_150, 7_400, n_super)
    mid = 3_050 + 1_900 * rng.beta(1.0, 3.0, n_mid)
    n_body = n - n_tail
    body_mean = max(500.0, (1_500.0 * n - sup.sum() - mid.sum()) / max(n_body, 1))
    body = rng.lognormal(0.0, 0.5, n_body)
    for _ in range(20):
        body = np.clip(body * body_mean / body.mean(), 180, 2_950)
    hh = np.round(np.concatenate([sup, mid, body])).astype(int)
    return hh[rng.permutation(n)]


def _split_integer(total: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder split of ``total`` proportional to ``weights`` (sums exactly to ``total``)."""
    w = np.asarray(weights, dtype=float)
    raw = total * w / w.sum()
    out = np.floor(raw).astype(int)
    rest = total - out.sum()
    out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return out


def _main_roads(nx: int, ny: int, x0: float, y0: float, w: float, h: float, rng: np.random.Generator
                ) -> tuple[list[dict], list[LineString], list[LineString], int]:
    """The main roads between the superblocks (one north-south line a railway, one east-west line the river):
    their rows, the north-south and east-west lines, and the river's row index."""
    road_rows: list[dict] = []
    v_lines, h_lines = [], []
    rail_i = nx - 2 if nx >= 5 else None
    river_j = ny // 2
    for i in range(1, nx):
        base = x0 + i * SUPERBLOCK_W_M + rng.uniform(-90, 90)
        kind = "rail" if i == rail_i else "main"
        jit = np.cumsum(rng.normal(0, 18, 64)) if kind == "main" else np.linspace(0, rng.uniform(-60, 60), 64)
        line = _polyline(y0 - 300, y0 + h + 300, 600.0 if kind == "main" else 300.0, base, jit, vertical=True)
        v_lines.append(line)
        road_rows.append({"kind": kind, "geometry": line})
    for j in range(1, ny):
        base = y0 + j * SUPERBLOCK_H_M + rng.uniform(-90, 90)
        if j == river_j:
            t = np.arange(0, 64)
            jit = 55 * np.sin(t * 0.9 + rng.uniform(0, 6)) + 25 * np.sin(t * 0.37)
            line = _polyline(x0 - 300, x0 + w + 300, 200.0, base, jit, vertical=False)
            kind = "river"
        else:
            line = _polyline(x0 - 300, x0 + w + 300, 700.0, base, np.cumsum(rng.normal(0, 18, 64)), vertical=False)
            kind = "main"
        h_lines.append(line)
        road_rows.append({"kind": kind, "geometry": line})
    return road_rows, v_lines, h_lines, river_j


def _superblocks(district: Polygon, road_rows: list[dict], v_lines: list[LineString], h_lines: list[LineString]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The superblocks the main roads cut the district into, with their lattice column and row."""
    ring = district.exterior
    main_geoms = [shapely.intersection(r["geometry"], district) for r in road_rows]
    superblocks = np.asarray(list(shapely.polygonize(
        list(shapely.unary_union(main_geoms + [ring]).geoms)).geoms), dtype=object)
    rp = shapely.get_coordinates(shapely.point_on_surface(superblocks))
    sb_col = _cell_index(rp[:, 0], rp[:, 1], v_lines, vertical=True)
    sb_row = _cell_index(rp[:, 0], rp[:, 1], h_lines, vertical=False)
    return superblocks, sb_col, sb_row


def _side_roads(superblocks: np.ndarray, sb_col: np.ndarray, sb_row: np.ndarray, old_cols: set[int],
                old_rows: set[int], rng: np.random.Generator) -> list[dict]:
    """Secondary and branch roads per superblock (old-town superblocks get one secondary road fewer and no
    branch road)."""
    road_rows: list[dict] = []
    for k, sb in enumerate(superblocks):
        bx0, by0, bx1, by1 = sb.bounds
        old = sb_col[k] in old_cols and sb_row[k] in old_rows
        pad = sb.buffer(2.0)
        fx = [0.5] if old else [1 / 3, 2 / 3]
        fy = [1 / 3, 2 / 3]
        for f in fx:
            xx = bx0 + (bx1 - bx0) * (f + rng.uniform(-0.05, 0.05))
            ln = LineString([(xx + rng.uniform(-25, 25), by0 - 50), (xx + rng.uniform(-25, 25), by1 + 50)])
            road_rows.append({"kind": "secondary", "geometry": shapely.intersection(ln, pad)})
        for f in fy:
            yy = by0 + (by1 - by0) * (f + rng.uniform(-0.05, 0.05))
            ln = LineString([(bx0 - 50, yy + rng.uniform(-25, 25)), (bx1 + 50, yy + rng.uniform(-25, 25))])
            road_rows.append({"kind": "secondary", "geometry": shapely.intersection(ln, pad)})
        if not old:
            strip = int(rng.integers(0, 3))
            yy = by0 + (by1 - by0) * (strip + 0.5) / 3 + rng.uniform(-20, 20)
            ln = LineString([(bx0 - 50, yy), (bx1 + 50, yy + rng.uniform(-15, 15))])
            road_rows.append({"kind": "branch", "geometry": shapely.intersection(ln, pad)})
    return road_rows


def _blocks(district: Polygon, road_rows: list[dict], v_lines: list[LineString], h_lines: list[LineString]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The blocks every road cuts the district into (slivers merged), west to east and north to south, with
    their superblock column and row."""
    ring = district.exterior
    cut_lines = [shapely.intersection(r["geometry"], district.buffer(5.0)) for r in road_rows]
    blocks_arr = np.asarray(list(shapely.polygonize(
        list(shapely.unary_union(cut_lines + [ring]).geoms)).geoms), dtype=object)
    rp = shapely.get_coordinates(shapely.point_on_surface(blocks_arr))
    inside = shapely.contains_xy(district, rp[:, 0], rp[:, 1])
    blocks_arr, rp = blocks_arr[inside], rp[inside]
    # stable west-east / north-south order
    order = np.lexsort((rp[:, 0], -np.round(rp[:, 1], -2)))
    blocks_arr, rp = blocks_arr[order], rp[order]
    b_col = _cell_index(rp[:, 0], rp[:, 1], v_lines, vertical=True)
    b_row = _cell_index(rp[:, 0], rp[:, 1], h_lines, vertical=False)
    blocks_arr, keep = _merge_slivers(blocks_arr, b_col * 1000 + b_row, min_area_m2=30_000.0)
    rp, b_col, b_row = rp[keep], b_col[keep], b_row[keep]
    return blocks_arr, b_col, b_row


def _block_streets(n_streets: int, nx: int, ny: int, b_col: np.ndarray, b_row: np.ndarray) -> np.ndarray:
    """The street of every block: streets are runs of superblocks along a snake through the lattice."""
    sizes = [2] * n_streets
    sizes[min(3, n_streets - 2)] = 1                  # deliberately under 2 km^2
    sizes[-1] += nx * ny - sum(sizes)                 # the last street absorbs the rest
    snake = _snake_order(nx, ny)
    sb_street: dict[tuple[int, int], int] = {}
    pos = 0
    for s, size in enumerate(sizes):
        for cell in snake[pos: pos + size]:
            sb_street[cell] = s
        pos += size
    b_street = np.array([sb_street[(c, r)] for c, r in zip(b_col, b_row)])
    return b_street


def _communities(blocks_arr: np.ndarray, b_street: np.ndarray, n_streets: int, communities_per_street: float,
                 cxy: np.ndarray, b_area: np.ndarray, nbrs: list[set[int]], rng: np.random.Generator
                 ) -> tuple[np.ndarray, list[int], list[int]]:
    """The community of every block (connected groups of similar area inside each street), and each
    community's street and number in it."""
    n_blocks_street = np.bincount(b_street, minlength=n_streets)
    total_comm = int(round(communities_per_street * n_streets))
    k_street = np.maximum(2, np.round(total_comm * n_blocks_street / n_blocks_street.sum()
                                      * rng.uniform(0.85, 1.15, n_streets))).astype(int)
    k_street = np.minimum(k_street, n_blocks_street)
    b_comm = np.full(len(blocks_arr), -1)
    comm_street, comm_local = [], []
    for s in range(n_streets):
        members = np.flatnonzero(b_street == s)
        lab = _partition(list(members), int(k_street[s]), cxy[:, 0], cxy[:, 1], b_area, nbrs)
        # renumber groups west->east, north->south by their first block (blocks are already in that order)
        first = {}
        for blk, g in zip(members, lab):
            first.setdefault(int(g), int(blk))
        ranked = sorted(first, key=lambda g: first[g])
        remap = {g: len(comm_street) + r for r, g in enumerate(ranked)}
        for blk, g in zip(members, lab):
            b_comm[blk] = remap[int(g)]
        for r, g in enumerate(ranked):
            comm_street.append(s)
            comm_local.append(r + 1)
    return b_comm, comm_street, comm_local


def _residential(blocks_arr: np.ndarray, b_comm: np.ndarray, n_comm: int, b_old: np.ndarray, rng: np.random.Generator
                 ) -> np.ndarray:
    """Which blocks are residential: ~12 % of modern blocks are parks, offices, schools (never a community's
    last one)."""
    b_res = np.ones(len(blocks_arr), dtype=bool)
    for c in range(n_comm):
        members = np.flatnonzero(b_comm == c)
        if len(members) > 1:
            drop = members[(rng.random(len(members)) < 0.12) & ~b_old[members]]
            if len(drop) >= len(members):
                drop = drop[1:]
            b_res[drop] = False
    return b_res


def _compounds(roads: gpd.GeoDataFrame, blocks_arr: np.ndarray, b_res: np.ndarray, b_old: np.ndarray, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray, list[str], list[dict]]:
    """Compounds (modern blocks) and building atoms (old town) inside the residential blocks, set back from the
    road surfaces, with their block and kind; and the hutongs between the old-town atoms."""
    road_buf = shapely.unary_union(shapely.buffer(
        roads.geometry.values[roads.kind.values != "hutong"],
        roads.kind.map(ROAD_WIDTH_M).values[roads.kind.values != "hutong"] / 2 + 4.0, cap_style="flat"))
    hutong_rows: list[dict] = []
    cmp_geom, cmp_block, cmp_kind = [], [], []
    for bi in np.flatnonzero(b_res):
        inner = shapely.difference(blocks_arr[bi], road_buf).buffer(-1.0)
        if inner.is_empty:
            continue
        ix0, iy0, ix1, iy1 = inner.bounds
        if b_old[bi]:
            cw, ch, gap, kind, min_a = 36.0, 26.0, 4.0, "building", 250.0
        else:
            cw, ch, gap, kind, min_a = rng.uniform(110, 190), rng.uniform(110, 170), 8.0, "compound", 2500.0
        nxx = max(1, int((ix1 - ix0) // cw))
        nyy = max(1, int((iy1 - iy0) // ch))
        xs = np.linspace(ix0, ix1, nxx + 1)
        ys = np.linspace(iy0, iy1, nyy + 1)
        gx0, gy0 = np.meshgrid(xs[:-1], ys[:-1])
        gx1, gy1 = np.meshgrid(xs[1:], ys[1:])
        boxes = shapely.box(gx0.ravel() + gap / 2, gy0.ravel() + gap / 2, gx1.ravel() - gap / 2,
                            gy1.ravel() - gap / 2)
        parts = shapely.intersection(boxes, inner)
        for p in parts:
            if p.is_empty:
                continue
            if p.geom_type != "Polygon":
                polys = [g for g in getattr(p, "geoms", []) if g.geom_type == "Polygon"]
                if not polys:
                    continue
                p = max(polys, key=lambda g: g.area)
            if p.area >= min_a:
                cmp_geom.append(p)
                cmp_block.append(bi)
                cmp_kind.append(kind)
        if b_old[bi]:
            # hutongs run east-west along every second row gap of the atoms
            for r in range(2, nyy, 2):
                ln = shapely.intersection(LineString([(ix0 - 30, ys[r]), (ix1 + 30, ys[r])]), blocks_arr[bi])
                if not ln.is_empty and ln.length > 60:
                    hutong_rows.append({"kind": "hutong", "geometry": ln})
    cmp_geom_a = np.asarray(cmp_geom, dtype=object)
    cmp_block_a = np.asarray(cmp_block)
    return cmp_geom_a, cmp_block_a, cmp_kind, hutong_rows


def _compound_households(n_comm: int, cmp_comm: np.ndarray, cmp_kind: list[str], cmp_geom_a: np.ndarray,
                         rng: np.random.Generator) -> tuple[np.ndarray, int | None]:
    """Households per compound, and the community made infeasible to split (one compound over 3,000)."""
    hh_comm = _households(n_comm, rng)
    n_cmp_comm = np.bincount(cmp_comm, minlength=n_comm)
    # super-large communities go where they have room to be split; the infeasible one needs a modern compound
    modern_comm = np.array([(np.asarray(cmp_kind)[cmp_comm == c] == "compound").any() for c in range(n_comm)])
    big = np.flatnonzero(hh_comm > 5000)
    infeasible = None
    cands = np.flatnonzero(modern_comm & (n_cmp_comm >= 3))
    if len(big) and len(cands):
        c_inf = int(cands[np.argmax(n_cmp_comm[cands])] if len(cands) else cands[0])
        # swap the largest household count into that community
        top = int(big[np.argmax(hh_comm[big])])
        hh_comm[[top, c_inf]] = hh_comm[[c_inf, top]]
        infeasible = c_inf
    cmp_hh = np.zeros(len(cmp_geom_a), dtype=int)
    cmp_kind_a = np.asarray(cmp_kind, dtype=object)
    for c in range(n_comm):
        idx = np.flatnonzero(cmp_comm == c)
        if len(idx) == 0:
            continue
        wts = shapely.area(cmp_geom_a[idx]) * rng.uniform(0.5, 1.5, len(idx))
        if c == infeasible:
            big_one = idx[np.argmax(shapely.area(cmp_geom_a[idx]) * (cmp_kind_a[idx] == "compound"))]
            rest = idx[idx != big_one]
            mega = int(min(hh_comm[c] - len(rest), max(3_300, round(0.6 * hh_comm[c]))))
            cmp_hh[big_one] = mega
            cmp_hh[rest] = _split_integer(int(hh_comm[c]) - mega, wts[idx != big_one])
        else:
            cmp_hh[idx] = _split_integer(int(hh_comm[c]), wts)
    return cmp_hh, infeasible


def _compound_names(cmp_comm: np.ndarray, cmp_kind: list[str], comm_codes: list[str], comm_names: list[str],
                    n_comm: int, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Compound codes (community code + 4 digits) and names, unique inside the district."""
    cmp_code, cmp_name = [], []
    seq = np.zeros(n_comm, dtype=int)
    hutong_no = np.zeros(n_comm, dtype=int)
    for i, c in enumerate(cmp_comm):
        seq[c] += 1
        cmp_code.append(f"{comm_codes[c]}{seq[c]:04d}")
        if cmp_kind[i] == "compound":
            stem = _names.COMPOUND_STEMS[int(rng.integers(len(_names.COMPOUND_STEMS)))]
            suf = _names.COMPOUND_SUFFIX_MODERN[int(rng.integers(len(_names.COMPOUND_SUFFIX_MODERN)))]
            cmp_name.append(f"{stem}{suf}")
        else:
            hutong_no[c] += 1
            cmp_name.append(f"{comm_names[c].removesuffix('社区')}{hutong_no[c]}号院")
    # avoid duplicate compound names inside the district
    seen: dict[str, int] = {}
    for i, nm in enumerate(cmp_name):
        if nm in seen:
            seen[nm] += 1
            cmp_name[i] = f"{nm}{'一二三四五六七八九'[min(seen[nm] - 2, 8)]}区" if seen[nm] <= 10 else f"{nm}{seen[nm]}"
        else:
            seen[nm] = 1
    return cmp_code, cmp_name


def _named_roads(roads: gpd.GeoDataFrame, hutong_rows: list[dict]) -> gpd.GeoDataFrame:
    """The road layer: main and side roads plus the hutongs, with names, codes and widths."""
    if hutong_rows:
        roads = pd.concat([roads, gpd.GeoDataFrame(hutong_rows, geometry="geometry", crs=CRS)],
                          ignore_index=True)
    names, counters = [], {}
    for kind in roads.kind:
        counters[kind] = counters.get(kind, -1) + 1
        if kind == "river":
            names.append("示范河")
        elif kind == "rail":
            names.append("示范铁路联络线")
        else:
            names.append(_names.road_name(kind, counters[kind]))
    roads["name"] = names
    hut = np.flatnonzero(roads.kind.values == "hutong")
    if len(hut):
        # the hot-spot hutong: the longest hutong nearest the old-town centre
        lens = shapely.length(roads.geometry.values[hut])
        roads.loc[hut[int(np.argmax(lens))], "name"] = _names.HOTSPOT_HUTONG
    roads["width_m"] = roads.kind.map(ROAD_WIDTH_M).astype(float)
    roads["code"] = [f"{_names.DISTRICT_CODE}R{i + 1:05d}" for i in range(len(roads))]
    roads = gpd.GeoDataFrame(roads[["code", "name", "kind", "width_m"]],
                             geometry=_to_multi(roads.geometry.values), crs=CRS)
    return roads


def build_layout(*, n_streets: int, communities_per_street: float, rng: np.random.Generator) -> Layout:
    """Build every place layer for ``n_streets`` streets (17 at full scale)."""
    nx, ny = _grid_dims(n_streets)
    w, h = nx * SUPERBLOCK_W_M, ny * SUPERBLOCK_H_M
    x0, y0 = CENTRE_XY[0] - w / 2, CENTRE_XY[1] - h / 2
    district = _boundary(x0, y0, w, h, rng)

    road_rows, v_lines, h_lines, river_j = _main_roads(nx, ny, x0, y0, w, h, rng)
    superblocks, sb_col, sb_row = _superblocks(district, road_rows, v_lines, h_lines)
    # old town: a western band of superblocks north of the river
    old_cols = set(range(0, max(1, int(round(nx * 0.4)))))
    old_rows = set(range(river_j, ny))
    road_rows += _side_roads(superblocks, sb_col, sb_row, old_cols, old_rows, rng)
    roads = gpd.GeoDataFrame(road_rows, geometry="geometry", crs=CRS)
    roads["geometry"] = shapely.line_merge(shapely.intersection(roads.geometry.values, district))
    roads = roads[~roads.geometry.is_empty].reset_index(drop=True)
    blocks_arr, b_col, b_row = _blocks(district, road_rows, v_lines, h_lines)
    b_old = np.array([c in old_cols and r in old_rows for c, r in zip(b_col, b_row)])
    b_area = shapely.area(blocks_arr)
    cxy = shapely.get_coordinates(shapely.centroid(blocks_arr))
    b_street = _block_streets(n_streets, nx, ny, b_col, b_row)
    nbrs = _adjacency(blocks_arr)

    street_names = _names.street_names(n_streets)
    street_codes = [f"{_names.DISTRICT_CODE}{s + 1:03d}" for s in range(n_streets)]

    b_comm, comm_street, comm_local = _communities(blocks_arr, b_street, n_streets, communities_per_street, cxy,
                                                   b_area, nbrs, rng)
    n_comm = len(comm_street)
    comm_codes = [f"{street_codes[s]}{loc:03d}" for s, loc in zip(comm_street, comm_local)]
    comm_names = _names.community_names(n_comm, rng)

    b_res = _residential(blocks_arr, b_comm, n_comm, b_old, rng)
    cmp_geom_a, cmp_block_a, cmp_kind, hutong_rows = _compounds(roads, blocks_arr, b_res, b_old, rng)
    cmp_comm = b_comm[cmp_block_a]
    cmp_hh, infeasible = _compound_households(n_comm, cmp_comm, cmp_kind, cmp_geom_a, rng)
    # communities without any compound (should not happen) keep zero households
    hh_comm = np.bincount(cmp_comm, weights=cmp_hh, minlength=n_comm).astype(int)
    cmp_pop = np.round(cmp_hh * HOUSEHOLD_SIZE).astype(int)
    pop_comm = np.bincount(cmp_comm, weights=cmp_pop, minlength=n_comm).astype(int)

    # --- frames ---------------------------------------------------------------------------------------
    comm_geom = [shapely.unary_union(blocks_arr[b_comm == c]) for c in range(n_comm)]
    street_geom = [shapely.unary_union(blocks_arr[b_street == s]) for s in range(n_streets)]
    district_geom = shapely.unary_union(blocks_arr)

    districts = gpd.GeoDataFrame({"code": [_names.DISTRICT_CODE], "name": [_names.DISTRICT_NAME]},
                                 geometry=_to_multi([district_geom]), crs=CRS)
    streets = gpd.GeoDataFrame({"code": street_codes, "district_code": _names.DISTRICT_CODE,
                                "name": street_names, "zone": "core"},
                               geometry=_to_multi(street_geom), crs=CRS)
    communities = gpd.GeoDataFrame({
        "code": comm_codes, "street_code": [street_codes[s] for s in comm_street],
        "name": comm_names, "households": hh_comm, "population": pop_comm,
        "active": True, "retired_at": pd.Series([pd.NaT] * n_comm, dtype="datetime64[ns]"),
        "parent_code": pd.Series([None] * n_comm, dtype=object)},
        geometry=_to_multi(comm_geom), crs=CRS)

    cmp_code, cmp_name = _compound_names(cmp_comm, cmp_kind, comm_codes, comm_names, n_comm, rng)
    indivisible = np.ones(len(cmp_geom_a), dtype=bool)
    compounds = gpd.GeoDataFrame({
        "code": cmp_code, "community_code": [comm_codes[c] for c in cmp_comm], "name": cmp_name,
        "kind": cmp_kind, "households": cmp_hh, "population": cmp_pop, "indivisible": indivisible},
        geometry=_to_multi(cmp_geom_a), crs=CRS)

    roads = _named_roads(roads, hutong_rows)
    blocks = gpd.GeoDataFrame({"street_code": [street_codes[s] for s in b_street],
                               "community_code": [comm_codes[c] for c in b_comm],
                               "old_town": b_old, "residential": b_res},
                              geometry=blocks_arr, crs=CRS)
    single = [comm_codes[c] for c in range(n_comm) if hh_comm[c] > 3000 and (b_comm == c).sum() == 1]
    log.info("demo layout: %d streets, %d communities, %d blocks, %d compounds, %d road lines",
             n_streets, n_comm, len(blocks), len(compounds), len(roads))
    return Layout(districts=districts, streets=streets, communities=communities, compounds=compounds,
                  roads=roads, blocks=blocks,
                  infeasible_community=comm_codes[infeasible] if infeasible is not None else "",
                  oversized_single_block=single[0] if single else None)
