"""One entry point for every import: :func:`import_any` picks the importer a layer needs.

Most layers are written as read (:func:`gridmap.io.import_file`); components get their cells and codes
(:func:`gridmap.io.components.import_components`), complaints their cells, categories and de-duplication
(:func:`gridmap.io.complaints.import_complaints`), and a district given as a 6-digit code with no such file is
its real outline (:func:`gridmap.io.import_outline`). The CLI (``gridmap import``, ``gridmap import-components``,
``gridmap complaints import``), notebooks and scripts all go through here.

>>> layer_name("community")
'communities'
>>> layer_name("comunities")
Traceback (most recent call last):
...
gridmap.errors.UsageError: unknown layer 'comunities'; did you mean: communities, compounds, components
Fix: use one of districts, streets, communities, compounds, roads, cells, components, complaints
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from gridmap.errors import UsageError

__all__ = ["import_any", "layer_name", "LAYER_ALIASES"]

#: Singular and everyday names accepted for the layers of :data:`gridmap.store.schema.LAYERS`.
LAYER_ALIASES = {"district": "districts", "street": "streets", "community": "communities",
                 "compound": "compounds", "building": "compounds", "buildings": "compounds", "road": "roads",
                 "cell": "cells", "component": "components", "complaint": "complaints"}


def layer_name(name: str) -> str:
    """The store layer ``name`` means (``community`` -> ``communities``); an unknown name raises
    :class:`~gridmap.errors.UsageError` with the closest layers."""
    from gridmap.store.schema import LAYERS

    layer = LAYER_ALIASES.get(name, name)
    if layer not in LAYERS:
        near = difflib.get_close_matches(layer, LAYERS, n=3)
        raise UsageError(f"unknown layer {name!r}" + (f"; did you mean: {', '.join(near)}" if near else ""),
                         fix="use one of " + ", ".join(LAYERS))
    return layer


def is_outline_code(layer: str, path: str | os.PathLike) -> bool:
    """True when ``path`` given for ``districts`` is a district code (digits, no such file): its real outline."""
    return layer == "districts" and not Path(path).exists() and str(path).strip().isdigit()


def import_any(store: Any, layer: str, path: str | os.PathLike, **options: Any) -> Any:
    """Import ``path`` into ``layer`` of ``store`` with the importer that layer needs.

    Parameters
    ----------
    layer : a layer of :data:`gridmap.store.schema.LAYERS` or an alias (:func:`layer_name`).
    path : the file; for ``districts``, a 6-digit district code with no such file imports its real outline.
    options : passed to the importer: :func:`gridmap.io.components.import_components` (components),
        :func:`gridmap.io.complaints.import_complaints` (complaints), :func:`gridmap.io.import_outline`
        (a district code: only ``mode`` and ``dry_run`` apply there, the file options are not used) or
        :func:`gridmap.io.import_file` (every other layer).

    Returns
    -------
    The importer's result (:class:`~gridmap.io.ImportResult` or the component / complaint import result).
    """
    from gridmap.io.components import import_components
    from gridmap.io import import_file, import_outline
    from gridmap.io.complaints import import_complaints

    layer = layer_name(layer)
    if layer == "components":
        return import_components(store, path, **options)
    if layer == "complaints":
        return import_complaints(store, path, **options)
    if is_outline_code(layer, path):
        return import_outline(store, str(path).strip(), mode=options.get("mode", "append"),
                              dry_run=options.get("dry_run", False))
    return import_file(store, layer, path, **options)
