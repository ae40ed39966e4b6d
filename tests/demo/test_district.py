"""The synthetic 示范区: column contract, geometry invariants (checked with shapely, independently of the
generator), codes, households, calibration, anomalies, privacy strings, determinism and the GeoPackage files."""

from __future__ import annotations

from pathlib import Path

import re

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

import gridmap.demo as demo_mod
from gridmap.demo import ANOMALY_COLUMNS, DemoDistrict, calibration_table, generate, write_files
from gridmap.store import schema

SMALL = 0.05


def _schema_columns() -> dict[str, list[str]]:
    """Columns per layer parsed from the docstring table of gridmap.store.schema (the contract)."""
    cols: dict[str, list[str]] = {}
    current = None
    for line in schema.__doc__.splitlines():
        m = re.match(r"^([a-z]+)\s{2,}(.*)$", line)
        if m and m.group(1) in schema.LAYERS:
            current = m.group(1)
            cols[current] = []
            text = m.group(2)
        elif current and line.startswith(" " * 15) and line.strip():
            text = line.strip()
        else:
            current = None if line.startswith("===") else current
            continue
        text = re.sub(r"\([^)]*\)", "", text)
        cols[current] += [c.strip() for c in text.split(",") if c.strip()]
    return cols


@pytest.fixture(scope="module")
def demo() -> DemoDistrict:
    return generate(scale=SMALL)


def test_schema_parser_sees_every_layer():
    cols = _schema_columns()
    assert cols["communities"] == ["code", "street_code", "name", "households", "population", "active",
                                   "retired_at", "parent_code"]
    assert "maintainer" in cols["components"] and "street_code" in cols["components"]


@pytest.mark.parametrize("layer", demo_mod.LAYER_NAMES)
def test_layers_follow_the_schema_contract(demo, layer):
    frame = getattr(demo, layer)
    assert frame.crs.to_epsg() == 4548
    assert list(frame.columns) == _schema_columns()[layer] + ["geometry"]
    assert len(frame) > 0
    assert frame.index.is_unique
    key = list(schema.LAYERS[layer].key)
    assert not frame.duplicated(key).any()
    want = {"MULTIPOLYGON": {"MultiPolygon"}, "MULTILINESTRING": {"MultiLineString"}, "POINT": {"Point"}}
    assert set(frame.geom_type) <= want[schema.LAYERS[layer].geometry_type]


def test_near_dongcheng_in_working_crs(demo):
    x0, y0, x1, y1 = demo.districts.total_bounds
    assert 440_000 < x0 < 452_000 < x1 < 464_000
    assert 4_408_000 < y0 < 4_418_000 < y1 < 4_428_000


@pytest.mark.parametrize("layer", ["districts", "streets", "communities", "compounds", "roads"])
def test_geometries_valid(demo, layer):
    g = getattr(demo, layer).geometry.values
    assert shapely.is_valid(g).all()
    assert not shapely.is_empty(g).any()


def _assert_tiles(parts: np.ndarray, whole: shapely.Geometry, where: str) -> None:
    area = shapely.area(parts).sum()
    assert area == pytest.approx(whole.area, rel=1e-9, abs=1.0), f"{where}: area of parts != area of whole"
    union = shapely.union_all(parts)
    assert shapely.symmetric_difference(union, whole).area < 1.0, f"{where}: parts do not cover the whole"
    # no overlaps: pairwise intersections have no area
    tree = shapely.STRtree(parts)
    a, b = tree.query(parts, predicate="intersects")
    keep = a < b
    overlap = shapely.area(shapely.intersection(parts[a[keep]], parts[b[keep]]))
    assert overlap.max(initial=0.0) < 0.01, f"{where}: parts overlap"


def test_streets_tile_the_district(demo):
    _assert_tiles(demo.streets.geometry.values, demo.districts.geometry.values[0], "streets")


def test_communities_tile_each_street(demo):
    for code, street in zip(demo.streets.code, demo.streets.geometry):
        parts = demo.communities.geometry.values[demo.communities.street_code.values == code]
        assert len(parts) >= 2
        _assert_tiles(parts, street, code)


def test_communities_are_connected(demo):
    assert (shapely.get_num_geometries(demo.communities.geometry.values) == 1).all()
    assert (shapely.get_num_geometries(demo.streets.geometry.values) == 1).all()


