"""Docstring examples are part of the documentation: they must run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import gridmap


def _modules():
    for info in pkgutil.walk_packages(gridmap.__path__, "gridmap."):
        if ".cli" in info.name or info.name.endswith("__main__"):
            continue
        yield info.name


@pytest.mark.parametrize("name", sorted(_modules()))
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that open a store write there
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
