"""Invented Chinese names for the synthetic 示范区 (none is meant to be a real place, unit or person)."""

from __future__ import annotations

import numpy as np

DISTRICT_CODE = "110199"
DISTRICT_NAME = "示范区"

STREET_STEMS = ["青檀", "柳荫", "鹤鸣", "澄波", "曦园", "望桥", "槐荫", "石榴", "银杏", "竹影", "锦绣", "琉璃", "梅影",
                "兰亭", "翠屏", "晴川", "松涛", "枫林", "芦花", "杏坛"]

_COMMUNITY_A = ["东", "西", "南", "北", "前", "后", "上", "下", "新", "老", "大", "小", "中", "里", "外", "高", "长",
                "双", "三", "金", "银", "玉", "花", "草", "桃", "李", "杨", "柳", "松", "竹", "梅", "菊", "荷", "莲",
                "枣", "桑", "槐", "榆"]
_COMMUNITY_B = ["坊", "巷", "苑", "园", "湾", "井", "桥", "门", "楼", "亭", "池", "坡", "塘", "堤", "院", "庄", "营",
                "店", "市", "仓", "街", "台", "寺", "场"]

ROAD_STEMS = ["东华", "西华", "安和", "永宁", "崇文", "广济", "宣化", "朝晖", "景和", "昌平里", "和平", "春明", "秋实",
              "文华", "武成", "宁远", "福安", "泰和", "仁寿", "兴隆", "正义", "光明", "育才", "清和", "惠民", "长乐",
              "太平", "德胜", "宏达", "瑞祥", "嘉禾", "丰收", "康乐", "吉庆", "顺成", "延寿", "积善", "安定", "承恩",
              "同福", "聚宝", "通惠", "万宁", "保安", "迎祥", "广德", "延年", "怀仁"]
HUTONG_STEMS = ["椿树", "石碑", "砖塔", "帽儿", "烟袋", "雨儿", "黑芝麻", "菊儿", "板厂", "东棉花", "秦老", "炒豆",
                "前圆恩", "后圆恩", "沙井", "方砖厂", "鼓楼", "酒醋局", "辛安", "豆腐池", "宝钞", "国盛", "草厂",
                "北兵马", "小经厂", "大经厂", "府学", "棉花", "麻线", "铁狮子", "粉子", "礼士", "灯草", "钱粮",
                "什锦花园", "演乐", "本司", "东四头条", "马匹厂", "船板", "羊管", "小雅宝", "大雅宝", "干面", "西总布",
                "赵堂子", "贡院", "喜鹊", "柳树井", "葡萄园"]
#: The hutong of the planted congestion hot spot (an invented name echoing Xicheng's 堂子胡同 case).
HOTSPOT_HUTONG = "棠梓胡同"

COMPOUND_SUFFIX_MODERN = ["小区", "家园", "花园", "公寓", "里", "嘉园", "苑", "北里", "南里", "西区", "东区"]
COMPOUND_STEMS = ["和谐", "幸福", "阳光", "金色", "春晖", "秋水", "碧云", "紫荆", "红枫", "绿洲", "明珠", "新华", "建国",
                  "育新", "安华", "惠新", "华严", "望京", "翠微", "恩济", "远洋", "富力", "景泰", "芳城", "蒲黄",
                  "珠江", "宏源", "瑞景", "天坛", "广渠", "光华", "团结", "首善", "永安", "安贞", "化工", "纺织",
                  "铁路", "电力", "邮电", "机床", "轻工", "仪表", "棉纺"]


def community_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct invented community names such as 桃仓社区."""
    pairs = [a + b for a in _COMMUNITY_A for b in _COMMUNITY_B]
    order = rng.permutation(len(pairs))
    if n > len(pairs):
        return [pairs[order[i % len(pairs)]] + f"{i // len(pairs) + 1}社区" for i in range(n)]
    return [pairs[i] + "社区" for i in order[:n]]


def street_names(n: int) -> list[str]:
    """``n`` invented street-office names such as 青檀街道 (numbered beyond the stem list)."""
    return [(STREET_STEMS[i % len(STREET_STEMS)] + ("" if i < len(STREET_STEMS) else str(i // len(STREET_STEMS))))
            + "街道" for i in range(n)]


def road_name(kind: str, i: int) -> str:
    """An invented name for road number ``i`` of ``kind``."""
    if kind == "hutong":
        stem = HUTONG_STEMS[i % len(HUTONG_STEMS)]
        return stem + ("" if i < len(HUTONG_STEMS) else str(i // len(HUTONG_STEMS) + 1)) + "胡同"
    stem = ROAD_STEMS[i % len(ROAD_STEMS)]
    extra = "" if i < len(ROAD_STEMS) else "二三四五六七八九十"[min(i // len(ROAD_STEMS) - 1, 8)]
    suffix = {"main": "大街", "secondary": "路", "branch": "巷"}[kind]
    return stem + extra + suffix
