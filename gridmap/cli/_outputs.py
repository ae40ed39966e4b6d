"""Output options shared by the writing commands: ``--overwrite`` and output paths that keep a trailing slash."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from gridmap.outputs import resolve_output

OVERWRITE_HELP = ("replace an existing SQLite/GeoPackage file gridmap did not write, or an input file; the open "
                  "store is never overwritten")


class OutputPath(type(Path())):  # type: ignore[misc]
    """A :class:`~pathlib.Path` that remembers a trailing slash (``-o maps/`` means "inside the folder maps")."""

    folder_requested = False


def output_path(text: str) -> Path:
    """argparse ``type=`` for output paths (``Path`` would drop the trailing slash)."""
    path = OutputPath(text)
    path.folder_requested = text.endswith(("/", os.sep))
    return path


def add_overwrite(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)


def resolve(args: Any, path: Any, *, store: Any, inputs: tuple = (), default_name: str | None = None,
            option: str) -> Path:
    """:func:`gridmap.outputs.resolve_output` with the command's ``--overwrite``."""
    raw = os.fspath(path)
    if getattr(path, "folder_requested", False) and not raw.endswith(("/", os.sep)):
        raw += os.sep
    return resolve_output(raw, store=store, inputs=[i for i in inputs if i is not None],
                          overwrite=bool(getattr(args, "overwrite", False)), default_name=default_name, option=option)
