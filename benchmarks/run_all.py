"""Run every benchmark (bench_*.py in this folder), ours against its named baseline in the same run.

    python benchmarks/run_all.py            # full sizes (tens of minutes on 2 cores)
    python benchmarks/run_all.py --quick    # small sizes, a smoke run
    python benchmarks/run_all.py --only store,grid

PostGIS rows need a server: this script starts a throwaway one with scripts/postgis.sh when run as root and
$GRIDMAP_BENCH_POSTGIS_URL is not set. Each benchmark prints its own table (ratio and peak memory);
copy the results into benchmarks/README.md with the date and machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", help="comma-separated names, e.g. store,grid,warning,split,maps")
    a = ap.parse_args()
    env = dict(os.environ)
    started = False
    if not env.get("GRIDMAP_BENCH_POSTGIS_URL") and os.geteuid() == 0:
        url = subprocess.run(["bash", str(ROOT / "scripts/postgis.sh"), "start", "/tmp/gridmap-bench-pg", "55434",
                              "gridmap_bench"], capture_output=True, text=True, check=True).stdout.strip()
        env["GRIDMAP_BENCH_POSTGIS_URL"] = url
        started = True
    names = sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))
    if a.only:
        wanted = a.only.split(",")
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(names)}", file=sys.stderr)
            return 2
        names = [n for n in names if n in wanted]
    failed = []
    try:
        for name in names:
            print(f"\n=== bench_{name} ===", flush=True)
            cmd = [sys.executable, str(HERE / f"bench_{name}.py")] + (["--quick"] if a.quick else [])
            if subprocess.run(cmd, env=env, cwd=ROOT).returncode != 0:
                failed.append(name)
    finally:
        if started:
            subprocess.run(["bash", str(ROOT / "scripts/postgis.sh"), "stop", "/tmp/gridmap-bench-pg"])
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
