"""Maps from the store through one workflow (``gridmap.maps.service``) over SpatiaLite and PostGIS: the HTML
``gridmap map`` and ``gridmap locate --html`` write is byte for byte the service's map; shared maps read no
complaint text; :class:`MapOptions` draws exactly what the same keywords draw; a built map's privacy and
allowed image hosts are a public :class:`PagePolicy`, with nothing patched onto ``folium.Map``."""

from __future__ import annotations

import dataclasses

import pytest

from gridmap.maps import MapOptions, PagePolicy, Privacy, build_map, page_policy, to_html, write_map
from gridmap.testing.maps import sample_layers
from gridmap.maps.service import locate_map, map_from_store, read_map_layers
from gridmap.store import open_store

from tests.maps.test_cli import STREET, _fill, _run

pytestmark = pytest.mark.usefixtures("map_assets")  # the offline bundle (tests/maps/conftest.py)


def test_the_map_command_writes_the_service_map(store_url, tmp_path, capsys, layers):
    _fill(open_store(store_url, crs="EPSG:4548"), layers)
    warn = ["--warn-from", "2024-06-15", "--warn-to", "2024-06-29", "--keywords", "漏雨"]
    rc, out, err = _run(capsys, "map", "--db", store_url, "--street", STREET, "--privacy", "internal", *warn,
                        "-o", tmp_path / "cli.html")
    assert rc == 0, err
    store = open_store(store_url, mode="read")
    made = map_from_store(store, street=STREET, privacy="internal", warn_from="2024-06-15", warn_to="2024-06-29",
                          keywords="漏雨")
    write_map(made.map, tmp_path / "service.html")
    assert (tmp_path / "cli.html").read_bytes() == (tmp_path / "service.html").read_bytes()
    assert made.privacy is Privacy.INTERNAL and page_policy(made.map).privacy is Privacy.INTERNAL
    assert f"{len(made.warning.alerts)} alert(s)" in out and len(made.warning.alerts) > 0
    assert "internal map" in out

    rc, out, err = _run(capsys, "map", "--db", store_url, "-o", tmp_path / "district.html")
    assert rc == 0, err
    assert (tmp_path / "district.html").read_text(encoding="utf-8") == to_html(map_from_store(store).map)
    assert "shared map" in out


def test_shared_maps_read_no_complaint_text(store, layers):
    _fill(store, layers)
    shared = read_map_layers(store, street=STREET)
    assert list(shared["complaints"].columns) == ["street_code", "community_code", "geometry"]
    assert set(shared["complaints"]["street_code"]) == {STREET}
    assert set(shared["components"]["street_code"]) == {STREET}
    assert len(shared["complaints"]) == int((layers["complaints"]["street_code"] == STREET).sum())
    internal = read_map_layers(store, privacy="internal")
    assert list(internal["complaints"].columns) == ["street_code", "community_code", "category", "text",
                                                    "geometry"]
    assert len(internal["complaints"]) == len(layers["complaints"])


def test_locate_html_is_the_service_map(store_url, tmp_path, capsys, layers):
    _fill(open_store(store_url, crs="EPSG:4548"), layers)
    code = str(layers["components"]["code"].iloc[0])
    rc, _, err = _run(capsys, "locate", "--db", store_url, "--district", "110101", code, "--html",
                      tmp_path / "c.html")
    assert rc == 0, err
    store = open_store(store_url, mode="read")
    html = to_html(locate_map(store, code, district_code="110101"))
    assert (tmp_path / "c.html").read_text(encoding="utf-8") == html
    assert code in html


@pytest.fixture(scope="module")
def small():
    d = sample_layers(nx_streets=1, ny_streets=2, components_per_street=50, complaints_per_street=300)
    return {k: d[k] for k in ("communities", "streets", "cells", "components", "complaints")}


def test_map_options_draw_what_the_keywords_draw(small):
    opts = MapOptions(privacy="internal", scale="community", min_count=5, title="标题 title")
    assert opts.privacy is Privacy.INTERNAL
    assert to_html(build_map(**small, options=opts)) == to_html(build_map(**small, privacy="internal",
                                                                          scale="community", min_count=5,
                                                                          title="标题 title"))
    # a keyword overrides the options it is given with
    assert to_html(build_map(**small, options=opts, privacy="shared")) == to_html(
        build_map(**small, scale="community", min_count=5, title="标题 title"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.privacy = "shared"  # type: ignore[misc]
    with pytest.raises(TypeError, match="unknown map option.*min_cout.*min_count"):
        build_map(**small, min_cout=5)


def test_a_maps_policy_is_public_and_nothing_is_patched_onto_folium(small):
    m = build_map(**small, basemap="osm", offline=False)
    policy = page_policy(m)
    assert isinstance(policy, PagePolicy)
    assert policy.privacy is Privacy.SHARED and policy.key_embedded is False
    assert policy.img_src[0] == "data:" and any("openstreetmap" in h for h in policy.img_src[1:])
    assert "img-src " + " ".join(policy.img_src) + ";" in to_html(m)
    assert [k for k in vars(m) if k.startswith("_gridmap")] == []
    assert page_policy(build_map(**small, privacy="internal")).privacy is Privacy.INTERNAL
