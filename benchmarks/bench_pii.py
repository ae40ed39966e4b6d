"""Masking phone and ID numbers in 100,000 complaint texts: ``scrub_pii`` against the three regular expressions it
replaced, on the same texts in the same run.

Texts: the generated corpus of ``tests/maps/test_pii.py`` (random complaint sentences; a third carry 1-3 planted
mobiles, landlines and 18/15-digit IDs rendered in random styles: full-width, Chinese numerals, separators,
prefixes), the rest plain sentences with dates, amounts and house numbers. For each method: seconds, texts per
second, peak RSS of the forked child, and how many planted numbers survive (read back with the test's own
normaliser: any 7-digit window of a planted number left is a leak).

Run: ``.venv/bin/python benchmarks/bench_pii.py [--quick]``
"""

from __future__ import annotations

import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.*
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The scrubber of gridmap.maps.safety at commit f91b86b (before written-out numbers were masked): the baseline.
_ID_RE = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
                    r"(?![0-9A-Za-z])")
_MOBILE_RE = re.compile(r"(?<!\d)(?:(?:\+|00)86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?!\d)")
_LANDLINE_RE = re.compile(r"(?<!\d)(?:\(?0\d{2,3}\)?[\s-]?)[2-9]\d{2,3}[\s-]?\d{4}"
                          r"(?:[\s-]?(?:转|ext\.?|x)\s?\d{1,5})?(?!\d)"
                          r"|(?<!\d)[2-9]\d{3}[\s-]?\d{4}(?!\d)")


def old_scrub(text: str) -> str:
    return _LANDLINE_RE.sub("[电话]", _MOBILE_RE.sub("[电话]", _ID_RE.sub("[身份证号]", text)))


def corpus(n: int, seed: int = 3):
    from tests.maps.test_pii import OPENERS, gen_text

    rng = random.Random(seed)
    texts, planted = [], []
    for _ in range(n):
        if rng.random() < 1 / 3:
            t, _, p = gen_text(rng)
            texts.append(t)
            planted.append(p)
        else:
            texts.append(rng.choice(OPENERS))
            planted.append([])
    return texts, planted


def _run(name: str, texts: list[str]) -> dict:
    from gridmap.maps import scrub_pii

    fn = scrub_pii if name == "scrub_pii" else old_scrub
    fn("warm up 13812345678")                      # builds the normalisation table (once per process)
    t0 = time.perf_counter()
    out = [fn(t) for t in texts]
    return {"seconds": time.perf_counter() - t0, "out": out}


def main() -> int:
    from _harness import machine, run_case
    from tests.maps.test_pii import leaked

    n = 10_000 if "--quick" in sys.argv else 100_000
    texts, planted = corpus(n)
    n_planted = sum(len(p) for p in planted)
    print(f"{machine()}\n{n:,} texts, {n_planted:,} planted numbers in {sum(1 for p in planted if p):,} of them")
    print(f"{'method':<28}{'seconds':>9}{'texts/s':>12}{'peak MiB':>10}{'leaked':>9}")
    res = {}
    for name in ("scrub_pii", "old regexes (baseline)"):
        out, dt, rss = run_case(_run, name, texts)
        leaks = sum(1 for o, ps in zip(out["out"], planted) for p in ps if leaked(p.core.upper(), o))
        res[name] = (dt, leaks)
        print(f"{name:<28}{dt:>9.2f}{n / dt:>12,.0f}{rss:>10.0f}{leaks:>9,}")
    (dt_new, leaks_new), (dt_old, leaks_old) = res["scrub_pii"], res["old regexes (baseline)"]
    print(f"ratio (ours / baseline time): {dt_new / dt_old:.2f}")
    per_100k = dt_new * 100_000 / n
    print(f"goal: no planted number left: {'met' if leaks_new == 0 else 'NOT met'} ({leaks_new} left; "
          f"baseline {leaks_old:,} of {n_planted:,})")
    print(f"goal: 100,000 texts in under 5 s: {'met' if per_100k < 5 else 'NOT met'} ({per_100k:.2f} s per 100k)")
    return 0 if leaks_new == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
