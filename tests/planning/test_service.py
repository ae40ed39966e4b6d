"""The store-facing planning workflows the CLI calls (gridmap.planning.service), on SpatiaLite and PostGIS."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.split_cases import make_case  # noqa: E402
from tests.planning.test_accept import _load  # noqa: E402

from gridmap.errors import NotFoundError  # noqa: E402
from gridmap.planning.service import accept_split, propose_for_community, undo_split  # noqa: E402

KINDS = ("river", "rail")


def test_accept_split_writes_the_proposal_of_that_rank_and_undo_restores(store, tmp_path):
    code = _load(store, make_case(0))
    before = store.read("communities").set_index("code")["households"].astype(int).to_dict()
    com, props = propose_for_community(store, code, barrier_kinds=KINDS)
    assert com["code"].tolist() == [code] and [p.rank for p in props] == [1, 2, 3]

    res, path = accept_split(store, code, rank=2, journal=tmp_path / "j", barrier_kinds=KINDS)
    assert path == tmp_path / "j" / f"split-{code}.pkl" and path.exists()
    after = store.read("communities").set_index("code")
    # new codes are given in part_id order: the households of proposal 2's parts, part by part
    assert after.loc[res.new_codes, "households"].astype(int).tolist() == props[1].parts["households"].tolist()
    assert not bool(after.loc[code, "active"])

    counts = undo_split(store, code, journal=tmp_path / "j")
    assert counts["communities"] >= 1
    assert not path.exists() and path.with_suffix(".undone").exists()
    restored = store.read("communities").set_index("code")
    assert restored["households"].astype(int).to_dict() == before and bool(restored.loc[code, "active"])


def test_accept_split_of_a_missing_rank_names_the_ranks_and_writes_nothing(store, tmp_path):
    code = _load(store, make_case(0))
    with pytest.raises(NotFoundError, match="no proposal of rank 9") as exc:
        accept_split(store, code, rank=9, journal=tmp_path / "j", barrier_kinds=KINDS)
    assert exc.value.suggestions == ["1", "2", "3"]
    assert len(store.read("communities")) == 2 and not (tmp_path / "j").exists()
    with pytest.raises(NotFoundError, match="110101001077 is not in the store"):
        propose_for_community(store, "110101001077")
    with pytest.raises(NotFoundError, match=f"no split journal for {code}"):
        undo_split(store, code, journal=tmp_path / "j")
