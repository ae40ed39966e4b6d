"""Schema versioning: an existing store is migrated in place by the ordered steps, its data intact."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from gridmap.store import migrations, open_store
from gridmap.store.schema import SCHEMA_VERSION

NEXT = SCHEMA_VERSION + 1  # a future version


def test_existing_store_is_migrated_in_place(store_url, monkeypatch):
    s = open_store(store_url)
    c = gpd.GeoDataFrame({"code": ["110199001001"], "street_code": "110199001", "households": [4200]},
                         geometry=[shapely.box(450000, 4418000, 451000, 4419000)], crs=4548)
    s.write("communities", c)
    s.close()

    def v_next(conn, md):  # a future step: a new column on an existing table
        conn.execute(text("ALTER TABLE communities ADD COLUMN grid_officer TEXT"))

    monkeypatch.setattr(migrations, "SCHEMA_VERSION", NEXT)
    monkeypatch.setitem(migrations.MIGRATIONS, NEXT, v_next)
    s2 = open_store(store_url)
    with s2.engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM gridmap_meta WHERE key='schema_version'")).scalar() == str(NEXT)
        row = conn.execute(text("SELECT code, households, grid_officer FROM communities")).one()
    assert tuple(row) == ("110199001001", 4200, None)
    assert s2.read("communities")["households"].tolist() == [4200]
    s2.close()
    # a second open runs no step again
    monkeypatch.setitem(migrations.MIGRATIONS, NEXT, lambda conn, md: pytest.fail("step ran twice"))
    open_store(store_url).close()


def test_failed_migration_leaves_the_store_as_it_was(store_url, monkeypatch):
    open_store(store_url).close()

    def broken(conn, md):
        conn.execute(text("ALTER TABLE communities ADD COLUMN half_done TEXT"))
        raise RuntimeError("disk full")

    monkeypatch.setattr(migrations, "SCHEMA_VERSION", NEXT)
    monkeypatch.setitem(migrations.MIGRATIONS, NEXT, broken)
    with pytest.raises(RuntimeError, match="disk full"):
        open_store(store_url)
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", SCHEMA_VERSION)
    s = open_store(store_url)
    with s.engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM gridmap_meta WHERE key='schema_version'")).scalar() == \
            str(SCHEMA_VERSION)
        cols = list(conn.execute(text("SELECT * FROM communities LIMIT 0")).keys())
    assert "half_done" not in cols
    s.close()
