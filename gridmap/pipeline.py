"""The demo job, end to end: generate the synthetic 示范区 as files, import them like any real source, build the
unit grid, assign components and complaints to cells, flag communities, run early warning, and write a report
and offline maps to an output folder.

This is wiring only: every step is a public function of its own module.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from gridmap.io import ImportResult, import_file
from gridmap.outputs import write_text_atomic

__all__ = ["DemoRun", "run_demo", "BASE_LAYERS", "DEMO_DISTRICT"]

log = logging.getLogger(__name__)

#: Imported straight from the generated files, in this order (parents before children).
BASE_LAYERS = ("districts", "streets", "communities", "compounds", "roads")
DEMO_DISTRICT = "110199"


@dataclass
class DemoRun:
    """What ``gridmap demo`` did: imports, timings, results, the files it wrote."""

    out_dir: Path
    imports: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    flags: Any = None
    warning: Any = None
    score: Any = None
    steps: int = 0  # how many steps run_demo takes (for its progress callback)


@contextmanager
def _step(run: DemoRun, name: str, progress: Callable[[int, int, str], None] | None) -> Iterator[None]:
    if progress:
        progress(len(run.timings), run.steps, name)
    t0 = time.perf_counter()
    yield
    run.timings[name] = time.perf_counter() - t0
    log.info("%s: %.1f s", name, run.timings[name])


def run_demo(store: Any, out_dir: str | Path, *, scale: float = 1.0, seed: int | None = None, maps: bool = True,
             progress: Callable[[int, int, str], None] | None = None) -> DemoRun:
    """Build the demo district into ``store`` (replacing every layer) and write outputs to ``out_dir``.

    ``progress(done, total, label)``, if given, is called before each step (the CLI draws a bar with it)."""
    from gridmap import demo as demo_mod
    from gridmap.grid.service import build_store_cells
    from gridmap.io.components import import_components
    from gridmap.io.complaints import import_complaints

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = DemoRun(out)
    # generate, write input files, one import per base layer, cells, components, complaints, flags, warning, maps
    run.steps = 8 + len(BASE_LAYERS) - (0 if maps else 1)
    with _step(run, "generate", progress):
        district = demo_mod.generate(scale=scale, **({} if seed is None else {"seed": seed}))
    with _step(run, "write input files", progress):
        files = {k: Path(v) for k, v in demo_mod.write_files(district, out / "input").items()}
        # 12345 exports arrive as CSV with WGS 84 lon/lat: the demo takes that path too
        c = district.complaints.to_crs("EPSG:4326")
        csv = pd.DataFrame(c.drop(columns="geometry")).assign(lon=c.geometry.x.round(7), lat=c.geometry.y.round(7))
        files["complaints_csv"] = out / "input" / "complaints.csv"
        csv.to_csv(files["complaints_csv"], index=False, encoding="utf-8")
    run.files.update({f"input/{k}": v for k, v in files.items()})
    store.clear(["complaints", "components", "cells", "compounds", "roads", "communities", "streets", "districts"])
    for layer in BASE_LAYERS:
        with _step(run, f"import {layer}", progress):
            run.imports[layer] = import_file(store, layer, files[layer], on_error="abort")
    with _step(run, "build cells", progress):  # components and complaints come after: nothing to re-assign
        built = build_store_cells(store, reassign=False)
        run.imports["cells"] = ImportResult("cells", built.cells)
    with _step(run, "import components", progress):
        run.imports["components"] = import_components(store, files["components"], district_code=DEMO_DISTRICT)
    with _step(run, "import complaints", progress):
        run.imports["complaints"] = import_complaints(store, files["complaints_csv"], lonlat="wgs84")
    with _step(run, "flag communities", progress):
        run.flags = _flags(store)
    with _step(run, "early warning", progress):
        run.warning, run.score = _warning(store, district)
    if run.warning is not None:
        write_text_atomic(out / "warning.md", run.warning.markdown)
        run.files["warning"] = out / "warning.md"
    if maps:
        with _step(run, "maps", progress):
            run.files.update(_maps(store, out, run))
    run.files["report"] = write_report(store, run, district)
    if progress:
        progress(run.steps, run.steps, "done")
    return run


def _flags(store: Any) -> Any:
    try:
        from gridmap.planning import flag_communities
    except ImportError:  # planning not installed in this build
        return None
    return flag_communities(store.read("communities", where={"active": True}))


def _warning(store: Any, district: Any) -> tuple[Any, Any]:
    """The 2025 rainy-season warning report, and the year replayed week by week, scored on the planted anomalies."""
    from gridmap.warning.alerts import early_warning
    from gridmap.warning.scoring import rolling_alerts, score_anomalies

    complaints = store.read("complaints")
    cells = store.read("cells", columns=["code", "community_code", "ix", "iy"])
    start = pd.Timestamp("2025-06-01")
    report = early_warning(complaints, start=start, end=start + pd.Timedelta(days=14), cells=cells,
                           keywords="漏雨,渗水,屋顶")
    log_ = rolling_alerts(complaints, cells, start="2025-02-01", end="2026-01-01")
    return report, score_anomalies(log_, district.anomalies)


def _maps(store: Any, out: Path, run: DemoRun) -> dict[str, Path]:
    from gridmap.maps import EmptyLayerWarning, write_map
    from gridmap.maps.service import map_from_store, read_map_layers

    layers = read_map_layers(store)  # read once, drawn as the district map and every street map
    if run.flags is not None and "size_class" in run.flags:
        layers["communities"] = layers["communities"].assign(size_class=run.flags["size_class"].astype(str).to_numpy())
    files: dict[str, Path] = {}
    maps_dir = out / "maps"
    maps_dir.mkdir(exist_ok=True)
    # the rainy-season report's hot spots and alerts (aggregated, k-suppressed) on every map
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyLayerWarning)
        made = map_from_store(store, layers=layers, alerts=run.warning, title="示范区 总图 (合成数据)")
        files["map/district"] = write_map(made.map, maps_dir / "district.html")
        for code, name in zip(layers["streets"]["code"], layers["streets"]["name"]):
            made = map_from_store(store, street=code, layers=layers, alerts=run.warning,
                                  title=f"{name} 街道图 (合成数据)")
            files[f"map/{code}"] = write_map(made.map, maps_dir / f"street_{code}.html")
    return files


def write_report(store: Any, run: DemoRun, district: Any) -> Path:
    """A short Markdown report (Chinese with English alongside) of what the demo built."""
    from gridmap.store.schema import LAYERS

    counts = store.counts()
    lines = ["# 示范区 演示报告 / Demo district report", "",
             "合成数据，非真实行政区 / Synthetic data, not a real district.", "",
             f"存储 / Store: `{store.safe_url}` ({store.backend}, EPSG:{store.srid})", "",
             "| 图层 layer | 要素数 features |", "|---|---:|"]
    lines += [f"| {LAYERS[k].label_zh} `{k}` | {v:,} |" for k, v in counts.items()]
    lines += ["", "## 导入 / Imports", ""]
    for k, r in run.imports.items():
        rejected = getattr(r, "rejected", [])
        written = getattr(r, "written", None)
        lines.append(f"- {k}: {written:,} 写入 written, {len(rejected)} 被拒 rejected" if written is not None
                     else f"- {k}: {r}")
    if run.flags is not None:
        label = run.flags["size_label"] if "size_label" in run.flags else run.flags["size_class"].astype(str)
        lines += ["", "## 社区规模 / Community size", "", "| 类别 class | 社区数 communities |", "|---|---:|"]
        for k, v in label.value_counts().sort_index().items():
            lines.append(f"| {k} | {v} |")
    if run.score is not None:
        sc = run.score
        lines += ["", "## 预警评分（埋设异常）/ Early-warning score on planted anomalies", "",
                  f"滚动回放 2025-02-01 至 2026-01-01，每周一次 / weekly replay: {sc.summary()}", "",
                  "| 异常 id | 类型 kind | 开始 onset | 发现 detected | 首次预警 first flag | 天数 days |",
                  "|---|---|---|---|---|---:|"]
        for r in sc.per_anomaly.itertuples(index=False):
            first = "" if pd.isna(r.first_flag) else pd.Timestamp(r.first_flag).date().isoformat()
            days = "" if pd.isna(r.days_to_detection) else f"{r.days_to_detection:.0f}"
            lines.append(f"| {r.id} | {r.kind} | {pd.Timestamp(r.onset).date().isoformat()} | "
                         f"{'是 yes' if r.detected else '否 no'} | {first} | {days} |")
        lines += ["", f"预警地点 flagged places: {sc.flagged_places}，其中误报 false: {sc.false_places}；"
                      f"预警次数 alerts: {sc.n_alerts}，其中误报 false: {sc.false_alerts}"]
    if "warning" in run.files:
        lines += ["", "预警摘要 / Warning summary: [warning.md](warning.md)"]
    map_files = [p for k, p in run.files.items() if k.startswith("map/")]
    if map_files:
        lines += ["", f"## 地图 / Maps ({len(map_files)})", ""]
        lines += [f"- [{p.name}]({p.relative_to(run.out_dir)})" for p in map_files]
    lines += ["", "## 耗时 / Timings", "", "| 步骤 step | 秒 s |", "|---|---:|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in run.timings.items()]
    if run.notes:
        lines += ["", "## 说明 / Notes", ""] + [f"- {n}" for n in run.notes]
    path = run.out_dir / "report.md"
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path
