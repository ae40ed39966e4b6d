"""Inline SVG charts for the monthly pack: no script, no external URL, every label escaped.

- :func:`bar_chart` horizontal bars (the league table: one bar per street, the chosen street and the bottom N
  marked);
- :func:`line_chart` monthly lines with gaps where a month has no value (12-month trends);
- :func:`choropleth` polygons in the working CRS filled by composite-score band (the street's communities).

Examples
--------
>>> svg = bar_chart(["东华门 <b>", "景山"], [91.5, None], title="成绩 score")
>>> svg.startswith("<svg") and "&lt;b&gt;" in svg and "<b>" not in svg
True
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from gridmap.performance.rules import NO_SCORE, SCORE_BANDS, score_class

__all__ = ["bar_chart", "line_chart", "choropleth"]

_FONT = "font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;font-size:12px"
_PALETTE = ["#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00", "#b82e2e",
            "#316395"]


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def bar_chart(labels: Sequence[str], values: Sequence[Any], *, title: str, highlight: Sequence[str] = (),
              marked: Sequence[str] = (), width: int = 720, vmin: float | None = None, fmt: str = "{:.1f}") -> str:
    """Horizontal bars in the given order; ``highlight`` labels drawn dark blue, ``marked`` (e.g. the bottom N)
    red; a missing value is an empty row marked "—"."""
    row_h, left, right, top = 22, 210, 60, 30
    h = top + row_h * len(labels) + 10
    nums = [_num(v) for v in values]
    known = [v for v in nums if v is not None]
    lo = vmin if vmin is not None else (min(0.0, min(known)) if known else 0.0)
    if vmin is None and known and min(known) > 50:  # scores: start the axis near the data so differences show
        lo = math.floor(min(known) / 10) * 10 - 10
    hi = max(known) if known else 1.0
    hi = hi if hi > lo else lo + 1
    span = width - left - right
    parts = [f'<svg width="{width}" height="{h}" viewBox="0 0 {width} {h}" '
             f'role="img" style="{_FONT}"><title>{_e(title)}</title>',
             f'<text x="4" y="18" font-weight="bold">{_e(title)}</text>']
    for i, (lab, v) in enumerate(zip(labels, nums)):
        y = top + i * row_h
        colour = "#08306b" if lab in highlight else "#d73027" if lab in marked else "#6baed6"
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{_e(lab)}</text>')
        if v is None:
            parts.append(f'<text x="{left + 4}" y="{y + 15}">—</text>')
            continue
        w = max(1.0, (v - lo) / (hi - lo) * span)
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{colour}"/>')
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 15}">{_e(fmt.format(v))}</text>')
    parts.append(f'<text x="{left}" y="{h - 1}" fill="#777" font-size="10">{_e(fmt.format(lo))}</text></svg>')
    return "".join(parts)


def line_chart(months: Sequence[str], series: dict[str, Sequence[Any]], *, title: str, width: int = 720,
               height: int = 260, bold: Sequence[str] = ()) -> str:
    """One line per series over ``months``; missing values break the line (no interpolation)."""
    left, right, top, bottom = 48, 170, 30, 40
    known = [_num(v) for vs in series.values() for v in vs]
    known = [v for v in known if v is not None]
    lo = math.floor(min(known) / 5) * 5 if known else 0.0
    hi = math.ceil(max(known) / 5) * 5 if known else 100.0
    hi = hi if hi > lo else lo + 5
    pw, ph = width - left - right, height - top - bottom
    n = max(1, len(months) - 1)
    x = lambda i: left + pw * i / n  # noqa: E731
    y = lambda v: top + ph * (1 - (v - lo) / (hi - lo))  # noqa: E731
    parts = [f'<svg width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" style="{_FONT}"><title>{_e(title)}</title>',
             f'<text x="4" y="18" font-weight="bold">{_e(title)}</text>']
    for t in np.linspace(lo, hi, 5):
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#eee"/>'
                     f'<text x="{left - 4}" y="{y(t) + 4:.1f}" text-anchor="end" fill="#777">{t:.0f}</text>')
    for i, m in enumerate(months):
        parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" fill="#777" '
                     f'font-size="10">{_e(m[2:] if len(m) == 7 else m)}</text>')
    for k, (name, vs) in enumerate(series.items()):
        colour = _PALETTE[k % len(_PALETTE)]
        sw = 3 if name in bold else 1.5
        run: list[str] = []
        segments = []
        for i, v in enumerate(vs):
            f = _num(v)
            if f is None:
                if run:
                    segments.append(run)
                run = []
                continue
            run.append(f"{x(i):.1f},{y(f):.1f}")
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(f):.1f}" r="2.5" fill="{colour}"/>')
        if run:
            segments.append(run)
        for seg in segments:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="{sw}" points="{" ".join(seg)}"/>')
        ly = top + 14 * k
        parts.append(f'<rect x="{left + pw + 10}" y="{ly}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{left + pw + 24}" y="{ly + 9}">{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _ring_path(coords: np.ndarray, x0: float, y1: float, s: float) -> str:
    pts = [f"{(cx - x0) * s:.1f},{(y1 - cy) * s:.1f}" for cx, cy in coords]
    return "M" + " L".join(pts) + " Z"


def choropleth(geoms: Sequence[Any], scores: Sequence[Any], labels: Sequence[str], *, title: str,
               width: int = 520) -> str:
    """Polygons (working CRS, metres) filled by composite-score band, each with its label and score as a tooltip,
    and the band legend."""
    g = np.asarray(list(geoms), dtype=object)
    if not len(g):
        return ""
    x0, y0, x1, y1 = shapely.total_bounds(g)
    s = (width - 20) / max(x1 - x0, 1.0)
    h = int((y1 - y0) * s) + 20
    legend_h = 18 * (len(SCORE_BANDS) + 1) + 10
    parts = [f'<svg width="{width + 170}" height="{max(h, legend_h) + 30}" '
             f'viewBox="-10 -30 {width + 170} {max(h, legend_h) + 30}" role="img" style="{_FONT}">'
             f'<title>{_e(title)}</title><text x="0" y="-12" font-weight="bold">{_e(title)}</text>']
    for geom, sc, lab in zip(g, scores, labels):
        band = score_class(sc)
        fill = SCORE_BANDS[band][1] if band < len(SCORE_BANDS) else NO_SCORE[0]
        polys = getattr(geom, "geoms", [geom])
        d = " ".join(_ring_path(np.asarray(r.coords), x0, y1, s) for p in polys
                     for r in (p.exterior, *p.interiors))
        f = _num(sc)
        tip = f"{lab}: {f:.1f}" if f is not None else f"{lab}: {NO_SCORE[1]}"
        parts.append(f'<path d="{d}" fill="{fill}" fill-rule="evenodd" stroke="#333" stroke-width="1">'
                     f'<title>{_e(tip)}</title></path>')
        c = geom.representative_point()
        parts.append(f'<text x="{(c.x - x0) * s:.1f}" y="{(y1 - c.y) * s:.1f}" text-anchor="middle" '
                     f'font-size="10">{_e(f"{f:.0f}" if f is not None else "—")}</text>')
    for i, (_, colour, lab) in enumerate((*SCORE_BANDS, (None, *NO_SCORE))):
        parts.append(f'<rect x="{width}" y="{18 * i}" width="12" height="12" fill="{colour}" stroke="#333"/>'
                     f'<text x="{width + 18}" y="{18 * i + 10}">{_e(lab)}</text>')
    parts.append("</svg>")
    return "".join(parts)
