"""SpatiaLite bulk loads into an empty table write a packed (STR) R*Tree directly: every row must get the box
``CreateSpatialIndex`` gives it, SQLite's and SpatiaLite's own checks must accept the tree, later writes must
maintain it, and any doubt (other ids, rows already there) must fall back to ``CreateSpatialIndex``."""

from __future__ import annotations

import logging
import sqlite3

import numpy as np
import pytest
import shapely

from gridmap.store import open_store
from gridmap.store.rtree_build import PackedRTree, float32_down, float32_up
from tests.store.test_backends import complaints_frame

PACKED = "bulk-loaded (packed)"


def _entries(raw):
    return raw.execute("SELECT * FROM idx_complaints_geom ORDER BY pkid").fetchall()


def _triggers(raw):
    return sorted(r[0] for r in raw.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                                            "AND tbl_name = 'complaints'"))


def _reference(raw):
    """Leaf entries and triggers SpatiaLite's own CreateSpatialIndex gives on the same rows (rolled back)."""
    raw.execute("SAVEPOINT ref")
    raw.execute("SELECT DisableSpatialIndex('complaints', 'geom')")
    raw.execute("DROP TABLE idx_complaints_geom")
    raw.execute("SELECT CreateSpatialIndex('complaints', 'geom')")
    got = _entries(raw), _triggers(raw)
    raw.execute("ROLLBACK TO ref")
    raw.execute("RELEASE ref")
    return got


def _checks(raw):
    return (raw.execute("SELECT rtreecheck('idx_complaints_geom')").fetchone()[0],
            raw.execute("SELECT CheckSpatialIndex('complaints', 'geom')").fetchone()[0])


@pytest.fixture
def lite(tmp_path):
    s = open_store(tmp_path / "s.sqlite", crs="EPSG:4548")
    yield s
    s.close()


class _Raw:
    def __init__(self, store):
        self.conn = store.engine.raw_connection()

    def __enter__(self):
        return self.conn.driver_connection

    def __exit__(self, *exc):
        self.conn.close()


def _in_box(p, box):
    x, y = shapely.get_x(p.geometry.values), shapely.get_y(p.geometry.values)
    return int(((x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])).sum())


def test_float32_rounding_is_sqlites():
    rng = np.random.default_rng(3)
    d = np.concatenate([rng.uniform(-5e6, 5e6, 2000), rng.uniform(-1, 1, 500), [0.0, 1.0, -1.0, 440000.123456]])
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE r USING rtree(id, x0, x1)")
    db.executemany("INSERT INTO r VALUES (?, ?, ?)", [(i, float(v), float(v)) for i, v in enumerate(d)])
    got = np.array(db.execute("SELECT x0, x1 FROM r ORDER BY id").fetchall())
    assert (got[:, 0] == float32_down(d)).all() and (got[:, 1] == float32_up(d)).all()
    assert (float32_down(d) <= d).all() and (float32_up(d) >= d).all()


def test_bulk_load_into_empty_table_writes_a_valid_packed_tree(lite, caplog):
    with _Raw(lite) as raw:
        before = _triggers(raw)
    p = complaints_frame(25_000, seed=11)
    with caplog.at_level(logging.DEBUG, logger="gridmap.store.spatialite"):
        lite.write("complaints", p)
    assert PACKED in caplog.text  # the packed path ran
    with _Raw(lite) as raw:
        entries, triggers = _entries(raw), _triggers(raw)
        ref_entries, ref_triggers = _reference(raw)
        assert entries == ref_entries and len(entries) == 25_000  # every row, with SpatiaLite's own box
        assert triggers == ref_triggers == before  # the suspended insert triggers are back
        assert _checks(raw) == ("ok", 1)
        depth = int.from_bytes(raw.execute("SELECT data FROM idx_complaints_geom_node WHERE nodeno = 1")
                               .fetchone()[0][:2], "big")
        assert depth == 2  # 25,000 rows in nodes of 51: 491 leaves, 10 nodes, the root
    for box in [(451000, 4418200, 451500, 4418700), (450000, 4418000, 450010, 4418010),
                (449000, 4417000, 454000, 4420000)]:
        assert len(lite.read("complaints", bbox=box)) == _in_box(p, box)
    # later writes maintain the tree: one insert (through the restored triggers), deletes, then a check
    one = complaints_frame(1, seed=12)
    one["source_id"] = "X1"
    lite.write("complaints", one)
    with _Raw(lite) as raw:
        raw.execute("DELETE FROM complaints WHERE id % 3 = 0")
        raw.commit()
        assert raw.execute("SELECT count(*) FROM idx_complaints_geom").fetchone()[0] == 25_001 - 25_000 // 3
        assert _checks(raw) == ("ok", 1)


def test_load_into_a_non_empty_table_rebuilds_the_ordinary_way(lite, caplog):
    lite.write("complaints", complaints_frame(10, seed=13))
    big = complaints_frame(25_000, seed=14)
    big["source_id"] = "N" + big["source_id"]
    with caplog.at_level(logging.DEBUG, logger="gridmap.store.spatialite"):
        lite.write("complaints", big)
    assert PACKED not in caplog.text
    with _Raw(lite) as raw:
        assert _entries(raw) == _reference(raw)[0] and len(_entries(raw)) == 25_010
        assert _checks(raw) == ("ok", 1)


def test_packed_tree_with_other_ids_is_not_installed(lite):
    lite.write("complaints", complaints_frame(25_000, seed=15))  # ids 1 .. 25,000
    geoms = complaints_frame(25_000, seed=15).geometry.values
    with _Raw(lite) as raw:
        kept = _entries(raw)
        assert not PackedRTree(geoms, first=7).install(raw, "complaints", inserted=25_000)
        assert not PackedRTree(geoms, first=1).install(raw, "complaints", inserted=24_999)  # a row short
        assert _entries(raw) == kept  # nothing written
    assert not PackedRTree(np.array([shapely.Point()]), first=1).usable  # empty geometry: not indexed


def test_point_blobs_are_spatialites_own_encoding(lite):
    """The points a bulk load sends as ready-made BLOB-Geometry equal what SpatiaLite's GeomFromWKB makes of the
    same points, byte for byte (negative, zero, large and tiny coordinates); other geometries are left to WKB."""
    from gridmap.store.spatialite import point_blobs

    rng = np.random.default_rng(3)
    xy = np.r_[rng.uniform(-1e7, 1e7, (200, 2)), [[0.0, -0.0], [1e-300, -1e300], [448123.123456789, 4.4e6]]]
    geoms = shapely.points(xy)
    blobs = point_blobs(geoms, 4548)
    with _Raw(lite) as raw:
        want = [raw.execute("SELECT GeomFromWKB(?, 4548)", (w,)).fetchone()[0]
                for w in shapely.to_wkb(geoms, byte_order=1)]
        assert blobs == want
        assert raw.execute("SELECT AsText(?), ST_SRID(?)", (blobs[-1], blobs[-1])).fetchone() == \
            ("POINT(448123.123457 4400000)", 4548)
    assert point_blobs(np.array([shapely.Point(1, 2, 3)]), 4548) is None
    assert point_blobs(np.array([shapely.Point(1, 2), shapely.Point()]), 4548) is None
    assert point_blobs(np.array([shapely.box(0, 0, 1, 1)]), 4548) is None
