"""The 月度点评会 pack: an HTML report (inline SVG charts, offline, escaped), an XLSX workbook and one CSV per table,
in Chinese with English alongside. Pure writing of what :mod:`gridmap.performance.service` computed.

Files: ``report.html``, ``tables.xlsx`` (one sheet per table), ``<table>.csv`` (UTF-8 with BOM, opens in Excel),
and ``map.html`` (written by the service through :mod:`gridmap.maps`, linked and embedded from the report).
"""

from __future__ import annotations

import html
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.performance.charts import bar_chart, choropleth, line_chart
from gridmap.performance.rules import RateRules

__all__ = ["MonthlyPack", "COLUMN_LABELS", "pack_tables", "render_html", "write_pack_files"]

log = logging.getLogger(__name__)

#: Column -> bilingual header in every table of the pack.
COLUMN_LABELS: dict[str, str] = {
    "unit": "单位 unit", "name": "名称 name", "rank": "排名 rank", "rank_prev": "上月排名 last month's rank",
    "rank_change": "名次变化 places moved up", "complaints": "诉求量 complaints", "excluded": "剔除 excluded",
    "counted": "计入考核 counted", "response_n": "响应率分母 response known", "response_ok": "按时响应 responded in time",
    "response_rate": "响应率 response rate", "resolution_n": "解决率分母 resolution known",
    "resolved": "已解决 resolved", "resolution_rate": "解决率 resolution rate",
    "satisfaction_n": "满意率分母 satisfaction known", "satisfied": "满意 satisfied",
    "satisfaction_rate": "满意率 satisfaction rate", "score": "综合成绩 composite score",
    "score_prev": "上月成绩 last month's score", "score_change": "成绩环比 score change",
    "response_rate_prev": "上月响应率 last month's response", "response_rate_change": "响应率环比 response change",
    "resolution_rate_prev": "上月解决率 last month's resolution",
    "resolution_rate_change": "解决率环比 resolution change",
    "satisfaction_rate_prev": "上月满意率 last month's satisfaction",
    "satisfaction_rate_change": "满意率环比 satisfaction change",
    "response_points": "响应失分 response points", "resolution_points": "解决失分 resolution points",
    "satisfaction_points": "满意失分 satisfaction points", "points": "合计得失分 points (+/-)",
    "share_of_loss": "失分占比 share of points lost", "place": "地点 place", "category": "类别 category",
    "repeats": "重复次数 repeats", "first": "首次 first", "last": "最近 last", "community_code": "社区 community",
    "source_ids": "工单号 work orders", "watch": "季节 season", "unresolved": "未解决 unresolved",
    "years": "年份数 years", "cell_code": "网格 cell", "street_code": "街道 street", "priority": "优先级 priority",
    "x": "x", "y": "y", "total": "合计 total", "slope_per_month": "月均变化 slope per month",
    "change": "12个月变化 12-month change"}

#: table key -> (file/sheet name, bilingual title)
TABLE_TITLES: dict[str, tuple[str, str]] = {
    "league": ("league", "全区街道排名 district league table"),
    "bottom": ("bottom", "排名靠后 named at the bottom"),
    "street_trend": ("street_trend", "街道12个月综合成绩 streets' 12-month scores"),
    "communities": ("communities", "本街道社区排名 the street's communities"),
    "community_trend": ("community_trend", "社区12个月综合成绩 communities' 12-month scores"),
    "gap_communities": ("gap_communities", "社区失分（相对全区中位） points lost by community vs district median"),
    "gap_categories": ("gap_categories", "类别失分（相对全区中位） points lost by category vs district median"),
    "units": ("units", "承办单位 units (双派单 counted for each)"),
    "categories": ("categories", "诉求类别 categories"),
    "repeats": ("repeats", "回头看：重复诉求 repeated complaints"),
    "proactive": ("proactive", "未诉先办候选 proactive candidates (seasonal watch)"),
    "exclusions": ("exclusions", "剔除情况 exclusions by reason"),
}

