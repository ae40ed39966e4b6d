#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite: SpatiaLite, a throwaway PostGIS on 127.0.0.1, headless Chromium.
# Fails if the PostGIS or browser tests were skipped. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test

pgdir=${GRIDMAP_PGDIR:-/tmp/gridmap-test-pg}
pgport=${GRIDMAP_PGPORT:-55433}
trap 'bash scripts/postgis.sh stop "$pgdir" >/dev/null 2>&1 || true' EXIT
# a dedicated, empty database for every run
bash scripts/postgis.sh stop "$pgdir" >/dev/null 2>&1 || true
rm -rf "$pgdir"
export GRIDMAP_TEST_POSTGIS_URL=$(bash scripts/postgis.sh start "$pgdir" "$pgport" gridmap_test)
export GRIDMAP_REQUIRE_POSTGIS=1 GRIDMAP_REQUIRE_BROWSER=1
export SPATIALITE_LIBRARY_PATH=mod_spatialite
report=$(mktemp -d)/junit.xml
status=0
.venv/bin/python -m pytest -n 2 --dist loadgroup --junitxml="$report" "$@" || status=$?
# Refuse a green run in which the PostGIS tests did not run, or in which anything was skipped: set-up installs
# everything the suite needs (SpatiaLite, PostGIS, Chromium, GDAL, esda, nbclient, geotool-cn), so a skip here
# means a missing install step, not an optional extra.
.venv/bin/python - "$report" <<'PY' || status=1
import sys, xml.etree.ElementTree as ET
cases = list(ET.parse(sys.argv[1]).getroot().iter("testcase"))
pg = [c for c in cases if "[postgis" in c.get("name", "")]
ran = [c for c in pg if c.find("skipped") is None]
skipped = [c for c in cases if c.find("skipped") is not None]
browser = [c for c in cases if "browser" in c.get("classname", "")]
print(f"test.sh: {len(ran)} PostGIS test(s) ran, {len(pg) - len(ran)} skipped; "
      f"{len(browser)} browser test(s); {len(skipped)} test(s) skipped in all")
for c in skipped:
    s = c.find("skipped")
    print(f"test.sh: skipped {c.get('classname')}::{c.get('name')}: {s.get('message')}")
sys.exit(0 if ran and len(ran) == len(pg) and browser and not skipped else 1)
PY
exit $status
