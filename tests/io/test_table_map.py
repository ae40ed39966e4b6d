"""``gridmap import --table-map`` is read by the one field-mapping parser (:func:`gridmap.io.mapping.parse_mapping`,
the one behind ``--map``): the same entries are accepted and refused by both options."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from gridmap.cli import main
from gridmap.store import open_store


def _files(tmp_path):
    comm = gpd.GeoDataFrame({"code": ["110101001001", "110101001002"], "street_code": "110101001",
                             "name": ["甲社区", "乙社区"]},
                            geometry=[shapely.MultiPolygon([shapely.box(446000, 4418000, 447000, 4419000)]),
                                      shapely.MultiPolygon([shapely.box(447000, 4418000, 448000, 4419000)])],
                            crs="EPSG:4548")
    comm.to_file(tmp_path / "c.gpkg")
    pd.DataFrame({"code": ["110101001001", "110101001002"], "户数": [1200, 3400]}).to_csv(tmp_path / "hs.csv",
                                                                                         index=False)
    return tmp_path / "c.gpkg", tmp_path / "hs.csv"


def _run(tmp_path, table_map):
    comm, table = _files(tmp_path)
    db = tmp_path / "g.sqlite"
    rc = main(["--db", str(db), "import", "communities", str(comm), "--table", str(table), "--table-map", table_map])
    return rc, db


def test_table_map_accepts_what_map_accepts(tmp_path, capsys):
    rc, db = _run(tmp_path, "households=户数,")  # a trailing comma, as --map takes it
    assert rc == 0, capsys.readouterr().err
    with open_store(db, mode="read") as store:
        got = store.read("communities").sort_values("code")["households"].tolist()
    assert got == [1200, 3400]


def test_table_map_refuses_an_empty_name_as_map_does(tmp_path, capsys):
    rc, _ = _run(tmp_path, "households=")
    err = capsys.readouterr().err
    assert rc == 2 and "bad --map entry" in err and "empty name" in err and "Traceback" not in err
