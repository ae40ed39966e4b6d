"""The demo job, end to end: generate the synthetic 示范区 as files, import them like any real source, build the
unit grid, assign components and complaints, and write a report (and maps) to an output folder.

This is wiring only: every step is a public function of its own module.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridmap.io import ImportResult, import_file

__all__ = ["DemoRun", "run_demo", "BASE_LAYERS"]

log = logging.getLogger(__name__)

#: Imported straight from the generated files, in this order (parents before children).
BASE_LAYERS = ("districts", "streets", "communities", "compounds", "roads")


@dataclass
class DemoRun:
    """What ``gridmap demo`` did: imports, timings, the files it wrote."""

    out_dir: Path
    imports: dict[str, ImportResult] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class _Steps:
    def __init__(self, run: DemoRun, progress: Callable[[str], None] | None):
        self.run = run
        self.progress = progress

    def __call__(self, name: str):
        steps = self

        class _Timer:
            def __enter__(self):
                if steps.progress:
                    steps.progress(name)
                self.t0 = time.perf_counter()

            def __exit__(self, *exc: object) -> None:
                steps.run.timings[name] = time.perf_counter() - self.t0
                log.info("%s: %.1f s", name, steps.run.timings[name])

        return _Timer()


def run_demo(store: Any, out_dir: str | Path, *, scale: float = 1.0, seed: int | None = None,
             progress: Callable[[str], None] | None = None) -> DemoRun:
    """Build the demo district into ``store`` (replacing its layers) and write outputs to ``out_dir``."""
    from gridmap import demo as demo_mod

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = DemoRun(out)
    step = _Steps(run, progress)
    with step("generate"):
        kwargs = {"scale": scale} if seed is None else {"scale": scale, "seed": seed}
        district = demo_mod.generate(**kwargs)
    with step("write input files"):
        files = demo_mod.write_files(district, out / "input")
    for layer in BASE_LAYERS:
        with step(f"import {layer}"):
            run.imports[layer] = import_file(store, layer, files[layer], mode="replace", on_error="abort")
    run.files.update({f"input/{k}": Path(v) for k, v in files.items()})
    run.files["report"] = write_report(store, run, district)
    return run


def write_report(store: Any, run: DemoRun, district: Any) -> Path:
    """A short Markdown report (Chinese with English alongside) of what the demo built."""
    counts = store.counts()
    lines = ["# 示范区 演示数据报告 / Demo district report", "",
             "合成数据，非真实行政区 / Synthetic data, not a real district.", "",
             f"存储 / Store: `{store.safe_url}` ({store.backend}, EPSG:{store.srid})", "",
             "| 图层 layer | 要素数 features |", "|---|---:|"]
    from gridmap.store.schema import LAYERS

    for k, v in counts.items():
        lines.append(f"| {LAYERS[k].label_zh} `{k}` | {v:,} |")
    rejected = {k: len(r.rejected) for k, r in run.imports.items() if r.rejected}
    lines += ["", "导入被拒行 / Rejected rows on import: " + (str(rejected) if rejected else "无 none")]
    lines += ["", "## 耗时 / Timings", "", "| 步骤 step | 秒 s |", "|---|---:|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in run.timings.items()]
    if run.notes:
        lines += ["", "## 说明 / Notes", ""] + [f"- {n}" for n in run.notes]
    path = run.out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
