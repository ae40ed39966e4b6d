"""City components (城市部件) of the 示范区, placed where they occur: covers in the carriageway, lamps, trees and
bins beside it, toilets along hutongs, bus stops on main roads, signs at junctions.

Class codes follow the old national scheme (major 2 + minor 2, CJ/T 214-2007). Class ``06`` 其他设施 has no
confirmed national minor codes; the demo uses **local extensions** ``0601 路灯``, ``0602 胡同路灯``, ``0603 报刊亭``
and ``0604 邮筒`` (0106 路灯井盖 stays the lamp *cover*). The 8-digit gridmap code (class 4 + serial 4) allows at most
9,999 components of one class in a district, so placement densities are chosen to stay under that cap and any class
that would exceed it is thinned evenly (logged).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.demo import _names
from gridmap.demo.layout import CRS, ROAD_WIDTH_M, Layout

__all__ = ["CLASSES", "LOCAL_CLASSES", "MAX_SERIAL", "build_components"]

log = logging.getLogger(__name__)

#: Largest serial an 8-digit component code can hold.
MAX_SERIAL = 9_999

#: class code -> Chinese class name (national minor classes used by the demo, plus local 06xx extensions).
CLASSES: dict[str, str] = {
    "0101": "上水井盖", "0102": "污水井盖", "0103": "雨水井盖", "0104": "雨水箅子", "0105": "电力井盖",
    "0106": "路灯井盖", "0107": "通讯井盖", "0108": "电视井盖", "0109": "网络井盖", "0110": "热力井盖",
    "0111": "燃气井盖", "0112": "公安井盖", "0113": "消防设施",
    "0201": "停车场", "0202": "停车咪表", "0203": "公交站亭", "0204": "出租车站牌", "0205": "过街天桥",
    "0208": "跨河桥", "0209": "交通标志牌",
    "0301": "公共厕所", "0302": "化粪池", "0303": "公厕指示牌", "0304": "垃圾间(楼)", "0305": "垃圾箱",
    "0306": "灯箱霓虹灯", "0307": "广告牌匾",
    "0401": "古树名木", "0402": "行道树", "0404": "花架花钵", "0405": "绿地", "0407": "街头座椅",
    "0501": "宣传栏", "0502": "人防工事",
    "0601": "路灯", "0602": "胡同路灯", "0603": "报刊亭", "0604": "邮筒",
}
#: Classes that are gridmap-local extensions (no national minor code confirmed).
LOCAL_CLASSES = ("0601", "0602", "0603", "0604")

#: major class -> (主管部门, 权属单位, 养护单位) candidates; all invented units of the synthetic district.
_UNITS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "0101": (["示范区水务局"], ["示范自来水有限公司"], ["示范区供水管网养护所"]),
    "0102": (["示范区水务局"], ["示范排水集团"], ["示范排水集团第一管网所", "示范排水集团第二管网所"]),
    "0103": (["示范区水务局"], ["示范排水集团"], ["示范排水集团第一管网所", "示范排水集团第二管网所"]),
    "0104": (["示范区水务局"], ["示范排水集团"], ["示范排水集团第一管网所", "示范排水集团第二管网所"]),
    "0105": (["示范区发展和改革委员会"], ["示范供电公司"], ["示范供电公司城区运维站"]),
    "0106": (["示范区城市管理委员会"], ["示范区路灯管理中心"], ["示范区路灯养护所"]),
    "0107": (["示范区经济和信息化局"], ["示范通信公司"], ["示范通信公司线路维护中心"]),
    "0108": (["示范区经济和信息化局"], ["示范有线电视网络公司"], ["示范有线电视网络公司运维部"]),
    "0109": (["示范区经济和信息化局"], ["示范宽带网络公司"], ["示范宽带网络公司运维部"]),
    "0110": (["示范区城市管理委员会"], ["示范热力集团"], ["示范热力集团管网分公司"]),
    "0111": (["示范区城市管理委员会"], ["示范燃气集团"], ["示范燃气集团城区管网所"]),
    "0112": (["示范区公安分局"], ["示范区公安分局"], ["示范区公安分局后勤保障处"]),
    "0113": (["示范区消防救援支队"], ["示范自来水有限公司"], ["示范区消防设施维保中心"]),
    "02": (["示范区交通委员会"], ["示范区交通委员会", "示范公交集团"], ["示范区道路养护中心", "示范公交集团场站部"]),
    "03": (["示范区城市管理委员会"], ["示范区环境卫生服务中心"], ["示范区环卫一队", "示范区环卫二队", "示范区环卫三队"]),
    "0307": (["示范区城市管理委员会"], ["沿街商户（合成）"], ["示范区户外广告设施管理所"]),
    "0306": (["示范区城市管理委员会"], ["沿街商户（合成）"], ["示范区户外广告设施管理所"]),
    "04": (["示范区园林绿化局"], ["示范区园林绿化局"], ["示范区绿化一队", "示范区绿化二队"]),
    "05": (["示范区住房和城乡建设委员会"], ["示范区房屋管理中心", "示范区人民防空办公室"], ["示范区房屋修缮中心"]),
    "06": (["示范区城市管理委员会"], ["示范区路灯管理中心", "示范邮政公司", "示范报刊发行公司"],
           ["示范区路灯养护所", "示范邮政公司城区分公司"]),
}

_STATUS = (["完好", "破损", "丢失", "废弃", "移除"], [0.925, 0.045, 0.008, 0.012, 0.010])
_SOURCE = (["实测", "地形图", "基础地理数据", "其他"], [0.86, 0.07, 0.05, 0.02])


@dataclass(frozen=True)
class _Rule:
    """Points every ``spacing_m`` along roads of ``kinds``; ``lateral`` is 'kerb' (outside the carriageway, on
    ``sides`` sides) or 'carriageway' (a random offset inside it)."""

    cls: str
    kinds: tuple[str, ...]
    spacing_m: float
    lateral: str = "kerb"
    sides: int = 2


_RULES: tuple[_Rule, ...] = (
    _Rule("0101", ("main", "secondary"), 50, "carriageway"), _Rule("0101", ("hutong",), 90, "carriageway"),
    _Rule("0102", ("main", "secondary"), 50, "carriageway"), _Rule("0102", ("hutong",), 70, "carriageway"),
    _Rule("0103", ("main", "secondary", "branch"), 35, "carriageway"),
    _Rule("0104", ("main", "secondary"), 40, "kerb", 2), _Rule("0104", ("branch",), 40, "kerb", 1),
    _Rule("0105", ("main", "secondary"), 45, "carriageway"), _Rule("0105", ("hutong",), 150, "carriageway"),
    _Rule("0106", ("main", "secondary"), 105, "kerb", 1),
    _Rule("0107", ("main", "secondary", "branch"), 40, "carriageway"),
    _Rule("0108", ("main", "secondary"), 70, "carriageway"),
    _Rule("0109", ("main", "secondary"), 80, "carriageway"),
    _Rule("0110", ("main", "secondary"), 50, "carriageway"),
    _Rule("0111", ("main", "secondary"), 75, "carriageway"), _Rule("0111", ("hutong",), 110, "carriageway"),
    _Rule("0112", ("main",), 160, "carriageway"),
    _Rule("0113", ("main", "secondary", "branch"), 120, "kerb", 1), _Rule("0113", ("hutong",), 140, "kerb", 1),
    _Rule("0202", ("secondary",), 180, "kerb", 1),
    _Rule("0203", ("main",), 450, "kerb", 2),
    _Rule("0204", ("main",), 900, "kerb", 1),
    _Rule("0209", ("main", "secondary"), 100, "kerb", 2),
    _Rule("0301", ("hutong",), 260, "kerb", 1), _Rule("0301", ("main", "secondary"), 900, "kerb", 1),
    _Rule("0305", ("main", "secondary"), 75, "kerb", 2), _Rule("0305", ("hutong", "branch"), 110, "kerb", 1),
    _Rule("0306", ("main",), 45, "kerb", 2),
    _Rule("0307", ("main", "secondary"), 40, "kerb", 2),
    _Rule("0402", ("main",), 11, "kerb", 2),
    _Rule("0404", ("main",), 70, "kerb", 2),
    _Rule("0407", ("main", "secondary"), 100, "kerb", 2),
    _Rule("0501", ("secondary", "hutong"), 320, "kerb", 1),
    _Rule("0601", ("main",), 35, "kerb", 2), _Rule("0601", ("secondary", "branch"), 35, "kerb", 1),
    _Rule("0602", ("hutong",), 35, "kerb", 1),
    _Rule("0603", ("main",), 420, "kerb", 1),
    _Rule("0604", ("main", "secondary"), 700, "kerb", 1),
)


def _along(lines: np.ndarray, widths: np.ndarray, rule: _Rule, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) coordinates placed along ``lines`` by ``rule``."""
    if len(lines) == 0:
        return np.empty((0, 2))
    length = shapely.length(lines)
    phase = rng.uniform(0, rule.spacing_m, len(lines))
    n = np.maximum(0, np.floor((length - phase) / rule.spacing_m).astype(int) + 1)
    n[length < phase] = 0
    li = np.repeat(np.arange(len(lines)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    dist = phase[li] + k * rule.spacing_m
    sides = 1 if rule.lateral == "carriageway" else rule.sides
    li, dist = np.tile(li, sides), np.tile(dist, sides)
    side = np.repeat(np.array([1.0, -1.0][:sides]), len(k))
    if sides == 1 and rule.lateral == "kerb":
        side = np.where(rng.random(len(li)) < 0.5, 1.0, -1.0)
    if sides == 2:                                  # stagger the two sides by half a spacing
        dist = np.where(side < 0, dist + rule.spacing_m / 2, dist)
        keep = dist <= length[li]
        li, dist, side = li[keep], dist[keep], side[keep]
    p = shapely.get_coordinates(shapely.line_interpolate_point(lines[li], dist))
    q = shapely.get_coordinates(shapely.line_interpolate_point(lines[li], np.minimum(dist + 1.0, length[li])))
    r = shapely.get_coordinates(shapely.line_interpolate_point(lines[li], np.maximum(dist - 1.0, 0.0)))
    t = q - r
    t /= np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-9)[:, None]
    normal = np.c_[-t[:, 1], t[:, 0]]
    half = widths[li] / 2
    if rule.lateral == "carriageway":
        off = rng.uniform(-0.8, 0.8, len(li)) * half
    else:
        off = side * (half + rng.uniform(0.8, 2.5, len(li)))
    return p + normal * off[:, None] + rng.normal(0, 0.3, (len(li), 2))


def _units(cls: str) -> tuple[list[str], list[str], list[str]]:
    return _UNITS.get(cls) or _UNITS[cls[:2]]


def _candidates(layout: Layout, rng: np.random.Generator) -> tuple[list, list, list]:
    """Candidate positions (x and y arrays) and classes of components: along the roads by rule, at compounds,
    bridges and footbridges, and beside each public toilet."""
    roads = layout.roads
    parts = shapely.get_parts(roads.geometry.values, return_index=True)
    lines, ridx = parts[0], parts[1]
    kinds = roads.kind.values[ridx]
    widths = roads.width_m.values[ridx].astype(float)
    xs, ys, cls_all = [], [], []
    for rule in _RULES:
        sel = np.isin(kinds, rule.kinds)
        xy = _along(lines[sel], widths[sel], rule, rng)
        xs.append(xy[:, 0])
        ys.append(xy[:, 1])
        cls_all.append(np.full(len(xy), rule.cls))

    cmp = layout.compounds
    modern = cmp[cmp.kind == "compound"]
    old = cmp[cmp.kind == "building"]
    # one waste room and one notice board per modern compound; car parks at a third; air-raid shelters few
    for cls, frame, share in (("0304", modern, 1.0), ("0501", modern, 1.0), ("0201", modern, 0.35),
                              ("0502", modern, 0.12), ("0401", old, 0.04), ("0405", modern, 0.15)):
        pick = frame.geometry.values[rng.random(len(frame)) < share]
        xy = shapely.get_coordinates(shapely.point_on_surface(pick))
        xy = xy + rng.normal(0, 3.0, xy.shape)
        xs.append(xy[:, 0])
        ys.append(xy[:, 1])
        cls_all.append(np.full(len(xy), cls))

    # bridges where roads cross the river; footbridges over main roads at every fourth main junction
    river = roads.geometry.values[roads.kind.values == "river"]
    if len(river):
        cross = shapely.intersection(roads.geometry.values[np.isin(roads.kind.values, ["main", "secondary"])],
                                     river[0])
        xy = shapely.get_coordinates(cross)
        xs.append(xy[:, 0])
        ys.append(xy[:, 1])
        cls_all.append(np.full(len(xy), "0208"))
    mains = roads.geometry.values[roads.kind.values == "main"]
    if len(mains) > 1:
        junction = shapely.get_coordinates(shapely.intersection_all(mains) if len(mains) == 2 else
                                           shapely.unary_union([shapely.intersection(a, b) for i, a in
                                                                enumerate(mains) for b in mains[i + 1:]]))
        junction = junction[rng.random(len(junction)) < 0.35] + np.array([30.0, 0.0])
        xs.append(junction[:, 0])
        ys.append(junction[:, 1])
        cls_all.append(np.full(len(junction), "0205"))
    # a septic tank and a sign at each public toilet
    toilets = np.concatenate(cls_all) == "0301"
    txy = np.c_[np.concatenate(xs)[toilets], np.concatenate(ys)[toilets]]
    for cls, off in (("0302", 6.0), ("0303", 25.0)):
        xy = txy + rng.normal(0, off / 2, txy.shape) + off / 2
        xs.append(xy[:, 0])
        ys.append(xy[:, 1])
        cls_all.append(np.full(len(xy), cls))
    return xs, ys, cls_all


def _serials(x: np.ndarray, y: np.ndarray, cls: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Serials per class, west to east inside 200 m bands from north to south; a class over the 4-digit cap is
    thinned evenly. Returns the kept ``x, y, cls``, their serials, and the classes present."""
    order = np.lexsort((x, -np.floor(y / 200.0), cls))
    x, y, cls = x[order], y[order], cls[order]
    uniq, start, count = np.unique(cls, return_index=True, return_counts=True)
    keep = np.ones(len(x), dtype=bool)
    serial = np.zeros(len(x), dtype=int)
    for c, s0, n in zip(uniq, start, count):
        if n > MAX_SERIAL:
            log.warning("component class %s has %d candidates, more than the 8-digit code holds (%d); "
                        "thinning evenly", c, n, MAX_SERIAL)
            chosen = np.round(np.linspace(0, n - 1, MAX_SERIAL)).astype(int)
            mask = np.zeros(n, dtype=bool)
            mask[chosen] = True
            keep[s0: s0 + n] = mask
            serial[s0: s0 + n][mask] = np.arange(1, MAX_SERIAL + 1)
        else:
            serial[s0: s0 + n] = np.arange(1, n + 1)
    x, y, cls, serial = x[keep], y[keep], cls[keep], serial[keep]
    return x, y, cls, serial, uniq


def build_components(layout: Layout, *, fraction: float, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Components along the roads and at compounds of ``layout``; ``fraction`` (<= 1) thins them for small scales."""
    xs, ys, cls_all = _candidates(layout, rng)
    x, y, cls = np.concatenate(xs), np.concatenate(ys), np.concatenate(cls_all)
    district = layout.districts.geometry.values[0]
    shapely.prepare(district)
    inside = shapely.contains_xy(district, x, y)
    keep = inside & (rng.random(len(x)) < fraction)
    x, y, cls = x[keep], y[keep], cls[keep]

    x, y, cls, serial, uniq = _serials(x, y, cls)
    n = len(x)

    code = np.char.add(cls.astype("U4"), np.char.zfill(serial.astype("U4"), 4))
    national = np.char.add(np.char.add(_names.DISTRICT_CODE, cls.astype("U4")), np.char.zfill(serial.astype("U6"), 6))
    dept, owner, maint = (np.empty(n, dtype=object) for _ in range(3))
    for c in uniq:
        sel = np.flatnonzero(cls == c)
        d, o, m = _units(str(c))
        dept[sel] = np.asarray(d, dtype=object)[rng.integers(0, len(d), len(sel))]
        owner[sel] = np.asarray(o, dtype=object)[rng.integers(0, len(o), len(sel))]
        maint[sel] = np.asarray(m, dtype=object)[rng.integers(0, len(m), len(sel))]
    status = np.asarray(_STATUS[0], dtype=object)[rng.choice(len(_STATUS[0]), n, p=_STATUS[1])]
    source = np.asarray(_SOURCE[0], dtype=object)[rng.choice(len(_SOURCE[0]), n, p=_SOURCE[1])]
    day0 = np.datetime64("2004-10-01")
    initial = day0 + rng.integers(0, (np.datetime64("2024-12-31") - day0).astype(int), n).astype("timedelta64[D]")
    changed = status != "完好"
    change_days = rng.integers(30, 3_000, n).astype("timedelta64[D]")
    change = np.where(changed, np.minimum(initial + change_days, np.datetime64("2025-06-30")),
                      np.datetime64("NaT", "D"))
    remarks = np.full(n, None, dtype=object)
    remarks[cls == "0402"] = "每段路侧抽样编码（8位编码每类上限9999）"
    remarks[np.isin(cls, LOCAL_CLASSES)] = "本地扩展小类（06其他设施）"
    remarks[status == "破损"] = "巡查发现破损，已派单"
    names = np.vectorize(CLASSES.__getitem__, otypes=[object])(cls) if n else np.array([], dtype=object)

    frame = gpd.GeoDataFrame({
        "code": code.astype(object), "district_code": _names.DISTRICT_CODE, "national_id": national.astype(object),
        "class_code": cls.astype(object), "major": np.char.ljust(cls.astype("U2"), 2).astype(object),
        "serial": serial.astype("int64"), "name": names, "dept": dept, "owner": owner, "maintainer": maint,
        "status": status, "initial_date": pd.to_datetime(initial).date,
        "change_date": pd.Series(pd.to_datetime(change)).dt.date.where(changed, None).values,
        "source": source, "remarks": remarks,
        "cell_code": pd.Series([None] * n, dtype=object), "community_code": pd.Series([None] * n, dtype=object),
        "street_code": pd.Series([None] * n, dtype=object)},
        geometry=shapely.points(x, y), crs=CRS)
    log.info("demo components: %d in %d classes (fraction %.3f)", n, len(uniq), fraction)
    return frame
