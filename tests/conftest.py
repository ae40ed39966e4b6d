"""Fixtures shared across the test folders: ``store`` runs a test on SpatiaLite and on PostGIS; ``demo`` is the small
demo store. Fixtures shared inside one folder live in that folder's ``conftest.py``.

PostGIS comes from ``$GRIDMAP_TEST_POSTGIS_URL`` (``scripts/test.sh`` starts a throwaway server and sets it).
Locally without it the PostGIS half is skipped; with ``GRIDMAP_REQUIRE_POSTGIS=1`` (CI) it fails instead.
Each PostGIS test gets its own schema (via ``search_path``), dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest

import pyogrio  # noqa: F401  -- before any SpatiaLite connection (or pyogrio crashes the interpreter)

POSTGIS_URL = os.environ.get("GRIDMAP_TEST_POSTGIS_URL")
REQUIRE_POSTGIS = os.environ.get("GRIDMAP_REQUIRE_POSTGIS") == "1"


def _need_postgis() -> str:
    if POSTGIS_URL:
        return POSTGIS_URL
    if REQUIRE_POSTGIS:
        pytest.fail("GRIDMAP_REQUIRE_POSTGIS=1 but GRIDMAP_TEST_POSTGIS_URL is not set (scripts/test.sh sets it)")
    pytest.skip("no PostGIS: set GRIDMAP_TEST_POSTGIS_URL (scripts/postgis.sh start prints one)")


@pytest.fixture
def postgis_url():
    """A PostGIS URL whose search_path is a fresh schema, dropped after the test."""
    base = _need_postgis()
    from sqlalchemy import create_engine, text

    from gridmap.store.postgis import normalise_url

    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(normalise_url(base))
    with admin.begin() as conn:
        leaked = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                                   "AND tablename = 'gridmap_meta'")).scalar()
        if leaked:
            pytest.fail(f"the test database {base} has gridmap tables in its public schema, which every test "
                        "schema would see through search_path: use a dedicated empty database")
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote(f'-csearch_path={schema},public')}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)])
def store_url(request, tmp_path):
    """A URL for an empty store, once per backend."""
    if request.param == "spatialite":
        return f"sqlite:///{tmp_path}/test.sqlite"
    return request.getfixturevalue("postgis_url")


@pytest.fixture
def store(store_url):
    """An open, empty store in EPSG:4548, once per backend."""
    from gridmap.store import open_store

    s = open_store(store_url, crs="EPSG:4548")
    yield s
    s.close()



#: digests of the distinct inputs tests/contract/test_bad_input.py tried, gathered from every report (xdist workers too)
_BAD_INPUTS: set[str] = set()


def pytest_runtest_logreport(report):
    for key, value in getattr(report, "user_properties", ()):
        if key == "bad_input_digests":
            _BAD_INPUTS.update(value)


def pytest_terminal_summary(terminalreporter):
    """Report the bad-input suite's tally of distinct inputs (see tests/contract/test_bad_input.py)."""
    if _BAD_INPUTS:
        terminalreporter.write_line(f"bad-input suite: {len(_BAD_INPUTS)} distinct inputs tried (both backends)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """``gridmap demo --scale 0.05`` run through the console entry point, once per test module: the store file,
    the output folder and the finished process (its stdout is the report summary)."""
    import subprocess
    import sys

    d = tmp_path_factory.mktemp("demo")
    db, out = d / "gridmap.sqlite", d / "out"
    r = subprocess.run([sys.executable, "-m", "gridmap", "--db", str(db), "demo", "--scale", "0.05", "--out", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return db, out, r
