"""CRS rules: the validator, axis order pinned to Tiananmen (checked against GDAL), GCJ-02/BD-09 round trips."""

from __future__ import annotations

import shutil
import subprocess

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely import Point

from gridmap.crs import (LonLatSystem, bd09_to_gcj02, bd09_to_wgs84, check_crs, check_lonlat_order, gcj02_to_bd09,
                         gcj02_to_wgs84, parse_crs, to_wgs84_xy, to_working_xy, wgs84_to_bd09, wgs84_to_gcj02,
                         working_crs)
from gridmap.errors import CRSError

TIANANMEN = (116.397477, 39.908692)
GEOD = Geod(ellps="WGS84")


def metres(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


@pytest.mark.skipif(shutil.which("gdaltransform") is None, reason="GDAL not installed")
def test_axis_order_pinned_against_gdal():
    out = subprocess.run(["gdaltransform", "-s_srs", "EPSG:4326", "-t_srs", "EPSG:4548", "-output_xy"],
                         input=f"{TIANANMEN[0]} {TIANANMEN[1]}\n", capture_output=True, text=True, check=True)
    gx, gy = map(float, out.stdout.split()[:2])
    x, y = to_working_xy([TIANANMEN[0]], [TIANANMEN[1]])
    assert abs(x[0] - gx) < 1e-3 and abs(y[0] - gy) < 1e-3
    # easting west of the 117E central meridian (false easting 500 km), northing ~4420 km
    assert 440_000 < x[0] < 460_000 and 4_410_000 < y[0] < 4_430_000
    lon, lat = to_wgs84_xy(x, y)
    assert metres(lon[0], lat[0], *TIANANMEN) < 1e-6


# Published test vectors of two independent open implementations (values as printed in their tests):
# googollee/eviltransform (Python tests: wgsLat, wgsLng -> gcjLat, gcjLng) and wandergis/coordtransform
# (test/app.js, at 116.404, 39.915).
EVILTRANSFORM_WGS_GCJ = [(31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),   # Shanghai
                         (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),    # Shenzhen
                         (39.911954, 116.377817, 39.91334545536069, 116.38404722455657)]    # Beijing


def test_forward_formulas_match_published_vectors():
    from gridmap.crs import bd09_to_gcj02, gcj02_to_bd09, wgs84_to_gcj02

    for wlat, wlon, glat, glon in EVILTRANSFORM_WGS_GCJ:
        lon, lat = wgs84_to_gcj02(wlon, wlat)
        assert abs(float(np.squeeze(lon)) - glon) < 1e-9 and abs(float(np.squeeze(lat)) - glat) < 1e-9
    lon, lat = wgs84_to_gcj02(116.404, 39.915)
    assert np.allclose([np.squeeze(lon), np.squeeze(lat)], [116.41024449916938, 39.91640428150164], atol=1e-9)
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert np.allclose([np.squeeze(lon), np.squeeze(lat)], [116.41036949371029, 39.92133699351021], atol=1e-9)
    lon, lat = bd09_to_gcj02(116.404, 39.915)
    assert np.allclose([np.squeeze(lon), np.squeeze(lat)], [116.39762729119315, 39.90865673957631], atol=1e-9)


def test_gcj02_shift_magnitude_at_tiananmen():
    glon, glat = wgs84_to_gcj02(*TIANANMEN)
    d = metres(*TIANANMEN, float(glon), float(glat))
    assert 500 < d < 620  # the GCJ-02 shift at Tiananmen is about 556 m
    assert glon > TIANANMEN[0] and glat > TIANANMEN[1]  # towards the east-north-east


def _beijing_grid(n=60):
    lon, lat = np.meshgrid(np.linspace(115.42, 117.51, n), np.linspace(39.44, 41.06, n))
    return lon.ravel(), lat.ravel()


@pytest.mark.parametrize("forward,inverse", [(wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84),
                                             (gcj02_to_bd09, bd09_to_gcj02)])
def test_round_trip_below_half_a_metre_across_beijing(forward, inverse):
    lon, lat = _beijing_grid()
    back = inverse(*forward(lon, lat))
    err = metres(lon, lat, back[0], back[1])
    assert err.max() < 0.5
    assert err.max() < 1e-3  # in fact far below a millimetre


@settings(max_examples=200, deadline=None)
@given(st.floats(115.4, 117.5), st.floats(39.4, 41.1))
def test_inverse_is_exact_for_any_point(lon, lat):
    for fwd, inv in ((wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84)):
        blon, blat = inv(*fwd(lon, lat))
        assert metres(lon, lat, float(blon), float(blat)) < 0.01


def test_validator_messages():
    g = gpd.GeoDataFrame(geometry=[Point(116.4, 39.9)])
    with pytest.raises(CRSError, match="has no CRS.*set_crs"):
        check_crs(g, where="complaints")
    with pytest.raises(CRSError, match="EPSG:4326 but EPSG:4548 is expected.*to_crs"):
        check_crs(g.set_crs(4326), where="cells", expected="EPSG:4548")
    with pytest.raises(CRSError, match="geographic EPSG:4326; this operation works in metres"):
        check_crs(g.set_crs(4326), where="density", metric=True)
    assert check_crs(g.set_crs(4548), where="x", expected=4548, metric=True).to_epsg() == 4548


def test_working_crs_rules(monkeypatch):
    assert working_crs().to_epsg() == 4548
    monkeypatch.setenv("GRIDMAP_CRS", "EPSG:32650")
    assert working_crs().to_epsg() == 32650
    with pytest.raises(CRSError, match="must be projected"):
        working_crs("EPSG:4490")
    with pytest.raises(CRSError, match="cannot understand"):
        parse_crs("EPSG:99999999")


def test_lonlat_checks_and_system_names():
    with pytest.raises(CRSError, match="swapped"):
        check_lonlat_order([39.9, 39.91], [116.4, 116.41])
    with pytest.raises(CRSError, match="not lon/lat degrees"):
        check_lonlat_order([452000.0], [4418000.0])
    check_lonlat_order([116.4], [39.9])
    assert LonLatSystem.parse("Amap") is LonLatSystem.GCJ02
    assert LonLatSystem.parse("BD-09") is LonLatSystem.BD09
    with pytest.raises(CRSError, match="unknown lon/lat"):
        LonLatSystem.parse("mars")
