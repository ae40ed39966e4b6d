"""The early-warning report: :class:`WarningReport` (what ``gridmap warn`` prints) and its Markdown summary."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridmap.markdown import escape_markdown
from gridmap.warning.labels import ALERT_KIND_ZH, UNIT_LABEL, AlertKind

__all__ = ["WarningReport", "summary_markdown"]


@dataclass
class WarningReport:
    """Everything ``gridmap warn`` prints: the alert table, the re-check list, notes and the Markdown summary."""

    start: pd.Timestamp
    end: pd.Timestamp
    alerts: pd.DataFrame
    recheck: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    #: each watched term (families expanded) and how many complaint texts in the window it matches
    keyword_counts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["term", "matches"]))

    @property
    def markdown(self) -> str:
        return summary_markdown(self)


def _md_table(frame: pd.DataFrame, columns: dict[str, str], limit: int) -> str:
    if frame is None or frame.empty:
        return "（无 / none）\n"
    f = frame.head(limit)
    head = "| " + " | ".join(columns.values()) + " |\n|" + "---|" * len(columns) + "\n"
    rows = []
    for _, r in f.iterrows():
        cells = []
        for c in columns:
            v = r.get(c)
            # Numbers and dates as gridmap formats them; every other value (codes, names, categories,
            # addresses from the data) as escaped text, so it cannot become markup.
            if isinstance(v, (float, np.floating)):
                v = "∞" if np.isinf(v) else ("" if np.isnan(v) else f"{v:.3g}")
            elif isinstance(v, pd.Timestamp):
                v = v.strftime("%Y-%m-%d")
            elif isinstance(v, (bool, np.bool_, int, np.integer)):
                v = str(v)
            else:
                v = escape_markdown(v)
            cells.append("" if v is None else v)
        rows.append("| " + " | ".join(cells) + " |")
    more = f"\n… 另有 {len(frame) - limit} 条 (and {len(frame) - limit} more)\n" if len(frame) > limit else "\n"
    return head + "\n".join(rows) + "\n" + more


_ZH_NUMBERS = "一二三四五六七八九十"


_HOT_KINDS = (AlertKind.NEW_HOT_SPOT.value, AlertKind.CONSECUTIVE_HOT_SPOT.value,
              AlertKind.INTENSIFYING_HOT_SPOT.value)


def summary_markdown(report: WarningReport, *, limit: int = 20) -> str:
    """The Chinese (with English) Markdown summary a street office can act on.

    The opening lines count every kind of alert (zeros included); a section with its table follows only for
    the kinds that have alerts (and for the re-check list when it has places), so a heading always comes with
    content.
    """
    a = report.alerts
    t0, t1 = report.start.strftime("%Y-%m-%d"), (report.end - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    kinds = a["kind"] if len(a) else pd.Series(dtype=str)
    jumps = a[kinds == AlertKind.COUNT_JUMP.value] if len(a) else a
    kw = a[kinds == AlertKind.KEYWORD.value] if len(a) else a
    hs = a[kinds.isin(_HOT_KINDS)] if len(a) else a
    st = a[kinds == AlertKind.SPACE_TIME_CLUSTER.value] if len(a) else a
    out = [f"# 12345 诉求预警 / Complaint early warning：{t0} 至 {t1}\n",
           f"共 **{len(a)}** 条预警（诉求量突增 {len(jumps)}，时空聚集 {len(st)}，关键词监测 {len(kw)}，热点 {len(hs)}）；"
           f"汛前回头看清单 {len(report.recheck)} 处。\n",
           f"{len(a)} alert(s): {len(jumps)} count jump(s), {len(st)} space-time cluster(s), {len(kw)} keyword "
           f"watch, {len(hs)} hot spot(s); {len(report.recheck)} place(s) to re-check.\n"]
    if report.keywords:
        kc = report.keyword_counts
        out.append("关键词监测词表（含同义词族）及本期文本匹配数 Watched terms (families expanded) and matching texts "
                   "in the window：" + ("、".join(f"{escape_markdown(t)} {int(m)}" for t, m in
                                                zip(kc["term"], kc["matches"])) or "（无）") + "\n")
    sections: list[tuple[str, list[str]]] = []
    if len(jumps):
        sections.append((f"{ALERT_KIND_ZH['count jump']} Count jumps (vs own baseline, FDR 5 %)", [
            "建议：当周派人到点位核实原因，能立即解决的即时处置（接诉即办），需多部门的上报街道“吹哨”。\n",
            _md_table(jumps, {"unit_type": "单元 unit", "unit": "编码 code", "observed": "本期 observed",
                              "expected": "期望 expected", "ratio": "倍数 ratio", "q": "q 值", "baseline": "基线"},
                      limit)]))
    if len(st):
        sections.append((f"{ALERT_KIND_ZH['space-time cluster']} Space-time clusters (space-time scan, weekly "
                         "evaluations)", [
            "建议：按类别派单到点位逐户核查（如房屋漏雨排查屋面防水，外卖车辆占道可设专门停车区）；"
            "连续多次评估均预警的点位列入街道重点督办。\n",
            _md_table(st, {"unit": UNIT_LABEL["cell"], "category": "类别 family", "flagged_at": "首次预警 first flag",
                           "evaluations": "预警次数 flags", "observed": "本期 observed", "expected": "期望 expected",
                           "ratio": "倍数 ratio", "radius_m": "扫描半径 m"}, limit)]))
    if len(hs):
        sections.append(("新增 / 连续 / 加强热点 Emerging hot spots (Gi*)", [
            "建议：新增热点当周巡查；加强热点列入街道重点督办（如堂子胡同外卖车辆停放，可设专门停车区）。\n",
            _md_table(hs, {"unit": UNIT_LABEL["cell"], "kind_zh": "类型", "kind": "pattern", "final_z": "末期 z",
                           "total": "期间诉求 total"}, limit)]))
    if report.keywords and len(kw):
        watch = "、".join(map(escape_markdown, report.keywords))
        sections.append((f"{ALERT_KIND_ZH['keyword watch']} Keyword watch：{watch}", [
            _md_table(kw, {"unit_type": "单元 unit", "unit": "编码 code", "observed": "本期 observed",
                           "expected": "期望 expected", "q": "q 值"}, limit)]))
    if report.keywords and len(report.recheck):
        sections.append((f"汛前回头看清单 Pre-season re-check list（{'、'.join(map(escape_markdown, report.keywords))}）", [
            "优先级 A：仍有未办结诉求；B：反复诉求（2 次及以上）；C：曾诉求且已解决。建议在雨季（6–8 月）前逐户上门"
            "复查并登记整改结果。\n",
            _md_table(report.recheck, {"priority": "优先级", "place": "地点 place", "complaints": "诉求数",
                                       "unresolved": "未办结", "years": "涉及年份", "last": "最近",
                                       "community_code": "社区"}, limit)]))
    for k, (title, body) in enumerate(sections):
        num = _ZH_NUMBERS[k] if k < len(_ZH_NUMBERS) else str(k + 1)
        out += [f"## {num}、{title}\n", *body]
    if report.notes:
        out += ["## 说明 Notes\n"] + [f"- {escape_markdown(n)}\n" for n in report.notes]
    out.append("\n方法：本期计数与同期（往年同日期）基线比较，条件二项检验并按 Benjamini–Hochberg 控制错误发现率；"
               "时空聚集为时空置换扫描（每周评估前 7 天，各点位与自身以往占比比较，精确检验，每次评估的误报概率受控）；"
               "热点为 Getis-Ord Gi*（queen 邻域，含自身）与 Mann–Kendall 趋势。\n")
    return "\n".join(out)