def test_compounds_inside_their_community(demo):
    comm = demo.communities.set_index("code").geometry
    parent = comm.loc[demo.compounds.community_code].values
    assert shapely.covers(shapely.buffer(parent, 1e-6), demo.compounds.geometry.values).all()
    assert set(demo.compounds.kind) == {"compound", "building"}
    assert demo.compounds.indivisible.all()


def test_compounds_do_not_overlap(demo):
    g = demo.compounds.geometry.values
    a, b = shapely.STRtree(g).query(g, predicate="intersects")
    keep = a < b
    assert shapely.area(shapely.intersection(g[a[keep]], g[b[keep]])).max(initial=0.0) < 0.01


@pytest.mark.parametrize("layer", ["components", "complaints"])
def test_points_inside_the_district(demo, layer):
    pts = getattr(demo, layer).geometry.values
    assert shapely.contains(demo.districts.geometry.values[0], pts).all()


def test_roads_inside_and_kinds(demo):
    r = demo.roads
    assert set(r.kind) <= {"main", "secondary", "branch", "hutong", "river", "rail"}
    assert {"main", "secondary", "hutong"} <= set(r.kind)
    assert ({"river", "rail"} & set(r.kind))
    assert (r.width_m > 0).all()
    assert shapely.covers(demo.districts.geometry.values[0].buffer(0.01), r.geometry.values).all()


def test_community_boundaries_follow_roads(demo):
    """Every community boundary segment inside the district lies on a road, river or rail centre line."""
    lines = shapely.union_all(demo.roads.geometry.values[demo.roads.kind.values != "hutong"])
    inner = shapely.difference(shapely.union_all(shapely.boundary(demo.communities.geometry.values)),
                               demo.districts.geometry.values[0].boundary.buffer(0.5))
    off_road = shapely.difference(inner, lines.buffer(0.5))
    assert off_road.length < 0.01 * inner.length


def test_codes(demo):
    assert demo.districts.code.tolist() == ["110199"]
    assert demo.districts.name.tolist() == ["示范区"]
    st = demo.streets
    assert st.code.str.fullmatch(r"110199\d{3}").all() and (st.district_code == "110199").all()
    assert st.name.str.endswith("街道").all()
    cm = demo.communities
    assert cm.code.str.fullmatch(r"\d{12}").all()
    assert all(c.startswith(s) for c, s in zip(cm.code, cm.street_code))
    assert set(cm.street_code) == set(st.code)
    co = demo.components
    assert co.code.str.fullmatch(r"\d{8}").all()
    assert (co.code.str[:4] == co.class_code).all() and (co.major == co.class_code.str[:2]).all()
    assert (co.serial.between(1, 9_999)).all()
    assert (co.national_id == "110199" + co.class_code + co.serial.map("{:06d}".format)).all()
    assert co.national_id.is_unique and not co.duplicated(["class_code", "serial"]).any()
    assert set(co.class_code) <= set(demo_mod.CLASSES)
    assert (co.name == co.class_code.map(demo_mod.CLASSES)).all()
    assert co[["cell_code", "community_code", "street_code"]].isna().all().all()
    assert set(co.status) <= {"完好", "破损", "丢失", "废弃", "移除"}
    assert (co.status == "完好").mean() > 0.85
    assert set(co.source) <= {"实测", "地形图", "基础地理数据", "其他"}
    changed = co.change_date.notna()
    assert (pd.to_datetime(co.change_date[changed]) >= pd.to_datetime(co.initial_date[changed])).all()


def test_households_are_carried_by_compounds(demo):
    cm = demo.communities.set_index("code")
    sums = demo.compounds.groupby("community_code").households.sum()
    assert (sums.reindex(cm.index).fillna(-1) == cm.households).all()
    pops = demo.compounds.groupby("community_code").population.sum()
    assert (pops.reindex(cm.index) == cm.population).all()
    ratio = cm.population.sum() / cm.households.sum()
    assert ratio == pytest.approx(2.31, abs=0.01)
    assert (demo.compounds.households >= 0).all()


def test_heavy_tailed_households_and_infeasible_split(demo):
    hh = demo.communities.households
    assert abs(hh.mean() - 1500) < 150
    assert 0.12 <= (hh > 3000).mean() <= 0.3
    assert (hh > 5000).sum() >= 3
    inf = demo.infeasible_community
    assert hh[demo.communities.code == inf].iloc[0] > 5000
    assert demo.compounds[demo.compounds.community_code == inf].households.max() > 3000


