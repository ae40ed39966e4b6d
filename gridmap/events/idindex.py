"""Which source-id hashes an events store already holds, answered in time proportional to the batch asked about.

Why not one sorted array of every stored hash: keeping it sorted costs a merge of the whole array per committed
batch, and looking up a batch's 2 M hashes in it is 2 M binary searches over the whole array; at 100 M stored
rows that was 6 s and 7 s per batch (measured), most of a 100 M import's time. Here:

* every committed batch's sorted hashes stay a separate **run** (the ``_ids/batch-N.npy`` files, memory-mapped:
  the operating system keeps only the pages a lookup touches);
* a **fingerprint table** of ``2**k`` bytes, slot = the hash's top ``k`` bits, says for each slot whether no stored
  hash falls in it (0), one or more stored hashes with the same 8-bit fingerprint ``f`` (1..254) do, or hashes
  with different fingerprints do (255). A hash is certainly absent when its slot holds 0 or another
  fingerprint; only the rest (about 1-2 % of a batch at 100 M stored rows, and the true repeats) are looked up
  exactly, by binary search in each run.

The table grows (``k`` + 1, rebuilt from the runs) when more than one slot in eight is taken, up to ``2**29``
bytes (512 MiB); past that it fills up and more candidates go to the exact lookup (still correct). At most
``_MAX_RUNS`` runs are kept: past that the two smallest are merged (in memory), so a store of thousands of daily
batches neither holds a file descriptor per batch (a memory map keeps one) nor searches thousands of runs.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["HashIndex"]

_MIN_BITS, _MAX_BITS = 16, 29
_MAX_RUNS = 32
_MULTI = np.uint8(255)


def _fingerprint(h: np.ndarray) -> np.ndarray:
    """1..254 from the hash's low bits (independent of the slot, which comes from its top bits)."""
    return (h % np.uint64(254)).astype(np.uint8) + np.uint8(1)


class HashIndex:
    """Sorted runs of uint64 hashes plus the fingerprint table over all of them (see the module docstring)."""

    def __init__(self, runs: Iterable[np.ndarray] = ()):
        self._runs: list[np.ndarray] = []
        self.count = 0
        self._bits = _MIN_BITS
        self._table = np.zeros(1 << self._bits, dtype=np.uint8)
        for run in runs:
            self.add(run)

    def __len__(self) -> int:
        return self.count

    def _slots(self, h: np.ndarray) -> np.ndarray:
        return (h >> np.uint64(64 - self._bits)).astype(np.int64)

    def _mark(self, h: np.ndarray) -> None:
        """Record hashes ``h`` (sorted) in the table, keeping: every stored hash's slot holds its fingerprint or
        255."""
        if not len(h):
            return
        slot, f = self._slots(h), _fingerprint(h)
        cur = self._table[slot]
        new = np.where((cur == 0) | (cur == f), f, _MULTI)
        # two hashes of this run in one slot (adjacent, the run is sorted): the slot holds both fingerprints
        same = np.flatnonzero((slot[1:] == slot[:-1]) & (f[1:] != f[:-1]))
        new[same] = _MULTI
        new[same + 1] = _MULTI
        # several hashes of one slot: the last assignment wins, so mark such slots again after the assignment
        self._table[slot] = new
        if len(same):
            self._table[slot[same]] = _MULTI

    def _grow(self) -> None:
        bits = self._bits
        while bits < _MAX_BITS and self.count * 8 > (1 << bits):
            bits += 1
        if bits == self._bits:
            return
        self._bits = bits
        self._table = np.zeros(1 << bits, dtype=np.uint8)
        for run in self._runs:
            self._mark(run)

    def add(self, hashes: np.ndarray) -> None:
        """Add the hashes of one committed batch (any order; kept as one sorted run)."""
        run = np.asarray(hashes, dtype=np.uint64)
        if not len(run):
            return
        if np.any(run[1:] < run[:-1]):
            run = np.sort(run)
        self._runs.append(run)
        self.count += len(run)
        while len(self._runs) > _MAX_RUNS:
            self._runs.sort(key=len, reverse=True)
            a, b = self._runs.pop(), self._runs.pop()
            self._runs.append(np.sort(np.concatenate([a, b])))
        before = self._bits
        self._grow()
        if self._bits == before:  # (a grown table was rebuilt from every run, this one included)
            self._mark(run)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``hashes`` are stored (exact hash equality)."""
        h = np.asarray(hashes, dtype=np.uint64)
        out = np.zeros(len(h), dtype=bool)
        if not len(h) or not self.count:
            return out
        cur = self._table[self._slots(h)]
        cand = np.flatnonzero((cur == _MULTI) | (cur == _fingerprint(h)))
        if not len(cand):
            return out
        order = np.argsort(h[cand], kind="stable")
        cand = cand[order]
        q = h[cand]
        found = np.zeros(len(q), dtype=bool)
        for run in self._runs:
            pos = np.searchsorted(run, q)
            ok = pos < len(run)
            found[ok] |= run[pos[ok]] == q[ok]
        out[cand] = found
        return out
