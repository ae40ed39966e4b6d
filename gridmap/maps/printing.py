"""Print a map to PDF (A3/A4, landscape or portrait) or PNG with headless Chromium, byte for byte reproducible.

The printed page is the map's own offline HTML with a title block (title, date, data source, 合成数据 notice
where it applies), a north arrow, the metric scale bar and the legend kept open; the layer control, search and
zoom buttons are hidden. Chromium writes the time of printing and a random document id into every PDF; both are
replaced afterwards (``/CreationDate`` and ``/ModDate`` by the map's date, ``/ID`` by a hash of the document),
in place and at the same length, so the cross-reference offsets stay valid and the same map and options give
the same bytes.

>>> paper_px("A4", "landscape")
(1123, 794)
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import folium

from gridmap._enums import ChoiceEnum
from gridmap.errors import GridmapError, message

__all__ = ["Paper", "Orientation", "paper_px", "print_block", "print_map", "normalise_pdf", "PRINT_FORMATS"]

log = logging.getLogger(__name__)

#: Output formats :func:`print_map` writes (by file suffix).
PRINT_FORMATS = (".pdf", ".png")
_MM = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}


class Paper(ChoiceEnum, what="paper size"):
    """Paper size of a printed map."""

    A4 = "A4"
    A3 = "A3"

    @classmethod
    def _key(cls, value: Any) -> Any:
        return str(value).strip().upper()


class Orientation(ChoiceEnum, what="orientation"):
    """Page orientation of a printed map."""

    LANDSCAPE = "landscape"
    PORTRAIT = "portrait"


def paper_px(paper: "str | Paper", orientation: "str | Orientation") -> tuple[int, int]:
    """(width, height) of the page in CSS pixels (96 per inch)."""
    w, h = _MM[Paper.parse(paper).value]
    if Orientation.parse(orientation) is Orientation.LANDSCAPE:
        w, h = h, w
    return round(w / 25.4 * 96), round(h / 25.4 * 96)


def print_block(*, date: str, source: str, notice: str | None = None) -> dict[str, str]:
    """The title block's texts (the title is the map's own)."""
    out = {"date": f"制图日期 date: {date}", "source": f"数据来源 data: {source}"}
    if notice:
        out["notice"] = notice
    return out


def _control(m: folium.Map) -> Any:
    from gridmap.maps.page import ScriptControl

    for child in m._children.values():
        if isinstance(child, ScriptControl):
            return child
    raise GridmapError(message("this map has no gridmap page control", got=type(m).__name__,
                               fix="print maps made by gridmap.maps.build_map"))


@contextlib.contextmanager
def _printing(m: folium.Map, block: dict[str, str]) -> Iterator[None]:
    ctl = _control(m)
    spec = ctl.spec
    ctl.spec = {**spec, "print": {"title": str(spec.get("title", "")), **block}}
    try:
        yield
    finally:
        ctl.spec = spec


_DATE_RE = re.compile(rb"/(CreationDate|ModDate) ?\(D:([^)]*)\)")
_ID_RE = re.compile(rb"/ID ?\[ ?<([0-9A-Fa-f]+)> ?<([0-9A-Fa-f]+)> ?\]")


def normalise_pdf(data: bytes, *, date: str = "2000-01-01") -> bytes:
    """``data`` with its print time replaced by ``date`` (YYYY-MM-DD, midnight) and its ``/ID`` by a hash of
    the rest of the document; every replacement keeps its length (the xref offsets stay right)."""
    digits = re.sub(r"\D", "", date)[:8].ljust(8, "0")

    def fix_date(mt: re.Match) -> bytes:
        old = mt.group(2)
        new = (digits + "000000").encode()[: len(old)]
        new += re.sub(rb"\d", b"0", old[len(new):])
        return mt.group(0)[: mt.start(2) - mt.start(0)] + new + b")"

    data = _DATE_RE.sub(fix_date, data)
    digest = hashlib.sha256(_ID_RE.sub(b"", data)).hexdigest().upper().encode()

    def fix_id(mt: re.Match) -> bytes:
        out = mt.group(0)
        for g in (1, 2):
            old = mt.group(g)
            out = out.replace(old, (digest * 4)[: len(old)], 1)
        return out

    return _ID_RE.sub(fix_id, data)


def print_map(m: folium.Map, path: str | os.PathLike, *, paper: "str | Paper" = "A4",
              orientation: "str | Orientation" = "landscape", date: str, source: str,
              notice: str | None = None, png_scale: float = 2.0) -> Path:
    """Print ``m`` to ``path`` (``.pdf`` or ``.png``, from its suffix) with headless Chromium.

    Parameters
    ----------
    paper, orientation : page size ('A4', 'A3') and 'landscape' (default) or 'portrait'; a PNG has the page's
        size at ``png_scale`` pixels per CSS pixel.
    date, source, notice : texts of the title block (the map's date, where the data comes from, and e.g.
        '合成数据 synthetic data').
    """
    from gridmap.maps.chromium import Chromium
    from gridmap.maps.page import to_html

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in PRINT_FORMATS:
        raise GridmapError(message("cannot tell the print format from the file name", where=str(path),
                                   got=suffix or "no suffix", fix="name the output .pdf or .png"))
    w, h = paper_px(paper, orientation)
    with _printing(m, print_block(date=date, source=source, notice=notice)):
        page = to_html(m)
    with tempfile.TemporaryDirectory(prefix="gridmap-print-") as tmp:
        html = Path(tmp) / "map.html"
        html.write_text(page, encoding="utf-8")
        with Chromium() as browser:
            session = browser.page(html.as_uri(), width=w, height=h, scale=png_scale if suffix == ".png" else 1.0)
            if suffix == ".png":
                shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False},
                                    session=session)
                data = base64.b64decode(shot["data"])
            else:
                pdf = browser.send("Page.printToPDF", {
                    "paperWidth": w / 96, "paperHeight": h / 96, "marginTop": 0, "marginBottom": 0,
                    "marginLeft": 0, "marginRight": 0, "printBackground": True, "preferCSSPageSize": False,
                    "pageRanges": "1", "displayHeaderFooter": False, "landscape": False}, session=session)
                data = normalise_pdf(base64.b64decode(pdf["data"]), date=date)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_name(path.name + ".tmp")
    tmp_path.write_bytes(data)
    os.replace(tmp_path, path)
    log.info("printed map %s (%s %s, %.1f KB)", path, Paper.parse(paper).value, Orientation.parse(orientation).value,
             len(data) / 1024)
    return path
