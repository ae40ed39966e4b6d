"""The page: gridmap's inline runtime, script-backed layers and controls, and the single-file writer.

Data never meets a template engine. Branca turns the output of every element's template into a new Jinja2
template and renders it again, so a name like ``{{ lipsum.__globals__.os.popen('id').read() }}`` in an element's
output would run. gridmap's elements therefore print identifiers only (``gridmap.areas(gridmap.data("k"))``);
every data-derived value (geometry, tooltips, layer names, legend, title, comparison panels, tile URLs) goes into
one ``<script type="application/json" id="gridmap-data">`` block, written with
:func:`~gridmap.maps.safety.js_json` and inserted after branca has rendered the page (:class:`PageFigure`), and
the runtime (``gridmap.data(key)``) reads it. gridmap's own templates run in a sandboxed Jinja2 environment with
no globals. Element names are numbered in tree order, so the same map gives the same bytes.

:func:`to_html` removes every CDN ``<script>``/``<link>`` folium would add, inlines Leaflet,
Leaflet.markercluster (:mod:`gridmap.maps.bundle`) and the runtime (:mod:`gridmap.maps.runtime`), so the file opens from ``file://``
with no network, and sets a strict Content-Security-Policy: ``default-src 'none'``, scripts only by the sha256
hash of each inline script of the final page (no ``'unsafe-inline'``, no ``eval``), images only as ``data:``
URIs (plus the tile hosts of an online basemap). It refuses to write a page that references an external
script or stylesheet, or has an inline event handler or a ``javascript:`` URL.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
from branca.element import Element, Figure, MacroElement
from folium.elements import ElementAddToElement
from jinja2.sandbox import ImmutableSandboxedEnvironment

from gridmap.errors import GridmapError, message
from gridmap.maps.bundle import inline_head
from gridmap.maps.runtime import LAYER_FUNCTIONS, RUNTIME_CSS, RUNTIME_JS
from gridmap.maps.safety import Privacy, js_json

__all__ = ["ScriptLayer", "ScriptControl", "LayerControl", "PageFigure", "PagePolicy", "page_figure", "page_policy",
           "to_html", "write_map", "content_security_policy", "script_hashes", "RUNTIME_JS", "RUNTIME_CSS", "DATA_ID"]

log = logging.getLogger(__name__)

#: id of the page's JSON data block.
DATA_ID = "gridmap-data"

#: Resources folium elements may ask for that the bundle provides (name in folium's default_js/css lists).
_BUNDLED = {"leaflet", "leaflet_css", "markerclusterjs", "markerclustercss", "markerclusterdefaultcss"}
#: Resources of folium.Map that gridmap pages do not use (no awesome-markers icons, no bootstrap popups).
_DROPPED_FOR_MAP = {"jquery", "bootstrap", "awesome_markers", "bootstrap_css", "glyphicons_css",
                    "awesome_markers_font_css", "awesome_markers_css", "awesome_rotate_css"}

# The few templates gridmap itself gives branca. They print identifiers only (element names numbered by
# PageFigure, and fixed runtime function names): every data-derived value goes into the page
# data (one JSON block, read by the runtime), never into template output, because branca compiles each
# element's output as a new Jinja2 template. They run in a sandbox with no globals, so even a template
# that reached data could not call into Python.
_ENV = ImmutableSandboxedEnvironment(autoescape=True)
_ENV.globals.clear()

_LAYER_TEMPLATE = _ENV.from_string(
    "{% macro script(this, kwargs) %}var {{ this.get_name() }} = gridmap.{{ this.fn }}"
    "(gridmap.data({{ this.get_name()|tojson }}));{% endmacro %}")
_CONTROL_TEMPLATE = _ENV.from_string(
    "{% macro script(this, kwargs) %}gridmap.page({{ this.parent_name }}, "
    "gridmap.data({{ this.get_name()|tojson }}));{% endmacro %}")
_LAYER_CONTROL_TEMPLATE = _ENV.from_string(
    "{% macro script(this, kwargs) %}var {{ this.get_name() }} = gridmap.layerControl({{ this.parent_name }}, "
    "{{ '{' }}{% for v in this.layer_vars %}{{ v|tojson }}: {{ v }}{% if not loop.last %}, {% endif %}"
    "{% endfor %}{{ '}' }}, gridmap.data({{ this.get_name()|tojson }}));{% endmacro %}")


def _page_data(element: Any) -> dict[str, Any]:
    root = element.get_root()
    if not isinstance(root, PageFigure):
        raise GridmapError(message(f"{type(element).__name__} must be rendered in a gridmap page",
                                   got=type(root).__name__, fix="write maps with gridmap.maps.write_map / to_html"))
    return root.data


class ScriptLayer(folium.map.Layer):
    """A layer built by the runtime function ``gridmap.<fn>`` from ``spec`` (shown in the layer control).

    ``spec`` (any JSON value) goes into the page data; the script only names the function and the key.
    """

    _template = _LAYER_TEMPLATE

    def __init__(self, fn: str, spec: Any, *, name: str, show: bool = True, overlay: bool = True,
                 control: bool = True):
        if fn not in LAYER_FUNCTIONS:
            raise GridmapError(message("unknown map layer function", got=repr(fn),
                                       fix="use one of " + ", ".join(sorted(LAYER_FUNCTIONS))))
        super().__init__(name=name, overlay=overlay, control=control, show=show)
        self._name = "GridmapLayer"
        self.fn = fn
        self.spec = spec

    def render(self, **kwargs: Any) -> None:
        _page_data(self)[self.get_name()] = self.spec
        super().render(**kwargs)


class ScriptControl(MacroElement):
    """The page-level runtime call ``gridmap.page(map, spec)``: legend, title, banner, search, comparison
    panels and the initial view, all from ``spec`` (in the page data)."""

    _template = _CONTROL_TEMPLATE

    def __init__(self, spec: dict[str, Any]):
        super().__init__()
        self._name = "GridmapScript"
        self.spec = spec

    @property
    def parent_name(self) -> str:
        return self._parent.get_name()

    def render(self, **kwargs: Any) -> None:
        _page_data(self)[self.get_name()] = self.spec
        super().render(**kwargs)


class LayerControl(MacroElement):
    """Leaflet's layer control, built by the runtime (``gridmap.layerControl``): the script lists the layer
    variables only; their names (which may carry data: class labels, proposal keys) are in the page data."""

    _template = _LAYER_CONTROL_TEMPLATE

    def __init__(self, *, position: str = "topright", collapsed: bool = True):
        super().__init__()
        self._name = "GridmapLayerControl"
        self.options = {"position": position, "collapsed": bool(collapsed)}
        self.layer_vars: list[str] = []

    @property
    def parent_name(self) -> str:
        return self._parent.get_name()

    def render(self, **kwargs: Any) -> None:
        layers = [item for item in self._parent._children.values()
                  if isinstance(item, folium.map.Layer) and item.control]
        self.layer_vars = [item.get_name() for item in layers]
        _page_data(self)[self.get_name()] = {
            **self.options, "layers": [[item.get_name(), str(item.layer_name), bool(item.overlay)] for item in layers]}
        super().render(**kwargs)


@dataclass(frozen=True)
class PagePolicy:
    """What a built map is allowed to carry, set by :func:`~gridmap.maps.build_map` and read by :func:`to_html`
    and the callers (:func:`page_policy`): its privacy, the image hosts its Content-Security-Policy admits
    (``data:`` plus the tile hosts of an online basemap) and whether its HTML carries a basemap key."""

    privacy: Privacy = Privacy.SHARED
    img_src: tuple[str, ...] = ("data:",)
    key_embedded: bool = False


class PageFigure(Figure):
    """The page of a gridmap map: branca's figure, rendered with deterministic element names and with every
    data-derived value in one ``<script type="application/json" id="gridmap-data">`` block.

    The block is built with :func:`~gridmap.maps.safety.js_json` and inserted after branca has rendered the
    page (plain string operations), so data never meets a template engine.
    """

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, Any] = {}
        self.policy = PagePolicy()

    def _reset(self) -> None:
        """Start from an empty header/html/script (branca fills them while rendering) and number the
        elements 0, 1, 2 ... in tree order, so the same map renders to the same bytes every time."""
        self.header, self.html, self.script = Element(), Element(), Element()
        for part in (self.header, self.html, self.script):
            part._parent = self
        self.header.add_child(Element('<meta http-equiv="content-type" content="text/html; charset=UTF-8" />'),
                              name="meta_http")
        self.data = {}
        stack, order = [self], []
        while stack:
            el = stack.pop()
            # Drop what a previous render attached (folium's "addTo" helpers); render adds it again.
            for key, child in list(el._children.items()):
                if isinstance(child, ElementAddToElement):
                    del el._children[key]
            order.append(el)
            stack.extend(reversed(list(el._children.values())))
        for i, el in enumerate(order):
            el._id = str(i)

    def render(self, **kwargs: Any) -> str:
        self._reset()
        page = super().render(**kwargs)
        i = page.find("<body>")
        if i < 0:
            raise GridmapError("branca rendered a page without <body>")
        i += len("<body>")
        block = f'\n<script type="application/json" id="{DATA_ID}">{js_json(self.data)}</script>\n'
        return page[:i] + block + page[i:]


def page_figure(m: folium.Map) -> PageFigure:
    """Put ``m`` in a :class:`PageFigure` (once) and return it."""
    root = m.get_root()
    if isinstance(root, PageFigure):
        return root
    fig = PageFigure()
    fig.add_child(m, name="map")
    return fig


def page_policy(m: folium.Map) -> PagePolicy:
    """The :class:`PagePolicy` of map ``m`` (privacy, admitted image hosts, whether it carries a key)."""
    return page_figure(m).policy


def _strip_cdn_resources(element: Any) -> None:
    """Empty folium's CDN lists on every element, after checking the bundle provides what is needed."""
    stack = [element]
    while stack:
        el = stack.pop()
        stack.extend(el._children.values())
        for attr in ("default_js", "default_css"):
            wanted = getattr(el, attr, None)
            if not wanted:
                continue
            names = {name for name, _ in wanted}
            unknown = names - _BUNDLED - (_DROPPED_FOR_MAP if isinstance(el, folium.Map) else set())
            if unknown:
                raise GridmapError(message(
                    f"{type(el).__name__} needs resources that are not in the offline bundle",
                    got=", ".join(sorted(unknown)),
                    fix="use gridmap's layers, or add the package to scripts/fetch_assets.sh and the bundle"))
            setattr(el, attr, [])


