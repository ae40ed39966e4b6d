"""Shared benchmark plumbing: run a case in a forked child and report seconds and the child's peak RSS."""

from __future__ import annotations

import multiprocessing as mp
import platform
import resource
import time
from collections.abc import Callable
from typing import Any


def _child(q: Any, fn: Callable[..., Any], args: tuple) -> None:
    try:
        t0 = time.perf_counter()
        out = fn(*args)
        dt = time.perf_counter() - t0
        q.put(("ok", out, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    except BaseException as exc:  # report, don't hang the parent
        q.put(("error", repr(exc), 0.0, 0.0))


def run_case(fn: Callable[..., Any], *args: Any) -> tuple[Any, float, float]:
    """Run ``fn(*args)`` in a fresh forked process; return (result, seconds, peak RSS in MiB of that process).

    ``fn`` may return a number of seconds it measured itself (e.g. excluding data set-up) as
    ``{"seconds": s, ...}``; otherwise the wall time of the call is used.
    """
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q, fn, args))
    p.start()
    status, out, dt, rss = q.get()
    p.join()
    if status != "ok":
        raise RuntimeError(out)
    if isinstance(out, dict) and "seconds" in out:
        dt = out["seconds"]
    return out, dt, rss


def machine() -> str:
    import os

    return f"{platform.node()} · {platform.platform()} · {os.cpu_count()} cores · Python {platform.python_version()}"
