"""A year of synthetic 12345 complaints for the 示范区, with seasonal patterns and planted anomalies.

Daily expected counts are ``weight(category) x season(category, day) x weekday(day)``, scaled to the target total,
and drawn as Poisson counts. Home-type categories are located inside residential compounds (chosen in proportion to
households, leaks five times more often in old ``building`` atoms), street-type categories along roads. Texts come
from Chinese templates with varied fillers; addresses are invented. Times are naive China Standard Time.

Phone-like strings for privacy tests: a few texts carry the masked number ``138****0000`` and a few the full but
fake numbers ``13800000000`` / ``13900000000`` (reserved-looking, not real subscribers).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.demo import _names
from gridmap.demo.layout import CRS, Layout

__all__ = ["CATEGORIES", "YEAR", "FAKE_PHONES", "ANOMALY_COLUMNS", "build_complaints"]

log = logging.getLogger(__name__)

YEAR = 2025
#: Phone-like strings planted in a few texts (all fake).
FAKE_PHONES = ("138****0000", "13800000000", "13900000000")


@dataclass(frozen=True)
class _Category:
    name: str
    weight: float          # share of the yearly volume before seasonality
    place: str             # 'home' (inside compounds) or 'road' (along roads) or 'mixed'


#: The 12345 category mix used by the demo (weights before seasonal modulation; see data/README.md).
CATEGORIES: tuple[_Category, ...] = (
    _Category("住房/物业", 0.17, "home"),
    _Category("供暖", 0.14, "home"),
    _Category("房屋漏雨", 0.015, "home"),
    _Category("市政设施", 0.10, "road"),
    _Category("交通/停车", 0.12, "road"),
    _Category("噪音扰民", 0.09, "home"),
    _Category("市容环境", 0.10, "mixed"),
    _Category("供水/排水", 0.06, "home"),
    _Category("城市管理", 0.08, "road"),
    _Category("园林绿化", 0.03, "road"),
    _Category("社区服务", 0.06, "home"),
    _Category("其他", 0.075, "mixed"),
)

ANOMALY_COLUMNS = ["id", "kind", "category", "keyword", "onset_date", "end_date", "x", "y", "radius_m",
                   "community_code", "street_code", "expected_signal", "description_zh", "description_en",
                   "planted_count"]

_WEEKDAY = np.array([1.15, 1.08, 1.05, 1.02, 1.00, 0.82, 0.85])        # Monday .. Sunday
_HOURS = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.6, 1.4, 2.6, 3.4, 3.3, 2.9, 2.2, 2.4, 2.8, 2.7, 2.5, 2.3,
                   2.2, 2.6, 2.8, 2.3, 1.4, 0.7])
#: Heavy-rain days of the synthetic year (leak and drainage complaints jump for three days).
STORM_DAYS = ("2025-07-12", "2025-07-30", "2025-08-09")

# --- text templates ---------------------------------------------------------------------------------------------
_ROOM = ["卧室", "客厅", "厨房", "卫生间", "北屋", "南屋", "阳台"]
_TEMPLATES: dict[str, list[str]] = {
    "住房/物业": ["市民反映{addr}物业不作为，楼道堆物长期无人清理，请求督促物业履职。",
              "来电人称{addr}电梯频繁故障，已停运{n}天，老人出行困难，希望尽快维修。",
              "{addr}物业费收取标准不透明，居民要求公示收支明细。",
              "市民反映{addr}门禁损坏，外来人员随意进出，存在安全隐患。",
              "{addr}楼道照明灯损坏{n}天未修，夜间出行不便。"],
    "供暖": ["市民反映{addr}暖气不热，室温只有{t}度左右，家中有老人，请求供热单位尽快处理。",
           "来电人称{addr}供暖后暖气片冰凉，{room}温度偏低，希望排查管道。",
           "{addr}暖气管道漏水，{room}地面积水，请求供热单位上门维修。",
           "市民反映{addr}整栋楼暖气时冷时热，室温不达标，要求测温。"],
    "房屋漏雨": ["市民反映{addr}{rain}后屋顶漏雨，{room}渗水严重，墙皮脱落，请求尽快修缮。",
             "来电人称{addr}平房屋顶漏雨，{room}天花板渗水，已持续{n}天，希望房管部门上门查看。",
             "{addr}楼顶防水层破损，{rain}时雨水顺墙渗入室内，{room}漏雨，要求维修屋顶。",
             "市民反映{addr}顶层住户家中漏雨渗水，{room}墙面发霉，请求屋顶防水维修。"],
    "市政设施": ["市民反映{addr}井盖破损，存在安全隐患，请求尽快更换。",
             "{addr}路灯不亮已有{n}天，夜间行人通行不安全。",
             "来电人称{addr}路面塌陷出现坑洼，车辆通行颠簸，希望修补。",
             "市民反映{addr}雨水箅子堵塞，{rain}后路面积水严重。",
             "{addr}人行道方砖松动破损，容易绊倒行人。"],
    "交通/停车": ["市民反映{addr}车辆乱停乱放，占用消防通道，请求清理。",
              "{addr}早晚高峰拥堵严重，信号灯配时不合理，希望优化。",
              "来电人称{addr}共享单车大量堆放，影响行人通行。",
              "市民反映{addr}胡同内机动车违停，导致通行困难。",
              "{addr}外卖电动车逆行抢行，存在交通安全隐患。"],
    "噪音扰民": ["市民反映{addr}附近夜间施工噪音扰民，影响休息，请求查处。",
              "来电人称{addr}楼下商户音响声音过大，持续到深夜。",
              "{addr}广场舞音乐声音过大，影响居民休息。",
              "市民反映{addr}空调外机噪音大，夜间无法入睡。"],
    "市容环境": ["市民反映{addr}垃圾桶满溢无人清运，异味严重。",
              "{addr}有人乱贴小广告，影响市容，请求清理。",
              "来电人称{addr}暴露垃圾堆放多日未清理。",
              "市民反映{addr}建筑垃圾随意倾倒，请求处理。"],
    "供水/排水": ["市民反映{addr}自来水水压低，高层住户用水困难。",
              "{addr}下水道堵塞返水，{room}污水外溢，请求疏通。",
              "来电人称{addr}停水{n}小时未恢复，也未提前通知。",
              "市民反映{addr}自来水发黄有异味，担心水质问题。"],
    "城市管理": ["市民反映{addr}有商户占道经营，影响通行。",
              "{addr}疑似违法建设，有人私自搭建房屋，请求核查。",
              "来电人称{addr}流动摊贩聚集，夜间油烟扰民。",
              "市民反映{addr}沿街门店违规设置户外广告牌。"],
    "园林绿化": ["市民反映{addr}行道树枝叶过密遮挡路灯，请求修剪。",
              "{addr}杨柳飞絮严重，希望采取治理措施。",
              "来电人称{addr}绿地内树木倾斜有倒伏风险。",
              "市民反映{addr}绿地被占用堆放杂物。"],
    "社区服务": ["市民咨询{addr}所在社区养老助餐服务的办理方式。",
              "来电人称{addr}社区活动室长期关闭，希望开放。",
              "市民反映{addr}社区老年人缺少助浴服务，希望增加。",
              "{addr}居民咨询社区卫生服务站开放时间。"],
    "其他": ["市民咨询{addr}附近公共服务设施的开放时间。",
           "来电人称{addr}附近有流浪猫狗聚集，希望处理。",
           "市民对{addr}附近的便民设施提出意见建议。"],
}
# planted-anomaly texts (each contains its keyword)
_ANOMALY_TEMPLATES: dict[str, list[str]] = {
    "leak_cluster": ["市民反映{addr}院内多户屋顶漏雨，{room}渗水，雨后更严重，请求统一修缮屋顶。",
                     "来电人称{addr}老平房屋顶漏雨渗水，邻居家也一样，希望房管所尽快处理。",
                     "{addr}屋顶瓦片破损漏雨，{room}墙面渗水发霉，已多次反映。"],
    "congestion_hotspot": ["市民反映{addr}饭点外卖电动车扎堆停放，胡同堵死，行人无法通过。",
                           "来电人称{addr}外卖电动车乱停堵塞胡同，救护车都进不来。",
                           "{addr}中午和傍晚外卖骑手聚集等单，外卖电动车堵塞通行，请求设置停放区。"],
    "noise_spike": ["市民反映{addr}附近工地夜间施工噪音扰民，凌晨还在作业，请求查处。",
                    "来电人称{addr}旁边夜间施工打桩声音很大，无法入睡。",
                    "{addr}夜间施工噪音持续到深夜，居民休息受影响。"],
    "heating_failure": ["市民反映{addr}暖气不热，整个小区室温只有{t}度，请求供热单位排查。",
                        "来电人称{addr}暖气不热，楼里多户反映，疑似换热站故障。",
                        "{addr}供暖开始后一直暖气不热，家中老人孩子受冻。"],
    "manhole_missing": ["市民反映{addr}井盖丢失，路面留有深坑，非常危险，请求尽快补装。",
                        "来电人称{addr}井盖丢失（疑似被盗），夜间车辆行人容易掉落，请尽快处理。",
                        "{addr}井盖丢失、井口仅用锥桶围挡，存在安全隐患。"],
}
_RAIN = ["下雨", "大雨", "暴雨", "连续降雨", "阵雨"]


def _season(cat: str, days: pd.DatetimeIndex) -> np.ndarray:
    m = days.month.values
    doy = days.day_of_year.values
    f = np.ones(len(days))
    storm = np.zeros(len(days), dtype=bool)
    for s in STORM_DAYS:
        d0 = pd.Timestamp(s).day_of_year
        storm |= (doy >= d0) & (doy < d0 + 3)
    if cat == "供暖":
        start = pd.Timestamp(f"{YEAR}-11-15").day_of_year
        end = pd.Timestamp(f"{YEAR}-03-15").day_of_year
        in_season = (doy <= end) | (doy >= start)
        f = np.where(in_season, 1.0, 0.015)
        f = np.where(doy <= end, 1.3 - 0.6 * doy / end, f)
        since = doy - start
        f = np.where(since >= 0, 1.2 + 5.0 * np.exp(-np.maximum(since, 0) / 3.0), f)
        f = np.where((since < 0) & (since >= -14), 0.3, f)
    elif cat == "房屋漏雨":
        f = np.select([m == 7, np.isin(m, [6, 8]), np.isin(m, [5, 9])], [6.0, 4.0, 1.2], 0.4)
        f = np.where(storm, f * 4.0, f)
    elif cat == "供水/排水":
        f = np.select([np.isin(m, [6, 7, 8]), np.isin(m, [1, 2])], [1.4, 1.2], 1.0)
        f = np.where(storm, f * 2.0, f)
    elif cat == "市政设施":
        f = np.where(np.isin(m, [6, 7, 8]), 1.3, 1.0)
    elif cat == "噪音扰民":
        f = np.where(np.isin(m, [5, 6, 7, 8, 9]), 1.35, 0.9)
    elif cat == "城市管理":
        f = np.where((m >= 4) & (m <= 10), 1.2, 0.85)
    elif cat == "园林绿化":
        f = np.select([np.isin(m, [4, 5]), np.isin(m, [6, 7, 8, 9])], [2.2, 1.4], 0.6)
    if cat == "噪音扰民":
        f = f * np.where(days.day_of_week.values >= 5, 1.4, 1.0)
    return f


def _points_in(geoms: np.ndarray, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniform random point inside ``geoms[idx[i]]`` for each i (rejection sampling in the bounding box)."""
    out = np.empty((len(idx), 2))
    todo = np.arange(len(idx))
    b = shapely.bounds(geoms)
    for _ in range(30):
        if len(todo) == 0:
            break
        g = idx[todo]
        x = rng.uniform(b[g, 0], b[g, 2])
        y = rng.uniform(b[g, 1], b[g, 3])
        ok = shapely.contains_xy(geoms[g], x, y)
        out[todo[ok], 0], out[todo[ok], 1] = x[ok], y[ok]
        todo = todo[~ok]
    if len(todo):
        out[todo] = shapely.get_coordinates(shapely.point_on_surface(geoms[idx[todo]]))
    return out


