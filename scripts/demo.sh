#!/usr/bin/env bash
# Set up (idempotent) and run the main job on the embedded default: build the synthetic 示范区 into
# ./gridmap.sqlite (SpatiaLite) and write the report and maps to ./gridmap-out/. Extra arguments go to `gridmap demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/gridmap demo "$@"