_RATE_COLS = {"response_rate", "resolution_rate", "satisfaction_rate", "share_of_loss"}


@dataclass
class MonthlyPack:
    """Everything the monthly review shows for one street (built by
    :func:`gridmap.performance.service.monthly_pack`)."""

    month: pd.Period
    street: str
    street_name: str
    rules: RateRules
    league: Any          # RankResult of the district's streets
    communities: Any     # RankResult of the street's communities
    units: pd.DataFrame
    categories: pd.DataFrame
    gap_communities: pd.DataFrame
    gap_categories: pd.DataFrame
    benchmark: dict[str, float]
    repeats: pd.DataFrame
    proactive: pd.DataFrame
    exclusions: pd.DataFrame
    community_geometry: gpd.GeoDataFrame | None
    street_geometry: gpd.GeoDataFrame | None
    repeat_days: int = 30


def pack_tables(pack: MonthlyPack) -> dict[str, pd.DataFrame]:
    """Every table of the pack (plain frames, bilingual headers, unit as the first column)."""
    def show(frame: pd.DataFrame, *, index: bool = True) -> pd.DataFrame:
        f = frame.reset_index() if index else frame.reset_index(drop=True)
        f = pd.DataFrame(f.drop(columns="geometry", errors="ignore"))
        return f.rename(columns={c: COLUMN_LABELS.get(str(c), str(c)) for c in f.columns})

    return {"league": show(pack.league.table), "bottom": show(pack.league.bottom),
            "street_trend": show(pack.league.trend), "communities": show(pack.communities.table),
            "community_trend": show(pack.communities.trend), "gap_communities": show(pack.gap_communities),
            "gap_categories": show(pack.gap_categories), "units": show(pack.units),
            "categories": show(pack.categories), "repeats": show(pack.repeats, index=False),
            "proactive": show(pack.proactive, index=False), "exclusions": show(pack.exclusions)}


def _fmt_table(frame: pd.DataFrame, *, limit: int | None = None) -> str:
    f = frame.head(limit) if limit else frame
    formatters = {}
    for c in f.columns:
        key = next((k for k, v in COLUMN_LABELS.items() if v == c), c)
        if key in _RATE_COLS or str(key).endswith("_rate_prev") or str(key).endswith("_rate_change"):
            formatters[c] = lambda v: "—" if pd.isna(v) else f"{v:.1%}"
        elif pd.api.types.is_float_dtype(f[c]):
            formatters[c] = lambda v: "—" if pd.isna(v) else f"{v:.2f}"
    body = "<div class='wrap'>" + f.to_html(index=False, escape=True, na_rep="—", formatters=formatters, border=0,
                                            classes="t") + "</div>"
    more = f"<p class='note'>… {len(frame) - limit} more rows in the XLSX/CSV 更多见表格文件</p>" \
        if limit and len(frame) > limit else ""
    return body + more


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _pct(v: Any) -> str:
    return "—" if v is None or pd.isna(v) else f"{float(v):.1%}"


def _summary(pack: MonthlyPack) -> str:
    t = pack.league.table
    row = t.loc[pack.street] if pack.street in t.index else None
    n_ranked = int(t["rank"].notna().sum())
    if row is None:
        return f"<p>{_e(pack.street_name)}: 本月无诉求 no complaints this month.</p>"
    rank = "—" if pd.isna(row["rank"]) else f"{int(row['rank'])} / {n_ranked}"
    change = row.get("score_change")
    change_txt = "—" if pd.isna(change) else f"{change:+.1f}"
    bottom = "、".join(f"{_e(t.loc[u].get('name') or u)} ({_e(u)})" for u in pack.league.bottom.index)
    items = [("综合成绩 composite score", "—" if pd.isna(row["score"]) else f"{row['score']:.1f}"),
             ("全区排名 district rank", rank), ("环比 change vs last month", change_txt),
             ("响应率 response", f"{_pct(row['response_rate'])} (n={int(row['response_n']):,})"),
             ("解决率 resolution", f"{_pct(row['resolution_rate'])} (n={int(row['resolution_n']):,})"),
             ("满意率 satisfaction", f"{_pct(row['satisfaction_rate'])} (n={int(row['satisfaction_n']):,})"),
             ("诉求量 / 剔除 complaints / excluded", f"{int(row['complaints']):,} / {int(row['excluded']):,}"),
             ("排名靠后 bottom of the district", bottom or "—")]
    return "<table class='kv'>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in items) \
        + "</table>"


