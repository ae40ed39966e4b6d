"""Never destroy a store (nor an input, nor a mistyped --db): outputs never alias the store or an input, are written
atomically, read commands open the store read-only, and a file that is not a gridmap store is refused unchanged.

Every test states the store's fingerprint before and after: the sha256 of the SQLite file (and of its -wal, if
any) once every connection is closed, or on PostGIS an md5 of every row of every table of the test schema.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gridmap.cli import main
from gridmap.errors import OutputError, StoreError
from gridmap.outputs import atomic_output, resolve_output
from gridmap.store import open_store

from tests.store.conftest import small_store

DEMO_COMMUNITY = "110199003008"  # an oversized demo community the split solver can cut at --alternatives 1


# -- fingerprints -------------------------------------------------------------------------------------------


def fingerprint(url: str) -> dict[str, str]:
    """sha256 of the store file(s) (SQLite) or an md5 of every row of every table (PostGIS)."""
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        from gridmap.store.postgis import normalise_url

        engine = create_engine(normalise_url(url))
        try:
            with engine.connect() as conn:
                tables = [r[0] for r in conn.execute(text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"))]
                return {t: conn.execute(text(f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) "
                                             f'FROM "{t}" t')).scalar() for t in tables}
        finally:
            engine.dispose()
    path = Path(url.split("///", 1)[1] if url.startswith("sqlite") else url)
    out = {}
    for p in (path, path.with_name(path.name + "-wal")):
        if p.exists():
            out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def temp_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".gridmap-tmp-" in p.name or p.name.endswith(".tmp"))


@contextlib.contextmanager
def read_only(path: Path):
    """Make a file or folder unwritable, even for root (chattr +i), for the block."""
    mode = path.stat().st_mode
    path.chmod(0o555 if path.is_dir() else 0o444)
    immutable = False
    try:
        if os.access(path, os.W_OK):  # root ignores permission bits
            r = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
            if r.returncode != 0 or os.access(path, os.W_OK):
                pytest.skip("cannot make a path read-only here (root without chattr)")
            immutable = True
        yield path
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)


def cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


# -- stores ---------------------------------------------------------------------------------------------------


@pytest.fixture
def db(demo, tmp_path) -> Path:
    """A private copy of the demo store."""
    path = tmp_path / "store" / "gridmap.sqlite"
    path.parent.mkdir()
    shutil.copyfile(demo[0], path)
    return path


def foreign_gpkg(path: Path) -> Path:
    """A GeoPackage some other program wrote."""
    gpd.GeoDataFrame({"name": ["theirs"]}, geometry=[shapely.Point(1, 2)], crs=4326).to_file(
        path, layer="theirs", driver="GPKG", engine="pyogrio")
    return path


# -- the cases of the issue -----------------------------------------------------------------------------------


def test_map_onto_the_store_is_refused(db, capsys, tmp_path):
    before = fingerprint(str(db))
    link = tmp_path / "link.html"
    link.symlink_to(db)
    for target in (db, link, db.parent / ".." / "store" / db.name, Path(str(db) + "-journal"),
                   Path(str(db) + "-wal")):
        for extra in ((), ("--overwrite",)):  # never the open store, even with --overwrite
            rc, _, err = cli(capsys, "--db", db, "map", "-o", target, *extra)
            assert rc == 1 and "open store" in err and "Traceback" not in err, err
    assert fingerprint(str(db)) == before
    assert not Path(str(db) + "-journal").exists() and not Path(str(db) + "-wal").exists()
    assert open_store(db, mode="read").count("cells") > 0


def test_export_onto_the_store_is_refused(db, capsys):
    before = fingerprint(str(db))
    for extra in ((), ("--overwrite",)):
        rc, _, err = cli(capsys, "--db", db, "export", db, "--layers", "communities", *extra)
        assert rc == 1 and "open store" in err, err
    assert fingerprint(str(db)) == before
    assert temp_leftovers(db.parent) == []


def test_export_onto_a_foreign_geopackage_needs_overwrite(small, tmp_path, capsys):
    before = fingerprint(small)
    theirs = foreign_gpkg(tmp_path / "theirs.gpkg")
    theirs_bytes = theirs.read_bytes()
    rc, _, err = cli(capsys, "--db", small, "export", theirs)
    assert rc == 1 and "gridmap did not write" in err and "--overwrite" in err
    assert theirs.read_bytes() == theirs_bytes
    rc, _, err = cli(capsys, "--db", small, "map", "-o", theirs)
    assert rc == 1 and theirs.read_bytes() == theirs_bytes
    # gridmap's own export may be replaced by the next export; --overwrite replaces theirs
    mine = tmp_path / "mine.gpkg"
    assert cli(capsys, "--db", small, "export", mine)[0] == 0
    assert cli(capsys, "--db", small, "export", mine, "--layers", "streets")[0] == 0
    import pyogrio

    assert [n for n, _ in pyogrio.list_layers(mine)] == ["streets"]  # replaced whole, not appended to
    assert cli(capsys, "--db", small, "export", theirs, "--overwrite")[0] == 0
    assert "theirs" not in [n for n, _ in pyogrio.list_layers(theirs)]
    assert fingerprint(small) == before


def test_map_to_a_trailing_slash_writes_inside_that_folder(small, tmp_path, capsys):
    before = fingerprint(small)
    rc, out, err = cli(capsys, "--db", small, "map", "-o", str(tmp_path / "newdir") + "/")
    assert rc == 0, err
    page = tmp_path / "newdir" / "map.html"
    assert page.is_file() and page.read_text(encoding="utf-8").rstrip().endswith("</html>")
    # an existing folder without the slash means the same
    rc, _, err = cli(capsys, "--db", small, "map", "-o", tmp_path / "newdir")
    assert rc == 0, err
    # a missing folder in a file path is not created behind the user's back
    rc, _, err = cli(capsys, "--db", small, "map", "-o", tmp_path / "nosuch" / "m.html")
    assert rc == 1 and "does not exist" in err and not (tmp_path / "nosuch").exists()
    assert fingerprint(small) == before


@pytest.mark.parametrize("command", [["info"], ["map", "-o", "m.html"], ["export", "e.gpkg"], ["check"],
                                     ["cells", "build"], ["import", "communities", "sq.gpkg"]])
def test_zero_byte_db_is_never_adopted(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    foreign_gpkg(tmp_path / "sq.gpkg")
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    rc, _, err = cli(capsys, "--db", empty, *command)
    assert rc == 1 and "0-byte" in err and "Traceback" not in err, err
    assert empty.stat().st_size == 0
    assert not (tmp_path / "m.html").exists() and not (tmp_path / "e.gpkg").exists()


def test_a_file_that_is_not_a_store_is_refused_unchanged(db, tmp_path):
    text_file = tmp_path / "notes.sqlite"
    text_file.write_text("这不是数据库 not a database\n" * 40, encoding="utf-8")
    truncated = tmp_path / "truncated.sqlite"
    truncated.write_bytes(db.read_bytes()[: db.stat().st_size // 2 + 1000])
    half_pages = tmp_path / "half.sqlite"
    half_pages.write_bytes(db.read_bytes()[: db.stat().st_size // 2 // 4096 * 4096])
    foreign = tmp_path / "other.sqlite"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE accounts (id INTEGER, balance REAL)")
    con.commit()
    con.close()
    gpkg_as_db = foreign_gpkg(tmp_path / "theirs.sqlite")
    cases = {text_file: "not a SQLite database", truncated: "damaged", half_pages: "damaged",
             foreign: "not a gridmap store", gpkg_as_db: "GeoPackage but not a gridmap store"}
    for path, words in cases.items():
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        for command in (["info"], ["import", "communities", str(db)], ["export", str(tmp_path / "x.gpkg")]):
            r = subprocess.run([sys.executable, "-m", "gridmap", "--db", str(path), *command], capture_output=True,
                               text=True)
            assert r.returncode == 1 and words in r.stderr and "Traceback" not in r.stderr, (path, r.stderr)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before, path
        assert not Path(str(path) + "-journal").exists()


def test_read_only_store_on_import_is_a_message(db, tmp_path, capsys):
    before = fingerprint(str(db))
    src = tmp_path / "roads.gpkg"
    gpd.GeoDataFrame({"code": ["R1"], "name": ["路"], "kind": ["branch"]},
                     geometry=[shapely.LineString([(450000, 4418000), (450500, 4418000)])], crs=4548).to_file(
        src, driver="GPKG", engine="pyogrio")
    with read_only(db):
        rc, _, err = cli(capsys, "--db", db, "import", "roads", src)
        assert rc == 1 and "read-only" in err and "Traceback" not in err, err
        rc, out, err = cli(capsys, "--db", db, "info", "--json")  # reading a read-only store works
        assert rc == 0, err
    assert fingerprint(str(db)) == before


def test_read_only_postgis_session_on_import_is_a_message(postgis_url, tmp_path, capsys):
    """The PostGIS analogue of a read-only store file: a session whose transactions are read-only."""
    from urllib.parse import quote

    small_store(postgis_url)
    small = postgis_url

    before = fingerprint(small)
    read_only_url = small.replace("options=", "options=" + quote("-cdefault_transaction_read_only=on "), 1)
    src = tmp_path / "roads.gpkg"
    gpd.GeoDataFrame({"code": ["R1"], "name": ["路"], "kind": ["branch"]},
                     geometry=[shapely.LineString([(450000, 4418000), (450500, 4418000)])], crs=4548).to_file(
        src, driver="GPKG", engine="pyogrio")
    rc, _, err = cli(capsys, "--db", read_only_url, "import", "roads", src)
    assert rc == 1 and "read-only" in err and "Traceback" not in err, err
    assert cli(capsys, "--db", read_only_url, "info")[0] == 0
    assert fingerprint(small) == before


def test_unwritable_export_folder_is_a_message(small, tmp_path, capsys):
    before = fingerprint(small)
    folder = tmp_path / "locked"
    folder.mkdir()
    with read_only(folder):
        for argv in (["export", folder / "e.gpkg"], ["map", "-o", folder / "m.html"]):
            rc, _, err = cli(capsys, "--db", small, *argv)
            assert rc == 1 and "cannot write in the output folder" in err and "Traceback" not in err, err
    assert list(folder.iterdir()) == []
    assert fingerprint(small) == before


@pytest.mark.parametrize("command", [["info"], ["map", "-o", "m.html"], ["export", "e.gpkg"], ["check"],
                                     ["warn", "--from", "2025-06-01", "--to", "2025-06-15"], ["locate", "01010001"],
                                     ["communities", "flag"], ["split", "propose", DEMO_COMMUNITY],
                                     ["cells", "build"], ["split", "accept", DEMO_COMMUNITY]])
def test_mistyped_db_path_creates_nothing(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    rc, _, err = cli(capsys, "--db", "typo.sqlite", *command)
    assert rc == 1 and "no store at this path" in err and "--create" in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_missing_postgis_store_is_refused_and_create_makes_it(postgis_url, capsys):
    assert fingerprint(postgis_url) == {}
    for command in (["info"], ["check"], ["cells", "build"]):
        rc, _, err = cli(capsys, "--db", postgis_url, *command)
        assert rc == 1 and "no gridmap store" in err, err
    assert fingerprint(postgis_url) == {}  # not one table created
    rc, out, err = cli(capsys, "--db", postgis_url, "--create", "info", "--json")
    assert rc == 0, err
    assert "gridmap_meta" in fingerprint(postgis_url)


# -- read-only opening -------------------------------------------------------------------------------------------


def test_read_only_store_cannot_be_changed(small):
    from sqlalchemy import text

    before = fingerprint(small)
    s = open_store(small, mode="read")
    assert s.read_only and s.count("communities") == 2
    with pytest.raises(StoreError, match="read-only"):
        s.write("communities", s.read("communities"), mode="replace")
    with pytest.raises(StoreError, match="read-only"):
        s.clear(["cells"])
    with pytest.raises(Exception, match="(?i)read-?only"):  # the database itself refuses, not only gridmap
        with s.engine.begin() as conn:
            conn.execute(text("DELETE FROM cells"))
    s.close()
    assert fingerprint(small) == before


def test_read_only_open_does_not_migrate(small, monkeypatch, capsys):
    from sqlalchemy import text

    from gridmap.store import migrations

    before = fingerprint(small)
    future = migrations.SCHEMA_VERSION + 1  # a schema newer than the store's
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", future)
    monkeypatch.setitem(migrations.MIGRATIONS, future,
                        lambda conn, md: conn.execute(text("ALTER TABLE cells ADD COLUMN officer TEXT")))
    with pytest.raises(StoreError, match="gridmap migrate"):
        open_store(small, mode="read")
    rc, _, err = cli(capsys, "--db", small, "info")
    assert rc == 1 and "gridmap migrate" in err
    assert fingerprint(small) == before
    assert cli(capsys, "--db", small, "migrate")[0] == 0
    assert open_store(small, mode="read").count("cells") > 0


# -- outputs and inputs ----------------------------------------------------------------------------------------


def test_an_output_never_overwrites_an_input(small, tmp_path, capsys):
    src = tmp_path / "sq.gpkg"
    s = open_store(small, mode="read")
    s.read("communities").to_file(src, driver="GPKG", engine="pyogrio")
    s.close()
    src_bytes = src.read_bytes()
    rc, _, err = cli(capsys, "--db", small, "import", "communities", src, "--rejects", src)
    assert rc == 1 and "input file" in err, err
    rc, _, err = cli(capsys, "--db", small, "map", "--proposals", src, "-o", src)
    assert rc == 1 and "input file" in err, err
    assert src.read_bytes() == src_bytes


def test_atomic_output_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_text("half of the new", encoding="utf-8")
            raise RuntimeError("interrupted")
    assert target.read_text(encoding="utf-8") == "old" and temp_leftovers(tmp_path) == []
    gpkg = tmp_path / "layers.gpkg"  # a GeoPackage written by pyogrio, then a failure before the rename
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs=4548)
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(gpkg) as tmp:
            frame.to_file(tmp, layer="one", driver="GPKG", engine="pyogrio")
            raise KeyboardInterrupt
    assert not gpkg.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]
    with atomic_output(gpkg) as tmp:
        frame.to_file(tmp, layer="one", driver="GPKG", engine="pyogrio")
    assert gpd.read_file(gpkg, layer="one", engine="pyogrio")["a"].tolist() == [1]


def test_demo_out_folder_cannot_hold_the_store(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "input").mkdir(parents=True)
    store = out / "input" / "gridmap.sqlite"
    open_store(store).close()
    before = fingerprint(str(store))
    rc, _, err = cli(capsys, "--db", store, "demo", "--scale", "0.05", "--out", out, "-q")
    assert rc == 1 and "open store" in err, err
    assert fingerprint(str(store)) == before


# -- the property: every writing command, generated output paths ------------------------------------------------

#: writing command -> (argv before the output, the output option (None: positional), argv after)
WRITERS = {
    "map": (["map"], "-o", []),
    "export": (["export"], None, ["--layers", "communities,cells"]),
    "warn": (["warn", "--from", "2025-06-01", "--to", "2025-06-15", "--no-scan", "--units", "community"], "--md", []),
    "warn-csv": (["warn", "--from", "2025-06-01", "--to", "2025-06-15", "--no-scan", "--units", "community"],
                 "--csv", []),
    "locate": (["locate", "01010001", "--json"], "--html", []),
    "import-rejects": (["import", "communities", "{input}", "--dry-run"], "--rejects", []),
    "split": (["split", "propose", DEMO_COMMUNITY, "--alternatives", "1", "--json"], "--out", []),
}

PATH_KINDS = ["store", "journal", "wal", "shm", "symlink", "dotdot", "folder", "slash", "foreign", "readonly-dir",
              "input", "new"]


def _output_path(kind: str, db: Path, work: Path, inp: Path, suffix: str = ".out") -> Path | str:
    """A generated output path; ``suffix`` is the extension of file names the command would write (``export``
    writes the format its extension names, so it gets ``.gpkg``)."""
    if kind == "store":
        return db
    if kind in ("journal", "wal", "shm"):
        return Path(f"{db}-{kind}")
    if kind == "symlink":
        link = work / f"link{suffix}"
        link.symlink_to(db)
        return link
    if kind == "dotdot":
        return work / ".." / db.parent.name / "." / db.name
    if kind == "folder":
        (work / "existing").mkdir()
        return work / "existing"
    if kind == "slash":
        return str(work / "made") + "/"
    if kind == "foreign":
        return foreign_gpkg(work / "theirs.gpkg")
    if kind == "readonly-dir":
        (work / "locked").mkdir()
        return work / "locked" / f"out{suffix}"
    if kind == "input":
        return inp
    return work / f"fresh{suffix}"


@pytest.mark.parametrize("command", sorted(WRITERS))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(PATH_KINDS), overwrite=st.booleans())
def test_writing_commands_never_touch_the_store(command, kind, overwrite, db, tmp_path, capsys):
    work = tmp_path / uuid.uuid4().hex[:8]
    work.mkdir()
    inp = work / "input.gpkg"
    s = open_store(db, mode="read")
    s.read("communities").head(2).to_file(inp, driver="GPKG", engine="pyogrio")
    s.close()
    before_store = fingerprint(str(db))
    target = _output_path(kind, db, work, inp, ".gpkg" if command == "export" else ".out")
    before_target = hashlib.sha256(Path(target).read_bytes()).hexdigest() if Path(target).is_file() else None
    head, option, tail = WRITERS[command]
    argv = ["--db", db, *[str(inp) if a == "{input}" else a for a in head]]
    argv += [target] if option is None else [option, target]
    argv += tail + (["--overwrite"] if overwrite else [])
    locked = work / "locked"
    with read_only(locked) if locked.exists() else contextlib.nullcontext():
        rc, out, err = cli(capsys, *argv)
    event(f"{kind}: exit {rc}")
    assert "Traceback" not in err
    assert fingerprint(str(db)) == before_store, (command, kind, err)  # never the store
    for side in ("-journal", "-wal", "-shm"):
        assert not Path(f"{db}{side}").exists()
    assert temp_leftovers(work) == [] and temp_leftovers(db.parent) == []
    if kind in ("store", "journal", "wal", "shm", "symlink", "dotdot", "readonly-dir") or \
            (kind in ("foreign", "input") and not overwrite):
        assert rc == 1, (command, kind, out, err)
        if before_target is not None:
            assert hashlib.sha256(Path(target).read_bytes()).hexdigest() == before_target
        return
    # written: a whole file (or folder of files) where the user asked
    if command == "split":
        folder = Path(str(target))
        if rc == 1:  # an existing file is not a folder
            assert kind in ("foreign", "input", "new") or folder.is_file(), err
            return
        files = sorted(p.name for p in folder.iterdir() if p.name.startswith(DEMO_COMMUNITY))
        assert rc == 0 and files == [f"{DEMO_COMMUNITY}.{e}" for e in ("geojson", "gpkg", "md")], err
        return
    assert rc in (0, 1) and "error" not in err, (command, kind, err)  # import --dry-run exits 1 on rejects
    written = Path(str(target))
    if written.is_dir():
        written = next(p for p in written.iterdir() if p.is_file())
    assert written.is_file() and written.stat().st_size > 0
    if command in ("map", "locate"):
        assert written.read_text(encoding="utf-8").rstrip().endswith("</html>")
    elif command == "export":
        import pyogrio

        assert {n for n, _ in pyogrio.list_layers(written)} == {"communities", "cells"}


def test_resolve_output_refuses_the_store_by_inode(tmp_path):
    """A hard link has another name and the same inode (as a different case on a case-insensitive disk)."""
    db = tmp_path / "gridmap.sqlite"
    open_store(db).close()
    alias = tmp_path / "GRIDMAP.SQLITE"
    os.link(db, alias)
    with pytest.raises(OutputError, match="open store"):
        resolve_output(alias, store=f"sqlite:///{db}", overwrite=True)
