"""The real Dongcheng outline from the optional geotool-cn package (skipped, with the reason, when not installed)."""

from __future__ import annotations

import pytest

from gridmap.io.outlines import OutlinesUnavailable, district_outline, outlines_available


def test_dongcheng_outline_area_and_licence(store):
    pytest.importorskip("GeoToolCN", reason="geotool-cn is not installed (optional: pip install geotool-cn); "
                                            "the real Dongcheng outline comes from it")
    from gridmap.io import import_outline

    res = import_outline(store, "110101")
    assert res.written == 1
    stored = store.read("districts")
    area_km2 = stored.area.iloc[0] / 1e6
    print(f"Dongcheng (110101) from geotool-cn: {area_km2:.2f} km² (published 41.84 km²)")
    assert stored["name"].tolist() == ["东城区"] and abs(area_km2 - 41.84) < 0.2
    text = str(res)
    assert "仅供学习交流使用" in text and "DataV.GeoAtlas" in text and "km²" in text
    assert district_outline("110101").attrs["licence"].startswith("DataV.GeoAtlas")


def test_without_geotool_cn_the_message_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "GeoToolCN", None)  # import GeoToolCN now raises ImportError
    assert not outlines_available()
    with pytest.raises(OutlinesUnavailable, match="pip install geotool-cn"):
        district_outline("110101")