def _points_along(lines: np.ndarray, widths: np.ndarray, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    g = lines[idx]
    length = shapely.length(g)
    d = rng.uniform(0, 1, len(idx)) * length
    p = shapely.get_coordinates(shapely.line_interpolate_point(g, d))
    q = shapely.get_coordinates(shapely.line_interpolate_point(g, np.minimum(d + 1, length)))
    r = shapely.get_coordinates(shapely.line_interpolate_point(g, np.maximum(d - 1, 0)))
    t = q - r
    t /= np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-9)[:, None]
    off = rng.uniform(-1, 1, len(idx)) * (widths[idx] / 2 + 4.0)
    return p + np.c_[-t[:, 1], t[:, 0]] * off[:, None]


class _Places:
    """Everything needed to locate and address complaints."""

    def __init__(self, layout: Layout):
        cmp = layout.compounds
        self.cmp_geom = np.asarray(shapely.get_parts(cmp.geometry.values), dtype=object)
        shapely.prepare(self.cmp_geom)
        self.cmp_hh = cmp.households.values.astype(float)
        self.cmp_old = (cmp.kind.values == "building")
        comm = layout.communities.set_index("code")
        street = layout.streets.set_index("code")
        ccode = cmp.community_code.values
        scode = comm.loc[ccode, "street_code"].values
        self.cmp_addr = np.char.add(np.char.add(np.char.add(
            "示范区", street.loc[scode, "name"].values.astype(str)), comm.loc[ccode, "name"].values.astype(str)),
            cmp.name.values.astype(str))
        self.cmp_comm = ccode
        roads = layout.roads
        lines, ridx = shapely.get_parts(roads.geometry.values, return_index=True)
        kind = roads.kind.values[ridx]
        usable = np.isin(kind, ["main", "secondary", "branch", "hutong"])
        self.lines = lines[usable]
        self.line_kind = kind[usable]
        self.line_width = roads.width_m.values[ridx][usable].astype(float)
        self.line_name = roads.name.values[ridx][usable].astype(str)
        kw = {"main": 1.0, "secondary": 1.0, "branch": 0.8, "hutong": 1.5}
        self.line_p = shapely.length(self.lines) * np.vectorize(kw.get)(self.line_kind)
        self.line_p = self.line_p / self.line_p.sum()
        self.district = layout.districts.geometry.values[0]
        shapely.prepare(self.district)