def test_calibration_table_all_met(demo):
    table = calibration_table(demo)
    assert list(table.columns) == ["quantity", "target", "generated", "met", "source"]
    assert table.met.all(), table[~table.met].to_string()


def test_complaints_fields_and_seasonality(demo):
    c = demo.complaints
    assert c.source_id.is_unique
    t = pd.DatetimeIndex(c.received_at)
    assert t.tz is None and t.min() >= pd.Timestamp("2025-01-01") and t.max() < pd.Timestamp("2026-01-01")
    assert set(c.status) <= {"已办结", "办理中", "未解决"}
    closed = c.closed_at.notna()
    assert (c.closed_at[closed] >= c.received_at[closed]).all()
    assert (c.status[~closed] == "办理中").all()
    assert {"住房/物业", "供暖", "市政设施", "交通/停车", "噪音扰民", "市容环境", "房屋漏雨"} <= set(c.category)
    leaks = c[c.category == "房屋漏雨"]
    assert leaks.text.str.contains("漏雨|渗水|屋顶").all()
    assert pd.DatetimeIndex(leaks.received_at).month.isin([6, 7, 8]).mean() > 0.6
    heat = pd.DatetimeIndex(c.received_at[c.category == "供暖"])
    assert ((heat >= "2025-03-20") & (heat < "2025-11-01")).mean() < 0.05
    assert c.text.str.len().min() > 10 and c.address.str.startswith("示范区").all()
    assert c[["cell_code", "community_code", "street_code"]].isna().all().all()


def test_fake_phone_numbers_only(demo):
    text = demo.complaints.text
    for phone in demo_mod.FAKE_PHONES:
        assert text.str.contains(phone, regex=False).any()
    found = set(text.str.findall(r"1\d{10}").explode().dropna())
    assert found <= {"13800000000", "13900000000"}


def _in_circle(c, a) -> np.ndarray:
    x, y = shapely.get_coordinates(c.geometry.values).T
    return np.hypot(x - a.x, y - a.y) <= a.radius_m


def test_anomalies_documented_and_detectable(demo):
    an = demo.anomalies
    assert list(an.columns) == ANOMALY_COLUMNS
    assert len(an) >= 4 and an.id.is_unique
    assert {"leak_cluster", "congestion_hotspot", "noise_spike", "heating_failure"} <= set(an.kind)
    district = demo.districts.geometry.values[0]
    c = demo.complaints
    day = pd.DatetimeIndex(c.received_at).normalize()
    for a in an.itertuples():
        assert shapely.contains_xy(district, a.x, a.y)
        assert a.community_code in set(demo.communities.code)
        assert a.onset_date < a.end_date and a.description_zh and a.description_en
        near = _in_circle(c, a) & (c.category == a.category).to_numpy() & \
            c.text.str.contains(a.keyword, regex=False).to_numpy()
        onset, end = pd.Timestamp(a.onset_date), pd.Timestamp(a.end_date)
        during = near & (day >= onset) & (day <= end)
        before = near & (day < onset) & (day >= onset - pd.Timedelta(days=60))
        assert during.sum() >= a.planted_count * 0.95
        days = (end - onset).days + 1
        assert during.sum() / days > 5 * (before.sum() + 1) / 60, a.kind
        assert day[during].min() == onset          # signal starts exactly at the documented onset


def test_deterministic(demo):
    again = generate(scale=SMALL)
    for name in list(demo_mod.LAYER_NAMES) + ["anomalies"]:
        pd.testing.assert_frame_equal(getattr(demo, name), getattr(again, name), check_exact=True)
    other = generate(scale=SMALL, seed=7)
    assert not other.communities.households.equals(demo.communities.households)


def test_bad_scale():
    with pytest.raises(ValueError, match="scale"):
        generate(scale=0)
    with pytest.raises(TypeError):
        generate(0.5)  # type: ignore[misc]


