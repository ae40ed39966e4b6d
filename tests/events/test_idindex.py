"""The stored-id hash index must answer exactly what a Python set of the stored hashes answers, whatever the
batches, slot collisions, fingerprint clashes and table growth (the index's shortcuts may never drop a hit)."""

from __future__ import annotations

import numpy as np
import pytest

from gridmap.events import idindex
from gridmap.events.idindex import HashIndex


def _random(rng, n):
    return rng.integers(0, np.iinfo(np.int64).max, n, dtype=np.int64).astype(np.uint64) * np.uint64(2) \
        + rng.integers(0, 2, n).astype(np.uint64)


@pytest.mark.parametrize("seed", range(6))
def test_contains_equals_a_python_set(seed, monkeypatch):
    # a tiny table (2**4..2**8 slots) so that slots are shared, fingerprints clash and the table grows and fills
    monkeypatch.setattr(idindex, "_MIN_BITS", 4)
    monkeypatch.setattr(idindex, "_MAX_BITS", 8)
    rng = np.random.default_rng(seed)
    index, stored = HashIndex(), set()
    for _ in range(12):
        batch = _random(rng, int(rng.integers(0, 300)))
        # hashes that differ only in the low bits: the same slot, other fingerprints
        batch = np.concatenate([batch, batch[: len(batch) // 3] ^ np.uint64(rng.integers(1, 1 << 20))])
        batch = np.setdiff1d(np.unique(batch), np.fromiter(stored, dtype=np.uint64, count=len(stored)))
        index.add(rng.permutation(batch))
        stored.update(batch.tolist())
        probe = np.concatenate([_random(rng, 500), rng.choice(np.fromiter(stored, dtype=np.uint64), 200)
                                if stored else np.zeros(0, np.uint64)])
        want = np.array([int(v) in stored for v in probe.tolist()], dtype=bool)
        np.testing.assert_array_equal(index.contains(probe), want)
    assert len(index) == len(stored)


def test_the_table_grows_and_stays_exact():
    rng = np.random.default_rng(7)
    runs = [_random(rng, 50_000) for _ in range(4)]
    index = HashIndex(runs)
    assert index._bits > idindex._MIN_BITS  # 200,000 hashes: grown past 2**16 slots
    stored = np.concatenate(runs)
    assert index.contains(stored).all()
    other = _random(rng, 100_000)
    want = np.isin(other, stored)
    np.testing.assert_array_equal(index.contains(other), want)
    # most absent hashes are ruled out by the table alone (it is a filter, not only a lookup)
    cur = index._table[index._slots(other)]
    assert ((cur == 255) | (cur == idindex._fingerprint(other))).mean() < 0.05


def test_many_batches_keep_few_runs_and_stay_exact(monkeypatch):
    """Thousands of small batches (a daily import over years): at most _MAX_RUNS runs are kept (a memory-mapped
    run holds a file descriptor), and every answer is still exact."""
    monkeypatch.setattr(idindex, "_MAX_RUNS", 8)
    rng = np.random.default_rng(11)
    batches = [_random(rng, int(rng.integers(1, 50))) for _ in range(300)]
    index = HashIndex(batches)
    assert len(index._runs) <= 8 and len(index) == sum(len(b) for b in batches)
    stored = np.concatenate(batches)
    probe = np.concatenate([stored[::3], _random(rng, 5_000)])
    np.testing.assert_array_equal(index.contains(probe), np.isin(probe, stored))
