"""Data safety of the store (concurrent writers, 64-bit counts, implausible households), on both backends.

* Integers that fit: household and population counts are 64-bit (PostGIS stored 3,000,000,000 as
  -1,294,967,296), imports reject counts that are not whole, negative or beyond 64 bits, and implausible ones
  (per community or compound, per km² of its area) unless ``--allow-implausible`` turns them into warnings.
* Concurrent writers: two imports at once both succeed (one waits), no traceback; a reader answers within 1 s
  while an import holds its transaction open; a writer that cannot get the lock says so clearly.
* Serials: a component coded 9999 no longer blocks its class; new components get the lowest free serials and the
  import says how many remain.

The concurrency tests run real processes (``subprocess``) against the same store file or PostGIS schema.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from gridmap.cli import main
from gridmap.io.components import import_components
from gridmap.errors import StoreError, ValidationError
from gridmap.io import import_frame
from gridmap.store import open_store

from tests.codes.test_components import components_csv, lonlat_of, seed_store

CRS = "EPSG:4548"
STREET = "110199001"


def _base(store):
    """A district and a street, so communities have their parents."""
    store.write("districts", gpd.GeoDataFrame({"code": ["110199"], "name": ["示范区"]},
                                              geometry=[shapely.box(450000, 4418000, 452000, 4420000)], crs=CRS))
    store.write("streets", gpd.GeoDataFrame({"code": [STREET], "district_code": ["110199"], "name": ["示范街道"]},
                                            geometry=[shapely.box(450000, 4418000, 452000, 4420000)], crs=CRS))


def _communities(households, *, side_m=40.0, population=None):
    """One community per value, each a side_m × side_m square (the issue's 40 m × 40 m)."""
    n = len(households)
    data = {"code": [f"{STREET}{i + 1:03d}" for i in range(n)], "street_code": STREET,
            "name": [f"社区{i}" for i in range(n)], "households": pd.Series(list(households), dtype=object)}
    if population is not None:
        data["population"] = pd.Series(list(population), dtype=object)
    return gpd.GeoDataFrame(data, geometry=[shapely.box(450000 + i * 100, 4418000, 450000 + i * 100 + side_m,
                                                        4418000 + side_m) for i in range(n)], crs=CRS)


def _raw_households(store):
    with store.engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(text("SELECT code, households FROM communities"))}


# -- integers that fit ----------------------------------------------------------------------------------------


def test_huge_household_counts_are_stored_exactly_when_allowed(store):
    """3,000,000,000 and 10**12 households round-trip exactly on both backends (PostGIS wrapped them in int4)."""
    _base(store)
    frame = _communities([3_000_000_000, 10 ** 12, 1500], side_m=400.0,
                         population=[7_000_000_000, 2_310_000_000_000, 3465])
    res = import_frame(store, "communities", frame, allow_implausible=True)
    assert res.written == 3 and not res.rejected, str(res)
    # each implausible value is a warning naming its row and field (the third, 1,500 on 0.16 km², is plausible)
    assert len(res.warnings) == 4 and all("implausible" in w for w in res.warnings), res.warnings
    assert {w.split(":")[0] for w in res.warnings} == {"row 0, households", "row 1, households",
                                                      "row 0, population", "row 1, population"}
    assert _raw_households(store) == {f"{STREET}001": 3_000_000_000, f"{STREET}002": 10 ** 12, f"{STREET}003": 1500}
    back = store.read("communities").set_index("code")
    assert back["households"].tolist() == [3_000_000_000, 10 ** 12, 1500]
    assert back["population"].tolist() == [7_000_000_000, 2_310_000_000_000, 3465]
    if store.backend == "postgis":
        with store.engine.connect() as conn:
            types = dict(conn.execute(text(
                "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND column_name IN ('households', 'population')")).all())
        assert types == {f"{t}.{c}": "bigint" for t in ("communities", "compounds")
                         for c in ("households", "population")}


