"""Outputs of split proposals: the frame the maps draw, GeoPackage/GeoJSON files, a Markdown report."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd

from gridmap.markdown import escape_markdown
from gridmap.planning.atoms import as_geometry

__all__ = ["proposals_frame", "write_proposals", "markdown_report", "proposals_table"]

log = logging.getLogger(__name__)


def proposals_frame(proposals: Sequence, community: object, *, community_code: str | None = None) -> gpd.GeoDataFrame:
    """One row per part of every proposal plus the current boundary (``proposal_rank`` 0, ``part_id``
    'current'): columns community_code, proposal_rank, part_id, kind ('part'|'current'), households,
    area_m2, compactness, geometry — what the map draws side by side.
    """
    crs = getattr(community, "crs", None) or (proposals[0].parts.crs if proposals else None)
    code = community_code or (proposals[0].community_code if proposals else None)
    geom = as_geometry(community)
    hh = int(sum(proposals[0].parts["households"])) if proposals else None
    rows = [{"community_code": code, "proposal_rank": 0, "part_id": "current", "kind": "current",
             "households": hh, "area_m2": geom.area, "compactness": None, "geometry": geom}]
    for p in proposals:
        for pid, r in p.parts.iterrows():
            rows.append({"community_code": code, "proposal_rank": p.rank, "part_id": pid, "kind": "part",
                         "households": int(r["households"]), "area_m2": float(r["area_m2"]),
                         "compactness": float(r["compactness"]), "geometry": r.geometry})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def proposals_table(proposals: Sequence) -> pd.DataFrame:
    """One row per proposal: rank, k, households per part, balance, compactness, roads share, score."""
    return pd.DataFrame([{"rank": p.rank, "parts": p.k,
                          "households": "/".join(f"{h}" for h in p.parts["households"]),
                          "balance_cv": round(p.metrics["balance_cv"], 3),
                          "compactness": round(p.metrics["compactness_mean"], 2),
                          "along_roads": round(p.metrics["along_roads_share"], 2),
                          "new_boundary_m": round(p.metrics["new_boundary_m"]),
                          "score": round(p.score, 3)} for p in proposals])


def write_proposals(frame: gpd.GeoDataFrame, path: str | Path, *, layer: str = "proposals") -> Path:
    """Write :func:`proposals_frame` output to a GeoPackage (``.gpkg``) or GeoJSON (``.geojson``, WGS 84)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".geojson", ".json"):
        frame.to_crs(4326).to_file(path, driver="GeoJSON", engine="pyogrio")
    else:
        from gridmap.outputs import GRIDMAP_OUTPUT_KEY  # marks the file as gridmap's: it may replace it later

        frame.to_file(path, layer=layer, driver="GPKG", engine="pyogrio",
                      layer_options={"DESCRIPTION": f"{GRIDMAP_OUTPUT_KEY}: split proposals"})
    log.info("wrote %d proposal parts to %s", len(frame), path)
    return path


def markdown_report(proposals: Sequence, *, community_code: str | None = None, name: str | None = None) -> str:
    """A Markdown report for one community, Chinese with English alongside."""
    code = escape_markdown(community_code or (proposals[0].community_code if proposals else ""))
    title = f"{escape_markdown(name)} ({code})" if name else code   # names come from imported files: text only
    if not proposals:
        return f"# 社区拆分方案 / split proposals: {title}\n\n无方案 / no proposal\n"
    p0 = proposals[0]
    total = int(p0.parts["households"].sum())
    lines = [f"# 社区拆分方案 / split proposals: {title}", "",
             f"现有 {total:,} 户；每个新社区须在 {p0.floor:,}–{p0.ceiling:,} 户之间、连片、不切分小区、不跨越河流/铁路/主干路。",
             f"{total:,} households now; every new community must hold {p0.floor:,}–{p0.ceiling:,} households, "
             "be in one piece, keep every compound whole and not cross rivers, rail or barrier roads.", ""]
    if any(getattr(p, "search", {}).get("time_limit_hit") for p in proposals):
        limit = p0.search.get("time_limit_s")
        lines += [f"> 注意：搜索在 {limit:g} 秒时限处停止（安全限制），重新运行结果可能不同。 / Note: the search was "
                  f"stopped by the {limit:g} s time limit (a safety net): running it again may give different "
                  "proposals.", ""]
    for p in proposals:
        lines += [f"## 方案 {p.rank} / proposal {p.rank}", "", p.explanation_zh, "", p.explanation_en, "",
                  "| 部分 part | 户数 households | 面积 area (ha) | 紧凑度 compactness |", "|---|---:|---:|---:|"]
        for pid, r in p.parts.iterrows():
            lines.append(f"| {escape_markdown(pid)} | {int(r['households']):,} | {r['area_m2'] / 1e4:.1f} | {r['compactness']:.2f} |")
        m = p.metrics
        lines += ["", f"均衡度 balance CV {m['balance_cv']:.3f} · 最大偏差 max deviation {100 * m['max_deviation']:.0f}% · "
                  f"新边界 new boundary {m['new_boundary_m']:,.0f} m（沿道路 along roads "
                  f"{100 * m['along_roads_share']:.0f}%）· 保留原边界 outline share {100 * m['outline_share']:.0f}%", ""]
    return "\n".join(lines)
