"""Component import (cells, codes, rejections, atomicity), locate / search / nearest, CLI — on both backends."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.codes.catalog import UnknownClassError
from gridmap.io.components import import_components
from gridmap.store.components import locate, nearest_components, search_components
from gridmap.crs import to_wgs84_xy, wgs84_to_gcj02
from gridmap.errors import CodeError, NotFoundError, ValidationError
from gridmap.grid import build_cells
from gridmap.testing.grid import voronoi_communities

CRS = "EPSG:4548"
BOUNDS = (448_000.0, 4_419_000.0, 449_000.0, 4_419_800.0)  # near Tiananmen


def seed_store(store):
    comm = voronoi_communities(4, bounds=BOUNDS, seed=4, district_code="110101", per_street=2)
    comm["name"] = [f"社区{i}" for i in range(len(comm))]
    comm["households"] = 1500
    streets = comm.dissolve("street_code").reset_index()[["street_code", "geometry"]].rename(
        columns={"street_code": "code"})
    streets["district_code"] = "110101"
    streets["name"] = ["东华门街道", "景山街道"]
    with store.transaction() as tx:
        store.write("districts", gpd.GeoDataFrame({"code": ["110101"], "name": ["东城区"]},
                                                  geometry=[shapely.box(*BOUNDS)], crs=CRS), connection=tx)
        store.write("streets", streets, connection=tx)
        store.write("communities", comm[["code", "street_code", "name", "households", "geometry"]], connection=tx)
        store.write("cells", build_cells(comm), connection=tx)
    return comm


def lonlat_of(x, y):
    lon, lat = to_wgs84_xy([x], [y], crs=CRS)
    return float(lon[0]), float(lat[0])


@pytest.fixture
def seeded(store):
    seed_store(store)
    return store


def components_csv(tmp_path, rows):
    p = tmp_path / "components.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    return p


def test_import_assigns_cells_codes_and_rejects_with_reasons(seeded, tmp_path):
    store = seeded
    pts = [(448_100.5, 4_419_100.5), (448_500.0, 4_419_400.0), (448_900.0, 4_419_700.0), (448_300, 4_419_300)]
    ll = [lonlat_of(*p) for p in pts]
    rows = [
        {"lon": ll[0][0], "lat": ll[0][1], "class_code": "0101", "status": "完好", "dept": "水务局"},
        {"lon": ll[1][0], "lat": ll[1][1], "code": "01010007", "status": "damaged"},
        {"lon": ll[2][0], "lat": ll[2][1], "class_code": "0601", "name": "路灯A"},
        {"lon": ll[3][0], "lat": ll[3][1], "class_code": "0999"},                     # unknown class
        {"lon": 116.0, "lat": 40.5, "class_code": "0101"},                            # outside every cell
        {"lon": ll[0][0], "lat": ll[0][1], "code": "01010007"},                       # duplicate code in input
        {"lon": None, "lat": None, "class_code": "0101"},                             # no coordinates
        {"lon": ll[1][0], "lat": ll[1][1], "code": "0101007"},                        # malformed code
        {"lon": ll[1][0], "lat": ll[1][1], "class_code": "0102", "status": "坏了"},    # unknown status
        {"lon": ll[0][0], "lat": ll[0][1], "class_code": "0101"},                     # same class, same point
    ]
    res = import_components(store, components_csv(tmp_path, rows), lonlat="wgs84")
    assert res.written == 3, str(res)
    reasons = {p.row: p.reason for p in res.rejected}
    assert set(reasons) == {3, 4, 5, 6, 7, 8, 9}
    assert "unknown component class '0999'" in reasons[3] and "did you mean" in reasons[3]
    assert reasons[4].startswith("outside every unit cell")
    assert reasons[5] == "duplicate code inside the input"
    assert reasons[6] == "no coordinates"
    assert "8 digits" in reasons[7] or "8 or 16 digits" in reasons[7]
    assert "unknown status" in reasons[8]
    assert reasons[9].startswith("duplicate: same class")
    stored = store.read("components").set_index("code")
    # the new 0101 gets the lowest free serial of its class (gaps below the highest, 7, are reused)
    assert sorted(stored.index) == ["01010001", "01010007", "06010001"]
    assert stored.loc["01010001", "national_id"] == "1101010101000001"
    assert stored.loc["01010007", "status"] == "破损"
    assert stored.loc["06010001", "name"] == "路灯A" and stored.loc["01010001", "name"] == "上水井盖"
    cells = store.read("cells")
    for code, row in stored.iterrows():
        cell = cells[cells["code"] == row["cell_code"]].geometry.iloc[0]
        assert cell.covers(row.geometry)
        assert row["community_code"] == row["cell_code"][:12] and row["street_code"] == row["cell_code"][:9]
        assert row["district_code"] == "110101"
    assert sorted(res.new_codes["code"]) == ["01010001", "06010001"]
    # re-import: every coded row is now a duplicate of the store, nothing new is written twice
    again = import_components(store, stored.reset_index()[["code", "geometry"]].set_crs(CRS, allow_override=True))
    assert again.written == 0 and {p.reason for p in again.rejected} == {"code already in the store"}


def test_import_gcj02_and_abort_is_atomic(seeded, tmp_path):
    store = seeded
    lon, lat = lonlat_of(448_450.0, 4_419_450.0)
    glon, glat = wgs84_to_gcj02(lon, lat)
    ok = {"lng": float(glon), "lat": float(glat), "class_code": "0305"}
    res = import_components(store, components_csv(tmp_path, [ok]), lonlat="gcj02")
    assert res.written == 1
    p = store.read("components").geometry.iloc[0]
    assert abs(p.x - 448_450.0) < 0.5 and abs(p.y - 4_419_450.0) < 0.5
    bad = {"lng": float(glon), "lat": float(glat), "class_code": "0000"}
    with pytest.raises(ValidationError, match="nothing was imported"):
        import_components(store, components_csv(tmp_path, [ok, bad]), lonlat="gcj02", on_error="abort")
    assert store.count("components") == 1


def test_import_from_every_file_format_and_lonlat_system_lands_in_the_sjoin_cell(seeded, tmp_path):
    """GeoPackage in the working CRS, a GBK Shapefile without .cpg in EPSG:4527 (zone-number easting), a
    GeoJSON in WGS 84 and CSVs in GCJ-02 and BD-09 lon/lat: each component lands in the cell geopandas.sjoin
    finds for its true position."""
    from gridmap.crs import wgs84_to_bd09

    store = seeded
    rng = np.random.default_rng(11)
    x = rng.uniform(BOUNDS[0] + 20, BOUNDS[2] - 20, 10)
    y = rng.uniform(BOUNDS[1] + 20, BOUNDS[3] - 20, 10)
    truth = gpd.GeoDataFrame({"k": range(10)}, geometry=gpd.points_from_xy(x, y), crs=CRS)
    remark = ["井盖松动" if i % 2 else "新装" for i in range(10)]
    pts = lambda sl: truth.iloc[sl].assign(class_code="0101", remarks=[remark[i] for i in range(10)][sl])  # noqa: E731
    pts(slice(0, 2)).to_file(tmp_path / "a.gpkg", engine="pyogrio")
    shp = tmp_path / "b.shp"
    pts(slice(2, 4)).to_crs("EPSG:4527").to_file(shp, engine="pyogrio", encoding="GBK")
    (tmp_path / "b.cpg").unlink(missing_ok=True)
    pts(slice(4, 6)).to_crs("EPSG:4326").to_file(tmp_path / "c.geojson", driver="GeoJSON", engine="pyogrio")
    lon, lat = to_wgs84_xy(x, y, crs=CRS)
    glon, glat = wgs84_to_gcj02(lon, lat)
    blon, blat = wgs84_to_bd09(lon, lat)
    pd.DataFrame({"class_code": "0101", "lon": glon[6:8], "lat": glat[6:8], "remarks": remark[6:8]}).to_csv(
        tmp_path / "d.csv", index=False)
    pd.DataFrame({"class_code": "0101", "lon": blon[8:10], "lat": blat[8:10], "remarks": remark[8:10]}).to_csv(
        tmp_path / "e.csv", index=False)
    for path, kw in ((tmp_path / "a.gpkg", {}), (shp, {}), (tmp_path / "c.geojson", {}),
                     (tmp_path / "d.csv", {"lonlat": "gcj02"}), (tmp_path / "e.csv", {"lonlat": "bd09"})):
        res = import_components(store, path, **kw)
        assert res.written == 2 and not res.rejected, (path.name, str(res))
    got = store.read("components").sort_values("code").reset_index(drop=True)
    assert len(got) == 10
    cells = store.read("cells")
    ref = gpd.sjoin(truth, cells[["code", "geometry"]], predicate="intersects").drop_duplicates("k").set_index("k")
    # the i-th import is the i-th pair of true points; serials follow import order
    assert got["cell_code"].tolist() == ref.loc[range(10), "code"].tolist()
    assert np.allclose(got.geometry.x, x, atol=0.5) and np.allclose(got.geometry.y, y, atol=0.5)
    assert got["remarks"].tolist() == remark  # GBK text read without a .cpg


def test_import_geojson_wgs84(seeded, tmp_path):
    store = seeded
    g = gpd.GeoDataFrame({"class_code": ["0203", "0203"], "code": [None, "02030050"]},
                         geometry=[shapely.Point(448_600, 4_419_200), shapely.Point(448_610, 4_419_200)], crs=CRS)
    path = tmp_path / "c.geojson"
    g.to_crs("EPSG:4326").to_file(path, driver="GeoJSON", engine="pyogrio")
    res = import_components(store, path)
    assert res.written == 2 and sorted(store.read("components")["code"]) == ["02030001", "02030050"]


@pytest.fixture
def located(seeded):
    store = seeded
    rng = np.random.default_rng(0)
    n = 60
    x = rng.uniform(BOUNDS[0] + 5, BOUNDS[2] - 5, n)
    y = rng.uniform(BOUNDS[1] + 5, BOUNDS[3] - 5, n)
    cls = np.where(np.arange(n) % 3 == 0, "0601", "0101")
    frame = gpd.GeoDataFrame({"class_code": cls, "dept": "城管委", "maintainer": "养护中心", "status": "完好"},
                             geometry=gpd.points_from_xy(x, y), crs=CRS)
    res = import_components(store, frame)
    assert res.written == n
    return store


def test_locate_8_and_16_digit(located):
    store = located
    one = locate(store, "01010003")
    assert len(one) == 1 and isinstance(one, gpd.GeoDataFrame) and one.crs == store.crs
    r = one.iloc[0]
    assert r["class_name"] == "上水井盖" and r["major_name"] == "公用设施"
    assert r["community_name"].startswith("社区") and r["street_name"] in ("东华门街道", "景山街道")
    assert 116.3 < r["lon"] < 116.5 and 39.8 < r["lat"] < 40.0
    assert r["dept"] == "城管委" and r["status"] == "完好"
    same = locate(store, "1101010101000003")
    assert same.iloc[0]["code"] == "01010003"
    assert locate(store, "01010003", district_code="110101").iloc[0]["national_id"] == "1101010101000003"


def test_locate_unknown_code_suggests_neighbours(located):
    store = located
    with pytest.raises(NotFoundError) as err:
        locate(store, "01010093")  # one digit away from 01010003 and 01010039 ...
    assert "01010003" in err.value.suggestions
    assert "01010040" in err.value.suggestions  # the largest 0101 serial (40 of them) is the nearest above
    with pytest.raises(NotFoundError, match="did you mean"):
        locate(store, "06019999")
    with pytest.raises(CodeError, match="8 or 16 digits"):
        locate(store, "0101003")
    with pytest.raises(CodeError, match="full-width"):
        locate(store, "０１０１０００３")
    with pytest.raises(NotFoundError):
        locate(store, "1101020101000003")  # another district


def test_search_and_nearest_match_exhaustive(located):
    store = located
    everything = store.read("components")
    lamps = search_components(store, class_code="0601")
    assert len(lamps) == 20 and (lamps["class_name"] == "路灯").all()
    assert len(search_components(store, class_code="01")) == 40
    box = (448_000, 4_419_000, 448_500, 4_419_400)
    inbox = search_components(store, bbox=box)
    ref = everything[everything.geometry.within(shapely.box(*box))]
    assert sorted(inbox["code"]) == sorted(ref["code"])
    tri = shapely.Polygon([(448_000, 4_419_000), (449_000, 4_419_000), (448_500, 4_419_800)])
    area = search_components(store, area=tri, class_code="0101")
    ref = everything[everything.geometry.within(tri) & (everything["class_code"] == "0101")]
    assert sorted(area["code"]) == sorted(ref["code"])
    with pytest.raises(UnknownClassError):
        search_components(store, class_code="0199")
    lon, lat = lonlat_of(448_480.0, 4_419_400.0)
    for cls in (None, "0601"):
        near = nearest_components(store, lon, lat, k=5, class_code=cls)
        pool = everything if cls is None else everything[everything["class_code"] == cls]
        d = np.hypot(pool.geometry.x - 448_480.0, pool.geometry.y - 4_419_400.0)
        assert near["code"].tolist() == pool.assign(d=d).sort_values(["d", "code"])["code"].head(5).tolist()
        assert np.allclose(near["distance_m"], np.sort(d)[:5], atol=1e-3)
    far = nearest_components(store, 116.0, 40.5, k=3)  # tens of km away: the window keeps growing
    assert len(far) == 3


def test_cli_locate_nearest_components(located, capsys, tmp_path):
    from gridmap.cli import main

    url = located.url
    assert main(["--db", url, "locate", "01010003", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["code"] == "01010003" and out["class_name"] == "上水井盖" and "wgs84" in out and "cell_code" in out
    assert main(["--db", url, "locate", "01010003"]) == 0
    text = capsys.readouterr().out
    assert "上水井盖" in text and "城管委" in text
    assert main(["--db", url, "locate", "01010093"]) == 1  # not found: nothing could be done
    err = capsys.readouterr().err
    assert "did you mean" in err and "Traceback" not in err
    lon, lat = lonlat_of(448_480.0, 4_419_400.0)
    assert main(["--db", url, "nearest", "--lon", str(lon), "--lat", str(lat), "--class", "0601", "-k", "2",
                 "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["--db", url, "components", "--class", "0601", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 20
    assert main(["--db", url, "components", "--classes"]) == 0
    assert "0601" in capsys.readouterr().out
    html = tmp_path / "c.html"
    assert main(["--db", url, "locate", "01010003", "--html", str(html)]) == 0
    page = html.read_text(encoding="utf-8")
    assert "01010003" in page and "cdn.jsdelivr" not in page


def test_generic_import_of_components_is_the_component_import(seeded, tmp_path, capsys):
    """`gridmap import components` gives the same rows as import_components (cells, codes), not a raw write."""
    from gridmap.cli import main

    store = seeded
    pts = [(448_150.3, 4_419_150.7), (448_703.1, 4_419_606.2), (448_420.4, 4_419_380.9)]
    rows = [{"lon": lonlat_of(*p)[0], "lat": lonlat_of(*p)[1], "LX": c} for p, c in zip(pts, ["0101", "0101", "0305"])]
    path = components_csv(tmp_path, rows)
    rej = tmp_path / "rej.csv"
    argv = ["--db", store.url, "import", "component", str(path), "--map", "class_code=LX", "--lonlat", "wgs84"]
    assert main(argv + ["--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out and store.count("components") == 0
    assert main(argv + ["--rejects", str(rej)]) == 0
    got = store.read("components").set_index("code")
    assert sorted(got.index) == ["01010001", "01010002", "03050001"]
    cells = store.read("cells")
    ref = gpd.sjoin(got[["geometry"]], cells[["code", "community_code", "geometry"]].rename(columns={"code": "cell"}),
                    predicate="within")
    assert (got.loc[ref.index, "cell_code"] == ref["cell"]).all()
    assert (got.loc[ref.index, "community_code"] == ref["community_code"]).all() and len(ref) == 3
    assert (got["national_id"] == "110101" + got.index.str[:4] + "00" + got.index.str[4:]).all()
    # the same file again: every row is a duplicate of a stored component (same class, same point), reported
    assert main(argv + ["--rejects", str(rej)]) == 1
    report = pd.read_csv(rej, encoding="utf-8-sig", dtype=str)
    assert len(report) == 3 and report["reason"].str.startswith(
        "duplicate: same class at the same point as stored component 110101/").all()
    assert store.count("components") == 3
    # options that mean nothing for components are a clear error
    assert main(argv + ["--table", str(path)]) == 2
    err = capsys.readouterr().err
    assert "--table cannot be used when importing components" in err and "Traceback" not in err


def test_duplicate_of_stored_component_needs_same_class(seeded, tmp_path):
    store = seeded
    p = lonlat_of(448_300.0, 4_419_300.0)
    assert import_components(store, components_csv(tmp_path, [{"lon": p[0], "lat": p[1], "class_code": "0101"}]),
                             lonlat="wgs84").written == 1
    stored = store.read("components").geometry.iloc[0]
    # same class at the stored point (from the stored coordinates, in the working CRS): rejected
    same = gpd.GeoDataFrame({"class_code": ["0101", "0102", "0101"]},
                            geometry=[stored, stored, shapely.Point(stored.x + 0.5, stored.y)], crs=CRS)
    res = import_components(store, same)
    assert res.written == 2
    assert [(p.row, p.reason) for p in res.rejected] == [
        (0, "duplicate: same class at the same point as stored component 110101/01010001")]


def test_national_id_with_overflowing_serial_is_rejected_with_reason(seeded, tmp_path):
    store = seeded
    p = lonlat_of(448_300.0, 4_419_300.0)
    rows = [{"lon": p[0], "lat": p[1], "national_id": "1101010101010000"},   # serial 10000: no 8-digit code
            {"lon": p[0], "lat": p[1], "national_id": "1101010101009999"}]   # the largest that fits
    res = import_components(store, components_csv(tmp_path, rows), lonlat="wgs84")
    assert res.written == 1 and store.read("components")["code"].tolist() == ["01019999"]
    (prob,) = res.rejected
    assert prob.row == 0 and prob.field == "code" and "exceeds 9,999" in prob.reason
    # and 9999 does not block the class: the next new component gets the lowest free serial
    more = import_components(store, components_csv(tmp_path, [{"lon": p[0] + 1e-4, "lat": p[1],
                                                               "class_code": "0101"}]), lonlat="wgs84")
    assert more.written == 1 and more.new_codes["code"].tolist() == ["01010001"]


def test_lookup_frame_columns_are_typed_not_inferred(located):
    """locate/nearest build their frame with each column's type given (public constructors, no pandas internals):
    codes and text stay object (not pandas 3's inferred str), coordinates float64, dates datetime64[ns]; the
    values are the stored layer's."""
    from gridmap.store import components as comp

    one = locate(located, "01010003")
    near = nearest_components(located, *lonlat_of(448_480.0, 4_419_400.0), k=3)
    stored = located.read("components", where={"code": "01010003"})
    for f in (one, near):
        assert isinstance(f, gpd.GeoDataFrame) and f.crs == located.crs and f.geometry.name == "geometry"
        assert f.columns.dtype == object and len(f) > 0
        assert [str(f[c].dtype) for c in ("code", "district_code", "class_code", "serial", "name", "dept",
                                          "status", "cell_code", "community_name", "class_name")] == ["object"] * 10
        assert [str(f[c].dtype) for c in ("x", "y", "lon", "lat")] == ["float64"] * 4
        assert [str(f[c].dtype) for c in ("initial_date", "change_date")] == ["datetime64[ns]"] * 2
    for c in ("code", "district_code", "class_code", "dept", "maintainer", "status", "cell_code"):
        assert one.at[0, c] == stored[c].iloc[0]
    assert one.geometry.iloc[0].equals(stored.geometry.iloc[0])
    assert (one.at[0, "x"], one.at[0, "y"]) == (stored.geometry.iloc[0].x, stored.geometry.iloc[0].y)
    assert comp._frame([], located, None).shape[0] == 0
