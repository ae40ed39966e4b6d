"""SpatiaLite bulk loads into an empty table build the R*Tree on a second thread: the tree must be exactly the one
``CreateSpatialIndex`` builds, and any doubt (other ids, rows already there) must fall back to it."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import shapely

from gridmap.store import open_store
from gridmap.store.rtree_build import PrebuiltRTree
from tests.store.test_backends import complaints_frame

SHADOWS = ("node", "rowid", "parent")


def _tree(raw):
    return {s: raw.execute(f"SELECT * FROM idx_complaints_geom_{s} ORDER BY 1").fetchall() for s in SHADOWS}


def _triggers(raw):
    return sorted(r[0] for r in raw.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                                            "AND tbl_name = 'complaints'"))


def _reference(raw):
    """The tree, triggers and checks SpatiaLite's own CreateSpatialIndex gives on the same rows (rolled back)."""
    raw.execute("SAVEPOINT ref")
    raw.execute("SELECT DisableSpatialIndex('complaints', 'geom')")
    raw.execute("DROP TABLE idx_complaints_geom")
    raw.execute("SELECT CreateSpatialIndex('complaints', 'geom')")
    got = _tree(raw), _triggers(raw)
    raw.execute("ROLLBACK TO ref")
    raw.execute("RELEASE ref")
    return got


@pytest.fixture
def lite(tmp_path):
    s = open_store(tmp_path / "s.sqlite", crs="EPSG:4548")
    yield s
    s.close()


def _raw(store):
    conn = store.engine.raw_connection()
    return conn, conn.driver_connection


def test_bulk_load_into_empty_table_gives_createspatialindex_tree(lite, caplog):
    conn, raw = _raw(lite)
    before = _triggers(raw)
    conn.close()
    with caplog.at_level(logging.DEBUG, logger="gridmap.store.spatialite"):
        lite.write("complaints", complaints_frame(25_000, seed=11))
    assert "built on a second thread" in caplog.text  # the prebuilt path ran
    conn, raw = _raw(lite)
    try:
        tree, triggers = _tree(raw), _triggers(raw)
        ref_tree, ref_triggers = _reference(raw)
        assert tree == ref_tree and len(tree["rowid"]) == 25_000
        assert triggers == ref_triggers == before  # the suspended insert triggers are back
        assert raw.execute("SELECT rtreecheck('idx_complaints_geom')").fetchone()[0] == "ok"
        assert raw.execute("SELECT CheckSpatialIndex('complaints', 'geom')").fetchone()[0] == 1
    finally:
        conn.close()
    box = (451000, 4418200, 451500, 4418700)
    p = complaints_frame(25_000, seed=11)
    x, y = shapely.get_x(p.geometry.values), shapely.get_y(p.geometry.values)
    assert len(lite.read("complaints", bbox=box)) == ((x >= box[0]) & (x <= box[2]) & (y >= box[1]) &
                                                      (y <= box[3])).sum() > 0
    # later single-row writes maintain the tree through the restored triggers
    one = complaints_frame(1, seed=12)
    one["source_id"] = "X1"
    lite.write("complaints", one)
    conn, raw = _raw(lite)
    try:
        assert raw.execute("SELECT count(*) FROM idx_complaints_geom").fetchone()[0] == 25_001
    finally:
        conn.close()


def test_load_into_a_non_empty_table_rebuilds_the_ordinary_way(lite, caplog):
    lite.write("complaints", complaints_frame(10, seed=13))
    big = complaints_frame(25_000, seed=14)
    big["source_id"] = "N" + big["source_id"]
    with caplog.at_level(logging.DEBUG, logger="gridmap.store.spatialite"):
        lite.write("complaints", big)
    assert "built on a second thread" not in caplog.text
    conn, raw = _raw(lite)
    try:
        assert _tree(raw) == _reference(raw)[0] and len(_tree(raw)["rowid"]) == 25_010
    finally:
        conn.close()


def test_prebuilt_tree_with_other_ids_is_not_installed(lite):
    lite.write("complaints", complaints_frame(25_000, seed=15))  # ids 1 .. 25,000
    geoms = complaints_frame(25_000, seed=15).geometry.values
    conn, raw = _raw(lite)
    try:
        kept = _tree(raw)
        assert not PrebuiltRTree(geoms, first=7, page_size=4096).install(raw, "complaints")
        assert _tree(raw) == kept  # nothing copied
    finally:
        conn.close()
    assert not PrebuiltRTree(np.array([shapely.Point()]), first=1, page_size=4096).usable  # empty: not indexed
