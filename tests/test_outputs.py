"""gridmap.outputs: an output folder checked without being created (``create=False``)."""

import pytest

from gridmap.errors import OutputError
from gridmap.outputs import resolve_output_folder


def test_checked_folder_is_not_created_until_written(tmp_path):
    folder = resolve_output_folder(tmp_path / "a" / "b", create=False)
    assert not (tmp_path / "a").exists()
    folder.mkdir(parents=True)  # (as the command's writer does)
    assert folder.is_dir()


def test_a_folder_that_could_not_be_created_is_refused_at_once(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="a file is in the way"):
        resolve_output_folder(tmp_path / "f" / "sub" / "pack", create=False, option="-o")
    with pytest.raises(OutputError, match="must be a folder"):
        resolve_output_folder(tmp_path / "f", create=False, option="-o")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