_EXTERNAL_TAG_RE = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*['\"]?(?:https?:)?//", re.I)


_SCRIPT_RE = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.I | re.S)
_JSON_TYPE_RE = re.compile(r"""\btype\s*=\s*["']?application/json["']?""", re.I)
# An inline event handler attribute or a javascript: URL in markup (outside script and style bodies).
_INLINE_CODE_RE = re.compile(r"<[a-z][^>]*?\s(?:on[a-z]+\s*=|(?:href|src|action)\s*=\s*[\"']?\s*javascript:)", re.I)
_BODIES_RE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.I | re.S)


def script_hashes(page: str) -> list[str]:
    """CSP source expressions (``'sha256-...'``) of every executable inline ``<script>`` of ``page``, in order
    (JSON data blocks are not executed and need none)."""
    out = []
    for attrs, body in _SCRIPT_RE.findall(page):
        if _JSON_TYPE_RE.search(attrs):
            continue
        if re.search(r"\bsrc\s*=", attrs, re.I):
            raise GridmapError(message("the page has an external script", got=attrs.strip()[:120],
                                       fix="report this: gridmap pages inline every script"))
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
        out.append(f"'sha256-{digest}'")
    return list(dict.fromkeys(out))


def content_security_policy(page: str, *, img_src: tuple[str, ...] = ("data:",)) -> str:
    """The page's policy: nothing from the network but images from ``img_src``; scripts only the page's own
    inline scripts, by hash (no ``'unsafe-inline'``, no ``eval``); inline styles allowed (Leaflet positions
    everything with them)."""
    return ("default-src 'none'; script-src " + " ".join(script_hashes(page)) + "; style-src 'unsafe-inline'; "
            "img-src " + " ".join(dict.fromkeys(img_src)) + "; base-uri 'none'; form-action 'none'")