def _trend_chart(trend: pd.DataFrame, *, title: str, bold: str | None = None, limit: int = 10,
                 names: dict | None = None) -> str:
    months = [c for c in trend.columns if c not in ("slope_per_month", "change")]
    sel = trend.head(limit) if bold is None or bold not in trend.index else \
        pd.concat([trend.loc[[bold]], trend.drop(index=bold).head(limit - 1)])
    names = names or {}
    series = {f"{names.get(u) or ''} {u}".strip(): row[months].tolist() for u, row in sel.iterrows()}
    median = trend[months].median().tolist()
    series["全区中位 median"] = median
    return line_chart(months, series, title=title, bold=[f"{names.get(bold) or ''} {bold}".strip()] if bold else [])


def render_html(pack: MonthlyPack, *, map_file: str | None = None) -> str:
    """The report page: self-contained (inline CSS and SVG, no script, no external URL); every value escaped."""
    t = pack.league.table
    labels = [f"{(t.loc[u].get('name') or '')} {u}".strip() for u in t.index]
    lab_of = dict(zip(t.index, labels))
    league_svg = bar_chart(labels, t["score"].tolist(), title="全区街道综合成绩 district league (composite score)",
                           highlight=[lab_of.get(pack.street, "")], marked=[lab_of[u] for u in pack.league.bottom.index])
    street_trend = _trend_chart(pack.league.trend, title="街道12个月综合成绩 12-month score trend",
                                bold=pack.street, names=t["name"].to_dict() if "name" in t else None)
    ct = pack.communities.table
    comm_trend = _trend_chart(pack.communities.trend, title="社区12个月综合成绩 communities' 12-month trend",
                              names=ct["name"].to_dict() if "name" in ct else None)
    gap = pack.gap_communities
    gap_labels = [f"{gap.loc[u].get('name') or ''} {u}".strip() if "name" in gap else str(u) for u in gap.index]
    gap_svg = bar_chart(gap_labels, gap["points"].tolist(), vmin=min(0.0, float(gap["points"].min()))
                        if len(gap) else 0.0, title="社区得失分 points gained/lost by community", fmt="{:+.2f}")
    geo = pack.community_geometry
    map_svg = choropleth(geo.geometry.values, geo["score"].tolist(),
                         [f"{n or ''} {c}" for n, c in zip(geo["name"], geo["code"])],
                         title="社区综合成绩 communities by composite score") if geo is not None and len(geo) else ""
    tables = pack_tables(pack)
    w = pack.rules.weights
    bench = pack.benchmark
    parts = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:; frame-src 'self'\">",
        f"<title>{_e(pack.street_name)} {_e(pack.month)} 接诉即办月度点评 monthly review</title>",
        "<style>body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:24px;color:#222;"
        "max-width:1100px}table.t{border-collapse:collapse;font-size:12px;margin:8px 0}table.t th,table.t td"
        "{border:1px solid #ccc;padding:3px 6px;text-align:right}table.t th{background:#f3f3f3}"
        "table.kv th{text-align:left;padding-right:16px}.note{color:#666;font-size:12px}h2{margin-top:28px;"
        "border-bottom:2px solid #08306b}.wrap{overflow-x:auto}iframe{border:1px solid #ccc;width:100%;height:480px}</style></head><body>",
        f"<h1>{_e(pack.street_name)}（{_e(pack.street)}）接诉即办月度点评 12345 monthly review — {_e(pack.month)}</h1>",
        _summary(pack),
        f"<p class='note'>综合成绩 = 100 × ({w[0]:.0%} 响应率 + {w[1]:.0%} 解决率 + {w[2]:.0%} 满意率) composite "
        f"score weights response/resolution/satisfaction; 响应时限 response limit {pack.rules.response_limit_h:g} h "
        f"(紧急类别 urgent {', '.join(pack.rules.urgent_categories)}: {pack.rules.urgent_limit_h:g} h). 每项比率只计"
        "已知字段的诉求，分母列出 each rate counts only complaints where its field is known (denominators shown); "
        "剔除诉求不计入 excluded complaints are not counted. 全区中位 district median: 响应 "
        f"{_pct(bench.get('response_rate'))}, 解决 {_pct(bench.get('resolution_rate'))}, 满意 "
        f"{_pct(bench.get('satisfaction_rate'))}.</p>",
        f"<h2>{_e(TABLE_TITLES['league'][1])}</h2>", league_svg, _fmt_table(tables["league"]),
        f"<h2>{_e(TABLE_TITLES['street_trend'][1])}</h2>", street_trend,
        f"<h2>{_e(TABLE_TITLES['communities'][1])}</h2>", map_svg,
    ]
    if map_file:
        parts.append(f"<p class='note'>交互地图 interactive map (offline): <a href='{_e(map_file)}'>{_e(map_file)}"
                     f"</a></p><iframe src='{_e(map_file)}' title='map'></iframe>")
    parts += [_fmt_table(tables["communities"]), comm_trend,
              f"<h2>{_e('先改什么 what to fix first')}</h2>", gap_svg,
              f"<h3>{_e(TABLE_TITLES['gap_communities'][1])}</h3>", _fmt_table(tables["gap_communities"]),
              f"<h3>{_e(TABLE_TITLES['gap_categories'][1])}</h3>", _fmt_table(tables["gap_categories"]),
              f"<h3>{_e(TABLE_TITLES['repeats'][1])} ({pack.repeat_days} 天内 within {pack.repeat_days} days)</h3>",
              _fmt_table(tables["repeats"], limit=30),
              f"<h3>{_e(TABLE_TITLES['proactive'][1])}</h3>", _fmt_table(tables["proactive"], limit=30),
              f"<h2>{_e(TABLE_TITLES['units'][1])}</h2>", _fmt_table(tables["units"]),
              f"<h2>{_e(TABLE_TITLES['categories'][1])}</h2>", _fmt_table(tables["categories"]),
              f"<h2>{_e(TABLE_TITLES['exclusions'][1])}</h2>", _fmt_table(tables["exclusions"]),
              "<p class='note'>gridmap · 表格另见 tables.xlsx 与 CSV files alongside.</p></body></html>"]
    return "\n".join(parts)


