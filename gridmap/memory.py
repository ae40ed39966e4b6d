"""Allocator settings for a bulk import: memory freed by one batch is reused by the next instead of going back to
the operating system and coming back zeroed.

Why: profiled with ``perf`` on a 20 M-row import, a fifth of all CPU time was the kernel zeroing fresh (huge)
pages (``clear_page_erms``): each 2 M-row batch allocates about 2 GB of Arrow buffers and numpy arrays, and both
allocators returned them to the system between batches (Arrow's mimalloc purges; glibc ``mmap``s blocks over its
threshold and unmaps them on ``free``). Inside :func:`bulk_allocators` Arrow allocates from its jemalloc pool with
purging off, and glibc keeps freed blocks up to 1 GiB in its heap; the import then took 19.1 s instead of
23.6 s (system CPU 7.8 s instead of 13.7 s), same peak memory. On leaving, the previous Arrow pool and purging are
restored and ``malloc_trim`` hands the retained memory back.

It is a context manager the command line opens around a bulk import (``events import``, and ``complaints
import``, where it takes the demo's 300,000 complaints from 13.8 s to 12.0 s), as do the benchmarks; the library
functions (:func:`~gridmap.events.importer.import_events`, :func:`~gridmap.io.complaints.import_complaints`) do
not change process-wide settings by themselves.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
from collections.abc import Iterator

import pyarrow as pa

__all__ = ["bulk_allocators", "gc_paused"]

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_GLIBC_DEFAULT = 128 * 1024                     # both thresholds' documented defaults
_ARROW_DECAY_MS = 1000                          # Arrow's own jemalloc setting


def _libc() -> ctypes.CDLL | None:
    """The C library the process already runs on (no ``find_library``: it runs ``ldconfig`` in a subprocess)."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt, libc.malloc_trim  # noqa: B018 - glibc only (musl and macOS have neither)
    except (OSError, AttributeError):
        return None
    return libc


@contextlib.contextmanager
def bulk_allocators(retain_bytes: int = 1 << 30) -> Iterator[None]:
    """Within the block, freed memory (up to ``retain_bytes`` in glibc's heap) is kept for reuse; see the module
    docstring. Does nothing where the allocators are not there (no jemalloc in this pyarrow, not glibc)."""
    previous = pa.default_memory_pool()
    jemalloc = None
    with contextlib.suppress(NotImplementedError, AttributeError):
        jemalloc = pa.jemalloc_memory_pool()
    libc = _libc()
    if jemalloc is not None:
        pa.set_memory_pool(jemalloc)
        pa.jemalloc_set_decay_ms(-1)
    if libc is not None:
        libc.mallopt(_M_TRIM_THRESHOLD, int(retain_bytes))
        libc.mallopt(_M_MMAP_THRESHOLD, int(min(retain_bytes, 1 << 30)))
    log.debug("bulk allocators: arrow %s, glibc thresholds %s", "jemalloc" if jemalloc else previous.backend_name,
              "raised" if libc else "unchanged")
    try:
        yield
    finally:
        if jemalloc is not None:
            pa.jemalloc_set_decay_ms(_ARROW_DECAY_MS)
            pa.set_memory_pool(previous)
            jemalloc.release_unused()
        if libc is not None:
            libc.mallopt(_M_MMAP_THRESHOLD, _GLIBC_DEFAULT)
            libc.mallopt(_M_TRIM_THRESHOLD, _GLIBC_DEFAULT)
            libc.malloc_trim(0)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off within the block (memory is still freed as references drop; only
    reference cycles wait until the block ends), on again after it if it was on.

    Why: a one-frame bulk import allocates millions of container objects (the values of 20 columns as lists, a
    tuple a row for ``executemany``) without making cycles, and the collector kept walking them: 938 collections,
    0.37 s of the demo's 6 s complaint import (measured with ``gc.callbacks``). For a bounded, one-file import
    only (``gridmap complaints import``); a streaming import of many batches keeps the collector on."""
    import gc

    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