def test_write_files_round_trip(demo, tmp_path):
    paths = write_files(demo, tmp_path / "demo")
    assert set(paths) == set(demo_mod.LAYER_NAMES) | {"anomalies"}
    for name in demo_mod.LAYER_NAMES:
        info = pyogrio.read_info(paths[name])
        assert info["features"] == len(getattr(demo, name))
        back = pyogrio.read_dataframe(paths[name])
        assert back.crs.to_epsg() == 4548
        assert list(back.columns) == list(getattr(demo, name).columns)
        assert shapely.equals_exact(back.geometry.values, getattr(demo, name).geometry.values, tolerance=1e-6).all()
    a = pd.read_csv(paths["anomalies"])
    assert len(a) == len(demo.anomalies)


def test_rows_pass_the_importer_checks(demo):
    from gridmap.io.validate import check_rows

    for name in demo_mod.LAYER_NAMES:
        _, problems = check_rows(name, getattr(demo, name))
        assert problems == [], (name, problems[:3])


@pytest.mark.slow
def test_full_scale():
    full = generate(scale=1.0)  # its time is measured in data/README.md, not asserted here
    assert len(full.streets) == 17
    assert 160 <= len(full.communities) <= 180
    assert 40 <= full.districts.area.sum() / 1e6 <= 44
    assert len(full.components) >= 100_000
    assert full.components.groupby("class_code").size().max() <= 9_999
    assert 200_000 <= len(full.complaints) <= 400_000
    areas = full.streets.area / 1e6
    assert 1 <= (areas < 2).sum() <= 3
    table = calibration_table(full)
    assert table.met.all(), table[~table.met].to_string()
    _assert_tiles(full.streets.geometry.values, full.districts.geometry.values[0], "streets")
    _assert_components_where_they_occur(full)
    _assert_readme_states_what_is_generated(table, full)


def _readme_rows(header: str) -> list[list[str]]:
    text = (Path(__file__).resolve().parents[2] / "data" / "README.md").read_text(encoding="utf-8")
    block = text[text.index(header):].split("\n\n", 1)[0].splitlines()[2:]
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in block if line.startswith("|")]


def _assert_readme_states_what_is_generated(table: pd.DataFrame, full) -> None:
    """data/README.md's target-versus-generated table is what the generator makes (no stale numbers)."""
    documented = {row[0]: row[2] for row in _readme_rows("| quantity | target | generated |")}
    generated = dict(zip(table["quantity"], table["generated"]))
    assert len(documented) >= 15 and documented == generated
    sizes = {row[0]: row[4] for row in _readme_rows("| scale | generate |")}
    counts = " / ".join(f"{len(getattr(full, k)):,}" for k in ("streets", "communities", "compounds", "components",
                                                             "complaints"))
    assert sizes["1"] == counts


def _assert_components_where_they_occur(d) -> None:
    """Lamps every 30-40 m at the kerb (both sides of main roads, one side elsewhere), manhole covers in the
    carriageway: measured on the generated points against the road centre lines, with shapely."""
    r, c = d.roads, d.components
    length = {k: float(shapely.length(g.values).sum()) for k, g in r.groupby("kind").geometry}
    for cls, sides in (("0601", {"main": 2, "secondary": 1, "branch": 1}), ("0602", {"hutong": 1})):
        pts = c[c["class_code"] == cls].geometry.values
        spacing = sum(length.get(k, 0.0) * n for k, n in sides.items()) / len(pts)
        assert 30 <= spacing <= 40, (cls, spacing)
        roads = r[r["kind"].isin(list(sides))]
        near = shapely.STRtree(roads.geometry.values).nearest(pts)
        beyond_kerb = shapely.distance(pts, roads.geometry.values[near]) - roads["width_m"].to_numpy()[near] / 2
        # near a crossing the nearest centre line can be the other road's: most, not all, sit just off the kerb
        assert np.mean((beyond_kerb >= -0.5) & (beyond_kerb <= 3.5)) > 0.8, (cls, np.quantile(beyond_kerb, [.1, .5, .9]))
    in_road = ["0101", "0102", "0103", "0105", "0107", "0108", "0109", "0110", "0111", "0112"]  # not grates/lamp
    covers = c[c["class_code"].isin(in_road)].geometry.values
    near = shapely.STRtree(r.geometry.values).nearest(covers)
    inside = shapely.distance(covers, r.geometry.values[near]) <= r["width_m"].to_numpy()[near] / 2 + 1.0
    assert np.mean(inside) > 0.95  # manhole covers lie in the carriageway