def test_implausible_counts_are_rejected_with_reasons(store):
    """A 40 m × 40 m community with 3e9 or 1e12 households is a rejected row, with the reason."""
    _base(store)
    frame = _communities([3_000_000_000, 10 ** 12, 1000, 90], side_m=40.0)
    res = import_frame(store, "communities", frame)
    reasons = {p.row: p.reason for p in res.rejected}
    assert res.written == 1 and sorted(reasons) == [0, 1, 2], str(res)
    assert reasons[0].startswith("implausible: 3,000,000,000 households in one community (more than 100,000)")
    assert reasons[1].startswith("implausible: 1,000,000,000,000 households in one community")
    # 1,000 households on 0.0016 km² is 625,000 a km²: beyond the density bound (60,000 a km²)
    assert reasons[2].startswith("implausible: 625,000 households per km² on 0.0016 km² (more than 60,000/km²)")
    assert all("--allow-implausible" in r for r in reasons.values())
    # 90 households on 40 m × 40 m (56,250 a km²) is dense but possible: written
    assert _raw_households(store) == {f"{STREET}004": 90}
    # compounds: a per-compound bound too (a building may be dense, but not 3e9 households)
    comp = gpd.GeoDataFrame({"code": ["C1", "C2"], "community_code": f"{STREET}004", "kind": "building",
                             "households": [3_000_000_000, 240]},
                            geometry=[shapely.box(450300, 4418000, 450340, 4418040)] * 2, crs=CRS)
    res = import_frame(store, "compounds", comp)
    assert res.written == 1 and [(p.row, p.field) for p in res.rejected] == [(0, "households")]
    assert "implausible: 3,000,000,000 households in one compound" in res.rejected[0].reason


def test_counts_that_are_not_whole_negative_or_beyond_64_bits_are_rejected(store):
    """Never rounded, never wrapped, never a crash: each bad count is a rejected row with its reason (2**70 used
    to raise a TypeError from pandas; 1,000,000.5 used to pass the float tolerance)."""
    _base(store)
    frame = _communities([12.5, -3, 2 ** 70, "9223372036854775808", "1e3", 1_000_000.5, "abc", 2000], side_m=400.0)
    res = import_frame(store, "communities", frame, allow_implausible=True)  # range checks are not waivable
    reasons = {p.row: p.reason for p in res.rejected}
    assert reasons == {
        0: "must be a whole number", 1: "must not be negative",
        2: "too large: beyond the 64-bit range a store holds (9,223,372,036,854,775,807); it would overflow",
        3: "too large: beyond the 64-bit range a store holds (9,223,372,036,854,775,807); it would overflow",
        5: "must be a whole number", 6: "must be a whole number"}, str(res)
    assert res.written == 2
    assert sorted(_raw_households(store).values()) == [1000, 2000]


def test_direct_writes_refuse_values_that_would_wrap(store):
    """Store.write (no importer in between) checks each integer column's range on both backends."""
    _base(store)
    bad = _communities([2 ** 63], side_m=400.0)
    with pytest.raises(ValidationError) as err:
        store.write("communities", bad)
    (prob,) = err.value.problems
    assert prob.field == "households" and "out of range for a 64-bit whole number" in prob.reason
    ok = _communities([2 ** 63 - 1], side_m=400.0)
    assert store.write("communities", ok) == 1
    assert _raw_households(store) == {f"{STREET}001": 2 ** 63 - 1}
    # a 32-bit column (cells.ix) refuses what PostGIS int4 cannot hold, on SpatiaLite too
    cells = gpd.GeoDataFrame({"code": [f"{STREET}001001"], "community_code": f"{STREET}001", "ix": [2 ** 31],
                              "iy": [0], "area_m2": [1.0]}, geometry=[shapely.box(450000, 4418000, 450001, 4418001)],
                             crs=CRS)
    with pytest.raises(ValidationError, match="out of range for a 32-bit whole number"):
        store.write("cells", cells)
    assert store.count("cells") == 0


