"""Shared benchmark plumbing: run a case in a forked child and report seconds and the child's peak RSS."""

from __future__ import annotations

import multiprocessing as mp
import platform
import queue
import resource
import time
from collections.abc import Callable
from typing import Any


def _rss_mib() -> float:
    """Resident set size of this process now, in MiB (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return 0.0


def _child(q: Any, fn: Callable[..., Any], args: tuple) -> None:
    try:
        start = _rss_mib()
        t0 = time.perf_counter()
        out = fn(*args)
        dt = time.perf_counter() - t0
        q.put(("ok", out, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, start))
    except BaseException as exc:  # report, don't hang the parent
        q.put(("error", repr(exc), 0.0, 0.0, 0.0))


def run_case(fn: Callable[..., Any], *args: Any, above_fork: bool = False) -> tuple[Any, float, float]:
    """Run ``fn(*args)`` in a fresh forked process; return (result, seconds, peak RSS in MiB of that process).

    ``fn`` may return a number of seconds it measured itself (e.g. excluding data set-up) as
    ``{"seconds": s, ...}``; otherwise the wall time of the call is used. The peak includes what the child
    inherited from the parent at the fork (the input data, when the parent built it); ``above_fork=True``
    reports the peak less the child's RSS when it started, i.e. what the case itself added.
    """
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q, fn, args))
    p.start()
    while True:  # a child killed from outside (e.g. by the kernel for memory) never answers: say so
        try:
            status, out, dt, rss, start = q.get(timeout=5)
            break
        except queue.Empty:
            if not p.is_alive() and q.empty():
                raise RuntimeError(f"{getattr(fn, '__name__', fn)} died without a result (exit code {p.exitcode}; "
                                   f"-9 is usually the kernel's out-of-memory killer)") from None
    p.join()
    if status != "ok":
        raise RuntimeError(out)
    if isinstance(out, dict) and "seconds" in out:
        dt = out["seconds"]
    return out, dt, (max(rss - start, 0.0) if above_fork else rss)


def machine() -> str:
    import os

    return f"{platform.node()} · {platform.platform()} · {os.cpu_count()} cores · Python {platform.python_version()}"
