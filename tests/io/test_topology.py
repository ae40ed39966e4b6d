"""Gaps and overlaps between hand-digitised communities: reported with areas and places, repaired seamlessly.

Every claim is checked independently with plain shapely (pairwise loops, unions), not with gridmap's own
``check_seamless``.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.affinity

from gridmap.io import import_frame
from gridmap.io.topology import find_topology_problems, repair_topology

STREET = shapely.box(450000, 4418000, 452000, 4419500)  # 2 km x 1.5 km street outline


def jittered(seed=7, jitter_m=4.0):
    """A 4 x 3 tiling of STREET whose shared edges were digitised twice, a few metres apart."""
    rng = np.random.default_rng(seed)
    xs = np.linspace(450000, 452000, 5)
    ys = np.linspace(4418000, 4419500, 4)
    polys, codes = [], []
    for i in range(4):
        for j in range(3):
            d = rng.uniform(-jitter_m, jitter_m, 4)
            x0 = xs[i] + (d[0] if i else 0)
            x1 = xs[i + 1] + (d[1] if i < 3 else 0)
            y0 = ys[j] + (d[2] if j else 0)
            y1 = ys[j + 1] + (d[3] if j < 2 else 0)
            polys.append(shapely.box(x0, y0, x1, y1))
            codes.append(f"110101001{len(codes) + 1:03d}")
    return gpd.GeoDataFrame({"code": codes, "street_code": "110101001", "name": [f"社区{c[-3:]}" for c in codes],
                             "households": 1500}, geometry=polys, crs="EPSG:4548")


def pairwise_overlap(geoms):
    return sum(a.intersection(b).area for a, b in itertools.combinations(geoms, 2))


def test_report_matches_an_independent_computation():
    f = jittered()
    report = find_topology_problems(f, boundary=STREET, min_area_m2=0.0)
    geoms = list(f.geometry)
    assert report.overlaps["area_m2"].sum() == pytest.approx(pairwise_overlap(geoms), abs=0.01)
    union = shapely.union_all(geoms)
    assert report.gaps["area_m2"].sum() == pytest.approx(STREET.difference(union).area, abs=0.01)
    assert report.outside.empty  # outer edges were not jittered
    # every overlap names the two communities that actually overlap there, at a point inside both
    by_code = dict(zip(f["code"], geoms))
    for r in report.overlaps.itertuples():
        p = r.geometry.representative_point()
        assert by_code[r.a].intersects(p) and by_code[r.b].intersects(p)
        assert r.geometry.centroid.distance(shapely.Point(r.x, r.y)) < 1e-6
    # every gap lists communities that touch it
    for r in report.gaps.itertuples():
        assert all(by_code[c].distance(r.geometry) < 1e-2 for c in r.neighbours.split(", "))
    lines = "\n".join(report.lines())
    assert "overlap" in lines and "gap" in lines and "m² at x=" in lines


def test_gap_and_overlap_without_boundary():
    """No outline given: overlaps, and holes enclosed by the communities, are still found."""
    shift = shapely.affinity.translate
    geoms = [shapely.box(0, 0, 100, 100), shapely.box(95, 0, 200, 100),
             shapely.box(0, 100, 200, 200).difference(shapely.box(90, 140, 110, 160))]
    f = gpd.GeoDataFrame({"code": ["a", "b", "c"]}, geometry=[shift(g, 450000, 4418000) for g in geoms],
                         crs="EPSG:4548")
    rep = find_topology_problems(f)
    assert rep.overlaps[["a", "b"]].values.tolist() == [["a", "b"]]
    assert rep.overlaps["area_m2"].iloc[0] == pytest.approx(500.0)
    assert rep.gaps["area_m2"].tolist() == [pytest.approx(400.0)] and rep.gaps["neighbours"].tolist() == ["c"]
    assert (rep.gaps["x"].iloc[0], rep.gaps["y"].iloc[0]) == pytest.approx((450100, 4418150))


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_repair_is_seamless_by_an_independent_check(seed):
    f = jittered(seed)
    fixed, report = repair_topology(f, boundary=STREET, snap_m=0.5)
    geoms = list(fixed.geometry)
    assert all(g.is_valid and not g.is_empty for g in geoms)
    union = shapely.union_all(geoms)
    assert union.symmetric_difference(STREET).area / STREET.area < 1e-6
    assert pairwise_overlap(geoms) / STREET.area < 1e-9
    assert sum(g.area for g in geoms) == pytest.approx(STREET.area, rel=1e-6)
    # each community keeps its own ground: its exclusive part before repair is inside it after
    originals = list(f.geometry)
    for k, (before, after) in enumerate(zip(originals, geoms)):
        others = shapely.union_all([g for i, g in enumerate(originals) if i != k])
        own = before.difference(others).intersection(STREET)
        assert own.difference(after).area <= before.length * 0.5  # only snapping (<= 0.5 m) moves its ground
    # an overlap went to one of the communities that overlapped there (two, or three at a corner)
    for r in report.overlaps.itertuples():
        p = r.geometry.representative_point()
        owner = fixed.loc[fixed.intersects(p), "code"].tolist()
        covering = set(f.loc[f.intersects(p), "code"])
        assert {r.a, r.b} <= covering
        assert len(owner) == 1 and owner[0] in covering


def test_repair_prefers_the_neighbour_with_the_longest_shared_edge():
    # gap between a (long edge along it) and b (a short corner contact)
    a = shapely.box(0, 0, 100, 100)
    b = shapely.box(100, 0, 200, 10)
    c = shapely.box(102, 10, 200, 100)
    f = gpd.GeoDataFrame({"code": ["a", "b", "c"]}, geometry=[a, b, c], crs="EPSG:4548")
    f = f.set_geometry(f.translate(450000, 4418000))
    outline = shapely.box(450000, 4418000, 450200, 4418100)
    fixed, _ = repair_topology(f, boundary=outline, snap_m=0.0)
    gap_point = shapely.Point(450101, 4418050)
    assert fixed.loc[fixed.intersects(gap_point), "code"].tolist() == ["a"]  # shares 90 m with a, 2 m with b


def test_import_repairs_within_the_stored_street(store):
    streets = gpd.GeoDataFrame({"code": ["110101001"], "district_code": ["110101"], "name": ["东华门街道"]},
                               geometry=[STREET], crs="EPSG:4548")
    import_frame(store, "streets", streets)
    res = import_frame(store, "communities", jittered(), topology="repair", boundary="parent", dry_run=True)
    assert res.would_write == 12 and len(res.topology.overlaps) > 0 and store.count("communities") == 0
    res = import_frame(store, "communities", jittered(), topology="repair", boundary="parent")
    assert res.written == 12, str(res)
    stored = list(store.read("communities").geometry)
    assert shapely.union_all(stored).symmetric_difference(STREET).area / STREET.area < 1e-6
    assert pairwise_overlap(stored) / STREET.area < 1e-9


def test_report_mode_imports_as_is_and_reports(store):
    res = import_frame(store, "communities", jittered(), topology="report", boundary=STREET)
    assert res.written == 12 and not res.topology.ok
    table = res.topology.table()
    assert set(table["kind"]) == {"overlap", "gap"} and (table["area_m2"] > 0).all()
    assert table[["x", "y"]].apply(lambda r: STREET.buffer(1).contains(shapely.Point(r.x, r.y)), axis=1).all()
