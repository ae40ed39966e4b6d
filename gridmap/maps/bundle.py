"""The offline asset bundle: Leaflet and its plugins, inlined into the page.

``scripts/fetch_assets.sh`` installs the pinned npm packages at set-up time and copies the files into
``gridmap/maps/assets/`` (gitignored). :func:`inline_head` returns one ``<style>`` and one ``<script>`` block
holding all of them, with every ``url(...)`` in the CSS turned into a ``data:`` URI, CSS comments and
source-map comments removed, so the page needs nothing from the network.

Vendor blocks carry a ``data-gridmap-vendor`` attribute so checks can tell library code from data.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import re
from functools import lru_cache
from pathlib import Path

from gridmap.errors import GridmapError, message

__all__ = ["ASSET_DIR", "AssetsMissingError", "check_assets", "inline_head", "VENDOR_URL_ALLOWLIST"]

log = logging.getLogger(__name__)

ASSET_DIR = Path(__file__).resolve().parent / "assets"

#: (file, kind) in load order.
_JS = ("leaflet.js", "leaflet.markercluster.js")
_CSS = ("leaflet.css", "MarkerCluster.css", "MarkerCluster.Default.css")

#: URL-shaped strings that occur inside the vendored library code and are never fetched: the SVG namespace
#: (an identifier, not a request) and Leaflet's attribution link (a hyperlink, and gridmap turns the
#: attribution prefix off).
VENDOR_URL_ALLOWLIST = ("http://www.w3.org/2000/svg", "https://leafletjs.com")


class AssetsMissingError(GridmapError, FileNotFoundError):
    """The offline JavaScript/CSS bundle has not been installed."""


def check_assets(asset_dir: Path = ASSET_DIR) -> Path:
    """Raise :class:`AssetsMissingError` unless every asset file is present; return the folder."""
    missing = [name for name in (*_JS, *_CSS) if not (asset_dir / name).is_file()]
    if missing:
        raise AssetsMissingError(message(
            "the offline map assets (Leaflet and plugins) are not installed", where=str(asset_dir),
            got="missing " + ", ".join(missing),
            fix="run scripts/fetch_assets.sh once (it installs them from the npm registry; a map needs no "
                "network afterwards)"))
    return asset_dir


_URL_RE = re.compile(r"url\(\s*(['\"]?)([^'\")]+)\1\s*\)")
_CSS_COMMENT_RE = re.compile(r"/\*.*?\*/", re.S)
_SOURCEMAP_RE = re.compile(r"^\s*//[#@]\s*sourceMappingURL=.*$", re.M)


def _inline_css(text: str, base: Path) -> str:
    text = _CSS_COMMENT_RE.sub("", text)

    def repl(m: re.Match) -> str:
        ref = m.group(2).strip()
        if ref.startswith(("data:", "#")):
            return m.group(0)
        path = (base / ref).resolve()
        if not path.is_file():
            log.debug("dropping CSS reference %s (not in the bundle)", ref)
            return "none"
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f"url(data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')})"

    return _URL_RE.sub(repl, text)


def _script_safe(text: str) -> str:
    # A literal "</script" inside inlined JS would end the element early.
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.I)


@lru_cache(maxsize=2)
def _head(asset_dir: str) -> str:
    base = check_assets(Path(asset_dir))
    css = "\n".join(_inline_css((base / name).read_text(encoding="utf-8"), base) for name in _CSS)
    js = "\n;\n".join(_SOURCEMAP_RE.sub("", (base / name).read_text(encoding="utf-8")) for name in _JS)
    return (f'<style data-gridmap-vendor="leaflet">{css}</style>\n'
            f'<script data-gridmap-vendor="leaflet">{_script_safe(js)}</script>\n')


def inline_head(asset_dir: Path = ASSET_DIR) -> str:
    """The ``<style>`` and ``<script>`` blocks holding Leaflet and Leaflet.markercluster."""
    return _head(str(asset_dir))
