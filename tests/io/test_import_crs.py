"""``gridmap import --crs`` over SpatiaLite and PostGIS: the working CRS of a store the import creates; the CRS of
a file without one when the store already exists in another CRS; never an override of a file's own CRS when it
is the store's. Coordinates are checked against pyproj directly. And :func:`gridmap.store.probe.stored_srid`,
which decides it before the store is opened: None where no store is yet, the recorded EPSG code otherwise."""

from __future__ import annotations

import warnings

import pytest
import shapely
from pyproj import Transformer

from gridmap.cli import main
from gridmap.errors import StoreError
from gridmap.testing.maps import sample_layers
from gridmap.store import open_store
from gridmap.store.probe import stored_srid


@pytest.fixture(scope="module")
def street47(tmp_path_factory):
    """One street in EPSG:4547, as a Shapefile without .prj (no CRS) and as a GeoPackage that declares it."""
    d = tmp_path_factory.mktemp("crs")
    s = sample_layers(nx_streets=1, ny_streets=1, components_per_street=5, complaints_per_street=5)["streets"]
    s = s.to_crs("EPSG:4547")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s.set_crs(None, allow_override=True).to_file(d / "street.shp")
    s.to_file(d / "street.gpkg")
    assert not (d / "street.shp").with_suffix(".prj").exists()
    return s, d


def _import(store_url, *argv):
    rc = main(["--db", store_url, *argv])
    assert rc == 0


def _stored(store_url):
    store = open_store(store_url, mode="read")
    return store.srid, store.read("streets").geometry.iloc[0]


def _moved(geom, src, dst):
    t = Transformer.from_crs(src, dst, always_xy=True)
    return shapely.transform(geom, lambda xy: list(zip(*t.transform(xy[:, 0], xy[:, 1]))))


def test_crs_of_a_new_store(store_url, street47):
    s, d = street47
    _import(store_url, "--crs", "EPSG:4547", "import", "streets", str(d / "street.shp"))
    srid, geom = _stored(store_url)
    assert srid == 4547
    assert geom.hausdorff_distance(s.geometry.iloc[0]) < 0.01  # read as EPSG:4547, stored as it is


def test_crs_of_the_file_when_the_store_has_another(store_url, street47):
    s, d = street47
    open_store(store_url, crs="EPSG:4548").close()
    _import(store_url, "--crs", "EPSG:4547", "import", "streets", str(d / "street.shp"))
    srid, geom = _stored(store_url)
    assert srid == 4548
    expected = _moved(s.geometry.iloc[0], "EPSG:4547", "EPSG:4548")
    assert geom.hausdorff_distance(expected) < 0.01
    assert geom.hausdorff_distance(s.geometry.iloc[0]) > 1000  # really moved from zone 39 to zone 40


def test_the_stores_crs_never_overrides_a_files_own(store_url, street47):
    s, d = street47
    open_store(store_url, crs="EPSG:4548").close()
    _import(store_url, "--crs", "EPSG:4548", "import", "streets", str(d / "street.gpkg"))
    srid, geom = _stored(store_url)
    assert srid == 4548
    assert geom.hausdorff_distance(_moved(s.geometry.iloc[0], "EPSG:4547", "EPSG:4548")) < 0.01


def test_stored_srid(store_url, tmp_path):
    if store_url.startswith("sqlite"):
        assert stored_srid(tmp_path / "missing.sqlite") is None
        (tmp_path / "empty.sqlite").touch()
        with pytest.raises(StoreError, match="empty"):  # refused as open_store refuses it
            stored_srid(tmp_path / "empty.sqlite")
        assert not (tmp_path / "missing.sqlite").exists()
    assert stored_srid(store_url) is None  # a fresh database (PostGIS: an empty schema)
    open_store(store_url, crs="EPSG:4547").close()
    assert stored_srid(store_url) == 4547
