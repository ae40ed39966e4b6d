"""``gridmap.io.dispatch.import_any`` over SpatiaLite and PostGIS: one entry point that picks the importer a
layer needs (aliases resolved; a district given as a code with no such file is its real outline; a file is read
as a file), with the same results as calling the importer itself."""

from __future__ import annotations

import geopandas as gpd
import pytest

from gridmap.errors import GridmapError, UsageError
from gridmap.io import import_file
from gridmap.io.dispatch import import_any, is_outline_code, layer_name
from gridmap.testing.maps import sample_layers


@pytest.fixture(scope="module")
def streets_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("dispatch") / "streets.gpkg"
    sample_layers(nx_streets=2, ny_streets=1, components_per_street=5, complaints_per_street=5)["streets"].to_file(path)
    return path


def test_layer_names():
    assert [layer_name(n) for n in ("street", "buildings", "cells", "complaint")] == ["streets", "compounds",
                                                                                      "cells", "complaints"]
    with pytest.raises(UsageError, match="did you mean: streets"):
        layer_name("stretes")


def test_a_district_code_is_an_outline_only_when_no_such_file_exists(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert is_outline_code("districts", "110101") and is_outline_code("districts", " 110101 ")
    assert not is_outline_code("streets", "110101")
    (tmp_path / "110101").write_text("not a vector file")
    assert not is_outline_code("districts", "110101")


def test_import_any_is_the_layers_importer(store, streets_file):
    res = import_any(store, "street", streets_file)
    assert (res.layer, res.written) == ("streets", 2)
    direct = import_file(store, "streets", streets_file, dry_run=True)
    assert (direct.read, direct.would_write) == (res.read, 0)  # both rows already stored: same importer, same keys
    stored = store.read("streets")
    assert sorted(stored["code"]) == sorted(gpd.read_file(streets_file)["code"])


def test_a_file_named_like_a_code_is_read_as_a_file(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "110101").write_text("not a vector file")
    with pytest.raises(GridmapError, match="110101"):
        import_any(store, "district", "110101")
    assert store.count("districts") == 0