def to_html(m: folium.Map) -> str:
    """The complete, self-contained HTML of ``m``, with a strict Content-Security-Policy.

    Branca renders the page once (its templates see element names only, see :class:`PageFigure`); then the
    vendor bundle, the runtime and the policy (sha256 hashes of each inline script of the final page) are
    inserted by string operations.
    """
    _strip_cdn_resources(m)
    page = page_figure(m).render()
    if _EXTERNAL_TAG_RE.search(page):
        raise GridmapError(message("the rendered page still references an external script or stylesheet",
                                   got=_EXTERNAL_TAG_RE.search(page).group(0)[:120],
                                   fix="report this: a folium element bypassed the offline bundle"))
    head = (inline_head() + f"<style data-gridmap-runtime>{RUNTIME_CSS}</style>\n"
            f"<script data-gridmap-runtime>{RUNTIME_JS}</script>\n")
    i = page.find("<head>")
    if i < 0:
        raise GridmapError("folium rendered a page without <head>")
    i += len("<head>")
    page = page[:i] + head + page[i:]
    bad = _INLINE_CODE_RE.search(_BODIES_RE.sub("", page))
    if bad:
        raise GridmapError(message("the page has an inline event handler or javascript: URL", got=bad.group(0)[:120],
                                   fix="report this: the strict policy would block it"))
    # Tell the browser the page itself may load nothing from the network (images only as data: URIs; maps
    # with an online basemap add their tile hosts) and may run only its own scripts, by hash.
    csp = content_security_policy(page, img_src=page_policy(m).img_src)
    meta = f'\n<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
    return page[:i] + meta + page[i:]


def write_map(m: folium.Map, path: str | os.PathLike) -> Path:
    """Write ``m`` as one self-contained HTML file (written to a temporary name, then renamed)."""
    path = Path(path)
    page = to_html(m)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    log.info("wrote map %s (%.1f KB)", path, path.stat().st_size / 1024)
    return path