def _home_weights(places: _Places, cat: str) -> np.ndarray:
    w = places.cmp_hh.copy()
    if cat == "房屋漏雨":
        w = w * np.where(places.cmp_old, 5.0, 1.0)
    elif cat == "供暖":
        w = w * np.where(places.cmp_old, 0.6, 1.3)
    return w / w.sum()


def _fill(templates: list[str], addr: np.ndarray, rng: np.random.Generator) -> list[str]:
    n = len(addr)
    ti = rng.integers(0, len(templates), n)
    room = rng.integers(0, len(_ROOM), n)
    rain = rng.integers(0, len(_RAIN), n)
    num = rng.integers(2, 15, n)
    temp = rng.integers(12, 17, n)
    return [templates[ti[i]].format(addr=addr[i], room=_ROOM[room[i]], rain=_RAIN[rain[i]], n=num[i], t=temp[i])
            for i in range(n)]


def _road_addr(places: _Places, li: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    no = rng.integers(1, 300, len(li)).astype(str)
    return np.char.add(np.char.add(np.char.add("示范区", places.line_name[li]), no), "号附近")


def _locate(places: _Places, cat: _Category, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points and address strings for ``n`` complaints of ``cat``."""
    if cat.place == "mixed":
        home = rng.random(n) < 0.45
    else:
        home = np.full(n, cat.place == "home")
    xy = np.empty((n, 2))
    addr = np.empty(n, dtype=object)
    nh = int(home.sum())
    if nh:
        ci = rng.choice(len(places.cmp_geom), nh, p=_home_weights(places, cat.name))
        xy[home] = _points_in(places.cmp_geom, ci, rng)
        unit = np.char.add(np.char.add(rng.integers(1, 12, nh).astype(str), "号楼"),
                           np.char.add(rng.integers(1, 6, nh).astype(str), "单元"))
        addr[home] = np.where(places.cmp_old[ci], places.cmp_addr[ci], np.char.add(places.cmp_addr[ci], unit))
    nr = n - nh
    if nr:
        li = rng.choice(len(places.lines), nr, p=places.line_p)
        pts = _points_along(places.lines, places.line_width, li, rng)
        ok = shapely.contains_xy(places.district, pts[:, 0], pts[:, 1])
        if (~ok).any():           # offsets that left the district: back onto the road centre line, 1 m inward
            pts[~ok] = shapely.get_coordinates(shapely.line_interpolate_point(
                places.lines[li[~ok]], rng.uniform(0.3, 0.7, int((~ok).sum())), normalized=True))
        xy[~home] = pts
        addr[~home] = _road_addr(places, li, rng)
    return xy, addr


def _times(days: np.ndarray, rng: np.random.Generator, *, hours: np.ndarray | None = None) -> np.ndarray:
    p = (_HOURS if hours is None else hours) / (_HOURS if hours is None else hours).sum()
    h = rng.choice(24, len(days), p=p)
    secs = h * 3600 + rng.integers(0, 3600, len(days))
    return days.astype("datetime64[s]") + secs.astype("timedelta64[s]")


def _anomaly_specs(layout: Layout, places: _Places, rng: np.random.Generator) -> list[dict]:
    """Where and when the planted anomalies happen, chosen from the layout deterministically.

    Why one function of ~80 lines: it is the table of the five planted anomalies (place, dates, rate, signal in
    Chinese and English), each placed by a few lines; read in one piece it is the answer key the scoring uses.
    """
    cmp = layout.compounds
    comm = layout.communities.set_index("code")
    cent = shapely.get_coordinates(shapely.point_on_surface(places.cmp_geom))
    dist_edge = shapely.distance(places.district.boundary, shapely.points(cent))
    specs = []

    def comm_of(x: float, y: float) -> str:
        hit = layout.communities.geometry.values[shapely.contains_xy(layout.communities.geometry.values, x, y)]
        return str(layout.communities.code.values[shapely.contains_xy(layout.communities.geometry.values, x, y)][0]) \
            if len(hit) else ""

    # 1. leak cluster: the old-town community with most building atoms, away from the edge
    old = (cmp.kind.values == "building") & (dist_edge > 400)
    if old.any():
        counts = pd.Series(cmp.community_code.values[old]).value_counts()
        code = counts.index[0]
        sel = np.flatnonzero(old & (cmp.community_code.values == code))
        cx, cy = np.median(cent[sel], axis=0)
        specs.append(dict(kind="leak_cluster", category="房屋漏雨", keyword="漏雨", onset="2025-06-03",
                          end="2025-08-20", x=cx, y=cy, radius=250.0, place="home", rate=5.0, ramp_days=5,
                          hours=None,
                          signal="250 m 内“漏雨/渗水/屋顶”诉求由约 0.1 件/日升至 4–6 件/日 (scale 1)",
                          zh="老城平房区屋顶漏雨聚集：6月3日起同一片院落多户反映屋顶漏雨渗水，雨季持续。",
                          en="Roof-leak cluster in old single-storey housing from 3 June through the rainy season."))
    # 2. congestion hot spot at the hot-spot hutong, rising over six weeks
    hut = layout.roads[layout.roads.name == _names.HOTSPOT_HUTONG]
    if len(hut):
        line = shapely.get_parts(hut.geometry.values)[0]
        p = line.interpolate(0.5, normalized=True)
        seg = shapely.intersection(line, p.buffer(100.0))
        specs.append(dict(kind="congestion_hotspot", category="交通/停车", keyword="外卖电动车", onset="2025-04-07",
                          end="2025-06-20", x=p.x, y=p.y, radius=120.0, place="line", line=seg, rate=9.0,
                          ramp_days=42, hours=np.r_[np.zeros(11), [3, 4, 2], np.zeros(3), [3, 4, 2], np.zeros(4)],
                          signal=f"{_names.HOTSPOT_HUTONG} 120 m 内“外卖电动车”交通/停车诉求 6 周内由 0.5 件/日线性升至约 9 件/日，"
                                 "集中在 11–13 时与 17–19 时；6月20日设停放区后消失",
                          zh=f"{_names.HOTSPOT_HUTONG}外卖电动车饭点扎堆堵塞胡同，4月7日起逐周上升（新兴热点）。",
                          en="Emerging hot spot: delivery e-bikes block a hutong at meal times, rising over six weeks "
                             "from 7 April."))
    # 3. sudden noise spike in a modern community (night construction)
    modern = (cmp.kind.values == "compound") & (dist_edge > 400) & \
        (cmp.community_code.values != layout.infeasible_community)
    if modern.any():
        order = np.flatnonzero(modern)
        i = order[len(order) // 3]
        cx, cy = cent[i]
        specs.append(dict(kind="noise_spike", category="噪音扰民", keyword="夜间施工", onset="2025-08-18",
                          end="2025-08-31", x=cx, y=cy, radius=200.0, place="home", rate=14.0, ramp_days=0,
                          hours=np.r_[[3, 3, 2, 1], np.zeros(18), [2, 3]],
                          signal="200 m 内“夜间施工”噪音诉求 8月18日突增至约 14 件/日，持续两周，集中在 22–03 时",
                          zh="夜间施工噪音突发：8月18日起某社区工地夜间作业，噪音诉求骤增两周。",
                          en="Sudden noise spike: night construction next to a community, 18–31 August."))
        # 4. heating failure: a large modern compound in another part of the district
        far = order[np.hypot(cent[order, 0] - cx, cent[order, 1] - cy) > 1500]
        if len(far):
            j = far[np.argmax(places.cmp_hh[far])]
            hx, hy = cent[j]
            specs.append(dict(kind="heating_failure", category="供暖", keyword="暖气不热", onset="2025-11-17",
                              end="2025-11-26", x=hx, y=hy, radius=300.0, place="home", rate=22.0, ramp_days=0,
                              hours=None,
                              signal="300 m 内“暖气不热”供暖诉求 11月17日起约 22 件/日（高于全区开栓高峰的局部基线），持续十天",
                              zh="换热站故障致片区供暖不热：11月17日起一片小区集中反映暖气不热，持续十天。",
                              en="Heating-failure cluster: a heat-exchange station fails, 17–26 November."))
    # 5. missing manhole covers along one main road
    mains = np.flatnonzero(places.line_kind == "main")
    if len(mains):
        k = mains[int(np.argmax(shapely.length(places.lines[mains])))]
        line = places.lines[k]
        p = line.interpolate(0.3, normalized=True)
        seg = shapely.intersection(line, p.buffer(130.0))
        specs.append(dict(kind="manhole_missing", category="市政设施", keyword="井盖丢失", onset="2025-03-10",
                          end="2025-03-23", x=p.x, y=p.y, radius=150.0, place="line", line=seg, rate=5.0,
                          ramp_days=0, hours=None,
                          signal="150 m 路段“井盖丢失”市政设施诉求 3月10日起约 5 件/日，持续两周",
                          zh="井盖连续丢失：3月10日起某主干道一段多处井盖被盗丢失。",
                          en="Missing manhole covers along one main road, 10–23 March."))
    for i, s in enumerate(specs):
        s["id"] = f"A{i + 1}"
        s["community_code"] = comm_of(s["x"], s["y"])
        s["street_code"] = str(comm.loc[s["community_code"], "street_code"]) if s["community_code"] else ""
    return specs


def _plant(spec: dict, places: _Places, intensity: float, rng: np.random.Generator) -> pd.DataFrame:
    onset, end = np.datetime64(spec["onset"]), np.datetime64(spec["end"])
    days = np.arange(onset, end + 1)
    k = np.arange(len(days))
    ramp = spec["ramp_days"]
    rate = spec["rate"] * (np.minimum(1.0, (k + 1) / ramp) if ramp else np.ones(len(days)))
    if spec["kind"] == "congestion_hotspot":
        rate = np.maximum(rate, 0.5)
    if spec["kind"] == "leak_cluster":
        storm = np.isin(days, np.array(STORM_DAYS, dtype="datetime64[D]"))
        rate = rate * np.where(storm, 2.5, 1.0)
    counts = rng.poisson(rate * intensity)
    counts[0] = max(counts[0], 1)                   # the onset day always has at least one planted complaint
    n = int(counts.sum())
    day = np.repeat(days, counts)
    hours = spec["hours"]
    at = _times(day, rng, hours=None if hours is None else hours)
    cx, cy, rad = spec["x"], spec["y"], spec["radius"]
    if spec["place"] == "home":
        d = np.hypot(*(shapely.get_coordinates(shapely.point_on_surface(places.cmp_geom)) - [cx, cy]).T)
        near = np.flatnonzero(d <= rad * 0.9)
        if len(near) == 0:
            near = np.array([int(np.argmin(d))])
        w = places.cmp_hh[near] + 1.0
        ci = near[rng.choice(len(near), n, p=w / w.sum())]
        xy = _points_in(places.cmp_geom, ci, rng)
        far = np.hypot(xy[:, 0] - cx, xy[:, 1] - cy) > rad * 0.95
        xy[far] = shapely.get_coordinates(shapely.point_on_surface(places.cmp_geom[ci[far]]))
        addr = places.cmp_addr[ci]
    else:
        line = spec["line"]
        dd = rng.uniform(0, line.length, n)
        pts = shapely.get_coordinates(shapely.line_interpolate_point(line, dd))
        xy = pts + rng.normal(0, 2.0, (n, 2))
        name = _names.HOTSPOT_HUTONG if spec["kind"] == "congestion_hotspot" else "示范区主干道"
        addr = np.char.add(np.char.add(f"示范区{name}", rng.integers(1, 80, n).astype(str)), "号附近")
    inside = shapely.contains_xy(places.district, xy[:, 0], xy[:, 1])
    xy[~inside] = [cx, cy]
    text = _fill(_ANOMALY_TEMPLATES[spec["kind"]], np.asarray(addr), rng)
    return pd.DataFrame({"received_at": at, "category": spec["category"], "text": text, "address": addr,
                         "x": xy[:, 0], "y": xy[:, 1]})


def build_complaints(layout: Layout, *, n_target: float, anomaly_intensity: float,
                     rng: np.random.Generator) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """About ``n_target`` complaints over the year plus the planted anomalies; returns (complaints, anomalies)."""
    places = _Places(layout)
    days = pd.date_range(f"{YEAR}-01-01", f"{YEAR}-12-31", freq="D")
    wk = _WEEKDAY[days.day_of_week.values]
    expected = np.stack([c.weight * _season(c.name, days) * wk for c in CATEGORIES], axis=1)
    expected *= n_target / expected.sum()
    counts = rng.poisson(expected)
    parts = []
    day_arr = days.values.astype("datetime64[D]")
    for j, cat in enumerate(CATEGORIES):
        n = int(counts[:, j].sum())
        if n == 0:
            continue
        day = np.repeat(day_arr, counts[:, j])
        xy, addr = _locate(places, cat, n, rng)
        parts.append(pd.DataFrame({"received_at": _times(day, rng), "category": cat.name,
                                   "text": _fill(_TEMPLATES[cat.name], addr, rng), "address": addr,
                                   "x": xy[:, 0], "y": xy[:, 1]}))
    specs = _anomaly_specs(layout, places, rng)
    for s in specs:
        planted = _plant(s, places, anomaly_intensity, rng)
        s["planted_count"] = len(planted)
        parts.append(planted)
    df = pd.concat(parts, ignore_index=True)
    df = df.sort_values(["received_at", "x"], kind="stable").reset_index(drop=True)
    n = len(df)

    # phone-like strings for privacy tests (fake numbers only)
    k = max(6, int(round(n / 20_000)))
    pick = rng.choice(n, k, replace=False)
    phones = np.asarray(FAKE_PHONES, dtype=object)[np.arange(k) % len(FAKE_PHONES)]
    text = df["text"].to_numpy(dtype=object)
    text[pick] = [t.rstrip("。") + f"，联系电话{p}。" for t, p in zip(text[pick], phones)]

    # handling: closed after a log-normal delay; open if the delay runs past the end of the year
    delay_h = rng.lognormal(np.log(30.0), 1.0, n)
    closed = df["received_at"].values + (delay_h * 3600).astype("timedelta64[s]")
    cutoff = np.datetime64(f"{YEAR}-12-31T23:59:59")
    open_ = closed > cutoff
    unresolved = ~open_ & (rng.random(n) < 0.08)
    status = np.where(open_, "办理中", np.where(unresolved, "未解决", "已办结")).astype(object)
    closed_at = pd.Series(closed).where(~open_, pd.NaT).astype("datetime64[ns]")
    day_str = pd.Series(df["received_at"].values).dt.strftime("%Y%m%d").to_numpy()
    seq = pd.Series(day_str).groupby(day_str).cumcount().to_numpy() + 1
    source_id = np.char.add(np.char.add("SF", day_str.astype(str)), np.char.zfill(seq.astype(str), 5))
    frame = gpd.GeoDataFrame({
        "source_id": source_id.astype(object), "received_at": df["received_at"].values.astype("datetime64[ns]"),
        "category": df["category"].to_numpy(dtype=object), "text": text, "address": df["address"].to_numpy(dtype=object),
        "status": status, "closed_at": closed_at.values,
        "cell_code": pd.Series([None] * n, dtype=object), "community_code": pd.Series([None] * n, dtype=object),
        "street_code": pd.Series([None] * n, dtype=object)},
        geometry=shapely.points(df["x"].values, df["y"].values), crs=CRS)
    anomalies = pd.DataFrame([{
        "id": s["id"], "kind": s["kind"], "category": s["category"], "keyword": s["keyword"],
        "onset_date": pd.Timestamp(s["onset"]).date(), "end_date": pd.Timestamp(s["end"]).date(),
        "x": float(s["x"]), "y": float(s["y"]), "radius_m": float(s["radius"]),
        "community_code": s["community_code"], "street_code": s["street_code"],
        "expected_signal": s["signal"], "description_zh": s["zh"], "description_en": s["en"],
        "planted_count": int(s["planted_count"])} for s in specs], columns=ANOMALY_COLUMNS)
    log.info("demo complaints: %d over %d days, %d planted in %d anomalies", n, len(days),
             int(anomalies.planted_count.sum()) if len(anomalies) else 0, len(anomalies))
    return frame, anomalies
