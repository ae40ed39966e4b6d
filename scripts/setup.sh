#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian 12 machine (run as root; package registries only, no other internet).
#   scripts/setup.sh          system packages + .venv with gridmap (SpatiaLite, maps)
#   scripts/setup.sh --test   also PostGIS, Chromium, CJK fonts, poppler-utils (pdftoppm, for the print tests) and the dev/test Python packages
# A second run only checks: apt is skipped when nothing is missing, pip when setup.cfg is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}

# gcc, libc6-dev and python3-dev build the compiled kernel of the point-to-cell index (gridmap/grid/_kernel.c)
pkgs=(python3-venv python3-dev gcc libc6-dev libsqlite3-mod-spatialite gdal-bin)
if [ "$mode" = "--test" ]; then
  pkgs+=(postgresql-15-postgis-3 chromium fonts-noto-cjk poppler-utils)
fi
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "setup: need root for apt-get (missing: ${missing[*]})" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The venv is built from Debian's python3: its sqlite3 can load SpatiaLite (a pyenv build cannot).
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import sqlite3; sqlite3.Connection.enable_load_extension" 2>/dev/null; then
  echo "setup: creating .venv from /usr/bin/python3"
  rm -rf .venv
  /usr/bin/python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
fi
extras=postgis,excel
[ "$mode" = "--test" ] && extras=dev
hash=$(cat setup.cfg pyproject.toml setup.py gridmap/grid/_kernel.c | sha256sum | cut -c1-16)
stamp=".venv/.gridmap-installed-$hash-$extras"
# the dev extras include postgis and excel: a test set-up also satisfies the demo (no reinstall when alternating)
if [ ! -f "$stamp" ] && ! { [ "$extras" != dev ] && [ -f ".venv/.gridmap-installed-$hash-dev" ]; }; then
  echo "setup: installing gridmap[$extras] into .venv"
  if ! .venv/bin/python -m pip install -q -e ".[$extras]" >.venv/pip-install.log 2>&1; then
    grep -vE "^WARNING: Location|^\s*$" .venv/pip-install.log >&2 || true
    echo "setup: pip install of gridmap[$extras] failed (log: .venv/pip-install.log)" >&2
    exit 1
  fi
  .venv/bin/python -c "import gridmap, geopandas, geoalchemy2, folium" >/dev/null
  if ! .venv/bin/python -c "import gridmap.grid._kernel" 2>/dev/null; then
    # optional for users (the numpy path gives the same answers, slower); the test suite runs both and needs it
    echo "setup: the compiled kernel gridmap/grid/_kernel.c was not built (see .venv/pip-install.log)" >&2
    [ "$mode" = "--test" ] && exit 1
  fi
  rm -f .venv/.gridmap-installed-*
  touch "$stamp"
fi

# Leaflet and plugins from the npm registry, inlined into every map (nothing fetched at view time).
if [ -f scripts/fetch_assets.sh ]; then
  bash scripts/fetch_assets.sh
fi
echo "setup: ready ($(.venv/bin/python --version), $(.venv/bin/gridmap --version))"
