"""Output options shared by the writing commands: ``--overwrite``, output paths that keep a trailing slash, and
the CSV reports of the imports."""

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


def report_paths(args: argparse.Namespace, store: Any, *, inputs: tuple = ()) -> dict[str, Path]:
    """The CSV report files an import writes (checked before the import runs: never the store or an input)."""
    out: dict[str, Path] = {}
    for key, option, default in (("rejects", "--rejects", "rejects.csv"), ("report", "--report", "report.csv"),
                                 ("topology_report", "--topology-report", "topology.csv")):
        value = getattr(args, key, None)
        if value:
            out[key] = resolve(args, value, store=store, inputs=inputs, default_name=default, option=option)
    return out


def str_or_none(path: Path | None) -> str | None:
    return None if path is None else str(path)


def write_csv(frame: Any, target: Path) -> None:
    """``frame`` as CSV (UTF-8 with BOM, for Excel), written beside ``target`` and renamed over it."""
    from gridmap.outputs import atomic_output

    with atomic_output(target) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8-sig")
