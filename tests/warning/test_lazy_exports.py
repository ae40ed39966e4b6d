"""``gridmap.warning`` loads its names on first use: every exported name must resolve to the object its module
defines, and importing the categories (as the complaint importer does) must not pull in scipy."""

from __future__ import annotations

import importlib
import subprocess
import sys

import gridmap.warning as warning


def test_every_exported_name_resolves_to_its_module_object():
    assert set(warning._WHERE) == set(warning.__all__)
    for name in warning.__all__:
        module = importlib.import_module(f"gridmap.warning.{warning._WHERE[name]}")
        assert getattr(warning, name) is getattr(module, name), name
    assert set(warning.__all__) <= set(dir(warning))


def test_importing_the_categories_does_not_import_scipy():
    code = "import sys, gridmap.warning.categories; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