def write_pack_files(pack: MonthlyPack, out: str | os.PathLike, *, map_file: str | None = None) -> dict[str, Path]:
    """Write ``report.html``, ``tables.xlsx`` and one CSV per table into ``out``; return name -> path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = pack_tables(pack)
    files: dict[str, Path] = {}
    for key, frame in tables.items():
        p = out / f"{TABLE_TITLES[key][0]}.csv"
        frame.to_csv(p, index=False, encoding="utf-8-sig")
        files[f"csv:{key}"] = p
    xlsx = out / "tables.xlsx"
    with pd.ExcelWriter(xlsx, engine="openpyxl") as writer:
        for key, frame in tables.items():
            f = frame.copy()
            for c in f.columns:  # Excel has no NA: blanks
                if pd.api.types.is_float_dtype(f[c]):
                    f[c] = f[c].astype(float).where(np.isfinite(f[c].astype(float)))
            f.to_excel(writer, sheet_name=TABLE_TITLES[key][0][:31], index=False)
    files["xlsx"] = xlsx
    page = out / "report.html"
    tmp = page.with_name(page.name + ".tmp")
    tmp.write_text(render_html(pack, map_file=map_file), encoding="utf-8")
    os.replace(tmp, page)
    files["html"] = page
    log.info("monthly pack for %s %s: %d files in %s", pack.street, pack.month, len(files) + bool(map_file), out)
    return files
