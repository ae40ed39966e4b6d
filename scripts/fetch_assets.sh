#!/usr/bin/env bash
# Install the JavaScript/CSS that gridmap's offline HTML maps inline, from the npm registry.
#
# Packages go into a cache outside git (.cache/npm-assets/); the few files the maps need are copied into
# gridmap/maps/assets/ (gitignored: nothing third-party is committed). The maps inline them into one
# self-contained HTML file, so nothing is fetched when a map is viewed.
#
# Idempotent and quick on a second run: when gridmap/maps/assets/VERSIONS already lists the pinned versions
# and every file is present, it does nothing. Pass --force to reinstall.
#
# Usage: scripts/fetch_assets.sh [--force]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${GRIDMAP_ASSET_CACHE:-$ROOT/.cache/npm-assets}"
DEST="$ROOT/gridmap/maps/assets"
NPM="${NPM:-npm}"

# Pinned versions. folium 0.20 references leaflet 1.9.3 from a CDN; 1.9.4 is the API-compatible bug-fix release.
# leaflet.markercluster 1.5.3 is the release for Leaflet 1.x. jquery, bootstrap, font-awesome and
# awesome-markers (also in folium's default list) are not needed: gridmap builds its pages without them.
PACKAGES=("leaflet@1.9.4" "leaflet.markercluster@1.5.3")
FILES=(
  "leaflet/dist/leaflet.js:leaflet.js"
  "leaflet/dist/leaflet.css:leaflet.css"
  "leaflet/dist/images/layers.png:images/layers.png"
  "leaflet/dist/images/layers-2x.png:images/layers-2x.png"
  "leaflet/dist/images/marker-icon.png:images/marker-icon.png"
  "leaflet/dist/images/marker-icon-2x.png:images/marker-icon-2x.png"
  "leaflet/dist/images/marker-shadow.png:images/marker-shadow.png"
  "leaflet/LICENSE:LICENSE.leaflet"
  "leaflet.markercluster/dist/leaflet.markercluster.js:leaflet.markercluster.js"
  "leaflet.markercluster/dist/MarkerCluster.css:MarkerCluster.css"
  "leaflet.markercluster/dist/MarkerCluster.Default.css:MarkerCluster.Default.css"
  "leaflet.markercluster/MIT-LICENCE.txt:LICENSE.markercluster"
)
WANT="${PACKAGES[*]}"

complete() {
  [[ -f "$DEST/VERSIONS" ]] && [[ "$(cat "$DEST/VERSIONS")" == "$WANT" ]] || return 1
  local entry
  for entry in "${FILES[@]}"; do [[ -s "$DEST/${entry#*:}" ]] || return 1; done
}

if [[ "${1:-}" != "--force" ]] && complete; then
  echo "fetch_assets: up to date ($WANT) in $DEST"
  exit 0
fi

mkdir -p "$CACHE"
need_install=0
for pkg in "${PACKAGES[@]}"; do
  name="${pkg%@*}"; version="${pkg##*@}"
  have="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$CACHE/node_modules/$name/package.json" 2>/dev/null || true)"
  [[ "$have" == "$version" ]] || need_install=1
done
if [[ "$need_install" == 1 || "${1:-}" == "--force" ]]; then
  echo "fetch_assets: npm install ${PACKAGES[*]} into $CACHE"
  "$NPM" install --prefix "$CACHE" --no-audit --no-fund --ignore-scripts --no-package-lock --loglevel=error \
    "${PACKAGES[@]}" >/dev/null
fi

rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp/images"
for entry in "${FILES[@]}"; do
  src="$CACHE/node_modules/${entry%%:*}"
  [[ -s "$src" ]] || { echo "fetch_assets: missing $src after npm install" >&2; exit 1; }
  cp "$src" "$DEST.tmp/${entry#*:}"
done
echo "$WANT" > "$DEST.tmp/VERSIONS"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
echo "fetch_assets: installed $WANT into $DEST"