def test_communities_flag_works_on_3e9_households(store_url, tmp_path, capsys):
    """After `gridmap import communities --allow-implausible`, `gridmap communities flag` runs on PostGIS too
    (it failed for the whole store once the value had wrapped negative)."""
    s = open_store(store_url, crs=CRS)
    _base(s)
    s.close()
    path = tmp_path / "sq.gpkg"
    _communities([3_000_000_000, 1500], side_m=400.0).astype({"households": "int64"}).to_file(
        path, driver="GPKG", engine="pyogrio")
    assert main(["--db", store_url, "import", "communities", str(path)]) == 0  # the 3e9 row rejected without the flag (the other written: done, exit 0)
    out = capsys.readouterr().out
    assert "1 written, 1 rejected" in out and "implausible: 3,000,000,000 households" in out
    s = open_store(store_url)
    s.clear(["communities"])
    s.close()
    assert main(["--db", store_url, "import", "communities", str(path), "--allow-implausible"]) == 0
    out = capsys.readouterr().out
    assert "2 written, 0 rejected" in out and "warning: row 0, households: implausible" in out
    assert main(["--db", store_url, "communities", "flag", "--list", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    text_report = json.dumps(report, ensure_ascii=False)
    assert "3000000000" in text_report and "-1294967296" not in text_report
    s = open_store(store_url)
    assert _raw_households(s)[f"{STREET}001"] == 3_000_000_000
    s.close()


def test_migration_widens_int4_counts_of_an_old_postgis_store(postgis_url):
    """A version-1 PostGIS store (int4 counts) is migrated to bigint in place; stored values survive."""
    s = open_store(postgis_url, crs=CRS)
    _base(s)
    s.write("communities", _communities([2_000_000_000, 1500], side_m=400.0,
                                        population=[2_147_483_647, 3465]))
    s.write("compounds", gpd.GeoDataFrame({"code": ["C1"], "community_code": f"{STREET}001", "households": [321],
                                           "population": [700]},
                                          geometry=[shapely.box(450000, 4418000, 450040, 4418040)], crs=CRS))
    with s.engine.begin() as conn:  # make it what gridmap 1 left: integer columns, schema version 1
        for t in ("communities", "compounds"):
            conn.execute(text(f"ALTER TABLE {t} ALTER COLUMN households TYPE integer, "
                              "ALTER COLUMN population TYPE integer"))
        conn.execute(text("UPDATE gridmap_meta SET value = '1' WHERE key = 'schema_version'"))
    s.close()
    s = open_store(postgis_url)
    with s.engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM gridmap_meta WHERE key = 'schema_version'")).scalar() == "2"
        types = set(conn.execute(text(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND column_name IN ('households', 'population')")).scalars())
    assert types == {"bigint"}
    back = s.read("communities")
    assert back["households"].tolist() == [2_000_000_000, 1500]
    assert back["population"].tolist() == [2_147_483_647, 3465]
    assert s.read("compounds")[["households", "population"]].values.tolist() == [[321, 700]]
    # and now 3e9 fits
    s.write("communities", _communities([0, 0, 3_000_000_000], side_m=400.0).iloc[[2]])
    assert _raw_households(s)[f"{STREET}003"] == 3_000_000_000
    s.close()


def test_migration_step_is_a_no_op_on_spatialite_but_the_version_advances(tmp_path):
    path = tmp_path / "old.sqlite"
    s = open_store(path, crs=CRS)
    _base(s)
    s.write("communities", _communities([3_000_000_000], side_m=400.0))
    with s.engine.begin() as conn:
        conn.execute(text("UPDATE gridmap_meta SET value = '1' WHERE key = 'schema_version'"))
    s.close()
    s = open_store(path)
    with s.engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM gridmap_meta WHERE key = 'schema_version'")).scalar() == "2"
    assert _raw_households(s) == {f"{STREET}001": 3_000_000_000}
    s.close()


# -- concurrent writers ---------------------------------------------------------------------------------------

_IMPORT = textwrap.dedent("""
    import os, sys, time
    import geopandas as gpd, numpy as np, pandas as pd
    from gridmap.io import import_frame
    from gridmap.store import open_store

    url, prefix, n, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    rng = np.random.default_rng(ord(prefix))
    frame = gpd.GeoDataFrame(
        {"source_id": [f"{prefix}{i:07d}" for i in range(n)],
         "received_at": pd.Timestamp("2025-06-01") + pd.to_timedelta(rng.integers(0, 86400 * 30, n), unit="s"),
         "category": "房屋漏雨"},
        geometry=gpd.points_from_xy(rng.uniform(450000, 452000, n), rng.uniform(4418000, 4420000, n)), crs=4548)
    store = open_store(url)
    while time.time() < start_at:  # both processes start their import at the same moment
        time.sleep(0.005)
    t0 = time.monotonic()
    res = import_frame(store, "complaints", frame)
    print(res.written, len(res.rejected), round(time.monotonic() - t0, 2), flush=True)
    store.close()
""")

_HOLD = textwrap.dedent("""
    import os, sys, time
    import geopandas as gpd, numpy as np, pandas as pd
    from gridmap.store import open_store

    url, n, hold_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    release = sys.argv[4] if len(sys.argv) > 4 else None  # hold until this file exists (at most hold_s)
    rng = np.random.default_rng(7)
    frame = gpd.GeoDataFrame(
        {"source_id": [f"H{i:07d}" for i in range(n)],
         "received_at": pd.Timestamp("2025-06-01") + pd.to_timedelta(rng.integers(0, 86400 * 30, n), unit="s"),
         "category": "房屋漏雨"},
        geometry=gpd.points_from_xy(rng.uniform(450000, 452000, n), rng.uniform(4418000, 4420000, n)), crs=4548)
    store = open_store(url)
    with store.transaction() as tx:
        if store.backend == "spatialite":
            # an import larger than the page cache (as a city-scale load is): SQLite writes pages to the database
            # before the commit, which in the old rollback-journal mode locked every reader out
            tx.connection.driver_connection.execute("PRAGMA cache_size=-500")
        store.write("complaints", frame, connection=tx)
        print("loaded", flush=True)
        deadline = time.monotonic() + hold_s
        while time.monotonic() < deadline and not (release and os.path.exists(release)):
            time.sleep(0.05)
    print("committed", flush=True)
    store.close()
""")


def _env():
    env = dict(os.environ)
    env.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2]) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _wait_for_line(proc, expected, timeout_s=120.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == expected:
            return
        if not line and proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"the writer never printed {expected!r}: {proc.stderr.read()[-3000:]}")


def _read_until(stream, expected, timeout_s=120.0):
    """Lines read from ``stream`` up to and including the first that contains ``expected`` (all of them if it
    never comes: the caller's assertion then shows what was said)."""
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        seen.append(line)
        if expected in line or not line:
            break
    return "".join(seen)


@pytest.mark.slow
def test_two_imports_at_once_both_succeed(store_url, tmp_path):
    """Two processes import 25,000 complaints each into the same store at the same moment (the bulk path):
    both succeed, one after the other, without a traceback, and every row is there once."""
    open_store(store_url, crs=CRS).close()
    script = tmp_path / "imp.py"
    script.write_text(_IMPORT, encoding="utf-8")
    n = 25_000
    start_at = time.time() + 6.0  # after both interpreters have loaded gridmap
    procs = [subprocess.Popen([sys.executable, str(script), store_url, prefix, str(n), str(start_at)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
             for prefix in ("A", "B")]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and "Traceback" not in err, err[-3000:]
        written, rejected, _ = out.split()
        assert (int(written), int(rejected)) == (n, 0)
    s = open_store(store_url)
    assert s.count("complaints") == 2 * n
    ids = s.read("complaints", columns=["source_id"])["source_id"]
    assert ids.is_unique and ids.str[0].value_counts().to_dict() == {"A": n, "B": n}
    s.close()


@pytest.mark.slow
def test_reader_answers_within_a_second_while_an_import_is_open(store_url, tmp_path):
    """While another process holds a 30,000-row load uncommitted (the bulk path), opening the store, counting
    every layer (`gridmap info`) and a box read each answer within 1 s and see the last committed state."""
    s = open_store(store_url, crs=CRS)
    _base(s)
    s.close()
    script = tmp_path / "hold.py"
    script.write_text(_HOLD, encoding="utf-8")
    n, hold = 30_000, 4.0
    proc = subprocess.Popen([sys.executable, str(script), store_url, str(n), str(hold)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())
    _wait_for_line(proc, "loaded")
    t0 = time.monotonic()
    reader = open_store(store_url)
    t_open = time.monotonic() - t0
    t0 = time.monotonic()
    counts = reader.counts()
    t_counts = time.monotonic() - t0
    t0 = time.monotonic()
    box = reader.read("complaints", bbox=(450000, 4418000, 451000, 4419000))
    t_read = time.monotonic() - t0
    reader.close()
    print(f"during the open import: open {t_open:.3f} s, counts {t_counts:.3f} s, box read {t_read:.3f} s")
    assert proc.poll() is None, "the writer finished before the reads: hold the transaction longer"
    assert t_open < 1.0 and t_counts < 1.0 and t_read < 1.0, (t_open, t_counts, t_read)
    assert counts["complaints"] == 0 and counts["streets"] == 1 and len(box) == 0
    _wait_for_line(proc, "committed")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err, err[-3000:]
    s = open_store(store_url)
    assert s.count("complaints") == n
    s.close()


@pytest.mark.slow
def test_a_writer_that_cannot_get_the_lock_says_so(store_url, tmp_path):
    """A second writer says another import is running and waits; past its lock timeout it fails with a clear
    StoreError (API) or message (CLI, exit 2, no traceback), writing nothing. Within the timeout it succeeds."""
    s = open_store(store_url, crs=CRS)
    _base(s)
    s.close()
    path = tmp_path / "sq.gpkg"
    _communities([1500], side_m=400.0).astype({"households": "int64"}).to_file(path, driver="GPKG", engine="pyogrio")
    script = tmp_path / "hold.py"
    script.write_text(_HOLD, encoding="utf-8")
    # the holder keeps its transaction open until the test releases it (at most 110 s), so the timing of the
    # waiting processes does not depend on how fast they start on a loaded machine
    release = tmp_path / "release"
    proc = subprocess.Popen([sys.executable, str(script), store_url, "10", "110", str(release)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    cli = [sys.executable, "-m", "gridmap", "--db", store_url, "import", "communities", str(path)]
    try:
        _wait_for_line(proc, "loaded")
        # two CLI imports while the holder keeps its transaction open: one gives up after 1 s, the other
        # (default timeout) waits for the holder and then writes
        quick = subprocess.Popen(cli, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={**_env(), "GRIDMAP_LOCK_TIMEOUT_S": "1"})
        patient = subprocess.Popen(cli, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        t0 = time.monotonic()
        impatient = open_store(store_url, lock_timeout_s=1)
        with pytest.raises(StoreError, match="another (import is still running on this store|process is "
                                             "writing to .*; try again when it finishes)"):
            impatient.write("communities", _communities([1500], side_m=400.0))
        waited = time.monotonic() - t0
        impatient.close()
        assert 0.9 < waited < 4.0, waited
        out, err = quick.communicate(timeout=120)
        assert quick.returncode == 1 and "Traceback" not in err, err[-3000:]
        assert "another import is running on this store" in err  # the wait was announced
        assert "gridmap import: error: another" in err and "try again when it finishes" in err
        announced = _read_until(patient.stderr, "another import is running on this store")
        release.touch()
        out, err = patient.communicate(timeout=120)
        err = announced + err
        assert patient.returncode == 0 and "Traceback" not in err, err[-3000:]
        assert "another import is running on this store" in err and "1 written" in out
    finally:
        release.touch()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    s = open_store(store_url)
    assert s.count("complaints") == 10 and s.count("communities") == 1
    s.close()


def test_spatialite_store_is_wal_and_complete_on_disk_once_closed(tmp_path):
    """File stores run in WAL mode while open; closing (or just ending the process, as the CLI does) folds the
    log into the main file and returns it to a rollback journal, so the .sqlite file alone holds everything
    (copied, compared, opened by GDAL) and a read-only reader needs no -wal/-shm beside it."""
    path = tmp_path / "w.sqlite"
    s = open_store(path, crs=CRS)
    _base(s)
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    s.close()
    wal = Path(str(path) + "-wal")
    assert not wal.exists()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(path, copy)  # the main file only
    with sqlite3.connect(copy) as raw:
        assert raw.execute("SELECT count(*) FROM streets").fetchone()[0] == 1
    # a closed store stays usable, and closing it again checkpoints again
    s.write("districts", gpd.GeoDataFrame({"code": ["110198"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=CRS))
    s.close()
    assert not wal.exists() or wal.stat().st_size == 0
    shutil.copyfile(path, copy)
    with sqlite3.connect(copy) as raw:
        assert raw.execute("SELECT count(*) FROM districts").fetchone()[0] == 2
    # a CLI import never calls close(): the process end still checkpoints
    csv = tmp_path / "sq.gpkg"
    _communities([1500], side_m=400.0).astype({"households": "int64"}).to_file(csv, driver="GPKG", engine="pyogrio")
    cli = subprocess.run([sys.executable, "-m", "gridmap", "--db", str(path), "import", "communities", str(csv)],
                         capture_output=True, text=True, env=_env())
    assert cli.returncode == 0, cli.stderr[-3000:]
    assert not wal.exists()
    shutil.copyfile(path, copy)
    with sqlite3.connect(copy) as raw:
        assert raw.execute("SELECT count(*) FROM communities").fetchone()[0] == 1
    if shutil.which("ogrinfo"):
        out = subprocess.run(["ogrinfo", "-so", str(path), "communities"], capture_output=True, text=True,
                             check=True).stdout
        assert "Feature Count: 1" in out


# -- component serials ----------------------------------------------------------------------------------------


def test_serial_9999_does_not_block_its_class_and_lowest_free_serials_are_used(store, tmp_path, capsys):
    """Importing 01019999 (and 01010003) then uncoded 0101 components gives them 0001, 0002, 0004; the result
    and the CLI say how many serials remain in each class touched."""
    seed_store(store)
    p = lonlat_of(448_300.0, 4_419_300.0)
    first = import_components(store, components_csv(tmp_path, [
        {"lon": p[0], "lat": p[1], "code": "01019999"}, {"lon": p[0] + 1e-4, "lat": p[1], "code": "01010003"}]),
        lonlat="wgs84")
    assert first.written == 2
    rows = [{"lon": p[0] + 2e-4 * (i + 1), "lat": p[1] + 1e-4, "class_code": "0101"} for i in range(3)]
    res = import_components(store, components_csv(tmp_path, rows), lonlat="wgs84")
    assert res.written == 3 and not res.rejected, str(res)
    assert res.new_codes["code"].tolist() == ["01010001", "01010002", "01010004"]
    assert res.serials_left.to_dict("records") == [
        {"district_code": "110101", "class_code": "0101", "used": 5, "left": 9994}]
    assert "serials that remain per class (of 9,999): 110101/0101 9,994" in str(res)
    # the CLI prints the same summary
    more = components_csv(tmp_path, [{"lon": p[0], "lat": p[1] + 3e-4, "class_code": "0101"},
                                     {"lon": p[0], "lat": p[1] + 4e-4, "class_code": "0601"}])
    assert main(["--db", store.url, "import", "components", str(more), "--lonlat", "wgs84"]) == 0
    out = capsys.readouterr().out
    assert "2 written" in out and "110101/0101 9,993, 110101/0601 9,998" in out
    assert sorted(store.read("components", where={"class_code": "0101"})["code"]) == [
        "01010001", "01010002", "01010003", "01010004", "01010005", "01019999"]


def test_a_truly_full_class_is_a_clear_rejection(store, tmp_path):
    """When all 9,999 serials of a class are used, a new component of it is rejected saying so."""
    seed_store(store)
    rng = np.random.default_rng(3)
    n = 9_999
    x, y = rng.uniform(448_010, 448_990, n), rng.uniform(4_419_010, 4_419_790, n)
    full = gpd.GeoDataFrame({"code": [f"0102{i:04d}" for i in range(1, n + 1)]},
                            geometry=gpd.points_from_xy(x, y), crs=CRS)
    assert import_components(store, full).written == n
    p = lonlat_of(448_300.0, 4_419_300.0)
    res = import_components(store, components_csv(tmp_path, [{"lon": p[0], "lat": p[1], "class_code": "0102"},
                                                            {"lon": p[0], "lat": p[1], "class_code": "0101"}]),
                            lonlat="wgs84")
    assert res.written == 1 and res.new_codes["code"].tolist() == ["01010001"]
    (prob,) = res.rejected
    assert prob.row == 0 and prob.field == "code"
    assert prob.reason.startswith("class 0102 has only 0 free serial(s) left, 1 needed")
    assert res.serials_left.set_index("class_code")["left"].to_dict() == {"0101": 9998, "0102": 0}
