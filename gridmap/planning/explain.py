"""Short explanations, in Chinese with English alongside, of why a proposal ranks where it does."""

from __future__ import annotations

from collections.abc import Sequence

from gridmap.planning.proposal import Proposal

__all__ = ["explain_rank"]


def explain_rank(p: Proposal, all_props: Sequence[Proposal]) -> tuple[str, str]:
    """(Chinese, English) sentence: the proposal's shape in numbers, then how it compares with rank 1.

    Examples
    --------
    Used by :func:`gridmap.planning.propose_splits`; every proposal carries ``explanation_zh`` and
    ``explanation_en``.
    """
    m = p.metrics
    hh = p.parts["households"]
    n = len(all_props)
    zh = (f"第 {p.rank}/{n} 名：分为 {p.k} 个社区，各 {hh.min():,}–{hh.max():,} 户（均衡度 CV {m['balance_cv']:.2f}），"
          f"平均紧凑度 {m['compactness_mean']:.2f}，新边界 {m['new_boundary_m']:,.0f} 米、其中 "
          f"{100 * m['along_roads_share']:.0f}% 沿道路。")
    en = (f"Rank {p.rank} of {n}: {p.k} communities of {hh.min():,}–{hh.max():,} households (balance CV "
          f"{m['balance_cv']:.2f}), mean compactness {m['compactness_mean']:.2f}, {m['new_boundary_m']:,.0f} m of "
          f"new boundary, {100 * m['along_roads_share']:.0f}% along roads.")
    best = all_props[0]
    if p.rank == 1:
        if n == 1:
            zh += "这是唯一满足全部硬约束的方案。"
            en += " It is the only option that meets every hard rule."
        else:
            good_zh, good_en = [], []
            if m["balance_cv"] <= min(q.metrics["balance_cv"] for q in all_props) + 1e-9:
                good_zh.append("户数最均衡")
                good_en.append("the most even household counts")
            if m["compactness_mean"] >= max(q.metrics["compactness_mean"] for q in all_props) - 1e-9:
                good_zh.append("形状最规整")
                good_en.append("the most compact shapes")
            if not good_zh:
                good_zh.append("均衡度与紧凑度综合最好")
                good_en.append("the best combination of balance and compactness")
            zh += "排第一：" + "、".join(good_zh) + "。"
            en += " Ranked first: " + " and ".join(good_en) + "."
        return zh, en
    diffs_zh, diffs_en = [], []
    bm = best.metrics
    if m["balance_cv"] > bm["balance_cv"] + 0.005:
        diffs_zh.append(f"户数不如第 1 名均衡（CV {m['balance_cv']:.2f} 对 {bm['balance_cv']:.2f}）")
        diffs_en.append(f"less even households (CV {m['balance_cv']:.2f} vs {bm['balance_cv']:.2f})")
    if m["compactness_mean"] < bm["compactness_mean"] - 0.005:
        diffs_zh.append(f"形状不如第 1 名规整（{m['compactness_mean']:.2f} 对 {bm['compactness_mean']:.2f}）")
        diffs_en.append(f"less compact shapes ({m['compactness_mean']:.2f} vs {bm['compactness_mean']:.2f})")
    if m["along_roads_share"] < bm["along_roads_share"] - 0.05:
        diffs_zh.append(f"沿道路的新边界更少（{100 * m['along_roads_share']:.0f}% 对 "
                        f"{100 * bm['along_roads_share']:.0f}%）")
        diffs_en.append(f"less new boundary along roads ({100 * m['along_roads_share']:.0f}% vs "
                        f"{100 * bm['along_roads_share']:.0f}%)")
    if not diffs_zh:
        diffs_zh.append("综合得分略低")
        diffs_en.append("a slightly lower overall score")
    zh += "排在后面是因为" + "；".join(diffs_zh) + "。"
    en += " It ranks lower for " + "; ".join(diffs_en) + "."
    if p.k != best.k:
        zh += f"它分成 {p.k} 个社区（第 1 名为 {best.k} 个），可作为另一种规模的选择。"
        en += f" It uses {p.k} communities instead of {best.k}, an option of a different size."
    better = []
    if m["balance_cv"] < bm["balance_cv"] - 0.005:
        better.append(("户数更均衡", "more even households"))
    if m["compactness_mean"] > bm["compactness_mean"] + 0.005:
        better.append(("形状更规整", "more compact shapes"))
    if better:
        zh += "但它" + "、".join(b[0] for b in better) + "。"
        en += " On the other hand it has " + " and ".join(b[1] for b in better) + "."
    return zh, en
